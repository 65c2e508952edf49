/**
 * Per-response similarity features of two answers to the same prompt.
 *
 * Features (each a similarity in [0, 1] between two responses to the same prompt):
 *   word    cosine of word unigram+bigram counts (Lineage tokens)
 *   char    cosine of character 4-gram counts (survives light rewording and tokenization differences)
 *   style   cosine of function-word and punctuation frequencies (style, not content)
 *   shape   closeness of length and layout (lines, bullets, numbered items, headings, emphasis, code)
 *   blend   the mean of the six others (index 4, kept there so callers reading `[4]` keep the blend)
 *   opening cosine of character 4-gram counts of the first OPENING_CHARS characters: how an answer begins
 *           ("Sure! Here are…", restating the question, going straight to a list) is a habit a student
 *           copies from its teacher's outputs whatever the length of its own answer
 *   contain share of the model's distinct words that the reference's answer also uses (length-normalised
 *           on the model's side: a short answer made of the reference's words scores high however long the
 *           reference's answer is, where a cosine would punish the length gap)
 *
 * The similarity lead (similarity-lead.ts) ranks model-level statistics against known-unrelated model pairs;
 * these per-response features remain for diagnostics and the benchmark's retrieval study. The probe-level sign
 * test against each panel model that used them was removed (issue 7): "closer than each panel model, probe by
 * probe" is reached by any model sharing a base, a vendor or public data with the reference.
 */

import { tokenize } from "../probe/tokenize.js";

/** The similarity features, in the order of a similarity vector. */
export const SIMILARITY_FEATURES = ["word", "char", "style", "shape", "blend", "opening", "contain"] as const;
export type SimilarityFeature = (typeof SIMILARITY_FEATURES)[number];

const FUNCTION_WORDS = (
  "the a an and or but if then so because as of in on at to for from by with without about into over " +
  "under between through during before after above below up down out off again further once here there " +
  "when where why how all any both each few more most other some such no nor not only own same than too " +
  "very can will just should would could may might must shall i me my we our you your he him his she her " +
  "it its they them their what which who whom this that these those am is are was were be been being have " +
  "has had having do does did doing also however therefore thus overall additionally furthermore sure " +
  "certainly here's let's it's i'm you're don't can't first second finally example including"
).split(" ");
const FW_INDEX = new Map(FUNCTION_WORDS.map((w, i) => [w, i]));
const PUNCT = [".", ",", ";", ":", "!", "?", "(", '"', "-", "*", "#", "'"];
const STYLE_DIM = FUNCTION_WORDS.length + PUNCT.length;

/** Per-response features, computed once and compared many times. */
export interface ResponseFeatures {
  readonly words: ReadonlyMap<string, number>;
  readonly wordsNorm: number;
  readonly chars: ReadonlyMap<string, number>;
  readonly charsNorm: number;
  readonly style: Float64Array;
  readonly styleNorm: number;
  /** log1p of [tokens, lines, bullets, numbered, headings, emphasis, code fences]. */
  readonly shape: Float64Array;
  /** Character 4-grams of the first OPENING_CHARS characters. */
  readonly opening: ReadonlyMap<string, number>;
  readonly openingNorm: number;
  /** Distinct tokens. */
  readonly types: ReadonlySet<string>;
  readonly empty: boolean;
}

/** How much of an answer's beginning the `opening` feature looks at. */
export const OPENING_CHARS = 120;

function charGrams(text: string): Map<string, number> {
  const flat = ` ${text.toLowerCase().replace(/\s+/g, " ").trim()} `;
  const grams = new Map<string, number>();
  for (let i = 0; i + 4 <= flat.length; i++) bump(grams, flat.slice(i, i + 4));
  return grams;
}

function norm(m: ReadonlyMap<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v * v;
  return Math.sqrt(s);
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** Bound on the text examined per response: responses are untrusted and may be huge. */
export const MAX_FEATURE_CHARS = 20_000;

/** Computes the features of one response text (truncated to MAX_FEATURE_CHARS). */
export function responseFeatures(rawText: string): ResponseFeatures {
  const text = rawText.length > MAX_FEATURE_CHARS ? rawText.slice(0, MAX_FEATURE_CHARS) : rawText;
  const toks = tokenize(text);
  const words = new Map<string, number>();
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] ?? "";
    bump(words, t);
    if (i > 0) bump(words, `${toks[i - 1]} ${t}`);
  }
  const chars = charGrams(text);
  const opening = charGrams(text.slice(0, OPENING_CHARS));
  const style = new Float64Array(STYLE_DIM);
  for (const t of toks) {
    const w = FW_INDEX.get(t);
    if (w !== undefined) style[w] = (style[w] ?? 0) + 1;
    else {
      const p = PUNCT.indexOf(t);
      if (p >= 0) style[FUNCTION_WORDS.length + p] = (style[FUNCTION_WORDS.length + p] ?? 0) + 1;
    }
  }
  let sn = 0;
  for (const v of style) sn += v * v;
  const lines = text.split("\n");
  let bullets = 0;
  let numbered = 0;
  let headings = 0;
  for (const l of lines) {
    const s = l.trimStart();
    if (/^[-*•]\s/.test(s)) bullets++;
    else if (/^\d+[.)]\s/.test(s)) numbered++;
    if (/^#{1,6}\s/.test(s) || /^\*\*[^*]+\*\*:?$/.test(s.trim())) headings++;
  }
  const emphasis = (text.match(/\*\*/g) ?? []).length / 2;
  const fences = (text.match(/```/g) ?? []).length;
  const nonEmptyLines = lines.filter((l) => l.trim() !== "").length;
  const shape = Float64Array.from(
    [toks.length, nonEmptyLines, bullets, numbered, headings, emphasis, fences],
    (v) => Math.log1p(v),
  );
  return {
    words,
    wordsNorm: norm(words),
    chars,
    charsNorm: norm(chars),
    style,
    styleNorm: Math.sqrt(sn),
    shape,
    opening,
    openingNorm: norm(opening),
    types: new Set(toks),
    empty: toks.length === 0,
  };
}

function cosineMaps(
  a: ReadonlyMap<string, number>,
  an: number,
  b: ReadonlyMap<string, number>,
  bn: number,
): number {
  if (an === 0 || bn === 0) return 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [k, v] of small) {
    const w = large.get(k);
    if (w !== undefined) dot += v * w;
  }
  return dot / (an * bn);
}

/**
 * The similarity vector of model response `a` to reference response `b`, in SIMILARITY_FEATURES order
 * (`contain` is asymmetric: the share of a's distinct words found in b). Two empty responses are identical
 * (1 on every feature); one empty response against a non-empty one scores 0 on content.
 */
export function featureSimilarity(a: ResponseFeatures, b: ResponseFeatures): number[] {
  if (a.empty && b.empty) return [1, 1, 1, 1, 1, 1, 1];
  const word = cosineMaps(a.words, a.wordsNorm, b.words, b.wordsNorm);
  const char = cosineMaps(a.chars, a.charsNorm, b.chars, b.charsNorm);
  let sdot = 0;
  for (let i = 0; i < STYLE_DIM; i++) sdot += (a.style[i] ?? 0) * (b.style[i] ?? 0);
  const style = a.styleNorm === 0 || b.styleNorm === 0 ? 0 : sdot / (a.styleNorm * b.styleNorm);
  let dist = 0;
  for (let i = 0; i < a.shape.length; i++) dist += Math.abs((a.shape[i] ?? 0) - (b.shape[i] ?? 0));
  const shape = Math.exp(-dist / a.shape.length);
  const opening = cosineMaps(a.opening, a.openingNorm, b.opening, b.openingNorm);
  let shared = 0;
  for (const t of a.types) if (b.types.has(t)) shared++;
  const contain = a.types.size === 0 ? 0 : shared / a.types.size;
  const blend = (word + char + style + shape + opening + contain) / 6;
  return [word, char, style, shape, blend, opening, contain];
}

/**
 * Per-probe similarity vectors of one model's responses to the reference's, for the probes both answered:
 * `null` where either response is missing.
 */
