/**
 * Word-level interpolated modified Kneser–Ney n-gram language model (Chen & Goodman, "An Empirical Study
 * of Smoothing Techniques for Language Modeling", 1998, §3.5, discounts of eq. 26), over integer token
 * ids, order 2–4.
 *
 *   P(w | h) = max(c(h w) − D(c(h w)), 0) / c(h) + γ(h) · P(w | h')        γ(h) = Σ_k D_k N_k(h •) / c(h)
 *
 * where c is the raw count at the highest order and the continuation count N1+(• h w) below it, h' drops
 * the oldest token of h, D_1, D_2, D_3+ are estimated per order from counts-of-counts, and the recursion
 * ends in the uniform distribution over the model's vocabulary (every token but BOS). Contexts never seen
 * are skipped (back-off weight 1). Probabilities over the vocabulary sum to 1 (kneser-ney.test.ts).
 *
 * Layout: token ids are 16-bit (a model's own vocabulary, < 65,536 types); an n-gram packs into 64 bits,
 * oldest token highest, so counting is "append a key per position, sort, run-length" on BigUint64Arrays
 * (no hash maps), and lower orders come from dropping the oldest token and sorting again. A history of
 * ≤ 3 tokens packs into 48 bits and is kept as a float64 key: nodes (histories) are sorted keys per depth,
 * each owning a contiguous run of (token, count) entries sorted by token. Lookups are binary searches over
 * typed arrays, so a model is a handful of ArrayBuffers, cheap to hold by the hundred and to store.
 *
 * Sampling at temperature 1 is exact and walks the recursion: at each level take the discounted mass of
 * the observed continuations (binary search in cumulative counts) or fall to the next lower level with
 * probability γ — it never scans the vocabulary. A watermark at temperature 1 stays exact by rejection
 * (propose from P, accept with probability exp(bias − max bias); ≤ e^δ proposals on average). Any other
 * temperature needs reweighted probabilities; those are computed exactly on a candidate set — the union of the top
 * `CANDIDATES_PER_LEVEL` continuations (by count) of every matched context level — and renormalised there
 * (top-k sampling; the tail outside the set, tiny at order > 1, is not sampled in that mode). The same set
 * gives top log-probabilities.
 */
import type { Prng } from "./prng.js";
import { TestbedError } from "./testbed-error.js";

export const BOS = "<s>";
export const EOS = "</s>";
export const BOS_ID = 0;
export const EOS_ID = 1;
/** Candidate set size per context level for reweighted (temperature ≠ 1 / watermark) sampling. */
export const CANDIDATES_PER_LEVEL = 20;
export const MAX_ORDER = 4;
export const MAX_VOCAB = 65_535;
const T16 = 65_536;

/** Growable array of 64-bit keys written as (lo, hi) 32-bit halves. */
class KeyBuffer {
  u32 = new Uint32Array(1 << 16);
  length = 0;
  push(lo: number, hi: number): void {
    if (this.length * 2 + 2 > this.u32.length) {
      const next = new Uint32Array(this.u32.length * 2);
      next.set(this.u32);
      this.u32 = next;
    }
    this.u32[this.length * 2] = lo;
    this.u32[this.length * 2 + 1] = hi;
    this.length++;
  }
}

/** Sorted unique 64-bit keys with counts. */
interface CountedKeys {
  keys: BigUint64Array;
  counts: Int32Array;
}

/** Sorts keys (a fresh BigUint64Array) and run-length encodes them; `weights` default 1 each. */
function sortCount(keys: BigUint64Array): CountedKeys {
  keys.sort();
  const u = new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
  let n = 0;
  const counts = new Int32Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    if (n > 0 && u[i * 2] === u[(n - 1) * 2] && u[i * 2 + 1] === u[(n - 1) * 2 + 1]) {
      counts[n - 1] = (counts[n - 1] as number) + 1;
    } else {
      u[n * 2] = u[i * 2] as number;
      u[n * 2 + 1] = u[i * 2 + 1] as number;
      counts[n] = 1;
      n++;
    }
  }
  return { keys: keys.slice(0, n), counts: counts.slice(0, n) };
}

/** Merges two sorted unique counted key lists, summing counts. */
function mergeCounted(a: CountedKeys, b: CountedKeys): CountedKeys {
  const keys = new BigUint64Array(a.keys.length + b.keys.length);
  const counts = new Int32Array(keys.length);
  const ua = new Uint32Array(a.keys.buffer, a.keys.byteOffset, a.keys.length * 2);
  const ub = new Uint32Array(b.keys.buffer, b.keys.byteOffset, b.keys.length * 2);
  const uo = new Uint32Array(keys.buffer);
  let i = 0;
  let j = 0;
  let n = 0;
  const cmp = (): number => {
    const ha = ua[i * 2 + 1] as number;
    const hb = ub[j * 2 + 1] as number;
    if (ha !== hb) return ha - hb;
    return (ua[i * 2] as number) - (ub[j * 2] as number);
  };
  while (i < a.keys.length || j < b.keys.length) {
    const c = i >= a.keys.length ? 1 : j >= b.keys.length ? -1 : cmp();
    if (c <= 0) {
      uo[n * 2] = ua[i * 2] as number;
      uo[n * 2 + 1] = ua[i * 2 + 1] as number;
      counts[n] = (a.counts[i] as number) + (c === 0 ? (b.counts[j] as number) : 0);
      if (c === 0) j++;
      i++;
    } else {
      uo[n * 2] = ub[j * 2] as number;
      uo[n * 2 + 1] = ub[j * 2 + 1] as number;
      counts[n] = b.counts[j] as number;
      j++;
    }
    n++;
  }
  return { keys: keys.slice(0, n), counts: counts.slice(0, n) };
}

/** Counts of a corpus, mutable; compile it into a {@link KneserNeyModel}. */
export class NgramCounts {
  readonly order: number;
  readonly vocab: string[] = [BOS, EOS];
  readonly ids = new Map<string, number>([
    [BOS, BOS_ID],
    [EOS, EOS_ID],
  ]);
  #raw = new KeyBuffer();
  #base: CountedKeys = { keys: new BigUint64Array(0), counts: new Int32Array(0) };
  /** Predicted positions added (an n-gram count total). */
  tokens = 0;

  constructor(order: number) {
    if (!Number.isInteger(order) || order < 2 || order > MAX_ORDER) {
      throw new TestbedError("invalid_argument", `order must be an integer in [2, ${MAX_ORDER}]`);
    }
    this.order = order;
  }

  /** Interns a token string. */
  id(token: string): number {
    let id = this.ids.get(token);
    if (id === undefined) {
      id = this.vocab.length;
      if (id > MAX_VOCAB)
        throw new TestbedError("invalid_argument", `vocabulary exceeds ${MAX_VOCAB} tokens`);
      this.vocab.push(token);
      this.ids.set(token, id);
    }
    return id;
  }

  /** Adds one sequence (a sentence, or a prompt and its response), BOS-padded and EOS-terminated. */
  addSequence(tokens: readonly string[], times = 1): void {
    if (tokens.length === 0 || times <= 0) return;
    const n = this.order;
    let t1 = 0; // oldest of the last four tokens
    let t2 = 0;
    let t3 = 0;
    for (let i = 0; i <= tokens.length; i++) {
      const t4 = i < tokens.length ? this.id(tokens[i] as string) : EOS_ID;
      // Right-aligned key of (t_{i-n+1} .. t_i); unused high tokens are zero (= BOS padding, id 0).
      const lo = (((n >= 2 ? t3 : 0) << 16) | t4) >>> 0;
      const hi = (((n >= 4 ? t1 : 0) << 16) | (n >= 3 ? t2 : 0)) >>> 0;
      for (let r = 0; r < times; r++) this.#raw.push(lo, hi);
      t1 = t2;
      t2 = t3;
      t3 = t4;
    }
    this.tokens += (tokens.length + 1) * times;
  }

  #consolidate(): CountedKeys {
    if (this.#raw.length > 0) {
      const raw = new BigUint64Array(this.#raw.u32.buffer.slice(0, this.#raw.length * 8));
      this.#base = mergeCounted(this.#base, sortCount(raw));
      this.#raw = new KeyBuffer();
    }
    return this.#base;
  }

  /** Sets the consolidated highest-order counts directly (used by {@link KneserNeyModel.toCounts}). */
  setCounts(keys: BigUint64Array, counts: Int32Array): void {
    this.#raw = new KeyBuffer();
    this.#base = { keys, counts };
    this.tokens = counts.reduce((a, b) => a + b, 0);
  }

  /** Rewrites every highest-order count (weight perturbation, pruning); results ≤ 0 drop the n-gram. */
  mapCounts(fn: (count: number) => number): void {
    const b = this.#consolidate();
    const keep: number[] = [];
    const newCounts: number[] = [];
    for (let i = 0; i < b.keys.length; i++) {
      const v = Math.round(fn(b.counts[i] as number));
      if (v > 0) {
        keep.push(i);
        newCounts.push(Math.min(v, 2 ** 30));
      }
    }
    const keys = new BigUint64Array(keep.length);
    for (let j = 0; j < keep.length; j++) keys[j] = b.keys[keep[j] as number] as bigint;
    this.setCounts(keys, Int32Array.from(newCounts));
  }

  /** Number of distinct highest-order n-grams. */
  get size(): number {
    return this.#consolidate().keys.length;
  }

  /** Compiles the counts into an immutable model (interpolated modified Kneser–Ney). */
  compile(): KneserNeyModel {
    const n = this.order;
    const top = this.#consolidate();
    // levels[k] = k-grams (sorted unique, right-aligned keys) with counts; continuation counts below n.
    const levels: CountedKeys[] = new Array(n + 1);
    levels[n] = top;
    for (let k = n - 1; k >= 1; k--) {
      const up = levels[k + 1] as CountedKeys;
      const dropped = new BigUint64Array(up.keys.length);
      const us = new Uint32Array(up.keys.buffer, up.keys.byteOffset, up.keys.length * 2);
      const ud = new Uint32Array(dropped.buffer);
      for (let i = 0; i < up.keys.length; i++) {
        // Keep the low k tokens (16 bits each) of a (k+1)-gram key.
        const lo = us[i * 2] as number;
        const hi = us[i * 2 + 1] as number;
        ud[i * 2] = k >= 2 ? lo : lo & 0xffff;
        ud[i * 2 + 1] = k === 4 ? hi : k === 3 ? hi & 0xffff : 0;
      }
      levels[k] = sortCount(dropped);
    }
    // Nodes: root, then the distinct histories of each level by depth; entries concatenated by level.
    const depthStart = fixDepthStart(levels, n);
    const nodeCount = depthStart[n] as number;
    let totalEntries = 0;
    for (let k = 1; k <= n; k++) totalEntries += (levels[k] as CountedKeys).keys.length;
    const histKeys = new Float64Array(nodeCount);
    const entryTok = new Int32Array(totalEntries);
    const entryCnt = new Int32Array(totalEntries);
    const estart = new Int32Array(nodeCount + 1);
    let node = 0;
    let at = 0;
    for (let k = 1; k <= n; k++) {
      const lv = levels[k] as CountedKeys;
      const u = new Uint32Array(lv.keys.buffer, lv.keys.byteOffset, lv.keys.length * 2);
      let prevHist = -1;
      for (let i = 0; i < lv.keys.length; i++) {
        const lo = u[i * 2] as number;
        if (k > 1) {
          const hist = (u[i * 2 + 1] as number) * T16 + (lo >>> 16);
          if (hist !== prevHist) {
            node++;
            histKeys[node] = hist;
            estart[node] = at;
            prevHist = hist;
          }
        }
        entryTok[at] = lo & 0xffff;
        entryCnt[at] = lv.counts[i] as number;
        at++;
      }
    }
    estart[nodeCount] = at;
    if (node !== nodeCount - 1) fail("node count");
    const discounts = new Float64Array(n * 3);
    for (let d = 0; d < n; d++) {
      const coc = [0, 0, 0, 0];
      const lv = levels[d + 1] as CountedKeys;
      for (const c of lv.counts) if (c <= 4) coc[c - 1] = (coc[c - 1] as number) + 1;
      discounts.set(modifiedKnDiscounts(coc), d * 3);
    }
    return new KneserNeyModel({
      order: n,
      vocab: this.vocab.slice(),
      histKeys,
      depthStart,
      entryStart: estart,
      entryTok,
      entryCnt,
      discounts,
    });
  }
}

function fail(what: string): never {
  throw new TestbedError("invalid_argument", `internal: inconsistent ${what}`);
}

/** First node id of each depth: root 0, then the distinct histories of levels 2..n in order. */
function fixDepthStart(levels: CountedKeys[], n: number): Int32Array {
  const ds = new Int32Array(n + 1);
  ds[0] = 0;
  ds[1] = 1;
  for (let k = 2; k <= n; k++) {
    const lv = levels[k] as CountedKeys;
    const u = new Uint32Array(lv.keys.buffer, lv.keys.byteOffset, lv.keys.length * 2);
    let distinct = 0;
    let prev = -1;
    for (let i = 0; i < lv.keys.length; i++) {
      const h = (u[i * 2 + 1] as number) * T16 + ((u[i * 2] as number) >>> 16);
      if (h !== prev) {
        distinct++;
        prev = h;
      }
    }
    ds[k] = (ds[k - 1] as number) + distinct;
  }
  return ds;
}

/** D1, D2, D3+ from counts-of-counts n1..n4, with safe fallbacks when a count-of-counts is zero. */
export function modifiedKnDiscounts(nk: readonly number[]): [number, number, number] {
  const [n1 = 0, n2 = 0, n3 = 0, n4 = 0] = nk;
  const fallback: [number, number, number] = [0.5, 1.0, 1.4];
  if (n1 === 0 || n2 === 0 || n3 === 0 || n4 === 0) return fallback;
  const y = n1 / (n1 + 2 * n2);
  const d = [1 - (2 * y * n2) / n1, 2 - (3 * y * n3) / n2, 3 - (4 * y * n4) / n3];
  return d.map((x, i) => (Number.isFinite(x) && x > 0.05 ? Math.min(x, i + 1 - 0.05) : fallback[i])) as [
    number,
    number,
    number,
  ];
}

/** The arrays that define a compiled model (what the codec stores). */
export interface KneserNeyArrays {
  readonly order: number;
  readonly vocab: readonly string[];
  /** History key of each node (tokens packed 16 bits each, newest lowest); node 0 is the root. */
  readonly histKeys: Float64Array;
  /** depthStart[d] = first node of depth d (d = 0..order−1); depthStart[order] = node count. */
  readonly depthStart: Int32Array;
  readonly entryStart: Int32Array;
  readonly entryTok: Int32Array;
  readonly entryCnt: Int32Array;
  readonly discounts: Float64Array;
}

/** A reweighting hook for candidate sampling (the green-list watermark): extra logit per candidate. */
export interface LogitBias {
  /** The largest bias any token can get (for exact rejection sampling at temperature 1). */
  readonly maxBias: number;
  /** Called once per step with the previous token id; returns the bias for a candidate token id. */
  forContext(prevTokenId: number): (tokenId: number) => number;
}

/** Options for sampling a sequence of token ids. */
export interface SampleIdsOptions {
  readonly temperature: number;
  readonly maxTokens: number;
  readonly rng: Prng;
  readonly bias?: LogitBias | undefined;
}

interface CandidateDist {
  readonly ids: Int32Array;
  /** Exact natural-log probabilities, sorted descending. */
  readonly logp: Float64Array;
}

/** An immutable interpolated modified Kneser–Ney model. */
export class KneserNeyModel {
  readonly order: number;
  readonly vocab: readonly string[];
  readonly arrays: KneserNeyArrays;
  #ids: Map<string, number> | undefined;
  readonly #nodeTotal: Float64Array;
  readonly #nodeGamma: Float64Array;
  readonly #entryCum: Float64Array;
  readonly #distCache = new Map<number, CandidateDist>();
  readonly #topCache = new Map<number, Int32Array>();

  constructor(a: KneserNeyArrays) {
    this.order = a.order;
    this.vocab = a.vocab;
    this.arrays = a;
    const nodeCount = a.histKeys.length;
    this.#nodeTotal = new Float64Array(nodeCount);
    this.#nodeGamma = new Float64Array(nodeCount);
    this.#entryCum = new Float64Array(a.entryTok.length);
    for (let d = 0; d < a.order; d++) {
      const d1 = a.discounts[d * 3] as number;
      const d2 = a.discounts[d * 3 + 1] as number;
      const d3 = a.discounts[d * 3 + 2] as number;
      for (let i = a.depthStart[d] as number; i < (a.depthStart[d + 1] as number); i++) {
        let total = 0;
        let gammaNum = 0;
        let cum = 0;
        for (let j = a.entryStart[i] as number; j < (a.entryStart[i + 1] as number); j++) {
          const c = a.entryCnt[j] as number;
          const disc = c === 1 ? d1 : c === 2 ? d2 : d3;
          total += c;
          gammaNum += disc;
          cum += c - disc;
          this.#entryCum[j] = cum;
        }
        this.#nodeTotal[i] = total;
        this.#nodeGamma[i] = total > 0 ? gammaNum / total : 1;
      }
    }
  }

  /** Token string → id map (built on first use). */
  get ids(): ReadonlyMap<string, number> {
    if (this.#ids === undefined) {
      const m = new Map<string, number>();
      for (let i = 0; i < this.vocab.length; i++) m.set(this.vocab[i] as string, i);
      this.#ids = m;
    }
    return this.#ids;
  }

  /** Number of predictable tokens (the vocabulary without BOS): the support of every distribution. */
  get supportSize(): number {
    return this.vocab.length - 1;
  }

  /** Distinct n-gram entries over all orders (a size measure). */
  get entryCount(): number {
    return this.arrays.entryTok.length;
  }

  #node(depth: number, key: number): number {
    const { histKeys, depthStart } = this.arrays;
    let lo = depthStart[depth] as number;
    let hi = (depthStart[depth + 1] as number) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = histKeys[mid] as number;
      if (k === key) return mid;
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  #entry(node: number, tok: number): number {
    const { entryStart, entryTok } = this.arrays;
    let lo = entryStart[node] as number;
    let hi = (entryStart[node + 1] as number) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const t = entryTok[mid] as number;
      if (t === tok) return mid;
      if (t < tok) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Token ids of a context (oldest first) with BOS padding: the model conditions on the last order−1.
   * Unknown tokens become −1 (no history matches through them).
   */
  contextIds(tokens: readonly string[], startOfSequence = true): number[] {
    const out: number[] = [];
    if (startOfSequence) for (let i = 0; i < this.order - 1; i++) out.push(BOS_ID);
    for (const t of tokens) out.push(this.ids.get(t) ?? -1);
    return out.slice(Math.max(0, out.length - (this.order - 1)));
  }

  /** Matched history nodes for a context of ids (oldest first): [root, depth 1, ..., deepest match]. */
  path(context: readonly number[]): number[] {
    const nodes = [0];
    let key = 0;
    let scale = 1;
    for (let j = context.length - 1, d = 1; j >= 0 && d < this.order; j--, d++) {
      const t = context[j] as number;
      if (t < 0) break;
      key += t * scale;
      scale *= T16;
      const node = this.#node(d, key);
      if (node < 0) break;
      nodes.push(node);
    }
    return nodes;
  }

  /** Exact P(w | path) by the interpolation recursion. */
  probOnPath(path: readonly number[], w: number): number {
    if (w <= BOS_ID || w >= this.vocab.length) return 0;
    const { entryCnt, discounts } = this.arrays;
    let p = 1 / this.supportSize;
    for (let d = 0; d < path.length; d++) {
      const node = path[d] as number;
      const e = this.#entry(node, w);
      let alpha = 0;
      if (e >= 0) {
        const c = entryCnt[e] as number;
        const disc = discounts[d * 3 + (c >= 3 ? 2 : c - 1)] as number;
        alpha = Math.max(c - disc, 0) / (this.#nodeTotal[node] as number);
      }
      p = alpha + (this.#nodeGamma[node] as number) * p;
    }
    return p;
  }

  /** Exact P(token | context), context of token strings (BOS-padded when `startOfSequence`). */
  prob(context: readonly string[], token: string, startOfSequence = true): number {
    const id = this.ids.get(token);
    if (id === undefined) return 0;
    return this.probOnPath(this.path(this.contextIds(context, startOfSequence)), id);
  }

  /** Candidates with exact log-probabilities, best first; cached per deepest context node. */
  #dist(path: readonly number[]): CandidateDist {
    const deepest = path[path.length - 1] as number;
    const hit = this.#distCache.get(deepest);
    if (hit) return hit;
    const { entryStart, entryTok, entryCnt } = this.arrays;
    const seen = new Set<number>();
    const cands: number[] = [];
    for (let d = path.length - 1; d >= 0; d--) {
      const node = path[d] as number;
      const s = entryStart[node] as number;
      const e = entryStart[node + 1] as number;
      let idx: ArrayLike<number>;
      if (e - s <= CANDIDATES_PER_LEVEL) idx = Array.from({ length: e - s }, (_, i) => s + i);
      else {
        let top = this.#topCache.get(node);
        if (top === undefined) {
          const all = Array.from({ length: e - s }, (_, i) => s + i);
          all.sort((a, b) => (entryCnt[b] as number) - (entryCnt[a] as number) || a - b);
          top = Int32Array.from(all.slice(0, CANDIDATES_PER_LEVEL));
          if (this.#topCache.size >= 50_000) this.#topCache.clear();
          this.#topCache.set(node, top);
        }
        idx = top;
      }
      for (let q = 0; q < idx.length; q++) {
        const j = idx[q] as number;
        const w = entryTok[j] as number;
        if (!seen.has(w)) {
          seen.add(w);
          cands.push(w);
        }
      }
    }
    const lp = new Float64Array(cands.length);
    for (let i = 0; i < cands.length; i++) lp[i] = Math.log(this.probOnPath(path, cands[i] as number));
    const order = Array.from({ length: cands.length }, (_, i) => i);
    order.sort(
      (a, b) => (lp[b] as number) - (lp[a] as number) || (cands[a] as number) - (cands[b] as number),
    );
    const dist = {
      ids: Int32Array.from(order, (i) => cands[i] as number),
      logp: Float64Array.from(order, (i) => lp[i] as number),
    };
    if (this.#distCache.size >= 20_000) this.#distCache.clear();
    this.#distCache.set(deepest, dist);
    return dist;
  }

  /** The k most probable next tokens with exact log-probabilities (natural log), best first. */
  topLogprobsOnPath(path: readonly number[], k: number): { id: number; logprob: number }[] {
    const d = this.#dist(path);
    const out: { id: number; logprob: number }[] = [];
    for (let i = 0; i < Math.min(k, d.ids.length); i++)
      out.push({ id: d.ids[i] as number, logprob: d.logp[i] as number });
    return out;
  }

  /** Exact sample from P(· | path) at temperature 1 via the recursion (no vocabulary scan). */
  sampleExact(path: readonly number[], rng: Prng): number {
    const { entryStart, entryTok } = this.arrays;
    let u = rng.next();
    for (let d = path.length - 1; d >= 0; d--) {
      const node = path[d] as number;
      const gamma = this.#nodeGamma[node] as number;
      const keep = 1 - gamma;
      if (u < keep) {
        const target = u * (this.#nodeTotal[node] as number);
        let lo = entryStart[node] as number;
        let hi = (entryStart[node + 1] as number) - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if ((this.#entryCum[mid] as number) > target) hi = mid;
          else lo = mid + 1;
        }
        return entryTok[lo] as number;
      }
      u = (u - keep) / gamma;
    }
    // Uniform floor over every token but BOS.
    return 1 + Math.min(this.supportSize - 1, Math.floor(u * this.supportSize));
  }

  /** One step of reweighted top-k sampling; temperature 0 is greedy. */
  sampleReweighted(
    path: readonly number[],
    rng: Prng,
    temperature: number,
    bias?: (id: number) => number,
  ): number {
    const { ids, logp } = this.#dist(path);
    const n = ids.length;
    const logits = new Float64Array(n);
    let best = 0;
    for (let i = 0; i < n; i++) {
      const b = bias ? bias(ids[i] as number) : 0;
      logits[i] = temperature === 0 ? (logp[i] as number) + b : (logp[i] as number) / temperature + b;
      if ((logits[i] as number) > (logits[best] as number)) best = i;
    }
    if (temperature === 0) return ids[best] as number;
    const max = logits[best] as number;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      logits[i] = Math.exp((logits[i] as number) - max);
      sum += logits[i] as number;
    }
    let u = rng.next() * sum;
    for (let i = 0; i < n; i++) {
      u -= logits[i] as number;
      if (u < 0) return ids[i] as number;
    }
    return ids[n - 1] as number;
  }

  /**
   * Samples a continuation of `context` (ids, oldest first, already BOS-padded as wanted) until EOS or
   * `maxTokens`. Returns the generated ids without EOS and whether EOS ended it.
   */
  sampleIds(context: readonly number[], opts: SampleIdsOptions): { ids: number[]; stopped: boolean } {
    const ctx = context.slice(Math.max(0, context.length - (this.order - 1)));
    const out: number[] = [];
    const exact = opts.temperature === 1;
    while (out.length < opts.maxTokens) {
      const path = this.path(ctx);
      let w = -1;
      if (exact && opts.bias === undefined) w = this.sampleExact(path, opts.rng);
      else if (exact && opts.bias !== undefined) {
        // Exact biased sampling by rejection: propose from P, accept with exp(bias − maxBias).
        const prev = ctx.length > 0 ? (ctx[ctx.length - 1] as number) : BOS_ID;
        const bias = opts.bias.forContext(prev);
        for (let tries = 0; tries < 64 && w < 0; tries++) {
          const c = this.sampleExact(path, opts.rng);
          if (opts.rng.next() < Math.exp(bias(c) - opts.bias.maxBias)) w = c;
        }
        if (w < 0) w = this.sampleReweighted(path, opts.rng, 1, bias);
      } else {
        const prev = ctx.length > 0 ? (ctx[ctx.length - 1] as number) : BOS_ID;
        w = this.sampleReweighted(path, opts.rng, opts.temperature, opts.bias?.forContext(prev));
      }
      if (w === EOS_ID) return { ids: out, stopped: true };
      out.push(w);
      ctx.push(w);
      if (ctx.length > this.order - 1) ctx.shift();
    }
    return { ids: out, stopped: false };
  }

  /** Mutable counts equal to this model's highest-order counts (for weight copies and further training). */
  toCounts(): NgramCounts {
    const a = this.arrays;
    const n = this.order;
    const counts = new NgramCounts(n);
    for (const t of this.vocab) counts.id(t);
    const first = a.entryStart[a.depthStart[n - 1] as number] as number;
    const total = a.entryTok.length - first;
    const keys = new BigUint64Array(total);
    const u = new Uint32Array(keys.buffer);
    let j = 0;
    for (let node = a.depthStart[n - 1] as number; node < (a.depthStart[n] as number); node++) {
      const h = a.histKeys[node] as number;
      const hi = Math.floor(h / T16);
      const loHigh = h - hi * T16;
      for (let e = a.entryStart[node] as number; e < (a.entryStart[node + 1] as number); e++) {
        u[j * 2] = ((loHigh << 16) | (a.entryTok[e] as number)) >>> 0;
        u[j * 2 + 1] = hi >>> 0;
        j++;
      }
    }
    counts.setCounts(keys, a.entryCnt.slice(first));
    return counts;
  }
}
