/**
 * Fixed-size per-answer vectors for the per-probe part of output similarity: comparing two answers to the
 * same prompt must be cheap, because the model-level null compares every model of the population with every
 * other, probe by probe ((k + 2)(k + 1) x probes comparisons for a panel of k). Feature hashing (FNV-1a into
 * fixed buckets, no vocabulary chosen from the data) turns each answer into three unit vectors:
 *
 *   words    word unigrams and bigrams (Lineage tokens): shared wording
 *   chars    character 4-grams: survives light rewording and tokenization differences
 *   opening  character 4-grams of the first OPENING_CHARS characters: how an answer begins
 *
 * and the similarity of two answers is the mean of the three cosines (each a dot product of unit vectors),
 * in [0, 1]. Two empty answers are identical (1); an empty one against a non-empty one scores 0.
 */

import { tokenize } from "../probe/tokenize.js";

/** Buckets per part. */
export const PROBE_VECTOR_BUCKETS = Object.freeze({ words: 512, chars: 512, opening: 256 } as const);
/** How much of an answer's beginning the `opening` part looks at. */
export const PROBE_OPENING_CHARS = 120;
/** Bound on the text examined per answer (answers are untrusted and may be huge). */
export const MAX_PROBE_VECTOR_CHARS = 20_000;

/** The unit vectors of one answer. */
export interface ProbeVector {
  readonly words: Float32Array;
  readonly chars: Float32Array;
  readonly opening: Float32Array;
  readonly empty: boolean;
}

function fnv(s: string, from = 0, to = s.length): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  if (s > 0) {
    const k = 1 / Math.sqrt(s);
    for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) * k;
  }
  return v;
}

function charGrams(text: string, buckets: number): Float32Array {
  const v = new Float32Array(buckets);
  const flat = ` ${text.toLowerCase().replace(/\s+/g, " ").trim()} `;
  for (let i = 0; i + 4 <= flat.length; i++) {
    const b = fnv(flat, i, i + 4) % buckets;
    v[b] = (v[b] ?? 0) + 1;
  }
  return unit(v);
}

/** The vector of one answer (truncated to MAX_PROBE_VECTOR_CHARS). */
export function probeVector(rawText: string): ProbeVector {
  const text = rawText.length > MAX_PROBE_VECTOR_CHARS ? rawText.slice(0, MAX_PROBE_VECTOR_CHARS) : rawText;
  const toks = tokenize(text);
  const words = new Float32Array(PROBE_VECTOR_BUCKETS.words);
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] ?? "";
    const b = fnv(t) % words.length;
    words[b] = (words[b] ?? 0) + 1;
    if (i > 0) {
      const b2 = fnv(`${toks[i - 1]} ${t}`) % words.length;
      words[b2] = (words[b2] ?? 0) + 1;
    }
  }
  return {
    words: unit(words),
    chars: charGrams(text, PROBE_VECTOR_BUCKETS.chars),
    opening: charGrams(text.slice(0, PROBE_OPENING_CHARS), PROBE_VECTOR_BUCKETS.opening),
    empty: toks.length === 0,
  };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  return s;
}

/** Similarity of two answers to the same prompt, in [0, 1] (see the module comment). */
export function probeSimilarity(a: ProbeVector, b: ProbeVector): number {
  if (a.empty && b.empty) return 1;
  if (a.empty || b.empty) return 0;
  const s = (dot(a.words, b.words) + dot(a.chars, b.chars) + dot(a.opening, b.opening)) / 3;
  return Math.max(0, Math.min(1, s));
}
