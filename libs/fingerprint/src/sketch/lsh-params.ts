/**
 * Choosing LSH band/row parameters for first-stage retrieval (Indyk & Motwani 1998; Leskovec, Rajaraman,
 * Ullman, "Mining of Massive Datasets", ch. 3.4), generalised with a minimum count of agreeing bands.
 *
 * With b bands of r MinHash rows, two sets of Jaccard s agree on a band with probability s^r. Classic
 * banding makes a pair a candidate when >= 1 band agrees: P = 1 - (1 - s^r)^b. Requiring t >= 1 agreeing
 * bands gives P = P[Binomial(b, s^r) >= t] (t = 1 is the classic curve). At the similarities real LLM
 * outputs have (coarse 2-shingle Jaccard of a distilled student with its teacher ~0.05-0.15, of unrelated
 * models ~0.03-0.12; bench/lsh.ts), s^r is tiny for r >= 2 and the classic curve needs thousands of bands
 * to reach 99% recall while passing nearly every unrelated pair; r = 1 with a count threshold t reaches
 * the same recall with a far steeper curve. {@link pickLshParams} searches (b, r, t) under a row budget.
 */
import { FingerprintError } from "../fingerprint-error.js";
import { COARSE_BANDS, COARSE_ROWS_PER_BAND } from "./sketch-types.js";

/** A banding scheme: `bands` bands of `rows` rows; a candidate needs `minAgreeingBands` equal bands. */
export interface LshParams {
  readonly bands: number;
  readonly rows: number;
  readonly minAgreeingBands: number;
}

/** A chosen scheme with its modelled recall at the design similarity and false-candidate rate. */
export interface LshChoice extends LshParams {
  readonly designSimilarity: number;
  /** P(candidate | Jaccard = designSimilarity) (a lower bound for every Jaccard above it). */
  readonly recall: number;
  /** The similarity at which the false-candidate rate is reported. */
  readonly lowSimilarity: number;
  /** P(candidate | Jaccard = lowSimilarity). */
  readonly falseCandidateRate: number;
}

function checkUnit(x: number, what: string): void {
  if (!(typeof x === "number" && x >= 0 && x <= 1)) {
    throw new FingerprintError("INVALID_ARGUMENT", `${what} must be a number in [0, 1]`);
  }
}

function checkParams(p: LshParams): void {
  const ok =
    Number.isInteger(p.bands) &&
    p.bands >= 1 &&
    p.bands <= 1 << 16 &&
    Number.isInteger(p.rows) &&
    p.rows >= 1 &&
    p.rows <= 64 &&
    Number.isInteger(p.minAgreeingBands) &&
    p.minAgreeingBands >= 1 &&
    p.minAgreeingBands <= p.bands;
  if (!ok)
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "LSH params need 1 <= minAgreeingBands <= bands <= 65536, 1 <= rows <= 64",
    );
}

/** tails[t] = P[Binomial(n, p) >= t] for t = 0..n+1, from the pmf in log space (stable for large n). */
function binomialTails(n: number, p: number): Float64Array {
  const tails = new Float64Array(n + 2);
  if (p <= 0) {
    tails[0] = 1;
    return tails;
  }
  if (p >= 1) {
    tails.fill(1, 0, n + 1);
    return tails;
  }
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  const pmf = new Float64Array(n + 1);
  let logC = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) logC += Math.log((n - k + 1) / k);
    pmf[k] = Math.exp(logC + k * lp + (n - k) * lq);
  }
  for (let k = n; k >= 0; k--) tails[k] = Math.min(1, (tails[k + 1] ?? 0) + (pmf[k] ?? 0));
  tails[0] = 1;
  return tails;
}

/** P[Binomial(n, p) >= t]. */
export function binomialUpperTail(n: number, p: number, t: number): number {
  if (t <= 0) return 1;
  if (t > n) return 0;
  return binomialTails(n, p)[t] ?? 0;
}

/** P(candidate) for a pair of Jaccard `similarity` under `params` (see the module comment). */
export function candidateProbability(similarity: number, params: LshParams): number {
  checkUnit(similarity, "similarity");
  checkParams(params);
  return binomialUpperTail(params.bands, similarity ** params.rows, params.minAgreeingBands);
}

/**
 * Picks (bands, rows, minAgreeingBands) with bands * rows <= `rowBudget` such that
 * P(candidate | J = designSimilarity) >= targetRecall, minimising the false-candidate rate at
 * `lowSimilarity` (default designSimilarity / 2); ties go to fewer rows in total. With
 * `classic: true` only t = 1 is allowed (the textbook 1 - (1 - s^r)^b curve).
 *
 * @throws FingerprintError `INVALID_ARGUMENT` on out-of-range inputs, or when no scheme within the budget
 *   reaches the target recall.
 */
export function pickLshParams(options: {
  readonly designSimilarity: number;
  readonly targetRecall?: number;
  readonly rowBudget: number;
  readonly lowSimilarity?: number;
  readonly maxRowsPerBand?: number;
  readonly classic?: boolean;
}): LshChoice {
  const s = options.designSimilarity;
  const recallTarget = options.targetRecall ?? 0.99;
  const low = options.lowSimilarity ?? s / 2;
  checkUnit(s, "designSimilarity");
  checkUnit(recallTarget, "targetRecall");
  checkUnit(low, "lowSimilarity");
  if (!(s > 0)) throw new FingerprintError("INVALID_ARGUMENT", "designSimilarity must be > 0");
  if (!(Number.isInteger(options.rowBudget) && options.rowBudget >= 1 && options.rowBudget <= 1 << 16)) {
    throw new FingerprintError("INVALID_ARGUMENT", "rowBudget must be an integer in 1..65536");
  }
  const maxR = Math.min(options.maxRowsPerBand ?? 8, 64, options.rowBudget);
  let best: LshChoice | null = null;
  for (let r = 1; r <= maxR; r++) {
    const b = Math.floor(options.rowBudget / r);
    const ps = s ** r;
    // The largest t that still meets the recall target (the tail only shrinks as t grows).
    const tails = binomialTails(b, ps);
    let t = 0;
    const tMax = options.classic ? 1 : b;
    while (t < tMax && (tails[t + 1] ?? 0) >= recallTarget) t++;
    if (t === 0) continue;
    const choice: LshChoice = {
      bands: b,
      rows: r,
      minAgreeingBands: t,
      designSimilarity: s,
      recall: tails[t] ?? 0,
      lowSimilarity: low,
      falseCandidateRate: binomialUpperTail(b, low ** r, t),
    };
    if (
      best === null ||
      choice.falseCandidateRate < best.falseCandidateRate - 1e-12 ||
      (Math.abs(choice.falseCandidateRate - best.falseCandidateRate) <= 1e-12 &&
        b * r < best.bands * best.rows)
    ) {
      best = choice;
    }
  }
  if (best === null) {
    throw new FingerprintError("INVALID_ARGUMENT", "no (bands, rows) within rowBudget reaches targetRecall");
  }
  return best;
}

/**
 * The design similarity of sketch version 1's coarse signature: the coarse Jaccard (2-shingles scoped by
 * probe) above which a copy must be retrieved with >= 99% probability. Measured on /work/shared/realdata
 * (bench/lsh.ts, exact Jaccard): documented/likely students score 0.070-0.141 with their family's first
 * teacher, so 0.06 sits just under all of them but alpaca-7b-neft (0.038, below all but one of its
 * family's unrelated models, 0.034-0.080: output overlap cannot single it out at any useful threshold).
 * Unrelated models of the same era score 0.034-0.118, so this first stage passes most of them: it prunes,
 * the member's p-valued tests decide.
 */
export const DESIGN_SIMILARITY = 0.06;

/**
 * Version 1's first-stage retrieval scheme: {@link pickLshParams} at DESIGN_SIMILARITY, recall 0.99, a
 * budget of COARSE_BANDS * COARSE_ROWS_PER_BAND rows (sketch-types.ts fixes the sketch's side of it):
 * 512 bands of 1 row, candidate when >= 19 agree. Modelled P(candidate): 0.992 at J = 0.06, 0.66 at 0.04,
 * 0.20 at 0.03, 0.008 at 0.02, ~0 at 0.01; bench/lsh.ts measured 0.995 / 0.675 / 0.205 / 0.015 / 0 for this
 * stage alone, and 0.995 / 0.63 / 0.12 / 0 / 0 with the per-probe fine stage after it (probe-stage.ts).
 * Classic banding (>= 1 band) cannot do better within 512 rows than b = 512, r = 1: false-candidate rate
 * ~1.0 at J = 0.03.
 */
export const LSH_V1: LshChoice = pickLshParams({
  designSimilarity: DESIGN_SIMILARITY,
  targetRecall: 0.99,
  rowBudget: COARSE_BANDS * COARSE_ROWS_PER_BAND,
});
