/**
 * Signal 1: paired canaries (DESIGN.md, "Deciding copied: who chose the null?"). The member commits canary
 * PAIRS, two items made by the same generator; which item of each pair was exposed in its training data is
 * derived from the log after the commitment (neither member nor hub chooses it), so the engine receives the
 * pairs already labelled.
 *
 * Null ("the suspect never learned from this member"): the suspect's answers do not depend on the labels, so
 * for each COMPLETED pair (both items asked and answered) the hit pattern is fixed and the label is a fair
 * coin, independently across pairs. Concordant pairs (both hit — a generic answer the generator makes easy —
 * or neither) carry no information and drop out by construction; a discordant pair is "exposed only" with
 * probability exactly 1/2. The test is exact McNemar, P(Binomial(b + c, 1/2) >= b) with b exposed-only and
 * c decoy-only pairs, computed by the verdict module (`canaryPairsTest`) from the counts produced here, so the
 * member, the hub and the auditor recompute it alike. The tail is checked by enumerating every labelling in
 * signals.test.ts.
 *
 * Sequential form: with `askedOrder`, pairs are taken in the order they COMPLETED (the later of their two
 * items), and the discordant ones are recorded as "E"/"D" (`sequence`); the verdict module bets on them with
 * the sign-test martingale, which is a test martingale under the paired null whatever the stopping rule.
 * A pair with one item answered is never bet on: its label would be read off a half-observed pair.
 *
 * Asking order (`canaryAskOrder`): a seeded shuffle of all items, fixed before any answer, in which the two
 * items of a pair enter by their ids, not by their labels — so the order is a function of the seed and the
 * committed ids only, and even a suspect whose answers depend on what it was asked before cannot see labels.
 *
 * Hits: the answer's content tokens (Lineage tokens, minus function words and punctuation) must appear in
 * the response, in any order, with surrounding rewording allowed. Where the suspect served log-probabilities
 * with the answer, a hit is also the answer's first content token among the top alternatives at one of the
 * first generated positions (`canaryResponseHit`): a student that learned a fact from few examples often
 * ranks it second or third behind a generic continuation. The rule reads only the answer and the response,
 * identically for both items of a pair, so it cannot break the null.
 *
 * Scores (policy 3's rank test): where the suspect scores prompts (legacy completions with `echo`), each item
 * is also asked as `canaryScoringPrompt` — its prompt followed by its answer — and its score is the mean
 * log-probability the suspect gives the answer's tokens (`canaryAnswerScore`). A student that learned the
 * exposed item gives its answer a higher log-probability than the decoy's, even where neither answer is
 * generated; the score reads only the item and the response, identically for both items, so under the null
 * the sign of score(exposed) - score(decoy) is the pair's fair label coin. The scoring query shows the
 * suspect both answers of every pair (never which one is exposed): a commitment whose pairs were scored is
 * spent for that suspect.
 */
import { FingerprintError } from "../fingerprint-error.js";
import type { Canary, CanarySet, ModelResponse } from "../probe/probe-types.js";
import { tokenize } from "../probe/tokenize.js";
import { seededShuffle } from "../stats/seeded-shuffle.js";
import type { CanaryPairCounts } from "../verdict/verdict.js";

const STOP = new Set(
  "the a an of in on at to for is are was were be by and or with as its it this that from".split(" "),
);

/** Content tokens of an answer: what must be reproduced for a hit. */
export function answerContentTokens(answer: string): string[] {
  return tokenize(answer).filter((t) => /[\p{L}\p{N}]/u.test(t) && !STOP.has(t));
}

/**
 * Whether a response states a canary's answer: at least `minShare` (default 1: all) of the answer's
 * content tokens occur in the response. An answer with no content tokens never matches.
 */
export function canaryHit(answer: string, response: string, minShare = 1): boolean {
  const need = answerContentTokens(answer);
  if (need.length === 0) return false;
  const have = new Set(tokenize(response));
  let found = 0;
  for (const t of need) if (have.has(t)) found++;
  return found >= Math.ceil(minShare * need.length - 1e-9);
}

/** Generated positions searched for the answer's first token by the log-probability rule. */
export const CANARY_LOGPROB_POSITIONS = 3;

/**
 * Top alternatives asked per position on canary queries (the OpenAI API's maximum). Member node and
 * auditor both ask this many and apply `canaryResponseHit`, so a hit the member counts, the auditor can
 * reproduce.
 */
export const CANARY_TOP_LOGPROBS = 20;

/** Shortest served alternative accepted as a prefix of the answer token (subword tokenizers). */
const MIN_PREFIX_CHARS = 5;

/**
 * Whether a served response states a canary's answer: a text hit (`canaryHit`), or, when the response
 * carries log-probabilities, the answer's first content token (or a prefix of it of at least 5
 * characters, for subword tokenizers) is the emitted token or a top alternative at one of the first
 * `positions` (default 3) generated positions. Pure and symmetric in exposed/decoys: only the answer and
 * the response decide.
 */
export function canaryResponseHit(
  answer: string,
  response: string | ModelResponse,
  options: { readonly minShare?: number; readonly positions?: number } = {},
): boolean {
  const r = typeof response === "string" ? { text: response } : response;
  if (canaryHit(answer, r.text, options.minShare)) return true;
  const first = answerContentTokens(answer)[0];
  if (first === undefined || !r.tokens) return false;
  const matches = (tok: string) => {
    const t = tok.normalize("NFKC").trim().toLowerCase();
    return t === first || (t.length >= MIN_PREFIX_CHARS && first.startsWith(t) && /[\p{L}\p{N}]/u.test(t));
  };
  const positions = Math.max(0, Math.floor(options.positions ?? CANARY_LOGPROB_POSITIONS));
  for (const pos of r.tokens.slice(0, positions)) {
    if (matches(pos.token)) return true;
    for (const alt of pos.top) if (matches(alt.token)) return true;
  }
  return false;
}

/** The scoring query of a canary item: its prompt, a space, its answer; `answerStart` is the answer's offset. */
export function canaryScoringPrompt(c: Pick<Canary, "prompt" | "answer">): {
  readonly prompt: string;
  readonly answerStart: number;
} {
  return { prompt: `${c.prompt} ${c.answer}`, answerStart: c.prompt.length + 1 };
}

/**
 * An item's score from the suspect's answer to its scoring query (`canaryScoringPrompt`, asked with echo):
 * the mean log-probability of the prompt tokens that start at or after the answer. Null when the response
 * scored no prompt tokens there (an endpoint that does not echo) or any of them lacks a finite log-probability.
 */
export function canaryAnswerScore(
  c: Pick<Canary, "prompt" | "answer">,
  response: ModelResponse,
): number | null {
  const { answerStart } = canaryScoringPrompt(c);
  const toks = (response.promptTokens ?? []).filter((t) => (t.offset ?? -1) >= answerStart);
  if (toks.length === 0) return null;
  let sum = 0;
  for (const t of toks) {
    if (t.logprob === undefined || !Number.isFinite(t.logprob)) return null;
    sum += t.logprob;
  }
  return sum / toks.length;
}

/** The suspect's responses to canary prompts, by canary id (text, or a response with log-probabilities). */
export type CanaryResponses = ReadonlyMap<string, string | ModelResponse>;

/**
 * The signs of nonzero differences ordered by increasing magnitude, equal magnitudes kept in their given
 * (commitment) order: "E" for exposed higher, "D" for decoy higher. Zero differences drop out.
 */
export function rankSigns(diffs: readonly number[]): string {
  return diffs
    .map((d, i) => ({ d, i }))
    .filter((x) => x.d !== 0)
    .sort((a, b) => Math.abs(a.d) - Math.abs(b.d) || a.i - b.i)
    .map((x) => (x.d > 0 ? "E" : "D"))
    .join("");
}

/**
 * The order in which to ask a canary set's items: a seeded shuffle of all 2n items, fixed before any answer,
 * where each pair contributes its two items sorted by id (never by label). See the module comment.
 */
export function canaryAskOrder(set: CanarySet, seed: number): Canary[] {
  const items: Canary[] = [];
  for (const p of set.pairs) {
    const [a, b] = p.exposed.id < p.decoy.id ? [p.exposed, p.decoy] : [p.decoy, p.exposed];
    items.push(a, b);
  }
  return seededShuffle(items, seed);
}

/** Options of the paired canary scoring. */
export interface CanaryPairOptions {
  /** Share of an answer's content tokens a text hit needs (default 1: all). */
  readonly minShare?: number;
  /**
   * Item ids in the order they were asked (an order fixed independently of the labels, e.g.
   * `canaryAskOrder`): turns on the sequential form, recording the discordant pairs' outcomes in
   * completion order. Every answered item must appear in it once.
   */
  readonly askedOrder?: readonly string[];
  /**
   * Item scores (`canaryAnswerScore`) by item id: turns on the rank counts (`scored_pairs`, `rank_signs`)
   * over the committed pairs whose two items were both scored, answered or not (the rank test reads the
   * scoring queries only). Fixed-sample only (not with `askedOrder`).
   */
  readonly scores?: ReadonlyMap<string, number>;
}

/** The paired counts and what the report may show about them (never canary text). */
export interface CanaryPairScore {
  readonly counts: CanaryPairCounts;
  readonly detail: {
    /** Items answered (of 2 x pairs_committed). */
    readonly items_answered: number;
    /** Whether any answer carried log-probabilities, i.e. whether the log-probability rule could apply. */
    readonly logprob_rule: boolean;
    /** Hits by the text rule alone, per arm (of completed pairs). */
    readonly exposed_text_hits: number;
    readonly decoy_text_hits: number;
    readonly sequential: boolean;
  };
}

/**
 * Scores the suspect's answers on a labelled canary set: the per-arm and discordant counts over COMPLETED
 * pairs (both items answered), and with `askedOrder` the "E"/"D" sequence of discordant pairs in completion
 * order. Unanswered items leave their pair out. The p-value is the verdict module's `canaryPairsTest` on
 * the counts. Throws FingerprintError INVALID_ARGUMENT when `askedOrder` repeats or misses an answered item.
 */
export function scoreCanaryPairs(
  set: CanarySet,
  responses: CanaryResponses,
  options: CanaryPairOptions = {},
): CanaryPairScore {
  const share = options.minShare !== undefined ? { minShare: options.minShare } : {};
  const hit = (c: Canary) => {
    const r = responses.get(c.id);
    return r !== undefined && canaryResponseHit(c.answer, r, share);
  };
  const textHit = (c: Canary) => {
    const r = responses.get(c.id);
    return r !== undefined && canaryHit(c.answer, typeof r === "string" ? r : r.text, options.minShare);
  };
  if (options.scores && options.askedOrder)
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "scores (the rank test) are fixed-sample: give no askedOrder",
    );
  let position: Map<string, number> | null = null;
  if (options.askedOrder) {
    position = new Map();
    for (const [i, id] of options.askedOrder.entries()) {
      if (position.has(id)) throw new FingerprintError("INVALID_ARGUMENT", `askedOrder repeats item "${id}"`);
      position.set(id, i);
    }
  }
  let answered = 0;
  let logprobRule = false;
  const completed: { at: number; e: boolean; d: boolean; et: boolean; dt: boolean }[] = [];
  /** Score differences of completed, scored pairs in commitment order. */
  const diffs: number[] = [];
  for (const p of set.pairs) {
    const re = responses.get(p.exposed.id);
    const rd = responses.get(p.decoy.id);
    for (const [c, r] of [
      [p.exposed, re],
      [p.decoy, rd],
    ] as const) {
      if (r === undefined) continue;
      answered++;
      if (typeof r === "object" && r.tokens !== undefined) logprobRule = true;
      if (position && !position.has(c.id)) {
        throw new FingerprintError("INVALID_ARGUMENT", `answered canary item "${c.id}" is not in askedOrder`);
      }
    }
    // The rank test reads the scoring queries only: a pair both of whose items were scored counts, whether or
    // not its generations were asked (the engine scores every item before it asks any generation).
    if (options.scores) {
      const se = options.scores.get(p.exposed.id);
      const sd = options.scores.get(p.decoy.id);
      if (se !== undefined && sd !== undefined && Number.isFinite(se) && Number.isFinite(sd))
        diffs.push(se - sd);
    }
    if (re === undefined || rd === undefined) continue;
    completed.push({
      at: position ? Math.max(position.get(p.exposed.id) ?? 0, position.get(p.decoy.id) ?? 0) : 0,
      e: hit(p.exposed),
      d: hit(p.decoy),
      et: textHit(p.exposed),
      dt: textHit(p.decoy),
    });
  }
  if (position) completed.sort((x, y) => x.at - y.at);
  let exposedHits = 0;
  let decoyHits = 0;
  let exposedOnly = 0;
  let decoyOnly = 0;
  let sequence = "";
  let exposedText = 0;
  let decoyText = 0;
  for (const c of completed) {
    if (c.e) exposedHits++;
    if (c.d) decoyHits++;
    if (c.et) exposedText++;
    if (c.dt) decoyText++;
    if (c.e && !c.d) {
      exposedOnly++;
      sequence += "E";
    } else if (c.d && !c.e) {
      decoyOnly++;
      sequence += "D";
    }
  }
  const counts: CanaryPairCounts = {
    pairs_committed: set.pairs.length,
    pairs_completed: completed.length,
    exposed_hits: exposedHits,
    decoy_hits: decoyHits,
    exposed_only: exposedOnly,
    decoy_only: decoyOnly,
    ...(position ? { sequence } : {}),
    ...(options.scores ? { scored_pairs: diffs.length, rank_signs: rankSigns(diffs) } : {}),
  };
  return {
    counts,
    detail: {
      items_answered: answered,
      logprob_rule: logprobRule,
      exposed_text_hits: exposedText,
      decoy_text_hits: decoyText,
      sequential: position !== null,
    },
  };
}
