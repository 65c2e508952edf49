/**
 * Signal 4: token-distribution similarity where log-probabilities are served. On a completion probe the
 * first generated position has the same context (the prompt) for every model, so the top-k next-token
 * distributions are directly comparable. Similarity = overlap mass sum_t min(p_a(t), p_b(t)) over tokens
 * in both top-k lists (a lower bound on 1 - total variation). Null and test as in stats-paired.ts: the
 * suspect's overlap with the reference must exceed every panel model's, probe by probe. Effect: the
 * smallest over panel models of (wins - losses) / (wins + losses).
 */
import type { ModelResponse } from "./probe-types.js";
import type { SignalResult } from "./signal-types.js";
import { unavailableSignal } from "./signal-types.js";
import { pairedSignIut } from "./stats-paired.js";

function firstTop(r: ModelResponse | null | undefined): Map<string, number> | null {
  const top = r?.tokens?.[0]?.top;
  if (!top || top.length === 0) return null;
  const m = new Map<string, number>();
  for (const t of top)
    m.set(t.token.trim().toLowerCase(), (m.get(t.token.trim().toLowerCase()) ?? 0) + Math.exp(t.logprob));
  return m;
}

/** Overlap mass of two top-k distributions (see the module comment). */
export function topOverlap(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  let s = 0;
  for (const [t, p] of a) {
    const q = b.get(t);
    if (q !== undefined) s += Math.min(p, q);
  }
  return Math.min(1, s);
}

/** One completion probe: the responses of the reference, suspect and panel models (null if missing). */
export interface CompletionObservation {
  readonly referenceModel: ModelResponse | null;
  readonly suspect: ModelResponse | null;
  readonly panel: readonly (ModelResponse | null)[];
}

/** Runs signal 4; unavailable unless the suspect and reference served top log-probabilities. */
export function tokenDistributionSignal(
  probes: readonly CompletionObservation[],
  panelSize: number,
  options: { minProbes?: number; sequential?: boolean } = {},
): SignalResult {
  const minProbes = options.minProbes ?? 10;
  if (panelSize === 0) return unavailableSignal("token_distribution", "no panel models to compare against");
  const suspect: (number | null)[] = [];
  const panel: (number | null)[][] = Array.from({ length: panelSize }, () => []);
  for (const o of probes) {
    const ref = firstTop(o.referenceModel);
    if (!ref) continue;
    const s = firstTop(o.suspect);
    suspect.push(s ? topOverlap(s, ref) : null);
    for (let j = 0; j < panelSize; j++) {
      const p = firstTop(o.panel[j]);
      panel[j]?.push(p ? topOverlap(p, ref) : null);
    }
  }
  const r = pairedSignIut(suspect, panel, options.sequential ?? false);
  if (r.probes < minProbes) {
    return unavailableSignal(
      "token_distribution",
      `log-probabilities served on fewer than ${minProbes} completion probes by the suspect, reference and panel`,
    );
  }
  return {
    name: "token_distribution",
    available: true,
    statistic: r.effect,
    p_value: r.p_value,
    effect: r.effect,
    detail: { probes: r.probes, discordant: r.discordant, sequential: options.sequential === true },
  };
}
