/**
 * The member node's canary sets, match sessions and disclosure end to end (issue 9), over the member node's
 * real gRPC server and the hub's real log and gRPC server, on the embedded store and on real Postgres:
 * commit -> labels from the log -> RunMatchSession -> attestation -> hub logs it -> disclose -> the auditor
 * opens and verifies the package, re-querying the suspect. Everything the node sends (gRPC responses and
 * errors, its log lines, its NATS replies, the sealed package) is captured and searched for every canary
 * prompt and answer, the suspect's canary answers, salts and the member key.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import {
  AttestationStatementSchema,
  GetCanaryExposureRequestSchema,
  ImportCanarySetRequestSchema,
  MemberNode,
  RunMatchSessionRequestSchema,
  RunMatchSessionResponseSchema,
  SessionMessageSchema,
  SignedHeaderSchema,
  Verdict,
} from "@lineage/api";
import {
  generateAuditorKey,
  openDisclosureEnvelope,
  parseAuditorPrivateKey,
  parseDisclosurePackage,
  trustRootFromVerifierKey,
  verifyDisclosure,
} from "@lineage/auditor";
import { type Bus, connectNatsBus, createInProcessBus } from "@lineage/bus";
import { KeyRing, newNonce, signMessage, toHex, verifyEnvelope } from "@lineage/crypto";
import { parseReplay, ReplayAdapter } from "@lineage/fingerprint";
import { envelopeFromProto } from "@lineage/hub";
import {
  createClient,
  insecureChannelCredentials,
  insecureServerCredentials,
  type RpcError,
  type RpcLogRecord,
} from "@lineage/rpc";
import {
  type HubDatabase,
  type MemberNodeDatabase,
  memberNodeMigrations,
  openTestStore,
  postgresTestTarget,
  type TestBackend,
} from "@lineage/store";
import { setAdminAuth, signAdminRequest } from "../src/admin-auth.js";
import { parseCanaryPairsJsonl } from "../src/canaries/canary-file.js";
import { parseAuditorPublicKey } from "../src/disclosure/disclosure-envelope.js";
import { buildDisclosurePackage } from "../src/disclosure/disclosure-package.js";
import { connectMemberNode } from "../src/member-node-client.js";
import { startMemberNodeServer } from "../src/member-node-server.js";
import { staticBatterySource } from "../src/protect/battery-source.js";
import {
  matchServices,
  serveSessionsOnBus,
  sessionRequestSubject,
} from "../src/sessions/session-handlers.js";
import {
  battery,
  copySuspect,
  enrol,
  hubRequest,
  MEMBER,
  memberDeps,
  memberKey,
  openSession,
  replayText,
  SAMPLE_PAIRS,
  sessionModels,
  startHub,
} from "./match-world.js";

const pg = await postgresTestTarget();
const NATS_URL = process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const natsSkip = await connectNatsBus({ servers: NATS_URL, timeoutMs: 2000, maxReconnectAttempts: 0 }).then(
  async (b) => {
    await b.close();
    return undefined;
  },
  (err: unknown) => `NATS not reachable at ${NATS_URL}: ${(err as Error).message}`,
);
if (natsSkip !== undefined && process.env.CI) throw new Error(`${natsSkip} (CI: the session test needs it)`);

/** The real nats-server when reachable; outside CI, without one, the in-process bus (same contract). */
async function natsBus(): Promise<Bus> {
  if (natsSkip !== undefined) {
    process.stderr.write(`# ${natsSkip}; using the in-process bus\n`);
    return createInProcessBus();
  }
  return connectNatsBus({ servers: NATS_URL, name: "member-sessions-test" });
}
const backends: { name: TestBackend; skip: string | false; url?: string }[] = [
  { name: "pglite-memory", skip: false },
  { name: "postgres", skip: pg.skip ?? false, ...(pg.skip === undefined ? { url: pg.url } : {}) },
];

/** A logged handler failure as text, with its whole cause chain (what an operator's log would keep). */
function recordText(r: RpcLogRecord): string {
  const chain = (e: unknown): string =>
    e instanceof Error
      ? `${e.name}: ${e.message}${e.cause === undefined ? "" : ` <- ${chain(e.cause)}`}`
      : String(e);
  return JSON.stringify(r, (_k, v) => (v instanceof Error ? chain(v) : v));
}

/** Every error a caller of the node received (message and details), for the privacy search. */
const received: string[] = [];

async function codeOf(p: Promise<unknown> | (() => Promise<unknown>)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    received.push(
      `${(err as Error).message} ${JSON.stringify(err, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`,
    );
    return (err as RpcError).code;
  }
  return "ok";
}

for (const backend of backends) {
  test(`commit -> match -> disclose over gRPC, retry, bad requests, privacy (${backend.name})`, {
    skip: backend.skip,
    timeout: 240_000,
  }, async () => {
    const opts = backend.url === undefined ? {} : { url: backend.url };
    await using hubStore = await openTestStore<HubDatabase>(backend.name, opts);
    await using memberStore = await openTestStore<MemberNodeDatabase>(backend.name, opts);
    await memberStore.migrate(memberNodeMigrations);
    await using hub = await startHub(hubStore);
    const { seed, key } = memberKey();
    await enrol(hub.log, key);

    const logLines: string[] = [];
    const sent: Uint8Array[] = [];
    const errors: string[] = [];
    const deps = memberDeps(memberStore, key, hub, logLines);
    const b = await battery();
    const pairs = parseCanaryPairsJsonl("sample", await readFile(SAMPLE_PAIRS, "utf8"));
    // The suspect is built once the labels are known; the models object reads it lazily.
    let suspect: ReplayAdapter | undefined;
    const lazySuspect = {
      describe: () => ({ kind: "replay" as const, target: "suspect-1", logprobs: false }),
      generate: (r: Parameters<ReplayAdapter["generate"]>[0]) => (suspect as ReplayAdapter).generate(r),
    };
    const models = await sessionModels(lazySuspect, b);
    const services = matchServices(deps, { hubLog: hub.trust, models });
    await using server = await startMemberNodeServer({
      deps,
      protect: { batteries: staticBatterySource(b, new Uint8Array(32).fill(1)), adapters: {}, env: {} },
      match: services,
      listen: "127.0.0.1:0",
      credentials: insecureServerCredentials(),
      security: "plaintext",
      rpcLogger: {
        warn: (r: RpcLogRecord) => errors.push(recordText(r)),
        error: (r: RpcLogRecord) => errors.push(recordText(r)),
      },
    });
    const admin = connectMemberNode(server.address, insecureChannelCredentials(), key, MEMBER);
    const node = createClient(MemberNode, server.address, insecureChannelCredentials(), {
      defaultTimeoutMs: 120_000,
    });
    const capture = <T extends object>(schema: Parameters<typeof toBinary>[0], m: T): T => {
      sent.push(toBinary(schema, m as never));
      return m;
    };
    try {
      // 1. Import + commit through the admin RPC (signed with the member's own key).
      const importReq = create(ImportCanarySetRequestSchema, {
        sourcePath: SAMPLE_PAIRS,
        commitmentId: "acme-pairs-1",
      });
      const method = "/lineage.v1.MemberNode/ImportCanarySet";
      const auth = () =>
        setAdminAuth(
          new Metadata(),
          signAdminRequest(method, ImportCanarySetRequestSchema, importReq, key, MEMBER),
        );
      assert.equal(
        await codeOf(node.importCanarySet(importReq)),
        "unauthenticated",
        "an import without admin identity is refused",
      );
      const imported = capture(
        (await import("@lineage/api")).ImportCanarySetResponseSchema,
        await node.importCanarySet(importReq, { metadata: auth() }),
      );
      assert.equal(imported.canaryCount, 32n);
      const commitment = imported.commitment as NonNullable<typeof imported.commitment>;
      assert.equal(await codeOf(node.importCanarySet(importReq, { metadata: auth() })), "already_exists");
      // Labels came from the first checkpoint covering the commitment, and only then were recorded.
      const labels = await services.canaries.learnLabels("acme-pairs-1");
      const rows = await memberStore.db
        .selectFrom("canary_pairs")
        .select("exposed")
        .orderBy("pair_index")
        .execute();
      assert.deepEqual(
        rows.map((r) => r.exposed),
        labels,
      );
      const first = await hub.log.firstCoveringCheckpoint(Number(commitment.logIndex));
      const { canaryPairLabels } = await import("@lineage/crypto");
      assert.deepEqual(
        labels,
        canaryPairLabels({
          checkpointRoot: first.checkpoint.rootHash,
          checkpointSize: first.checkpoint.treeSize,
          commitmentRoot: commitment.merkleRoot,
          pairs: 32,
        }),
      );
      const copy = copySuspect(await replayText("reference.jsonl"), pairs, labels);
      suspect = new ReplayAdapter(parseReplay(copy.text), "suspect-1");

      // 2. The hub opens a logged session; the node runs it and answers with a signed attestation.
      const session = await openSession(hub, key, commitment, b.epoch);
      const stream = async (req: ReturnType<typeof hubRequest>) => {
        const out = [];
        for await (const r of node.runMatchSession(req)) out.push(capture(RunMatchSessionResponseSchema, r));
        return out;
      };
      const responses = await stream(hubRequest(hub.hubKey, session));
      assert.ok(responses.length >= 2, "progress, then the answer");
      const last = responses.at(-1);
      assert.equal(last?.event.case, "answer");
      for (const r of responses.slice(0, -1)) assert.equal(r.event.case, "progress");
      for (const r of responses) assert.equal(r.header?.memberId, MEMBER, "every message is member-signed");
      const answer = last?.event.case === "answer" ? last.event.value : undefined;
      assert.equal(answer?.outcome.case, "attestation");
      const env = answer?.outcome.case === "attestation" ? answer.outcome.value : undefined;
      const verified = verifyEnvelope(envelopeFromProto(env as NonNullable<typeof env>), {
        keys: new KeyRing([key.publicKey]),
        requiredKeyIds: [key.keyId],
      });
      const statement = fromBinary(AttestationStatementSchema, verified.payload);
      assert.equal(
        statement.verdict,
        Verdict.LIKELY_DERIVED,
        "the copy that learned the exposed items is accused",
      );
      assert.equal(statement.counts?.canary?.exposedOnly, 32);
      assert.equal(statement.counts?.canary?.decoyOnly, 0);
      assert.equal(statement.bound?.sessionIndex, session.sessionIndex);

      // 3. A retry (fresh header) gets the same attestation and spends nothing new.
      const exposure = async () =>
        capture(
          (await import("@lineage/api")).GetCanaryExposureResponseSchema,
          await admin.canaryExposure({}),
        );
      const before = await exposure();
      assert.equal(before.exposures[0]?.spent, 64n, "both items of all 32 pairs were sent, once");
      const again = await stream(hubRequest(hub.hubKey, session));
      const againAnswer = again.at(-1)?.event;
      assert.ok(againAnswer?.case === "answer" && answer !== undefined);
      assert.deepEqual(
        toBinary((await import("@lineage/api")).MatchSessionAnswerSchema, againAnswer.value),
        toBinary((await import("@lineage/api")).MatchSessionAnswerSchema, answer),
      );
      assert.equal((await exposure()).exposures[0]?.spent, 64n);

      // 4. Bad requests, each with its status.
      const replayed = hubRequest(hub.hubKey, session);
      await stream(replayed);
      assert.equal(await codeOf(stream(replayed)), "already_exists", "a replayed header");
      const forged = hubRequest(hub.hubKey, session);
      const sigBytes = (forged.header as NonNullable<typeof forged.header>).signature;
      sigBytes[0] = (sigBytes[0] as number) ^ 1;
      assert.equal(await codeOf(stream(forged)), "bad_signature", "a forged signature (UNAUTHENTICATED)");
      const otherKey = (await import("@lineage/crypto")).Ed25519PrivateKey.generate();
      assert.equal(
        await codeOf(stream(hubRequest(otherKey, session))),
        "bad_signature",
        "signed by a key that is not the hub's",
      );
      const bare = create(RunMatchSessionRequestSchema, { session });
      assert.equal(await codeOf(stream(bare)), "unauthenticated", "no header");
      const unknown = create((await import("@lineage/api")).MatchSessionRequestSchema, {
        ...session,
        sessionIndex: 10_000n,
      });
      assert.match(
        await codeOf(stream(hubRequest(hub.hubKey, unknown))),
        /not_found|session_mismatch/,
        "a session index that is not a session entry",
      );
      const shortNonce = create((await import("@lineage/api")).MatchSessionRequestSchema, {
        ...session,
        nonce: new Uint8Array(5),
      });
      assert.equal(
        await codeOf(stream(hubRequest(hub.hubKey, shortNonce))),
        "malformed",
        "malformed (INVALID_ARGUMENT)",
      );
      const huge = create((await import("@lineage/api")).MatchSessionRequestSchema, {
        ...session,
        opened: create((await import("@lineage/api")).DsseEnvelopeSchema, {
          ...(session.opened as NonNullable<typeof session.opened>),
          payload: new Uint8Array(1_100_000),
        }),
      });
      assert.equal(
        await codeOf(stream(hubRequest(hub.hubKey, huge))),
        "malformed",
        "oversized (INVALID_ARGUMENT)",
      );
      const otherModel = create((await import("@lineage/api")).MatchSessionRequestSchema, {
        ...session,
        candidate: create((await import("@lineage/api")).MemberModelRefSchema, {
          memberId: MEMBER,
          modelId: "not-protected",
          modelVersion: "1",
        }),
      });
      assert.match(await codeOf(stream(hubRequest(hub.hubKey, otherModel))), /session_mismatch|not_found/);
      assert.equal(await codeOf(admin.canaryExposure({ commitmentIds: ["no-such-set"] })), "not_found");
      assert.equal(
        await codeOf(node.getCanaryExposure(create(GetCanaryExposureRequestSchema, {}))),
        "unauthenticated",
        "exposure is for the node's operators only",
      );

      // 5. The same session over NATS request-reply, on the real nats-server (everything on the session
      //    subjects is captured by a second connection); a replayed message is refused.
      await using nats = await natsBus();
      const busDeps = { ...deps, bus: nats };
      await using _tap = await nats.subscribe(`lineage.session.${MEMBER}.>`, (m) => {
        sent.push(m.data);
      });
      await using _served = await serveSessionsOnBus(nats, busDeps, services.sessions);
      const msg = create(SessionMessageSchema, { body: { case: "request", value: session } });
      const issuedAtMs = Date.now();
      const h = { memberId: "hub", sequence: 1n, nonce: newNonce(), issuedAtMs };
      const sig = signMessage(
        SessionMessageSchema.typeName,
        h,
        toBinary(SessionMessageSchema, msg),
        hub.hubKey,
      );
      msg.header = create(SignedHeaderSchema, {
        memberId: "hub",
        keyId: sig.keyId,
        sequence: 1n,
        nonce: sig.header.nonce,
        issuedAtMs: BigInt(issuedAtMs),
        signature: sig.signature,
      });
      const reply = await nats.request(sessionRequestSubject(MEMBER), toBinary(SessionMessageSchema, msg), {
        timeoutMs: 60_000,
      });
      sent.push(reply.data);
      await assert.rejects(
        nats.request(sessionRequestSubject(MEMBER), toBinary(SessionMessageSchema, msg), {
          timeoutMs: 60_000,
        }),
        (e) => (e as { code?: string }).code === "conflict",
        "a replayed session message is refused (code only on the wire)",
      );
      const replyMsg = fromBinary(SessionMessageSchema, reply.data);
      assert.ok(replyMsg.body.case === "answer");
      assert.deepEqual(
        toBinary((await import("@lineage/api")).MatchSessionAnswerSchema, replyMsg.body.value),
        toBinary(
          (await import("@lineage/api")).MatchSessionAnswerSchema,
          answer as NonNullable<typeof answer>,
        ),
        "NATS answers with the stored attestation",
      );

      // 6. The hub logs the attestation; the member discloses to an auditor; the auditor opens and verifies.
      const logged = await hub.log.appendAttestation(envelopeFromProto(env as NonNullable<typeof env>));
      await hub.log.checkpoint();
      const auditor = generateAuditorKey();
      const auditorKey = parseAuditorPublicKey(auditor.publicKeyText);
      assert.equal(
        await codeOf(node.discloseSession({ sessionId: "session-1", auditorPublicKey: auditorKey })),
        "unauthenticated",
      );
      assert.equal(
        await codeOf(admin.disclose({ sessionId: "no-such", auditorPublicKey: auditorKey })),
        "not_found",
      );
      assert.equal(
        await codeOf(admin.disclose({ sessionId: "session-1", auditorPublicKey: auditorKey.subarray(1) })),
        "invalid_argument",
      );
      // A low-order key (all-zero X25519 secret: the package would open for anyone) is refused too.
      assert.equal(
        await codeOf(admin.disclose({ sessionId: "session-1", auditorPublicKey: new Uint8Array(32) })),
        "invalid_argument",
      );
      const disclosed = capture(
        (await import("@lineage/api")).DiscloseSessionResponseSchema,
        await admin.disclose({ sessionId: "session-1", auditorPublicKey: auditorKey }),
      );
      assert.equal(Number(disclosed.attestationIndex), logged.index);
      assert.equal(disclosed.sampleSize, 32);
      const sealed = disclosed.sealedPackage;
      // The package as the node built it, for the control below (never sent in the clear).
      const pkg = await buildDisclosurePackage(
        { store: memberStore, hub: hub.client, hubLog: hub.trust, canaries: services.canaries },
        "session-1",
      );
      const opened = parseDisclosurePackage(
        openDisclosureEnvelope(sealed, parseAuditorPrivateKey(auditor.privateKeyText)),
      );
      assert.equal(Number(opened.bundle?.attestation?.entry?.index), logged.index);
      const trust = trustRootFromVerifierKey(hub.log.verifierKey);
      const live = await verifyDisclosure(
        opened.bundle as never,
        opened.disclosure as never,
        opened.responses,
        trust,
        { suspect: suspect as ReplayAdapter },
      );
      assert.equal(live.outcome, "verified", "the auditor re-queried the suspect and the claim reproduced");
      assert.equal(live.sample.exposedOnly, 32);
      const recorded = await verifyDisclosure(
        opened.bundle as never,
        opened.disclosure as never,
        opened.responses,
        trust,
      );
      assert.equal(recorded.outcome, "claim_not_checked");
      const otherAuditor = generateAuditorKey();
      assert.throws(
        () => openDisclosureEnvelope(sealed, parseAuditorPrivateKey(otherAuditor.privateKeyText)),
        { code: "malformed" },
      );

      // 7. Privacy: nothing the node sent carries a canary, a suspect canary answer, a salt or the key.
      const committed = await services.canaries.commitment("acme-pairs-1");
      const secrets: string[] = [];
      for (const p of pairs) secrets.push(p.a.prompt, p.a.expected, p.b.prompt, p.b.expected);
      secrets.push(...new Set(copy.canaryOutputs), "I am not sure; the records I know do not say.");
      secrets.push(toHex(seed), Buffer.from(seed).toString("base64"));
      for (const s of committed.salts) secrets.push(toHex(s), Buffer.from(s).toString("base64"));
      // Control: the same search finds the canaries in the plaintext package (which is only ever sent sealed).
      const plain = Buffer.from(
        toBinary((await import("@lineage/api")).VerifyDisclosureRequestSchema, pkg),
      ).toString("latin1");
      const sampled = opened.disclosure?.pairs[0]?.promptA ?? "";
      assert.ok(sampled.length > 0 && plain.includes(Buffer.from(sampled, "utf8").toString("latin1")));
      const haystacks = [
        ...sent.map((b) => Buffer.from(b).toString("latin1")),
        ...sent.map((b) => toHex(b)),
        ...logLines,
        ...errors,
        ...received,
      ];
      assert.ok(
        sent.length > 10 && logLines.length > 0 && errors.length > 0,
        "the capture saw traffic, log lines and errors",
      );
      for (const s of secrets) {
        const leak = haystacks.findIndex(
          (h) => h.includes(s) || h.includes(Buffer.from(s, "utf8").toString("latin1")),
        );
        assert.equal(leak, -1, `a secret (${s.length} chars) appears in captured output #${leak}`);
      }
    } finally {
      node.close();
      admin.close();
      await deps.bus[Symbol.asyncDispose]();
    }
  });
}
