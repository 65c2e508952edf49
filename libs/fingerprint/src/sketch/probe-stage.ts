/**
 * The fine stage of first-stage retrieval (DESIGN.md flow 4 "Scan": coarse LSH, then per-probe band
 * agreement): a model the coarse bands retrieved stays a candidate unless its per-probe band digests show it
 * to lie clearly below the design similarity.
 *
 * Why a second test: the coarse signature holds 512 MinHash rows, so at the design similarity (coarse Jaccard
 * 0.06) its count of agreeing bands has a standard deviation of ~5 on a mean of ~31, and the threshold that
 * keeps 99% of copies there (LSH_V1: 19 bands) also passes most unrelated models of the same era (coarse
 * Jaccard 0.03-0.12 from shared public text). The per-probe digests the hub compares anyway (32 rows for each
 * listed probe: ~8,000 for 250 probes) weigh every probe alike and tell copies from strangers better.
 *
 * The statistic: m = the fraction of agreeing per-probe rows over the probes both sketches answered. Its noise
 * is NOT binomial over the ~8,000 rows: per-probe rows hash shingles without the probe (sketch-types.ts), so
 * the same public phrase repeated in many answers ("and the, and the") decides row i in all of them at once —
 * on the testbed the agreeing-row count of one pair varies with the epoch key ~4x more than a binomial
 * would. Row i and row j use independent seeds, though, so the 32 per-row totals X_0..X_31 (each summed over
 * the probes) are independent and alike: their spread measures the noise whatever the repetition is. The pair
 * is dropped only when m + t(31, recall) x se < designSimilarity, se = the standard error of the mean of
 * the 32 per-row fractions (never below the binomial one at the design similarity), t the Student quantile:
 * a copy at the design similarity passes with probability ~recall.
 *
 * Chosen on the testbed's calibration split over five epoch keys (bench/detection/lsh-study.ts gives the
 * figures and the rules it was compared with, among them bucket-frequency (IDF) weighting of coarse bands):
 * coarse alone passes 60.1% of unrelated (suspect, member teacher) pairs, coarse then this stage 46.9%, and
 * no copy at or above the design similarity is lost under any key; the price is copies below it that the
 * coarse stage happened to pass (recall over all copies 85.8% -> 78.4%). A first version that took the rows
 * as independent (a binomial quantile over ~8,000 rows) passed 39.3% but lost copies at the design similarity.
 */
import { FingerprintError } from "../fingerprint-error.js";
import { DESIGN_SIMILARITY } from "./lsh-params.js";
import { PROBE_BANDS, PROBE_DIGEST_BYTES, type Sketch } from "./sketch-types.js";

/** The fine stage's rule: the design similarity it protects and the share of copies there it keeps. */
export interface ProbeStageParams {
  readonly designSimilarity: number;
  /** P(a copy at designSimilarity passes), in [0.5, 1). */
  readonly recall: number;
}

/** Version 1's fine stage: DESIGN_SIMILARITY at recall 0.999 (with LSH_V1's 0.992: >= 0.99 together). */
export const PROBE_STAGE_V1: ProbeStageParams = { designSimilarity: DESIGN_SIMILARITY, recall: 0.999 };

/**
 * Whether retrieval applies the fine stage when a caller does not say: OFF. Measured end to end on
 * bench:detection's test split (2026-12-06, same probes, --lsh-only): the coarse bands alone retrieve 198/220
 * copy pairs with 885/1,653 false candidates (53.5%); with PROBE_STAGE_V1, 170/220 and 815 (49.3%) — every copy
 * at or above the design similarity kept either way, but the stage drops 28 copies below it (4 fine-tuned copies,
 * 2 weights copies, a paraphrased student, 21 ensemble members) to spare 70 sessions on unrelated models. A
 * session on an unrelated model costs queries and canary budget and never accuses; a copy not retrieved is never
 * tested. An alliance that prefers fewer sessions passes PROBE_STAGE_V1.
 */
export const DEFAULT_PROBE_STAGE: ProbeStageParams | false = false;

/** What the fine stage saw of a pair. */
export interface ProbeStageEvidence {
  /** Probes both sketches list and answered (non-empty). */
  readonly probes: number;
  /** Fraction of agreeing per-probe rows over those probes. */
  readonly agreement: number;
  /** Standard error of `agreement` from the spread of the PROBE_BANDS per-row totals. */
  readonly standardError: number;
}

function checkParams(p: ProbeStageParams): void {
  if (
    !(typeof p.designSimilarity === "number" && p.designSimilarity > 0 && p.designSimilarity < 1) ||
    !(typeof p.recall === "number" && p.recall >= 0.5 && p.recall < 1)
  ) {
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "probe stage needs designSimilarity in (0, 1) and recall in [0.5, 1)",
    );
  }
}

// Student t quantiles (PROBE_BANDS - 1 degrees of freedom), memoized per recall.
const tMemo = new Map<number, number>();

/**
 * The `p` quantile (p in [0.5, 1)) of Student's t with `df` degrees of freedom. With t = sqrt(df) tan(phi),
 * P[T <= t] = 1/2 + 1/2 I(phi) / I(pi/2), I(phi) = integral over [0, phi] of cos^(df-1): Simpson's rule on
 * that smooth integrand, then bisection on phi.
 */
export function studentTQuantile(df: number, p: number): number {
  if (!(Number.isInteger(df) && df >= 1 && df <= 1000) || !(p >= 0.5 && p < 1)) {
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "studentTQuantile needs an integer df in 1..1000, p in [0.5, 1)",
    );
  }
  if (p === 0.5) return 0;
  const steps = 1024; // cos^(df-1) is smooth: Simpson's error is far below the 1e-3 the rule needs
  const integral = (phi: number): number => {
    const h = phi / steps;
    let sum = 1 + Math.cos(phi) ** (df - 1);
    for (let i = 1; i < steps; i++) sum += (i % 2 === 1 ? 4 : 2) * Math.cos(i * h) ** (df - 1);
    return (sum * h) / 3;
  };
  const total = integral(Math.PI / 2);
  const want = (2 * p - 1) * total;
  let lo = 0;
  let hi = Math.PI / 2;
  for (let i = 0; i < 45; i++) {
    const mid = (lo + hi) / 2;
    if (integral(mid) < want) lo = mid;
    else hi = mid;
  }
  return Math.sqrt(df) * Math.tan((lo + hi) / 2);
}

function equalDigest(x: Uint8Array, y: Uint8Array, offset: number): boolean {
  for (let i = 0; i < PROBE_DIGEST_BYTES; i++) if (x[offset + i] !== y[offset + i]) return false;
  return true;
}

/**
 * The fine stage's statistic for two sketches of one epoch and version (the caller compared them already:
 * compareSketches checks that). Probes are matched by id; probes either left empty are skipped.
 */
export function probeStageEvidence(x: Sketch, y: Sketch): ProbeStageEvidence {
  const byId = new Map(y.probes.map((p) => [p.probeId, p]));
  const rows = new Float64Array(PROBE_BANDS);
  let probes = 0;
  for (const p of x.probes) {
    const q = byId.get(p.probeId);
    if (q === undefined || p.empty || q.empty) continue;
    probes++;
    for (let i = 0; i < PROBE_BANDS; i++)
      if (equalDigest(p.bands, q.bands, i * PROBE_DIGEST_BYTES)) rows[i] = (rows[i] ?? 0) + 1;
  }
  if (probes === 0) return { probes: 0, agreement: 0, standardError: 0 };
  let mean = 0;
  for (let i = 0; i < PROBE_BANDS; i++) mean += (rows[i] ?? 0) / probes;
  mean /= PROBE_BANDS;
  let ss = 0;
  for (let i = 0; i < PROBE_BANDS; i++) ss += ((rows[i] ?? 0) / probes - mean) ** 2;
  return { probes, agreement: mean, standardError: Math.sqrt(ss / (PROBE_BANDS - 1) / PROBE_BANDS) };
}

/**
 * Whether a pair the coarse stage retrieved stays a candidate (see the module comment). Pairs with no probe
 * answered by both keep the coarse stage's decision.
 * @throws FingerprintError `INVALID_ARGUMENT` on parameters out of range.
 */
export function passesProbeStage(x: Sketch, y: Sketch, params: ProbeStageParams = PROBE_STAGE_V1): boolean {
  checkParams(params);
  const e = probeStageEvidence(x, y);
  if (e.probes === 0) return true;
  const s = params.designSimilarity;
  let t = tMemo.get(params.recall);
  if (t === undefined) {
    t = studentTQuantile(PROBE_BANDS - 1, params.recall);
    if (tMemo.size > 64) tMemo.clear();
    tMemo.set(params.recall, t);
  }
  const se = Math.max(e.standardError, Math.sqrt((s * (1 - s)) / (PROBE_BANDS * e.probes)));
  return e.agreement + t * se >= s;
}
