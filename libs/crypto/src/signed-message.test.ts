import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { CryptoError, type CryptoErrorCode } from "./crypto-error.js";
import { Ed25519PrivateKey, KeyRing } from "./ed25519-key.js";
import { ReplayGuard } from "./replay-guard.js";
import {
  type MessageHeader,
  newNonce,
  signedMessageBytes,
  signMessage,
  verifyMessage,
} from "./signed-message.js";

const member = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(30));
const other = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(31));
const rings = new Map([
  ["member-a", new KeyRing([member.publicKey])],
  ["member-b", new KeyRing([other.publicKey])],
]);
const keys = (memberId: string) => rings.get(memberId);
const DOMAIN = "lineage.v1.SubmitAttestation";
const T0 = 1_700_000_000_000;

function codeOf(fn: () => unknown): CryptoErrorCode | "none" {
  try {
    fn();
    return "none";
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
}

const header = (sequence: bigint, issuedAtMs = T0, nonce = newNonce()): MessageHeader => ({
  memberId: "member-a",
  sequence,
  nonce,
  issuedAtMs,
});

test("signed messages verify; header, payload, domain and key are all bound", () => {
  const payload = new TextEncoder().encode("sketch bytes");
  const msg = signMessage(DOMAIN, header(1n), payload, member);
  assert.deepEqual(verifyMessage(DOMAIN, msg, keys), msg.header);
  assert.equal(
    codeOf(() => verifyMessage("lineage.v1.Other", msg, keys)),
    "bad_signature",
  );
  assert.equal(
    codeOf(() => verifyMessage(DOMAIN, { ...msg, header: { ...msg.header, sequence: 2n } }, keys)),
    "bad_signature",
  );
  assert.equal(
    codeOf(() => verifyMessage(DOMAIN, { ...msg, header: { ...msg.header, memberId: "member-b" } }, keys)),
    "unknown_key",
  );
  assert.equal(
    codeOf(() => verifyMessage(DOMAIN, { ...msg, header: { ...msg.header, issuedAtMs: T0 + 1 } }, keys)),
    "bad_signature",
  );
  assert.equal(
    codeOf(() => verifyMessage(DOMAIN, { ...msg, payload: new Uint8Array([1]) }, keys)),
    "bad_signature",
  );
  assert.equal(
    codeOf(() => verifyMessage(DOMAIN, signMessage(DOMAIN, header(1n), payload, other), keys)),
    "unknown_key",
  );
  assert.equal(
    codeOf(() =>
      verifyMessage(DOMAIN, { ...msg, header: { ...msg.header, nonce: new Uint8Array(8) } }, keys),
    ),
    "malformed",
  );
  assert.equal(
    codeOf(() => verifyMessage(DOMAIN, { ...msg, header: { ...msg.header, sequence: -1n } }, keys)),
    "malformed",
  );
  assert.equal(
    codeOf(() => verifyMessage(DOMAIN, msg, keys, 4)),
    "too_large",
  );
  assert.equal(
    codeOf(() => signMessage(DOMAIN, { ...header(1n), memberId: "" }, payload, member)),
    "invalid_argument",
  );
});

test("the signed encoding is length-prefixed: shifting bytes between fields changes it", () => {
  const nonce = new Uint8Array(16).fill(7);
  const a = signedMessageBytes(
    DOMAIN,
    { memberId: "ab", sequence: 1n, nonce, issuedAtMs: 5 },
    new Uint8Array([1]),
  );
  const b = signedMessageBytes(
    `${DOMAIN}a`,
    { memberId: "b", sequence: 1n, nonce, issuedAtMs: 5 },
    new Uint8Array([1]),
  );
  assert.notDeepEqual(a, b);
});

test("replay guard: replays, old sequences and stale times are rejected and counted", () => {
  let now = T0;
  const guard = new ReplayGuard({ now: () => now, maxClockSkewMs: 60_000 });
  const h1 = header(1n);
  guard.accept(h1);
  assert.equal(
    codeOf(() => guard.accept(h1)),
    "replay",
  );
  assert.equal(
    codeOf(() => guard.accept(header(1n))),
    "replay",
  ); // same sequence, new nonce
  assert.equal(
    codeOf(() => guard.accept({ ...header(5n), nonce: h1.nonce })),
    "replay",
  ); // reused nonce
  guard.accept(header(5n));
  assert.equal(
    codeOf(() => guard.accept(header(3n))),
    "replay",
  ); // strict ordering by default
  assert.equal(
    codeOf(() => guard.accept(header(6n, T0 - 61_000))),
    "stale",
  );
  assert.equal(
    codeOf(() => guard.accept(header(6n, T0 + 61_000))),
    "stale",
  );
  assert.deepEqual(guard.rejections, { replay: 4, stale: 2 });
  assert.equal(
    codeOf(() => guard.accept({ ...header(7n), issuedAtMs: Number.NaN })),
    "malformed",
  );
  assert.equal(guard.highestSequence("member-a"), 5n);
  // Another member has its own sequence space.
  guard.accept({ ...header(1n), memberId: "member-b" });
  // State survives a snapshot/restore (as JSON).
  now += 10_000;
  const restored = new ReplayGuard(
    { now: () => now, maxClockSkewMs: 60_000 },
    JSON.parse(JSON.stringify(guard.snapshot())),
  );
  assert.equal(
    codeOf(() => restored.accept(header(5n, now))),
    "replay",
  );
  assert.equal(
    codeOf(() => restored.accept({ ...header(9n, now), nonce: h1.nonce })),
    "replay",
  );
  restored.accept(header(6n, now));
});

test("replay guard: a reorder window accepts late but unseen sequences once", () => {
  const guard = new ReplayGuard({ now: () => T0, reorderWindow: 4 });
  guard.accept(header(10n));
  guard.accept(header(8n));
  assert.equal(
    codeOf(() => guard.accept(header(8n))),
    "replay",
  );
  guard.accept(header(7n));
  assert.equal(
    codeOf(() => guard.accept(header(6n))),
    "replay",
  ); // 6 + 4 <= 10: outside the window
  guard.accept(header(11n));
  assert.equal(
    codeOf(() => guard.accept(header(10n))),
    "replay",
  );
});

test("property: a sequence of fresh messages is accepted once each, never twice", () => {
  fc.assert(
    fc.property(fc.array(fc.bigInt({ min: 0n, max: 50n }), { maxLength: 60 }), (seqs) => {
      const guard = new ReplayGuard({ now: () => T0 });
      let highest = -1n;
      for (const s of seqs) {
        const h = header(s);
        const expected = s > highest ? "none" : "replay";
        assert.equal(
          codeOf(() => guard.accept(h)),
          expected,
        );
        if (s > highest) highest = s;
        assert.equal(
          codeOf(() => guard.accept(h)),
          "replay",
        );
      }
    }),
    { numRuns: 100 },
  );
});
