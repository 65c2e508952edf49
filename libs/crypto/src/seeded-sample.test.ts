/**
 * sampleIndices (docs/specs/seeded-sample.md) on long draws and rejection-heavy populations, against an
 * independent implementation (scripts/vectors/lineage_vectors.py, which also cross-checks its sparse swap
 * against a plain Fisher–Yates). Short draws alone do not pin the algorithm: a sampler that read words
 * differently after the first block, skipped rejection, or swapped differently would agree on the first
 * few indices and differ later.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sha256, toHex, utf8 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { deriveSeed, MAX_SAMPLE_POPULATION, sampleIndices } from "./seeded-sample.js";

const SEED = deriveSeed(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), "case-42");

/** SHA-256 of the indices joined by "," in ASCII, as the Python script prints it. */
function digest(indices: readonly number[]): string {
  return toHex(sha256(utf8(indices.join(","))));
}

// Printed by `python3 scripts/vectors/lineage_vectors.py` (sample.100000.2000.*, sample.2p31+64.40,
// sample.2p32.6, sample.300.300.sha256).
test("long draws: every later index matches the independent vectors", () => {
  const long = sampleIndices(SEED, 100_000, 2_000);
  assert.equal(digest(long), "61b43b93abc4df6896629be3eecfbee0a44db35406f23787d1ca2902e1f54aa6");
  assert.equal(long.slice(1000, 1005).join(","), "69504,48598,83140,23458,46314");
  assert.equal(long.slice(-5).join(","), "38343,64666,66049,13975,51565");
  // Prefix stability: a shorter draw is the start of the longer one.
  assert.deepEqual(sampleIndices(SEED, 100_000, 1001), long.slice(0, 1001));
  const full = sampleIndices(SEED, 300, 300);
  assert.deepEqual(
    full.slice().sort((a, b) => a - b),
    Array.from({ length: 300 }, (_, i) => i),
  );
  assert.equal(digest(full), "86c4dda3044292e2a8e6534b02216d7ca8ebb588eb25f62846e6c6688eeb6e9e");
});

test("rejection: n = 2^31 + 64 rejects about half the words at every draw; n = 2^32 rejects none", () => {
  // Every m = n - i of this draw is above 2^31, so floor(2^32 / m) * m = m: 44 of the 84 words read are
  // rejected (counted by the Python script's stream), so a sampler without rejection, or one that rejects
  // by another bound, differs from the first rejected word on.
  assert.equal(
    sampleIndices(SEED, 2 ** 31 + 64, 40).join(","),
    "463457727,524754563,888475795,114272156,1489634441,272157859,1751720672,754844780,1275519182,981218977,4487866,229014260,2054778546,1511261080,365900528,313864318,424778338,1353313016,402715910,190193958,986414035,241661195,879050019,273043828,1449441406,1476772220,419635497,1566225845,1634776156,8164322,1442222175,2077252259,1564831317,390667991,1205163434,1866157821,1537576083,16700899,258144972,1106738467",
  );
  assert.equal(
    sampleIndices(SEED, MAX_SAMPLE_POPULATION, 6).join(","),
    "463457727,3076744729,4210921188,524754565,2834955342,888475798",
  );
});

test("the first index follows the spec from the raw stream (no rejection at n = 2^32)", () => {
  // uniform(2^32) is the first word itself: word 0 of block 0.
  const block = sha256(utf8("lineage/sample/v1\0"), SEED, new Uint8Array(8));
  const w0 = new DataView(block.buffer, block.byteOffset, 4).getUint32(0);
  assert.equal(sampleIndices(SEED, MAX_SAMPLE_POPULATION, 1)[0], w0);
});

test("out-of-range draws are refused with their codes", () => {
  const code = (c: string) => (e: unknown) => e instanceof CryptoError && e.code === c;
  assert.throws(() => sampleIndices(SEED, MAX_SAMPLE_POPULATION + 1, 1), code("invalid_argument"));
  assert.throws(() => sampleIndices(SEED, 2 ** 21, 2 ** 20 + 1), code("too_large"));
  assert.throws(() => sampleIndices(SEED.subarray(0, 15), 10, 1), code("invalid_argument"));
});
