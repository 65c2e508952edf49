/**
 * `audit log` (log-walk.ts): the auditor walks a hub's WHOLE log over gRPC. The honest log is written by the
 * real hub code (services/hub TransparencyLog on PGlite, with purpose keys: delegations, epochs through the
 * EpochStore, enrolments signed by the members, three protocol-v2 flows with attestations admitted and
 * countersigned by the hub, a sketch suppression, a revocation) and served by the hub's own log handlers with a
 * per-call byte budget small enough that every GetLogEntries call is cut short and the walk must continue
 * where it stopped. It verifies end to end, with the auditor's saved state, across a root rotation, and without
 * a cache (every entry an attestation rests on read again and matched to its hash); a missing witness quorum is
 * fatal. Then tampering gives each its own
 * code: a leaf changed in the database after it was signed (the tree no longer matches: fatal), and — served by
 * a hub that logs what the real one refuses — an attestation whose counts do not support its verdict, an epoch
 * logged twice, a sketch suppressed twice, and an attestation by a key after its revocation, each reported at
 * its index while the walk goes on; a stream that skips an entry, or another leaf served when an entry is read
 * again, is fatal. Last, `lineage audit log` as a reader and a script see it (exit 0, 1, 3).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  EpochAction,
  EpochStatementSchema,
  Hub,
  LogEntryKind,
  ProbeKind,
  ProbeSchema,
  SuspectSource,
  Verdict,
} from "@lineage/api";
import {
  addSignature,
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatCosignatureVerifierKey,
  merkleRoot,
  signCheckpoint,
  signEnvelope,
} from "@lineage/crypto";
import {
  decodeLeaf,
  EpochStore,
  encodeLeaf,
  enrolmentRecord,
  logServiceHandlers,
  PAYLOAD_TYPES,
  revokeKeyRecord,
  signMembership,
  TransparencyLog,
} from "@lineage/hub";
import {
  addService,
  createServer,
  insecureChannelCredentials,
  insecureServerCredentials,
  RpcError,
  type ServiceImpl,
} from "@lineage/rpc";
import { type HubDatabase, hubMigrations, openTestStore, type Store } from "@lineage/store";
import { sql } from "kysely";
import {
  AuditorState,
  auditLog,
  hubCheckpointSource,
  hubEntryStream,
  type LogWalkOptions,
  type TrustRoot,
  trustRootFromVerifierKey,
  withWitnesses,
} from "../src/index.js";
import { type HubV2Flow, runHubV2Flow } from "./hub-v2-flow.js";
import { makePairs, tableSuspect } from "./v2-fixture.js";

const ORIGIN = "lineage.test/audit-log";
const DAY = 86_400_000;
const CLI = new URL("../../cli/bin/lineage.js", import.meta.url).pathname;

function probes(n: number) {
  return Array.from({ length: n }, (_, i) =>
    create(ProbeSchema, { index: i, kind: ProbeKind.OPEN_ENDED, prompt: `p${i}`, maxTokens: 16 }),
  );
}

/** Serves `impl`'s methods of the Hub service on 127.0.0.1:0; the rest answer `failed_precondition`. */
async function serve(impl: Partial<Record<string, unknown>>) {
  const server = createServer({ logger: { warn() {}, error() {} } as never });
  const full = Object.fromEntries(
    Hub.methods.map((m) => [
      m.localName,
      impl[m.localName] ??
        (() => {
          throw new RpcError("failed_precondition", "not served by this test hub");
        }),
    ]),
  ) as unknown as ServiceImpl<typeof Hub>;
  addService(server, Hub, full);
  const port = await server.listen("127.0.0.1:0", insecureServerCredentials());
  return {
    address: `127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown(100);
    },
  };
}

/**
 * A hub that logs whatever it is handed: `leaves` (encoded by the hub's own leaf code) under a checkpoint its
 * root key signs over their real root. Its admission is what it lacks, not its keys.
 */
function serveLeaves(
  leaves: readonly Uint8Array[],
  root: Ed25519PrivateKey,
  cheat: {
    /** The index served in place of `i` while streaming. */
    readonly indexOf?: (i: number) => number;
    /** The leaf served when entry `i` alone is asked for again. */
    readonly reread?: (i: number) => Uint8Array;
  } = {},
) {
  const indexOf = cheat.indexOf ?? ((i: number) => i);
  const note = signCheckpoint(
    { origin: ORIGIN, size: leaves.length, rootHash: merkleRoot(leaves as Uint8Array[]) },
    [ed25519NoteSigner(ORIGIN, root)],
  );
  return serve({
    getCheckpoint: async () => ({ checkpoint: { signedNote: new TextEncoder().encode(note) } }),
    async *getLogEntries(req: { start: bigint; end: bigint }) {
      const start = Number(req.start);
      const end = Number(req.end);
      if (end <= start || end - start > 10_000 || end > leaves.length)
        throw new RpcError("invalid_argument", "bad range");
      if (end - start === 1 && cheat.reread !== undefined) {
        yield { entry: { index: req.start, leaf: cheat.reread(start) } };
        return;
      }
      for (let i = start; i < end; i++)
        yield { entry: { index: BigInt(indexOf(i)), leaf: leaves[indexOf(i)] as Uint8Array } };
    },
  });
}

interface World {
  readonly store: Store<HubDatabase>;
  readonly log: TransparencyLog;
  readonly root: Ed25519PrivateKey;
  readonly keys: {
    membership: Ed25519PrivateKey;
    sessions: Ed25519PrivateKey;
    countersign: Ed25519PrivateKey;
  };
  readonly alice: Ed25519PrivateKey;
  readonly bob: Ed25519PrivateKey;
  readonly flows: readonly HubV2Flow[];
  readonly suppressionIndex: number;
  readonly revocationIndex: number;
  readonly trust: TrustRoot;
}

/** The honest log of the module header, written by the real hub. */
async function honestWorld(store: Store<HubDatabase>): Promise<World> {
  const root = Ed25519PrivateKey.generate();
  const keys = {
    membership: Ed25519PrivateKey.generate(),
    sessions: Ed25519PrivateKey.generate(),
    countersign: Ed25519PrivateKey.generate(),
  };
  const log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey: root,
    purposeKeys: keys,
    checkpointEvery: 1_000_000,
    checkpointIntervalMs: 3_600_000,
  });
  const now = Date.now();
  const epochs = new EpochStore(store, root, { log });
  await epochs.create({ epochId: "epoch-1", probes: probes(8), notAfterMs: now + DAY });
  const alice = Ed25519PrivateKey.generate();
  const bob = Ed25519PrivateKey.generate();
  for (const [id, k] of [
    ["alice", alice],
    ["bob", bob],
  ] as const) {
    await log.appendMembership(
      signMembership(enrolmentRecord(id, id, k.publicKey, now - DAY, { effectiveAtMs: now }), [k]),
    );
  }
  const pairs = makePairs(24);
  const copy = (l: readonly (0 | 1)[]) => tableSuspect(pairs, (i, it) => it === l[i]);
  const unrelated = () => tableSuspect(pairs, () => false);
  const flows = [
    await runHubV2Flow(log, alice, "alice", pairs, copy, { sessionId: "s-1", suspectId: "sus-1", atMs: now }),
    await runHubV2Flow(log, bob, "bob", pairs, unrelated, {
      sessionId: "s-2",
      suspectId: "sus-2",
      atMs: now,
    }),
    await runHubV2Flow(log, alice, "alice", pairs, copy, {
      sessionId: "s-3",
      suspectId: "sus-3",
      atMs: now,
      modelVersion: "2",
    }),
  ];
  await epochs.rotate({ epochId: "epoch-2", probes: probes(5), notAfterMs: now + DAY });
  const suppression = await log.appendSketchSuppression({
    sketchId: "a".repeat(64),
    model: { memberId: "bob", modelId: "bob-model", modelVersion: "1" },
    epochId: "epoch-2",
    reason: "a shared base model, not a copy",
    reviewer: "ana",
  });
  // Bob's key is revoked after his attestation: what he signed before stays valid (validity by log position).
  const revocation = await log.appendMembership(
    signMembership(revokeKeyRecord("bob", bob.publicKey, bob.keyId, now, "compromised"), [bob]),
  );
  await log.checkpoint();
  return {
    store,
    log,
    root,
    keys,
    alice,
    bob,
    flows,
    suppressionIndex: suppression.index,
    revocationIndex: revocation.index,
    trust: trustRootFromVerifierKey(log.verifierKey, ORIGIN),
  };
}

async function walk(address: string, trust: TrustRoot, options: LogWalkOptions = {}) {
  using checkpoints = hubCheckpointSource(address, insecureChannelCredentials());
  using entries = hubEntryStream(address, insecureChannelCredentials());
  return await auditLog(checkpoints, entries, trust, options);
}

function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { encoding: "utf8", env: { ...process.env, LINEAGE_USE_DIST: "0" } },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

test("the whole log a real hub wrote verifies: every entry, every attestation re-derived, state saved", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const w = await honestWorld(store);
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-log-"));
  try {
    // 8 KiB per call: each GetLogEntries stream stops after a few entries and the walk continues after them.
    await using hub = await serve(logServiceHandlers(w.log, { streams: { maxBytesPerCall: 8 * 1024 } }));
    const state = new AuditorState(join(dir, "state"));
    const r = await walk(hub.address, w.trust, { state });
    assert.deepEqual(r.failures, []);
    assert.equal(r.fatal, undefined);
    assert.equal(r.complete, true);
    assert.equal(r.size, w.log.size);
    assert.equal(r.saved, "first_contact");
    assert.deepEqual(r.attestations, {
      total: 3,
      verified: 3,
      failed: 0,
      byVerdict: { LIKELY_DERIVED: 2, SIMILAR: 0, INCONCLUSIVE: 1 },
    });
    assert.deepEqual(
      r.epochs.map((e) => [e.epochId, e.number]),
      [
        ["epoch-1", 1],
        ["epoch-2", 2],
      ],
    );
    assert.equal(r.suppressions, 1);
    assert.deepEqual(r.members, { members: 2, keys: 2, revokedKeys: 1, statusChanges: 0 });
    assert.deepEqual(r.hubKeys, { statements: 3, delegations: 3, rootRotations: 0 });
    assert.deepEqual(r.commitments, { canaryPairs: 3, watermarkKeys: 0, referenceFingerprints: 3 });
    assert.equal(r.sessions, 3);
    assert.equal(r.sightings, 3);
    assert.equal(r.entries.attestation, 3);
    assert.equal(r.entries.membership, 3);
    assert.equal(r.entries.hub_key, 3);
    assert.equal(
      Object.values(r.entries).reduce((a, b) => a + b, 0),
      w.log.size,
    );

    // A later run proves the new tree passes through the saved checkpoint; nothing else is taken on trust.
    assert.equal((await walk(hub.address, w.trust, { state })).saved, "same");
    await w.log.appendSighting({ suspect: { suspectId: "later" }, source: SuspectSource.FEED_ADAPTER });
    await w.log.checkpoint();
    // Without a cache every entry an attestation rests on is read again from the hub and matched to its hash.
    const later = await walk(hub.address, w.trust, { state, cacheBytes: 0 });
    assert.equal(later.saved, "consistent");
    assert.equal(later.complete, true);
    assert.equal(later.attestations.verified, 3);
    assert.deepEqual(later.failures, []);

    // The hub rotates its root: the walk follows the logged rotation from the key it was given (the new root's
    // checkpoint opens only once the walk has read the rotation), checks it extends the saved tree, saves both.
    await w.log.rotateRoot(Ed25519PrivateKey.generate(), "scheduled root rotation");
    await w.log.appendSighting({
      suspect: { suspectId: "after-rotation" },
      source: SuspectSource.FEED_ADAPTER,
    });
    await w.log.checkpoint();
    const rotated = await walk(hub.address, w.trust, { state });
    assert.deepEqual(rotated.failures, []);
    assert.deepEqual(
      [rotated.complete, rotated.saved, rotated.hubKeys.rootRotations],
      [true, "consistent", 1],
    );

    // A trusted witness that did not cosign: the checkpoint lacks its quorum, and nothing under it is trusted.
    const witness = formatCosignatureVerifierKey("witness.test/w1", Ed25519PrivateKey.generate().publicKey);
    const unwitnessed = await walk(hub.address, withWitnesses(w.trust, [witness]));
    assert.deepEqual([unwitnessed.complete, unwitnessed.fatal?.code], [false, "witness_quorum"]);
    await w.log.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("tampering: a changed leaf stops the walk; a bad verdict, an epoch twice, a suppression twice, a revoked key each get their own code", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const w = await honestWorld(store);
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-log-"));
  try {
    const honest = (await w.log.entries(0, w.log.size)).map((e) => e.leaf);
    const now = Date.now();

    // 1. An attestation whose verdict its own counts do not support: alice's copy, restated INCONCLUSIVE, signed
    // by alice and countersigned by the hub's countersign key, logged after the rest.
    const leaves = honest.slice();
    const target = leaves.length;
    {
      const d = decodeLeaf(honest[w.flows[0]?.attestationIndex as number] as Uint8Array);
      const st = fromBinary(AttestationStatementSchema, d.envelope.payload);
      assert.equal(st.verdict, Verdict.LIKELY_DERIVED);
      st.verdict = Verdict.INCONCLUSIVE;
      st.backedBy = "";
      const env = addSignature(
        signEnvelope(PAYLOAD_TYPES.attestation, toBinary(AttestationStatementSchema, st), w.alice),
        w.keys.countersign,
      );
      leaves.push(encodeLeaf(LogEntryKind.ATTESTATION, env, now));
    }
    // 2. Epoch 1 logged again (as a rotation from epoch 2, so that only the duplicate rule is broken).
    const epochTwice = leaves.length;
    {
      const st = create(EpochStatementSchema, {
        action: EpochAction.ROTATE,
        epoch: {
          epochId: "epoch-1",
          number: 3n,
          notBefore: timestampFromMs(now),
          notAfter: timestampFromMs(now + DAY),
          batteryDigest: new Uint8Array(32).fill(1),
          previousEpochId: "epoch-2",
        },
        probeCount: 8,
        sketchParameters: {
          version: 2,
          shingleSize: 2,
          probeRows: 32,
          probeRowsPerBand: 1,
          probeDigestBytes: 4,
          coarseBands: 512,
          coarseRowsPerBand: 1,
          coarseDigestBytes: 8,
          minAgreeingBands: 19,
        },
        epochKeyCommitment: new Uint8Array(32).fill(2),
        issuedAt: timestampFromMs(now),
      });
      const env = signEnvelope(PAYLOAD_TYPES.epoch, toBinary(EpochStatementSchema, st), w.keys.membership);
      leaves.push(encodeLeaf(LogEntryKind.EPOCH, env, now));
    }
    // 3. The same sketch suppressed a second time.
    const suppressedTwice = leaves.length;
    leaves.push(honest[w.suppressionIndex] as Uint8Array);
    // 4. Bob's attestation logged again after his key's revocation.
    const afterRevocation = leaves.length;
    assert.ok(afterRevocation > w.revocationIndex);
    leaves.push(honest[w.flows[1]?.attestationIndex as number] as Uint8Array);

    await using bad = await serveLeaves(leaves, w.root);
    const r = await walk(bad.address, w.trust);
    // The tree is the one the hub signed: every failure is an entry's, each at its index, and the walk went on.
    assert.equal(r.complete, true);
    assert.deepEqual(
      r.failures.map((f) => [f.index, f.kind, f.code]),
      [
        [target, "attestation", "verdict_not_supported"],
        [epochTwice, "epoch", "duplicate_epoch"],
        [suppressedTwice, "sketch_suppression", "duplicate_suppression"],
        [afterRevocation, "attestation", "key_not_valid"],
      ],
    );
    assert.equal(r.failures[0]?.check, "verdict.rederived");
    assert.deepEqual(r.attestations, {
      total: 5,
      verified: 3,
      failed: 2,
      byVerdict: { LIKELY_DERIVED: 2, SIMILAR: 0, INCONCLUSIVE: 1 },
    });
    // The same restated attestation put in place of alice's first one: it fails, and so do the later sessions
    // (and the attestations answering them), whose seeds were drawn from checkpoints of the tree that held the
    // original entry: the walk recomputes every session's seed from its own tree.
    const inPlace = honest.slice();
    inPlace[w.flows[0]?.attestationIndex as number] = leaves[target] as Uint8Array;
    await using rewritten = await serveLeaves(inPlace, w.root);
    const rw = await walk(rewritten.address, w.trust);
    assert.deepEqual(
      rw.failures.map((f) => [f.index, f.code]),
      [
        [w.flows[0]?.attestationIndex, "verdict_not_supported"],
        [w.flows[1]?.sessionIndex, "seed_mismatch"],
        [w.flows[1]?.attestationIndex, "seed_mismatch"],
        [w.flows[2]?.sessionIndex, "seed_mismatch"],
        [w.flows[2]?.attestationIndex, "seed_mismatch"],
      ],
    );

    // A hub whose stream skips an entry (and sends the next in its place) breaks the stream's contract: fatal.
    await using skipping = await serveLeaves(honest, w.root, { indexOf: (i) => (i === 5 ? 6 : i) });
    const skipped = await walk(skipping.address, w.trust);
    assert.deepEqual(
      [skipped.complete, skipped.fatal?.kind, skipped.fatal?.code],
      [false, "tree", "malformed"],
    );

    // A hub that serves another leaf when an entry the walk passed is read again (the walk keeps no leaves here).
    const session = w.flows[0]?.sessionIndex as number;
    await using twoFaced = await serveLeaves(honest, w.root, {
      reread: (i) => (i === session ? (honest[session + 1] as Uint8Array) : (honest[i] as Uint8Array)),
    });
    const reread = await walk(twoFaced.address, w.trust, { cacheBytes: 0 });
    assert.deepEqual(
      [reread.fatal?.kind, reread.fatal?.code, reread.fatal?.index],
      ["tree", "bad_proof", w.flows[0]?.attestationIndex],
    );

    // 5. A leaf changed in the database after the hub signed the checkpoint over it: the walk's tree is not
    // the signed one, and nothing it read can be trusted (fatal, not an entry failure).
    const state = new AuditorState(join(dir, "state"));
    await using hub = await serve(logServiceHandlers(w.log));
    assert.equal((await walk(hub.address, w.trust, { state })).complete, true);
    await sql`alter table log_entries disable trigger log_entries_no_update_delete`.execute(store.db);
    const sightingIndex = w.flows[2]?.sightingIndex as number;
    const other = honest[w.flows[1]?.sightingIndex as number] as Uint8Array;
    await sql`update log_entries set leaf = ${other} where idx = ${BigInt(sightingIndex)}`.execute(store.db);
    const changed = await walk(hub.address, w.trust);
    assert.equal(changed.complete, false);
    assert.equal(changed.fatal?.kind, "tree");
    assert.equal(changed.fatal?.code, "bad_proof");
    // With the saved checkpoint of the honest tree, the rewrite is caught when the walk reaches its size.
    const withState = await walk(hub.address, w.trust, { state });
    assert.equal(withState.fatal?.code, "inconsistent_with_saved");
    assert.ok(
      (await readdir(join(dir, "state"))).some((f) => f.startsWith("evidence-inconsistent_with_saved")),
    );
    await w.log.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("lineage audit log: a summary, --json, exit 0 verified, 1 failed, 3 when the hub cannot be read", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const w = await honestWorld(store);
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-log-"));
  try {
    await using hub = await serve(logServiceHandlers(w.log));
    const base = ["audit", "log", "--log-key", w.log.verifierKey, "--state", join(dir, "state")];
    const ok = await cli([...base, "--hub", hub.address]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /VERIFIED: all \d+ entries/);
    assert.match(
      ok.stdout,
      /attestations: 3 \(3 verified: 2 LIKELY_DERIVED, 0 SIMILAR, 1 INCONCLUSIVE; 0 failed\)/,
    );
    assert.match(ok.stdout, /epochs: 2 \(epoch-1, epoch-2\)/);

    const honest = (await w.log.entries(0, w.log.size)).map((e) => e.leaf);
    const replayed = [...honest, honest[w.suppressionIndex] as Uint8Array];
    await using bad = await serveLeaves(replayed, w.root);
    // Another state folder: nothing this test runs writes outside its temporary folder.
    const other = [...base.slice(0, 4), "--state", join(dir, "state-2")];
    const failed = await cli([...other, "--hub", bad.address, "--json"]);
    assert.equal(failed.status, 1, failed.stdout + failed.stderr);
    const json = JSON.parse(failed.stdout);
    assert.equal(json.verified, false);
    assert.deepEqual(
      json.failures.map((f: { index: number; code: string }) => [f.index, f.code]),
      [[honest.length, "duplicate_suppression"]],
    );
    assert.equal(json.attestations.verified, 3);

    const down = await cli([...base, "--hub", "127.0.0.1:1", "--timeout-ms", "2000"]);
    assert.equal(down.status, 3, down.stdout + down.stderr);
    await w.log.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
