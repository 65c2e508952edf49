/**
 * The coarse first stage of retrieval, sized for 100,000+ protected models (issue 10): an inverted index
 * from each coarse LSH band's digest to the models holding it, in flat typed arrays (no per-entry
 * objects), so a query counts per model the bands it shares with the suspect (LSH_V1: r = 1 rows per
 * band, a candidate needs >= minAgreeingBands equal bands; lsh-params.ts) in one pass over the postings.
 *
 * Layout, per band b of COARSE_BANDS: `keys[b]` (the first 4 bytes of each model's 8-byte band digest,
 * sorted) and `ords[b]` (the model ordinal of each key), plus each model's keys in a row-major matrix —
 * 12 bytes per model and band, ~6 KiB per model (600 MiB at 100,000 models).
 * New models go to a small append-only delta (scanned linearly) that is merged into the sorted base when
 * full; removed models are only flagged dead and skipped (compacted on the next rebuild). A query is
 * 1,024 binary searches, one counter increment per posting in the suspect's rare buckets, and an exact
 * count for a few hundred finalists (see {@link BandIndex.query}); a 32-bit key
 * prefix makes a false band agreement between different digests a 2^-32 event per compared band.
 */
import { COARSE_BANDS, COARSE_DIGEST_BYTES } from "@lineage/fingerprint";
import { HubError } from "../ingest/hub-error.js";

/** Models an index can hold over its life (ordinals are packed with keys into float64 while merging). */
export const MAX_ORDINALS = 1 << 21;
const ORD_SPAN = 2 ** 21;
/** A query bucket holding more than max(HOT_BUCKET_MIN, HOT_BUCKET_FRACTION x models) is not counted in stage 1. */
export const HOT_BUCKET_FRACTION = 0.005;
export const HOT_BUCKET_MIN = 64;
/** Stage-2 finalists per requested hit (at least MIN_FINALISTS). */
export const FINALISTS_FACTOR = 8;
export const MIN_FINALISTS = 256;
/** Models held in the delta before it is merged into the sorted base. */
export const DEFAULT_DELTA_CAPACITY = 2048;

/** One model found by the coarse stage. */
export interface CoarseHit {
  readonly ordinal: number;
  /** Coarse bands it shares with the query (0..COARSE_BANDS). */
  readonly agreeingBands: number;
}

function bandKeys(coarse: Uint8Array): Uint32Array {
  if (!(coarse instanceof Uint8Array) || coarse.length !== COARSE_BANDS * COARSE_DIGEST_BYTES) {
    throw new HubError(
      "invalid_argument",
      `a coarse signature is ${COARSE_BANDS * COARSE_DIGEST_BYTES} bytes`,
    );
  }
  const dv = new DataView(coarse.buffer, coarse.byteOffset, coarse.byteLength);
  const out = new Uint32Array(COARSE_BANDS);
  for (let b = 0; b < COARSE_BANDS; b++) out[b] = dv.getUint32(b * COARSE_DIGEST_BYTES);
  return out;
}

function lowerBound(keys: Uint32Array, n: number, key: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as number) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inverted band index over model ordinals (assigned by the caller, dense from 0). */
export class BandIndex {
  readonly #deltaCapacity: number;
  #keys: Uint32Array[] = Array.from({ length: COARSE_BANDS }, () => new Uint32Array(0));
  #ords: Uint32Array[] = Array.from({ length: COARSE_BANDS }, () => new Uint32Array(0));
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

  constructor(options: { readonly deltaCapacity?: number } = {}) {
    this.#deltaCapacity = options.deltaCapacity ?? DEFAULT_DELTA_CAPACITY;
    this.#deltaKeys = new Uint32Array(COARSE_BANDS * this.#deltaCapacity);
    this.#deltaOrds = new Uint32Array(this.#deltaCapacity);
  }

  /** Models retrievable now. */
  get size(): number {
    return this.#live;
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
  static build(coarse: readonly Uint8Array[], options: { readonly deltaCapacity?: number } = {}): BandIndex {
    const idx = new BandIndex(options);
    const keys: (Uint32Array | undefined)[] = coarse.map((c) => (c.length === 0 ? undefined : bandKeys(c)));
    idx.#grow(Math.max(0, coarse.length - 1));
    const live: number[] = [];
    keys.forEach((k, ord) => {
      if (k !== undefined) {
        live.push(ord);
        idx.#alive[ord] = 1;
        idx.#matrix.set(k, ord * COARSE_BANDS);
      }
    });
    idx.#ordinals = coarse.length;
    idx.#live = live.length;
    const packed = new Float64Array(live.length);
    for (let b = 0; b < COARSE_BANDS; b++) {
      for (let i = 0; i < live.length; i++) {
        const ord = live[i] as number;
        packed[i] = ((keys[ord] as Uint32Array)[b] as number) * ORD_SPAN + ord;
      }
      packed.sort();
      const kb = new Uint32Array(live.length);
      const ob = new Uint32Array(live.length);
      for (let i = 0; i < live.length; i++) {
        const v = packed[i] as number;
        const key = Math.floor(v / ORD_SPAN);
        kb[i] = key;
        ob[i] = v - key * ORD_SPAN;
      }
      idx.#keys[b] = kb;
      idx.#ords[b] = ob;
    }
    return idx;
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
    this.#deltaCount = 0;
  }

  /**
   * The live models sharing at least `minAgreeingBands` coarse bands with `coarse`: the `topK` with the most
   * agreeing bands among the {@link FINALISTS_FACTOR}-fold finalists chosen by RARE agreement. Stage 1
   * counts agreements only in the query's rare buckets (a bucket holding more than max(64, 0.5% of the
   * models) is a frequent digest — a common shingle's minimum that unrelated models share — and counting
   * it costs a pass over a large share of the index while telling copies from strangers least); stage 2
   * counts every band exactly, from each finalist's stored keys, and applies the threshold to that exact
   * count. So the result is exact in `agreeingBands` and threshold, approximate only in which models reach
   * stage 2: a copy sharing nothing but frequent digests with the suspect is not found.
   */
  query(coarse: Uint8Array, minAgreeingBands: number, topK: number): CoarseHit[] {
    if (!Number.isInteger(minAgreeingBands) || minAgreeingBands < 1 || minAgreeingBands > COARSE_BANDS) {
      throw new HubError("invalid_argument", `minAgreeingBands must be an integer in 1..${COARSE_BANDS}`);
    }
    if (!Number.isInteger(topK) || topK < 1)
      throw new HubError("invalid_argument", "topK must be a positive integer");
    if (coarse.length === 0 || this.#live === 0) return [];
    const q = bandKeys(coarse);
    const hot = Math.max(HOT_BUCKET_MIN, Math.ceil(this.#live * HOT_BUCKET_FRACTION));
    const counts = this.#counts;
    const touched = this.#touched;
    let nTouched = 0;
    const cap = this.#deltaCapacity;
    const nDelta = this.#deltaCount;
    for (let b = 0; b < COARSE_BANDS; b++) {
      const key = q[b] as number;
      const keys = this.#keys[b] as Uint32Array;
      const ords = this.#ords[b] as Uint32Array;
      const n = keys.length;
      const lo = lowerBound(keys, n, key);
      const hi = lo < n && keys[lo] === key ? lowerBound(keys, n, key + 1) : lo;
      if (hi - lo > hot) continue;
      for (let i = lo; i < hi; i++) {
        const ord = ords[i] as number;
        if ((counts[ord] as number) === 0) touched[nTouched++] = ord;
        counts[ord] = (counts[ord] as number) + 1;
      }
      const base = b * cap;
      for (let j = 0; j < nDelta; j++) {
        if (this.#deltaKeys[base + j] === key) {
          const ord = this.#deltaOrds[j] as number;
          if ((counts[ord] as number) === 0) touched[nTouched++] = ord;
          counts[ord] = (counts[ord] as number) + 1;
        }
      }
    }
    // Finalists: the most rare agreement (a histogram of counts finds the cut without sorting everyone).
    const want = Math.max(topK * FINALISTS_FACTOR, MIN_FINALISTS);
    const hist = new Uint32Array(COARSE_BANDS + 1);
    for (let t = 0; t < nTouched; t++) {
      const ord = touched[t] as number;
      if (this.#alive[ord] === 1) hist[counts[ord] as number] = (hist[counts[ord] as number] as number) + 1;
    }
    let cut = COARSE_BANDS;
    let taken = 0;
    while (cut > 1 && taken + (hist[cut] as number) < want) {
      taken += hist[cut] as number;
      cut--;
    }
    // Everyone above the cut, then models AT the cut until `want` (so a flat histogram — many models with
    // one rare agreement each — cannot make stage 2 scan the whole index).
    const finalists: number[] = [];
    let atCut = want - taken;
    for (let t = 0; t < nTouched; t++) {
      const ord = touched[t] as number;
      const c = counts[ord] as number;
      if (this.#alive[ord] === 1 && (c > cut || (c === cut && atCut-- > 0))) finalists.push(ord);
      counts[ord] = 0;
    }
    // Exact agreement of each finalist over every band.
    const m = this.#matrix;
    const hits: CoarseHit[] = [];
    for (const ord of finalists) {
      const row = ord * COARSE_BANDS;
      let agree = 0;
      for (let b = 0; b < COARSE_BANDS; b++) if (m[row + b] === q[b]) agree++;
      if (agree >= minAgreeingBands) hits.push({ ordinal: ord, agreeingBands: agree });
    }
    hits.sort((a, b) => b.agreeingBands - a.agreeingBands || a.ordinal - b.ordinal);
    return hits.slice(0, topK);
  }
}
