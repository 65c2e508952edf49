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
  attestationV1,
  attestationV2,
  backends,
  commitment,
  DAY,
  enrolRecord,
  memberKey,
  openProtocolSession,
  revokeRecord,
  sessionInit,
  WEAK_CLAIM,
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
  test(`${backend.name}: concurrent appends are batched, durable, provable; checkpoints verify`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const hubKey = Ed25519PrivateKey.generate();
    const now = Date.now();
    let log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey, checkpointEvery: 300 });
    const alice = memberKey();
    await log.appendMembership(enrolRecord("alice", alice, now - DAY));
    // Commitments, a sighting and one session (its checkpoint comes first), then N more sessions and N
    // attestations answering them, all concurrently.
    const first = await openProtocolSession(log, alice, "alice", now, { sessionId: "s-0" });
    const N = 600;
    const view = log.session("s-0");
    assert.ok(view !== undefined);
    const sessions = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        log.appendSession(
          sessionInit(
            "alice",
            `s-${i + 1}`,
            view.opened.suspect?.suspectId as string,
            first.referenceHash,
            Number(view.opened.referenceFingerprintIndex),
            first.sighting,
            now,
            { canary: first.canary },
          ),
        ),
      ),
    );
    const base = log.size;
    const appended = await Promise.all(
      sessions.map((_, i) =>
        log.appendAttestation(attestationV2(log, { ...first, sessionId: `s-${i + 1}` }, now, WEAK_CLAIM)),
      ),
    );
    const total = base + N;
    assert.equal(log.size, total);
    assert.deepEqual(
      appended.map((a) => a.index).sort((a, b) => a - b),
      Array.from({ length: N }, (_, i) => base + i),
    );
    const cp = await log.checkpoint();
    assert.equal(cp.treeSize, total);
    const opened = openCheckpoint(cp.note, { log: parseVerifierKey(log.verifierKey), origin: ORIGIN });
    assert.equal(opened.checkpoint.size, total);
    for (const a of appended.filter((_, i) => i % 97 === 0)) {
      assert.equal(a.envelope.signatures.length, 2, "hub countersigned");
      const proof = await log.inclusionProof(a.index, cp.treeSize);
      verifyInclusion(hashLeaf(a.leaf), a.index, cp.treeSize, proof, cp.rootHash);
    }
    for (const old of [1, 2, 300, 513, 1024, total - 1]) {
      const oldRoot = await log.root(old);
      verifyConsistency(old, cp.treeSize, await log.consistencyProof(old, cp.treeSize), oldRoot, cp.rootHash);
    }
    const [e] = await log.entries(base + 5, base + 6);
    assert.ok(e !== undefined);
    assert.equal(decodeLeaf(e.leaf).envelope.signatures.length, 2);
    // Reopen: state (range, keys, checkpoint, and what admission indexes) comes back from the database.
    await log.close();
    log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
    assert.equal(log.size, total);
    assert.equal(log.latestCheckpoint?.treeSize, total);
    await rejectsCode(
      log.appendAttestation(attestationV2(log, { ...first, sessionId: "s-1" }, now, WEAK_CLAIM)),
      "already_exists",
    );
    const more = await log.appendAttestation(attestationV2(log, first, now, WEAK_CLAIM));
    assert.equal(more.index, total);
    const cp2 = await log.checkpoint();
    verifyConsistency(
      total,
      total + 1,
      await log.consistencyProof(total, total + 1),
      cp.rootHash,
      cp2.rootHash,
    );
    await log.close();
  });

  test(`${backend.name}: admission rejects unknown, forged, invalid-time and misdirected entries with codes`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const hubKey = Ed25519PrivateKey.generate();
    const now = Date.now();
    await using log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
    const bob = memberKey();
    const stranger = memberKey();
    await rejectsCode(
      log.appendCommitment(commitment(bob, "bob", "c0", new Uint8Array(32), 10, now)),
      "unknown_key",
    );
    await log.appendMembership(enrolRecord("bob", bob, now - DAY, now + DAY));
    await rejectsCode(log.appendMembership(enrolRecord("bob", stranger, now)), "already_exists");
    const p = await openProtocolSession(log, bob, "bob", now);
    // Version 1 is refused from protocol v2 on.
    await rejectsCode(log.appendAttestation(attestationV1(bob, "bob", "s1", now)), "invalid_argument");
    // Forged: bob's key id on a signature by another key.
    const forged = attestationV2(log, { ...p, key: stranger }, now, WEAK_CLAIM);
    const relabeled = {
      ...forged,
      signatures: [{ keyid: bob.keyId, sig: forged.signatures[0]?.sig as Uint8Array }],
    };
    await rejectsCode(log.appendAttestation(relabeled), "bad_signature");
    // A flipped payload bit.
    const good = attestationV2(log, p, now, WEAK_CLAIM);
    const flipped = new Uint8Array(good.payload);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    await rejectsCode(log.appendAttestation({ ...good, payload: flipped }), "bad_signature");
    // Backdated beyond the clock skew, and statements about another member's model.
    await rejectsCode(
      log.appendAttestation(attestationV2(log, p, now - DAY / 2, WEAK_CLAIM)),
      "failed_precondition",
    );
    await rejectsCode(
      log.appendAttestation(
        attestationV2(log, p, now, WEAK_CLAIM, (st) => {
          if (st.memberModel) st.memberModel.memberId = "carol";
        }),
      ),
      "permission_denied",
    );
    // Commitment ids are unique per member and kind.
    await rejectsCode(
      log.appendCommitment(commitment(bob, "bob", p.canary.id, p.canary.root, 64, now, true)),
      "already_exists",
    );
    const a = await log.appendAttestation(good);
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
    // Revoked key: nothing signed at or after the revocation time.
    await log.appendMembership(revokeRecord("bob", bob, now - 60_000));
    await rejectsCode(
      log.appendCommitment(commitment(bob, "bob", "c-late", new Uint8Array(32), 10, now)),
      "failed_precondition",
    );
    assert.equal(log.size, w.index + 2);
  });

  test(`${backend.name}: log tables are append-only (UPDATE, DELETE, TRUNCATE rejected)`, {
    skip: backend.skip ?? false,
  }, async () => {
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
