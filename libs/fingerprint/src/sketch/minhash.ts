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
import { fmix32, murmur3x86_32, utf8 } from "./sketch-keys.js";

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
  const bytes = utf8(token);
  const pair = [murmur3x86_32(bytes, seed0), murmur3x86_32(bytes, seed1)] as const;
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
