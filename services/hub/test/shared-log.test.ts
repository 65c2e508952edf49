/**
 * One log, many writers (issue 8: "a Postgres hub sees entries written by other processes"): two
 * TransparencyLog instances on ONE Postgres schema — as two hub processes would be — append concurrently
 * and produce one log, never a fork: dense indices, one chain of checkpoints that verifies from scratch,
 * and each instance sees (and admits against) what the other wrote.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CaseState } from "@lineage/api";
import { Ed25519PrivateKey, openCheckpoint, parseVerifierKey } from "@lineage/crypto";
import {
  type HubDatabase,
  hubMigrations,
  openStore,
  openTestStore,
  postgresTestTarget,
  type Store,
} from "@lineage/store";
import { sql } from "kysely";
import { isLogError, logServiceHandlers, TransparencyLog } from "../src/index.js";
import { verifyStoredLog } from "../src/log/log-integrity.js";
import {
  ACCUSING_CLAIM,
  attestationV2,
  commitment,
  DAY,
  enrolRecord,
  memberKey,
  openProtocolSession,
} from "./log-fixtures.js";

const ORIGIN = "lineage.test/shared";
const pg = await postgresTestTarget();
const pgUrl = pg.skip === undefined ? pg.url : "";

/** Two stores on one fresh schema (the first drops it on dispose). */
async function twoStores(url: string): Promise<[Store<HubDatabase>, Store<HubDatabase>]> {
  const a = await openTestStore<HubDatabase>("postgres", { url });
  await a.migrate(hubMigrations);
  const b = await openStore<HubDatabase>({ kind: "postgres", url, schema: a.schema as string });
  return [a, b];
}

function decision(i: number) {
  return {
    caseId: `case-${i}`,
    fromState: CaseState.OPEN,
    toState: CaseState.UNDER_REVIEW,
    reviewer: "reviewer-1",
    decidedAt: timestampFromMs(Date.now()),
  };
}

test("two hub processes on one Postgres log append concurrently: one log, one checkpoint chain, no fork", {
  skip: pg.skip ?? false,
}, async () => {
  const url = pgUrl;
  const [storeA, storeB] = await twoStores(url);
  const hubKey = Ed25519PrivateKey.generate();
  const opts = { origin: ORIGIN, hubKey, checkpointEvery: 7, checkpointIntervalMs: 3_600_000, maxBatch: 5 };
  try {
    const a = await TransparencyLog.open({ store: storeA, ...opts });
    const b = await TransparencyLog.open({ store: storeB, ...opts });
    try {
      // 120 appends, alternating between the two writers, all in flight at once.
      const results = await Promise.all(
        Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? a : b).appendReviewDecision(decision(i))),
      );
      const indices = results.map((r) => r.index).sort((x, y) => x - y);
      assert.deepEqual(
        indices,
        Array.from({ length: 120 }, (_, i) => i),
        "every append got its own index, 0..119, with no gap and no duplicate",
      );
      const cpA = await a.checkpoint();
      const cpB = await b.checkpoint();
      assert.equal(cpB.treeSize, 120, "B's checkpoint covers A's entries too");
      assert.equal(cpA.treeSize, 120);
      assert.equal(cpA.note, cpB.note, "both writers serve the same latest checkpoint");
      // The stored log verifies from scratch as ONE chain (each checkpoint names the one before it).
      const verified = await verifyStoredLog(storeA.db, {
        origin: ORIGIN,
        keyName: ORIGIN,
        hubPublicKey: hubKey.publicKey,
      });
      assert.equal(verified.size, 120);
      assert.ok(verified.checkpoints >= 10, `${verified.checkpoints} checkpoints verified`);
      // Proofs served by either writer check against the other's checkpoint.
      const opened = openCheckpoint(cpA.note, { log: parseVerifierKey(a.verifierKey), origin: ORIGIN });
      assert.equal(opened.checkpoint.size, 120);
      assert.deepEqual(await b.root(120), cpA.rootHash);
    } finally {
      await a.close();
      await b.close();
    }
    // A third process reopens the shared log: it verifies.
    await using c = await TransparencyLog.open({ store: storeB, ...opts });
    assert.equal(c.size, 120);
  } finally {
    await storeB.close();
    await storeA.close();
  }
});

test("a member enrolled through one hub process can log through the other; reads refresh", {
  skip: pg.skip ?? false,
}, async () => {
  const url = pgUrl;
  const [storeA, storeB] = await twoStores(url);
  const hubKey = Ed25519PrivateKey.generate();
  const opts = { origin: ORIGIN, hubKey, checkpointIntervalMs: 3_600_000 };
  try {
    await using a = await TransparencyLog.open({ store: storeA, ...opts });
    await using b = await TransparencyLog.open({ store: storeB, ...opts });
    const now = Date.now();
    const alice = memberKey();
    const enrolled = await a.appendMembership(enrolRecord("alice", alice, now - DAY));
    await a.checkpoint();
    // B never saw the enrolment; it catches up (verifying A's entry and checkpoint) when a commitment
    // names alice's key, and admits it against the caught-up registry.
    const c = await b.appendCommitment(commitment(alice, "alice", "c0", new Uint8Array(32), 10, now));
    assert.equal(c.index, enrolled.index + 1);
    assert.equal(b.memberKey(alice.keyId)?.memberId, "alice");
    // A replay of the same commitment id through A is refused: A catches up on B's entry before admitting.
    await assert.rejects(
      a.appendCommitment(commitment(alice, "alice", "c0", new Uint8Array(32), 10, now)),
      (err: unknown) => isLogError(err, "already_exists"),
    );
    // A's GetCheckpoint serves the checkpoint B signed after its append, not the one A last signed.
    const cpB = await b.checkpoint();
    assert.equal(cpB.treeSize, 2);
    const handlers = logServiceHandlers(a);
    const res = await handlers.getCheckpoint(
      {} as never,
      { signal: new AbortController().signal, peer: "ipv4:127.0.0.1:1" } as never,
    );
    assert.equal(new TextDecoder().decode(res.checkpoint?.signedNote), cpB.note);
    assert.equal(a.size, 2);
  } finally {
    await storeB.close();
    await storeA.close();
  }
});

test("a writer refuses to append after another process rewrote an entry it had not yet seen", {
  skip: pg.skip ?? false,
}, async () => {
  const url = pgUrl;
  const [storeA, storeB] = await twoStores(url);
  const hubKey = Ed25519PrivateKey.generate();
  const opts = { origin: ORIGIN, hubKey, checkpointIntervalMs: 3_600_000 };
  try {
    await using a = await TransparencyLog.open({ store: storeA, ...opts });
    await using b = await TransparencyLog.open({ store: storeB, ...opts });
    await a.appendReviewDecision(decision(0));
    await b.appendReviewDecision(decision(1));
    await b.checkpoint();
    // Tamper with B's entry as a superuser would (triggers off), before A has looked at it.
    for (const t of ["log_entries"])
      await sql`alter table ${sql.id(t)} disable trigger user`.execute(storeB.db);
    await sql`update log_entries set leaf = leaf || '\\x00'::bytea where idx = 1`.execute(storeB.db);
    await sql`alter table log_entries enable trigger user`.execute(storeB.db);
    await assert.rejects(a.appendReviewDecision(decision(2)), (err: unknown) =>
      isLogError(err, "log_corrupt"),
    );
    await assert.rejects(a.refresh(), (err: unknown) => isLogError(err, "log_corrupt"));
  } finally {
    await storeB.close();
    await storeA.close();
  }
});

test("(member, session) stays unique and bound to the hub's nonce across two writers", {
  skip: pg.skip ?? false,
}, async () => {
  const [storeA, storeB] = await twoStores(pgUrl);
  const hubKey = Ed25519PrivateKey.generate();
  const opts = { origin: ORIGIN, hubKey, checkpointIntervalMs: 3_600_000 };
  try {
    await using a = await TransparencyLog.open({ store: storeA, ...opts });
    await using b = await TransparencyLog.open({ store: storeB, ...opts });
    const now = Date.now();
    const alice = memberKey();
    await a.appendMembership(enrolRecord("alice", alice, now - DAY));
    const p = await openProtocolSession(a, alice, "alice", now);
    // Through B, a statement whose nonce is not the one the hub issued for the session is refused.
    await assert.rejects(
      b.appendAttestation(
        attestationV2(a, p, now, ACCUSING_CLAIM, (st) => {
          st.sessionNonce = new Uint8Array(32).fill(7);
        }),
      ),
      (err: unknown) => isLogError(err, "session_mismatch"),
    );
    // The answer is logged once, through B; the same member's second answer through A is refused.
    const first = await b.appendAttestation(attestationV2(a, p, now, ACCUSING_CLAIM));
    assert.ok(first.index > p.sessionIndex);
    await assert.rejects(a.appendAttestation(attestationV2(a, p, now, ACCUSING_CLAIM)), (err: unknown) =>
      isLogError(err, "already_exists"),
    );
    assert.equal(await a.attestationOfSession(p.sessionId), first.index);
  } finally {
    await storeB.close();
    await storeA.close();
  }
});
