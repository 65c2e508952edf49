/**
 * The canary null check of the detection benchmark (issue 7, "How it is measured": "the canary null with at
 * least one hit in every comparison, its exact tail checked by enumeration under the paired design").
 *
 * The paired canary test (libs/fingerprint verdict.ts) is exact McNemar: with b pairs where only the
 * exposed item hit and c where only the decoy hit, the null says the label of each discordant pair is a fair
 * coin nobody chose, so conditionally on n = b + c, b ~ Binomial(n, 1/2), and p = P(Bin(n, 1/2) >= b).
 * On null comparisons this module checks that, three ways:
 *
 *   randomized   p_rand = P(B > b) + U P(B = b), U ~ U(0, 1) from a hash of the comparison: exactly U(0, 1)
 *                under the null whatever n is, so a two-sided KS test against U(0, 1) checks the
 *                conditional law itself (not just "not too small");
 *   levels       for each level a, how many comparisons reach exact p <= a, against the number the null
 *                predicts: the sum over comparisons of P_n(p <= a), each ENUMERATED over b = 0..n, with the
 *                exact Poisson-binomial tail of the observed count;
 *   small n      for every n up to SMALL_N, the observed histogram of b against n_comparisons x Bin(n, 1/2),
 *                enumerated.
 *
 * Caveat stated in the report: comparisons against one member share that member's labels, so pooled counts
 * are not independent across suspects; each comparison's conditional law is exact, the pooled KS and
 * Poisson-binomial tails are indicative (the unit of label randomness is the member's commitment).
 */
import { logChoose } from "@lineage/fingerprint";
import { calibrate, type PValueCalibration } from "./report.js";

/** Largest discordant count enumerated per value in the small-n table. */
export const SMALL_N = 12;

/** Levels of the enumerated level table. */
export const CANARY_LEVELS: readonly number[] = [0.001, 0.01, 0.05, 0.1];

/** The paired counts of one null comparison with at least one canary hit. */
export interface PairedNullCounts {
  /** Exposed-only discordant pairs. */
  readonly b: number;
  /** Decoy-only discordant pairs. */
  readonly c: number;
  /** Both items hit (concordant; they drop out of the test). */
  readonly both: number;
  /** U(0, 1) draw fixed by the comparison's identity (for the randomized p-value). */
  readonly u: number;
}

function checkBn(b: number, n: number): void {
  if (!(Number.isInteger(b) && Number.isInteger(n) && b >= 0 && n >= b && n <= 100_000)) {
    throw new RangeError(`need integers 0 <= b <= n <= 100000, got b=${b}, n=${n}`);
  }
}

/** P(Bin(n, 1/2) = k), exactly in log space. */
export function halfPmf(k: number, n: number): number {
  checkBn(k, n);
  return Math.exp(logChoose(n, k) - n * Math.LN2);
}

/** The exact one-sided McNemar p-value P(Bin(n, 1/2) >= b) and P(= b), by enumeration of the upper tail. */
export function mcnemarTail(b: number, n: number): { readonly ge: number; readonly eq: number } {
  checkBn(b, n);
  let ge = 0;
  for (let k = b; k <= n; k++) ge += halfPmf(k, n);
  return { ge: Math.min(1, ge), eq: halfPmf(b, n) };
}

/** The randomized McNemar p-value P(B > b) + u P(B = b); exactly U(0, 1) under the null. */
export function randomizedMcnemar(b: number, c: number, u: number): number {
  if (!(u >= 0 && u <= 1)) throw new RangeError("u must be in [0, 1]");
  const { ge, eq } = mcnemarTail(b, b + c);
  return Math.min(1, Math.max(0, ge - eq + u * eq));
}

/** P(exact McNemar p <= level) under the null for n discordant pairs, by enumerating b = 0..n. */
export function mcnemarLevel(n: number, level: number): number {
  checkBn(0, n);
  if (!(level > 0 && level <= 1)) throw new RangeError("level must be in (0, 1]");
  let s = 0;
  for (let b = 0; b <= n; b++) if (mcnemarTail(b, n).ge <= level) s += halfPmf(b, n);
  return s;
}

/** The exact distribution of a sum of independent Bernoulli(p_i) (Poisson-binomial), by dynamic programming. */
export function poissonBinomialPmf(ps: readonly number[]): number[] {
  let dist = [1];
  for (const p of ps) {
    if (!(p >= 0 && p <= 1)) throw new RangeError("probabilities must be in [0, 1]");
    const next = new Array<number>(dist.length + 1).fill(0);
    for (let k = 0; k < dist.length; k++) {
      const d = dist[k] as number;
      next[k] = (next[k] as number) + d * (1 - p);
      next[k + 1] = (next[k + 1] as number) + d * p;
    }
    dist = next;
  }
  return dist;
}

/** One row of the level table. */
export interface LevelRow {
  readonly level: number;
  /** Comparisons whose exact McNemar p-value is <= level. */
  readonly observed: number;
  /** Expected under the null: sum of enumerated P_n(p <= level). */
  readonly expected: number;
  /** Exact P(X >= observed) and P(X <= observed) for X the Poisson-binomial count under the null. */
  readonly p_upper: number;
  readonly p_lower: number;
}

/** The canary null report section. */
export interface CanaryNullCheck {
  /** Null comparisons with at least one canary hit (and so in this check). */
  readonly comparisons: number;
  /** Of those, comparisons with at least one discordant pair (the only ones the test can move on). */
  readonly with_discordant: number;
  /** Sums over the comparisons. */
  readonly totals: { readonly exposed_only: number; readonly decoy_only: number; readonly both: number };
  /** Randomized McNemar p-values of the comparisons with n >= 1 (two-sided KS = the conditional law). */
  readonly randomized: PValueCalibration;
  readonly levels: readonly LevelRow[];
  /** Per n <= SMALL_N: comparisons with that n and the observed vs enumerated expected histogram of b. */
  readonly small_n: Readonly<
    Record<string, { readonly comparisons: number; readonly observed: number[]; readonly expected: number[] }>
  >;
  /** Largest exposed-only excess b - c, and the smallest exact p-value seen. */
  readonly max_excess: number | null;
  readonly min_exact_p: number | null;
  readonly note: string;
}

const round = (x: number, d = 4): number => Number(x.toFixed(d));

/** Runs the three checks of the module comment on the paired counts of null comparisons. */
export function canaryNullCheck(items: readonly PairedNullCounts[]): CanaryNullCheck {
  for (const it of items) checkBn(it.b, it.b + it.c);
  const disc = items.filter((x) => x.b + x.c > 0);
  const exact = disc.map((x) => mcnemarTail(x.b, x.b + x.c).ge);
  const levels = CANARY_LEVELS.map((level): LevelRow => {
    const ps = disc.map((x) => mcnemarLevel(x.b + x.c, level));
    const dist = poissonBinomialPmf(ps);
    const observed = exact.filter((p) => p <= level).length;
    const upper = dist.slice(observed).reduce((a, b) => a + b, 0);
    const lower = dist.slice(0, observed + 1).reduce((a, b) => a + b, 0);
    return {
      level,
      observed,
      expected: round(
        ps.reduce((a, b) => a + b, 0),
        3,
      ),
      p_upper: round(Math.min(1, upper), 6),
      p_lower: round(Math.min(1, lower), 6),
    };
  });
  const small: Record<string, { comparisons: number; observed: number[]; expected: number[] }> = {};
  for (let n = 1; n <= SMALL_N; n++) {
    const at = disc.filter((x) => x.b + x.c === n);
    if (at.length === 0) continue;
    const observed = new Array<number>(n + 1).fill(0);
    for (const x of at) observed[x.b] = (observed[x.b] as number) + 1;
    small[String(n)] = {
      comparisons: at.length,
      observed,
      expected: Array.from({ length: n + 1 }, (_, b) => round(at.length * halfPmf(b, n), 3)),
    };
  }
  return {
    comparisons: items.length,
    with_discordant: disc.length,
    totals: {
      exposed_only: items.reduce((a, x) => a + x.b, 0),
      decoy_only: items.reduce((a, x) => a + x.c, 0),
      both: items.reduce((a, x) => a + x.both, 0),
    },
    randomized: calibrate(disc.map((x) => randomizedMcnemar(x.b, x.c, x.u))),
    levels,
    small_n: small,
    max_excess: disc.length === 0 ? null : Math.max(...disc.map((x) => x.b - x.c)),
    min_exact_p: exact.length === 0 ? null : Math.min(...exact),
    note:
      "per null comparison with >= 1 canary hit: b | b + c ~ Binomial(b + c, 1/2) under the paired design. " +
      "randomized: P(B > b) + U P(B = b), exactly U(0,1) under the null (two-sided KS = the conditional law); " +
      "levels: observed count of exact p <= level vs the enumerated expectation, with exact Poisson-binomial " +
      "tails; small_n: observed vs enumerated histograms of b. Comparisons against one member share its " +
      "labels, so pooled tests are indicative; each comparison's law is exact",
  };
}

/** How many null comparisons had at least one canary hit, overall and per null kind. */
export interface CanaryHitCoverage {
  /** Null comparisons that asked canaries. */
  readonly comparisons: number;
  /** Of those, comparisons where at least one item (exposed or decoy) was hit. */
  readonly with_hit: number;
  /** with_hit / comparisons (null when there were none). */
  readonly share_with_hit: number | null;
  readonly by_kind: Readonly<Record<string, { readonly comparisons: number; readonly with_hit: number }>>;
}

/**
 * Coverage of the canary null check: a comparison without any hit has no pair that could be discordant, so
 * it cannot exercise the McNemar tail; issue 7 asks for a hit in (essentially) every null comparison. Takes
 * one entry per null comparison that asked canaries: its null kind and its hit count.
 */
export function canaryHitCoverage(
  items: readonly { readonly kind: string; readonly hits: number }[],
): CanaryHitCoverage {
  const byKind: Record<string, { comparisons: number; with_hit: number }> = {};
  let withHit = 0;
  for (const it of items) {
    if (!(Number.isInteger(it.hits) && it.hits >= 0))
      throw new RangeError(`hits must be an integer >= 0, got ${it.hits}`);
    const k = byKind[it.kind] ?? { comparisons: 0, with_hit: 0 };
    byKind[it.kind] = k;
    k.comparisons++;
    if (it.hits > 0) {
      k.with_hit++;
      withHit++;
    }
  }
  return {
    comparisons: items.length,
    with_hit: withHit,
    share_with_hit: items.length === 0 ? null : round(withHit / items.length),
    by_kind: byKind,
  };
}

const fmtP = (p: number | null): string => (p === null ? "-" : p < 1e-4 ? p.toExponential(2) : p.toFixed(4));

/**
 * The printed canary null section: coverage (comparisons with >= 1 hit, per kind), the paired totals, the
 * randomized McNemar p-values' two-sided KS against U(0, 1), and the enumerated level table.
 */
export function formatCanaryNull(label: string, check: CanaryNullCheck, coverage: CanaryHitCoverage): string {
  const pct = coverage.share_with_hit === null ? "-" : `${(100 * coverage.share_with_hit).toFixed(1)}%`;
  const kinds = Object.entries(coverage.by_kind)
    .map(([k, v]) => `${k} ${v.with_hit}/${v.comparisons}`)
    .join(", ");
  const lines = [
    `Canary null (${label}): ${coverage.with_hit} / ${coverage.comparisons} null comparisons with >= 1 canary hit (${pct}; ${kinds})`,
    `  ${check.with_discordant} with a discordant pair; exposed-only b = ${check.totals.exposed_only}, decoy-only c = ${check.totals.decoy_only}, both = ${check.totals.both}; max b - c = ${check.max_excess ?? "-"}, min exact p = ${fmtP(check.min_exact_p)}`,
    `  randomized McNemar p-values (n = ${check.randomized.n}): two-sided KS vs U(0,1) p = ${fmtP(check.randomized.ks_uniform_p)}`,
    "  level   exact p <= level: observed  expected (enumerated)  P(X >= obs)  P(X <= obs)",
    ...check.levels.map(
      (l) =>
        `  ${String(l.level).padEnd(7)} ${String(l.observed).padStart(26)}  ${l.expected.toFixed(3).padStart(21)}  ${fmtP(l.p_upper).padStart(11)}  ${fmtP(l.p_lower).padStart(11)}`,
    ),
  ];
  return lines.join("\n");
}
