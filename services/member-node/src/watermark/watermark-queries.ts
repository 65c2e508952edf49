/**
 * Extra watermark queries, a step of the match session (protocol "lineage-watermark-queries/3"; issue 12,
 * from the calibration-only study of issue 11, bench/detection/ensemble-study.ts): a member whose teacher made
 * part of a blend leaves a small green excess in the student, which the battery's few answers (~850 distinct
 * pairs) cannot show. When the session binds a watermark key, the node also asks the suspect
 * WATERMARK_QUERY_COUNT prompts, sampled at temperature 1 with the top WATERMARK_QUERY_TOP alternatives per
 * position, and counts the distinct (previous token, token) pairs of these answers and alternatives
 * (signal-watermark.ts `WatermarkPairSet`, its fixed selection rule). Under /2 these counts go BESIDE the
 * battery's (`watermark_queries` evidence; the verdict reads both sets, @lineage/fingerprint
 * `watermarkSetsTest`); under /1 they replaced them, which diluted a watermarked copy's effect below the
 * policy's minimum (fe864c5) — /1 stays known only to read records logged under it.
 *
 * Bound before the evidence: the count, the sampling settings and the version are constants of this protocol;
 * the prompts (prefixes of the epoch battery's prompts) and the sampling seeds are derived from the session's
 * logged seed, never chosen by the member, and the same for whichever member answers the session. The
 * attestation records the protocol (`watermark_queries` step) and its counts (`counts.watermark_queries`);
 * the hub refuses a record that does not match the protocol it names.
 *
 * Validity: nothing here reads the key until the pairs are collected; under the null (the suspect never
 * learned from the member's outputs) the suspect's answers to prompts nobody chose with the key are fixed
 * before the key is read, so each distinct pair is green with probability gamma independently over the key
 * and the exact binomial test holds however many pairs there are. /3 weights each pair by the probability the
 * suspect served for it (green mass, 16 levels; `WatermarkPairSet.fromResponses(..., { mass: true })`): the
 * weights too are read off the answers before the key, so the verdict's Chernoff bound on the weighted green
 * sum is valid (calibration: 25%-share blend members 1/10 -> 4/10 named, bench/detection/green-mass-study.ts).
 *
 * Why no own-model filter (the study's best variant at a 25% share: keep pairs the member's unwatermarked
 * teacher finds e^2 likelier than a public model): it needs both models' probability of ANY alternative token,
 * and an OpenAI-compatible endpoint serves only its top 20. Restricted to what the endpoints serve, the filter
 * kept the weaker pairs: on the calibration split's 50/50 ensembles, 500 queries gave median p ~1e-3 filtered
 * against 1e-7..1e-18 unfiltered (14 of 14 watermarking members; a calibration-only comparison run for this
 * change, 2026-12-05, never on the test split). So this protocol scores every pair, as the study's unfiltered
 * variant did (17/17 at a 50% share); the 25% share stays out of its reach.
 *
 * Privacy: the prompts and answers stay in this module's memory; only counts leave it. Untrusted input: each
 * answer is bounded here (characters, positions, alternatives) before it is read.
 */
import { createHash } from "node:crypto";
import {
  type Battery,
  DEFAULT_WATERMARK_GAMMA,
  detokenize,
  type ModelAdapter,
  type ModelResponse,
  tokenize,
  type WatermarkCounts,
  WatermarkPairSet,
  type WatermarkResponse,
} from "@lineage/fingerprint";
import { MemberNodeError } from "../member-node-error.js";

/**
 * Version of this protocol step (a change of any constant below is a new version). /3 scores the step's pairs
 * by green mass (counts.watermark_queries.mass: each pair weighted by the probability the suspect served for
 * it; @lineage/fingerprint WATERMARK_MASS_LEVELS, the verdict's green-mass test) instead of counting them;
 * what is asked is /2's.
 */
export const WATERMARK_QUERIES_PROTOCOL = "lineage-watermark-queries/3";
/** The second version (counts beside the battery's, pairs counted): known to read records logged under it. */
export const WATERMARK_QUERIES_PROTOCOL_V2 = "lineage-watermark-queries/2";
/**
 * The first version, whose counts replaced the battery's watermark counts; known so that records logged under
 * it are still read, never written.
 */
export const WATERMARK_QUERIES_PROTOCOL_V1 = "lineage-watermark-queries/1";
/**
 * Domain of the plan's hash: /2 changed only where the step's counts go and /3 only how its pairs are scored,
 * not what is asked, so the plan is /1's (and the calibration study's figures, measured with it, hold for it).
 */
const PLAN_DOMAIN = WATERMARK_QUERIES_PROTOCOL_V1;
/** Extra prompts asked per session that binds a watermark key. */
export const WATERMARK_QUERY_COUNT = 500;
/** Top alternatives asked per position of an extra answer. */
export const WATERMARK_QUERY_TOP = 20;
/** Tokens generated per extra answer at most. */
export const WATERMARK_QUERY_MAX_TOKENS = 64;

/** Characters of one answer read at most. */
const MAX_ANSWER_CHARS = 8192;
/** Positions (and so alternatives lists) of one answer read at most. */
const MAX_ANSWER_POSITIONS = 256;

/** One extra query: the prompt and the sampling seed. */
export interface WatermarkQuery {
  readonly prompt: string;
  readonly seed: number;
}

/**
 * The session's extra queries: `count` prefixes (3..6 tokens) of the battery's prompts with sampling seeds,
 * drawn from SHA-256 of the session's 32-byte seed — fixed before any answer. Throws `invalid_argument` on a
 * seed that is not 32 bytes, a battery with no prompt of 3 or more tokens, or a count outside 0..5000.
 */
export function watermarkQueryPlan(
  seed: Uint8Array,
  battery: Battery,
  count: number = WATERMARK_QUERY_COUNT,
): WatermarkQuery[] {
  if (!(seed instanceof Uint8Array) || seed.length !== 32)
    throw new MemberNodeError("invalid_argument", "the session seed must be 32 bytes");
  if (!(Number.isInteger(count) && count >= 0 && count <= 5000))
    throw new MemberNodeError("invalid_argument", "the watermark query count must be in 0..5000");
  const sources = battery.probes
    .slice(0, 10_000)
    .map((p) => tokenize(p.prompt.slice(0, 4096)).slice(0, 6))
    .filter((t) => t.length >= 3);
  if (sources.length === 0)
    throw new MemberNodeError("invalid_argument", "the battery has no prompt of 3 or more tokens");
  const out: WatermarkQuery[] = [];
  for (let i = 0; i < count; i++) {
    const h = createHash("sha256").update(`${PLAN_DOMAIN}\u0000`).update(seed).update(`\u0000${i}`).digest();
    const src = sources[h.readUInt32BE(0) % sources.length] as string[];
    const len = Math.min(src.length, 3 + (h.readUInt8(4) % 4));
    out.push({ prompt: detokenize(src.slice(0, len)), seed: h.readUInt32BE(8) });
  }
  return out;
}

/** What the attestation records of the step (counts only). */
export interface WatermarkQueriesRecord {
  readonly protocol: string;
  readonly queriesPlanned: number;
  /** Queries the suspect answered (a failed query is left out). */
  readonly queriesAnswered: number;
  /** Distinct pairs scored (= the counts' all_scored). */
  readonly pairsScored: number;
}

/** An answer as the pair collection reads it: bounded text, positions and alternatives (untrusted input). */
export function boundedAnswer(prompt: string, r: ModelResponse): WatermarkResponse {
  const text = r.text.slice(0, MAX_ANSWER_CHARS);
  const tokens = r.tokens?.slice(0, MAX_ANSWER_POSITIONS).map((t) => ({
    token: t.token.slice(0, 256),
    ...(t.logprob === undefined ? {} : { logprob: t.logprob }),
    top: t.top
      .slice(0, WATERMARK_QUERY_TOP)
      .map((a) => ({ token: a.token.slice(0, 256), logprob: a.logprob })),
  }));
  return { prompt, response: tokens === undefined ? { text } : { text, tokens } };
}

/** Inputs of {@link runWatermarkQueries}. */
export interface WatermarkQueriesInput {
  readonly suspect: ModelAdapter;
  readonly plan: readonly WatermarkQuery[];
  readonly key: Uint8Array;
  readonly gamma?: number;
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Asks the plan's queries and returns the watermark counts of their pairs under the key, with the record. A
 * query the endpoint fails (an error with a code) is left out and counted; any other error (an abort, the
 * session's query budget) ends the step.
 */
export async function runWatermarkQueries(
  input: WatermarkQueriesInput,
): Promise<{ counts: WatermarkCounts; record: WatermarkQueriesRecord }> {
  const answers: (WatermarkResponse | null)[] = new Array(input.plan.length).fill(null);
  // The signal is checked between queries (each is short), not handed to every request: hundreds of requests
  // in flight would each add a listener to the session's signal.
  const signal = input.signal;
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < input.plan.length) {
      const i = next++;
      const q = input.plan[i] as WatermarkQuery;
      signal?.throwIfAborted();
      try {
        const r = await input.suspect.generate({
          prompt: q.prompt,
          temperature: 1,
          seed: q.seed,
          maxTokens: WATERMARK_QUERY_MAX_TOKENS,
          topLogprobs: WATERMARK_QUERY_TOP,
        });
        answers[i] = boundedAnswer(q.prompt, r);
      } catch (err) {
        if (signal?.aborted || typeof (err as { code?: unknown })?.code !== "string") throw err;
      }
      input.onProgress?.(++done, input.plan.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(input.concurrency ?? 8, 32)) }, worker));
  // Pairs in plan order (not completion order): the counts do not depend on timing.
  const answered = answers.filter((a): a is WatermarkResponse => a !== null);
  const pairs = WatermarkPairSet.fromResponses(answered, { mass: true });
  const counts = pairs.counts(input.key, input.gamma ?? DEFAULT_WATERMARK_GAMMA);
  return {
    counts,
    record: {
      protocol: WATERMARK_QUERIES_PROTOCOL,
      queriesPlanned: input.plan.length,
      queriesAnswered: answered.length,
      pairsScored: pairs.size,
    },
  };
}
