/**
 * Signal 5, version 2: watermark radioactivity (Kirchenbauer et al., "A Watermark for Large Language
 * Models", 2023; Sander et al., "Watermarking Makes Language Models Radioactive", 2024). A member that samples
 * with the keyed green-list rule of watermark-green-list.ts leaves a green bias in its outputs; a model
 * trained on them inherits it.
 *
 * Null, and whose randomness it is. The member's key was committed (logged) before the suspect was first
 * seen, so for a suspect that never learned from the member's outputs, the suspect's text is fixed and the
 * KEY is the random thing: each distinct (previous token, token) pair is green with probability gamma,
 * independently across pairs (a PRF key unknown to everyone when the text was made), and the green count of
 * any set of pairs chosen WITHOUT the key is exactly Binomial(n, gamma). Repeated pairs count once
 * (repetition is what makes naive counts anti-conservative; Fernandez et al., "Three Bricks to Consolidate
 * Watermarks for LLMs", 2023). Nothing here reads a panel: a panel-relative selection let a panel crafted
 * with the key frame an innocent suspect (issue 7), and the over-keys null needs none.
 *
 * Selection (fixed in advance, public, independent of the key and of any panel): a pair is SELECTED unless
 * both of its tokens are common — in WATERMARK_COMMON_TOKENS (a fixed list of English function words,
 * written down before any comparison and never fitted to data) or made of no letter or digit (punctuation).
 * Why: a student inherits the green bias on the continuations it learned from the member's outputs, which are
 * content pairs; "of the", ". the", "it is" are learned from all of public text and dilute the bias. The
 * choice can only cost power, never validity: any key-independent rule keeps the exact binomial null.
 *
 * The test (verdict.ts `watermarkTest`) is an intersection-union test: the selected pairs' green count AND
 * all scored pairs' green count must each reject against Binomial(n, gamma); p = the larger tail.
 *
 * Pairs: the distinct (previous token, token) pairs of the suspect's texts, and where the suspect served
 * log-probabilities, (previous emitted token, alternative) for every top alternative that is exactly one
 * Lineage token (the first position's previous token is the prompt's last token). Under the null which
 * alternatives the suspect ranks does not depend on the key, so they are pairs like any other.
 *
 * What to score: only answers to prompts nobody chose with the key. compare() scores the suspect's battery
 * answers (the hub's prompts), never its canary answers: a member could write canary prompts with its
 * watermarked model, and a suspect echoing them would carry key-dependent pairs.
 *
 * Green mass (lineage-watermark-queries/3, {@link WATERMARK_MASS_LEVELS}): with `mass`, each pair also gets a
 * weight from the probability the suspect served for it, and the counts carry the histogram of weights of all
 * and of green pairs; the verdict's green-mass test bounds the weighted green sum (valid for any weights read
 * without the key).
 *
 * Cost: `WatermarkPairSet` holds the pairs grouped by previous token with the tokens' hashes, so scoring a
 * suspect under another key is one HMAC per distinct previous token and an integer mix per pair — what a
 * benchmark drawing hundreds of keys per suspect needs.
 */
import { FingerprintError } from "../fingerprint-error.js";
import type { ModelResponse } from "../probe/probe-types.js";
import { tokenize } from "../probe/tokenize.js";
import type { WatermarkCounts } from "../verdict/verdict.js";
import { greenSeeder, isGreenHashed, tokenHash32 } from "./watermark-green-list.js";

/** A suspect response with the prompt it answered, so served alternatives can be paired with context. */
export interface WatermarkResponse {
  readonly prompt?: string;
  readonly response: ModelResponse;
}

/**
 * Which pairs to score, decided WITHOUT the key: `context` is every token before `token` (the prompt's tokens,
 * then the response's so far), so a member can keep only the pairs its own unwatermarked model finds typical
 * of itself (a model's raw distribution is trained without the key; the watermark is a sampling-time bias).
 * Any rule that reads neither the key nor anything made with it keeps the exact binomial null; one that reads
 * the key or text sampled with it (the member's watermarked outputs) does not. A pair is scored once, at its
 * first occurrence the rule keeps.
 */
export type WatermarkPairFilter = (context: readonly string[], token: string) => boolean;

/** Most distinct pairs counted (bounds memory on huge inputs; pairs past it are ignored, in order). */
export const MAX_WATERMARK_PAIRS = 1_000_000;

/** Green-list fraction used when a member states none (the testbed's watermarking members use it). */
export const DEFAULT_WATERMARK_GAMMA = 0.25;

/** Version of the pair selection rule; a change of the list or the rule is a new version. */
export const WATERMARK_SELECTION_VERSION = 2;

/**
 * Very common English tokens (function words, auxiliaries, pronouns, and contractions as Lineage tokens).
 * Fixed in advance and public; see the module comment for why a pair of two of these is not selected.
 */
export const WATERMARK_COMMON_TOKENS: ReadonlySet<string> = new Set(
  (
    "a about above after again against all also am an and any are aren't as at be because been before being " +
    "below between both but by can can't could couldn't did didn't do does doesn't doing don't down during " +
    "each even few for from further had hadn't has hasn't have haven't having he he's her here here's hers " +
    "herself him himself his how how's i i'm i've i'd i'll if in into is isn't it it's its itself just let's " +
    "like may me might more most must my myself no nor not now of off on once only or other our ours " +
    "ourselves out over own same she she's should shouldn't so some such than that that's the their theirs " +
    "them themselves then there there's these they they're they've this those through to too under until up " +
    "us very was wasn't we we're we've were weren't what what's when where which while who whom why will " +
    "with won't would wouldn't you you're you've your yours yourself yourselves one two yes"
  ).split(" "),
);

/** Whether a token is common for the selection rule: in the list, or without any letter or digit. */
export function isCommonToken(token: string): boolean {
  return WATERMARK_COMMON_TOKENS.has(token) || !/[\p{L}\p{N}]/u.test(token);
}

/** Whether a (previous token, token) pair is selected: not both tokens common (see the module comment). */
export function isSelectedPair(prev: string, token: string): boolean {
  return !(isCommonToken(prev) && isCommonToken(token));
}

/** The single Lineage token a served token stands for, or null (subword pieces, several words). */
function lineageToken(served: string): string | null {
  const t = tokenize(served);
  return t.length === 1 ? (t[0] ?? null) : null;
}

interface Context {
  readonly prev: string;
  readonly hashes: number[];
  readonly selected: boolean[];
  /** Token -> index of its pair in `hashes`. */
  readonly seen: Map<string, number>;
  /** Mass level of each pair (0: no served probability). */
  readonly levels: number[];
}

/**
 * Levels of the green-mass statistic (issue 11, ensembles): a pair's weight is k / WATERMARK_MASS_LEVELS, k =
 * ceil(WATERMARK_MASS_LEVELS * sqrt(p)) for the largest probability p the suspect served for that token after
 * that previous token (at least level 1). Fixed by protocol lineage-watermark-queries/3; a change is a new
 * version. Why sqrt(p): a student that learned a small share of its text from the member leans its served
 * distribution toward the member's green tokens, so green tokens carry more of its probability; weighting a
 * pair by how much probability the suspect puts on it reads that lean, and the square root keeps the many
 * plausible alternatives from being drowned by near-certain continuations that public text fixes anyway
 * (calibration split, bench/detection/green-mass-study.ts: 25%-share members' median p 1.9e-5 counting
 * pairs, 1.4e-7 with sqrt(p) weights, nulls unchanged). The weights are read off the suspect's answers only,
 * never the key, so the null below is exact.
 */
export const WATERMARK_MASS_LEVELS = 16;

/** The mass level of a served probability (see {@link WATERMARK_MASS_LEVELS}). */
export function massLevel(p: number): number {
  if (!(p > 0)) return 1;
  return Math.max(
    1,
    Math.min(WATERMARK_MASS_LEVELS, Math.ceil(WATERMARK_MASS_LEVELS * Math.sqrt(Math.min(1, p)))),
  );
}

/**
 * The distinct scored pairs of a suspect's responses (see the module comment), grouped by previous token,
 * ready to be scored under any number of keys. Built once per suspect; holds no key.
 */
export class WatermarkPairSet {
  readonly #contexts: { prev: string; hashes: Uint32Array; selected: Uint8Array; levels: Uint8Array }[];
  /** Distinct scored pairs. */
  readonly size: number;
  /** Distinct pairs the selection rule keeps. */
  readonly selectedSize: number;
  /** Distinct pairs that came only from served alternatives. */
  readonly alternativePairs: number;
  /** Whether the set carries mass levels (built with `mass: true`): counts() then reports `mass`. */
  readonly withMass: boolean;

  private constructor(
    contexts: Map<string, Context>,
    size: number,
    selectedSize: number,
    alternatives: number,
    withMass: boolean,
  ) {
    this.#contexts = [...contexts.values()].map((c) => ({
      prev: c.prev,
      hashes: Uint32Array.from(c.hashes),
      selected: Uint8Array.from(c.selected, (x) => (x ? 1 : 0)),
      levels: Uint8Array.from(c.levels),
    }));
    this.size = size;
    this.selectedSize = selectedSize;
    this.alternativePairs = alternatives;
    this.withMass = withMass;
  }

  /**
   * Collects the pairs of some responses (plain texts, or responses with their prompts); with `keep`, only the
   * pairs it keeps (see {@link WatermarkPairFilter}: it must not read the key). With `mass`, every pair also
   * gets its mass level from the probabilities the suspect served (the emitted token's and each alternative's;
   * the largest over occurrences), and counts() reports the green-mass histogram: then only pairs the suspect
   * served a probability for are scored (text pairs of a response without served tokens are skipped), so the
   * histogram and the counts cover the same pairs.
   */
  static fromResponses(
    items: readonly (string | WatermarkResponse)[],
    options: { readonly keep?: WatermarkPairFilter; readonly mass?: boolean } = {},
  ): WatermarkPairSet {
    const contexts = new Map<string, Context>();
    let size = 0;
    let selectedSize = 0;
    let alternatives = 0;
    const keep = options.keep;
    const mass = options.mass === true;
    let before: readonly string[] = [];
    const add = (prev: string, tok: string, context: () => readonly string[], level: number): boolean => {
      const known = contexts.get(prev)?.seen.get(tok);
      if (known !== undefined) {
        const c = contexts.get(prev) as Context;
        if (level > (c.levels[known] ?? 0)) c.levels[known] = level;
        return false;
      }
      if (size >= MAX_WATERMARK_PAIRS) return false;
      if (keep && !keep(context(), tok)) return false;
      let c = contexts.get(prev);
      if (!c) {
        c = { prev, hashes: [], selected: [], seen: new Map(), levels: [] };
        contexts.set(prev, c);
      }
      const sel = isSelectedPair(prev, tok);
      c.seen.set(tok, c.hashes.length);
      c.hashes.push(tokenHash32(tok));
      c.selected.push(sel);
      c.levels.push(level);
      size++;
      if (sel) selectedSize++;
      return true;
    };
    for (const item of items) {
      const text = typeof item === "string" ? item : item.response.text;
      const served = typeof item === "string" ? undefined : item.response.tokens;
      if (!mass) {
        const toks = tokenize(text);
        const promptToks = typeof item === "string" || keep === undefined ? [] : tokenize(item.prompt ?? "");
        for (let i = 1; i < toks.length; i++)
          add(toks[i - 1] ?? "", toks[i] ?? "", () => [...promptToks, ...toks.slice(0, i)], 0);
      }
      if (typeof item === "string" || !served) continue;
      // Served tokens: context = the previous emitted token (the prompt's last token at position 0); with
      // `mass`, the emitted token is a pair too, weighted by its own served probability.
      let prev: string | null = tokenize(item.prompt ?? "").at(-1) ?? null;
      before = keep === undefined ? [] : tokenize(item.prompt ?? "");
      for (const pos of served) {
        const emitted = lineageToken(pos.token);
        if (prev !== null) {
          if (mass && emitted !== null)
            add(
              prev,
              emitted,
              () => before,
              massLevel(pos.logprob === undefined ? 0 : Math.exp(pos.logprob)),
            );
          for (const alt of pos.top) {
            const t = lineageToken(alt.token);
            if (t !== null && add(prev, t, () => before, mass ? massLevel(Math.exp(alt.logprob)) : 0))
              alternatives++;
          }
        }
        prev = emitted;
        if (keep !== undefined) before = prev === null ? [] : [...before, prev];
      }
    }
    return new WatermarkPairSet(contexts, size, selectedSize, alternatives, mass);
  }

  /**
   * The counts under one key: how many selected and how many of all pairs are green. The key never leaves
   * this call. Throws FingerprintError INVALID_ARGUMENT on a key shorter than 16 bytes or gamma outside (0, 1).
   */
  counts(key: Uint8Array, gamma: number = DEFAULT_WATERMARK_GAMMA): WatermarkCounts {
    checkKeyAndGamma(key, gamma);
    let selectedGreen = 0;
    let allGreen = 0;
    const massScored = new Array<number>(WATERMARK_MASS_LEVELS).fill(0);
    const massGreen = new Array<number>(WATERMARK_MASS_LEVELS).fill(0);
    const seedOf = greenSeeder(key);
    for (const c of this.#contexts) {
      const seed = seedOf(c.prev);
      for (let i = 0; i < c.hashes.length; i++) {
        const level = c.levels[i] ?? 0;
        if (level > 0) massScored[level - 1] = (massScored[level - 1] ?? 0) + 1;
        if (!isGreenHashed(seed, c.hashes[i] ?? 0, gamma)) continue;
        allGreen++;
        if (c.selected[i] === 1) selectedGreen++;
        if (level > 0) massGreen[level - 1] = (massGreen[level - 1] ?? 0) + 1;
      }
    }
    return {
      gamma,
      selected_scored: this.selectedSize,
      selected_green: selectedGreen,
      all_scored: this.size,
      all_green: allGreen,
      ...(this.withMass ? { mass: { scored: massScored, green: massGreen } } : {}),
    };
  }
}

function checkKeyAndGamma(key: Uint8Array, gamma: number): void {
  if (!(key instanceof Uint8Array) || key.length < 16 || key.length > 1024) {
    throw new FingerprintError("INVALID_ARGUMENT", "watermark key must be 16..1024 bytes");
  }
  if (!(typeof gamma === "number" && gamma > 0 && gamma < 1)) {
    throw new FingerprintError("INVALID_ARGUMENT", `watermark gamma must be in (0, 1), got ${gamma}`);
  }
}

/**
 * The watermark counts of a suspect's responses under one key (the verdict module's `watermarkTest` turns
 * them into the p-value). To score the same suspect under many keys, build a `WatermarkPairSet` once and
 * call its `counts` per key.
 */
export function watermarkCountsFromResponses(
  responses: readonly (string | WatermarkResponse)[],
  key: Uint8Array,
  gamma: number = DEFAULT_WATERMARK_GAMMA,
): WatermarkCounts {
  checkKeyAndGamma(key, gamma);
  return WatermarkPairSet.fromResponses(responses).counts(key, gamma);
}
