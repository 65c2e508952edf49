/**
 * Issue 8: a bundle for an attestation signed by a ROTATED key verifies offline. The hub's bundle
 * (services/hub attestation-bundle.ts) carries, besides the signing key's own records, the records of the
 * keys that authorised it back to the member's enrolment and the member's status changes; the auditor's
 * offline replay (verifyBundle without a history) accepts an ADD_KEY only when its authoriser is
 * established, so the signing key's records alone fail as `membership_unauthorized`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AttestationBundleSchema, MembershipAction, SuspectSource } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import {
  addKeyRecord,
  buildAttestationBundle,
  enrolmentRecord,
  revokeKeyRecord,
  signMembership,
  TransparencyLog,
} from "@lineage/hub";
import { type HubDatabase, hubMigrations, openTestStore, type Store } from "@lineage/store";
import { isAuditError, trustRootFromVerifierKey, verifyBundle } from "../src/index.js";
import { runHubV2Flow } from "./hub-v2-flow.js";
import { makePairs, tableSuspect } from "./v2-fixture.js";

const ORIGIN = "lineage.test/log";
const DAY = 86_400_000;
/** Offline verification (`lineage audit verify --offline`): no history read from the log. */
const OFFLINE = {};

test("a rotated key's bundle carries its authorisation chain and status changes, and verifies offline", async () => {
  await using store: Store<HubDatabase> = await openTestStore("pglite-memory");
  await store.migrate(hubMigrations);
  const log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey: Ed25519PrivateKey.generate(),
    checkpointEvery: 500,
    checkpointIntervalMs: 50,
  });
  try {
    const now = Date.now();
    const k1 = Ed25519PrivateKey.generate();
    const k2 = Ed25519PrivateKey.generate();
    const k3 = Ed25519PrivateKey.generate();
    const bob = Ed25519PrivateKey.generate();
    const enrol = (id: string, key: Ed25519PrivateKey) =>
      log.appendMembership(
        signMembership(enrolmentRecord(id, id, key.publicKey, now - DAY, { effectiveAtMs: now }), [key]),
      );
    const e1 = await enrol("alice", k1);
    await enrol("bob", bob);
    // Two rotations, each signed by the current key and the new one; then the first key is revoked by the
    // newest, and the hub suspends and reinstates alice (its own decisions, hub-signed only).
    const a2 = await log.appendMembership(
      signMembership(addKeyRecord("alice", k2.publicKey, k1.keyId, now - 2000), [k1, k2]),
    );
    const a3 = await log.appendMembership(
      signMembership(addKeyRecord("alice", k3.publicKey, k2.keyId, now - 1000), [k2, k3]),
    );
    const r1 = await log.appendMembership(
      signMembership(revokeKeyRecord("alice", k1.publicKey, k3.keyId, now), [k3]),
    );
    const s = await log.appendMembership({
      action: MembershipAction.SUSPEND,
      memberId: "alice",
      reason: "review",
      effectiveAt: timestampFromMs(Date.now()),
    });
    const u = await log.appendMembership({
      action: MembershipAction.REINSTATE,
      memberId: "alice",
      reason: "cleared",
      effectiveAt: timestampFromMs(Date.now()),
    });
    await log.appendSighting({ suspect: { suspectId: "noise" }, source: SuspectSource.FEED_ADAPTER });

    const pairs = makePairs(24);
    const flow = await runHubV2Flow(
      log,
      k3,
      "alice",
      pairs,
      (labels) => tableSuspect(pairs, (i, item) => item === labels[i]),
      { sessionId: "rotated-session", suspectId: "sus-rotated", atMs: Date.now() },
    );
    await log.checkpoint();
    const bundle = await buildAttestationBundle(log, { logIndex: flow.attestationIndex });
    const indices = bundle.membership.map((m) => Number(m.entry?.index));
    // The chain k3 <- k2 <- k1 (ENROL), k1's revocation, and alice's status changes; not bob's enrolment.
    assert.deepEqual(indices, [e1.index, a2.index, a3.index, r1.index, s.index, u.index]);

    const trust = trustRootFromVerifierKey(log.verifierKey, ORIGIN);
    const offline = verifyBundle(bundle, trust, OFFLINE);
    assert.equal(offline.historyChecked, false);
    assert.equal(offline.memberKey.keyId, k3.keyId);
    assert.equal(offline.memberKey.memberId, "alice");
    assert.equal(offline.attestationIndex, flow.attestationIndex);

    // What the bundle used to carry (the signing key's own records only) cannot establish the key offline.
    const ownOnly = create(AttestationBundleSchema, {
      ...bundle,
      membership: bundle.membership.filter((m) => Number(m.entry?.index) === a3.index),
    });
    assert.throws(
      () => verifyBundle(ownOnly, trust, OFFLINE),
      (e: unknown) => isAuditError(e) && e.code === "membership_unauthorized",
    );
    // Leaving out the middle of the chain fails the same way.
    const gap = create(AttestationBundleSchema, {
      ...bundle,
      membership: bundle.membership.filter((m) => Number(m.entry?.index) !== a2.index),
    });
    assert.throws(
      () => verifyBundle(gap, trust, OFFLINE),
      (e: unknown) => isAuditError(e) && e.code === "membership_unauthorized",
    );
  } finally {
    await log.close();
  }
});
