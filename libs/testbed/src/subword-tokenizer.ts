/**
 * A BPE-like subword tokenizer (Sennrich et al. 2016) for the testbed's subword variant (issue 11, "Real
 * tokenizers"): merges learned greedily from word frequencies of public text, most frequent adjacent pair
 * first (ties: the lexicographically smaller pair), so that frequent words become one piece and rare words —
 * names, codes, the made-up words of canaries — are cut into several short pieces, as a real model's
 * tokenizer cuts them. Words are Lineage tokens; pieces never cross a word. Deterministic from the counts.
 */

import type { Corpus } from "./corpus.js";

/** Merges of the testbed's subword tokenizer: frequent words whole, rare words and made-up names in pieces. */
export const SUBWORD_MERGES = 4000;

/** The testbed's subword tokenizer: SUBWORD_MERGES merges learned on the public portion's word counts. */
export function trainSubwordTokenizer(corpus: Corpus, merges: number = SUBWORD_MERGES): BpeTokenizer {
  const counts = new Map<string, number>();
  for (const s of corpus.public) for (const t of corpus.tokens(s)) counts.set(t, (counts.get(t) ?? 0) + 1);
  return BpeTokenizer.train(counts, merges);
}

/** A trained merge table. */
export class BpeTokenizer {
  /** Merges in rank order, as "left right". */
  readonly merges: readonly string[];
  readonly #rank: ReadonlyMap<string, number>;
  readonly #memo = new Map<string, readonly string[]>();

  constructor(merges: readonly string[]) {
    this.merges = merges;
    this.#rank = new Map(merges.map((m, i) => [m, i]));
  }

  /**
   * Learns `mergeCount` merges from word counts (words of letters and digits; others are kept whole by
   * `encode`). Incremental: only the words that contain the merged pair are recounted.
   */
  static train(wordCounts: ReadonlyMap<string, number>, mergeCount: number): BpeTokenizer {
    if (!(Number.isInteger(mergeCount) && mergeCount >= 0 && mergeCount <= 100_000))
      throw new RangeError("mergeCount must be an integer in 0..100000");
    const words: string[][] = [];
    const freq: number[] = [];
    for (const [w, c] of [...wordCounts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (c > 0 && w.length > 1 && /^[\p{L}\p{N}]/u.test(w)) {
        words.push([...w]);
        freq.push(c);
      }
    }
    const pairCount = new Map<string, number>();
    const pairWords = new Map<string, Set<number>>();
    const addWord = (i: number, sign: 1 | -1) => {
      const s = words[i] as string[];
      for (let j = 0; j + 1 < s.length; j++) {
        const key = `${s[j]} ${s[j + 1]}`;
        pairCount.set(key, (pairCount.get(key) ?? 0) + sign * (freq[i] as number));
        if (sign === 1) {
          let set = pairWords.get(key);
          if (!set) {
            set = new Set();
            pairWords.set(key, set);
          }
          set.add(i);
        }
      }
    };
    for (let i = 0; i < words.length; i++) addWord(i, 1);
    const merges: string[] = [];
    while (merges.length < mergeCount) {
      let best: string | undefined;
      let bestCount = 0;
      for (const [k, c] of pairCount) {
        if (c > bestCount || (c === bestCount && best !== undefined && k < best)) {
          best = k;
          bestCount = c;
        }
      }
      if (best === undefined || bestCount <= 0) break;
      merges.push(best);
      const [a, b] = best.split(" ") as [string, string];
      for (const i of pairWords.get(best) ?? []) {
        addWord(i, -1);
        const s = words[i] as string[];
        const out: string[] = [];
        for (let j = 0; j < s.length; j++) {
          if (j + 1 < s.length && s[j] === a && s[j + 1] === b) {
            out.push(a + b);
            j++;
          } else out.push(s[j] as string);
        }
        words[i] = out;
        addWord(i, 1);
      }
      pairCount.delete(best);
      pairWords.delete(best);
    }
    return new BpeTokenizer(merges);
  }

  /** The pieces of one word (a Lineage token); punctuation and one-character tokens stay whole. */
  encode(word: string): readonly string[] {
    const hit = this.#memo.get(word);
    if (hit) return hit;
    let s = [...word];
    if (word.length > 1 && /^[\p{L}\p{N}]/u.test(word)) {
      for (;;) {
        let bestRank = Number.POSITIVE_INFINITY;
        let at = -1;
        for (let j = 0; j + 1 < s.length; j++) {
          const r = this.#rank.get(`${s[j]} ${s[j + 1]}`);
          if (r !== undefined && r < bestRank) {
            bestRank = r;
            at = j;
          }
        }
        if (at < 0) break;
        s = [...s.slice(0, at), (s[at] as string) + (s[at + 1] as string), ...s.slice(at + 2)];
      }
    } else s = [word];
    if (this.#memo.size >= 200_000) this.#memo.clear();
    this.#memo.set(word, s);
    return s;
  }
}
