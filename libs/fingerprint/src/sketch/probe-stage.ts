/**
 * The fine stage of first-stage retrieval (DESIGN.md flow 4 "Scan": coarse LSH, then per-probe band
 * agreement): a model the coarse bands retrieved stays a candidate only if its per-probe band digests do not
 * show it to lie clearly below the design similarity.
 *
 * Why a second test: the coarse signature holds 512 MinHash rows, so at the design similarity (coarse Jaccard
 * 0.06) its count of agreeing bands has a standard deviation of ~5 on a mean of ~31, and the threshold that
 * keeps 99% of copies there (LSH_V1: 19 bands) also passes most unrelated models of the same era (coarse
 * Jaccard 0.03-0.12 from shared public text). The per-probe digests the hub compares anyway (32 rows per
 * listed probe: ~8,000 rows for 250 probes) estimate the same kind of overlap ~4x more precisely. The test is
 * the coarse stage's rule on those rows: with n compared rows, keep the pair when its agreeing rows reach the
 * largest t with P[Binomial(n, designSimilarity) >= t] >= recall — a copy at the design similarity passes with
 * probability >= recall whatever n is, so the two stages together keep >= LSH_V1.recall x recall of copies at
 * the design similarity (0.992 x 0.999 modelled; bench/lsh.ts measures it).
 *
 * Chosen on the testbed's calibration split (bench/detection/lsh-study.ts, which gives the figures): coarse
 * alone passes 47.6% of unrelated (suspect, member teacher) pairs, coarse then this stage 34.7%, keeping every
 * copy at or above the design similarity (53/53). What it costs: copies below the design similarity that the
 * coarse stage happened to pass (overall recall 76.4% -> 70.0% there). Weighting coarse bands by how many
 * models share their value (an IDF of public text) was measured there too and retrieved worse: a copy's
 * overlap with its teacher is itself mostly public text.
 */
import { FingerprintError } from "../fingerprint-error.js";
import { DESIGN_SIMILARITY } from "./lsh-params.js";
import { PROBE_BANDS, SKETCH_LIMITS } from "./sketch-types.js";

/** The fine stage's rule: the design similarity it protects and the share of copies there it keeps. */
export interface ProbeStageParams {
  readonly designSimilarity: number;
  /** P(a copy at designSimilarity passes), in (0, 1). */
  readonly recall: number;
}

/** Version 1's fine stage: DESIGN_SIMILARITY at recall 0.999 (with LSH_V1's 0.992: >= 0.99 together). */
export const PROBE_STAGE_V1: ProbeStageParams = { designSimilarity: DESIGN_SIMILARITY, recall: 0.999 };

/** Most per-probe rows two sketches can compare (every probe of the largest sketch). */
const MAX_COMPARED = SKETCH_LIMITS.maxProbes * PROBE_BANDS;

function checkParams(p: ProbeStageParams): void {
  if (
    !(typeof p.designSimilarity === "number" && p.designSimilarity > 0 && p.designSimilarity < 1) ||
    !(typeof p.recall === "number" && p.recall > 0 && p.recall < 1)
  ) {
    throw new FingerprintError("INVALID_ARGUMENT", "probe stage needs designSimilarity and recall in (0, 1)");
  }
}

// Thresholds per (params, compared rows): a query compares a few sketch sizes over and over.
const memo = new Map<string, number>();
const MEMO_LIMIT = 4096;

/**
 * The largest t with P[Binomial(comparedBands, designSimilarity) >= t] >= recall: the fewest agreeing
 * per-probe rows a pair needs to stay a candidate (0 when nothing is compared).
 * @throws FingerprintError `INVALID_ARGUMENT` on a count that is not an integer in 0..maxProbes x PROBE_BANDS,
 *   or parameters out of (0, 1).
 */
export function minProbeAgreeingBands(
  comparedBands: number,
  params: ProbeStageParams = PROBE_STAGE_V1,
): number {
  checkParams(params);
  if (!(Number.isInteger(comparedBands) && comparedBands >= 0 && comparedBands <= MAX_COMPARED)) {
    throw new FingerprintError("INVALID_ARGUMENT", `comparedBands must be an integer in 0..${MAX_COMPARED}`);
  }
  if (comparedBands === 0) return 0;
  const key = `${params.designSimilarity}/${params.recall}/${comparedBands}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  // Lower tail from k = 0 up, pmf in log space: P[X >= t + 1] = 1 - cdf(t) stays >= recall while
  // cdf(t) <= 1 - recall.
  const n = comparedBands;
  const lp = Math.log(params.designSimilarity);
  const lq = Math.log1p(-params.designSimilarity);
  const alpha = 1 - params.recall;
  let logC = 0;
  let cdf = 0;
  let t = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0) logC += Math.log((n - k + 1) / k);
    cdf += Math.exp(logC + k * lp + (n - k) * lq);
    if (cdf > alpha) break;
    t = k + 1;
  }
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, t);
  return t;
}

/**
 * Whether a pair the coarse stage retrieved stays a candidate: its agreeing per-probe rows reach
 * {@link minProbeAgreeingBands} of the rows compared. Pairs with no per-probe rows in common (sketches that
 * list no shared non-empty probe) keep the coarse stage's decision.
 */
export function passesProbeStage(
  similarity: { readonly probeAgreeingBands: number; readonly probeComparedBands: number },
  params: ProbeStageParams = PROBE_STAGE_V1,
): boolean {
  return similarity.probeAgreeingBands >= minProbeAgreeingBands(similarity.probeComparedBands, params);
}
