/**
 * The coarse first stage of retrieval, sized for 100,000+ protected models (issue 10): an inverted index
 * from each coarse LSH band's digest to the models holding it, in flat typed arrays (no per-entry
 * objects), so a query counts per model the bands it shares with the suspect (LSH_V1: r = 1 rows per
 * band, a candidate needs >= minAgreeingBands equal bands; lsh-params.ts) in one pass over the postings.
 *
 * Layout, per band b of COARSE_BANDS: `keys[b]` (the first 4 bytes of each model's 8-byte band digest,
 * sorted) and `ords[b]` (the model ordinal of each key), plus each model's keys in a row-major matrix —
 * 12 bytes per model and band, ~6 KiB per model (600 MiB at 100,000 models).
 * A per-band directory on the keys' top bits (~8 keys a slot) turns each bucket lookup into one
 * directory read and a binary search over a few neighbouring keys, instead of ~17 cache misses.
 * New models go to a small append-only delta (scanned linearly) that is merged into the sorted base when
 * full; removed models are only flagged dead and skipped (compacted on the next rebuild). A query is
 * 512 bucket lookups, one counter increment per posting in the buckets it counts (smallest first, within
 * a posting budget), and an exact count for a few hundred finalists (see {@link BandIndex.query}); a 32-bit
 * key prefix makes a false band agreement between different digests a 2^-32 event per compared band.
 * Nothing is allocated per query but the few hits returned.
 */
import { COARSE_BANDS, COARSE_DIGEST_BYTES } from "@lineage/fingerprint";
import { HubError } from "../ingest/hub-error.js";

/** Models an index can hold over its life (ordinals are packed with keys into float64 while merging). */
export const MAX_ORDINALS = 1 << 21;
const ORD_SPAN = 2 ** 21;
/**
 * Postings stage 1 counts per query at most: the query's buckets are counted whole, smallest first, until
 * the next would pass this budget (~0.5 ms of counter increments). When every bucket fits, stage 1 is an
 * exact count; otherwise the H largest buckets (frequent digests) are left to stage 2 — see
 * {@link BandIndex.query} for what that guarantees.
 */
export const DEFAULT_POSTING_BUDGET = 1 << 14;
/** Stage-2 finalists per requested hit (at least MIN_FINALISTS). */
export const FINALISTS_FACTOR = 8;
export const MIN_FINALISTS = 256;
/** Models held in the delta before it is merged into the sorted base. */
export const DEFAULT_DELTA_CAPACITY = 2048;

/** What the last query did (for benchmarks and operators). */
export interface QueryStats {
  /** Postings counted in stage 1. */
  readonly countedPostings: number;
  /** Bands whose buckets stage 1 did not count (H): a model sharing more than H bands has A - H counted. */
  readonly uncountedBands: number;
  /** Postings in those uncounted buckets. */
  readonly uncountedPostings: number;
  /** Models compared exactly in stage 2. */
  readonly finalists: number;
}

/** One model found by the coarse stage. */
export interface CoarseHit {
  readonly ordinal: number;
  /** Coarse bands it shares with the query (0..COARSE_BANDS). */
  readonly agreeingBands: number;
}

function bandKeys(coarse: Uint8Array, out: Uint32Array = new Uint32Array(COARSE_BANDS)): Uint32Array {
  if (!(coarse instanceof Uint8Array) || coarse.length !== COARSE_BANDS * COARSE_DIGEST_BYTES) {
    throw new HubError(
      "invalid_argument",
      `a coarse signature is ${COARSE_BANDS * COARSE_DIGEST_BYTES} bytes`,
    );
  }
  const dv = new DataView(coarse.buffer, coarse.byteOffset, coarse.byteLength);
  for (let b = 0; b < COARSE_BANDS; b++) out[b] = dv.getUint32(b * COARSE_DIGEST_BYTES);
  return out;
}

/** Bands gathered per pass when building (COARSE_BANDS is a multiple; 16 keys = one 64-byte cache line). */
const BUILD_BLOCK = 16;

/** Radix sort digits: three passes over 11, 11 and 10 bits of a 32-bit key. */
const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;

/**
 * Sorts (key, ordinal) pairs by key into `keysOut` / `ordsOut`, ties keeping their input order — the order
 * of sorting key x 2^21 + ordinal as one number when the ordinals come ascending. LSD radix sort in three
 * passes (input -> out -> scratch -> out): linear, where the comparison sort of 100,000 keys per band was
 * most of a rebuild.
 */
function sortByKey(
  keys: Uint32Array,
  ords: Uint32Array,
  keysOut: Uint32Array,
  ordsOut: Uint32Array,
  scratch: { readonly keys: Uint32Array; readonly ords: Uint32Array },
): void {
  const n = keys.length;
  const mask = RADIX - 1;
  const counts = new Uint32Array(3 * RADIX);
  for (let i = 0; i < n; i++) {
    const k = keys[i] as number;
    for (let pass = 0; pass < 3; pass++) {
      const slot = pass * RADIX + ((k >>> (pass * RADIX_BITS)) & mask);
      counts[slot] = (counts[slot] as number) + 1;
    }
  }
  let srcK = keys;
  let srcO = ords;
  for (let pass = 0; pass < 3; pass++) {
    const dstK = pass === 1 ? scratch.keys : keysOut;
    const dstO = pass === 1 ? scratch.ords : ordsOut;
    const base = pass * RADIX;
    const shift = pass * RADIX_BITS;
    let sum = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = counts[base + d] as number;
      counts[base + d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = srcK[i] as number;
      const slot = base + ((k >>> shift) & mask);
      const at = counts[slot] as number;
      counts[slot] = at + 1;
      dstK[at] = k;
      dstO[at] = srcO[i] as number;
    }
    srcK = dstK;
    srcO = dstO;
  }
}

function lowerBound(keys: Uint32Array, from: number, to: number, key: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as number) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Directory bits for n keys: ~8 keys a slot, 2^4..2^20 slots. */
function directoryBits(n: number): number {
  return Math.min(20, Math.max(4, Math.ceil(Math.log2(Math.max(1, n))) - 3));
}

/** dir[s] = first position whose key's top `bits` bits are >= s (dir[2^bits] = n). */
function buildDirectory(keys: Uint32Array, bits: number): Uint32Array {
  const slots = 1 << bits;
  const shift = 32 - bits;
  const dir = new Uint32Array(slots + 1);
  let i = 0;
  for (let s = 0; s < slots; s++) {
    dir[s] = i;
    while (i < keys.length && (keys[i] as number) >>> shift === s) i++;
  }
  dir[slots] = keys.length;
  return dir;
}

/** Inverted band index over model ordinals (assigned by the caller, dense from 0). */
export class BandIndex {
  readonly #deltaCapacity: number;
  readonly #postingBudget: number;
  #keys: Uint32Array[] = Array.from({ length: COARSE_BANDS }, () => new Uint32Array(0));
  #ords: Uint32Array[] = Array.from({ length: COARSE_BANDS }, () => new Uint32Array(0));
  #dirBits = 4;
  #dir: Uint32Array[] = Array.from({ length: COARSE_BANDS }, () => buildDirectory(new Uint32Array(0), 4));
  /** Band-major delta keys: deltaKeys[b * capacity + j]. */
  #deltaKeys: Uint32Array;
  #deltaOrds: Uint32Array;
  #deltaCount = 0;
  /** Each model's band keys, row-major (ordinal x COARSE_BANDS): exact agreement of the few finalists. */
  #matrix = new Uint32Array(1024 * COARSE_BANDS);
  #alive = new Uint8Array(1024);
  #counts = new Uint16Array(1024);
  #touched = new Uint32Array(1024);
  #ordinals = 0;
  #live = 0;
  // Per-query scratch (no allocation per query).
  readonly #q = new Uint32Array(COARSE_BANDS);
  readonly #lo = new Uint32Array(COARSE_BANDS);
  readonly #hi = new Uint32Array(COARSE_BANDS);
  readonly #order = new Float64Array(COARSE_BANDS);
  readonly #hist = new Uint32Array(COARSE_BANDS + 1);
  #finalists = new Uint32Array(1024);
  #stats: QueryStats = { countedPostings: 0, uncountedBands: 0, uncountedPostings: 0, finalists: 0 };

  constructor(options: BandIndexOptions = {}) {
    this.#deltaCapacity = options.deltaCapacity ?? DEFAULT_DELTA_CAPACITY;
    this.#postingBudget = options.postingBudget ?? DEFAULT_POSTING_BUDGET;
    if (!Number.isInteger(this.#postingBudget) || this.#postingBudget < 0)
      throw new HubError("invalid_argument", "postingBudget must be a non-negative integer");
    this.#deltaKeys = new Uint32Array(COARSE_BANDS * this.#deltaCapacity);
    this.#deltaOrds = new Uint32Array(this.#deltaCapacity);
  }

  /** Models retrievable now. */
  get size(): number {
    return this.#live;
  }

  /** What the last {@link query} did. */
  get lastQueryStats(): QueryStats {
    return this.#stats;
  }

  /** Rebuilds every band's directory (after a build or merge changed the base's size). */
  #index(): void {
    const n = (this.#keys[0] as Uint32Array).length;
    this.#dirBits = directoryBits(n);
    for (let b = 0; b < COARSE_BANDS; b++)
      this.#dir[b] = buildDirectory(this.#keys[b] as Uint32Array, this.#dirBits);
  }

  #grow(ordinal: number): void {
    if (ordinal >= MAX_ORDINALS)
      throw new HubError(
        "failed_precondition",
        `the band index holds at most ${MAX_ORDINALS} models; rebuild it`,
      );
    if (ordinal < this.#alive.length) return;
    let cap = this.#alive.length;
    while (cap <= ordinal) cap *= 2;
    const alive = new Uint8Array(cap);
    alive.set(this.#alive);
    this.#alive = alive;
    const matrix = new Uint32Array(cap * COARSE_BANDS);
    matrix.set(this.#matrix);
    this.#matrix = matrix;
    this.#counts = new Uint16Array(cap);
    this.#touched = new Uint32Array(cap);
  }

  /**
   * Replaces the whole index with these models (ordinal = position in `coarse`; empty signatures are not
   * retrievable). The start-up and compaction path: one sort per band.
   */
  static build(coarse: readonly Uint8Array[], options: BandIndexOptions = {}): BandIndex {
    const loader = BandIndex.loader(options, coarse.length);
    for (const c of coarse) loader.add(c);
    return loader.build();
  }

  /**
   * A bulk build fed one model at a time (ordinals from 0 in the order added), so a rebuild need not hold
   * every model's coarse signature until the sort: only its 4-byte band keys are kept. `expected` models
   * are made room for at once.
   */
  static loader(options: BandIndexOptions = {}, expected = 0): BandIndexLoader {
    const idx = new BandIndex(options);
    if (expected > 0) idx.#grow(expected - 1);
    let built = false;
    return {
      add(coarse: Uint8Array): number {
        if (built) throw new HubError("failed_precondition", "this band index was built already");
        const ordinal = idx.#ordinals;
        idx.#grow(ordinal);
        // Straight into the model's row (checked there): no per-model key array.
        if (coarse.length > 0)
          bandKeys(coarse, idx.#matrix.subarray(ordinal * COARSE_BANDS, (ordinal + 1) * COARSE_BANDS));
        idx.#ordinals++;
        if (coarse.length > 0) {
          idx.#alive[ordinal] = 1;
          idx.#live++;
        }
        return ordinal;
      },
      build(): BandIndex {
        if (built) throw new HubError("failed_precondition", "this band index was built already");
        built = true;
        idx.#sortBase();
        return idx;
      },
    };
  }

  /** Sorts every loaded model into the base (the loader's last step). */
  #sortBase(): void {
    const matrix = this.#matrix;
    const ords = new Uint32Array(this.#live);
    let n = 0;
    for (let ord = 0; ord < this.#ordinals; ord++) if (this.#alive[ord] === 1) ords[n++] = ord;
    // Each band's keys, gathered a block of bands at a time (one pass over the row-major matrix per block,
    // not one strided pass per band), then sorted with their ordinals.
    const column = Array.from({ length: BUILD_BLOCK }, () => new Uint32Array(n));
    const scratch = { keys: new Uint32Array(n), ords: new Uint32Array(n) };
    for (let b0 = 0; b0 < COARSE_BANDS; b0 += BUILD_BLOCK) {
      for (let i = 0; i < n; i++) {
        const row = (ords[i] as number) * COARSE_BANDS + b0;
        for (let j = 0; j < BUILD_BLOCK; j++) (column[j] as Uint32Array)[i] = matrix[row + j] as number;
      }
      for (let j = 0; j < BUILD_BLOCK; j++) {
        const kb = new Uint32Array(n);
        const ob = new Uint32Array(n);
        sortByKey(column[j] as Uint32Array, ords, kb, ob, scratch);
        this.#keys[b0 + j] = kb;
        this.#ords[b0 + j] = ob;
      }
    }
    this.#index();
  }

  /** Adds a model under the next ordinal (returned); an empty signature takes an ordinal but is never found. */
  add(coarse: Uint8Array): number {
    const ordinal = this.#ordinals;
    this.#grow(ordinal);
    this.#ordinals++;
    if (coarse.length === 0) return ordinal;
    const keys = bandKeys(coarse);
    if (this.#deltaCount === this.#deltaCapacity) this.#merge();
    const j = this.#deltaCount++;
    for (let b = 0; b < COARSE_BANDS; b++) this.#deltaKeys[b * this.#deltaCapacity + j] = keys[b] as number;
    this.#deltaOrds[j] = ordinal;
    this.#matrix.set(keys, ordinal * COARSE_BANDS);
    this.#alive[ordinal] = 1;
    this.#live++;
    return ordinal;
  }

  /**
   * The 4-byte band keys of a model (a view into the index, valid until the next add or rebuild; do not keep
   * it): what stage 2 compares a suspect's coarse signature against without reading Postgres.
   */
  keysOf(ordinal: number): Uint32Array {
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= this.#ordinals || this.#alive[ordinal] !== 1)
      throw new HubError("invalid_argument", `no model ${ordinal} in the index`);
    return this.#matrix.subarray(ordinal * COARSE_BANDS, (ordinal + 1) * COARSE_BANDS);
  }

  /** Removes a model from retrieval; false when it was not retrievable. */
  remove(ordinal: number): boolean {
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= this.#ordinals || this.#alive[ordinal] !== 1)
      return false;
    this.#alive[ordinal] = 0;
    this.#live--;
    return true;
  }

  /** Merges the delta into the sorted base (one linear merge per band). */
  #merge(): void {
    const n = this.#deltaCount;
    if (n === 0) return;
    const packed = new Float64Array(n);
    for (let b = 0; b < COARSE_BANDS; b++) {
      for (let j = 0; j < n; j++) {
        packed[j] =
          (this.#deltaKeys[b * this.#deltaCapacity + j] as number) * ORD_SPAN +
          (this.#deltaOrds[j] as number);
      }
      packed.sort();
      const bk = this.#keys[b] as Uint32Array;
      const bo = this.#ords[b] as Uint32Array;
      const kb = new Uint32Array(bk.length + n);
      const ob = new Uint32Array(bk.length + n);
      let i = 0;
      let j = 0;
      let o = 0;
      while (i < bk.length || j < n) {
        const dv = j < n ? (packed[j] as number) : Number.POSITIVE_INFINITY;
        const dk = j < n ? Math.floor(dv / ORD_SPAN) : Number.POSITIVE_INFINITY;
        if (i < bk.length && (bk[i] as number) <= dk) {
          kb[o] = bk[i] as number;
          ob[o++] = bo[i++] as number;
        } else {
          kb[o] = dk;
          ob[o++] = dv - dk * ORD_SPAN;
          j++;
        }
      }
      this.#keys[b] = kb;
      this.#ords[b] = ob;
    }
    this.#index();
    this.#deltaCount = 0;
  }

  /**
   * The live models sharing at least `minAgreeingBands` coarse bands with `coarse`: the `topK` with the most
   * agreeing bands among the finalists (at least {@link MIN_FINALISTS}, {@link FINALISTS_FACTOR} per hit
   * wanted) chosen by stage 1's counts.
   *
   * Stage 1 counts, per model, its agreements in the query's buckets, whole buckets smallest first, while
   * the postings counted stay within the posting budget. The H buckets left over are the largest ones —
   * frequent digests (a common shingle's minimum that unrelated models share), which cost most to count
   * and tell copies from strangers least. Stage 2 counts every band exactly for each finalist, from its
   * stored keys, and applies the threshold to that exact count. What that guarantees (pigeonhole): a model
   * sharing A bands with the suspect has at least A - H counted agreements, so every model with A > H
   * reaches stage 2 unless MIN_FINALISTS others have more counted agreements; with H = 0 (every bucket fits
   * the budget) stage 1 is exact. The risk is confined to a copy whose agreement lies almost all in frequent
   * digests; bench/hub.ts reports H and compares the result with an exhaustive count. This replaces a
   * fixed "hot bucket" cut (0.5% of the models), which skipped frequent buckets even when counting them
   * was cheap.
   */
  query(coarse: Uint8Array, minAgreeingBands: number, topK: number): CoarseHit[] {
    if (!Number.isInteger(minAgreeingBands) || minAgreeingBands < 1 || minAgreeingBands > COARSE_BANDS) {
      throw new HubError("invalid_argument", `minAgreeingBands must be an integer in 1..${COARSE_BANDS}`);
    }
    if (!Number.isInteger(topK) || topK < 1)
      throw new HubError("invalid_argument", "topK must be a positive integer");
    if (coarse.length === 0 || this.#live === 0) return [];
    const q = bandKeys(coarse, this.#q);
    const counts = this.#counts;
    const touched = this.#touched;
    const alive = this.#alive;
    const cap = this.#deltaCapacity;
    const nDelta = this.#deltaCount;
    const shift = 32 - this.#dirBits;
    const los = this.#lo;
    const his = this.#hi;
    const order = this.#order;
    // Each band's bucket in the sorted base; bands ordered by bucket size (size * 1024 + band).
    for (let b = 0; b < COARSE_BANDS; b++) {
      const key = q[b] as number;
      const keys = this.#keys[b] as Uint32Array;
      const dir = this.#dir[b] as Uint32Array;
      const slot = key >>> shift;
      const end = dir[slot + 1] as number;
      const lo = lowerBound(keys, dir[slot] as number, end, key);
      let hi = lo;
      if (lo < end && keys[lo] === key) hi = key === 0xffffffff ? end : lowerBound(keys, lo, end, key + 1);
      los[b] = lo;
      his[b] = hi;
      order[b] = (hi - lo) * 1024 + b;
    }
    order.sort();
    let nTouched = 0;
    let counted = 0;
    let uncountedBands = 0;
    let uncountedPostings = 0;
    const budget = this.#postingBudget;
    for (let k = 0; k < COARSE_BANDS; k++) {
      const v = order[k] as number;
      const b = v % 1024;
      const lo = los[b] as number;
      const hi = his[b] as number;
      if (counted + (hi - lo) > budget) {
        // Every later bucket is at least as large: none is counted.
        uncountedBands = COARSE_BANDS - k;
        for (let j = k; j < COARSE_BANDS; j++) {
          const w = order[j] as number;
          uncountedPostings += (w - (w % 1024)) / 1024;
        }
        break;
      }
      counted += hi - lo;
      const ords = this.#ords[b] as Uint32Array;
      for (let i = lo; i < hi; i++) {
        const ord = ords[i] as number;
        const c = counts[ord] as number;
        if (c === 0) touched[nTouched++] = ord;
        counts[ord] = c + 1;
      }
    }
    // The delta (small, unsorted): every band counted.
    for (let b = 0; b < COARSE_BANDS && nDelta > 0; b++) {
      const key = q[b] as number;
      const base = b * cap;
      for (let j = 0; j < nDelta; j++) {
        if (this.#deltaKeys[base + j] === key) {
          const ord = this.#deltaOrds[j] as number;
          const c = counts[ord] as number;
          if (c === 0) touched[nTouched++] = ord;
          counts[ord] = c + 1;
        }
      }
    }
    // Finalists: the most counted agreement (a histogram of counts finds the cut without sorting everyone).
    const want = Math.max(topK * FINALISTS_FACTOR, MIN_FINALISTS);
    const hist = this.#hist;
    hist.fill(0);
    for (let t = 0; t < nTouched; t++) {
      const ord = touched[t] as number;
      if (alive[ord] === 1) hist[counts[ord] as number] = (hist[counts[ord] as number] as number) + 1;
    }
    let cut = COARSE_BANDS;
    let taken = 0;
    while (cut > 1 && taken + (hist[cut] as number) < want) {
      taken += hist[cut] as number;
      cut--;
    }
    // Everyone above the cut, then models AT the cut until `want` (so a flat histogram — many models with
    // one counted agreement each — cannot make stage 2 scan the whole index).
    if (this.#finalists.length < want) this.#finalists = new Uint32Array(want);
    const finalists = this.#finalists;
    let nFinal = 0;
    let atCut = want - taken;
    for (let t = 0; t < nTouched; t++) {
      const ord = touched[t] as number;
      const c = counts[ord] as number;
      if (alive[ord] === 1 && nFinal < want && (c > cut || (c === cut && atCut-- > 0)))
        finalists[nFinal++] = ord;
      counts[ord] = 0;
    }
    // Exact agreement of each finalist over every band.
    const m = this.#matrix;
    const hits: CoarseHit[] = [];
    for (let f = 0; f < nFinal; f++) {
      const ord = finalists[f] as number;
      const row = ord * COARSE_BANDS;
      let agree = 0;
      for (let b = 0; b < COARSE_BANDS; b++) if (m[row + b] === q[b]) agree++;
      if (agree >= minAgreeingBands) hits.push({ ordinal: ord, agreeingBands: agree });
    }
    this.#stats = { countedPostings: counted, uncountedBands, uncountedPostings, finalists: nFinal };
    hits.sort((a, b) => b.agreeingBands - a.agreeingBands || a.ordinal - b.ordinal);
    if (hits.length > topK) hits.length = topK;
    return hits;
  }

  /**
   * Exhaustive reference for {@link query}: every live model's exact agreement (O(models x bands)); for
   * benchmarks and tests measuring what the posting budget costs in recall.
   */
  queryExhaustive(coarse: Uint8Array, minAgreeingBands: number, topK: number): CoarseHit[] {
    if (coarse.length === 0 || this.#live === 0) return [];
    const q = bandKeys(coarse);
    const m = this.#matrix;
    const hits: CoarseHit[] = [];
    for (let ord = 0; ord < this.#ordinals; ord++) {
      if (this.#alive[ord] !== 1) continue;
      const row = ord * COARSE_BANDS;
      let agree = 0;
      for (let b = 0; b < COARSE_BANDS; b++) if (m[row + b] === q[b]) agree++;
      if (agree >= minAgreeingBands) hits.push({ ordinal: ord, agreeingBands: agree });
    }
    hits.sort((a, b) => b.agreeingBands - a.agreeingBands || a.ordinal - b.ordinal);
    return hits.slice(0, topK);
  }
}

/** Feeds a bulk build ({@link BandIndex.loader}): `add` returns the model's ordinal; `build` once, at the end. */
export interface BandIndexLoader {
  add(coarse: Uint8Array): number;
  build(): BandIndex;
}

/** Options of a {@link BandIndex}. */
export interface BandIndexOptions {
  /** Models held in the delta before it is merged into the sorted base. Default 2048. */
  readonly deltaCapacity?: number;
  /** Postings stage 1 counts per query at most. Default {@link DEFAULT_POSTING_BUDGET}. */
  readonly postingBudget?: number;
}
