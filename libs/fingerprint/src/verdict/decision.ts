/**
 * The decision policy: turns signal p-values into LIKELY_DERIVED or INCONCLUSIVE (never "clean": absence
 * of evidence is not evidence of independence).
 *
 * Combination: (weighted) Bonferroni over a family of signals fixed before any answer is seen (valid under
 * any dependence between them: they are computed on the same responses), times the number of (member,
 * model) hypotheses compared in the session. With weights w_s over the family (sum W), signal s is
 * adjusted to p_s * W / w_s, so the family-wise error stays at most alpha whatever the dependence; equal
 * weights give plain Bonferroni. The family must not depend on the answers: compare() uses the signals
 * the comparison's inputs make possible (a canary test only with a canary set, the watermark test only
 * with a key), counted whether or not they turn out available. LIKELY_DERIVED requires a signal whose adjusted p-value is at most `alpha` (default 1e-6) AND
 * whose effect size is at least `min_effect` (default 0.1): a tiny p-value on a negligible effect (which
 * large batteries can produce) is not enough to accuse.
 */
import { FingerprintError } from "../fingerprint-error.js";
import type { SignalName, SignalResult } from "../signals/signal-types.js";
import { holm } from "../stats/stats-multiple.js";

/** The two outcomes; a comparison never concludes CLEAN. */
export type Decision = "LIKELY_DERIVED" | "INCONCLUSIVE";

/** Decision policy. `comparisons` = number of (member, model) hypotheses tested together (>= 1). */
export interface DecisionPolicy {
  readonly alpha: number;
  readonly min_effect: number;
  readonly comparisons: number;
}

/** Default policy: alpha 1e-6, min effect 0.1, one comparison. */
export const DEFAULT_POLICY: DecisionPolicy = { alpha: 1e-6, min_effect: 0.1, comparisons: 1 };

/** The policy as reported with a result. */
export interface PolicyReport {
  readonly alpha: number;
  readonly min_effect: number;
  readonly corrections: {
    /** Effective Bonferroni factor of the deciding (or best) signal: W / w_s (the family size when equal). */
    readonly signals: number;
    readonly comparisons: number;
    readonly method: "bonferroni" | "weighted_bonferroni";
    /** The family's weights, when weighted. */
    readonly weights?: Readonly<Partial<Record<SignalName, number>>>;
  };
}

/** Weights of a signal family fixed in advance (signals absent from the map are not in the family). */
export type SignalWeights = Readonly<Partial<Record<SignalName, number>>>;

/**
 * The engine's default weights, fixed before the benchmark's test split was scored (chosen on the
 * calibration split): the canary test is exact and carries most of the power on copies, so it gets more
 * of alpha than the panel-relative signals; the canary x watermark combination (members that watermark)
 * finds ensemble members whose canaries alone are too few.
 */
export const DEFAULT_SIGNAL_WEIGHTS: Readonly<Record<SignalName, number>> = {
  canary_reproduction: 4,
  canary_watermark: 2,
  watermark: 1,
  output_similarity: 1,
  shared_wrong_answers: 1,
  token_distribution: 1,
};

/**
 * The family compare() corrects for, from what its inputs make possible (never from answers): every
 * panel-relative signal, the canary test when a canary set is given, the watermark when a key is given,
 * their combination when both are.
 */
export function signalFamily(
  options: { readonly canaries: boolean; readonly watermark: boolean },
  weights: SignalWeights = DEFAULT_SIGNAL_WEIGHTS,
): SignalWeights {
  const out: Partial<Record<SignalName, number>> = {};
  for (const [name, w] of Object.entries(weights) as [SignalName, number][]) {
    if (name === "canary_reproduction" && !options.canaries) continue;
    if (name === "watermark" && !options.watermark) continue;
    if (name === "canary_watermark" && !(options.canaries && options.watermark)) continue;
    out[name] = w;
  }
  return out;
}

function checkWeights(weights: SignalWeights): number {
  let total = 0;
  for (const [name, w] of Object.entries(weights)) {
    if (!(typeof w === "number" && Number.isFinite(w) && w > 0 && w <= 1e6)) {
      throw new FingerprintError("INVALID_ARGUMENT", `weight of ${name} must be a positive finite number`);
    }
    total += w;
  }
  if (total === 0) throw new FingerprintError("INVALID_ARGUMENT", "the signal family is empty");
  return total;
}

/** Outcome of the policy on one suspect/model pair. */
export interface DecisionResult {
  readonly decision: Decision;
  /** Adjusted combined p-value: min over available signals of min(1, p * signals * comparisons). */
  readonly p_value: number;
  /** Effect of the signal with the smallest adjusted p-value among those meeting min_effect (else overall). */
  readonly effect_size: number;
  readonly deciding_signal: string | null;
  readonly policy: PolicyReport;
}

/** Validates a policy (untrusted when it comes from a CLI flag or a request). */
export function checkPolicy(policy: DecisionPolicy): DecisionPolicy {
  if (!(policy.alpha > 0 && policy.alpha < 1))
    throw new FingerprintError("INVALID_ARGUMENT", "alpha must be in (0, 1)");
  if (!(policy.min_effect >= 0 && policy.min_effect <= 1)) {
    throw new FingerprintError("INVALID_ARGUMENT", "min_effect must be in [0, 1]");
  }
  if (!Number.isInteger(policy.comparisons) || policy.comparisons < 1) {
    throw new FingerprintError("INVALID_ARGUMENT", "comparisons must be a positive integer");
  }
  return policy;
}

/**
 * Applies the policy to a set of signal results (unavailable signals are left out). `family` is either the
 * number of signals corrected for with equal weights (default: the available ones), or the weights of a
 * family fixed in advance (see signalFamily); a signal outside a weighted family is never used. Pass a
 * fixed family when which signals are available could depend on the data.
 */
export function decide(
  signals: readonly SignalResult[],
  policy: DecisionPolicy = DEFAULT_POLICY,
  family?: number | SignalWeights,
): DecisionResult {
  checkPolicy(policy);
  const weighted = typeof family === "object" ? family : null;
  const total = weighted ? checkWeights(weighted) : 0;
  const avail = signals.filter((s) => s.available && (!weighted || weighted[s.name] !== undefined));
  const k = weighted ? 0 : Math.max(1, (family as number | undefined) ?? avail.length, avail.length);
  const factor = (s: SignalResult) => (weighted ? total / (weighted[s.name] ?? 0) : k);
  const report = (f: number): PolicyReport => ({
    alpha: policy.alpha,
    min_effect: policy.min_effect,
    corrections: weighted
      ? { signals: f, comparisons: policy.comparisons, method: "weighted_bonferroni", weights: weighted }
      : { signals: k, comparisons: policy.comparisons, method: "bonferroni" },
  });
  if (avail.length === 0) {
    return {
      decision: "INCONCLUSIVE",
      p_value: 1,
      effect_size: 0,
      deciding_signal: null,
      policy: report(weighted ? total / Math.max(...Object.values(weighted)) : k),
    };
  }
  const adj = avail.map((s) => ({ s, p: Math.min(1, s.p_value * factor(s) * policy.comparisons) }));
  adj.sort((a, b) => a.p - b.p);
  const bestOverall = adj[0];
  const qualifying = adj.find((a) => a.s.effect >= policy.min_effect);
  const chosen = qualifying && qualifying.p <= policy.alpha ? qualifying : bestOverall;
  const derived = chosen !== undefined && chosen.p <= policy.alpha && chosen.s.effect >= policy.min_effect;
  return {
    decision: derived ? "LIKELY_DERIVED" : "INCONCLUSIVE",
    p_value: bestOverall?.p ?? 1,
    effect_size: chosen?.s.effect ?? 0,
    deciding_signal: derived ? (chosen?.s.name ?? null) : null,
    policy: report(chosen ? factor(chosen.s) : k),
  };
}

/** One member's evidence against a suspect, for ensemble attribution. */
export interface MemberEvidence {
  readonly memberId: string;
  readonly signals: readonly SignalResult[];
  /**
   * The signal family of this member's comparison (CompareResult.family), fixed by its inputs; without
   * it, equal-weight Bonferroni over the available signals.
   */
  readonly family?: SignalWeights;
}

/** Per-member outcome of attribution. */
export interface MemberAttribution {
  readonly memberId: string;
  readonly decision: Decision;
  /** Holm-adjusted across members (and `policy.comparisons` further hypotheses). */
  readonly p_value: number;
  readonly effect_size: number;
}

/**
 * Attribution for ensembles: which members' models are inside the suspect. Each member's evidence is
 * reduced to a (weighted) Bonferroni p-value over its signal family (with its qualifying effect), then
 * Holm's step-down
 * across members controls the family-wise error over all members at `alpha`, so several members can be
 * named at once (a shared violation) without inflating false attributions.
 */
export function attribute(
  members: readonly MemberEvidence[],
  policy: DecisionPolicy = DEFAULT_POLICY,
): MemberAttribution[] {
  checkPolicy(policy);
  const per = members.map((m) => {
    const fam = m.family;
    const total = fam ? checkWeights(fam) : 0;
    const k = Math.max(1, m.signals.filter((s) => s.available).length);
    let best: { p: number; effect: number } | null = null;
    for (const s of m.signals) {
      if (!s.available || s.effect < policy.min_effect) continue;
      const w = fam ? fam[s.name] : 1;
      if (w === undefined) continue;
      const p = Math.min(1, s.p_value * (fam ? total / w : k));
      if (best === null || p < best.p) best = { p, effect: s.effect };
    }
    return { memberId: m.memberId, p: best?.p ?? 1, effect: best?.effect ?? 0 };
  });
  const m = Math.max(members.length, 1) * policy.comparisons;
  const adjusted = holm(
    per.map((x) => x.p),
    m,
  );
  return per.map((x, i) => {
    const p = adjusted[i] ?? 1;
    return {
      memberId: x.memberId,
      decision: p <= policy.alpha && x.effect >= policy.min_effect ? "LIKELY_DERIVED" : "INCONCLUSIVE",
      p_value: p,
      effect_size: x.effect,
    };
  });
}
