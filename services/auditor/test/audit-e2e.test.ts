/**
 * End to end: a real hub log (PGlite and Postgres) served over real gRPC on 127.0.0.1:0, thousands
 * of appends, and the auditor verifying bundles, consistency across checkpoints and a disclosure —
 * then tampering (a changed leaf in the database, a forked checkpoint signed by the hub key, a
 * flipped bit in a bundle, a key used outside its validity) makes it fail with the right code.
 * The attestation is protocol v2, admitted by the real hub (session, sighting and commitments logged
 * first). A paired disclosure seeded by a later checkpoint than the first covering the attestation is
 * rejected (`seed_not_first`); recorded answers are a claim (`claim_not_checked`). Last, `lineage audit
 * disclosure --suspect` re-queries a suspect over HTTP through the engine's adapter: a copy that learned
 * the exposed items reproduces the claim (exit 0), an unrelated model does not (exit 1).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Hub, SuspectSource, VerifyDisclosureRequestSchema } from "@lineage/api";
import { disclosurePairIndices, Ed25519PrivateKey, openCheckpoint, parseVerifierKey } from "@lineage/crypto";
import type { ModelAdapter } from "@lineage/fingerprint";
import {
  buildAttestationBundle,
  enrolmentRecord,
  logServiceHandlers,
  revokeKeyRecord,
  signMembership,
  TransparencyLog,
} from "@lineage/hub";
import {
  addService,
  createClient,
  createServer,
  insecureChannelCredentials,
  insecureServerCredentials,
  RpcError,
  type ServiceImpl,
} from "@lineage/rpc";
import {
  type HubDatabase,
  hubMigrations,
  openTestStore,
  postgresTestTarget,
  type Store,
} from "@lineage/store";
import { sql } from "kysely";
import {
  AuditorState,
  auditConsistency,
  bundleToJson,
  disclosurePackageToJson,
  hubCheckpointSource,
  isAuditError,
  parseBundle,
  trustRootFromVerifierKey,
  verifyBundle,
  verifyDisclosure,
} from "../src/index.js";
import { type HubV2Flow, runHubV2Flow } from "./hub-v2-flow.js";
import { makePairs, tableSuspect } from "./v2-fixture.js";

const ORIGIN = "lineage.test/log";
const DAY = 86_400_000;
const CLI = new URL("../../cli/bin/lineage.js", import.meta.url).pathname;
// The CLI's default auditor state is ~/.lineage/auditor: commands run without --state keep theirs in a folder of
// this test run instead, removed at the end.
const CLI_STATE = join(tmpdir(), `lineage-auditor-state-${process.pid}`);
const CLI_ENV = { ...process.env, LINEAGE_AUDITOR_STATE: CLI_STATE };
after(() => rm(CLI_STATE, { recursive: true, force: true }));

/** Alice's enrolment as the member signs it (proof of possession); the log adds the hub's signature. */
function enrol(memberId: string, key: Ed25519PrivateKey, fromMs: number) {
  return signMembership(
    enrolmentRecord(memberId, memberId, key.publicKey, fromMs, { effectiveAtMs: Date.now() }),
    [key],
  );
}

/** A filler entry: the hub sights one more suspect. */
function filler(log: TransparencyLog, id: string) {
  return log.appendSighting({ suspect: { suspectId: id }, source: SuspectSource.FEED_ADAPTER });
}

/** A hub: log + gRPC server serving the log's methods (the rest answer `failed_precondition`). */
async function startHub(store: Store<HubDatabase>, hubKey: Ed25519PrivateKey) {
  const log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey,
    checkpointEvery: 500,
    checkpointIntervalMs: 200,
  });
  const server = createServer({ logger: { warn() {}, error() {} } as never });
  const handlers = logServiceHandlers(log);
  const impl = Object.fromEntries(
    Hub.methods.map((m) => [
      m.localName,
      (handlers as Record<string, unknown>)[m.localName] ??
        (() => {
          throw new RpcError("failed_precondition", "not served by this test hub");
        }),
    ]),
  ) as unknown as ServiceImpl<typeof Hub>;
  addService(server, Hub, impl);
  const port = await server.listen("127.0.0.1:0", insecureServerCredentials());
  return {
    log,
    address: `127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown(100);
      await log.close();
    },
  };
}

/**
 * The paired disclosure a member builds: sample seeded by the first checkpoint covering the attestation,
 * labels by the first covering the commitment, each with its evidence and a consistency proof to `size`.
 */
async function disclosePairs(log: TransparencyLog, flow: HubV2Flow, commitmentId: string, size: number) {
  const enc = new TextEncoder();
  const evidence = async (index: number) => {
    const f = await log.firstCoveringCheckpoint(index);
    return {
      cp: f.checkpoint,
      seed: {
        leafIndex: BigInt(index),
        checkpoint: { signedNote: enc.encode(f.checkpoint.note) },
        ...(f.previous === undefined ? {} : { previous: { signedNote: enc.encode(f.previous.note) } }),
        previousConsistency: f.previousConsistency,
      },
      consistency: await log.consistencyProof(f.checkpoint.treeSize, size),
    };
  };
  const seed = await evidence(flow.attestationIndex);
  const label = await evidence(flow.commitmentIndex);
  const idx = disclosurePairIndices({
    checkpointRoot: seed.cp.rootHash,
    commitmentRoot: flow.committed.root,
    origin: ORIGIN,
    attestationIndex: flow.attestationIndex,
    pairsCommitted: flow.committed.size,
  });
  return {
    commitmentId,
    sampleSize: idx.length,
    seed: seed.seed,
    seedConsistency: seed.consistency,
    labelCheckpoint: label.seed,
    labelConsistency: label.consistency,
    pairs: idx.map((i) => {
      const d = flow.committed.disclose(i);
      return {
        leafIndex: BigInt(i),
        salt: d.salt,
        pairId: d.pair.pairId,
        promptA: d.pair.a.prompt,
        expectedA: d.pair.a.expected,
        promptB: d.pair.b.prompt,
        expectedB: d.pair.b.expected,
        path: [...d.proof],
      };
    }),
  };
}

/** The suspect's recorded answers to both items of every disclosed pair. */
async function recordAnswers(
  pairs: ReadonlyArray<{ leafIndex: bigint; promptA: string; promptB: string }>,
  model: ModelAdapter,
) {
  const out: Array<{ leafIndex: bigint; item: number; response: string }> = [];
  for (const p of pairs) {
    out.push({
      leafIndex: p.leafIndex,
      item: 0,
      response: (await model.generate({ prompt: p.promptA, mode: "chat" })).text,
    });
    out.push({
      leafIndex: p.leafIndex,
      item: 1,
      response: (await model.generate({ prompt: p.promptB, mode: "chat" })).text,
    });
  }
  return out;
}

function expectAudit(code: string) {
  return (err: unknown) => {
    assert.ok(isAuditError(err), `expected AuditError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

/** Runs the real `lineage` CLI in a child process (asynchronously: the hub serves from this process). */
function cli(
  args: string[],
): Promise<{ status: number; json: { code?: string; verified: boolean; message?: string }; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args, "--json"],
      { encoding: "utf8", env: CLI_ENV },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ status, json: JSON.parse(stdout || "{}"), stderr });
      },
    );
  });
}

// Postgres unreachable outside CI: the postgres run is a SKIPPED test (counted by the runner, with the
// reason), never a printed note; under any truthy CI postgresTestTarget rejects and the file fails.
const pg = await postgresTestTarget();
const backends: Array<{ name: string; skip?: string; open: () => Promise<Store<HubDatabase>> }> = [
  { name: "pglite", open: () => openTestStore("pglite-memory") },
  pg.skip === undefined
    ? { name: "postgres", open: () => openTestStore("postgres", { url: pg.url }) }
    : {
        name: "postgres",
        skip: pg.skip,
        open: () => Promise.reject(new Error(`postgres e2e is skipped: ${pg.skip}`)),
      },
];

for (const { name, skip, open } of backends) {
  test(`${name}: thousands of appends over gRPC; bundles, consistency, disclosure verify; tampering fails with codes`, {
    skip: skip ?? false,
  }, async () => {
    await using store = await open();
    await store.migrate(hubMigrations);
    const hubKey = Ed25519PrivateKey.generate();
    await using hub = await startHub(store, hubKey);
    const { log } = hub;
    const trust = trustRootFromVerifierKey(log.verifierKey, ORIGIN);
    const dir = await mkdtemp(join(tmpdir(), "lineage-audit-"));
    const state = new AuditorState(join(dir, "state"));
    using source = hubCheckpointSource(hub.address, insecureChannelCredentials());
    const now = Date.now();

    // Members, then the protocol v2 flow: commitments, sighting, session, an attestation with counts.
    const alice = Ed25519PrivateKey.generate();
    const bob = Ed25519PrivateKey.generate();
    await log.appendMembership(enrol("alice", alice, now - DAY));
    await log.appendMembership(enrol("bob", bob, now - DAY));
    const pairs = makePairs(48);
    const flow = await runHubV2Flow(
      log,
      alice,
      "alice",
      pairs,
      () => tableSuspect(pairs, (i, item) => item === 0 || i % 6 === 0),
      { sessionId: "session-target", suspectId: "sus-target", atMs: now },
    );
    // The suspect knew every item a and some b: whichever the log exposed, the counts say so.
    const copy = tableSuspect(pairs, (i, item) => item === 0 || i % 6 === 0);
    const target = { index: flow.attestationIndex };

    // Thousands of appends in rounds; the auditor follows the checkpoints.
    const first = await auditConsistency(source, trust, state);
    assert.equal(first.previous, undefined);
    let seen = first.current.size;
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => filler(log, `r${round}-${i}`)));
      await log.checkpoint();
      const r = await auditConsistency(source, trust, state);
      assert.equal(r.previous?.size, seen);
      assert.ok(r.current.size > seen);
      seen = r.current.size;
    }
    assert.ok(seen >= 3000 + flow.attestationIndex);

    // Bundles over gRPC, written to a file and verified offline (library and CLI).
    using client = createClient(Hub, hub.address, insecureChannelCredentials());
    const { bundle } = await client.getAttestationBundle({
      selector: { case: "sessionId", value: "session-target" },
    });
    assert.ok(bundle !== undefined);
    const file = join(dir, "bundle.json");
    await writeFile(file, bundleToJson(bundle));
    const v = verifyBundle(parseBundle(new TextEncoder().encode(bundleToJson(bundle))), trust);
    assert.equal(v.attestationIndex, target.index);
    assert.equal(v.memberKey.memberId, "alice");
    // The same attestation by index; the verdict the auditor re-derived is the one the counts give.
    const other = await client.getAttestationBundle({
      selector: { case: "logIndex", value: BigInt(target.index) },
    });
    assert.ok(other.bundle !== undefined);
    const ov = verifyBundle(other.bundle, trust);
    assert.equal(ov.bound.evidence.canary?.exposed_only, flow.counts.exposed_only);
    assert.equal(ov.bound.session.index, flow.sessionIndex);
    const ok = await cli([
      "audit",
      "verify",
      file,
      "--log-key",
      log.verifierKey,
      "--origin",
      ORIGIN,
      "--offline",
    ]);
    assert.equal(ok.status, 0);
    assert.equal(ok.json.verified, true);
    // With --hub, the whole membership history is read from the log and proven against the bundle's checkpoint.
    const withHub = await cli(["audit", "verify", file, "--log-key", log.verifierKey, "--hub", hub.address]);
    assert.equal(withHub.status, 0, JSON.stringify(withHub.json));
    assert.equal((withHub.json as { history_checked?: boolean }).history_checked, true);

    // Strict input checks on the gRPC methods.
    await assert.rejects(
      async () => {
        for await (const _ of client.getLogEntries({ start: 0n, end: 20_000n })) break;
      },
      (e: unknown) => (e as RpcError).code === "invalid_argument",
    );
    await assert.rejects(
      client.getInclusionProof({ leafIndex: 10n ** 9n, treeSize: 0n }),
      (e: unknown) => (e as RpcError).code === "not_found",
    );
    await assert.rejects(
      client.getConsistencyProof({ oldSize: 0n, newSize: 0n }),
      (e: unknown) => (e as RpcError).code === "invalid_argument",
    );
    await assert.rejects(
      client.getAttestationBundle({ selector: { case: "logIndex", value: 0n } }),
      (e: unknown) => (e as RpcError).code === "invalid_argument",
    );
    let streamed = 0;
    for await (const e of client.getLogEntries({ start: 10n, end: 1210n })) {
      assert.equal(e.entry?.index, BigInt(10 + streamed));
      streamed++;
    }
    assert.equal(streamed, 1200);

    // Paired disclosure: the seed comes from the FIRST checkpoint covering the attestation, the labels
    // from the first covering the commitment, each with its evidence and a consistency proof.
    const cpNote = bundle.checkpoint?.signedNote as Uint8Array;
    const cp = openCheckpoint(cpNote, { log: parseVerifierKey(log.verifierKey) }).checkpoint;
    const disclosure = await disclosePairs(log, flow, "session-target-pairs", cp.size);
    assert.equal(disclosure.pairs.length, 32);
    const live = await verifyDisclosure(
      bundle,
      create(VerifyDisclosureRequestSchema, { disclosure }).disclosure as never,
      [],
      trust,
      { suspect: copy },
    );
    assert.equal(live.outcome, "verified");
    assert.equal(live.sample.exposedOnly + live.sample.decoyOnly + live.sample.bothHit, 32);
    const pkg = create(VerifyDisclosureRequestSchema, {
      bundle,
      disclosure,
      responses: await recordAnswers(disclosure.pairs, copy),
    });
    const recorded = await verifyDisclosure(
      pkg.bundle as never,
      pkg.disclosure as never,
      pkg.responses,
      trust,
    );
    assert.equal(recorded.outcome, "claim_not_checked");
    // Recorded answers of a model that knows no item: the claim (about half the pairs exposed-only, the
    // pairs the log labelled a) is not reproduced.
    const silent = create(VerifyDisclosureRequestSchema, {
      bundle,
      disclosure,
      responses: await recordAnswers(
        disclosure.pairs,
        tableSuspect(pairs, () => false),
      ),
    });
    await assert.rejects(
      verifyDisclosure(silent.bundle as never, silent.disclosure as never, silent.responses, trust),
      expectAudit("hits_not_reproduced"),
    );
    // Seed shopping: the member seeds its sample with a later checkpoint (the bundle's) and keeps the real
    // evidence, or drops the evidence — both rejected as not the first covering checkpoint.
    const firstCover = pkg.disclosure?.seed;
    assert.ok(firstCover !== undefined);
    for (const seed of [
      {
        leafIndex: firstCover.leafIndex,
        checkpoint: { signedNote: cpNote },
        ...(firstCover.previous === undefined ? {} : { previous: firstCover.previous }),
        previousConsistency: firstCover.previousConsistency,
      },
      { leafIndex: BigInt(target.index), checkpoint: { signedNote: cpNote } },
    ]) {
      const laterPkg = create(VerifyDisclosureRequestSchema, {
        disclosure: { ...disclosure, seed, seedConsistency: [] },
      });
      await assert.rejects(
        verifyDisclosure(bundle, laterPkg.disclosure as never, pkg.responses, trust),
        expectAudit("seed_not_first"),
      );
    }
    const noEvidence = create(VerifyDisclosureRequestSchema, {
      disclosure: { ...disclosure, seed: undefined },
    }).disclosure;
    await assert.rejects(
      verifyDisclosure(bundle, noEvidence as never, pkg.responses, trust),
      expectAudit("seed_not_first"),
    );

    // Tamper 1: a flipped bit in the bundle's attestation leaf, and in the checkpoint signature.
    const flipped = parseBundle(new TextEncoder().encode(bundleToJson(bundle)));
    const leaf = flipped.attestation?.entry?.leaf as Uint8Array;
    leaf[leaf.length - 3] = (leaf[leaf.length - 3] as number) ^ 0x01;
    assert.throws(() => verifyBundle(flipped, trust), expectAudit("bad_proof"));
    const badSig = parseBundle(new TextEncoder().encode(bundleToJson(bundle)));
    const note = badSig.checkpoint?.signedNote as Uint8Array;
    note[note.length - 5] = (note[note.length - 5] as number) ^ 0x01;
    assert.throws(
      () => verifyBundle(badSig, trust),
      (e: unknown) => isAuditError(e) && ["bad_signature", "malformed"].includes(e.code),
    );
    const flippedFile = join(dir, "flipped.json");
    await writeFile(flippedFile, bundleToJson(flipped));
    const bad = await cli(["audit", "verify", flippedFile, "--log-key", log.verifierKey]);
    assert.equal(bad.status, 1);
    assert.equal(bad.json.code, "bad_proof");

    // Tamper 2 (issue 8): a revocation backdated to before the attestation would let alice disown what she
    // signed. Beyond the skew it is refused at append; within it, validity is by log position, so the
    // attestation logged before the revocation still verifies, offline and against the hub.
    await assert.rejects(
      log.appendMembership(
        signMembership(revokeKeyRecord("alice", alice.publicKey, alice.keyId, now - DAY, "compromised"), [
          alice,
        ]),
      ),
      (e: unknown) => (e as { code?: string }).code === "stale",
    );
    await log.appendMembership(
      signMembership(revokeKeyRecord("alice", alice.publicKey, alice.keyId, now - 60_000, "compromised"), [
        alice,
      ]),
    );
    await log.checkpoint();
    const revoked = await client.getAttestationBundle({
      selector: { case: "logIndex", value: BigInt(target.index) },
    });
    assert.equal(verifyBundle(revoked.bundle as never, trust).memberKey.revokedAtIndex, log.size - 1);

    // Tamper 3: a changed leaf in the database (an operator with rights to disable the guard).
    await sql`alter table log_entries disable trigger log_entries_no_update_delete`.execute(store.db);
    // Alice's enrolment (entry 0) now holds bob's (entry 1): the bundle's membership proof breaks.
    const victim = (await log.entries(0, 1))[0];
    const swap = (await log.entries(1, 2))[0];
    assert.ok(victim !== undefined && swap !== undefined);
    await sql`update log_entries set leaf = ${swap.leaf} where idx = ${BigInt(victim.index)}`.execute(
      store.db,
    );
    const changed = await client.getAttestationBundle({
      selector: { case: "logIndex", value: BigInt(target.index) },
    });
    assert.throws(() => verifyBundle(changed.bundle as never, trust), expectAudit("bad_proof"));

    // Tamper 4: a fork signed by the hub key — another database, same key and origin, other history.
    await using forkStore = await openTestStore<HubDatabase>("pglite-memory");
    await forkStore.migrate(hubMigrations);
    await using fork = await startHub(forkStore, hubKey);
    await fork.log.appendMembership(enrol("mallory", Ed25519PrivateKey.generate(), now - DAY));
    await fork.log.appendMembership(enrol("alice", alice, now - DAY));
    await Promise.all(Array.from({ length: seen + 10 }, (_, i) => filler(fork.log, `f-${i}`)));
    await fork.log.checkpoint();
    using forkSource = hubCheckpointSource(fork.address, insecureChannelCredentials());
    await assert.rejects(auditConsistency(forkSource, trust, state), expectAudit("split_view"));
    assert.ok((await readdir(join(dir, "state"))).some((f) => f.startsWith("evidence-split_view")));
    const split = await cli([
      "audit",
      "consistency",
      "--hub",
      fork.address,
      "--log-key",
      log.verifierKey,
      "--state",
      join(dir, "state"),
    ]);
    assert.equal(split.status, 1, `${split.json.message} ${split.stderr}`);
    assert.equal(split.json.code, "split_view");
    // The honest hub still checks out; an unreachable hub cannot be checked (exit 3).
    await auditConsistency(source, trust, state);
    const down = await cli([
      "audit",
      "consistency",
      "--hub",
      "127.0.0.1:1",
      "--log-key",
      log.verifierKey,
      "--state",
      join(dir, "state"),
      "--timeout-ms",
      "2000",
    ]);
    assert.equal(down.status, 3);
    await rm(dir, { recursive: true, force: true });
  });
}

/**
 * An OpenAI-compatible suspect over HTTP (`/v1/chat/completions`) answering from in-process models by the
 * request's model name: the auditor reaches it through the engine's real HTTP adapter, as it would a
 * served suspect.
 */
async function serveSuspects(models: ReadonlyMap<string, ModelAdapter>) {
  const server = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", async () => {
      const json = JSON.parse(body) as { model: string; messages: Array<{ content: string }> };
      const model = models.get(json.model);
      if (req.url !== "/v1/chat/completions" || model === undefined) {
        res.writeHead(404).end();
        return;
      }
      const prompt = json.messages.at(-1)?.content ?? "";
      const r = await model.generate({ prompt, mode: "chat" });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          choices: [{ index: 0, message: { role: "assistant", content: r.text }, finish_reason: "stop" }],
        }),
      );
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

test("lineage audit disclosure --suspect: a copy that learned the exposed items reproduces the claim (exit 0), an unrelated model does not (exit 1)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-live-"));
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  await using log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey: Ed25519PrivateKey.generate(),
    checkpointEvery: 1_000_000,
    checkpointIntervalMs: 3_600_000,
  });
  const now = Date.now();
  const key = Ed25519PrivateKey.generate();
  await log.appendMembership(enrol("carol", key, now - DAY));
  const pairs = makePairs(40);
  // The copy learned the item of each pair the log exposed, and answers a few decoys too (generic
  // knowledge); the unrelated model knows every item a (a bias, not a copy).
  const copyOf = (labels: readonly (0 | 1)[]) =>
    tableSuspect(pairs, (i, item) => item === labels[i] || i % 9 === 0);
  const flow = await runHubV2Flow(log, key, "carol", pairs, copyOf, {
    sessionId: "live-session",
    suspectId: "sus-live",
    atMs: now,
  });
  assert.equal(flow.counts.decoy_only, 0);
  assert.ok(flow.counts.exposed_only >= 30, `exposed-only ${flow.counts.exposed_only}`);
  await log.checkpoint();
  await filler(log, "later");
  const bundleCp = await log.checkpoint();
  const bundle = await buildAttestationBundle(log, { logIndex: flow.attestationIndex });
  const disclosure = await disclosePairs(log, flow, "live-session-pairs", bundleCp.treeSize);
  const server = await serveSuspects(
    new Map<string, ModelAdapter>([
      ["suspect-copy", copyOf(flow.labels)],
      ["suspect-unrelated", tableSuspect(pairs, (_, item) => item === 0)],
    ]),
  );
  try {
    const file = join(dir, "package.json");
    await writeFile(
      file,
      disclosurePackageToJson(create(VerifyDisclosureRequestSchema, { bundle, disclosure })),
    );
    const args = (model: string) => [
      "audit",
      "disclosure",
      file,
      "--log-key",
      log.verifierKey,
      "--origin",
      ORIGIN,
      "--suspect",
      server.url,
      "--model",
      model,
    ];
    const copy = await cli(args("suspect-copy"));
    assert.equal(copy.status, 0, `${copy.json.message} ${copy.stderr}`);
    assert.equal(copy.json.verified, true);
    const other = await cli(args("suspect-unrelated"));
    assert.equal(other.status, 1, `${other.json.message} ${other.stderr}`);
    assert.equal(other.json.code, "hits_not_reproduced");
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
