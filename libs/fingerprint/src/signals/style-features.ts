/**
 * Model-level style profiles: the habits that identify which model wrote a text, whatever the prompt.
 * "Idiosyncrasies in Large Language Models" (Sun et al., 2025) finds that word choice, the first words of
 * an answer and formatting/markdown habits alone let a classifier name the source model; stylometry (Burrows'
 * Delta and its cosine variant, Smith & Aldridge 2011) compares authors by their deviations from a
 * population's mean frequencies of the most common features. A student trained on a teacher's outputs
 * inherits those habits. So a model's profile is, over all its answers, the relative frequencies of:
 *
 *   words     word unigrams (Lineage tokens, punctuation included), hashed
 *   bigrams   word bigrams, hashed
 *   first     the first word and the first three words of each answer (how it opens: "Sure!", "1.", "As")
 *   last      the last three tokens of each answer (how it closes: "Let me know if…", "I hope this helps!")
 *   lines     the first two tokens of every line (list markers, headings, bold labels, "Step 1:")
 *   format    per-answer rates of layout habits (numbered/bulleted lists, headings, bold, code fences,
 *             paragraphs, colon-ended lines, exclamations, questions back, first person, refusals,
 *             apologies, "As an AI", answer length bins)
 *   punct     punctuation and symbol characters as written (before any folding: the em dash, curly quotes,
 *             ellipsis, semicolons, colons, asterisks, emoji), hashed; word tokens include punctuation too,
 *             but there a handful of words and commas outweigh every rarer mark
 *
 * Comparison of a to b against a population C (which never includes the suspect; for the pair (a, b) it
 * leaves a and b out): in each group, the square roots of the frequencies (variance-stabilised counts), the
 * deviation from C's mean, and the cosine of a's deviation with b's — "over- and under-uses the same things
 * as b does, relative to everyone else". A group of many hashed features takes the cosine of the raw
 * deviations ("cosine"); `format`, a few heterogeneous habits whose rates differ in scale (almost every answer
 * has paragraphs, few say "As an AI"), takes Cosine Delta instead ("delta": each habit's deviation divided by
 * C's standard deviation of it, see cosineDelta), so a rare habit a student shares with its teacher weighs as
 * much as a common one. The pair's statistic is the weighted mean of the group cosines, in [-1, 1]. Hashing
 * (FNV-1a into fixed buckets) keeps profiles fixed-size and avoids any vocabulary chosen from the data.
 */

import { tokenize } from "../probe/tokenize.js";

/** Profile groups and their bucket counts. */
export const STYLE_GROUPS = Object.freeze({
  words: 4096,
  bigrams: 4096,
  first: 1024,
  last: 1024,
  lines: 1024,
  format: 24,
  punct: 256,
} as const);
export type StyleGroup = keyof typeof STYLE_GROUPS;
const GROUP_NAMES = Object.keys(STYLE_GROUPS) as StyleGroup[];

/** Weights of the groups in the pair statistic: equal, fixed before measuring (none fitted to data). */
export const STYLE_GROUP_WEIGHTS: Readonly<Record<StyleGroup, number>> = Object.freeze({
  words: 1,
  bigrams: 1,
  first: 1,
  last: 1,
  lines: 1,
  format: 1,
  punct: 1,
});

/**
 * How each group's profiles are compared (see the module comment): `cosine` of raw deviations from the
 * population mean, or Cosine Delta (`delta`) over all the group's features. `format` is compared by Cosine
 * Delta: on the real-LLM development set (bench/realdata.ts) that raised the students' separation d' on both
 * teacher families alike (davinci003 1.85 -> 1.87, gpt35 2.03 -> 2.18, lead at the default delta share);
 * the punctuation group raised it again on both (to 1.92 and 2.21). Compared by raw cosine alone, `format`
 * is the group that most often ranks unrelated same-vendor siblings as leads (15 of 30, against 4 of 30 by
 * Cosine Delta): a few common habits dominate its raw deviations.
 */
export const STYLE_GROUP_MEASURE: Readonly<Record<StyleGroup, "cosine" | "delta">> = Object.freeze({
  words: "cosine",
  bigrams: "cosine",
  first: "cosine",
  last: "cosine",
  lines: "cosine",
  format: "delta",
  punct: "cosine",
});

/** A model's profile: per group, sqrt of relative frequencies. */
export type StyleProfile = Readonly<Record<StyleGroup, Float64Array>>;

/** Bound on the text examined per answer (answers are untrusted and may be huge). */
export const MAX_STYLE_CHARS = 20_000;

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const FORMAT_TESTS: readonly ((
  text: string,
  lines: readonly string[],
  toks: readonly string[],
) => boolean)[] = [
  (_t, l) => l.some((x) => /^\s*\d+[.)]\s/.test(x)),
  (_t, l) => l.some((x) => /^\s*[-*•]\s/.test(x)),
  (_t, l) => l.some((x) => /^\s*#{1,6}\s/.test(x)),
  (t) => /\*\*[^*\n]+\*\*/.test(t),
  (t) => t.includes("```"),
  (t) => /\n\s*\n/.test(t),
  (_t, l) => l.some((x) => /:\s*$/.test(x)),
  (t) => t.includes("!"),
  (t) => /\?\s*$/.test(t.trim()),
  (_t, _l, k) => k.includes("i"),
  (_t, _l, k) => k.includes("you"),
  (t) => /\b(I'm sorry|I apologi[sz]e|I cannot|I can't|I am unable|I'm unable)\b/i.test(t),
  (t) => /\bas an ai\b/i.test(t),
  (t) => /\b(in conclusion|overall|in summary|to summarize)\b/i.test(t),
  (t) => /\b(however|additionally|furthermore|moreover)\b/i.test(t),
  (t) => /^(sure|certainly|of course|absolutely|great|yes)\b/i.test(t.trim()),
  (t) => /\b(hope this helps|let me know)\b/i.test(t),
  (t) => /"/.test(t),
  (t) => /\(/.test(t),
  (_t, _l, k) => k.length < 30,
  (_t, _l, k) => k.length >= 30 && k.length < 120,
  (_t, _l, k) => k.length >= 120 && k.length < 300,
  (_t, _l, k) => k.length >= 300,
  (t) => t.trim() === "",
];

/** One answer's contributions to a profile: per group, the buckets it increments (with repeats). */
export interface StyleCounts {
  readonly buckets: Readonly<Record<StyleGroup, Uint32Array>>;
}

function hashInto(out: number[], key: string, buckets: number): void {
  out.push(fnv(key) % buckets);
}

/** The bucket increments of one answer (truncated to MAX_STYLE_CHARS). */
export function styleCounts(rawText: string): StyleCounts {
  const text = rawText.length > MAX_STYLE_CHARS ? rawText.slice(0, MAX_STYLE_CHARS) : rawText;
  const toks = tokenize(text);
  const words: number[] = [];
  const bigrams: number[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] ?? "";
    hashInto(words, t, STYLE_GROUPS.words);
    if (i > 0) hashInto(bigrams, `${toks[i - 1]} ${t}`, STYLE_GROUPS.bigrams);
  }
  const first: number[] = [];
  hashInto(first, `1:${toks[0] ?? ""}`, STYLE_GROUPS.first);
  hashInto(first, `3:${toks.slice(0, 3).join(" ")}`, STYLE_GROUPS.first);
  const last: number[] = [];
  hashInto(last, toks.slice(-3).join(" "), STYLE_GROUPS.last);
  const lines = text.split("\n");
  const lineStarts: number[] = [];
  for (const l of lines) {
    if (l.trim() === "") continue;
    hashInto(lineStarts, tokenize(l.replace(/\d+/g, "0")).slice(0, 2).join(" "), STYLE_GROUPS.lines);
  }
  const format: number[] = [];
  for (const [i, f] of FORMAT_TESTS.entries()) if (f(text, lines, toks)) format.push(i);
  const punct = punctuation(text);
  return {
    buckets: {
      words: Uint32Array.from(words),
      bigrams: Uint32Array.from(bigrams),
      first: Uint32Array.from(first),
      last: Uint32Array.from(last),
      lines: Uint32Array.from(lineStarts),
      format: Uint32Array.from(format),
      punct: Uint32Array.from(punct),
    },
  };
}

const NOT_PUNCT = /[\p{L}\p{N}\s]/u;

/**
 * The punct group's buckets: one per character (code point) that is not a letter, digit or white space, as
 * written, hashed by FNV-1a of the character. ASCII is classified by a table, the rest by NOT_PUNCT.
 */
function punctuation(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 128) {
      if (ASCII_PUNCT[c] === 1) out.push(fnv(text[i] ?? "") % STYLE_GROUPS.punct);
      continue;
    }
    // A surrogate pair is one character (for..of semantics); a lone surrogate stands alone.
    const wide =
      c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    const ch = wide ? text.slice(i, i + 2) : (text[i] ?? "");
    if (wide) i++;
    if (!NOT_PUNCT.test(ch)) out.push(fnv(ch) % STYLE_GROUPS.punct);
  }
  return out;
}
const ASCII_PUNCT = Uint8Array.from({ length: 128 }, (_, c) =>
  NOT_PUNCT.test(String.fromCharCode(c)) ? 0 : 1,
);

/**
 * The profile of a model from its answers' counts: sqrt of relative frequencies per group (format: sqrt of
 * the share of answers showing each habit).
 */
export function styleProfile(answers: Iterable<StyleCounts>): StyleProfile {
  const counts = Object.fromEntries(GROUP_NAMES.map((g) => [g, new Float64Array(STYLE_GROUPS[g])])) as Record<
    StyleGroup,
    Float64Array
  >;
  let n = 0;
  for (const a of answers) {
    n++;
    for (const g of GROUP_NAMES) {
      const v = counts[g];
      for (const b of a.buckets[g]) v[b] = (v[b] ?? 0) + 1;
    }
  }
  const out = {} as Record<StyleGroup, Float64Array>;
  for (const g of GROUP_NAMES) {
    const v = counts[g];
    let total = 0;
    if (g === "format") total = n;
    else for (const x of v) total += x;
    out[g] = Float64Array.from(v, (x) => (total === 0 ? 0 : Math.sqrt(x / total)));
  }
  return out;
}

/** Per group, the element-wise sum of profiles (for leave-pair-out population means). */
export function sumProfiles(ps: readonly StyleProfile[]): StyleProfile {
  const out = {} as Record<StyleGroup, Float64Array>;
  for (const g of GROUP_NAMES) {
    const v = new Float64Array(STYLE_GROUPS[g]);
    for (const p of ps) for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) + (p[g][i] ?? 0);
    out[g] = v;
  }
  return out;
}

/**
 * A population C as styleAgreement needs it: per group the element-wise sum and sum of squares of its
 * members' profiles, and its size.
 */
export interface StylePopulation {
  readonly sum: StyleProfile;
  readonly sumSq: StyleProfile;
  readonly count: number;
}

/** The StylePopulation of the given profiles. */
export function stylePopulation(ps: readonly StyleProfile[]): StylePopulation {
  const sumSq = {} as Record<StyleGroup, Float64Array>;
  for (const g of GROUP_NAMES) {
    const v = new Float64Array(STYLE_GROUPS[g]);
    for (const p of ps) for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) + (p[g][i] ?? 0) ** 2;
    sumSq[g] = v;
  }
  return { sum: sumProfiles(ps), sumSq, count: ps.length };
}

/**
 * How much a over- and under-uses the same features as b, relative to a population C that leaves out a and
 * b: per group the cosine of (a - mean C) with (b - mean C), or for a `delta` group (STYLE_GROUP_MEASURE) the
 * Cosine Delta over all its features; then the weighted mean over groups. In [-1, 1]; 0 when C is empty (a
 * `delta` group is 0 when C has fewer than 2 members). Also returns the per-group values.
 */
export function styleAgreement(
  a: StyleProfile,
  b: StyleProfile,
  others: StylePopulation,
): { readonly value: number; readonly groups: Readonly<Record<StyleGroup, number>> } {
  const groups = {} as Record<StyleGroup, number>;
  if (others.count <= 0) {
    for (const g of GROUP_NAMES) groups[g] = 0;
    return { value: 0, groups };
  }
  let sum = 0;
  let wsum = 0;
  for (const g of GROUP_NAMES) {
    const va = a[g];
    const vb = b[g];
    const vs = others.sum[g];
    let cos: number;
    if (STYLE_GROUP_MEASURE[g] === "delta") {
      cos = cosineDelta(va, vb, vs, others.sumSq[g], others.count, STYLE_GROUPS[g]);
    } else {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < va.length; i++) {
        const mu = (vs[i] ?? 0) / others.count;
        const da = (va[i] ?? 0) - mu;
        const db = (vb[i] ?? 0) - mu;
        dot += da * db;
        na += da * da;
        nb += db * db;
      }
      cos = na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
    }
    groups[g] = cos;
    sum += STYLE_GROUP_WEIGHTS[g] * cos;
    wsum += STYLE_GROUP_WEIGHTS[g];
  }
  return { value: sum / wsum, groups };
}

/**
 * Cosine Delta on word choice (Burrows' Delta in its cosine form, Smith & Aldridge 2011; Evert et al. 2017
 * "Understanding and explaining Delta measures for authorship attribution"): over the population's
 * `features` most frequent features, each feature's deviation from the population mean is divided by the
 * population's standard deviation of that feature (a z-score), and the statistic is the cosine of a's
 * z-vector with b's. Unlike `styleAgreement`'s raw deviations, which the few most frequent words (the, a,
 * punctuation) dominate, every selected word then counts alike: preferring "additionally" to "also" weighs as
 * much as using more commas. Features are selected by the population's mean only (never by a or b), so the
 * selection cannot favour a pair.
 */
export const DELTA_FEATURES = 1000;
/** Added to every feature's population standard deviation (a feature nobody varies must not divide by 0). */
export const DELTA_SD_FLOOR = 1e-4;

/**
 * The Cosine Delta of profiles a and b (one group's vectors, e.g. `words`) against a population given as the
 * element-wise sum and sum of squares of its members' vectors and its size (which must leave out a and b).
 * In [-1, 1]; 0 when the population has fewer than 2 members or a vector is all at the mean.
 */
export function cosineDelta(
  a: Float64Array,
  b: Float64Array,
  popSum: Float64Array,
  popSumSq: Float64Array,
  popCount: number,
  features = DELTA_FEATURES,
): number {
  const n = a.length;
  if (b.length !== n || popSum.length !== n || popSumSq.length !== n) {
    throw new RangeError("cosineDelta: vectors of different lengths");
  }
  if (popCount < 2) return 0;
  const mean = new Float64Array(n);
  for (let i = 0; i < n; i++) mean[i] = (popSum[i] ?? 0) / popCount;
  // The `features`-th largest mean: features at or above it are compared (ties may add a few).
  const keep = Math.min(n, Math.max(1, Math.floor(features)));
  const sorted = Float64Array.from(mean).sort();
  const cut = sorted[n - keep] ?? 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    const mu = mean[i] ?? 0;
    if (mu < cut || mu <= 0) continue;
    const sd = Math.sqrt(Math.max(0, (popSumSq[i] ?? 0) / popCount - mu * mu)) + DELTA_SD_FLOOR;
    const za = ((a[i] ?? 0) - mu) / sd;
    const zb = ((b[i] ?? 0) - mu) / sd;
    dot += za * zb;
    na += za * za;
    nb += zb * zb;
  }
  return na === 0 || nb === 0 ? 0 : Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
}
