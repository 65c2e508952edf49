/**
 * MinHash over word shingles, sketch version 1 (see sketch-types.ts and sketch-keys.ts).
 *
 * - Shingles: every run of SHINGLE_SIZE consecutive Lineage tokens; a response shorter than that is one
 *   shingle of all its tokens. A shingle is a pair of u32 (a, b) folded from its tokens' keyed hashes.
 * - Per-probe signature: PROBE_ROWS independent keyed hash functions, row i = min over shingles of
 *   fmix32(fmix32(a ^ rowSeed[i]) + b) (Broder 1997: P[rows equal] = Jaccard).
 * - Coarse signature: one-permutation hashing with optimal densification (Li, Owen, Zhang, "One
 *   Permutation Hashing", NeurIPS 2012; Shrivastava, "Optimal Densification for Fast and Accurate Minwise
 *   Hashing", ICML 2017): each shingle is hashed once, into one of COARSE_BANDS bins, the bin keeps its
 *   minimum, and an empty bin borrows the value of the first non-empty bin on its own keyed probe
 *   sequence. One hash per shingle instead of 512 makes the whole-model signature over ~10^5 shingles
 *   cheap, and densified bins still agree with probability ~ Jaccard.
 * Duplicated shingles need no de-duplication: a minimum is idempotent.
 */
import { tokenSpans } from "../probe/tokenize.js";
import {
  fmix32,
  murmur3x86_32,
  murmur3x86_32AsciiPairInto,
  murmur3x86_32String,
  utf8,
} from "./sketch-keys.js";

/** Keyed (a, b) hashes of a text's shingles, in order of appearance (duplicates kept). */
export interface ShingleHashes {
  readonly a: Uint32Array;
  readonly b: Uint32Array;
}

/** Token -> keyed hash pair (murmur3 under the two token seeds); valid for one pair of seeds. */
export type TokenHashCache = Map<string, readonly [number, number]>;

function tokenPair(token: string, seed0: number, seed1: number, cache: TokenHashCache | undefined) {
  const hit = cache?.get(token);
  if (hit !== undefined) return hit;
  const pair = [murmur3x86_32String(token, seed0), murmur3x86_32String(token, seed1)] as const;
  cache?.set(token, pair);
  return pair;
}

/**
 * Hashes a token sequence into shingle hashes: shingles of `k` tokens folded as
 *   a = fmix32(imul(a ^ tokA, 0x9e3779b1) + tokB),  b = fmix32(imul(b ^ tokB, 0x85ebca77) + tokA)
 * starting from a = k, b = ~k.
 */
export function shingleHashes(
  tokens: readonly string[],
  k: number,
  seed0: number,
  seed1: number,
  cache?: TokenHashCache,
): ShingleHashes {
  const n = tokens.length;
  if (n === 0) return { a: new Uint32Array(0), b: new Uint32Array(0) };
  const ta = new Uint32Array(n);
  const tb = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const [x, y] = tokenPair(tokens[i] ?? "", seed0, seed1, cache);
    ta[i] = x;
    tb[i] = y;
  }
  const width = Math.min(k, n);
  const count = n - width + 1;
  const a = new Uint32Array(count);
  const b = new Uint32Array(count);
  for (let s = 0; s < count; s++) {
    let ha = width >>> 0;
    let hb = ~width >>> 0;
    for (let j = 0; j < width; j++) {
      const x = ta[s + j] ?? 0;
      const y = tb[s + j] ?? 0;
      ha = fmix32((Math.imul(ha ^ x, 0x9e3779b1) + y) >>> 0);
      hb = fmix32((Math.imul(hb ^ y, 0x85ebca77) + x) >>> 0);
    }
    a[s] = ha;
    b[s] = hb;
  }
  return { a, b };
}

/** MinHash rows: row i = min over shingles of fmix32(fmix32(a ^ seeds[i]) + b). Requires >= 1 shingle. */
export function minhashRows(sh: ShingleHashes, seeds: Uint32Array): Uint32Array {
  const rows = new Uint32Array(seeds.length).fill(0xffffffff);
  const { a, b } = sh;
  for (let i = 0; i < seeds.length; i++) {
    const s = seeds[i] ?? 0;
    let m = 0xffffffff;
    for (let j = 0; j < a.length; j++) {
      const v = fmix32((fmix32(((a[j] ?? 0) ^ s) >>> 0) + (b[j] ?? 0)) >>> 0);
      if (v < m) m = v;
    }
    rows[i] = m;
  }
  return rows;
}

/**
 * Scopes shingle hashes to a probe (so the coarse signature is over (probe, shingle) pairs) by mixing in
 * the probe id's keyed hash; appends into `outA`/`outB` from `offset`.
 */
export function scopeShingles(
  sh: ShingleHashes,
  probeId: string,
  seed0: number,
  seed1: number,
  outA: Uint32Array,
  outB: Uint32Array,
  offset: number,
): number {
  const bytes = utf8(probeId);
  const pa = murmur3x86_32(bytes, seed0);
  const pb = murmur3x86_32(bytes, seed1);
  let o = offset;
  for (let j = 0; j < sh.a.length; j++) {
    outA[o] = fmix32((Math.imul((sh.a[j] ?? 0) ^ pa, 0x9e3779b1) + pb) >>> 0);
    outB[o] = fmix32((Math.imul((sh.b[j] ?? 0) ^ pb, 0x85ebca77) + pa) >>> 0);
    o++;
  }
  return o;
}

/**
 * Densified one-permutation MinHash into `bins` (a power of two <= 2^16) bins: bin = top bits of
 * fmix32(a ^ seed0), value = fmix32(b ^ seed1); an empty bin i takes the value of bin
 * fmix32(imul(i + 1, 0x9e3779b1) ^ imul(t, 0x85ebca77) ^ seed0) mod bins for the first t = 1, 2, ... that
 * lands on a non-empty bin. Returns null when there are no shingles.
 */
export function oneShotMinhash(
  a: Uint32Array,
  b: Uint32Array,
  count: number,
  bins: number,
  seed0: number,
  seed1: number,
): Uint32Array | null {
  if (count === 0) return null;
  if (!(bins > 0 && bins <= 65536 && (bins & (bins - 1)) === 0)) {
    throw new RangeError("oneShotMinhash: bins must be a power of two <= 65536");
  }
  const shift = 32 - Math.log2(bins);
  const vals = new Uint32Array(bins).fill(0xffffffff);
  const filled = new Uint8Array(bins);
  for (let j = 0; j < count; j++) {
    const bin = shift === 32 ? 0 : fmix32(((a[j] ?? 0) ^ seed0) >>> 0) >>> shift;
    const v = fmix32(((b[j] ?? 0) ^ seed1) >>> 0);
    filled[bin] = 1;
    if (v < (vals[bin] ?? 0xffffffff)) vals[bin] = v;
  }
  const out = vals.slice();
  for (let i = 0; i < bins; i++) {
    if (filled[i] === 1) continue;
    let found = -1;
    for (let t = 1; t <= 64 * bins && found < 0; t++) {
      const j = fmix32((Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(t, 0x85ebca77) ^ seed0) >>> 0) & (bins - 1);
      if (filled[j] === 1) found = j;
    }
    // Unreachable in practice ((1 - 1/bins)^(64 bins) < e^-64), but keeps the loop bounded and defined.
    for (let j = (i + 1) & (bins - 1); found < 0; j = (j + 1) & (bins - 1)) if (filled[j] === 1) found = j;
    out[i] = vals[found] ?? 0;
  }
  return out;
}

/**
 * Growable (a, b) buffers of shingle hashes: `length` pairs are valid. The sketch builder reuses them
 * across probes instead of allocating per text.
 */
export class ShingleBuffer {
  a = new Uint32Array(256);
  b = new Uint32Array(256);
  length = 0;

  /** Makes room for `n` pairs, keeping the first `length`. */
  reserve(n: number): void {
    if (this.a.length >= n) return;
    const size = Math.max(n, 2 * this.a.length);
    const a = new Uint32Array(size);
    const b = new Uint32Array(size);
    a.set(this.a.subarray(0, this.length));
    b.set(this.b.subarray(0, this.length));
    this.a = a;
    this.b = b;
  }
}

let tokA = new Uint32Array(1024);
let tokB = new Uint32Array(1024);

/**
 * shingleHashes(tokenize(text), k, seed0, seed1, cache) written into `out` (from 0; sets out.length):
 * the same values, but a pure-ASCII text is tokenized into spans and its tokens hashed in place, with
 * no string per ASCII token (probe/tokenize.ts tokenSpans); other tokens go through the cache.
 */
export function textShingleHashes(
  text: string,
  k: number,
  seed0: number,
  seed1: number,
  cache: TokenHashCache | undefined,
  out: ShingleBuffer,
): void {
  const { lower, spans, count: n, ascii } = tokenSpans(text);
  if (tokA.length < n) {
    tokA = new Uint32Array(2 * n);
    tokB = new Uint32Array(2 * n);
  }
  for (let i = 0; i < n; i++) {
    const from = spans[2 * i] as number;
    const end = spans[2 * i + 1] as number;
    let inPlace = ascii;
    if (!inPlace) {
      inPlace = true;
      for (let j = from; j < end; j++) {
        if (lower.charCodeAt(j) > 0x7f) {
          inPlace = false;
          break;
        }
      }
    }
    if (inPlace) {
      // An ASCII token's UTF-8 bytes are its char codes: hashed without making the token. Written
      // straight into the arrays: a returned u32 would be boxed when the call is not inlined.
      murmur3x86_32AsciiPairInto(lower, from, end, seed0, seed1, tokA, tokB, i);
    } else {
      const pair = tokenPair(lower.slice(from, end), seed0, seed1, cache);
      tokA[i] = pair[0];
      tokB[i] = pair[1];
    }
  }
  if (n === 0) {
    out.length = 0;
    return;
  }
  const width = Math.min(k, n);
  const count = n - width + 1;
  out.length = 0;
  out.reserve(count);
  const { a, b } = out;
  for (let s = 0; s < count; s++) {
    let ha = width | 0;
    let hb = ~width;
    for (let j = 0; j < width; j++) {
      const x = tokA[s + j] as number;
      const y = tokB[s + j] as number;
      ha = fmix32(Math.imul(ha ^ x, 0x9e3779b1) + y);
      hb = fmix32(Math.imul(hb ^ y, 0x85ebca77) + x);
    }
    a[s] = ha;
    b[s] = hb;
  }
  out.length = count;
}

let seenA = new Uint32Array(0);
let seenB = new Uint32Array(0);
let seenStamp = new Uint32Array(0);
let stamp = 0;

/**
 * Drops repeated (a, b) pairs from `buf` in place, keeping first occurrences in order. Every signature
 * of a sketch is a minimum (per row, per bin), so repeats change nothing but cost a pass each: real
 * responses repeat ~28% of their 2-shingles. Open addressing over a stamped scratch table (no clearing).
 */
export function dedupeShingles(buf: ShingleBuffer): void {
  const n = buf.length;
  if (n < 2) return;
  let size = 16;
  while (size < 2 * n) size *= 2;
  if (seenStamp.length < size) {
    seenA = new Uint32Array(size);
    seenB = new Uint32Array(size);
    seenStamp = new Uint32Array(size);
    stamp = 0;
  }
  stamp++;
  if (stamp === 0xffffffff) {
    seenStamp.fill(0);
    stamp = 1;
  }
  const mask = size - 1;
  const { a, b } = buf;
  let o = 0;
  for (let j = 0; j < n; j++) {
    const x = a[j] as number;
    const y = b[j] as number;
    let h = x & mask; // a is already a mixed hash
    for (;;) {
      if (seenStamp[h] !== stamp) {
        seenStamp[h] = stamp;
        seenA[h] = x;
        seenB[h] = y;
        a[o] = x;
        b[o] = y;
        o++;
        break;
      }
      if (seenA[h] === x && seenB[h] === y) break;
      h = (h + 1) & mask;
    }
  }
  buf.length = o;
}

/** fmix32(fmix32(x ^ s) + y) as an int32 (both finalizers inlined by hand). */
function rowValue(x: number, y: number, s: number): number {
  let h = x ^ s;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h = (h + y) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * minhashRows over the first `count` pairs of (a, b), written into `rows` (one row per seed). Four
 * rows per pass over the shingles; minima compared as unsigned (x ^ 0x80000000 maps u32 order onto
 * int32 order, so every value stays an int32).
 */
export function minhashRowsInto(
  a: Uint32Array,
  b: Uint32Array,
  count: number,
  seeds: Uint32Array,
  rows: Uint32Array,
): void {
  const SIGN = -0x80000000;
  let i = 0;
  for (; i + 4 <= seeds.length; i += 4) {
    const s0 = seeds[i] as number;
    const s1 = seeds[i + 1] as number;
    const s2 = seeds[i + 2] as number;
    const s3 = seeds[i + 3] as number;
    let m0 = 0x7fffffff;
    let m1 = 0x7fffffff;
    let m2 = 0x7fffffff;
    let m3 = 0x7fffffff;
    for (let j = 0; j < count; j++) {
      const x = a[j] as number;
      const y = b[j] as number;
      const v0 = rowValue(x, y, s0) ^ SIGN;
      const v1 = rowValue(x, y, s1) ^ SIGN;
      const v2 = rowValue(x, y, s2) ^ SIGN;
      const v3 = rowValue(x, y, s3) ^ SIGN;
      if (v0 < m0) m0 = v0;
      if (v1 < m1) m1 = v1;
      if (v2 < m2) m2 = v2;
      if (v3 < m3) m3 = v3;
    }
    rows[i] = m0 ^ SIGN;
    rows[i + 1] = m1 ^ SIGN;
    rows[i + 2] = m2 ^ SIGN;
    rows[i + 3] = m3 ^ SIGN;
  }
  for (; i < seeds.length; i++) {
    const s = seeds[i] as number;
    let m = 0x7fffffff;
    for (let j = 0; j < count; j++) {
      const v = rowValue(a[j] as number, b[j] as number, s) ^ SIGN;
      if (v < m) m = v;
    }
    rows[i] = m ^ SIGN;
  }
}

/** scopeShingles of the first `count` pairs of `sh` under a probe id's bytes, appended to `out`. */
export function scopeShinglesInto(
  a: Uint32Array,
  b: Uint32Array,
  count: number,
  probeIdBytes: Uint8Array,
  seed0: number,
  seed1: number,
  out: ShingleBuffer,
): void {
  const pa = murmur3x86_32(probeIdBytes, seed0);
  const pb = murmur3x86_32(probeIdBytes, seed1);
  out.reserve(out.length + count);
  const outA = out.a;
  const outB = out.b;
  let o = out.length;
  for (let j = 0; j < count; j++) {
    outA[o] = fmix32(Math.imul((a[j] as number) ^ pa, 0x9e3779b1) + pb);
    outB[o] = fmix32(Math.imul((b[j] as number) ^ pb, 0x85ebca77) + pa);
    o++;
  }
  out.length = o;
}
