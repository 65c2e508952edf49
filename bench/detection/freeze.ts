/**
 * Freezing the decision policy on the calibration split (issue 3: "thresholds frozen on a separate
 * calibration population before the test population is scored"). The level alpha is fixed in advance
 * (default 1e-6); what calibration may move is the minimum effect size: the smallest value on a fixed grid,
 * at or above the engine's default, at which the engine decides no calibration null LIKELY_DERIVED — so the frozen policy
 * makes zero false accusations on calibration by construction, and the test split measures whether that
 * holds out of sample. The calibration positives are reported next to it (the power the choice costs).
 */

/** What calibration sees of one comparison: its truth and the engine's decision at a given floor. */
export interface CalibrationPoint {
  readonly derived: boolean;
  /** Whether the engine's policy decides LIKELY_DERIVED at level alpha with this minimum effect. */
  readonly decidedAt: (minEffect: number) => boolean;
}

/** The frozen policy and why. */
export interface FrozenPolicy {
  readonly alpha: number;
  readonly minEffect: number;
  /** Calibration nulls decided LIKELY_DERIVED at the engine's default floor. */
  readonly calibrationNullsAccusedAtDefault: number;
  /** Calibration positives decided LIKELY_DERIVED under the frozen policy, and their count. */
  readonly calibrationDetected: number;
  readonly calibrationPositives: number;
  readonly rule: string;
}

/** The grid minimum effects are chosen from (effects are differences of rates in [-1, 1]). */
export const MIN_EFFECT_GRID: readonly number[] = [
  0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1,
];

/** Picks the minimum effect on the calibration split; see the module comment. */
export function freezePolicy(
  points: readonly CalibrationPoint[],
  alpha: number,
  defaultMinEffect: number,
  grid: readonly number[] = MIN_EFFECT_GRID,
): FrozenPolicy {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError("alpha must be in (0, 1)");
  if (!(defaultMinEffect >= 0 && defaultMinEffect <= 1))
    throw new RangeError("defaultMinEffect must be in [0, 1]");
  const nulls = points.filter((p) => !p.derived);
  const candidates = [...new Set([defaultMinEffect, ...grid])]
    .sort((a, b) => a - b)
    .filter((g) => g >= defaultMinEffect - 1e-12);
  const minEffect = candidates.find((g) => nulls.every((p) => !p.decidedAt(g))) ?? Number.POSITIVE_INFINITY;
  const positives = points.filter((p) => p.derived);
  return {
    alpha,
    minEffect,
    calibrationNullsAccusedAtDefault: nulls.filter((p) => p.decidedAt(defaultMinEffect)).length,
    calibrationDetected: Number.isFinite(minEffect)
      ? positives.filter((p) => p.decidedAt(minEffect)).length
      : 0,
    calibrationPositives: positives.length,
    rule:
      "alpha fixed in advance; minEffect = the smallest of {engine default} ∪ grid, at or above the " +
      "default, at which no calibration null is decided LIKELY_DERIVED",
  };
}
