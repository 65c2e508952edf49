/**
 * The paired comparison every panel-relative signal shares: per probe, a score for the suspect and one per
 * panel model; H0_j says the suspect outscores panel model j on a random probe with probability at most
 * 1/2 (ties dropped). Probes are drawn independently from the battery's prompt distribution and the models
 * are fixed, so the exact sign test (or its anytime-valid martingale form) is valid for each j, and
 * requiring the suspect to beat every panel model makes the overall p-value the maximum over j (an
 * intersection-union test: no correction needed).
 */
import { binomialUpperTail } from "./stats-exact.js";
import { SignTestMartingale } from "./stats-sequential.js";

/** Scores per probe; null where a model did not answer. */
export type ProbeScores = readonly (number | null)[];

/** Outcome of the intersection-union sign test. */
export interface PairedResult {
  readonly p_value: number;
  /** Smallest over panel models of (wins - losses) / (wins + losses). */
  readonly effect: number;
  /** Index of the panel model that came closest to the suspect (the one setting the effect). */
  readonly closest: number;
  /** Fewest probes scored for both the suspect and a panel model. */
  readonly probes: number;
  /** Fewest discordant (non-tied) probes against a panel model. */
  readonly discordant: number;
}

/** Runs the test; `sequential` uses the anytime-valid martingale p-value instead of the exact tail. */
export function pairedSignIut(
  suspect: ProbeScores,
  panel: readonly ProbeScores[],
  sequential = false,
): PairedResult {
  let p = 0;
  let effect = Number.POSITIVE_INFINITY;
  let closest = -1;
  let probes = Number.POSITIVE_INFINITY;
  let discordant = Number.POSITIVE_INFINITY;
  panel.forEach((rows, j) => {
    let wins = 0;
    let losses = 0;
    let n = 0;
    const mart = sequential ? new SignTestMartingale() : null;
    for (let i = 0; i < suspect.length; i++) {
      const s = suspect[i];
      const q = rows[i];
      if (s === null || s === undefined || q === null || q === undefined) continue;
      n++;
      const d = s - q;
      if (Math.abs(d) < 1e-12) continue;
      if (d > 0) wins++;
      else losses++;
      mart?.observe(d);
    }
    const pj = mart ? mart.pValue() : binomialUpperTail(wins, wins + losses, 0.5);
    const e = wins + losses === 0 ? 0 : (wins - losses) / (wins + losses);
    p = Math.max(p, pj);
    if (e < effect) {
      effect = e;
      closest = j;
    }
    probes = Math.min(probes, n);
    discordant = Math.min(discordant, wins + losses);
  });
  if (panel.length === 0) return { p_value: 1, effect: 0, closest: -1, probes: 0, discordant: 0 };
  return { p_value: p, effect, closest, probes, discordant };
}
