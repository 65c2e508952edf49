import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { tokenize } from "../probe/tokenize.js";
import {
  dedupeShingles,
  minhashRows,
  minhashRowsInto,
  oneShotMinhash,
  ShingleBuffer,
  type ShingleHashes,
  scopeShingles,
  scopeShinglesInto,
  shingleHashes,
  textShingleHashes,
} from "./minhash.js";
import { fmix32, utf8 } from "./sketch-keys.js";

/** Two token sets of sizes with a controlled intersection; returns them and their exact Jaccard. */
function pair(shared: number, onlyA: number, onlyB: number, salt: number) {
  const tok = (i: number) => `w${salt}_${i}`;
  const a: string[] = [];
  const b: string[] = [];
  for (let i = 0; i < shared; i++) {
    a.push(tok(i));
    b.push(tok(i));
  }
  for (let i = 0; i < onlyA; i++) a.push(tok(shared + i));
  for (let i = 0; i < onlyB; i++) b.push(tok(shared + onlyA + i));
  return { a, b, jaccard: shared / (shared + onlyA + onlyB) };
}

// 1-shingles so the shingle sets are exactly the token sets.
const hash = (t: string[]) => shingleHashes(t, 1, 0x1234, 0x5678);

function agreement(x: Uint32Array, y: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === y[i]) n++;
  return n / x.length;
}

describe("minhash", () => {
  it("shingles: k consecutive tokens, one shingle for a short text, none for no tokens", () => {
    assert.equal(shingleHashes(["a", "b", "c"], 2, 1, 2).a.length, 2);
    assert.equal(shingleHashes(["a"], 2, 1, 2).a.length, 1);
    assert.equal(shingleHashes([], 2, 1, 2).a.length, 0);
    // Order matters: "a b" and "b a" are different shingles.
    assert.notEqual(shingleHashes(["a", "b"], 2, 1, 2).a[0], shingleHashes(["b", "a"], 2, 1, 2).a[0]);
    // Duplicates do not change a MinHash.
    const seeds = Uint32Array.from([1, 2, 3]);
    assert.deepEqual(minhashRows(hash(["x", "y"]), seeds), minhashRows(hash(["x", "y", "x", "y"]), seeds));
  });

  it("row agreement estimates Jaccard within the MinHash error bound (k hashes, random sets)", () => {
    const seeds = Uint32Array.from({ length: 256 }, (_, i) => fmix32(i + 77));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer(),
        (shared, onlyA, onlyB, salt) => {
          const { a, b, jaccard } = pair(shared, onlyA, onlyB, salt);
          const est = agreement(minhashRows(hash(a), seeds), minhashRows(hash(b), seeds));
          // Standard error sqrt(J(1-J)/k); 5 sigma plus a floor keeps the property exact enough to fail
          // on a biased hash family while never flaking.
          const bound = 5 * Math.sqrt((jaccard * (1 - jaccard)) / seeds.length) + 0.02;
          assert.ok(Math.abs(est - jaccard) <= bound, `J=${jaccard} est=${est}`);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("densified one-permutation MinHash estimates Jaccard too, for small and large sets", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer(),
        (shared, onlyA, onlyB, salt) => {
          // Both sets non-empty: the one-permutation sketch of no shingles is null (tested below).
          fc.pre(shared + onlyB > 0);
          const { a, b, jaccard } = pair(shared, onlyA, onlyB, salt);
          const ha: ShingleHashes = hash(a);
          const hb: ShingleHashes = hash(b);
          const x = oneShotMinhash(ha.a, ha.b, ha.a.length, 512, 99, 100) as Uint32Array;
          const y = oneShotMinhash(hb.a, hb.b, hb.a.length, 512, 99, 100) as Uint32Array;
          const est = agreement(x, y);
          const bound = 5 * Math.sqrt((jaccard * (1 - jaccard)) / 512) + 0.03;
          assert.ok(Math.abs(est - jaccard) <= bound, `J=${jaccard} est=${est}`);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("one-permutation MinHash of no shingles is null; a single shingle fills every bin", () => {
    assert.equal(oneShotMinhash(new Uint32Array(0), new Uint32Array(0), 0, 512, 1, 2), null);
    const one = oneShotMinhash(Uint32Array.of(5), Uint32Array.of(6), 1, 512, 1, 2) as Uint32Array;
    assert.equal(new Set(one).size, 1);
    assert.throws(() => oneShotMinhash(Uint32Array.of(5), Uint32Array.of(6), 1, 500, 1, 2), RangeError);
  });
});

describe("the sketch builder's buffered kernels equal the reference functions", () => {
  const text = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc
      .array(
        fc.constantFrom("The", "cat", "don't", "zx-4471.corp", ",", "!", "Café", "’s", " ", "\n", "é", "🙂"),
        {
          maxLength: 40,
        },
      )
      .map((w) => w.join(" ")),
  );
  it("textShingleHashes = shingleHashes(tokenize(text)); minhashRowsInto = minhashRows; scopeShinglesInto = scopeShingles", () => {
    const buf = new ShingleBuffer();
    const scoped = new ShingleBuffer();
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 4 }), fc.integer(), fc.integer(), (t, k, s0, s1) => {
        const want = shingleHashes(tokenize(t), k, s0 >>> 0, s1 >>> 0);
        textShingleHashes(t, k, s0 >>> 0, s1 >>> 0, new Map(), buf);
        assert.deepEqual(buf.a.slice(0, buf.length), want.a);
        assert.deepEqual(buf.b.slice(0, buf.length), want.b);
        if (buf.length === 0) return;
        const seeds = Uint32Array.from({ length: 7 }, (_, i) => fmix32(s0 + i));
        const rows = new Uint32Array(7);
        minhashRowsInto(buf.a, buf.b, buf.length, seeds, rows);
        assert.deepEqual(rows, minhashRows(want, seeds));
        const outA = new Uint32Array(want.a.length);
        const outB = new Uint32Array(want.a.length);
        scopeShingles(want, "probe-é", s1 >>> 0, s0 >>> 0, outA, outB, 0);
        scoped.length = 0;
        scopeShinglesInto(buf.a, buf.b, buf.length, utf8("probe-é"), s1 >>> 0, s0 >>> 0, scoped);
        assert.deepEqual(scoped.a.slice(0, scoped.length), outA);
        assert.deepEqual(scoped.b.slice(0, scoped.length), outB);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("dedupeShingles", () => {
  it("keeps the first occurrence of each pair, in order, and so every minimum", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 3 })), {
          maxLength: 200,
        }),
        (pairs) => {
          const buf = new ShingleBuffer();
          buf.reserve(pairs.length);
          // Spread small values over the whole u32 range (and collide on the low bits) via fmix32.
          pairs.forEach(([x, y], i) => {
            buf.a[i] = fmix32(x) & 0xff00000f;
            buf.b[i] = fmix32(y + 100);
          });
          buf.length = pairs.length;
          const want: string[] = [];
          for (let i = 0; i < pairs.length; i++) {
            const k = `${buf.a[i]},${buf.b[i]}`;
            if (!want.includes(k)) want.push(k);
          }
          const seeds = Uint32Array.from([1, 2, 3, 4, 5]);
          const before = new Uint32Array(5);
          if (pairs.length > 0) minhashRowsInto(buf.a, buf.b, buf.length, seeds, before);
          dedupeShingles(buf);
          const got = Array.from({ length: buf.length }, (_, i) => `${buf.a[i]},${buf.b[i]}`);
          assert.deepEqual(got, want);
          const after = new Uint32Array(5);
          if (pairs.length > 0) minhashRowsInto(buf.a, buf.b, buf.length, seeds, after);
          assert.deepEqual(after, before);
        },
      ),
      { numRuns: 500 },
    );
  });
});
