/** encodeLeaf is hand-written for speed: it must stay byte-for-byte the protobuf-es encoding. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { LogEntryKind, LogLeafSchema } from "@lineage/api";
import fc from "fast-check";
import { decodeLeaf, encodeLeaf, envelopeToProto, PAYLOAD_TYPES } from "./log-leaf.js";

const reference = (kind: LogEntryKind, env: Parameters<typeof encodeLeaf>[1], ms: number) =>
  toBinary(
    LogLeafSchema,
    create(LogLeafSchema, { kind, envelope: envelopeToProto(env), integratedAt: timestampFromMs(ms) }),
  );

const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });

test("encodeLeaf equals protobuf-es toBinary on random leaves (sizes across varint boundaries)", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2, 3, 4, 5, 127, 128, 300),
      fc.string({ maxLength: 140 }),
      fc.oneof(bytes(40), bytes(300), bytes(20_000)),
      fc.array(fc.record({ keyid: fc.string({ maxLength: 130 }), sig: bytes(200) }), { maxLength: 4 }),
      fc.oneof(
        fc.constantFrom(0, 999, 1000, 1001, 127_999, 128_000, Date.UTC(2100, 0, 1)),
        fc.integer({ min: 0, max: 2 ** 45 }),
      ),
      (kind, payloadType, payload, signatures, ms) => {
        const env = { payloadType, payload, signatures };
        const k = kind as LogEntryKind;
        assert.deepEqual(encodeLeaf(k, env, ms), reference(k, env, ms));
      },
    ),
    { numRuns: 400 },
  );
});

test("encodeLeaf: a real leaf round-trips through decodeLeaf; negative or fractional times are refused", () => {
  const env = {
    payloadType: PAYLOAD_TYPES.attestation,
    payload: new Uint8Array([1, 2, 3]),
    signatures: [{ keyid: "a".repeat(64), sig: new Uint8Array(64).fill(9) }],
  };
  const leaf = encodeLeaf(LogEntryKind.ATTESTATION, env, 1_700_000_000_123);
  const back = decodeLeaf(leaf);
  assert.equal(back.integratedAtMs, 1_700_000_000_123);
  assert.deepEqual(back.envelope.signatures[0]?.sig, env.signatures[0]?.sig);
  assert.throws(() => encodeLeaf(LogEntryKind.ATTESTATION, env, -1));
  assert.throws(() => encodeLeaf(LogEntryKind.ATTESTATION, env, 1.5));
});
