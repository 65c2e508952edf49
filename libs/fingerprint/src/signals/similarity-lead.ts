/**
 * The similarity lead: output similarity, token distributions and shared wrong answers ranked at the MODEL
 * level against known-unrelated model pairs (DESIGN.md "Deciding copied: who chose the null?"). Similarity
 * never accuses; it yields `LeadEvidence` for `rankLead` (verdict/verdict.ts).
 *
 * Why model level. A probe-level sign test ("closer to the reference than each panel model, probe by
 * probe") treats probes as the unit of replication; any steady advantage (shared base, same vendor, public
 * data, a style trend) then reaches any p-value it likes as probes grow. The unit of replication of "is this
 * model derived from that one" is the model pair, so the statistic of (suspect, reference) is ranked among
 * the same statistic over N pairs known to be unrelated, and its p-value is never below 1 / (N + 1).
 *
 * The reference population. Models: the reference R and the panel P_1..P_k (known unrelated to R and to
 * each other, as far as the hub's population says). Null pairs, every one available: (P_i, R) and the
 * ordered (P_i, P_j), i != j — N = k^2. Ordered, because every statistic here is directional (the first
 * model plays the suspect, the second the reference, exactly as for (suspect, R)).
 *
 * The statistic of a pair (a, b), per component. For each probe i counted, a per-probe similarity
 * s(a, b, i) in [0, 1] and a baseline: the mean of s(c, b, i) over the population models c other than a
 * and b (leave the pair out; the suspect is never in anyone's baseline, so no null score depends on the
 * suspect). The pair's statistic is the mean over probes of s(a, b, i) - baseline(b, i): how much closer a
 * is to b than the population is, on the same prompts. A difference of similarities, so in [-1, 1].
 * Components (SignalName):
 *   output_similarity     text probes (kinds open and edge): featureSimilarity's blend
 *   token_distribution    completion probes where every model served top log-probabilities: the overlap
 *                         mass of the first generated position's top-k distributions
 *   shared_wrong_answers  edge probes where b is wrong: 1 when a is wrong with b's stated answer
 * Each component's own model-level rank p-value is its SignalResult's p_value (a description, not a test
 * to combine: the lead is the combined score below).
 *
 * The lead score: each component's statistic standardised by the null pairs' mean and standard deviation
 * (computed from the null pairs only), averaged over the components that ran with fixed weights; the
 * suspect's score is ranked against the null pairs' scores computed the same way.
 *
 * Counted probes: only probes every model (suspect, reference, every panel model) answered; a response
 * `undefined` is unanswered.
 */

import { FingerprintError } from "../fingerprint-error.js";
import type { ModelResponse, Probe } from "../probe/probe-types.js";
import type { LeadEvidence } from "../verdict/verdict.js";
import { canaryHit } from "./signal-canary.js";
import { featureSimilarity, type ResponseFeatures, responseFeatures } from "./signal-output-similarity.js";
import { statedAnswer } from "./signal-shared-wrong.js";
import { topOverlap } from "./signal-token-distribution.js";
import type { SignalName, SignalResult } from "./signal-types.js";
import { unavailableSignal } from "./signal-types.js";

/** What the lead is computed from: responses aligned with `probes` (undefined = not answered). */
export interface SimilarityLeadInput {
  readonly probes: readonly Probe[];
  readonly suspect: readonly (ModelResponse | undefined)[];
  readonly reference: readonly (ModelResponse | undefined)[];
  /** Known-unrelated models (the reference population), each aligned with `probes`. */
  readonly panel: readonly (readonly (ModelResponse | undefined)[])[];
}

/** The lead and its component signals. */
export interface SimilarityLead {
  /** Null when it cannot run (`reason` says why). */
  readonly evidence: LeadEvidence | null;
  /** The component signals, each with its model-level rank p-value. */
  readonly signals: readonly SignalResult[];
  readonly reason?: string;
}

/** Bounds on the input (the panel and probes may come from a request). */
export const MAX_LEAD_PANEL = 64;
export const MAX_LEAD_PROBES = 20_000;
/** Least probes a component needs (per reference) to run. */
export const MIN_LEAD_PROBES: Readonly<Record<LeadComponent, number>> = Object.freeze({
  output_similarity: 20,
  token_distribution: 10,
  shared_wrong_answers: 10,
});
/** Least panel models: N = k^2 null pairs, so 2 models give 4 pairs (too few for any policy lead). */
export const MIN_LEAD_PANEL = 2;

/** The similarity components of the lead. */
export type LeadComponent = Extract<
  SignalName,
  "output_similarity" | "token_distribution" | "shared_wrong_answers"
>;
export const LEAD_COMPONENTS: readonly LeadComponent[] = Object.freeze([
  "output_similarity",
  "token_distribution",
  "shared_wrong_answers",
]);
/** Fixed weights of the components in the lead score. */
export const LEAD_WEIGHTS: Readonly<Record<LeadComponent, number>> = Object.freeze({
  output_similarity: 1,
  token_distribution: 1,
  shared_wrong_answers: 1,
});

const FEATURES = new WeakMap<ModelResponse, ResponseFeatures>();
function features(r: ModelResponse): ResponseFeatures {
  let f = FEATURES.get(r);
  if (!f) {
    f = responseFeatures(r.text);
    FEATURES.set(r, f);
  }
  return f;
}

/**
 * Per-probe similarity of a (as suspect) to b (as reference) for a component; null when the probe does not
 * count for this reference (e.g. b answered an edge probe correctly). Must not look at any other model.
 */
type ProbeSim = (a: ModelResponse, b: ModelResponse, probe: Probe) => number | null;

const BLEND = 4;
const SIMS: Readonly<
  Record<LeadComponent, { readonly applies: (p: Probe) => boolean; readonly sim: ProbeSim }>
> = {
  output_similarity: {
    applies: (p) => p.kind !== "completion",
    sim: (a, b) => featureSimilarity(features(a), features(b))[BLEND] ?? 0,
  },
  token_distribution: {
    applies: (p) => p.kind === "completion",
    sim: (a, b) => {
      const da = dist(a.tokens?.[0]?.top);
      const db = dist(b.tokens?.[0]?.top);
      return da && db ? topOverlap(da, db) : null;
    },
  },
  shared_wrong_answers: {
    applies: (p) => p.kind === "edge" && p.reference !== undefined,
    sim: (a, b, p) => {
      const truth = p.reference ?? "";
      if (canaryHit(truth, b.text)) return null;
      const bAns = statedAnswer(b.text);
      if (bAns.size === 0) return null;
      if (canaryHit(truth, a.text)) return 0;
      return jaccardAtLeastHalf(statedAnswer(a.text), bAns) ? 1 : 0;
    },
  },
};

function dist(top: readonly { token: string; logprob: number }[] | undefined): Map<string, number> | null {
  if (!top || top.length === 0) return null;
  const m = new Map<string, number>();
  for (const t of top) {
    const k = t.token.trim().toLowerCase();
    m.set(k, (m.get(k) ?? 0) + Math.exp(t.logprob));
  }
  return m;
}

function jaccardAtLeastHalf(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size === 0 || b.size === 0) return false;
  let inter = 0;
  for (const t of a) if (b.has(t)) inter++;
  return inter / (a.size + b.size - inter) >= 0.5;
}

function check(input: SimilarityLeadInput): void {
  const n = input.probes.length;
  if (n > MAX_LEAD_PROBES)
    throw new FingerprintError("INVALID_ARGUMENT", `more than ${MAX_LEAD_PROBES} probes`);
  if (input.panel.length > MAX_LEAD_PANEL) {
    throw new FingerprintError("INVALID_ARGUMENT", `panel has more than ${MAX_LEAD_PANEL} models`);
  }
  const same = (name: string, xs: readonly unknown[]) => {
    if (xs.length !== n) {
      throw new FingerprintError(
        "INVALID_ARGUMENT",
        `${name} has ${xs.length} responses for ${n} probes (they must be aligned with the probes)`,
      );
    }
  };
  same("suspect", input.suspect);
  same("reference", input.reference);
  for (const [j, p] of input.panel.entries()) same(`panel[${j}]`, p);
}

interface PairStat {
  readonly value: number;
  readonly probes: number;
}

/** Index 0 = reference, 1..k = panel, k + 1 = suspect. */
function componentStats(
  component: LeadComponent,
  probes: readonly Probe[],
  models: readonly (readonly (ModelResponse | undefined)[])[],
  counted: readonly boolean[],
): { suspect: PairStat | null; nulls: (PairStat | null)[] } {
  const { applies, sim } = SIMS[component];
  const k = models.length - 2;
  const suspectIdx = k + 1;
  const idx = probes.map((p, i) => (counted[i] && applies(p) ? i : -1)).filter((i) => i >= 0);
  // s[b][a][t]: similarity of model a to reference b on probe idx[t] (b ranges over R and the panel).
  const s: (number | null)[][][] = [];
  for (let b = 0; b <= k; b++) {
    const rows: (number | null)[][] = [];
    for (let a = 0; a < models.length; a++) {
      rows.push(
        a === b
          ? []
          : idx.map((i) => {
              const ra = models[a]?.[i];
              const rb = models[b]?.[i];
              return ra && rb ? sim(ra, rb, probes[i] as Probe) : null;
            }),
      );
    }
    s.push(rows);
  }
  const stat = (a: number, b: number): PairStat | null => {
    const base = [];
    for (let c = 0; c <= k; c++) if (c !== a && c !== b) base.push(c);
    if (base.length === 0) return null;
    let sum = 0;
    let used = 0;
    for (let t = 0; t < idx.length; t++) {
      const x = s[b]?.[a]?.[t];
      if (x === null || x === undefined) continue;
      let bs = 0;
      let bn = 0;
      for (const c of base) {
        const y = s[b]?.[c]?.[t];
        if (y !== null && y !== undefined) {
          bs += y;
          bn++;
        }
      }
      if (bn === 0) continue;
      sum += x - bs / bn;
      used++;
    }
    return used < MIN_LEAD_PROBES[component] ? null : { value: sum / used, probes: used };
  };
  const nulls: (PairStat | null)[] = [];
  for (let i = 1; i <= k; i++) nulls.push(stat(i, 0));
  for (let i = 1; i <= k; i++) for (let j = 1; j <= k; j++) if (i !== j) nulls.push(stat(i, j));
  return { suspect: stat(suspectIdx, 0), nulls };
}

function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1);
  return { mean, sd: Math.sqrt(v) };
}

/** Least standard deviation used in standardising (a population of identical pairs must not divide by 0). */
const SD_FLOOR = 1e-6;

/**
 * Computes the similarity lead of the suspect against the reference, ranked against the panel's unrelated
 * pairs (see the module comment). Throws INVALID_ARGUMENT on misaligned or oversized input.
 */
export function similarityLead(input: SimilarityLeadInput): SimilarityLead {
  check(input);
  const k = input.panel.length;
  const unavailable = (reason: string): SimilarityLead => ({
    evidence: null,
    signals: LEAD_COMPONENTS.map((c) => unavailableSignal(c, reason)),
    reason,
  });
  if (k < MIN_LEAD_PANEL) {
    return unavailable(`${k} panel models: at least ${MIN_LEAD_PANEL} are needed to form unrelated pairs`);
  }
  const models = [input.reference, ...input.panel, input.suspect];
  const counted = input.probes.map((_, i) => models.every((m) => m[i] !== undefined));
  const signals: SignalResult[] = [];
  const used: { component: LeadComponent; z: number; nullZ: number[] }[] = [];
  let nullSize = -1;
  for (const component of LEAD_COMPONENTS) {
    const { suspect, nulls } = componentStats(component, input.probes, models, counted);
    const nullVals = nulls.filter((x): x is PairStat => x !== null);
    if (!suspect || nullVals.length < nulls.length) {
      signals.push(
        unavailableSignal(
          component,
          `fewer than ${MIN_LEAD_PROBES[component]} comparable probes answered by the suspect, the reference and every panel model`,
        ),
      );
      continue;
    }
    const atLeast = nullVals.filter((x) => x.value >= suspect.value).length;
    const p = (1 + atLeast) / (nullVals.length + 1);
    const { mean, sd } = meanSd(nullVals.map((x) => x.value));
    const scale = Math.max(sd, SD_FLOOR);
    const z = (suspect.value - mean) / scale;
    nullSize = nullVals.length;
    used.push({ component, z, nullZ: nullVals.map((x) => (x.value - mean) / scale) });
    signals.push({
      name: component,
      available: true,
      statistic: suspect.value,
      p_value: p,
      effect: Math.max(-1, Math.min(1, suspect.value)),
      detail: {
        probes: suspect.probes,
        null_pairs: nullVals.length,
        null_at_least: atLeast,
        rank: nullVals.length - atLeast,
        null_mean: Number(mean.toFixed(6)),
        null_sd: Number(sd.toFixed(6)),
        z: Number(z.toFixed(4)),
        level: "model",
      },
    });
  }
  if (used.length === 0) {
    return {
      evidence: null,
      signals,
      reason: "no similarity component could run on the probes every model answered",
    };
  }
  const wsum = used.reduce((a, u) => a + LEAD_WEIGHTS[u.component], 0);
  const score = used.reduce((a, u) => a + LEAD_WEIGHTS[u.component] * u.z, 0) / wsum;
  const nullScores = Array.from(
    { length: nullSize },
    (_, t) => used.reduce((a, u) => a + LEAD_WEIGHTS[u.component] * (u.nullZ[t] ?? 0), 0) / wsum,
  );
  return {
    evidence: {
      score,
      null_size: nullSize,
      null_at_least: nullScores.filter((x) => x >= score).length,
      population: "panel",
    },
    signals,
  };
}
