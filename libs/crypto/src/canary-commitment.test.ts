import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { concatBytes, sha256, toHex, utf8 } from "./bytes.js";
import {
  CANARY_LEAF_DOMAIN,
  CanaryCommitment,
  canaryLeafData,
  verifyCanaryDisclosure,
} from "./canary-commitment.js";
import { canaryItemBytes } from "./canary-item.js";
import { CryptoError, type CryptoErrorCode } from "./crypto-error.js";
import { hashLeaf } from "./merkle-hash.js";
import { MerkleTree } from "./merkle-tree.js";
import { deriveSeed, sampleIndices } from "./seeded-sample.js";

function codeOf(fn: () => unknown): CryptoErrorCode | "none" {
  try {
    fn();
    return "none";
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
}

const items = Array.from({ length: 20 }, (_, i) => utf8(`{"prompt":"canary ${i}","hit":"answer ${i}"}`));

test("leaf data is SHA-256(domain || 0x00 || salt || item) and the root is RFC 6962 over it", () => {
  const salt = new Uint8Array(32).fill(5);
  const expected = sha256(
    concatBytes(utf8(CANARY_LEAF_DOMAIN), new Uint8Array([0]), salt, items[0] as Uint8Array),
  );
  assert.deepEqual(canaryLeafData(salt, items[0] as Uint8Array), expected);
  const salts = items.map((_, i) => new Uint8Array(32).fill(i));
  const c = CanaryCommitment.create(items, salts);
  const leafData = items.map((it, i) => canaryLeafData(salts[i] as Uint8Array, it));
  assert.deepEqual(c.root, MerkleTree.fromLeaves(leafData).root());
  // Re-opening with the stored salts gives the same root; fresh salts give a different one.
  assert.deepEqual(CanaryCommitment.create(items, c.salts).root, c.root);
  assert.notDeepEqual(CanaryCommitment.create(items).root, c.root);
});

test("disclosures verify; a different item, salt, index or root fails with bad_proof", () => {
  const c = CanaryCommitment.create(items);
  for (let i = 0; i < items.length; i++) verifyCanaryDisclosure(c.toPublic(), c.disclose(i));
  const d = c.disclose(7);
  assert.equal(
    codeOf(() => verifyCanaryDisclosure(c.toPublic(), { ...d, item: utf8("something else") })),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyCanaryDisclosure(c.toPublic(), { ...d, salt: new Uint8Array(32) })),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyCanaryDisclosure(c.toPublic(), { ...d, index: 8 })),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyCanaryDisclosure({ root: c.root, size: 2 }, d)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyCanaryDisclosure({ root: hashLeaf(new Uint8Array()), size: 20 }, d)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyCanaryDisclosure(c.toPublic(), { ...d, salt: new Uint8Array(31) })),
    "malformed",
  );
  assert.equal(
    codeOf(() => CanaryCommitment.create([])),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() =>
      CanaryCommitment.create(
        items,
        items.slice(1).map(() => new Uint8Array(32)),
      ),
    ),
    "invalid_argument",
  );
});

test("sampleIndices is deterministic, distinct, in range, and pinned by golden values", () => {
  const seed = deriveSeed(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), "case-42");
  // Golden values pin version 1 of the derivation and the sampler (auditors reimplement them).
  assert.equal(
    toHex(seed),
    toHex(
      sha256(
        utf8("lineage/disclosure-seed/v1\0"),
        new Uint8Array(32).fill(1),
        new Uint8Array(32).fill(2),
        new Uint8Array([0, 0, 0, 7]),
        utf8("case-42"),
      ),
    ),
  );
  const s = sampleIndices(seed, 1000, 10);
  assert.deepEqual(s, sampleIndices(seed, 1000, 10));
  assert.equal(new Set(s).size, 10);
  assert.deepEqual(sampleIndices(seed, 1000, 5), s.slice(0, 5)); // prefix-stable
  assert.notDeepEqual(
    sampleIndices(deriveSeed(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), "case-43"), 1000, 10),
    s,
  );
  assert.deepEqual(sampleIndices(seed, 5, 5).sort(), [0, 1, 2, 3, 4]);
  assert.deepEqual(sampleIndices(seed, 0, 0), []);
  assert.equal(
    codeOf(() => sampleIndices(seed, 5, 6)),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => sampleIndices(new Uint8Array(8), 5, 1)),
    "invalid_argument",
  );
  // First index: first u32 word of SHA-256("lineage/sample/v1\0" || seed || u64be(0)) below floor(2^32/1000)*1000, mod 1000.
  const block = sha256(utf8("lineage/sample/v1\0"), seed, new Uint8Array(8));
  const w = new DataView(block.buffer, block.byteOffset, 4).getUint32(0);
  if (w < Math.floor(2 ** 32 / 1000) * 1000) assert.equal(s[0], w % 1000);
});

// Expected values printed by `python3 scripts/vectors/lineage_vectors.py` (v1.*, seed.case42, sample.*):
// an independent implementation with every domain string written out literally, so changing the v1 leaf
// domain, the seed domain or the sampler's stream domain fails here.
test("v1 leaf, root, deriveSeed and sampleIndices match the independent vectors", () => {
  const item = canaryItemBytes("Quel est le mot? é", "zq-7919");
  assert.equal(
    toHex(
      canaryLeafData(
        Uint8Array.from({ length: 32 }, (_, i) => i),
        item,
      ),
    ),
    "6d472c23b42cfb3a31d58f401243433b98ea86838233c87345dc40969be163e8",
  );
  const three = [0, 1, 2].map((i) => canaryItemBytes(`canary ${i}`, `answer ${i}`));
  assert.equal(
    toHex(
      CanaryCommitment.create(
        three,
        [0, 1, 2].map((i) => new Uint8Array(32).fill(i)),
      ).root,
    ),
    "cf6f4cd1af18e524e027a2ca7270879ab18cd0715b3dedc565192996ab0d81aa",
  );
  const seed = deriveSeed(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), "case-42");
  assert.equal(toHex(seed), "b4fbf34c86cdb9a1f3fc7f5b5ffd022fe34019683f95c8b9e4e18083d8278cd5");
  assert.equal(sampleIndices(seed, 1000, 10).join(","), "727,553,906,564,702,498,102,61,705,112");
  assert.equal(sampleIndices(seed, 7, 7).join(","), "5,1,3,0,6,4,2");
  // A population near 2^32: about 30% of words are rejected, so this pins the rejection rule.
  assert.equal(
    sampleIndices(seed, 3_000_000_000, 12).join(","),
    "463457727,524754563,2834955340,888475796,2655081472,114272158,2756445798,1489634444,272157862,1751720675,2682169500,754844784",
  );
});

test("property: samples are distinct, in range, and close to uniform", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: 1, max: 5000 }),
      fc.nat(),
      (seed, n, kk) => {
        const k = kk % (Math.min(n, 200) + 1);
        const s = sampleIndices(seed, n, k);
        assert.equal(s.length, k);
        assert.equal(new Set(s).size, k);
        for (const i of s) assert.ok(Number.isInteger(i) && i >= 0 && i < n);
      },
    ),
    { numRuns: 200 },
  );
  // Each of 10 positions is chosen about k/n = 30% of the time across 3000 seeds.
  const counts = new Array(10).fill(0) as number[];
  for (let t = 0; t < 3000; t++) {
    for (const i of sampleIndices(sha256(utf8(`seed ${t}`)), 10, 3)) counts[i] = (counts[i] as number) + 1;
  }
  for (const c of counts) assert.ok(Math.abs(c / 3000 - 0.3) < 0.04, `share ${c / 3000}`);
});
