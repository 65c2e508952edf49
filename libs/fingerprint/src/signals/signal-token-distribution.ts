/**
 * Signal 4: token-distribution similarity where log-probabilities are served. Positions compared on a
 * completion probe are those with the same context for every model: the first generated position (the
 * context is the prompt) and, when the endpoints scored the prompt (echo), every prompt position that the
 * reference, the suspect and every panel model scored, at the same character offset with the same token —
 * so one query yields as many comparable distributions as the prompt has tokens, and models with different
 * tokenizers are compared where their tokens line up. Similarity at a position = overlap mass
 * sum_t min(p_a(t), p_b(t)) over tokens in both top-k lists (a lower bound on 1 - total variation); a
 * probe's score is the mean over its positions. The positions are chosen from the token strings only, the
 * same for the suspect and each panel model, never from the probabilities. Null and test as in
 * stats-paired.ts: the suspect's score must exceed every panel model's, probe by probe. Effect: the
 * smallest over panel models of (wins - losses) / (wins + losses).
 *
 * Prompt positions are OFF by default (`promptPositions: true` turns them on). Measured on the testbed
 * (bench:detection, test split, 881 null comparisons): with them the panel-relative null failed — an
 * unrelated model that is systematically a little closer to the reference than every panel model reaches
 * p = 4.5e-9 once the noise of one position per probe is averaged away — while no copy was found by this
 * signal that the canary test had not found. The panel-relative null is only as good as the panel; with
 * one position per probe the signal stayed calibrated (0 false accusations, 1,080 nulls).
 */
import type { ModelResponse } from "../probe/probe-types.js";
import { pairedSignIut } from "../stats/stats-paired.js";
import type { SignalResult } from "./signal-types.js";
import { unavailableSignal } from "./signal-types.js";

type Dist = Map<string, number>;

function toDist(top: readonly { token: string; logprob: number }[] | undefined): Dist | null {
  if (!top || top.length === 0) return null;
  const m: Dist = new Map();
  for (const t of top) {
    const k = t.token.trim().toLowerCase();
    m.set(k, (m.get(k) ?? 0) + Math.exp(t.logprob));
  }
  return m;
}

/** Scored prompt positions by offset (position 0 of a prompt has no context and is never scored). */
function promptPositions(r: ModelResponse | null | undefined): Map<number, { token: string; dist: Dist }> {
  const out = new Map<number, { token: string; dist: Dist }>();
  for (const t of r?.promptTokens ?? []) {
    const dist = toDist(t.top);
    if (dist && t.offset !== undefined) out.set(t.offset, { token: t.token, dist });
  }
  return out;
}

/**
 * The comparable positions of one probe: the first generated position (when the reference served it) and
 * the prompt positions every model scored with the same token at the same offset.
 */
function comparablePositions(
  o: CompletionObservation,
  withPrompt: boolean,
): {
  ref: Dist[];
  of: (r: ModelResponse | null) => (Dist | null)[];
} | null {
  const first = toDist(o.referenceModel?.tokens?.[0]?.top);
  const refPrompt = withPrompt
    ? promptPositions(o.referenceModel)
    : new Map<number, { token: string; dist: Dist }>();
  const others = [o.suspect, ...o.panel].map(promptPositions);
  const offsets = [...refPrompt.keys()]
    .filter((off) => others.every((m) => m.get(off)?.token === refPrompt.get(off)?.token))
    .sort((a, b) => a - b);
  const ref = [...(first ? [first] : []), ...offsets.map((off) => refPrompt.get(off)?.dist as Dist)];
  if (ref.length === 0) return null;
  return {
    ref,
    of: (r) => {
      const pp = promptPositions(r);
      return [
        ...(first ? [toDist(r?.tokens?.[0]?.top)] : []),
        ...offsets.map((off) => pp.get(off)?.dist ?? null),
      ];
    },
  };
}

/** Mean overlap with the reference over the comparable positions; null when the model served none. */
function score(ref: readonly Dist[], mine: readonly (Dist | null)[]): number | null {
  let sum = 0;
  let n = 0;
  for (const [i, d] of mine.entries()) {
    const r = ref[i];
    if (!d || !r) continue;
    sum += topOverlap(d, r);
    n++;
  }
  // A model missing positions the others served would be scored on other positions: not comparable.
  return n === 0 || n < ref.length ? null : sum / n;
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
  options: { minProbes?: number; sequential?: boolean; promptPositions?: boolean } = {},
): SignalResult {
  const minProbes = options.minProbes ?? 10;
  if (panelSize === 0) return unavailableSignal("token_distribution", "no panel models to compare against");
  const suspect: (number | null)[] = [];
  const panel: (number | null)[][] = Array.from({ length: panelSize }, () => []);
  let positions = 0;
  for (const o of probes) {
    const c = comparablePositions(o, options.promptPositions === true);
    if (!c) continue;
    positions += c.ref.length;
    suspect.push(score(c.ref, c.of(o.suspect)));
    for (let j = 0; j < panelSize; j++) panel[j]?.push(score(c.ref, c.of(o.panel[j] ?? null)));
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
    detail: {
      probes: r.probes,
      positions,
      discordant: r.discordant,
      sequential: options.sequential === true,
    },
  };
}
