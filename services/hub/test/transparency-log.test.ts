/** The hub's transparency log on real PGlite and real Postgres: appends, proofs, admission, append-only. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Ed25519PrivateKey,
  hashLeaf,
  isCryptoError,
  openCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
} from "@lineage/crypto";
import { isStoreError } from "@lineage/store";
import { sql } from "kysely";
import { decodeLeaf, isLogError, LogError, TransparencyLog } from "../src/index.js";
import {
  attestation,
  backends,
  commitment,
  DAY,
  enrolRecord,
  memberKey,
  revokeRecord,
  withdrawal,
} from "./log-fixtures.js";

const ORIGIN = "lineage.test/log";

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isLogError(err), `expected LogError, got ${String(err)}`);
    assert.equal((err as LogError).code, code, (err as Error).message);
    return true;
  });
}

for (const backend of await backends()) {
  test(`${backend.name}: concurrent appends are batched, durable, provable; checkpoints verify`, async () => {
    await using store = await backend.open();
    const hubKey = Ed25519PrivateKey.generate();
    const now = Date.now();
    let log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey, checkpointEvery: 300 });
    const alice = memberKey();
    await log.appendMembership(enrolRecord("alice", alice, now - DAY));
    const appended = await Promise.all(
      Array.from({ length: 1200 }, (_, i) =>
        log.appendAttestation(attestation(alice, "alice", `s-${i}`, now)),
      ),
    );
    assert.equal(log.size, 1201);
    assert.deepEqual(
      appended.map((a) => a.index).sort((a, b) => a - b),
      Array.from({ length: 1200 }, (_, i) => i + 1),
    );
    const cp = await log.checkpoint();
    assert.equal(cp.treeSize, 1201);
    const opened = openCheckpoint(cp.note, { log: parseVerifierKey(log.verifierKey), origin: ORIGIN });
    assert.equal(opened.checkpoint.size, 1201);
    for (const a of appended.filter((_, i) => i % 97 === 0)) {
      assert.equal(a.envelope.signatures.length, 2, "hub countersigned");
      const proof = await log.inclusionProof(a.index, cp.treeSize);
      verifyInclusion(hashLeaf(a.leaf), a.index, cp.treeSize, proof, cp.rootHash);
    }
    for (const old of [1, 2, 300, 513, 1024, 1200]) {
      const oldRoot = await log.root(old);
      verifyConsistency(old, cp.treeSize, await log.consistencyProof(old, cp.treeSize), oldRoot, cp.rootHash);
    }
    const [e] = await log.entries(5, 6);
    assert.ok(e !== undefined);
    assert.equal(decodeLeaf(e.leaf).envelope.signatures.length, 2);
    // Reopen: state (range, keys, checkpoint) comes back from the database.
    await log.close();
    log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
    assert.equal(log.size, 1201);
    assert.equal(log.latestCheckpoint?.treeSize, 1201);
    const more = await log.appendAttestation(attestation(alice, "alice", "after-reopen", now));
    assert.equal(more.index, 1201);
    const cp2 = await log.checkpoint();
    verifyConsistency(1201, 1202, await log.consistencyProof(1201, 1202), cp.rootHash, cp2.rootHash);
    await log.close();
  });

  test(`${backend.name}: admission rejects unknown, forged, invalid-time and misdirected entries with codes`, async () => {
    await using store = await backend.open();
    const hubKey = Ed25519PrivateKey.generate();
    const now = Date.now();
    await using log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
    const bob = memberKey();
    const stranger = memberKey();
    await rejectsCode(log.appendAttestation(attestation(bob, "bob", "s1", now)), "unknown_key");
    await log.appendMembership(enrolRecord("bob", bob, now - DAY, now + DAY));
    await rejectsCode(log.appendMembership(enrolRecord("bob", stranger, now)), "already_exists");
    // Forged: bob's key id on a signature by another key.
    const forged = attestation(stranger, "bob", "s2", now);
    const relabeled = {
      ...forged,
      signatures: [{ keyid: bob.keyId, sig: forged.signatures[0]?.sig as Uint8Array }],
    };
    await rejectsCode(log.appendAttestation(relabeled), "bad_signature");
    // A flipped payload bit.
    const good = attestation(bob, "bob", "s3", now);
    const flipped = new Uint8Array(good.payload);
    flipped[0] = (flipped[0] as number) ^ 1;
    await rejectsCode(log.appendAttestation({ ...good, payload: flipped }), "bad_signature");
    // Backdated beyond the clock skew, and statements about another member's model.
    await rejectsCode(
      log.appendAttestation(attestation(bob, "bob", "s4", now - DAY / 2)),
      "failed_precondition",
    );
    await rejectsCode(log.appendAttestation(attestation(bob, "carol", "s5", now)), "permission_denied");
    // A commitment named by an attestation must be logged before it, by the same member.
    const root = new Uint8Array(32).fill(1);
    await rejectsCode(
      log.appendAttestation(attestation(bob, "bob", "s6", now, { id: "c1", root, logIndex: 0 })),
      "failed_precondition",
    );
    const c = await log.appendCommitment(commitment(bob, "bob", "c1", root, 100, now));
    await rejectsCode(log.appendCommitment(commitment(bob, "bob", "c1", root, 100, now)), "already_exists");
    const a = await log.appendAttestation(
      attestation(bob, "bob", "s6", now, { id: "c1", root, logIndex: c.index }),
    );
    // Withdrawal: a new entry pointing at the old one, once.
    const w = await log.appendWithdrawal(withdrawal(bob, a.index, a.leafHash, now));
    assert.equal(w.index, a.index + 1);
    assert.equal((await log.entry(w.index))?.refIndex, a.index);
    await rejectsCode(log.appendWithdrawal(withdrawal(bob, a.index, a.leafHash, now)), "already_exists");
    await rejectsCode(
      log.appendWithdrawal(withdrawal(bob, a.index, new Uint8Array(32), now)),
      "invalid_argument",
    );
    await rejectsCode(log.appendWithdrawal(withdrawal(bob, 999, a.leafHash, now)), "not_found");
    // Revoked key: no attestation at or after the revocation time.
    await log.appendMembership(revokeRecord("bob", bob, now - 60_000));
    await rejectsCode(log.appendAttestation(attestation(bob, "bob", "s7", now)), "failed_precondition");
    assert.equal(log.size, 5);
  });

  test(`${backend.name}: log tables are append-only (UPDATE, DELETE, TRUNCATE rejected)`, async () => {
    await using store = await backend.open();
    const hubKey = Ed25519PrivateKey.generate();
    await using log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
    await log.appendMembership(enrolRecord("dave", memberKey(), Date.now()));
    await log.checkpoint();
    for (const stmt of [
      sql`update log_entries set kind = 2`,
      sql`delete from log_entries`,
      sql`update log_nodes set hash = hash`,
      sql`delete from log_nodes`,
      sql`delete from log_checkpoints`,
      sql`truncate log_entries`,
      sql`truncate log_checkpoints`,
    ]) {
      await assert.rejects(stmt.execute(store.db), (err: unknown) => isStoreError(err), "statement rejected");
    }
    assert.equal((await log.entries(0, 1)).length, 1);
  });
}

test("open rejects bad options with invalid_argument", async () => {
  const [first] = await backends();
  assert.ok(first !== undefined);
  await using store = await first.open();
  const hubKey = Ed25519PrivateKey.generate();
  await rejectsCode(TransparencyLog.open({ store, origin: "", hubKey }), "invalid_argument");
  await rejectsCode(TransparencyLog.open({ store, origin: ORIGIN, hubKey, maxBatch: 0 }), "invalid_argument");
  assert.ok(!isCryptoError(new LogError("internal", "x")));
});
