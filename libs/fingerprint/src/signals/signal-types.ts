/**
 * The common shape of every signal result, so the decision policy and reports treat them alike.
 */

/**
 * Names of the signals of the engine: the five of issue 3, plus `canary_watermark`, Fisher's combination
 * of the canary and watermark tests (independent under the null; see compare.ts).
 */
export type SignalName =
  | "canary_reproduction"
  | "canary_watermark"
  | "output_similarity"
  | "shared_wrong_answers"
  | "token_distribution"
  | "watermark";

/**
 * One signal's outcome. `effect` is a difference of rates in [-1, 1] (signal-specific, documented on
 * each signal) so that one minimum effect size applies to all; `p_value` is valid against the null stated
 * in the signal's documentation. Unavailable signals carry `reason` and p_value 1; they are left out of
 * the decision.
 */
export interface SignalResult {
  readonly name: SignalName;
  readonly available: boolean;
  readonly statistic: number;
  readonly p_value: number;
  readonly effect: number;
  /** Why the signal is unavailable, when it is. */
  readonly reason?: string;
  /** Signal-specific counts for the report; never raw text. */
  readonly detail: Readonly<Record<string, number | string | boolean>>;
}

/** The result of a signal that cannot run on this input. */
export function unavailableSignal(name: SignalName, reason: string): SignalResult {
  return { name, available: false, statistic: 0, p_value: 1, effect: 0, reason, detail: {} };
}
