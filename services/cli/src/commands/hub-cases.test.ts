/**
 * The hub's sessions, alpha ledger, cases and alerts end to end (issue 10), with real member nodes (their
 * canary sets committed through the hub, labels drawn by the log, RunMatchSession over gRPC or NATS), on the
 * embedded store and on real Postgres (+ the real nats-server): a release copied from two members becomes a
 * shared-violation case after Holm; a single-member copy is a violation of that member only; an unrelated
 * suspect opens no case; the ledger refuses an over-budget session with its reason and logs nothing; the
 * secretariat dismisses a case through `lineage hub cases` (decisions signed and logged); alerts arrive on
 * WatchAlerts and on NATS `lineage.alert.<member>.<kind>`; a hub killed mid-session and restarted on the same
 * database finishes it with exactly one logged attestation; bad input at arrival answers with its gRPC code.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AlertEventSchema,
  AlertKind,
  CaseState,
  DismissalReason,
  LogEntryKind,
  MemberModelRefSchema,
  ReviewDecisionSchema,
  SubmitReviewDecisionRequestSchema,
  SubmitSuspectRequestSchema,
  SuspectRefSchema,
  SuspectSource,
  Verdict,
  WatchAlertsRequestSchema,
} from "@lineage/api";
import { type Bus, connectNatsBus, createInProcessBus } from "@lineage/bus";
import { Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import { splitEpochBattery } from "@lineage/fingerprint";
import {
  caseIdOf,
  envelopeToProto,
  PAYLOAD_TYPES,
  parseRegistryFeed,
  type ScanResult,
  SECRETARIAT,
  signRequest,
  submitFeed,
  suspectIdOf,
} from "@lineage/hub";
import type { RpcError } from "@lineage/rpc";
import {
  type HubDatabase,
  type MemberNodeDatabase,
  openStore,
  openTestStore,
  postgresTestTarget,
  randomTestSchema,
  type Store,
} from "@lineage/store";
import { sql } from "kysely";
import { captureIo } from "../capture-io.js";
import { main } from "../main.js";
import {
  battery,
  copySuspect,
  freshPairs,
  type HubSide,
  type SuspectBook,
  startHubSide,
  startMember,
  submitMemberSketch,
  suspectRef,
} from "./hub-cases-world.js";

const pgTarget = await postgresTestTarget();
const pg: { url?: string; skip?: string } =
  "url" in pgTarget ? { url: pgTarget.url } : { skip: pgTarget.skip };
const NATS_URL = process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const natsSkip = await connectNatsBus({ servers: NATS_URL, timeoutMs: 2000, maxReconnectAttempts: 0 }).then(
  async (b) => {
    await b.close();
    return undefined;
  },
  (err: unknown) => `NATS not reachable at ${NATS_URL}: ${(err as Error).message}`,
);
if (
  natsSkip !== undefined &&
  process.env.CI &&
  !["0", "false", "no", "off"].includes(process.env.CI.trim().toLowerCase())
)
  throw new Error(`${natsSkip} (CI: the hub session tests need it)`);

interface Backend {
  readonly name: string;
  readonly skip: string | false;
  /** A fresh hub database that can be closed and reopened (a restart), dropped by `drop`. */
  readonly hubDb: () => Promise<{ open: () => Promise<Store<HubDatabase>>; drop: () => Promise<void> }>;
  readonly memberStore: () => Promise<Store<MemberNodeDatabase>>;
  readonly bus: () => Promise<Bus | undefined>;
}

const backends: Backend[] = [
  {
    name: "embedded (PGlite on disk, in-process bus)",
    skip: false,
    hubDb: async () => {
      const dir = await mkdtemp(join(tmpdir(), "lineage-hub-sessions-"));
      return {
        open: () => openStore<HubDatabase>({ kind: "pglite", dataDir: dir }),
        drop: () => rm(dir, { recursive: true, force: true }),
      };
    },
    memberStore: () => openTestStore<MemberNodeDatabase>("pglite-memory"),
    bus: async () => createInProcessBus(),
  },
  {
    name: "Postgres + NATS",
    skip: pg.skip ?? natsSkip ?? false,
    hubDb: async () => {
      const schema = randomTestSchema();
      const url = pg.url as string;
      return {
        open: () => openStore<HubDatabase>({ kind: "postgres", url, schema }),
        drop: async () => {
          await using s = await openStore<HubDatabase>({ kind: "postgres", url });
          await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
        },
      };
    },
    memberStore: () => openTestStore<MemberNodeDatabase>("postgres", { url: pg.url as string }),
    bus: () => connectNatsBus({ servers: NATS_URL, name: "hub-sessions-test" }),
  },
];

async function codeOf(p: Promise<unknown> | (() => Promise<unknown>)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    return (err as RpcError).code;
  }
  return "ok";
}

async function attestationsOf(hub: HubSide, sessionId: string): Promise<number> {
  const r = await hub.store.db
    .selectFrom("log_entries")
    .select(sql<string>`count(*)`.as("n"))
    .where("kind", "=", LogEntryKind.ATTESTATION)
    .where("session_id", "=", sessionId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

for (const backend of backends) {
  test(`a release copied from two members is a shared violation; one member's copy, an unrelated model, the ledger, a dismissal, alerts (${backend.name})`, {
    skip: backend.skip,
    timeout: 300_000,
  }, async () => {
    const db = await backend.hubDb();
    const bus = await backend.bus();
    const dir = await mkdtemp(join(tmpdir(), "lineage-hub-cases-cli-"));
    try {
      const hubKey = Ed25519PrivateKey.generate();
      const addresses = new Map<string, string>();
      const store = await db.open();
      await using hub = await startHubSide(store, {
        hubKey,
        addresses,
        ...(bus ? { bus } : {}),
        // Over NATS request-reply on the real server; over gRPC on the embedded default.
        sessionsOverBus: backend.name.includes("NATS"),
        // acme: two sessions at lineage-policy/3's alpha (1e-6), not three; the others: the default.
        alphaBudget: (m) => (m === "acme" ? 2.5e-6 : 1e-3),
      });
      const suspects: SuspectBook = new Map();
      await using acmeStore = await backend.memberStore();
      await using boltStore = await backend.memberStore();
      await using acme = await startMember(hub, acmeStore, "acme", suspects, bus ? { bus } : {});
      await using bolt = await startMember(hub, boltStore, "bolt", suspects, {
        pairs: freshPairs(32),
        ...(bus ? { bus } : {}),
      });
      addresses.set("acme", acme.node.address);
      addresses.set("bolt", bolt.node.address);

      // Alerts: a member's gRPC watch, the secretariat's, and the NATS subjects (a spy connection).
      const heard: { subject: string; kind: AlertKind; members: string[] }[] = [];
      // Everything the hub hands out about these sessions, searched below for canary text.
      const handedOut: string[] = [];
      const spy = bus
        ? await bus.subscribe("lineage.alert.>", (m) => {
            const ev = fromBinary(AlertEventSchema, m.data);
            assert.equal(ev.header?.memberId, SECRETARIAT, "alerts are hub-signed");
            handedOut.push(Buffer.from(m.data).toString("latin1"));
            heard.push({
              subject: m.subject,
              kind: ev.alert?.kind ?? 0,
              members: [...(ev.alert?.memberIds ?? [])],
            });
          })
        : undefined;
      const watch = new AbortController();
      const watched: AlertKind[] = [];
      const watching = (async () => {
        const req = signRequest(WatchAlertsRequestSchema, create(WatchAlertsRequestSchema, {}), {
          memberId: SECRETARIAT,
          key: hubKey,
        });
        try {
          for await (const r of hub.client.watchAlerts(req, { signal: watch.signal }))
            watched.push(r.alert?.kind ?? 0);
        } catch (err) {
          if ((err as RpcError).code !== "cancelled") throw err;
        }
      })();

      const b = await battery();
      const open = async (id: string, member: typeof acme) => {
        return hub.sessions.sessions.open({
          suspect: suspectRef(id),
          candidate: create(MemberModelRefSchema, {
            memberId: member.memberId,
            modelId: member.modelId,
            modelVersion: "1",
          }),
          epochId: b.epoch,
          comparisons: 1,
        });
      };

      // 1. A suspect distilled from both members: each session accuses; Holm across both names both.
      suspects.set("mix-1", await copySuspect("mix-1", [acme, bolt]));
      await hub.log.appendSighting({ suspect: suspectRef("mix-1"), source: SuspectSource.FEED_ADAPTER });
      const a1 = await open("mix-1", acme);
      const b1 = await open("mix-1", bolt);
      assert.equal(a1.outcome, "attested", JSON.stringify(a1));
      assert.equal(b1.outcome, "attested", JSON.stringify(b1));
      assert.ok(a1.outcome === "attested" && a1.verdict === Verdict.LIKELY_DERIVED);
      assert.ok(b1.outcome === "attested" && b1.verdict === Verdict.LIKELY_DERIVED);
      const mix = await hub.client.getCase({ caseId: caseIdOf("mix-1") });
      assert.equal(mix.case?.sharedViolation, true);
      assert.deepEqual(mix.case?.memberIds, ["acme", "bolt"]);
      assert.equal(mix.case?.state, CaseState.OPEN);
      assert.equal(mix.case?.attestations.length, 2);
      // The session entry was logged before the attestation that answers it, bound to the hub's panel.
      const opened = hub.log.session(a1.sessionId)?.opened;
      assert.ok(opened !== undefined && a1.outcome === "attested" && a1.sessionIndex < a1.attestationIndex);
      assert.deepEqual([...opened.panel].sort(), ["unrelated-a", "unrelated-b", "unrelated-c"]);
      assert.equal(opened.populationId, "test-population/1");
      assert.equal(opened.confirmationSplit, "lineage-split/v1");
      assert.ok(
        opened.seedCheckpointSize > opened.firstSeenIndex,
        "the seed's checkpoint covers the sighting",
      );

      // 2. A copy of acme only: a violation of acme; bolt's session finds nothing (not a violation).
      suspects.set("acme-copy", await copySuspect("acme-copy", [acme]));
      await hub.log.appendSighting({
        suspect: suspectRef("acme-copy"),
        source: SuspectSource.MEMBER_REPORT,
        reporter: "acme",
      });
      const a2 = await open("acme-copy", acme);
      const b2 = await open("acme-copy", bolt);
      assert.ok(a2.outcome === "attested" && a2.verdict === Verdict.LIKELY_DERIVED);
      assert.ok(b2.outcome === "attested" && b2.verdict !== Verdict.LIKELY_DERIVED);
      const single = await hub.client.getCase({ caseId: caseIdOf("acme-copy") });
      assert.equal(single.case?.sharedViolation, false);
      assert.deepEqual(single.case?.memberIds, ["acme"]);

      // 3. The ledger: acme has spent 2e-6 of 2.5e-6; a third session is refused with its reason, unlogged.
      suspects.set("other-1", await copySuspect("other-1", []));
      await hub.log.appendSighting({ suspect: suspectRef("other-1"), source: SuspectSource.FEED_ADAPTER });
      const sizeBefore = hub.log.size;
      await assert.rejects(open("other-1", acme), (err: Error & { code?: string }) => {
        assert.equal(err.code, "failed_precondition");
        assert.match(
          err.message,
          /alpha budget exhausted: member acme has spent 0\.000002 of its 0\.0000025 in epoch .* over 2 sessions/,
        );
        return true;
      });
      assert.equal(hub.log.size, sizeBefore, "a refused session logs nothing");
      const balance = await hub.sessions.ledger.balance("acme", b.epoch);
      assert.equal(balance.sessions, 2);
      // The same suspect and model twice is refused too (no second spending).
      await assert.rejects(
        open("mix-1", bolt),
        (err: Error & { code?: string }) => err.code === "already_exists",
      );

      // 4. An unrelated suspect: bolt (with budget left) finds nothing; no case is opened.
      const b3 = await open("other-1", bolt);
      assert.ok(b3.outcome === "attested" && b3.verdict === Verdict.INCONCLUSIVE);
      assert.equal(await codeOf(hub.client.getCase({ caseId: caseIdOf("other-1") })), "not_found");

      // 5. The secretariat lists and dismisses the single-member case through the CLI.
      const keyFile = join(dir, "hub-key.pem");
      await writeFile(keyFile, hubKey.toPem(), { mode: 0o600 });
      const listed = await cli(["hub", "cases", "list", "--hub", hub.server.address, "--json"]);
      assert.equal(listed.code, 0, listed.err);
      const rows = JSON.parse(listed.out).cases as { case_id: string; shared_violation: boolean }[];
      assert.equal(rows.length, 2);
      const sharedOnly = await cli([
        "hub",
        "cases",
        "list",
        "--hub",
        hub.server.address,
        "--shared",
        "--json",
      ]);
      assert.deepEqual(
        JSON.parse(sharedOnly.out).cases.map((c: { case_id: string }) => c.case_id),
        [caseIdOf("mix-1")],
      );
      const shown = await cli([
        "hub",
        "cases",
        "show",
        "--hub",
        hub.server.address,
        "--case",
        caseIdOf("mix-1"),
      ]);
      assert.equal(shown.code, 0, shown.err);
      assert.match(shown.out, /SHARED VIOLATION of acme, bolt/);
      const dismissed = await cli([
        "hub",
        "cases",
        "dismiss",
        "--hub",
        hub.server.address,
        "--case",
        caseIdOf("acme-copy"),
        "--key",
        keyFile,
        "--reviewer",
        "ana",
        "--reason",
        "common_base_model",
        "--rationale",
        "both fine-tune the same permitted base",
        "--json",
      ]);
      assert.equal(dismissed.code, 0, dismissed.err);
      const d = JSON.parse(dismissed.out) as {
        state: string;
        dismissal_reason: string;
        decision_log_indexes: number[];
      };
      assert.equal(d.state, "dismissed");
      assert.equal(d.dismissal_reason, "common_base_model");
      assert.equal(d.decision_log_indexes.length, 2, "OPEN -> UNDER_REVIEW -> DISMISSED, each logged");
      for (const i of d.decision_log_indexes)
        assert.equal((await hub.log.entry(i))?.kind, LogEntryKind.REVIEW_DECISION);
      const again = await cli([
        "hub",
        "cases",
        "confirm",
        "--hub",
        hub.server.address,
        "--case",
        caseIdOf("acme-copy"),
        "--key",
        keyFile,
        "--reviewer",
        "ana",
        "--rationale",
        "changed my mind",
      ]);
      assert.equal(again.code, 1, "a dismissed case is final");
      const badReason = await cli([
        "hub",
        "cases",
        "dismiss",
        "--hub",
        hub.server.address,
        "--case",
        caseIdOf("mix-1"),
        "--key",
        keyFile,
        "--reviewer",
        "ana",
        "--reason",
        "bored",
        "--rationale",
        "x",
      ]);
      assert.equal(badReason.code, 2);
      assert.match(badReason.err, /--reason/);

      // 6. Alerts: two attestation alerts + one shared violation for mix-1, one for acme-copy, one dismissal.
      const expectKinds = [
        AlertKind.ATTESTATION_LOGGED,
        AlertKind.ATTESTATION_LOGGED,
        AlertKind.SHARED_VIOLATION,
        AlertKind.ATTESTATION_LOGGED,
        AlertKind.CASE_DISMISSED,
      ];
      const deadline = Date.now() + 10_000;
      while (watched.length < expectKinds.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(watched, expectKinds);
      if (spy) {
        while (heard.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(heard.map((h) => h.subject).sort(), [
          "lineage.alert.acme.attestation_logged",
          "lineage.alert.acme.attestation_logged",
          "lineage.alert.acme.case_dismissed",
          "lineage.alert.acme.shared_violation",
          "lineage.alert.bolt.attestation_logged",
          "lineage.alert.bolt.shared_violation",
        ]);
        await spy.stop();
      }
      // Privacy: no canary prompt or answer of either member in alerts, cases or the CLI's output.
      for (const c of (await hub.client.listCases({})).cases)
        handedOut.push(JSON.stringify(c, (_k, v) => (typeof v === "bigint" ? String(v) : v)));
      handedOut.push(listed.out, shown.out, dismissed.out);
      const secrets = [acme, bolt].flatMap((m) =>
        m.pairs.flatMap((p) => [p.a.prompt, p.a.expected, p.b.prompt, p.b.expected]),
      );
      assert.ok(secrets.length >= 128);
      for (const text of handedOut)
        for (const secret of secrets) assert.ok(!text.includes(secret), "canary text handed out by the hub");
      // Control: the search runs over real content (the members and the case are named in it).
      assert.ok(handedOut.some((t) => t.includes("acme") && t.includes(caseIdOf("mix-1"))));
      watch.abort();
      await watching;
    } finally {
      await bus?.close();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

for (const backend of backends) {
  test(`a hub killed mid-session and restarted on its database ends with exactly one logged attestation; retries; bad input at arrival (${backend.name})`, {
    skip: backend.skip,
    timeout: 300_000,
  }, async () => {
    const db = await backend.hubDb();
    try {
      const hubKey = Ed25519PrivateKey.generate();
      const addresses = new Map<string, string>();
      const suspects: SuspectBook = new Map();
      let killing: Promise<void> | undefined;
      let first: HubSide | undefined;
      const store1 = await db.open();
      first = await startHubSide(store1, {
        hubKey,
        addresses,
        // Killed on the first progress message: the member node is mid-session, nothing answered yet.
        onProgress: () => {
          killing ??= (async () => {
            await first?.close();
            await store1.close();
          })();
        },
      });
      const port = first.server.port;
      await using memberStore = await backend.memberStore();
      await using acme = await startMember(first, memberStore, "acme", suspects);
      addresses.set("acme", acme.node.address);
      const b = await battery();
      suspects.set("copy-1", await copySuspect("copy-1", [acme]));
      await first.log.appendSighting({ suspect: suspectRef("copy-1"), source: SuspectSource.FEED_ADAPTER });
      const target = {
        suspect: suspectRef("copy-1"),
        candidate: create(MemberModelRefSchema, {
          memberId: "acme",
          modelId: acme.modelId,
          modelVersion: "1",
        }),
        epochId: b.epoch,
        comparisons: 1,
      };
      await assert.rejects(first.sessions.sessions.open(target), (err: Error & { code?: string }) => {
        assert.equal(err.code, "unavailable", err.message);
        return true;
      });
      await killing;
      assert.ok(killing !== undefined, "the hub was killed mid-session");

      // Restart: the same database (closed and reopened) and address; nothing but the database is kept.
      const store2 = await db.open();
      await using hub = await startHubSide(store2, { hubKey, addresses, port });
      const pending = await store2.db.selectFrom("hub_alpha_ledger").select("session_id").execute();
      assert.equal(pending.length, 1);
      const sessionId = pending[0]?.session_id as string;
      assert.ok(hub.log.session(sessionId) !== undefined, "the session was logged before the member saw it");
      assert.equal(await attestationsOf(hub, sessionId), 0, "killed before any answer was logged");
      const resumed = await hub.sessions.sessions.resume();
      assert.equal(resumed.length, 1);
      const done = resumed[0];
      assert.ok(done?.outcome === "attested", JSON.stringify(done));
      assert.equal(done.verdict, Verdict.LIKELY_DERIVED);
      assert.equal(await attestationsOf(hub, sessionId), 1);
      // Again (another restart, a replica): nothing is redone, nothing logged twice.
      assert.deepEqual(await hub.sessions.sessions.resume(), []);
      assert.equal((await hub.sessions.sessions.run(sessionId)).outcome, "attested");
      assert.equal(await attestationsOf(hub, sessionId), 1, "exactly one logged attestation");
      // The other crash point: the attestation logged, the hub gone before recording it. That database state
      // (log entry, no outcome, not on the case) is made directly; a restart must not log the answer again.
      await store2.db.deleteFrom("hub_session_outcomes").where("session_id", "=", sessionId).execute();
      await store2.db.deleteFrom("hub_case_attestations").where("session_id", "=", sessionId).execute();
      const redone = await hub.sessions.sessions.resume();
      assert.equal(redone.length, 1);
      assert.ok(redone[0]?.outcome === "attested" && redone[0].attestationIndex === done.attestationIndex);
      assert.equal(await attestationsOf(hub, sessionId), 1, "still exactly one logged attestation");
      const c = (await hub.client.getCase({ caseId: caseIdOf("copy-1") })).case;
      assert.equal(c?.attestations.length, 1);
      assert.deepEqual(c?.memberIds, ["acme"]);

      // Bad input at arrival, each with its code (libs/rpc's table gives the gRPC status).
      const caseId = caseIdOf("copy-1");
      assert.equal(await codeOf(hub.client.getCase({ caseId: "" })), "invalid_argument");
      assert.equal(await codeOf(hub.client.getCase({ caseId: "case-nope" })), "not_found");
      assert.equal(await codeOf(hub.client.listCases({ pageSize: 501 })), "invalid_argument");
      assert.equal(await codeOf(hub.client.listCases({ pageToken: "zzz" })), "invalid_argument");
      assert.equal(await codeOf(hub.client.listCases({ states: [9 as CaseState] })), "invalid_argument");
      const decision = (
        d: {
          caseId?: string;
          fromState?: CaseState;
          toState?: CaseState;
          dismissalReason?: DismissalReason;
          rationale?: string;
        },
        key = hubKey,
      ) =>
        envelopeToProto(
          signEnvelope(
            PAYLOAD_TYPES.reviewDecision,
            toBinary(
              ReviewDecisionSchema,
              create(ReviewDecisionSchema, {
                caseId,
                fromState: CaseState.OPEN,
                toState: CaseState.UNDER_REVIEW,
                reviewer: "ana",
                decidedAt: timestampFromMs(Date.now()),
                ...d,
              }),
            ),
            key,
          ),
        );
      const submit = (env: ReturnType<typeof decision>, signer = { memberId: SECRETARIAT, key: hubKey }) =>
        hub.client.submitReviewDecision(
          signRequest(
            SubmitReviewDecisionRequestSchema,
            create(SubmitReviewDecisionRequestSchema, { decision: env }),
            signer,
          ),
        );
      assert.equal(
        await codeOf(
          hub.client.submitReviewDecision(
            create(SubmitReviewDecisionRequestSchema, { decision: decision({}) }),
          ),
        ),
        "unauthenticated",
        "no header",
      );
      assert.equal(
        await codeOf(submit(decision({}), { memberId: "acme", key: acme.key })),
        "permission_denied",
        "a member may not decide a case",
      );
      assert.equal(
        await codeOf(submit(decision({}, Ed25519PrivateKey.generate()))),
        "bad_signature",
        "a decision not signed by the secretariat (UNAUTHENTICATED)",
      );
      assert.equal(
        await codeOf(submit(decision({ toState: CaseState.CONFIRMED, rationale: "x" }))),
        "invalid_argument",
        "OPEN -> CONFIRMED skips the review",
      );
      assert.equal(
        await codeOf(
          submit(
            decision({ fromState: CaseState.UNDER_REVIEW, toState: CaseState.DISMISSED, rationale: "x" }),
          ),
        ),
        "invalid_argument",
        "a dismissal without a reason",
      );
      assert.equal(
        await codeOf(
          submit(
            decision({
              fromState: CaseState.UNDER_REVIEW,
              toState: CaseState.DISMISSED,
              dismissalReason: DismissalReason.OTHER,
              rationale: "x",
            }),
          ),
        ),
        "failed_precondition",
        "the case is OPEN, not UNDER_REVIEW",
      );
      assert.equal(await codeOf(submit(decision({ caseId: "case-nope" }))), "not_found");
      const garbage = decision({});
      garbage.payload = new Uint8Array([0xff, 0xff, 0xff]);
      assert.equal(await codeOf(submit(garbage)), "bad_signature", "a payload changed after signing");
      const sizeBefore = hub.log.size;
      const once = signRequest(
        SubmitReviewDecisionRequestSchema,
        create(SubmitReviewDecisionRequestSchema, { decision: decision({}) }),
        { memberId: SECRETARIAT, key: hubKey },
      );
      const ok = await hub.client.submitReviewDecision(once);
      assert.equal(ok.case?.state, CaseState.UNDER_REVIEW);
      assert.equal(
        await codeOf(hub.client.submitReviewDecision(once)),
        "replay",
        "a replayed request (ALREADY_EXISTS)",
      );
      assert.equal(hub.log.size, sizeBefore + 1, "only the accepted decision was logged");
      // A decision logged but not applied (the hub stopped in between): the next request for it applies the
      // logged one instead of logging it again; another decision from that state waits for it.
      const crashed = await hub.log.appendReviewDecision({
        caseId,
        fromState: CaseState.UNDER_REVIEW,
        toState: CaseState.DISMISSED,
        dismissalReason: DismissalReason.INSUFFICIENT_EVIDENCE,
        rationale: "too few discordant pairs on review",
        reviewer: "ana",
        decidedAt: timestampFromMs(Date.now()),
      });
      const sizeCrashed = hub.log.size;
      assert.equal(
        await codeOf(
          submit(
            decision({ fromState: CaseState.UNDER_REVIEW, toState: CaseState.CONFIRMED, rationale: "y" }),
          ),
        ),
        "failed_precondition",
      );
      const applied = await submit(
        decision({
          fromState: CaseState.UNDER_REVIEW,
          toState: CaseState.DISMISSED,
          dismissalReason: DismissalReason.INSUFFICIENT_EVIDENCE,
          rationale: "too few discordant pairs on review",
        }),
      );
      assert.equal(Number(applied.logEntry?.index), crashed.index);
      assert.equal(applied.case?.state, CaseState.DISMISSED);
      assert.equal(hub.log.size, sizeCrashed, "the decision is in the log once");
      const watchBad = signRequest(
        WatchAlertsRequestSchema,
        create(WatchAlertsRequestSchema, { kinds: [99 as AlertKind] }),
        { memberId: SECRETARIAT, key: hubKey },
      );
      assert.equal(
        await codeOf(async () => {
          for await (const _ of hub.client.watchAlerts(watchBad)) break;
        }),
        "invalid_argument",
      );
      assert.equal(
        await codeOf(async () => {
          for await (const _ of hub.client.watchAlerts(create(WatchAlertsRequestSchema, {}))) break;
        }),
        "unauthenticated",
      );

      // Retries: the member's node is unreachable at first (nothing listens at its address); the hub retries
      // with backoff, the node comes back at its address, the same logged session is answered once.
      suspects.set("copy-2", await copySuspect("copy-2", [acme]));
      await hub.log.appendSighting({ suspect: suspectRef("copy-2"), source: SuspectSource.FEED_ADAPTER });
      addresses.set("acme", "127.0.0.1:1");
      const back = setTimeout(() => addresses.set("acme", acme.node.address), 150);
      const retried = await hub.sessions.sessions.open({ ...target, suspect: suspectRef("copy-2") });
      clearTimeout(back);
      assert.ok(
        retried.outcome === "attested" && retried.verdict === Verdict.LIKELY_DERIVED,
        JSON.stringify(retried),
      );
      assert.equal(await attestationsOf(hub, retried.sessionId), 1);
      // A node that never comes back: the attempts run out and the session is recorded as failed, unanswered.
      suspects.set("copy-3", await copySuspect("copy-3", [acme]));
      await hub.log.appendSighting({ suspect: suspectRef("copy-3"), source: SuspectSource.FEED_ADAPTER });
      addresses.set("acme", "127.0.0.1:1");
      const gone = await hub.sessions.sessions.open({ ...target, suspect: suspectRef("copy-3") });
      assert.equal(gone.outcome, "failed");
      assert.ok(gone.outcome === "failed" && /unavailable/.test(gone.note), JSON.stringify(gone));
      assert.equal(await attestationsOf(hub, gone.sessionId), 0);
    } finally {
      await db.drop();
    }
  });
}

for (const backend of backends) {
  test(`a release reported by a member is sighted, probed, sketched, retrieved and turned into a case; bad reports refused (${backend.name})`, {
    skip: backend.skip,
    timeout: 300_000,
  }, async (t) => {
    const db = await backend.hubDb();
    try {
      const hubKey = Ed25519PrivateKey.generate();
      const addresses = new Map<string, string>();
      const suspects: SuspectBook = new Map();
      const scans = new Map<string, Promise<ScanResult>>();
      await using hub = await startHubSide(await db.open(), {
        hubKey,
        addresses,
        scan: { suspects, onScan: (id, r) => scans.set(id, r) },
      });
      await using acmeStore = await backend.memberStore();
      await using boltStore = await backend.memberStore();
      await using acme = await startMember(hub, acmeStore, "acme", suspects);
      await using bolt = await startMember(hub, boltStore, "bolt", suspects, { pairs: freshPairs(32) });
      addresses.set("acme", acme.node.address);
      addresses.set("bolt", bolt.node.address);
      await submitMemberSketch(hub, acme);
      await submitMemberSketch(hub, bolt);

      // The release: a model distilled from acme's, served at an endpoint; bolt reports it.
      suspects.set("fresh-release", await copySuspect("fresh-release", [acme]));
      const endpoint = {
        target: {
          case: "endpoint" as const,
          value: { baseUrl: "http://127.0.0.1:9/v1", modelName: "fresh-release" },
        },
      };
      const report = (
        init: Parameters<typeof create<typeof SubmitSuspectRequestSchema>>[1],
        key = bolt.key,
        memberId = "bolt",
      ) =>
        hub.client.submitSuspect(
          signRequest(SubmitSuspectRequestSchema, create(SubmitSuspectRequestSchema, init), {
            memberId,
            key,
          }),
        );
      const sizeBefore = hub.log.size;
      const reportedAt = performance.now();
      const res = await report({ source: SuspectSource.MEMBER_REPORT, suspect: endpoint });
      assert.equal(res.alreadyKnown, false);
      assert.equal(res.suspectId, suspectIdOf(create(SuspectRefSchema, endpoint)));
      const sighting = await hub.log.entry(sizeBefore);
      assert.equal(sighting?.kind, LogEntryKind.SUSPECT_SIGHTING, "the first sighting is logged first");
      const scan = await (scans.get(res.suspectId) as Promise<ScanResult>);
      t.diagnostic(
        `report -> sighting, probe, sketch, retrieval, 2 sessions, attestations, case: ${Math.round(performance.now() - reportedAt)} ms (replay inference)`,
      );
      // The suspect is asked the retrieval part of the battery only (lineage-split/v1).
      const full = await battery();
      const asked = splitEpochBattery(full, full.epoch).retrieval.probes.length;
      assert.ok(asked > 0 && asked < full.probes.length, `${asked} of ${full.probes.length}`);
      assert.equal(scan.probes, asked);
      assert.deepEqual(scan.candidates.map((c) => c.model.memberId).sort(), ["acme", "bolt"]);
      const byMember = new Map(
        scan.sessions.map((s) => [
          "outcome" in s
            ? (hub.log.session(s.sessionId)?.opened.candidate?.memberId ?? "")
            : s.model.memberId,
          s,
        ]),
      );
      const acmeOut = byMember.get("acme");
      assert.ok(
        acmeOut &&
          "outcome" in acmeOut &&
          acmeOut.outcome === "attested" &&
          acmeOut.verdict === Verdict.LIKELY_DERIVED,
      );
      const boltOut = byMember.get("bolt");
      assert.ok(
        boltOut &&
          "outcome" in boltOut &&
          boltOut.outcome === "attested" &&
          boltOut.verdict !== Verdict.LIKELY_DERIVED,
      );
      const c = (await hub.client.getCase({ caseId: caseIdOf(res.suspectId) })).case;
      assert.deepEqual(c?.memberIds, ["acme"]);
      assert.equal(c?.sharedViolation, false);
      assert.equal(c?.attestations.length, 2, "bolt's attestation is on the case, not as a violation");

      // The same release again: known, nothing logged.
      const size2 = hub.log.size;
      const again = await report({ source: SuspectSource.MEMBER_REPORT, suspect: endpoint });
      assert.equal(again.alreadyKnown, true);
      assert.equal(hub.log.size, size2);

      // Bad reports, each with its code, nothing logged.
      const size3 = hub.log.size;
      assert.equal(
        await codeOf(
          hub.client.submitSuspect(
            create(SubmitSuspectRequestSchema, { source: SuspectSource.MEMBER_REPORT, suspect: endpoint }),
          ),
        ),
        "unauthenticated",
      );
      assert.equal(
        await codeOf(report({ source: SuspectSource.FEED_ADAPTER, suspect: endpoint })),
        "permission_denied",
      );
      assert.equal(
        await codeOf(
          report({ source: SuspectSource.MEMBER_REPORT, suspect: endpoint }, Ed25519PrivateKey.generate()),
        ),
        "unknown_key",
      );
      assert.equal(
        await codeOf(
          report({
            source: SuspectSource.MEMBER_REPORT,
            suspect: {
              target: { case: "endpoint", value: { baseUrl: "http://example.com/v1", modelName: "x" } },
            },
          }),
        ),
        "invalid_argument",
        "plain http off loopback",
      );
      assert.equal(
        await codeOf(
          report({ source: SuspectSource.MEMBER_REPORT, suspect: { suspectId: "mine", ...endpoint } }),
        ),
        "invalid_argument",
        "a suspect id chosen by the reporter",
      );
      assert.equal(
        await codeOf(report({ source: SuspectSource.MEMBER_REPORT })),
        "invalid_argument",
        "no suspect",
      );
      assert.equal(hub.log.size, size3);

      // The registry feed: a listing parsed strictly, its releases submitted (known ones recognised).
      const feed = JSON.stringify({
        feed: "hf-new",
        releases: [
          {
            registry: "huggingface",
            repo: "org/fresh",
            revision: "abc123",
            weight_digest: "00".repeat(32),
            endpoint: { base_url: "http://127.0.0.1:9/v1", model_name: "fresh-release", api: "openai_chat" },
          },
        ],
      });
      const fed = await submitFeed(hub.sessions.scanner as NonNullable<typeof hub.sessions.scanner>, feed);
      assert.deepEqual(fed.known, [res.suspectId]);
      assert.throws(
        () =>
          parseRegistryFeed(
            JSON.stringify({ feed: "hf", releases: [{ registry: "huggingface", repo: "", revision: "r" }] }),
          ),
        /releases\[0\]\.repo|releases\[0\]: suspect\.release\.repo/,
      );
      assert.throws(() => parseRegistryFeed("{"), /not JSON/);
    } finally {
      await db.drop();
    }
  });
}
