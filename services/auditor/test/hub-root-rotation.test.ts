/**
 * The hub's root rotation and purpose-key retirement on a REAL hub log (services/hub TransparencyLog on PGlite;
 * docs/specs/hub-keys.md): the old root signs the handover (ROTATE_ROOT, logged), the new root signs every later
 * checkpoint and statement, the hub reopens only with the current root (following the logged chain from the
 * trust root), the auditor holding only the old root follows it, and the old root is refused after the rotation
 * index. Attacks on the chain fail with their own codes: a rotation signed by the new key only, a rotation by a
 * rotated-out (retired) root, a backdated rotation, a checkpoint by the old root after its rotation.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  HubKeyAction,
  HubKeyPurpose,
  HubKeyStatementSchema,
  LogEntryKind,
  SuspectSource,
} from "@lineage/api";
import {
  addSignature,
  type DsseEnvelope,
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatVerifierKey,
  parseNote,
  signCheckpoint,
  signEnvelope,
} from "@lineage/crypto";
import {
  buildAttestationBundle,
  enrolmentRecord,
  type HubPurposeKeys,
  PAYLOAD_TYPES,
  rootRotationEnvelope,
  signMembership,
  TransparencyLog,
} from "@lineage/hub";
import { type HubDatabase, hubMigrations, openTestStore, type Store } from "@lineage/store";
import {
  type AuditErrorCode,
  decodeAuditedLeaf,
  HubKeyHistory,
  type HubKeyRecord,
  openHubCheckpoint,
  trustRootFromVerifierKey,
  trustWithRotations,
  verifyBundle,
} from "../src/index.js";
import { runHubV2Flow } from "./hub-v2-flow.js";
import { makePairs, tableSuspect } from "./v2-fixture.js";

const ORIGIN = "lineage.test/root-rotation";
const DAY = 86_400_000;

function openLog(
  store: Store<HubDatabase>,
  root: Ed25519PrivateKey,
  more: { purposeKeys?: HubPurposeKeys; trustRoot?: Ed25519PrivateKey; nextRoot?: Ed25519PrivateKey } = {},
) {
  return TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey: root,
    ...(more.purposeKeys === undefined ? {} : { purposeKeys: more.purposeKeys }),
    ...(more.trustRoot === undefined ? {} : { trustRoot: more.trustRoot.publicKey }),
    ...(more.nextRoot === undefined ? {} : { nextRoot: more.nextRoot }),
    checkpointEvery: 1_000_000,
    checkpointIntervalMs: 3_600_000,
  });
}

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
const audit = (c: AuditErrorCode) => code(c);

/** Every HUB_KEY entry of the log as the auditor reads it. */
async function hubKeyRecords(log: TransparencyLog): Promise<HubKeyRecord[]> {
  const out: HubKeyRecord[] = [];
  for (const e of await log.entries(0, log.size)) {
    if (e.kind === LogEntryKind.HUB_KEY)
      out.push({ index: e.index, leaf: decodeAuditedLeaf(e.leaf, `entry ${e.index}`) });
  }
  return out;
}

/** A forged HUB_KEY record at `index` (as if a hub had logged it). */
function forged(index: number, envelope: DsseEnvelope, integratedAtMs: number): HubKeyRecord {
  return { index, leaf: { kind: LogEntryKind.HUB_KEY, envelope, integratedAtMs } };
}

function rotationStatement(next: Ed25519PrivateKey, rootKeyId: string, issuedAtMs: number): Uint8Array {
  return toBinary(
    HubKeyStatementSchema,
    create(HubKeyStatementSchema, {
      action: HubKeyAction.ROTATE_ROOT,
      purpose: HubKeyPurpose.ROOT,
      keyId: next.keyId,
      publicKey: next.publicKey.raw,
      rootKeyId,
      origin: ORIGIN,
      issuedAt: timestampFromMs(issuedAtMs),
      reason: "test",
    }),
  );
}

test("root rotation end to end: logged handover, new root signs after it, hub and auditor follow, old root refused", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const r0 = Ed25519PrivateKey.generate();
  const r1 = Ed25519PrivateKey.generate();
  const keys = {
    membership: Ed25519PrivateKey.generate(),
    sessions: Ed25519PrivateKey.generate(),
    countersign: Ed25519PrivateKey.generate(),
  };
  const now = Date.now();
  const alice = Ed25519PrivateKey.generate();
  const bob = Ed25519PrivateKey.generate();
  const pairs = makePairs(24);
  let before: number;
  let after: number;
  let rotationIndex: number;
  let r0Verifier: string;
  {
    await using log = await openLog(store, r0, { purposeKeys: keys });
    r0Verifier = log.verifierKey;
    await log.appendMembership(
      signMembership(enrolmentRecord("alice", "alice", alice.publicKey, now - DAY, { effectiveAtMs: now }), [
        alice,
      ]),
    );
    before = (
      await runHubV2Flow(log, alice, "alice", pairs, (l) => tableSuspect(pairs, (i, it) => it === l[i]), {
        sessionId: "before",
        suspectId: "suspect-before",
        atMs: now,
      })
    ).attestationIndex;
    const cpBefore = await log.checkpoint();
    const rotation = await log.rotateRoot(r1, "scheduled root rotation");
    rotationIndex = rotation.index;
    assert.equal(rotation.kind, LogEntryKind.HUB_KEY);
    assert.deepEqual(log.rootRotation, { keyId: r1.keyId, index: rotationIndex });
    assert.equal(log.hubPublicKey.keyId, r1.keyId, "the process signs with the new root from now on");
    // The checkpoint covering the rotation is the new root's, and it follows the old root's last one.
    const cpRot = log.latestCheckpoint;
    assert.ok(cpRot !== undefined && cpRot.treeSize === rotationIndex + 1);
    assert.throws(
      () => openHubCheckpoint(cpRot.note, trustRootFromVerifierKey(r0Verifier, ORIGIN)),
      audit("unknown_key"),
      "without the logged rotation, R1's note does not open under R0",
    );
    assert.equal(
      openHubCheckpoint(cpBefore.note, trustRootFromVerifierKey(r0Verifier, ORIGIN)).size,
      cpBefore.treeSize,
    );
    // Purpose keys keep working after the rotation (their delegations were the old root's, at lower indexes).
    await log.appendMembership(
      signMembership(enrolmentRecord("bob", "bob", bob.publicKey, now - DAY, { effectiveAtMs: now }), [bob]),
    );
    after = (
      await runHubV2Flow(log, bob, "bob", pairs, (l) => tableSuspect(pairs, (i, it) => it === l[i]), {
        sessionId: "after",
        suspectId: "suspect-after",
        atMs: now,
      })
    ).attestationIndex;
    await log.checkpoint();
    // The auditor holds only R0 (the trust root): both attestations verify, following the logged rotation.
    const trust = trustRootFromVerifierKey(r0Verifier, ORIGIN);
    for (const index of [before, after]) {
      const bundle = await buildAttestationBundle(log, { logIndex: index });
      const v = verifyBundle(bundle, trust);
      assert.ok(!v.checks.some((c) => !c.passed), `attestation ${index}`);
    }
    // A second rotation to a key that already served the hub: refused before anything is logged.
    await assert.rejects(log.rotateRoot(keys.sessions, "reuse"), code("invalid_argument"));
    await assert.rejects(log.rotateRoot(r0, "back"), code("invalid_argument"));
    // The old root signing a checkpoint of the current tree: the auditor refuses it (hub_key_not_valid).
    const history = HubKeyHistory.build(trust, await hubKeyRecords(log), ORIGIN);
    const cp = log.latestCheckpoint;
    assert.ok(cp !== undefined);
    const note = parseNote(cp.note);
    const oldSigned = signCheckpoint(
      {
        origin: ORIGIN,
        size: cp.treeSize,
        rootHash: cp.rootHash,
        extensions: [`lineage-previous-size ${rotationIndex + 1}`],
      },
      [ed25519NoteSigner(ORIGIN, r0)],
    );
    assert.ok(note.text.length > 0);
    assert.throws(
      () => openHubCheckpoint(oldSigned, trustWithRotations(trust, history)),
      audit("hub_key_not_valid"),
    );
  }
  // Reopening: with the old root, refused (the log's root is R1); with R1 but no trust root, refused (the
  // first checkpoints are R0's); with R1 and the trust root, it follows the chain and serves.
  await assert.rejects(openLog(store, r0, { purposeKeys: keys }), code("unknown_key"));
  await assert.rejects(openLog(store, r1, { purposeKeys: keys }), code("unknown_key"));
  {
    await using log = await openLog(store, r1, { purposeKeys: keys, trustRoot: r0 });
    await log.appendSighting({ suspect: { suspectId: "after-reopen" }, source: SuspectSource.FEED_ADAPTER });
    const cp = await log.checkpoint();
    const trust = trustRootFromVerifierKey(r0Verifier, ORIGIN);
    const history = HubKeyHistory.build(trust, await hubKeyRecords(log), ORIGIN);
    assert.equal(openHubCheckpoint(cp.note, trustWithRotations(trust, history)).size, cp.treeSize);
    assert.deepEqual(
      history.rotations.map((r) => [r.index, r.key.keyId]),
      [[rotationIndex, r1.keyId]],
    );
  }
});

test("a rotation interrupted after it was logged is adopted on the next open (hub.pem still the old root)", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const r0 = Ed25519PrivateKey.generate();
  const r1 = Ed25519PrivateKey.generate();
  {
    await using log = await openLog(store, r0, { nextRoot: r1 });
    assert.equal(log.rootRotation?.keyId, r1.keyId);
  }
  // The key file was not yet replaced: opening with R0 and the pending R1 adopts the logged rotation.
  {
    await using log = await openLog(store, r0, { nextRoot: r1 });
    assert.equal(log.hubKeyStatementIndexes.length, 1, "nothing logged twice");
    await log.appendSighting({ suspect: { suspectId: "s" }, source: SuspectSource.FEED_ADAPTER });
    const cp = await log.checkpoint();
    assert.ok(cp.note.includes(`— ${ORIGIN} `));
  }
  // An unrelated key as the next root, with R0 no longer the log's root: refused.
  await assert.rejects(openLog(store, r0, { nextRoot: Ed25519PrivateKey.generate() }), code("unknown_key"));
});

test("attacks on the root chain fail with their own codes: new key only, a retired root, backdated", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const r0 = Ed25519PrivateKey.generate();
  const r1 = Ed25519PrivateKey.generate();
  await using log = await openLog(store, r0);
  await log.appendSighting({ suspect: { suspectId: "s0" }, source: SuspectSource.FEED_ADAPTER });
  await log.rotateRoot(r1, "rotation");
  // R0's verifier key (the log's is R1's now): the trust root auditors were given.
  const trust = trustRootFromVerifierKey(formatVerifierKey(ORIGIN, r0.publicKey), ORIGIN);
  const real = await hubKeyRecords(log);
  assert.equal(HubKeyHistory.build(trust, real, ORIGIN).rotations.length, 1);
  const at = log.size;
  const nowMs = Date.now();
  const r2 = Ed25519PrivateKey.generate();
  // 1. A rotation signed by the new key only (no handover by the root valid there).
  const newOnly = signEnvelope(PAYLOAD_TYPES.hubKey, rotationStatement(r2, r1.keyId, nowMs), r2);
  assert.throws(
    () => HubKeyHistory.build(trust, [...real, forged(at, newOnly, nowMs)], ORIGIN),
    audit("hub_key_unauthorized"),
  );
  // 2. A rotation by the rotated-out root R0 after its rotation (R0 is retired as root from index r on).
  const byRetired = rootRotationEnvelope(r2, r0, ORIGIN, nowMs, "by the old root");
  assert.throws(
    () => HubKeyHistory.build(trust, [...real, forged(at, byRetired, nowMs)], ORIGIN),
    audit("hub_key_unauthorized"),
  );
  // 3. Backdated: a correctly signed rotation whose issued_at is an hour before its integration.
  const backdated = addSignature(
    signEnvelope(PAYLOAD_TYPES.hubKey, rotationStatement(r2, r1.keyId, nowMs - 3_600_000), r1),
    r2,
  );
  assert.throws(
    () => HubKeyHistory.build(trust, [...real, forged(at, backdated, nowMs)], ORIGIN),
    audit("stale"),
  );
  // The same rotation, honestly dated, is accepted: the refusals above are about the attack, not the shape.
  const honest = addSignature(
    signEnvelope(PAYLOAD_TYPES.hubKey, rotationStatement(r2, r1.keyId, nowMs), r1),
    r2,
  );
  assert.equal(HubKeyHistory.build(trust, [...real, forged(at, honest, nowMs)], ORIGIN).rotations.length, 2);
  // The hub itself refuses to rotate from a root it does not hold any more.
  await assert.rejects(openLog(store, r0), code("unknown_key"));
});

test("retiring a purpose key: the hub stops signing it, the key cannot come back, a new delegation restores it", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const r0 = Ed25519PrivateKey.generate();
  const sessions = Ed25519PrivateKey.generate();
  {
    await using log = await openLog(store, r0, { purposeKeys: { sessions } });
    await log.appendSighting({ suspect: { suspectId: "before" }, source: SuspectSource.FEED_ADAPTER });
    await assert.rejects(log.retire("membership", "never delegated"), code("failed_precondition"));
    const retired = await log.retire("sessions", "key compromised");
    assert.equal(retired.kind, LogEntryKind.HUB_KEY);
    await assert.rejects(
      log.appendSighting({ suspect: { suspectId: "after" }, source: SuspectSource.FEED_ADAPTER }),
      code("failed_precondition"),
    );
    await assert.rejects(log.retire("sessions", "twice"), code("failed_precondition"));
    const cp = await log.checkpoint();
    const history = HubKeyHistory.build(
      trustRootFromVerifierKey(log.verifierKey, ORIGIN),
      await hubKeyRecords(log),
      ORIGIN,
    );
    assert.equal(
      history.keyFor("sessions", cp.treeSize),
      undefined,
      "nothing signs sessions after the retirement",
    );
  }
  // Re-delegating the retired key (its file left in place) is refused before anything is logged.
  await assert.rejects(openLog(store, r0, { purposeKeys: { sessions } }), code("invalid_argument"));
  {
    const fresh = Ed25519PrivateKey.generate();
    await using log = await openLog(store, r0, { purposeKeys: { sessions: fresh } });
    await log.appendSighting({
      suspect: { suspectId: "after-new-delegation" },
      source: SuspectSource.FEED_ADAPTER,
    });
  }
});
