/**
 * Signal 1: canary reproduction. The member generated its canaries in pairs and exposed a uniformly random
 * half in its training data; the decoys came from the same generator and were never exposed.
 *
 * Null ("the suspect never learned from this member"): whether the suspect states a canary's answer does
 * not depend on the random split, so exposed and decoy canaries are exchangeable. Given H hits among
 * N = exposed + decoys canaries, the number of exposed hits X is then Hypergeometric(N, exposed, H), and
 * the one-sided Fisher exact p-value is P(X >= x). A model that guesses answers from the generator's
 * patterns hits decoys as often as exposed canaries and stays null. Effect: exposed hit rate minus decoy
 * hit rate.
 *
 * Matching is on content: the answer's content tokens (Lineage tokens, minus function words and
 * punctuation) must appear in the response, in any order, with surrounding rewording allowed. Where the
 * suspect served log-probabilities with the answer, a hit is also the answer's first content token among
 * the top alternatives at one of the first generated positions (`canaryResponseHit`): a student that
 * learned a fact from few examples often ranks it second or third behind a generic continuation, and the
 * rule is applied identically to exposed canaries and decoys, so exchangeability (and the exact test) is
 * untouched.
 *
 * Test: the exact Fisher test over a canary count fixed in advance (all canaries, asked in a seeded order
 * and evaluated once), or with `askedOrder` the anytime-valid martingale of stats-sequential.ts, which a
 * caller may evaluate after every answer and stop on (it pays for that with a larger p-value).
 */
import type { Canary, CanarySet, ModelResponse } from "../probe/probe-types.js";
import { tokenize } from "../probe/tokenize.js";
import { hypergeometricUpperTail } from "../stats/stats-exact.js";
import { CanaryMartingale } from "../stats/stats-sequential.js";
import type { SignalResult } from "./signal-types.js";
import { unavailableSignal } from "./signal-types.js";

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

/** The suspect's responses to canary prompts, by canary id (text, or a response with log-probabilities). */
export type CanaryResponses = ReadonlyMap<string, string | ModelResponse>;

/** Options of the canary signal. */
export interface CanaryOptions {
  readonly minShare?: number;
  /**
   * Canary ids in the order they were asked, for the anytime-valid sequential test; the order must have
   * been chosen independently of the exposed/decoy split (e.g. a seeded shuffle of all canaries).
   */
  readonly askedOrder?: readonly string[];
}

/** Runs signal 1 over the canaries the suspect answered (unanswered canaries are left out). */
export function canarySignal(
  set: CanarySet,
  responses: CanaryResponses,
  options: CanaryOptions = {},
): SignalResult {
  const answered = (cs: readonly Canary[]) => cs.filter((c) => responses.has(c.id));
  const exposed = answered(set.exposed);
  const decoys = answered(set.decoys);
  if (exposed.length === 0 || decoys.length === 0) {
    return unavailableSignal("canary_reproduction", "no answered exposed and decoy canaries for this member");
  }
  const hit = (c: Canary) =>
    canaryResponseHit(c.answer, responses.get(c.id) ?? "", {
      ...(options.minShare !== undefined ? { minShare: options.minShare } : {}),
    });
  const textHit = (c: Canary) => {
    const r = responses.get(c.id) ?? "";
    return canaryHit(c.answer, typeof r === "string" ? r : r.text, options.minShare);
  };
  const xe = exposed.filter(hit).length;
  const xd = decoys.filter(hit).length;
  let p: number;
  let sequential = false;
  if (options.askedOrder) {
    const isExposed = new Set(exposed.map((c) => c.id));
    const byId = new Map([...exposed, ...decoys].map((c) => [c.id, c]));
    const mart = new CanaryMartingale(exposed.length, decoys.length);
    for (const id of options.askedOrder) {
      const c = byId.get(id);
      if (c) mart.observe(hit(c), isExposed.has(id));
    }
    p = mart.pValue();
    sequential = true;
  } else {
    p = hypergeometricUpperTail(xe, exposed.length + decoys.length, exposed.length, xe + xd);
  }
  const effect = xe / exposed.length - xd / decoys.length;
  return {
    name: "canary_reproduction",
    available: true,
    statistic: xe,
    p_value: p,
    effect,
    detail: {
      exposed_asked: exposed.length,
      decoys_asked: decoys.length,
      exposed_hits: xe,
      decoy_hits: xd,
      // Whether any answer carried log-probabilities, i.e. whether the log-probability rule could apply
      // (an auditor re-checking hits must then use canaryResponseHit on served answers, not canaryHit).
      logprob_rule: [...exposed, ...decoys].some((c) => {
        const r = responses.get(c.id);
        return typeof r === "object" && r.tokens !== undefined;
      }),
      exposed_text_hits: exposed.filter(textHit).length,
      decoy_text_hits: decoys.filter(textHit).length,
      sequential,
    },
  };
}
