/**
 * Small statistics for the detection benchmark (issue 3, "The benchmark"): binomial confidence
 * intervals for detection rates (Wilson score; Clopper–Pearson exact), the median, and one-sample
 * Kolmogorov–Smirnov tests of null p-values against U(0, 1) — two-sided, and the one-sided test in the
 * direction that matters for a decision rule (too many small p-values, i.e. anti-conservative), plus the
 * randomized p-value that makes a discrete test's null p-values exactly uniform.
 *
 * References: Wilson (1927); Clopper & Pearson (1934); Birnbaum & Tingey (1951) for the exact one-sided
 * KS tail; Stephens (1970) for the small-sample correction of the two-sided asymptotic tail.
 */

import { createHash } from "node:crypto";
import { logChoose } from "@lineage/fingerprint";

/** Two-sided one-sample KS test against U(0, 1): the engine's, so bench and engine agree on it. */
export { ksUniform } from "@lineage/fingerprint";

/** A two-sided confidence interval [lo, hi] for a proportion. */
export type Interval = readonly [number, number];

const Z95 = 1.959963984540054;

function checkCounts(k: number, n: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(n) || n < 0 || k < 0 || k > n) {
    throw new RangeError(`need integers 0 <= k <= n, got k=${k}, n=${n}`);
  }
}

/** Wilson score interval for k successes in n trials (default 95%). [0, 1] when n = 0. */
export function wilsonInterval(k: number, n: number, z: number = Z95): Interval {
  checkCounts(k, n);
  if (n === 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** P(X <= k) for X ~ Binomial(n, p). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  let s = 0;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  for (let i = 0; i <= k; i++) s += Math.exp(logChoose(n, i) + i * lp + (n - i) * lq);
  return Math.min(1, s);
}

/** The p solving f(p) = target for f decreasing in p on [0, 1] (bisection to 1e-12). */
function solveDecreasing(f: (p: number) => number, target: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Clopper–Pearson exact interval (default 95%): lo solves P(X >= k | lo) = a/2, hi solves
 * P(X <= k | hi) = a/2. Conservative: coverage is at least the nominal level for every p.
 */
export function clopperPearsonInterval(k: number, n: number, confidence = 0.95): Interval {
  checkCounts(k, n);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError("confidence must be in (0, 1)");
  if (n === 0) return [0, 1];
  const a = (1 - confidence) / 2;
  // P(X >= k | p) = 1 - cdf(k-1) increases with p; P(X <= k | p) decreases with p.
  const lo = k === 0 ? 0 : solveDecreasing((p) => binomialCdf(k - 1, n, p), 1 - a);
  const hi = k === n ? 1 : solveDecreasing((p) => binomialCdf(k, n, p), a);
  return [lo, hi];
}

/** The median (mean of the two middle values for an even count); null for an empty list. */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

function checkSample(sample: readonly number[]): number[] {
  if (sample.length === 0) throw new RangeError("KS test needs at least one value");
  for (const x of sample) {
    if (!(x >= 0 && x <= 1)) throw new RangeError(`KS test values must be in [0, 1], got ${x}`);
  }
  return [...sample].sort((a, b) => a - b);
}

/**
 * One-sided KS test of H0 "P(p <= u) <= u for every u" (valid, possibly conservative p-values) against
 * "some P(p <= u) > u" (anti-conservative): D+ = sup (F_n(u) - u), exact tail by Birnbaum & Tingey (1951),
 * P(D+ >= d) = d * sum_{j=0}^{floor(n(1-d))} C(n, j) (1 - d - j/n)^(n-j) (d + j/n)^(j-1).
 * The tail is exact for continuous uniform data and conservative for super-uniform or discrete data, so a
 * small value is real evidence that the p-values are too small.
 */
export function ksUniformUpper(sample: readonly number[]): { readonly d: number; readonly p_value: number } {
  const xs = checkSample(sample);
  const n = xs.length;
  let d = 0;
  for (let i = 0; i < n; i++) d = Math.max(d, (i + 1) / n - (xs[i] ?? 0));
  return { d, p_value: ksUpperTail(n, d) };
}

/** P(D+_n >= d) for the continuous uniform null (Birnbaum–Tingey), summed in log space. */
export function ksUpperTail(n: number, d: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError("n must be a positive integer");
  if (d <= 0) return 1;
  if (d >= 1) return 0;
  const jMax = Math.floor(n * (1 - d) + 1e-12);
  let s = 0;
  for (let j = 0; j <= jMax; j++) {
    const a = 1 - d - j / n;
    const b = d + j / n;
    if (a <= 0) {
      // (1 - d - j/n)^(n - j) is 0 unless n - j = 0 (then 0^0 = 1).
      if (n - j === 0) s += Math.exp(logChoose(n, j) + (j - 1) * Math.log(b));
      continue;
    }
    s += Math.exp(logChoose(n, j) + (n - j) * Math.log(a) + (j - 1) * Math.log(b));
  }
  return Math.min(1, Math.max(0, d * s));
}

/**
 * The randomized p-value of a discrete test: P(T > t) + U * P(T = t) with U ~ U(0, 1) independent of the
 * data. Exactly U(0, 1) under a simple null, so a KS test on it checks calibration rather than
 * discreteness. `pGreaterOrEqual` = P(T >= t), `pEqual` = P(T = t).
 */
export function randomizedPValue(pGreaterOrEqual: number, pEqual: number, u: number): number {
  if (!(pEqual >= 0 && pEqual <= pGreaterOrEqual + 1e-12 && pGreaterOrEqual <= 1 + 1e-12)) {
    throw new RangeError("need 0 <= P(T = t) <= P(T >= t) <= 1");
  }
  if (!(u >= 0 && u <= 1)) throw new RangeError("u must be in [0, 1]");
  return Math.min(1, Math.max(0, pGreaterOrEqual - pEqual + u * pEqual));
}

/** Fraction of values <= each level (for a null p-value calibration table). */
export function fractionAtOrBelow(values: readonly number[], levels: readonly number[]): number[] {
  if (values.length === 0) return levels.map(() => 0);
  return levels.map((l) => values.filter((v) => v <= l).length / values.length);
}

/** P(X = k) for X ~ Hypergeometric(population N, successes K, draws n). */
export function hypergeometricPmf(k: number, population: number, successes: number, draws: number): number {
  if (k < Math.max(0, draws - (population - successes)) || k > Math.min(draws, successes)) return 0;
  return Math.exp(
    logChoose(successes, k) + logChoose(population - successes, draws - k) - logChoose(population, draws),
  );
}

/**
 * The randomized one-sided Fisher exact p-value of the canary test: x exposed hits among h hits, when
 * `exposed` of `total` asked canaries were exposed (see randomizedPValue).
 */
export function randomizedFisher(x: number, h: number, exposed: number, total: number, u: number): number {
  let ge = 0;
  for (let k = x; k <= Math.min(h, exposed); k++) ge += hypergeometricPmf(k, total, exposed, h);
  return randomizedPValue(Math.min(1, ge), hypergeometricPmf(x, total, exposed, h), u);
}

/** The randomized binomial upper-tail p-value: G successes of n at rate p (see randomizedPValue). */
export function randomizedBinomial(g: number, n: number, p: number, u: number): number {
  const ge = 1 - binomialCdf(g - 1, n, p);
  const eq = ge - (1 - binomialCdf(g, n, p));
  return randomizedPValue(Math.min(1, Math.max(0, ge)), Math.max(0, eq), u);
}

/** U(0, 1) fixed by a string (SHA-256): the U of a randomized p-value, reproducible from the item's identity. */
export function hashUnit(s: string): number {
  return (createHash("sha256").update(s).digest().readUInt32BE(0) + 0.5) / 2 ** 32;
}
