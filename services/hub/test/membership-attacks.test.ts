/**
 * Issue 8 on the hub's log: the hub cannot change a member's keys alone, key validity is judged by
 * log position, revocations cannot be backdated, suspensions are honoured. Each attack is refused
 * with its own code. Runs on PGlite (the same code path as Postgres: admission happens in the writer).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { MembershipAction } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import {
  addKeyRecord,
  enrolmentRecord,
  isLogError,
  keyFingerprint,
  type LogError,
  signMembership,
  TransparencyLog,
} from "../src/index.js";
import {
  addKeyEnvelope,
  attestationV2,
  backends,
  DAY,
  enrolRecord,
  type LogBackend,
  memberKey,
  openProtocolSession,
  revokeRecord,
  WEAK_CLAIM,
} from "./log-fixtures.js";

const ORIGIN = "lineage.test/log";

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isLogError(err), `expected LogError, got ${String(err)}`);
    assert.equal((err as LogError).code, code, (err as Error).message);
    return true;
  });
}

const found = (await backends()).find((b) => b.name === "pglite");
if (found === undefined) throw new Error("no PGlite backend");
const pglite: LogBackend = found;

async function openLog() {
  const store = await pglite.open();
  const hubKey = Ed25519PrivateKey.generate();
  const log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
  return {
    log,
    hubKey,
    async [Symbol.asyncDispose]() {
      await log.close();
      await store[Symbol.asyncDispose]();
    },
  };
}

test("the hub cannot sign as a member: a key it made for victim-member is refused", async () => {
  await using f = await openLog();
  const { log } = f;
  const now = Date.now();
  const victim = memberKey();
  await log.appendMembership(enrolRecord("victim-member", victim, now - DAY));
  const hubMade = Ed25519PrivateKey.generate();
  // ADD_KEY signed by the hub alone (a bare record): no signature of the member's current key.
  await rejectsCode(
    log.appendMembership(addKeyRecord("victim-member", hubMade.publicKey, victim.keyId, now)),
    "permission_denied",
  );
  // ... even with proof of possession of the key the hub made, and naming the victim's key.
  await rejectsCode(
    log.appendMembership(addKeyEnvelope("victim-member", hubMade, victim.keyId, now, [hubMade])),
    "permission_denied",
  );
  // ... or naming the new key itself as the authoriser.
  await rejectsCode(
    log.appendMembership(addKeyEnvelope("victim-member", hubMade, hubMade.keyId, now, [hubMade])),
    "permission_denied",
  );
  // A fresh ENROL of the victim's id with the hub's key is a second enrolment.
  await rejectsCode(log.appendMembership(enrolRecord("victim-member", hubMade, now)), "already_exists");
  // ENROL of a new member signed by the hub only (no proof of possession by the new key).
  await rejectsCode(
    log.appendMembership(enrolmentRecord("other", "Other", hubMade.publicKey, now)),
    "bad_signature",
  );
  // The victim's attestations under the hub's key are unknown keys.
  assert.equal(log.memberKey(hubMade.keyId), undefined);
  // The member itself rotates: its current key and the new key sign.
  const next = memberKey();
  await log.appendMembership(addKeyEnvelope("victim-member", next, victim.keyId, now, [victim, next]));
  assert.equal(log.memberKey(next.keyId)?.memberId, "victim-member");
});

test("ADD_KEY needs the new key's signature too (proof of possession)", async () => {
  await using f = await openLog();
  const now = Date.now();
  const alice = memberKey();
  await f.log.appendMembership(enrolRecord("alice", alice, now - DAY));
  const next = memberKey();
  await rejectsCode(
    f.log.appendMembership(addKeyEnvelope("alice", next, alice.keyId, now, [alice])),
    "bad_signature",
  );
});

test("ENROL must carry the fingerprint confirmed out of band", async () => {
  await using f = await openLog();
  const now = Date.now();
  const k = memberKey();
  const wrong = keyFingerprint(memberKey().publicKey.raw);
  const env = signMembership(
    enrolmentRecord("carol", "Carol", k.publicKey, now, { confirmedFingerprint: wrong }),
    [k],
  );
  await rejectsCode(f.log.appendMembership(env), "invalid_argument");
  assert.match(keyFingerprint(k.publicKey.raw), /^([0-9a-f]{4}-){15}[0-9a-f]{4}$/);
});

test("a backdated revocation is refused at append (stale); a revocation within the skew is logged", async () => {
  await using f = await openLog();
  const now = Date.now();
  const bob = memberKey();
  await f.log.appendMembership(enrolRecord("bob", bob, now - DAY));
  // Backdating by an hour would disown what bob signed in that hour.
  await rejectsCode(f.log.appendMembership(revokeRecord("bob", bob, now - 3_600_000)), "stale");
  // A stranger's key cannot revoke bob's key.
  const stranger = memberKey();
  await f.log.appendMembership(enrolRecord("mallory", stranger, now - DAY));
  await rejectsCode(f.log.appendMembership(revokeRecord("bob", bob, now, stranger)), "permission_denied");
  const r = await f.log.appendMembership(revokeRecord("bob", bob, now - 60_000));
  assert.equal(f.log.memberKey(bob.keyId)?.revokedAtIndex, r.index);
});

test("an attestation after its key's revocation is refused by log position", async () => {
  await using f = await openLog();
  const now = Date.now();
  const bob = memberKey();
  await f.log.appendMembership(enrolRecord("bob", bob, now - DAY));
  const p = await openProtocolSession(f.log, bob, "bob", now);
  // Revoked with a revoked_at slightly in the future (within the skew): by time the key would still be
  // valid for a statement issued now; by position it is not.
  await f.log.appendMembership(revokeRecord("bob", bob, now + 60_000));
  await rejectsCode(f.log.appendAttestation(attestationV2(f.log, p, now, WEAK_CLAIM)), "failed_precondition");
});

test("a suspended member's attestations after the suspension are refused; reinstated, they are logged", async () => {
  await using f = await openLog();
  const now = Date.now();
  const dave = memberKey();
  await f.log.appendMembership(enrolRecord("dave", dave, now - DAY));
  const p = await openProtocolSession(f.log, dave, "dave", now);
  const decision = (action: MembershipAction) => ({
    action,
    memberId: "dave",
    effectiveAt: timestampFromMs(Date.now()),
    reason: "secretariat decision",
  });
  await f.log.appendMembership(decision(MembershipAction.SUSPEND));
  await rejectsCode(
    f.log.appendAttestation(attestationV2(f.log, p, Date.now(), WEAK_CLAIM)),
    "failed_precondition",
  );
  // A suspension backdated beyond the skew is refused like a backdated revocation.
  await rejectsCode(
    f.log.appendMembership({
      ...decision(MembershipAction.REINSTATE),
      effectiveAt: timestampFromMs(now - DAY),
    }),
    "stale",
  );
  await f.log.appendMembership(decision(MembershipAction.REINSTATE));
  const a = await f.log.appendAttestation(attestationV2(f.log, p, Date.now(), WEAK_CLAIM));
  assert.ok(a.index > p.sessionIndex);
});

test("a membership envelope with a forged member signature is refused", async () => {
  await using f = await openLog();
  const now = Date.now();
  const k = memberKey();
  const env = enrolRecord("erin", k, now);
  const sig = env.signatures[0]?.sig as Uint8Array;
  const flipped = sig.slice();
  flipped[0] = (flipped[0] as number) ^ 1;
  await rejectsCode(
    f.log.appendMembership({ ...env, signatures: [{ keyid: k.keyId, sig: flipped }] }),
    "bad_signature",
  );
});
