/**
 * Anytime-valid sequential tests (test martingales / e-processes; Shafer & Vovk, "Game-Theoretic
 * Foundations for Probability and Finance", 2019; Ramdas et al., "Game-theoretic statistics and safe
 * anytime-valid inference", 2023). Under the null each process is a nonnegative martingale with initial
 * value 1, so by Ville's inequality P(sup_t M_t >= 1/alpha) <= alpha: the engine may look after every
 * query and stop as soon as the evidence is settled without inflating the error rate. The anytime p-value
 * is min(1, 1 / sup_t M_t).
 *
 * Each process is a uniform mixture over a grid of betting fractions (a mixture of martingales is a
 * martingale), which adapts to unknown effect sizes without a tuning parameter.
 */
import { FingerprintError } from "../fingerprint-error.js";

const LAMBDAS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

abstract class MixtureMartingale {
  /** log of each component's wealth. */
  protected readonly logW = new Float64Array(LAMBDAS.length);
  private supLog = 0;
  private steps = 0;

  /** Multiplies every component by its payoff for an outcome whose null probability of "success" is q. */
  protected bet(success: boolean, q: number): void {
    for (let i = 0; i < LAMBDAS.length; i++) {
      const lambda = LAMBDAS[i] ?? 0;
      // E_H0[multiplier] = q * (1 + lambda (1/q - 1)) + (1 - q)(1 - lambda) = 1.
      const mult = success ? 1 + lambda * (1 / q - 1) : 1 - lambda;
      this.logW[i] = (this.logW[i] ?? 0) + Math.log(mult);
    }
    this.steps++;
    this.supLog = Math.max(this.supLog, this.logValue());
  }

  /** ln M_t, the current wealth of the mixture. */
  logValue(): number {
    let m = Number.NEGATIVE_INFINITY;
    for (const v of this.logW) m = Math.max(m, v);
    let s = 0;
    for (const v of this.logW) s += Math.exp(v - m);
    return m + Math.log(s / LAMBDAS.length);
  }

  /** Anytime-valid p-value: min(1, 1 / sup_t M_t). */
  pValue(): number {
    return Math.min(1, Math.exp(-this.supLog));
  }

  /** Bets placed so far. */
  get bets(): number {
    return this.steps;
  }

  /**
   * Whether the process can still reach 1/alpha within `remaining` further bets, assuming each were won
   * at the most favourable odds `bestMultiplier`; used for futility stopping (always valid: stopping
   * early can only lose power, never inflate the error rate).
   */
  canReach(alpha: number, remaining: number, bestMultiplier: number): boolean {
    let best = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < LAMBDAS.length; i++) {
      const lambda = LAMBDAS[i] ?? 0;
      best = Math.max(best, (this.logW[i] ?? 0) + remaining * Math.log(1 + lambda * (bestMultiplier - 1)));
    }
    return best - Math.log(LAMBDAS.length) >= -Math.log(alpha) || this.supLog >= -Math.log(alpha);
  }
}

/**
 * Sequential sign test. Null: each non-tied outcome is a "win" with probability at most 1/2, given the
 * past (e.g. "the suspect is no closer to the reference than this panel model is", one probe at a time).
 */
export class SignTestMartingale extends MixtureMartingale {
  /** Records one paired comparison: > 0 a win, < 0 a loss, 0 a tie (ties are not bet on). */
  observe(difference: number): void {
    if (Number.isNaN(difference)) throw new FingerprintError("INVALID_ARGUMENT", "difference is NaN");
    if (difference === 0) return;
    this.bet(difference > 0, 0.5);
  }

  /** See MixtureMartingale.canReach; a won bet doubles at most. */
  canStillReject(alpha: number, remaining: number): boolean {
    return this.canReach(alpha, remaining, 2);
  }
}
