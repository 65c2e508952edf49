/**
 * The verdict: one pure function from counts to LIKELY_DERIVED | SIMILAR | INCONCLUSIVE, shared by the
 * member node (which signs it), the hub (which re-derives it before countersigning) and the auditor (which
 * re-derives it offline). It reads counts, never p-values: every p-value is recomputed here from the counts
 * an attestation carries, so a bundle whose verdict its own numbers do not support is caught by anyone.
 * DESIGN.md "Deciding copied: who chose the null?".
 *
 * Accusing tests (null fixed before the evidence):
 *   canary_pairs      the member committed canary PAIRS; which item of each pair was exposed in its training
 *                     data is a hash of the first signed checkpoint after the commitment (nobody chose it).
 *                     Null: the suspect never learned from the member, so for every completed pair the
 *                     suspect's hit pattern does not depend on the label, and a discordant pair (one item
 *                     hit, the other not) is "exposed only" with probability 1/2, independently across pairs.
 *                     Exact McNemar: P(Binomial(b + c, 1/2) >= b), b = exposed-only, c = decoy-only pairs.
 *                     Concordant pairs (generic hits on both, or neither) drop out by construction. With a
 *                     `sequence` (discordant outcomes in completion order), the anytime-valid sign-test
 *                     martingale over completed pairs instead (valid under optional stopping).
 *                     Effect: (b - c) / completed pairs.
 *   watermark         the member's key was committed before the suspect was first seen, so under the null the
 *                     green bit of each distinct scored (previous token, token) pair is an independent
 *                     Bernoulli(gamma) over the key's randomness. Two exact binomial tails must both reject
 *                     (intersection-union: p = the larger): the selected pairs (chosen without the key and
 *                     without the panel, signal-watermark.ts) and all scored pairs. Effect: (selected green
 *                     share - gamma) / (1 - gamma). When the session also ran the extra watermark queries
 *                     step (`watermark_queries` counts, protocol lineage-watermark-queries/2), the test reads
 *                     both sets with Bonferroni 2 and a set decides only with its own effect at the minimum
 *                     (`watermarkSetsTest`): the step's many diluted pairs add power, the battery's few
 *                     concentrated ones keep the effect a watermarked copy shows.
 *   canary_ranks      (lineage-policy/3) the same pairs and labels, graded instead of hit/miss: where the suspect
 *                     serves prompt log-probabilities, each item's score is the mean log-probability of its
 *                     answer given its prompt, and each scored pair gives d = score(exposed) - score(decoy).
 *                     Null: the scores do not depend on the label, so given |d| each sign is a fair coin,
 *                     independently across pairs; ties (d = 0) drop out. Exact one-sided Wilcoxon
 *                     signed-rank over the signs ordered by |d| (`rank_signs`). Fixed-sample only.
 *   canary_watermark  Fisher's combination of the two (independent under the null: labels and key were drawn
 *                     independently); effect the larger of the two.
 * The family is the accusing tests the inputs make possible and the policy weighs (a canary commitment given ->
 * canary_pairs, and canary_ranks under lineage-policy/3, the default; a watermark key -> watermark; both ->
 * canary_watermark too), whether or not they ran: what the answers turned
 * out to support never shrinks the correction. Weighted Bonferroni over the family times `comparisons`.
 *
 * Similarity (never accuses): a lead statistic of the suspect against the reference, ranked against the same
 * statistic over N known-unrelated model pairs of a reference population. The rank p-value
 * (1 + #{null >= suspect}) / (N + 1) is exact under exchangeability with the unrelated pairs and can never
 * go below 1 / (N + 1). SIMILAR when no accusing test decides and the rank p-value is at most
 * `lead_alpha`; its estimated false-lead rate is the share of the unrelated pairs that would also be leads.
 */
import { FingerprintError } from "../fingerprint-error.js";
import { WATERMARK_MASS_LEVELS } from "../signals/signal-watermark.js";
import {
  binomialUpperTail,
  MAX_SIGNED_RANK_PAIRS,
  signedRankUpperTail,
  weightedBernoulliUpperTail,
} from "../stats/stats-exact.js";
import { fisherCombine } from "../stats/stats-multiple.js";
import { SignTestMartingale } from "../stats/stats-sequential.js";
import {
  type AccusingTest,
  checkVerdictPolicy,
  DEFAULT_VERDICT_POLICY,
  type VerdictPolicy,
} from "./verdict-policy.js";

/** The three verdicts; there is no "clean". */
export type Verdict = "LIKELY_DERIVED" | "SIMILAR" | "INCONCLUSIVE";

/** Counts of the paired canary test: all an auditor needs to recompute it. */
export interface CanaryPairCounts {
  /** Pairs in the commitment. */
  readonly pairs_committed: number;
  /** Completed pairs: both items asked and answered. Only these are tested. */
  readonly pairs_completed: number;
  /** Hits on exposed items (of completed pairs). */
  readonly exposed_hits: number;
  /** Hits on decoy items (of completed pairs). */
  readonly decoy_hits: number;
  /** Discordant pairs where only the exposed item hit (McNemar's b). */
  readonly exposed_only: number;
  /** Discordant pairs where only the decoy item hit (McNemar's c). */
  readonly decoy_only: number;
  /**
   * Sequential test only: the discordant pairs' outcomes in completion order, "E" (exposed only) or "D"
   * (decoy only), one letter per discordant pair. Absent: the fixed-sample exact test.
   */
  readonly sequence?: string;
  /**
   * Rank test (`canary_ranks`, policy 3): committed pairs whose two items were both scored (the suspect
   * served the log-probability of each item's answer given its prompt), whether or not their generations
   * were asked (at most pairs_committed). Absent: nothing was scored.
   */
  readonly scored_pairs?: number;
  /**
   * Rank test: for the scored pairs whose two scores differ, the sign of (exposed score - decoy score) as
   * "E" (exposed higher) or "D" (decoy higher), ordered by increasing |difference| (equal magnitudes in
   * commitment order): the letter at position i (1-based) has signed rank i. Present iff `scored_pairs` is.
   */
  readonly rank_signs?: string;
}

/** Counts of the watermark test. */
export interface WatermarkCounts {
  /** Green-list fraction of the member's scheme. */
  readonly gamma: number;
  /** Distinct scored pairs selected without the key or the panel, and how many were green. */
  readonly selected_scored: number;
  readonly selected_green: number;
  /** All distinct scored pairs, and how many were green. */
  readonly all_scored: number;
  readonly all_green: number;
  /**
   * The green-mass histogram (lineage-watermark-queries/3; signal-watermark.ts WATERMARK_MASS_LEVELS): of the
   * scored pairs, how many have mass level k (index k - 1, weight k / levels) and how many of those are green.
   * When present, the test of this set is the green-mass test (`watermarkTest`); the two arrays have
   * WATERMARK_MASS_LEVELS entries summing to all_scored and all_green.
   */
  readonly mass?: {
    readonly scored: readonly number[];
    readonly green: readonly number[];
  };
}

/** The similarity lead: the suspect's statistic against the reference, ranked against unrelated pairs. */
export interface LeadEvidence {
  /** The suspect's lead score (higher = closer to the reference than unrelated models are). */
  readonly score: number;
  /** N: known-unrelated model pairs the score was ranked against. */
  readonly null_size: number;
  /** How many of those N scored at least `score`. */
  readonly null_at_least: number;
  /** Identifies the reference population (e.g. the hub's logged population id, or "panel"). */
  readonly population: string;
}

/** What a verdict is derived from. */
export interface VerdictEvidence {
  /** Present iff a canary commitment was bound to the comparison (even if no pair completed). */
  readonly canary?: CanaryPairCounts;
  /** Present iff a watermark key was bound to the comparison (even if too few pairs were scored). */
  readonly watermark?: WatermarkCounts;
  /**
   * Present iff the session also ran the extra watermark queries step (protocol
   * "lineage-watermark-queries/2"): the counts of the step's own pairs under the same key. `watermark` then
   * stays the battery's counts, and the watermark test reads both sets (`watermarkSetsTest`). Needs
   * `watermark`, with the same gamma.
   */
  readonly watermark_queries?: WatermarkCounts;
  /** Present iff the similarity signals ran. */
  readonly lead?: LeadEvidence;
  /** Hypotheses corrected for together (members x models of the session; >= 1). */
  readonly comparisons: number;
}

/** One accusing test's outcome. */
export interface TestOutcome {
  readonly test: AccusingTest;
  readonly available: boolean;
  /** Why it did not run, when it did not. */
  readonly reason?: string;
  /** Raw one-sided p-value (1 when unavailable). */
  readonly p_value: number;
  /** After weighted Bonferroni over the family and the comparisons. */
  readonly adjusted_p: number;
  readonly effect: number;
  /** Bonferroni factor applied: (family weight total / this test's weight) x comparisons. */
  readonly factor: number;
}

/** The ranked similarity lead. */
export interface LeadOutcome {
  readonly score: number;
  /** Unrelated pairs the suspect is strictly closer than... at least: N - null_at_least. */
  readonly rank: number;
  readonly null_size: number;
  /** (1 + null_at_least) / (N + 1). */
  readonly p_value: number;
  /** Whether it is a lead under the policy. */
  readonly is_lead: boolean;
  /** Estimated false-lead rate of the policy's threshold: the share of unrelated pairs that would be leads. */
  readonly false_lead_rate: number;
  readonly population: string;
  readonly reason?: string;
}

/** The derived verdict and what backs it. */
export interface VerdictResult {
  readonly verdict: Verdict;
  /** The deciding accusing test, "similarity_lead" for SIMILAR, null for INCONCLUSIVE. */
  readonly backed_by: AccusingTest | "similarity_lead" | null;
  /** Smallest adjusted p-value among the accusing tests (1 when none ran). */
  readonly p_value: number;
  /** Effect of the deciding (or best) accusing test. */
  readonly effect: number;
  readonly tests: readonly TestOutcome[];
  readonly lead: LeadOutcome | null;
  readonly policy: VerdictPolicy;
  readonly comparisons: number;
  /** One sentence a reviewer can read: the verdict and what backs it. */
  readonly explanation: string;
}

const MAX_COUNT = 10_000_000;

function count(name: string, v: number): number {
  if (!(Number.isInteger(v) && v >= 0 && v <= MAX_COUNT)) {
    throw new FingerprintError("INVALID_ARGUMENT", `${name} must be an integer in 0..${MAX_COUNT}, got ${v}`);
  }
  return v;
}

/** Checks that canary counts are consistent with each other (they may come from an attacker's bundle). */
export function checkCanaryCounts(c: CanaryPairCounts): void {
  const n = count("canary.pairs_completed", c.pairs_completed);
  count("canary.pairs_committed", c.pairs_committed);
  const xe = count("canary.exposed_hits", c.exposed_hits);
  const xd = count("canary.decoy_hits", c.decoy_hits);
  const b = count("canary.exposed_only", c.exposed_only);
  const d = count("canary.decoy_only", c.decoy_only);
  const bad = (what: string): never => {
    throw new FingerprintError("INVALID_ARGUMENT", `canary counts are inconsistent: ${what}`);
  };
  if (n > c.pairs_committed) bad("more completed pairs than committed");
  if (xe > n || xd > n) bad("more hits than completed pairs");
  if (b > xe || d > xd) bad("more one-sided pairs than hits on that side");
  // both-hit pairs = xe - b = xd - d
  if (xe - b !== xd - d)
    bad("exposed_hits - exposed_only must equal decoy_hits - decoy_only (pairs with both hit)");
  if (b + d + (xe - b) > n) bad("discordant plus both-hit pairs exceed the completed pairs");
  if (c.sequence !== undefined) {
    if (typeof c.sequence !== "string" || !/^[ED]*$/.test(c.sequence))
      bad('sequence must be letters "E" and "D"');
    const e = [...c.sequence].filter((x) => x === "E").length;
    if (e !== b || c.sequence.length - e !== d) bad("sequence does not match exposed_only / decoy_only");
  }
  if ((c.scored_pairs === undefined) !== (c.rank_signs === undefined))
    bad("scored_pairs and rank_signs come together");
  if (c.scored_pairs !== undefined && c.rank_signs !== undefined) {
    const scored = count("canary.scored_pairs", c.scored_pairs);
    // Scoring needs no generation (the engine scores every item first and may stop there): bounded by the
    // committed pairs, not the completed ones.
    if (scored > c.pairs_committed) bad("more scored pairs than committed");
    if (typeof c.rank_signs !== "string" || !/^[ED]*$/.test(c.rank_signs))
      bad('rank_signs must be letters "E" and "D"');
    if (c.rank_signs.length > scored) bad("more rank signs than scored pairs");
  }
}

/** Checks watermark counts. */
export function checkWatermarkCounts(w: WatermarkCounts): void {
  if (!(w.gamma > 0 && w.gamma < 1))
    throw new FingerprintError("INVALID_ARGUMENT", "watermark.gamma must be in (0, 1)");
  const ss = count("watermark.selected_scored", w.selected_scored);
  const sg = count("watermark.selected_green", w.selected_green);
  const as = count("watermark.all_scored", w.all_scored);
  const ag = count("watermark.all_green", w.all_green);
  if (sg > ss || ag > as || ss > as || sg > ag) {
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "watermark counts are inconsistent (green <= scored, selected <= all)",
    );
  }
  if (w.mass === undefined) return;
  const bad = (what: string) => {
    throw new FingerprintError("INVALID_ARGUMENT", `watermark.mass ${what}`);
  };
  const { scored, green } = w.mass;
  if (!Array.isArray(scored) || !Array.isArray(green)) bad("must have scored and green arrays");
  if (scored.length !== WATERMARK_MASS_LEVELS || green.length !== WATERMARK_MASS_LEVELS)
    bad(`arrays must have ${WATERMARK_MASS_LEVELS} entries (one per mass level)`);
  let sumScored = 0;
  let sumGreen = 0;
  for (let k = 0; k < WATERMARK_MASS_LEVELS; k++) {
    const sc = count(`watermark.mass.scored[${k}]`, scored[k] as number);
    const gr = count(`watermark.mass.green[${k}]`, green[k] as number);
    if (gr > sc) bad(`green[${k}] exceeds scored[${k}]`);
    sumScored += sc;
    sumGreen += gr;
  }
  if (sumScored !== as || sumGreen !== ag) bad("does not sum to all_scored and all_green");
}

/** Checks lead evidence. */
export function checkLeadEvidence(l: LeadEvidence): void {
  if (!Number.isFinite(l.score)) throw new FingerprintError("INVALID_ARGUMENT", "lead.score must be finite");
  const n = count("lead.null_size", l.null_size);
  if (count("lead.null_at_least", l.null_at_least) > n) {
    throw new FingerprintError("INVALID_ARGUMENT", "lead.null_at_least exceeds lead.null_size");
  }
  if (typeof l.population !== "string" || l.population.length > 128) {
    throw new FingerprintError("INVALID_ARGUMENT", "lead.population must be a string of at most 128 chars");
  }
}

interface Raw {
  readonly test: AccusingTest;
  readonly available: boolean;
  readonly reason?: string;
  readonly p: number;
  readonly effect: number;
}

/** The paired canary test from its counts (see the module comment). */
export function canaryPairsTest(c: CanaryPairCounts, policy: VerdictPolicy = DEFAULT_VERDICT_POLICY): Raw {
  checkCanaryCounts(c);
  if (c.pairs_completed < policy.min_canary_pairs) {
    return {
      test: "canary_pairs",
      available: false,
      reason: `${c.pairs_completed} completed canary pairs, fewer than the policy's ${policy.min_canary_pairs}`,
      p: 1,
      effect: 0,
    };
  }
  let p: number;
  if (c.sequence !== undefined) {
    const m = new SignTestMartingale();
    for (const x of c.sequence) m.observe(x === "E" ? 1 : -1);
    p = m.pValue();
  } else {
    p = binomialUpperTail(c.exposed_only, c.exposed_only + c.decoy_only, 0.5);
  }
  return {
    test: "canary_pairs",
    available: true,
    p,
    effect: (c.exposed_only - c.decoy_only) / c.pairs_completed,
  };
}

/**
 * The paired canary rank test from its counts (policy 3; see the module comment): exact one-sided Wilcoxon
 * signed-rank over the scored pairs whose two scores differ, W+ = sum of the positions (1-based) of "E" in
 * `rank_signs`, p = P(W+ >= observed) under independent fair signs. Effect: the matched-pairs rank-biserial
 * correlation (W+ - W-) / (n (n + 1) / 2), in [-1, 1].
 */
export function canaryRanksTest(c: CanaryPairCounts, policy: VerdictPolicy = DEFAULT_VERDICT_POLICY): Raw {
  checkCanaryCounts(c);
  const off = (reason: string): Raw => ({ test: "canary_ranks", available: false, reason, p: 1, effect: 0 });
  if (c.scored_pairs === undefined || c.rank_signs === undefined || c.scored_pairs === 0)
    return off(
      "the suspect's answers were not scored (it served no prompt log-probabilities, or was not asked)",
    );
  if (c.scored_pairs < policy.min_canary_pairs)
    return off(`${c.scored_pairs} scored canary pairs, fewer than the policy's ${policy.min_canary_pairs}`);
  const n = c.rank_signs.length;
  if (n > MAX_SIGNED_RANK_PAIRS)
    return off(`${n} ranked pairs, more than the exact tail's ${MAX_SIGNED_RANK_PAIRS}`);
  let wPlus = 0;
  for (let i = 0; i < n; i++) if (c.rank_signs[i] === "E") wPlus += i + 1;
  const total = (n * (n + 1)) / 2;
  return {
    test: "canary_ranks",
    available: true,
    p: signedRankUpperTail(wPlus, n),
    effect: total === 0 ? 0 : (2 * wPlus - total) / total,
  };
}

/** The watermark test from its counts (see the module comment). */
export function watermarkTest(w: WatermarkCounts, policy: VerdictPolicy = DEFAULT_VERDICT_POLICY): Raw {
  checkWatermarkCounts(w);
  if (w.selected_scored < policy.min_watermark_pairs) {
    return {
      test: "watermark",
      available: false,
      reason: `${w.selected_scored} selected scored pairs, fewer than the policy's ${policy.min_watermark_pairs}`,
      p: 1,
      effect: 0,
    };
  }
  if (w.mass !== undefined) return greenMassTest(w.gamma, w.mass);
  const pSel = binomialUpperTail(w.selected_green, w.selected_scored, w.gamma);
  const pAll = binomialUpperTail(w.all_green, w.all_scored, w.gamma);
  const effect = Math.max(-1, Math.min(1, (w.selected_green / w.selected_scored - w.gamma) / (1 - w.gamma)));
  return { test: "watermark", available: true, p: Math.max(pSel, pAll), effect };
}

/**
 * The green-mass test (lineage-watermark-queries/3): S = sum over scored pairs of weight x green, weights
 * k / WATERMARK_MASS_LEVELS read off the suspect's served probabilities (never the key). Under the null each
 * distinct pair is green with probability gamma independently over the key, whatever the weights, so
 * P(S >= s) is bounded by the Chernoff bound of a weighted Bernoulli sum (stats-exact.ts), a valid p-value.
 * Effect: the weighted green share's excess, (S / sum w - gamma) / (1 - gamma).
 */
function greenMassTest(gamma: number, mass: NonNullable<WatermarkCounts["mass"]>): Raw {
  const groups: [number, number][] = [];
  let s = 0;
  let total = 0;
  for (let k = 1; k <= WATERMARK_MASS_LEVELS; k++) {
    const n = mass.scored[k - 1] ?? 0;
    const w = k / WATERMARK_MASS_LEVELS;
    if (n > 0) groups.push([w, n]);
    s += w * (mass.green[k - 1] ?? 0);
    total += w * n;
  }
  const p = total === 0 ? 1 : weightedBernoulliUpperTail(s, groups, gamma);
  const effect = total === 0 ? 0 : Math.max(-1, Math.min(1, (s / total - gamma) / (1 - gamma)));
  return { test: "watermark", available: true, p, effect };
}

/**
 * The watermark test over two count sets under the same key (`watermark`: the battery's pairs;
 * `watermark_queries`: the extra watermark queries step's pairs), each scored as `watermarkTest` scores it.
 * Bonferroni over the two sets, with factor 2 whenever both sets are bound (whether or not both ran: what the
 * answers turned out to be never shrinks the correction). The test reports the set with the smallest p among
 * those whose own effect reaches the policy's minimum effect, or, when none does, the set with the smallest p
 * (which then cannot decide): p = min(1, 2 p_set), effect = that set's effect. Valid: the test rejects only if
 * some set has 2 p_set at or below the level, which under the null has probability at most the level whatever
 * the dependence between the sets. `pAny` = min(1, 2 min p_set) is the test's p-value free of the effect rule:
 * what `canary_watermark` combines.
 */
export function watermarkSetsTest(
  battery: WatermarkCounts,
  queries: WatermarkCounts,
  policy: VerdictPolicy = DEFAULT_VERDICT_POLICY,
): Raw & { readonly pAny: number; readonly set: "battery" | "queries" | null } {
  if (battery.gamma !== queries.gamma)
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "watermark_queries.gamma must equal watermark.gamma (one key, one scheme)",
    );
  const sets = [
    { set: "battery" as const, raw: watermarkTest(battery, policy) },
    { set: "queries" as const, raw: watermarkTest(queries, policy) },
  ].filter((x) => x.raw.available);
  if (sets.length === 0) {
    return {
      test: "watermark",
      available: false,
      reason: `neither the battery's nor the extra queries' pairs reach the policy's ${policy.min_watermark_pairs} selected scored pairs`,
      p: 1,
      effect: 0,
      pAny: 1,
      set: null,
    };
  }
  const byP = [...sets].sort((a, b) => a.raw.p - b.raw.p);
  const pick = byP.find((x) => x.raw.effect >= policy.min_effect) ?? (byP[0] as (typeof byP)[number]);
  return {
    test: "watermark",
    available: true,
    p: Math.min(1, 2 * pick.raw.p),
    effect: pick.raw.effect,
    pAny: Math.min(1, 2 * (byP[0] as (typeof byP)[number]).raw.p),
    set: pick.set,
  };
}

/** The lead outcome from its evidence. */
export function rankLead(l: LeadEvidence, policy: VerdictPolicy = DEFAULT_VERDICT_POLICY): LeadOutcome {
  checkLeadEvidence(l);
  const p = (1 + l.null_at_least) / (l.null_size + 1);
  const enough = l.null_size >= policy.min_lead_null;
  // Share of unrelated pairs that would themselves be leads at this threshold (leave-one-out rank p-value
  // of the j-th largest null score is j / N, so floor(lead_alpha * N) of them would pass).
  const falseLeadRate = l.null_size > 0 ? Math.floor(policy.lead_alpha * l.null_size) / l.null_size : 0;
  return {
    score: l.score,
    rank: l.null_size - l.null_at_least,
    null_size: l.null_size,
    p_value: p,
    is_lead: enough && p <= policy.lead_alpha,
    false_lead_rate: falseLeadRate,
    population: l.population,
    ...(enough
      ? {}
      : {
          reason: `ranked against ${l.null_size} unrelated pairs, fewer than the policy's ${policy.min_lead_null}: no lead can be raised`,
        }),
  };
}

function fmtP(p: number): string {
  return p >= 1e-3 ? p.toPrecision(2) : p.toExponential(1);
}

/** Watermark counts of a set that is bound but has no scored pair (not evaluated yet, or not asked). */
export function unscoredWatermarkCounts(
  gamma: number,
  options: { readonly mass?: boolean } = {},
): WatermarkCounts {
  return {
    gamma,
    selected_scored: 0,
    selected_green: 0,
    all_scored: 0,
    all_green: 0,
    ...(options.mass
      ? {
          mass: {
            scored: new Array<number>(WATERMARK_MASS_LEVELS).fill(0),
            green: new Array<number>(WATERMARK_MASS_LEVELS).fill(0),
          },
        }
      : {}),
  };
}

/**
 * Whether the extra watermark queries step (counts.watermark_queries) need not be asked: the verdict with the
 * step bound and its counts empty is already LIKELY_DERIVED. Adding the step's counts can never undo that (a
 * set that decides still decides, and the smallest watermark p can only fall), so not asking rejects on a
 * subset of what always asking rejects on, and the level holds. The member node and bench:detection ask by
 * this rule; the hub and the auditor admit a record of "not asked" only on a LIKELY_DERIVED claim. False when
 * no watermark key is bound (`evidence.watermark` absent): then there is no step.
 */
export function decidedWithoutWatermarkQueries(
  evidence: VerdictEvidence,
  policy: VerdictPolicy = DEFAULT_VERDICT_POLICY,
): boolean {
  const battery = evidence.watermark;
  if (battery === undefined) return false;
  const unasked = { ...evidence, watermark_queries: unscoredWatermarkCounts(battery.gamma) };
  return deriveVerdict(unasked, policy).verdict === "LIKELY_DERIVED";
}

/**
 * Derives the verdict from counts under a policy (see the module comment). Pure and deterministic: the
 * member node, the hub and the auditor call it on the same numbers and must agree.
 */
export function deriveVerdict(
  evidence: VerdictEvidence,
  policy: VerdictPolicy = DEFAULT_VERDICT_POLICY,
): VerdictResult {
  checkVerdictPolicy(policy);
  const comparisons = evidence.comparisons;
  if (!(Number.isInteger(comparisons) && comparisons >= 1 && comparisons <= 1_000_000)) {
    throw new FingerprintError("INVALID_ARGUMENT", "comparisons must be an integer in 1..1000000");
  }
  const raws: Raw[] = [];
  const canary = evidence.canary ? canaryPairsTest(evidence.canary, policy) : null;
  if (evidence.watermark_queries !== undefined) {
    if (evidence.watermark === undefined)
      throw new FingerprintError(
        "INVALID_ARGUMENT",
        "watermark_queries counts need a bound watermark key (watermark counts)",
      );
    checkWatermarkCounts(evidence.watermark_queries);
  }
  const wmSets =
    evidence.watermark && evidence.watermark_queries
      ? watermarkSetsTest(evidence.watermark, evidence.watermark_queries, policy)
      : null;
  const wm = wmSets ?? (evidence.watermark ? watermarkTest(evidence.watermark, policy) : null);
  /** The watermark p-value Fisher's combination reads (free of the effect rule when two sets were bound). */
  const wmP = wmSets ? wmSets.pAny : (wm?.p ?? 1);
  if (canary) raws.push(canary);
  // The rank test joins the family only under a policy that weighs it (lineage-policy/3).
  if (evidence.canary && policy.weights.canary_ranks !== undefined)
    raws.push(canaryRanksTest(evidence.canary, policy));
  if (wm) raws.push(wm);
  if (canary && wm) {
    raws.push(
      canary.available && wm.available
        ? {
            test: "canary_watermark",
            available: true,
            p: fisherCombine([canary.p, wmP]),
            effect: Math.max(canary.effect, wm.effect),
          }
        : {
            test: "canary_watermark",
            available: false,
            reason: "needs both the canary and the watermark test",
            p: 1,
            effect: 0,
          },
    );
  }
  // The family: the tests the bound inputs make possible and the policy weighs, ran or not.
  const family = raws.filter((r) => policy.weights[r.test] !== undefined);
  const total = family.reduce((s, r) => s + (policy.weights[r.test] ?? 0), 0);
  const tests: TestOutcome[] = family.map((r) => {
    const factor = (total / (policy.weights[r.test] ?? 1)) * comparisons;
    return {
      test: r.test,
      available: r.available,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      p_value: r.p,
      adjusted_p: r.available ? Math.min(1, r.p * factor) : 1,
      effect: r.effect,
      factor,
    };
  });
  const ranked = tests.filter((t) => t.available).sort((a, b) => a.adjusted_p - b.adjusted_p);
  const deciding = ranked.find((t) => t.adjusted_p <= policy.alpha && t.effect >= policy.min_effect);
  const best = deciding ?? ranked[0];
  const lead = evidence.lead ? rankLead(evidence.lead, policy) : null;
  let verdict: Verdict;
  let backedBy: VerdictResult["backed_by"];
  let explanation: string;
  if (deciding) {
    verdict = "LIKELY_DERIVED";
    backedBy = deciding.test;
    explanation = `LIKELY_DERIVED: the ${deciding.test.replace("_", " ")} test rejects independence at adjusted p = ${fmtP(deciding.adjusted_p)} <= alpha ${fmtP(policy.alpha)} with effect ${deciding.effect.toFixed(2)} >= ${policy.min_effect} (policy ${policy.id})`;
  } else if (lead?.is_lead) {
    verdict = "SIMILAR";
    backedBy = "similarity_lead";
    explanation = `SIMILAR (a lead, not an accusation): closer to the reference than ${lead.rank} of ${lead.null_size} unrelated pairs (rank p = ${fmtP(lead.p_value)}, estimated false-lead rate ${(lead.false_lead_rate * 100).toFixed(1)}%); no test that can accuse rejects (policy ${policy.id})`;
  } else {
    verdict = "INCONCLUSIVE";
    backedBy = null;
    const why =
      tests.length === 0
        ? "no canary commitment or watermark key was bound, so no test could accuse"
        : ranked.length === 0
          ? "no accusing test could run"
          : `the best accusing test reached adjusted p = ${fmtP(best?.adjusted_p ?? 1)} (needs <= ${fmtP(policy.alpha)} with effect >= ${policy.min_effect})`;
    const leadWhy = lead
      ? lead.is_lead
        ? ""
        : `; similarity is not a lead (closer than ${lead.rank} of ${lead.null_size} unrelated pairs)`
      : "";
    explanation = `INCONCLUSIVE: ${why}${leadWhy} (policy ${policy.id}); this is not a finding of independence`;
  }
  return {
    verdict,
    backed_by: backedBy,
    p_value: ranked[0]?.adjusted_p ?? 1,
    effect: best?.effect ?? 0,
    tests,
    lead,
    policy,
    comparisons,
    explanation,
  };
}
