/**
 * The auditor's reading of the hub's epoch statements and sketch suppressions (issue 10): entries a real hub
 * log wrote (PGlite) are read, checked and tied to the key a member was handed; forged, padded, oversized,
 * malformed and out-of-sequence entries fail with their codes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EpochAction,
  EpochStatementSchema,
  LogEntryKind,
  ProbeKind,
  ProbeSchema,
  type SketchParametersSchema,
  SketchSuppressionSchema,
} from "@lineage/api";
import { Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import { EpochStore, TransparencyLog } from "@lineage/hub";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import type { AuditError } from "../src/audit-error.js";
import {
  type AuditedLeaf,
  auditedEpochKeyCommitment,
  checkEpochLog,
  decodeAuditedLeaf,
  PAYLOAD_TYPES,
  readEpochStatement,
} from "../src/index.js";

const DAY = 86_400_000;
const code = (c: string) => (e: unknown) => (e as AuditError).code === c;

function probes(n: number) {
  return Array.from({ length: n }, (_, i) =>
    create(ProbeSchema, { index: i, kind: ProbeKind.OPEN_ENDED, prompt: `p${i}`, maxTokens: 16 }),
  );
}

const PARAMS: MessageInitShape<typeof SketchParametersSchema> = {
  version: 2,
  shingleSize: 2,
  probeRows: 32,
  probeRowsPerBand: 1,
  probeDigestBytes: 4,
  coarseBands: 512,
  coarseRowsPerBand: 1,
  coarseDigestBytes: 8,
  minAgreeingBands: 19,
};

function epochLeaf(
  key: Ed25519PrivateKey,
  o: { id: string; number: number; previous?: string; action?: EpochAction },
  tamper?: (b: Uint8Array) => Uint8Array,
): AuditedLeaf {
  const now = Date.now();
  const st = create(EpochStatementSchema, {
    action: o.action ?? (o.previous === undefined ? EpochAction.CREATE : EpochAction.ROTATE),
    epoch: {
      epochId: o.id,
      number: BigInt(o.number),
      notBefore: timestampFromMs(now),
      notAfter: timestampFromMs(now + DAY),
      batteryDigest: new Uint8Array(32).fill(1),
      previousEpochId: o.previous ?? "",
    },
    probeCount: 8,
    sketchParameters: PARAMS,
    epochKeyCommitment: new Uint8Array(32).fill(2),
    issuedAt: timestampFromMs(now),
  });
  const payload = toBinary(EpochStatementSchema, st);
  return {
    kind: LogEntryKind.EPOCH,
    envelope: signEnvelope(PAYLOAD_TYPES.epoch, tamper ? tamper(payload) : payload, key),
    integratedAtMs: now,
  };
}

function suppressionLeaf(key: Ed25519PrivateKey, sketchId: string, epochId: string): AuditedLeaf {
  const s = create(SketchSuppressionSchema, {
    sketchId,
    model: { memberId: "acme", modelId: "m1", modelVersion: "1" },
    epochId,
    reason: "false leads",
    reviewer: "ana",
    suppressedAt: timestampFromMs(Date.now()),
  });
  return {
    kind: LogEntryKind.SKETCH_SUPPRESSION,
    envelope: signEnvelope(PAYLOAD_TYPES.sketchSuppression, toBinary(SketchSuppressionSchema, s), key),
    integratedAtMs: Date.now(),
  };
}

test("epochs a real hub logged are read, checked and tied to the key members were handed", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const hubKey = Ed25519PrivateKey.generate();
  const log = await TransparencyLog.open({ store, origin: "lineage.test/audit-epochs", hubKey });
  const epochs = new EpochStore(store, hubKey, { log });
  const e1 = await epochs.create({ epochId: "e-1", probes: probes(8), notAfterMs: Date.now() + DAY });
  const e2 = await epochs.rotate({ epochId: "e-2", probes: probes(5), notAfterMs: Date.now() + DAY });
  await log.appendSketchSuppression({
    sketchId: "a".repeat(64),
    model: { memberId: "acme", modelId: "m1", modelVersion: "1" },
    epochId: "e-2",
    reason: "false leads",
    reviewer: "ana",
  });
  const stored = await log.entries(0, log.size);
  const entries = stored.map((e) => ({
    index: e.index,
    leaf: decodeAuditedLeaf(e.leaf, `entry ${e.index}`),
  }));
  const report = checkEpochLog(entries, () => hubKey.publicKey);
  assert.deepEqual(
    report.epochs.map((e) => [e.epochId, e.number, e.action, e.previousEpochId, e.probeCount]),
    [
      ["e-1", 1, "create", undefined, 8],
      ["e-2", 2, "rotate", "e-1", 5],
    ],
  );
  assert.equal(report.epochs[0]?.epochKeyCommitment, auditedEpochKeyCommitment("e-1", e1.epochKey));
  assert.equal(report.epochs[1]?.epochKeyCommitment, auditedEpochKeyCommitment("e-2", e2.epochKey));
  assert.notEqual(report.epochs[1]?.epochKeyCommitment, auditedEpochKeyCommitment("e-2", e1.epochKey));
  assert.deepEqual(
    report.suppressions.map((s) => [s.sketchId, s.memberId, s.epochId, s.reason, s.reviewer]),
    [["a".repeat(64), "acme", "e-2", "false leads", "ana"]],
  );
  // Another hub key did not sign them.
  assert.throws(
    () => checkEpochLog(entries, () => Ed25519PrivateKey.generate().publicKey),
    code("bad_signature"),
  );
  assert.throws(() => checkEpochLog(entries, () => undefined), code("unknown_key"));
  await log.close();
});

test("forged, padded, oversized, malformed and out-of-sequence epoch entries fail with their codes", () => {
  const hub = Ed25519PrivateKey.generate();
  const key = () => hub.publicKey;
  const at = (...leaves: AuditedLeaf[]) => leaves.map((leaf, index) => ({ index, leaf }));
  const ok = checkEpochLog(
    at(epochLeaf(hub, { id: "a", number: 1 }), epochLeaf(hub, { id: "b", number: 2, previous: "a" })),
    key,
  );
  assert.equal(ok.epochs.length, 2);
  // Signed by someone else.
  assert.throws(
    () =>
      readEpochStatement(0, epochLeaf(Ed25519PrivateKey.generate(), { id: "a", number: 1 }), hub.publicKey),
    code("bad_signature"),
  );
  // A field the auditor does not know (field 99, varint 1), signed by the hub: refused.
  const padded = epochLeaf(hub, { id: "a", number: 1 }, (b) => new Uint8Array([...b, 0x98, 0x06, 0x01]));
  assert.throws(() => readEpochStatement(0, padded, hub.publicKey), code("malformed"));
  // Over the size cap.
  const big = epochLeaf(
    hub,
    { id: "a", number: 1 },
    (b) => new Uint8Array([...b, 0x9a, 0x06, 0x80, 0x40, ...new Uint8Array(8192)]),
  );
  assert.throws(() => readEpochStatement(0, big, hub.publicKey), code("too_large"));
  // Not a protobuf.
  assert.throws(
    () =>
      readEpochStatement(
        0,
        epochLeaf(hub, { id: "a", number: 1 }, () => new Uint8Array([0x12, 0x7f])),
        hub.publicKey,
      ),
    code("malformed"),
  );
  // Bad fields.
  assert.throws(
    () => readEpochStatement(0, epochLeaf(hub, { id: "a b", number: 1 }), hub.publicKey),
    code("malformed"),
  );
  assert.throws(
    () => readEpochStatement(0, epochLeaf(hub, { id: "a", number: 2 }), hub.publicKey),
    code("malformed"),
  );
  assert.throws(
    () =>
      readEpochStatement(
        0,
        epochLeaf(hub, { id: "a", number: 1, action: EpochAction.UNSPECIFIED }),
        hub.publicKey,
      ),
    code("malformed"),
  );
  // Sequence: an id twice, a number that does not rise, a rotation from another epoch, a second CREATE.
  assert.throws(
    () =>
      checkEpochLog(
        at(epochLeaf(hub, { id: "a", number: 1 }), epochLeaf(hub, { id: "a", number: 2, previous: "x" })),
        key,
      ),
    code("duplicate_epoch"),
  );
  assert.throws(
    () =>
      checkEpochLog(
        at(
          epochLeaf(hub, { id: "a", number: 1 }),
          epochLeaf(hub, { id: "b", number: 3, previous: "a" }),
          epochLeaf(hub, { id: "c", number: 3, previous: "b" }),
        ),
        key,
      ),
    (e: unknown) => code("wrong_entry")(e) && /does not rise/.test((e as Error).message),
  );
  assert.throws(
    () =>
      checkEpochLog(
        at(epochLeaf(hub, { id: "a", number: 1 }), epochLeaf(hub, { id: "b", number: 2, previous: "z" })),
        key,
      ),
    (e: unknown) => code("wrong_entry")(e) && /rotates from z/.test((e as Error).message),
  );
  // Suppressions: twice the same sketch; an epoch not logged.
  const sid = "b".repeat(64);
  assert.throws(
    () =>
      checkEpochLog(
        at(
          epochLeaf(hub, { id: "a", number: 1 }),
          suppressionLeaf(hub, sid, "a"),
          suppressionLeaf(hub, sid, "a"),
        ),
        key,
      ),
    code("duplicate_suppression"),
  );
  assert.throws(
    () => checkEpochLog(at(epochLeaf(hub, { id: "a", number: 1 }), suppressionLeaf(hub, sid, "nope")), key),
    code("wrong_entry"),
  );
  assert.throws(() => checkEpochLog(at(suppressionLeaf(hub, "zz", "a")), key), code("malformed"));
  // A leaf whose kind and payload type disagree never reaches the check.
  const mixed = epochLeaf(hub, { id: "a", number: 1 });
  assert.throws(
    () => readEpochStatement(0, { ...mixed, kind: LogEntryKind.SKETCH_SUPPRESSION }, hub.publicKey),
    code("wrong_entry"),
  );
});
