import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { toHex } from "./bytes.js";
import {
  type CanaryPair,
  CanaryPairCommitment,
  canaryPairItemBytes,
  canaryPairLeafData,
  verifyCanaryPairDisclosure,
} from "./canary-pair.js";
import { CryptoError, type CryptoErrorCode } from "./crypto-error.js";

function codeOf(fn: () => unknown): CryptoErrorCode | "none" {
  try {
    fn();
    return "none";
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
}

const pairs: CanaryPair[] = Array.from({ length: 5 }, (_, i) => ({
  pairId: `p${i}`,
  a: { prompt: `prompt a${i}`, expected: `ans a${i}` },
  b: { prompt: `prompt b${i}`, expected: `ans b${i}` },
}));
const salts = pairs.map((_, i) => new Uint8Array(32).fill(i));

// Expected hex printed by `python3 scripts/vectors/lineage_vectors.py` (v2.item, v2.leaf, v2.root5): an
// independent implementation from the spec, with every domain string written out literally.
test("pair item, leaf and root match the independent vectors (v2 domains pinned)", () => {
  const item = canaryPairItemBytes({
    pairId: "pair-7",
    a: { prompt: "Quel est le mot? é", expected: "zq-7919" },
    b: { prompt: "What is the code word?", expected: "vex-1123" },
  });
  assert.equal(
    toHex(item),
    "6c696e656167652f63616e6172792d706169722f76320000000006706169722d37000000135175656c20657374206c65206d6f743f20c3a9000000077a712d3739313900000016576861742069732074686520636f646520776f72643f000000087665782d31313233",
  );
  const salt = Uint8Array.from({ length: 32 }, (_, i) => i);
  assert.equal(
    toHex(canaryPairLeafData(salt, item)),
    "8a9e8b2629bd8117e3ed973570099fa5c08c6bc442a85dfee241799d13933f75",
  );
  assert.equal(
    toHex(CanaryPairCommitment.create(pairs, salts).root),
    "78c3abcfa1a2d82b83b8f89064e03668994e8653aad918e57a65ad3a3e5ad18a",
  );
});

test("pair item is injective: moving text between fields or swapping items changes it", () => {
  const base = pairs[0] as CanaryPair;
  const swapped = { ...base, a: base.b, b: base.a };
  assert.notEqual(toHex(canaryPairItemBytes(base)), toHex(canaryPairItemBytes(swapped)));
  fc.assert(
    fc.property(
      fc.array(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 5, maxLength: 5 }),
      fc.array(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 5, maxLength: 5 }),
      (x, y) => {
        const mk = (v: string[]): CanaryPair => ({
          pairId: v[0] as string,
          a: { prompt: v[1] as string, expected: v[2] as string },
          b: { prompt: v[3] as string, expected: v[4] as string },
        });
        const same = x.every((s, i) => s === y[i]);
        // Lone surrogates are refused, so only well-formed strings reach the encoder.
        if ([...x, ...y].some((s) => /\p{Cs}/u.test(s))) return;
        assert.equal(toHex(canaryPairItemBytes(mk(x))) === toHex(canaryPairItemBytes(mk(y))), same);
      },
    ),
    { numRuns: 300 },
  );
});

test("every pair discloses and verifies; any changed field, salt, index or root fails with bad_proof", () => {
  const c = CanaryPairCommitment.create(pairs);
  for (let i = 0; i < pairs.length; i++) verifyCanaryPairDisclosure(c.toPublic(), c.disclose(i));
  const d = c.disclose(3);
  const p = d.pair;
  for (const changed of [
    { ...p, pairId: "p4" },
    { ...p, a: { ...p.a, expected: "other" } },
    { ...p, b: { ...p.b, prompt: "other" } },
    { ...p, a: p.b, b: p.a },
  ]) {
    assert.equal(
      codeOf(() => verifyCanaryPairDisclosure(c.toPublic(), { ...d, pair: changed })),
      "bad_proof",
    );
  }
  assert.equal(
    codeOf(() => verifyCanaryPairDisclosure(c.toPublic(), { ...d, index: 2 })),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyCanaryPairDisclosure(c.toPublic(), { ...d, salt: new Uint8Array(32) })),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyCanaryPairDisclosure({ root: c.root, size: 4 }, d)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyCanaryPairDisclosure(c.toPublic(), { ...d, salt: new Uint8Array(31) })),
    "malformed",
  );
  assert.equal(
    codeOf(() => verifyCanaryPairDisclosure(c.toPublic(), { ...d, pair: { ...p, pairId: "" } })),
    "malformed",
  );
  assert.equal(
    codeOf(() => verifyCanaryPairDisclosure(c.toPublic(), { ...d, pair: { ...p, a: null } as never })),
    "malformed",
  );
  // The same pairs re-opened with the stored salts give the same root; fresh salts another.
  assert.deepEqual(CanaryPairCommitment.create(c.pairs, c.salts).root, c.root);
  assert.notDeepEqual(CanaryPairCommitment.create(pairs).root, c.root);
});

test("create refuses empty sets, repeated ids, bad salts and oversized text with codes", () => {
  assert.equal(
    codeOf(() => CanaryPairCommitment.create([])),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => CanaryPairCommitment.create([pairs[0] as CanaryPair, pairs[0] as CanaryPair])),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => CanaryPairCommitment.create(pairs, salts.slice(1))),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => canaryPairItemBytes({ ...(pairs[0] as CanaryPair), pairId: "x".repeat(65) })),
    "too_large",
  );
  assert.equal(
    codeOf(() =>
      canaryPairItemBytes({ ...(pairs[0] as CanaryPair), a: { prompt: "\ud800", expected: "x" } }),
    ),
    "malformed",
  );
  // Errors never carry the canary text.
  try {
    canaryPairItemBytes({ ...(pairs[0] as CanaryPair), b: { prompt: "secret prompt", expected: "" } });
    assert.fail("expected a throw");
  } catch (e) {
    assert.ok(e instanceof CryptoError && !e.message.includes("secret prompt"));
  }
});
