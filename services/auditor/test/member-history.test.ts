/**
 * Issue 8 in the auditor: a bundle does not decide which history the auditor sees. Membership records
 * must be signed by the member they change; with the log's whole membership history (readMemberHistory),
 * a revocation or suspension left out of the bundle is still seen; validity is by log position.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { KeyAlgorithm, LogEntryKind, MembershipAction, MembershipRecordSchema } from "@lineage/api";
import { Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import {
  type AuditErrorCode,
  auditedKeyFingerprint,
  isAuditError,
  type LogEntrySource,
  openHubCheckpoint,
  PAYLOAD_TYPES,
  readMemberHistory,
  verifyBundle,
} from "../src/index.js";
import { buildScenario, type HandLog, memberThenHub, T0 } from "./v2-fixture.js";

function expectAudit(code: AuditErrorCode) {
  return (e: unknown) => {
    assert.ok(isAuditError(e), `expected AuditError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

/** The hand-built log's leaves, served as a hub would (pages of `end - start`). */
function source(log: HandLog, tamper?: (index: number, leaf: Uint8Array) => Uint8Array): LogEntrySource {
  return {
    async entries(start, end) {
      return log.leaves.slice(start, end).map((leaf, i) => ({
        index: start + i,
        leaf: tamper === undefined ? leaf : tamper(start + i, leaf),
      }));
    },
  };
}

function record(init: Parameters<typeof create<typeof MembershipRecordSchema>>[1]): Uint8Array {
  return toBinary(MembershipRecordSchema, create(MembershipRecordSchema, init));
}

function revokeBytes(key: Ed25519PrivateKey, atMs: number, by: string): Uint8Array {
  return record({
    action: MembershipAction.REVOKE_KEY,
    memberId: "alice",
    key: {
      keyId: key.keyId,
      algorithm: KeyAlgorithm.ED25519,
      publicKey: key.publicKey.raw,
      revokedAt: timestampFromMs(atMs),
      revocationReason: "compromised",
    },
    effectiveAt: timestampFromMs(atMs),
    authorizedByKeyId: by,
  });
}

async function historyOf(s: Awaited<ReturnType<typeof buildScenario>>) {
  const cp = openHubCheckpoint(s.bundle.checkpoint?.signedNote ?? new Uint8Array(0), s.trust);
  return readMemberHistory(source(s.log), cp, 3);
}

test("a bundle verifies offline and with the log's history; the history holds every membership record", async () => {
  const s = await buildScenario();
  const offline = verifyBundle(s.bundle, s.trust);
  assert.equal(offline.historyChecked, false);
  const history = await historyOf(s);
  assert.equal(history.records.length, 2); // alice's and bob's enrolments
  const online = verifyBundle(s.bundle, s.trust, { history });
  assert.equal(online.historyChecked, true);
  assert.equal(online.memberKey.memberId, "alice");
});

test("a bundle omitting the revocation of its signing key: offline it cannot tell, with the history key_not_valid", async () => {
  const s = await buildScenario({
    beforeAttestation: (log, { alice, hub }) => {
      log.append(LogEntryKind.MEMBERSHIP, memberThenHub(alice, hub, revokeBytes(alice, T0, alice.keyId)));
    },
  });
  // The bundle carries only alice's enrolment, not the revocation logged before the attestation.
  assert.equal(s.bundle.membership.length, 1);
  assert.equal(verifyBundle(s.bundle, s.trust).historyChecked, false);
  const history = await historyOf(s);
  assert.throws(() => verifyBundle(s.bundle, s.trust, { history }), expectAudit("key_not_valid"));
});

test("a suspension before the attestation, left out of the bundle, is seen with the history", async () => {
  const s = await buildScenario({
    beforeAttestation: (log, { hub }) => {
      const bytes = record({
        action: MembershipAction.SUSPEND,
        memberId: "alice",
        effectiveAt: timestampFromMs(T0),
        reason: "unpaid dues",
      });
      log.append(LogEntryKind.MEMBERSHIP, signEnvelope(PAYLOAD_TYPES.membership, bytes, hub));
    },
  });
  verifyBundle(s.bundle, s.trust);
  const history = await historyOf(s);
  assert.throws(() => verifyBundle(s.bundle, s.trust, { history }), expectAudit("key_not_valid"));
});

test("a key the hub added for alice on its own signature is refused (membership_unauthorized)", async () => {
  const hubMade = Ed25519PrivateKey.generate();
  const s = await buildScenario({
    beforeAttestation: (log, { alice, hub }) => {
      const bytes = record({
        action: MembershipAction.ADD_KEY,
        memberId: "alice",
        key: {
          keyId: hubMade.keyId,
          algorithm: KeyAlgorithm.ED25519,
          publicKey: hubMade.publicKey.raw,
          notBefore: timestampFromMs(T0),
        },
        effectiveAt: timestampFromMs(T0),
        authorizedByKeyId: alice.keyId,
      });
      // Signed by the key the hub made and by the hub, not by alice.
      log.append(LogEntryKind.MEMBERSHIP, memberThenHub(hubMade, hub, bytes));
    },
  });
  const history = await historyOf(s);
  assert.throws(() => verifyBundle(s.bundle, s.trust, { history }), expectAudit("membership_unauthorized"));
});

test("an enrolment signed by the hub alone (no proof of possession) is refused in a bundle", async () => {
  const enrolLeafHub = (() => {
    const k = Ed25519PrivateKey.generate();
    return record({
      action: MembershipAction.ENROL,
      memberId: "victim-member",
      displayName: "victim",
      key: {
        keyId: k.keyId,
        algorithm: KeyAlgorithm.ED25519,
        publicKey: k.publicKey.raw,
        notBefore: timestampFromMs(T0),
      },
      effectiveAt: timestampFromMs(T0),
      confirmedFingerprint: auditedKeyFingerprint(k.publicKey.raw),
    });
  })();
  const t = await buildScenario({
    beforeAttestation: (log, { hub }) => {
      log.append(LogEntryKind.MEMBERSHIP, signEnvelope(PAYLOAD_TYPES.membership, enrolLeafHub, hub));
    },
  });
  const history = await historyOf(t);
  assert.throws(() => verifyBundle(t.bundle, t.trust, { history }), expectAudit("membership_unauthorized"));
});

test("a revocation backdated beyond the skew is refused by the auditor too (stale)", async () => {
  const backdated = await buildScenario({
    beforeAttestation: (log, { alice, hub }) => {
      log.append(
        LogEntryKind.MEMBERSHIP,
        memberThenHub(alice, hub, revokeBytes(alice, T0 - 3_600_000, alice.keyId)),
      );
    },
  });
  const history = await historyOf(backdated);
  assert.throws(() => verifyBundle(backdated.bundle, backdated.trust, { history }), expectAudit("stale"));
});

test("the history scan refuses entries that do not hash to the checkpoint (bad_proof) and short pages", async () => {
  const s = await buildScenario();
  const cp = openHubCheckpoint(s.bundle.checkpoint?.signedNote ?? new Uint8Array(0), s.trust);
  // The hub hides alice's enrolment by serving bob's leaf in its place.
  const swapped = source(s.log, (i, leaf) =>
    i === 0 ? (s.log.leaves[s.log.leaves.length - 1] as Uint8Array) : leaf,
  );
  await assert.rejects(readMemberHistory(swapped, cp, 4), expectAudit("bad_proof"));
  const short: LogEntrySource = {
    entries: async (start, end) => (await source(s.log).entries(start, end)).slice(1),
  };
  await assert.rejects(readMemberHistory(short, cp), expectAudit("malformed"));
});
