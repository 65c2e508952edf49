/** encodeLeaf is hand-written for speed: it must stay byte-for-byte the protobuf-es encoding. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  LogEntryKind,
  LogLeafSchema,
  MembershipRecordSchema,
  SessionOpenedSchema,
} from "@lineage/api";
import fc from "fast-check";
import { isLogError } from "./log-error.js";
import {
  decodeEntryPayload,
  decodeLeaf,
  encodeLeaf,
  envelopeToProto,
  LOG_DSSE_LIMITS,
  MAX_LEAF_BYTES,
  MAX_PAYLOAD_BYTES,
  PAYLOAD_TYPES,
} from "./log-leaf.js";

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

/** A real statement's bytes, as a member node would sign them. */
function statementBytes(): Uint8Array {
  return toBinary(
    AttestationStatementSchema,
    create(AttestationStatementSchema, {
      version: 2,
      sessionId: "s-1",
      sessionNonce: new Uint8Array(16).fill(7),
      suspect: { suspectId: "suspect-1" },
      issuedAt: timestampFromMs(1_700_000_000_000),
      counts: { comparisons: 3 },
      bound: { panel: ["a", "b"] },
      backedBy: "canary",
    }),
  );
}

/** Appends a length-delimited field `no` holding `len` bytes (an unknown field when `no` is unused). */
function withUnknownField(bytes: Uint8Array, no: number, len: number): Uint8Array {
  const head: number[] = [];
  for (let v = no * 8 + 2; ; v >>>= 7) {
    if (v < 0x80) {
      head.push(v);
      break;
    }
    head.push((v & 0x7f) | 0x80);
  }
  for (let v = len; ; v >>>= 7) {
    if (v < 0x80) {
      head.push(v);
      break;
    }
    head.push((v & 0x7f) | 0x80);
  }
  const out = new Uint8Array(bytes.length + head.length + len);
  out.set(bytes);
  out.set(head, bytes.length);
  return out;
}

const attestation = (payload: Uint8Array) => ({ payloadType: PAYLOAD_TYPES.attestation, payload });
const code = (c: string) => (e: unknown) => isLogError(e, c as never);

test("decodeEntryPayload: a well-formed statement decodes; unknown fields anywhere are refused (malformed)", () => {
  const ok = decodeEntryPayload(AttestationStatementSchema, attestation(statementBytes()));
  assert.equal(ok.sessionId, "s-1");
  assert.deepEqual(ok.bound?.panel, ["a", "b"]);
  // The attack of issue 8: a statement padded with an unknown field, top level.
  assert.throws(
    () =>
      decodeEntryPayload(
        AttestationStatementSchema,
        attestation(withUnknownField(statementBytes(), 999, 100)),
      ),
    (e: unknown) => code("malformed")(e) && /field 999/.test((e as Error).message),
  );
  // Nested: an unknown field inside counts (a message field) and inside the issued_at Timestamp.
  // (create() ignores $unknown in its init, so the unknown fields are set on the built messages.)
  const nested = create(AttestationStatementSchema, {
    version: 2,
    sessionId: "s-1",
    counts: { comparisons: 3 },
  });
  (nested.counts as { $unknown?: unknown }).$unknown = [
    { no: 77, wireType: 2, data: new Uint8Array([1, 0x41]) },
  ];
  assert.throws(
    () =>
      decodeEntryPayload(
        AttestationStatementSchema,
        attestation(toBinary(AttestationStatementSchema, nested)),
      ),
    (e: unknown) => code("malformed")(e) && /counts field 77/.test((e as Error).message),
  );
  const ts = create(AttestationStatementSchema, { version: 2, issuedAt: { seconds: 5n } });
  (ts.issuedAt as { $unknown?: unknown }).$unknown = [{ no: 9, wireType: 0, data: new Uint8Array([1]) }];
  assert.throws(
    () =>
      decodeEntryPayload(AttestationStatementSchema, attestation(toBinary(AttestationStatementSchema, ts))),
    code("malformed"),
  );
  // Repeated message fields are searched too (a session's nested refs are messages; panel is strings).
  const rec = toBinary(MembershipRecordSchema, create(MembershipRecordSchema, { memberId: "acme" }));
  assert.equal(
    decodeEntryPayload(MembershipRecordSchema, { payloadType: PAYLOAD_TYPES.membership, payload: rec })
      .memberId,
    "acme",
  );
  assert.throws(
    () =>
      decodeEntryPayload(MembershipRecordSchema, {
        payloadType: PAYLOAD_TYPES.membership,
        payload: withUnknownField(rec, 4000, 3),
      }),
    code("malformed"),
  );
});

test("decodeEntryPayload: per-kind size caps (too_large), garbage and unknown types (malformed)", () => {
  const cap = MAX_PAYLOAD_BYTES[PAYLOAD_TYPES.attestation];
  assert.equal(cap, 64 * 1024);
  // Exactly at the cap is accepted only if it is otherwise clean: padding to the cap is still refused.
  const base = statementBytes();
  const padded = withUnknownField(base, 999, cap - base.length - 5); // 2-byte tag, 3-byte length
  assert.equal(padded.length, cap);
  assert.throws(() => decodeEntryPayload(AttestationStatementSchema, attestation(padded)), code("malformed"));
  const over = withUnknownField(base, 999, cap - base.length - 4);
  assert.equal(over.length, cap + 1);
  assert.throws(() => decodeEntryPayload(AttestationStatementSchema, attestation(over)), code("too_large"));
  // The ~1 MiB attestation of the issue.
  assert.throws(
    () => decodeEntryPayload(AttestationStatementSchema, attestation(withUnknownField(base, 999, 1 << 20))),
    code("too_large"),
  );
  // A session has its own, smaller cap.
  const session = { payloadType: PAYLOAD_TYPES.session, payload: new Uint8Array(32 * 1024 + 1) };
  assert.throws(() => decodeEntryPayload(SessionOpenedSchema, session), code("too_large"));
  assert.throws(
    () => decodeEntryPayload(AttestationStatementSchema, attestation(new Uint8Array([0x0a, 0x05, 0x01]))),
    code("malformed"),
  );
  assert.throws(
    () => decodeEntryPayload(AttestationStatementSchema, { payloadType: "text/plain", payload: base }),
    code("malformed"),
  );
  // Every envelope the log verifies is bounded by the largest cap; a leaf by that plus framing.
  assert.equal(LOG_DSSE_LIMITS.maxPayloadBytes, 64 * 1024);
  assert.ok(MAX_LEAF_BYTES < 128 * 1024);
  for (const t of Object.values(PAYLOAD_TYPES)) assert.ok(MAX_PAYLOAD_BYTES[t] >= 8 * 1024, t);
});
