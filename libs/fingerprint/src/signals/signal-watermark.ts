/**
 * Signal 5: watermark radioactivity (Kirchenbauer et al. 2023; Sander et al., "Watermarking Makes
 * Language Models Radioactive", 2024). A member that samples with the keyed green-list rule of
 * watermark-green-list.ts leaves a green bias in its outputs; a model trained on them inherits it.
 *
 * Null ("the suspect's text is independent of the member's key"): each distinct (previous token, token)
 * pair is green with probability gamma independently (the key is a PRF key unknown to the suspect), so
 * the green count G over the n distinct pairs is Binomial(n, gamma) and the exact tail P(Bin >= G) is the
 * p-value. Repeated pairs are counted once: repetition is what makes the naive z-test anti-conservative
 * on real text (Fernandez et al., "Three Bricks to Consolidate Watermarks for LLMs", 2023). Effect:
 * (green share - gamma) / (1 - gamma).
 *
 * Where the suspect served log-probabilities, the pairs also include (previous token, alternative) for
 * every top alternative at each generated position (the first position's previous token is the prompt's
 * last token). A student of watermarked text ranks green continuations higher, so its alternatives are
 * green more often than gamma; under the null the suspect's choice of which pairs to rank is independent
 * of the key, so every distinct pair is still green with probability gamma independently and the exact
 * binomial tail stays valid. Served tokens that are not exactly one Lineage token are skipped.
 */
import type { ModelResponse } from "../probe/probe-types.js";
import { tokenize } from "../probe/tokenize.js";
import { binomialUpperTail } from "../stats/stats-exact.js";
import type { SignalResult } from "./signal-types.js";
import { unavailableSignal } from "./signal-types.js";
import { greenSeed, isGreenHashed, tokenHash32 } from "./watermark-green-list.js";

/** A suspect response with the prompt it answered, so served alternatives can be paired with context. */
export interface WatermarkResponse {
  readonly prompt?: string;
  readonly response: ModelResponse;
}

/** Most distinct pairs counted (bounds memory on huge inputs; pairs past it are ignored, in order). */
export const MAX_WATERMARK_PAIRS = 1_000_000;

/** The single Lineage token a served token stands for, or null (subword pieces, several words). */
function lineageToken(served: string): string | null {
  const t = tokenize(served);
  return t.length === 1 ? (t[0] ?? null) : null;
}

/** Separator of a pair's two tokens in a pair key: a Lineage token never contains whitespace. */
const PAIR_SEP = "\n";

/**
 * The distinct (previous token, token) pairs of some responses — from their texts and, where served,
 * (previous token, top alternative) at each generated position — as `prev\ntoken` keys, with how many
 * of them came only from served alternatives. At most MAX_WATERMARK_PAIRS, taken in order.
 */
export function collectWatermarkPairs(items: readonly (string | WatermarkResponse)[]): {
  readonly pairs: Set<string>;
  readonly alternativePairs: number;
} {
  const pairs = new Set<string>();
  let alternativePairs = 0;
  const add = (prev: string, tok: string): boolean => {
    const k = `${prev}${PAIR_SEP}${tok}`;
    if (pairs.has(k) || pairs.size >= MAX_WATERMARK_PAIRS) return false;
    pairs.add(k);
    return true;
  };
  for (const item of items) {
    const text = typeof item === "string" ? item : item.response.text;
    const toks = tokenize(text);
    for (let i = 1; i < toks.length; i++) add(toks[i - 1] ?? "", toks[i] ?? "");
    if (typeof item === "string" || !item.response.tokens) continue;
    // Served alternatives: context = the previous emitted token (the prompt's last token at position 0).
    let prev: string | null = tokenize(item.prompt ?? "").at(-1) ?? null;
    for (const pos of item.response.tokens) {
      if (prev !== null) {
        for (const alt of pos.top) {
          const t = lineageToken(alt.token);
          if (t !== null && add(prev, t)) alternativePairs++;
        }
      }
      prev = lineageToken(pos.token);
    }
  }
  return { pairs, alternativePairs };
}

/** The distinct pair keys of some responses (see collectWatermarkPairs). */
export function watermarkPairs(items: readonly (string | WatermarkResponse)[]): Set<string> {
  return collectWatermarkPairs(items).pairs;
}

/** Judges pair keys green under one key, computing each context's keyed seed once. */
export class GreenPairs {
  readonly #key: Uint8Array;
  readonly #gamma: number;
  readonly #seeds = new Map<string, number>();
  constructor(key: Uint8Array, gamma: number) {
    this.#key = key;
    this.#gamma = gamma;
  }
  isGreen(pair: string): boolean {
    const cut = pair.indexOf(PAIR_SEP);
    const prev = pair.slice(0, cut);
    let seed = this.#seeds.get(prev);
    if (seed === undefined) {
      seed = greenSeed(this.#key, prev);
      this.#seeds.set(prev, seed);
    }
    return isGreenHashed(seed, tokenHash32(pair.slice(cut + 1)), this.#gamma);
  }
}

/**
 * Runs signal 5 over the suspect's responses (plain texts, or responses with log-probabilities and their
 * prompts) with the member's key; the key never leaves this call.
 */
export function watermarkSignal(
  texts: readonly (string | WatermarkResponse)[],
  key: Uint8Array | undefined,
  gamma = 0.25,
  minPairs = 50,
): SignalResult {
  if (!key) return unavailableSignal("watermark", "no watermark key for this member");
  const { pairs, alternativePairs } = collectWatermarkPairs(texts);
  const judge = new GreenPairs(key, gamma);
  let green = 0;
  for (const p of pairs) if (judge.isGreen(p)) green++;
  const n = pairs.size;
  if (n < minPairs) return unavailableSignal("watermark", `fewer than ${minPairs} distinct token pairs`);
  const z = (green - gamma * n) / Math.sqrt(n * gamma * (1 - gamma));
  return {
    name: "watermark",
    available: true,
    statistic: z,
    p_value: binomialUpperTail(green, n, gamma),
    effect: (green / n - gamma) / (1 - gamma),
    detail: { pairs: n, green, gamma, z: Number(z.toFixed(3)), alternative_pairs: alternativePairs },
  };
}
