/**
 * Multiple-testing corrections valid under arbitrary dependence between the p-values: Bonferroni and
 * Holm's step-down (Holm 1979). Signals computed on the same responses are dependent, so the engine
 * combines them with these. Fisher's product is used only where independence under the null holds by
 * construction (fisherCombine: p-values that are functions of independent secrets given the responses).
 */
import { FingerprintError } from "../fingerprint-error.js";

/** Bonferroni-adjusted p-values: min(1, m * p). `m` defaults to the number of p-values. */
export function bonferroni(pValues: readonly number[], m: number = pValues.length): number[] {
  if (m < pValues.length)
    throw new FingerprintError("INVALID_ARGUMENT", "m must be >= the number of p-values");
  return pValues.map((p) => Math.min(1, p * m));
}

/**
 * Holm step-down adjusted p-values, in the input order: controls the family-wise error rate under any
 * dependence. `m` (>= count) accounts for hypotheses tested elsewhere.
 */
export function holm(pValues: readonly number[], m: number = pValues.length): number[] {
  if (m < pValues.length)
    throw new FingerprintError("INVALID_ARGUMENT", "m must be >= the number of p-values");
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const out = new Array<number>(pValues.length).fill(1);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}

/**
 * Fisher's combination of k p-values that are independent and super-uniform under the null:
 * P(chi^2_{2k} >= -2 sum ln p_i) = x * sum_{i<k} (-ln x)^i / i!, with x the product (exact closed form for
 * even degrees of freedom). Valid only under independence; the engine uses it for the canary and
 * watermark tests, which given the suspect's responses are functions of two independent secrets (the
 * member's random exposed/decoy split and its watermark key).
 */
export function fisherCombine(pValues: readonly number[]): number {
  if (pValues.length === 0) throw new FingerprintError("INVALID_ARGUMENT", "fisherCombine needs p-values");
  let logX = 0;
  for (const p of pValues) {
    if (!(p >= 0 && p <= 1)) throw new FingerprintError("INVALID_ARGUMENT", `p-value out of [0, 1]: ${p}`);
    if (p === 0) return 0;
    logX += Math.log(p);
  }
  const t = -logX;
  let term = 1;
  let sum = 1;
  for (let i = 1; i < pValues.length; i++) {
    term *= t / i;
    sum += term;
  }
  return Math.min(1, Math.exp(logX + Math.log(sum)));
}
