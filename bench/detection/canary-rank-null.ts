/**
 * Null checks of the canary rank test (lineage-policy/3, libs/fingerprint verdict.ts `canary_ranks`) and a
 * member-level pooled check of both canary tests, for the detection benchmark.
 *
 * Per comparison (rank test): with n ranked pairs (nonzero score differences) the signs, ordered by
 * |difference|, are independent fair coins under the null, so W+ (sum of the ranks signed "E") has the
 * Wilcoxon signed-rank law, here enumerated by an independent dynamic program (not the engine's). The
 * randomized p-value P(W > w) + U P(W = w) is exactly U(0, 1), and level counts are compared with their
 * enumerated expectation, as for McNemar in canary-null.ts.
 *
 * Member-level pooling (`pair_hits`): comparisons against one member share its labels, so per-comparison
 * p-values pooled over suspects are dependent, and a KS over them is only indicative. The unit of label
 * randomness is the member's commitment: for member M and pair j, a_j = sum over the null suspects of x_sj,
 * x_sj = +1 when only the exposed item hit (or, for ranks, the exposed item scored higher), -1 for the
 * decoy, 0 otherwise. Flipping pair j's label negates a_j, so under the null T_M = sum_j a_j is distributed
 * as sum_j e_j |a_j| with independent fair signs e_j — enumerated exactly by dynamic programming. One
 * randomized p-value per member; members' labels are independent draws, so these are independent U(0, 1)
 * and their KS is exact in law (few members: low power, but no dependence).
 */
import { calibrate, type PValueCalibration } from "./report.js";

/** Largest n enumerated (the distribution has n (n + 1) / 2 + 1 points). */
const MAX_N = 2000;

const tailCache = new Map<number, Float64Array>();

/**
 * P(W+ >= w) for w = 0..n(n+1)/2 (index w), W+ the Wilcoxon signed-rank statistic of n untied ranks with
 * independent fair signs. Counts are kept as probabilities (halved per rank): exact to rounding.
 */
export function signedRankTails(n: number): Float64Array {
  if (!(Number.isInteger(n) && n >= 0 && n <= MAX_N))
    throw new RangeError(`n must be an integer in 0..${MAX_N}`);
  const hit = tailCache.get(n);
  if (hit) return hit;
  const max = (n * (n + 1)) / 2;
  let pmf = new Float64Array(max + 1);
  pmf[0] = 1;
  for (let r = 1; r <= n; r++) {
    const next = new Float64Array(max + 1);
    for (let s = 0; s <= max; s++) {
      const v = pmf[s] as number;
      if (v === 0) continue;
      next[s] = (next[s] as number) + v / 2;
      if (s + r <= max) next[s + r] = (next[s + r] as number) + v / 2;
    }
    pmf = next;
  }
  const tails = new Float64Array(max + 2);
  for (let w = max; w >= 0; w--) tails[w] = (tails[w + 1] as number) + (pmf[w] as number);
  tailCache.set(n, tails);
  return tails;
}

/** W+ of a sign string ("E" at 1-based position i adds i). */
export function wPlus(signs: string): number {
  if (!/^[ED]*$/.test(signs)) throw new RangeError('signs must be letters "E" and "D"');
  let w = 0;
  for (let i = 0; i < signs.length; i++) if (signs[i] === "E") w += i + 1;
  return w;
}

/** The randomized signed-rank p-value P(W > w) + u P(W = w); exactly U(0, 1) under the null. */
export function randomizedSignedRank(signs: string, u: number): number {
  if (!(u >= 0 && u <= 1)) throw new RangeError("u must be in [0, 1]");
  const t = signedRankTails(signs.length);
  const w = wPlus(signs);
  const ge = t[w] as number;
  const gt = t[w + 1] as number;
  return Math.min(1, Math.max(0, gt + u * (ge - gt)));
}

/** P(exact signed-rank p <= level) under the null for n ranks (the largest attainable tail <= level). */
export function signedRankLevel(n: number, level: number): number {
  if (!(level > 0 && level <= 1)) throw new RangeError("level must be in (0, 1]");
  const t = signedRankTails(n);
  for (let w = 0; w < t.length; w++) if ((t[w] as number) <= level * (1 + 1e-12)) return t[w] as number;
  return 0;
}

/** One null comparison's rank signs and its U(0, 1) draw. */
export interface RankNullItem {
  readonly signs: string;
  readonly u: number;
}

const LEVELS = [0.001, 0.01, 0.05, 0.1];
const round = (x: number, d = 4) => Number(x.toFixed(d));

/** Per-comparison check of the rank test on null comparisons with at least one ranked pair. */
export function rankNullCheck(items: readonly RankNullItem[]): {
  readonly comparisons: number;
  readonly with_ranked: number;
  readonly randomized: PValueCalibration;
  readonly levels: readonly { level: number; observed: number; expected: number }[];
  readonly min_exact_p: number | null;
  readonly note: string;
} {
  const ranked = items.filter((x) => x.signs.length > 0);
  const exact = ranked.map((x) => signedRankTails(x.signs.length)[wPlus(x.signs)] as number);
  return {
    comparisons: items.length,
    with_ranked: ranked.length,
    randomized: calibrate(ranked.map((x) => randomizedSignedRank(x.signs, x.u))),
    levels: LEVELS.map((level) => ({
      level,
      observed: exact.filter((p) => p <= level * (1 + 1e-12)).length,
      expected: round(
        ranked.reduce((a, x) => a + signedRankLevel(x.signs.length, level), 0),
        3,
      ),
    })),
    min_exact_p: exact.length === 0 ? null : Math.min(...exact),
    note:
      "per null comparison with >= 1 ranked pair: W+ has the signed-rank law under the paired design " +
      "(enumerated here independently of the engine). Comparisons against one member share its labels: " +
      "see member_pooled for the check whose units are independent",
  };
}

/** One null comparison's per-pair outcomes against one member: +1 exposed, -1 decoy, 0 neither, by pair index. */
export interface PairOutcomes {
  readonly member: string;
  readonly outcomes: readonly number[];
}

/**
 * The member-level pooled check of the module comment: per member, T = sum_j a_j against the exact law of
 * sum_j e_j |a_j|, randomized with `uOf(member)`. Returns the per-member p-values and their calibration.
 */
export function memberPooledCheck(
  items: readonly PairOutcomes[],
  uOf: (member: string) => number,
): {
  readonly members: number;
  readonly per_member: readonly { member: string; comparisons: number; t: number; p: number }[];
  readonly randomized: PValueCalibration;
} {
  const byMember = new Map<string, { a: number[]; comparisons: number }>();
  for (const it of items) {
    let m = byMember.get(it.member);
    if (!m) {
      m = { a: new Array<number>(it.outcomes.length).fill(0), comparisons: 0 };
      byMember.set(it.member, m);
    }
    if (m.a.length !== it.outcomes.length) throw new RangeError(`member ${it.member}: pair counts differ`);
    m.comparisons++;
    for (const [j, x] of it.outcomes.entries()) {
      if (x !== 1 && x !== -1 && x !== 0) throw new RangeError("outcomes must be -1, 0 or 1");
      m.a[j] = (m.a[j] as number) + x;
    }
  }
  const per: { member: string; comparisons: number; t: number; p: number }[] = [];
  for (const [member, { a, comparisons }] of [...byMember].sort(([x], [y]) => (x < y ? -1 : 1))) {
    const mags = a.map((x) => Math.abs(x)).filter((x) => x > 0);
    const total = mags.reduce((s, x) => s + x, 0);
    // Distribution of S = sum of the magnitudes with a "+" sign (T = 2S - total), by dynamic programming.
    let pmf = new Float64Array(total + 1);
    pmf[0] = 1;
    for (const m of mags) {
      const next = new Float64Array(total + 1);
      for (let s = 0; s <= total; s++) {
        const v = pmf[s] as number;
        if (v === 0) continue;
        next[s] = (next[s] as number) + v / 2;
        next[s + m] = (next[s + m] as number) + v / 2;
      }
      pmf = next;
    }
    const t = a.reduce((s, x) => s + x, 0);
    const sObs = (t + total) / 2;
    let gt = 0;
    for (let s = total; s > sObs; s--) gt += pmf[s] as number;
    const eq = pmf[sObs] as number;
    per.push({ member, comparisons, t, p: Math.min(1, gt + uOf(member) * eq) });
  }
  return { members: per.length, per_member: per, randomized: calibrate(per.map((x) => x.p)) };
}
