/**
 * Signal 3: shared wrong answers on edge-case probes (probes with a reference answer). A model distilled
 * from another inherits its idiosyncratic mistakes; unrelated models make different ones.
 *
 * Per edge probe where the reference model is wrong, a model "coincides" when it is wrong too and gives
 * the same answer as the reference model (content tokens of the answer's first line overlap with Jaccard
 * >= 0.5). Null H0_j: on a random edge probe the suspect coincides with the reference model's wrong answer
 * no more often than panel model j does — compared per probe with the exact McNemar (sign) test on the
 * discordant probes, and the suspect must exceed every panel model (intersection-union; see
 * stats-paired.ts). This is the conservative form of "rate of coinciding wrong answers vs the panel's
 * rate": the panel's rate is not estimated and plugged in, it is paired probe by probe. Effect: the
 * smallest over panel models of the difference of coincidence rates over the probes where the reference
 * is wrong.
 */

import { pairedSignIut } from "../stats/stats-paired.js";
import { answerContentTokens, canaryHit } from "./signal-canary.js";
import type { SignalResult } from "./signal-types.js";
import { unavailableSignal } from "./signal-types.js";

/** Content tokens of a response's first line (its stated answer), at most 16. */
export function statedAnswer(response: string): Set<string> {
  const first = response.trim().split("\n")[0] ?? "";
  return new Set(answerContentTokens(first).slice(0, 16));
}

function sameAnswer(a: Set<string>, b: Set<string>): boolean {
  if (a.size === 0 || b.size === 0) return false;
  let inter = 0;
  for (const t of a) if (b.has(t)) inter++;
  return inter / (a.size + b.size - inter) >= 0.5;
}

/** One edge probe as the signal sees it: its reference answer and the models' responses (null if missing). */
export interface EdgeObservation {
  readonly reference: string;
  readonly referenceModel: string | null;
  readonly suspect: string | null;
  readonly panel: readonly (string | null)[];
}

/** Runs signal 3. Needs at least `minProbes` (default 10) edge probes where the reference model is wrong. */
export function sharedWrongSignal(
  edges: readonly EdgeObservation[],
  panelSize: number,
  minProbes = 10,
): SignalResult {
  if (panelSize === 0) return unavailableSignal("shared_wrong_answers", "no panel models to compare against");
  const suspect: (number | null)[] = [];
  const panel: (number | null)[][] = Array.from({ length: panelSize }, () => []);
  const coincides = (resp: string | null, refAns: Set<string>, truth: string): number | null => {
    if (resp === null) return null;
    if (canaryHit(truth, resp)) return 0;
    return sameAnswer(statedAnswer(resp), refAns) ? 1 : 0;
  };
  for (const e of edges) {
    if (e.referenceModel === null || canaryHit(e.reference, e.referenceModel)) continue;
    const refAns = statedAnswer(e.referenceModel);
    if (refAns.size === 0) continue;
    suspect.push(coincides(e.suspect, refAns, e.reference));
    for (let j = 0; j < panelSize; j++) panel[j]?.push(coincides(e.panel[j] ?? null, refAns, e.reference));
  }
  const r = pairedSignIut(suspect, panel);
  if (suspect.length < minProbes || r.probes < minProbes) {
    return unavailableSignal(
      "shared_wrong_answers",
      `fewer than ${minProbes} edge probes the reference gets wrong`,
    );
  }
  const rate = (xs: readonly (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length;
  };
  const sRate = rate(suspect);
  const effect = Math.min(...panel.map((p) => sRate - rate(p)));
  return {
    name: "shared_wrong_answers",
    available: true,
    statistic: sRate,
    p_value: r.p_value,
    effect,
    detail: {
      reference_wrong: suspect.length,
      suspect_coincide_rate: Number(sRate.toFixed(4)),
      discordant: r.discordant,
    },
  };
}
