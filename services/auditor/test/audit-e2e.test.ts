/**
 * End to end: a real hub log (PGlite and Postgres) served over real gRPC on 127.0.0.1:0, thousands
 * of appends, and the auditor verifying bundles, consistency across checkpoints and a disclosure —
 * then tampering (a changed leaf in the database, a forked checkpoint signed by the hub key, a
 * flipped bit in a bundle, a key used outside its validity) makes it fail with the right code.
 * A disclosure seeded by a later checkpoint than the first covering the attestation is rejected
 * (`seed_not_first`). Last, `lineage audit disclosure --suspect` re-queries a real testbed model
 * through the engine's HTTP adapter: a copy of the member's teacher reproduces the hits (exit 0),
 * an unrelated model does not (exit 1).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  CanaryCommitmentSchema,
  CommitmentHashAlgorithm,
  Hub,
  KeyAlgorithm,
  MembershipAction,
  TestKind,
  Verdict,
  VerifyDisclosureRequestSchema,
} from "@lineage/api";
import {
  CanaryCommitment,
  type Checkpoint,
  canaryItemBytes,
  type DsseEnvelope,
  deriveSeed,
  Ed25519PrivateKey,
  openCheckpoint,
  parseVerifierKey,
  sampleIndices,
  signEnvelope,
} from "@lineage/crypto";
import { canaryHit, HttpAdapter } from "@lineage/fingerprint";
import { buildAttestationBundle, logServiceHandlers, PAYLOAD_TYPES, TransparencyLog } from "@lineage/hub";
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
import { buildPopulation, serveTestbed } from "@lineage/testbed";
import { sql } from "kysely";
import {
  AuditorState,
  auditConsistency,
  bundleToJson,
  CANARY_REQUEST,
  disclosureContext,
  disclosurePackageToJson,
  hubCheckpointSource,
  isAuditError,
  parseBundle,
  trustRootFromVerifierKey,
  verifyBundle,
  verifyDisclosure,
} from "../src/index.js";

const ORIGIN = "lineage.test/log";
const DAY = 86_400_000;
const CLI = new URL("../../cli/bin/lineage.js", import.meta.url).pathname;

function enrol(memberId: string, key: Ed25519PrivateKey, fromMs: number) {
  return {
    action: MembershipAction.ENROL,
    memberId,
    displayName: memberId,
    key: {
      keyId: key.keyId,
      algorithm: KeyAlgorithm.ED25519,
      publicKey: key.publicKey.raw,
      notBefore: timestampFromMs(fromMs),
    },
    effectiveAt: timestampFromMs(fromMs),
  };
}

function statement(
  key: Ed25519PrivateKey,
  memberId: string,
  sessionId: string,
  atMs: number,
  commitment?: { id: string; root: Uint8Array; logIndex: number },
  canaryClaim = { trials: 40, hits: 30 },
): DsseEnvelope {
  const st = create(AttestationStatementSchema, {
    version: 1,
    sessionId,
    sessionNonce: new Uint8Array(16).fill(3),
    memberModel: { memberId, modelId: "m", modelVersion: "1" },
    verdict: Verdict.LIKELY_DERIVED,
    evidence: {
      tests: [{ kind: TestKind.CANARY, ...canaryClaim, pValue: 1e-9 }],
      combinedPValue: 1e-9,
    },
    issuedAt: timestampFromMs(atMs),
    ...(commitment === undefined
      ? {}
      : {
          canaryCommitment: {
            commitmentId: commitment.id,
            merkleRoot: commitment.root,
            logIndex: BigInt(commitment.logIndex),
          },
        }),
  });
  return signEnvelope(PAYLOAD_TYPES.attestation, toBinary(AttestationStatementSchema, st), key);
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

function commitmentEnvelope(
  key: Ed25519PrivateKey,
  memberId: string,
  id: string,
  committed: CanaryCommitment,
  atMs: number,
): DsseEnvelope {
  return signEnvelope(
    PAYLOAD_TYPES.commitment,
    toBinary(
      CanaryCommitmentSchema,
      create(CanaryCommitmentSchema, {
        commitmentId: id,
        memberId,
        merkleRoot: committed.root,
        canaryCount: BigInt(committed.size),
        hashAlgorithm: CommitmentHashAlgorithm.SHA256_RFC6962,
        committedAt: timestampFromMs(atMs),
      }),
    ),
    key,
  );
}

/** The disclosure a member builds: sample seeded by the first checkpoint covering the attestation. */
function discloseSample(
  first: { checkpoint?: { signedNote: Uint8Array } | undefined },
  vkey: string,
  committed: CanaryCommitment,
  canaries: ReadonlyArray<{ prompt: string; expected: string }>,
  attestationIndex: number,
  n: number,
) {
  const seedCp: Checkpoint = openCheckpoint(first.checkpoint?.signedNote as Uint8Array, {
    log: parseVerifierKey(vkey),
  }).checkpoint;
  const idx = sampleIndices(
    deriveSeed(seedCp.rootHash, committed.root, disclosureContext(ORIGIN, attestationIndex)),
    committed.size,
    n,
  );
  return {
    idx,
    canaries: idx.map((i) => {
      const d = committed.disclose(i);
      const c = canaries[i] as { prompt: string; expected: string };
      return {
        leafIndex: BigInt(i),
        salt: d.salt,
        prompt: c.prompt,
        expected: c.expected,
        path: [...d.proof],
      };
    }),
  };
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
    execFile(process.execPath, [CLI, ...args, "--json"], { encoding: "utf8" }, (err, stdout, stderr) => {
      const status = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ status, json: JSON.parse(stdout || "{}"), stderr });
    });
  });
}

const pg = await postgresTestTarget();
const backends: Array<[string, () => Promise<Store<HubDatabase>>]> = [
  ["pglite", () => openTestStore("pglite-memory")],
];
if (pg.skip === undefined) backends.push(["postgres", () => openTestStore("postgres", { url: pg.url })]);
else console.log(`# postgres e2e skipped: ${pg.skip}`);

for (const [name, open] of backends) {
  test(`${name}: thousands of appends over gRPC; bundles, consistency, disclosure verify; tampering fails with codes`, async () => {
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

    // Members, a canary commitment, an attestation relying on it.
    const alice = Ed25519PrivateKey.generate();
    const bob = Ed25519PrivateKey.generate();
    await log.appendMembership(enrol("alice", alice, now - DAY));
    await log.appendMembership(enrol("bob", bob, now - DAY));
    const canaries = Array.from({ length: 200 }, (_, i) => ({
      prompt: `What is the vault word #${i}?`,
      expected: `zq-${i * 7919}`,
    }));
    const committed = CanaryCommitment.create(canaries.map((c) => canaryItemBytes(c.prompt, c.expected)));
    const cEntry = await log.appendCommitment(commitmentEnvelope(alice, "alice", "set-1", committed, now));
    const target = await log.appendAttestation(
      statement(alice, "alice", "session-target", now, {
        id: "set-1",
        root: committed.root,
        logIndex: cEntry.index,
      }),
    );

    // Thousands of appends in rounds; the auditor follows the checkpoints.
    const first = await auditConsistency(source, trust, state);
    assert.equal(first.previous, undefined);
    let seen = first.current.size;
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          log.appendAttestation(
            statement(i % 2 ? alice : bob, i % 2 ? "alice" : "bob", `r${round}-${i}`, now),
          ),
        ),
      );
      await log.checkpoint();
      const r = await auditConsistency(source, trust, state);
      assert.equal(r.previous?.size, seen);
      assert.ok(r.current.size > seen);
      seen = r.current.size;
    }
    assert.ok(seen >= 3004);

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
    const other = await client.getAttestationBundle({
      selector: { case: "logIndex", value: BigInt(seen - 1) },
    });
    assert.ok(other.bundle !== undefined);
    verifyBundle(other.bundle, trust);
    const ok = await cli(["audit", "verify", file, "--log-key", log.verifierKey, "--origin", ORIGIN]);
    assert.equal(ok.status, 0);
    assert.equal(ok.json.verified, true);

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

    // Disclosure: the seed comes from the FIRST checkpoint covering the attestation, with the
    // evidence that it is the first and a consistency proof to the bundle's checkpoint.
    const cpNote = bundle.checkpoint?.signedNote as Uint8Array;
    const cp = openCheckpoint(cpNote, { log: parseVerifierKey(log.verifierKey) }).checkpoint;
    const { first: firstCover, referenceConsistency } = await client.getFirstCoveringCheckpoint({
      leafIndex: BigInt(target.index),
      referenceSize: BigInt(cp.size),
    });
    assert.ok(firstCover?.checkpoint !== undefined);
    const n = 20;
    const { idx, canaries: disclosed } = discloseSample(
      firstCover,
      log.verifierKey,
      committed,
      canaries,
      target.index,
      n,
    );
    const disclosure = {
      commitmentId: "set-1",
      sampleSize: n,
      seedCheckpoint: firstCover.checkpoint,
      seed: firstCover,
      seedConsistency: referenceConsistency?.hashes ?? [],
      canaries: disclosed,
    };
    const answers = (hitEvery: number) =>
      idx.map((i, k) => ({
        leafIndex: BigInt(i),
        response:
          k % hitEvery === 0
            ? "I cannot say."
            : `The word is ${(canaries[i] as { expected: string }).expected}.`,
      }));
    const pkg = create(VerifyDisclosureRequestSchema, { bundle, disclosure, responses: answers(10) });
    const d = await verifyDisclosure(pkg.bundle as never, pkg.disclosure as never, pkg.responses, trust);
    assert.equal(d.hits, 18);
    const lowHits = create(VerifyDisclosureRequestSchema, { bundle, disclosure, responses: answers(2) });
    await assert.rejects(
      verifyDisclosure(lowHits.bundle as never, lowHits.disclosure as never, lowHits.responses, trust),
      expectAudit("hits_not_reproduced"),
    );
    // The engine's log-probability rule: an answer ranked among the served alternatives of the first
    // positions is a hit too, for the auditor as for the member node.
    const ranked = create(VerifyDisclosureRequestSchema, {
      bundle,
      disclosure,
      responses: answers(2).map((r, k) =>
        k % 2 === 0
          ? {
              ...r,
              firstPositions: [
                {
                  token: "I",
                  alternatives: ["The", (canaries[idx[k] as number] as { expected: string }).expected],
                },
              ],
            }
          : r,
      ),
    });
    assert.equal(
      (await verifyDisclosure(ranked.bundle as never, ranked.disclosure as never, ranked.responses, trust))
        .hits,
      20,
    );
    const tooMany = create(VerifyDisclosureRequestSchema, {
      bundle,
      disclosure,
      responses: answers(10).map((r) => ({
        ...r,
        firstPositions: Array.from({ length: 4 }, () => ({ token: "x", alternatives: [] })),
      })),
    });
    await assert.rejects(
      verifyDisclosure(tooMany.bundle as never, tooMany.disclosure as never, tooMany.responses, trust),
      expectAudit("too_large"),
    );
    const shopped = {
      ...disclosure,
      canaries: [...disclosed.slice(1), disclosed[0] as (typeof disclosed)[number]],
    };
    await assert.rejects(
      verifyDisclosure(
        bundle,
        create(VerifyDisclosureRequestSchema, { disclosure: shopped }).disclosure as never,
        pkg.responses,
        trust,
      ),
      expectAudit("sample_mismatch"),
    );
    // Seed shopping: the member seeds its sample with a later checkpoint (the bundle's) and keeps
    // the real evidence, or drops the evidence — both rejected as not the first covering checkpoint.
    const later = discloseSample(
      { checkpoint: { signedNote: cpNote } },
      log.verifierKey,
      committed,
      canaries,
      target.index,
      n,
    );
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
        bundle,
        disclosure: {
          ...disclosure,
          seedCheckpoint: { signedNote: cpNote },
          seed,
          seedConsistency: [],
          canaries: later.canaries,
        },
        responses: answers(10),
      });
      await assert.rejects(
        verifyDisclosure(bundle, laterPkg.disclosure as never, laterPkg.responses, trust),
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

    // Tamper 2: a key used outside its validity — alice's key revoked retroactively (compromise
    // dated before the attestation); the bundle now carries the revocation.
    await log.appendMembership({
      action: MembershipAction.REVOKE_KEY,
      memberId: "alice",
      key: {
        keyId: alice.keyId,
        algorithm: KeyAlgorithm.ED25519,
        publicKey: alice.publicKey.raw,
        revokedAt: timestampFromMs(now - 60_000),
        revocationReason: "compromised",
      },
      effectiveAt: timestampFromMs(now),
    });
    await log.checkpoint();
    const revoked = await client.getAttestationBundle({
      selector: { case: "logIndex", value: BigInt(target.index) },
    });
    assert.throws(() => verifyBundle(revoked.bundle as never, trust), expectAudit("key_not_valid"));

    // Tamper 3: a changed leaf in the database (an operator with rights to disable the guard).
    await sql`alter table log_entries disable trigger log_entries_no_update_delete`.execute(store.db);
    const victim = (await log.entries(target.index + 5, target.index + 6))[0];
    const swap = (await log.entries(target.index + 7, target.index + 8))[0];
    assert.ok(victim !== undefined && swap !== undefined);
    await sql`update log_entries set leaf = ${swap.leaf} where idx = ${BigInt(victim.index)}`.execute(
      store.db,
    );
    const changed = await client.getAttestationBundle({
      selector: { case: "logIndex", value: BigInt(victim.index) },
    });
    assert.throws(() => verifyBundle(changed.bundle as never, trust), expectAudit("bad_proof"));

    // Tamper 4: a fork signed by the hub key — another database, same key and origin, other history.
    await using forkStore = await openTestStore<HubDatabase>("pglite-memory");
    await forkStore.migrate(hubMigrations);
    await using fork = await startHub(forkStore, hubKey);
    await fork.log.appendMembership(enrol("mallory", Ed25519PrivateKey.generate(), now - DAY));
    await fork.log.appendMembership(enrol("alice", alice, now - DAY));
    await Promise.all(
      Array.from({ length: seen + 10 }, (_, i) =>
        fork.log.appendAttestation(statement(alice, "alice", `f-${i}`, now)),
      ),
    );
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

test("lineage audit disclosure --suspect: a copy of the member's teacher reproduces the hits (exit 0), an unrelated model does not (exit 1)", async () => {
  const population = await buildPopulation({ split: "test", size: "small" });
  const member = population.members[0];
  assert.ok(member !== undefined);
  const teacher = population.entries.find((e) => e.id === member.teacherId)?.model;
  const unrelated = population.entries.find((e) => e.role === "nonmember_teacher")?.model;
  assert.ok(teacher !== undefined && unrelated !== undefined);
  const server = await serveTestbed({
    models: new Map([
      ["suspect-copy", teacher],
      ["suspect-unrelated", unrelated],
    ]),
  });
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-live-"));
  try {
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
    await log.appendMembership(enrol(member.memberId, key, now - DAY));
    // The member commits its whole canary set (exposed and decoys, as it would).
    const canaries = [...member.canaries.exposed, ...member.canaries.decoys].map((c) => ({
      prompt: c.prompt,
      expected: c.answer,
    }));
    const committed = CanaryCommitment.create(canaries.map((c) => canaryItemBytes(c.prompt, c.expected)));
    const cEntry = await log.appendCommitment(
      commitmentEnvelope(key, member.memberId, "live-set", committed, now),
    );
    await log.checkpoint(); // so the first checkpoint covering the attestation has a predecessor
    // The member's own measurement of the suspect, by the engine's rule: what the attestation claims.
    const probe = new HttpAdapter({ baseUrl: server.url, model: "suspect-copy" });
    let hits = 0;
    for (const c of canaries) {
      if (canaryHit(c.expected, (await probe.generate({ ...CANARY_REQUEST, prompt: c.prompt })).text)) hits++;
    }
    assert.ok(hits >= 4 && hits < canaries.length, `teacher copy hits ${hits} of ${canaries.length}`);
    const att = await log.appendAttestation(
      statement(
        key,
        member.memberId,
        "live-session",
        now,
        { id: "live-set", root: committed.root, logIndex: cEntry.index },
        { trials: canaries.length, hits },
      ),
    );
    const seedCp = await log.checkpoint();
    await log.appendMembership(enrol("later", Ed25519PrivateKey.generate(), now - DAY));
    const bundleCp = await log.checkpoint();
    const bundle = await buildAttestationBundle(log, { logIndex: att.index });
    const first = await log.firstCoveringCheckpoint(att.index);
    assert.equal(first.checkpoint.treeSize, seedCp.treeSize);
    assert.ok(first.previous !== undefined && first.previous.treeSize <= att.index);
    const enc = new TextEncoder();
    const seed = {
      leafIndex: BigInt(att.index),
      checkpoint: { signedNote: enc.encode(first.checkpoint.note) },
      previous: { signedNote: enc.encode(first.previous.note) },
      previousConsistency: first.previousConsistency,
    };
    // 16 of the 24: any such sample holds >= 4 exposed canaries, the 99% bound of 16 draws at the
    // claimed rate, so the copy passes whatever the seed, and a model with no hits fails.
    const n = Math.min(16, committed.size);
    const { canaries: disclosed } = discloseSample(seed, log.verifierKey, committed, canaries, att.index, n);
    const pkg = create(VerifyDisclosureRequestSchema, {
      bundle,
      disclosure: {
        commitmentId: "live-set",
        sampleSize: n,
        seedCheckpoint: seed.checkpoint,
        seed,
        seedConsistency: await log.consistencyProof(first.checkpoint.treeSize, bundleCp.treeSize),
        canaries: disclosed,
      },
    });
    const file = join(dir, "package.json");
    await writeFile(file, disclosurePackageToJson(pkg));
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
