/**
 * Forensic comparison of a suspect with a reference model against a panel of unrelated models (issue 3,
 * "compare()"): probes all of them on the battery, computes the five signals (those the input cannot
 * support report `available: false` with the reason), and applies the decision policy.
 *
 * Sequential mode (default) asks the battery in batches, in a seeded random order fixed before any answer
 * is seen, and after each batch evaluates the anytime-valid forms of the signals (test martingales; see
 * stats-sequential.ts), stopping as soon as one settles LIKELY_DERIVED. Fixed-sample signals (shared
 * wrong answers, watermark) enter only at the final look, when the whole budget was spent, so every
 * rejection event is contained in a valid level-alpha event.
 *
 * Canaries (a seeded shuffle of exposed and decoys together) are by default all asked with the first
 * batch and tested once with the exact Fisher test: the count is fixed in advance and the test never
 * stops early on them, so the exact test is valid and much sharper than the anytime-valid martingale.
 * `canaryTest: "sequential"` instead spreads them over the batches and uses the martingale, spending
 * fewer canaries when the evidence is strong. Canaries are asked with log-probabilities
 * (`canaryTopLogprobs`, default CANARY_TOP_LOGPROBS) so near-misses count (canaryResponseHit: the
 * answer among the top alternatives of the first positions — a student that saw a fact a few times often
 * ranks it just behind a generic continuation); the auditor re-queries with the same request and rule.
 * 0 keeps hits to the text rule (endpoints that serve no log-probabilities fall back to it anyway).
 *
 * Correction: weighted Bonferroni over the signal family the inputs make possible (decision.ts
 * signalFamily), never over what the answers turned out to support. The watermark test reads every
 * response of the suspect, battery and canary answers alike (distinct pairs).
 */
import type { ModelAdapter } from "./adapters/adapter-types.js";
import { FingerprintError } from "./fingerprint-error.js";
import type { ProbeSettings, Progress } from "./probe/probe-run.js";
import { askAll } from "./probe/probe-run.js";
import type { Battery, Canary, CanarySet, ModelResponse, Probe } from "./probe/probe-types.js";
import { CANARY_LOGPROB_POSITIONS, CANARY_TOP_LOGPROBS, canarySignal } from "./signals/signal-canary.js";
import type { ResponseFeatures } from "./signals/signal-output-similarity.js";
import {
  featureSimilarity,
  outputSimilaritySignal,
  responseFeatures,
} from "./signals/signal-output-similarity.js";
import { sharedWrongSignal } from "./signals/signal-shared-wrong.js";
import { tokenDistributionSignal } from "./signals/signal-token-distribution.js";
import type { SignalResult } from "./signals/signal-types.js";
import { unavailableSignal } from "./signals/signal-types.js";
import { watermarkPanelSignal } from "./signals/signal-watermark-panel.js";
import { fisherCombine } from "./stats/stats-multiple.js";
import type { Decision, DecisionPolicy, PolicyReport, SignalWeights } from "./verdict/decision.js";
import {
  checkPolicy,
  DEFAULT_POLICY,
  DEFAULT_SIGNAL_WEIGHTS,
  decide,
  signalFamily,
} from "./verdict/decision.js";

/** Inputs of compare(). */
export interface CompareInput {
  readonly suspect: ModelAdapter;
  readonly reference: ModelAdapter;
  readonly panel: readonly ModelAdapter[];
  readonly battery: Battery;
  /** The reference member's canary set (private: only answers' hit/miss counts leave this call). */
  readonly canaries?: CanarySet;
  /** The reference member's watermark key, when it watermarks. */
  readonly watermarkKey?: Uint8Array;
  readonly watermarkGamma?: number;
  readonly policy?: Partial<DecisionPolicy>;
  /** Sequential stopping (default on, batches of 50) or `false` for one fixed-size look. */
  readonly sequential?: false | { readonly batchSize?: number; readonly maxProbes?: number };
  /**
   * `fixed` (default): every canary asked with the first batch, one exact Fisher test. `sequential`:
   * canaries spread over the batches with the anytime-valid martingale (only with sequential probing).
   */
  readonly canaryTest?: "fixed" | "sequential";
  /** Top alternatives asked per position on canary queries (0..20, default CANARY_TOP_LOGPROBS; 0: text hits only). */
  readonly canaryTopLogprobs?: number;
  /** Weights of the signal family (default DEFAULT_SIGNAL_WEIGHTS), fixed before any answer is seen. */
  readonly signalWeights?: SignalWeights;
  readonly settings?: ProbeSettings;
  /** Seed of the probe and canary order (default 1). */
  readonly seed?: number;
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}

/** A signal as reported by compare(). */
export interface ReportedSignal {
  readonly name: string;
  readonly statistic: number;
  readonly p_value: number;
  readonly available: boolean;
  readonly effect: number;
  readonly reason?: string;
  readonly detail: Readonly<Record<string, number | string | boolean>>;
}

/** The result of compare(). */
export interface CompareResult {
  readonly decision: Decision;
  readonly p_value: number;
  readonly signals: readonly ReportedSignal[];
  readonly effect_size: number;
  readonly deciding_signal: string | null;
  readonly queries: {
    readonly suspect: number;
    readonly reference: number;
    readonly panel: number;
    readonly canaries: number;
    readonly total: number;
  };
  readonly probes_used: number;
  readonly stopped_early: boolean;
  readonly policy: PolicyReport;
  /** The signal family corrected for; re-deciding with another policy: decide(signals, policy, family). */
  readonly family: SignalWeights;
}

/** Deterministic shuffle (mulberry32), so the order is fixed by the seed before any answer is seen. */
export function seededShuffle<T>(xs: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Marks a probe a replay has no answer for. */
const MISSING: ModelResponse = Object.freeze({ text: "" });

interface State {
  probes: Probe[];
  suspect: (ModelResponse | undefined)[];
  reference: (ModelResponse | undefined)[];
  panel: (ModelResponse | undefined)[][];
  canaryOrder: Canary[];
  canaryAnswers: Map<string, ModelResponse>;
}

/**
 * Features by response object: replay and fingerprint adapters hand out the same objects on every call,
 * so repeated comparisons against the same reference/panel do not recompute them. Weak, so nothing leaks.
 */
const FEATURE_CACHE = new WeakMap<ModelResponse, ResponseFeatures>();

function features(r: ModelResponse): ResponseFeatures {
  let f = FEATURE_CACHE.get(r);
  if (!f) {
    f = responseFeatures(r.text);
    FEATURE_CACHE.set(r, f);
  }
  return f;
}

function computeSignals(
  st: State,
  input: CompareInput,
  sequential: boolean,
  final: boolean,
  canarySequential: boolean,
): SignalResult[] {
  const simIdx = st.probes.map((p, i) => (p.kind === "completion" ? -1 : i)).filter((i) => i >= 0);
  const row = (r: ModelResponse | undefined, i: number) => {
    const ref = st.reference[i];
    return r && ref ? featureSimilarity(features(r), features(ref)) : null;
  };
  const sim = outputSimilaritySignal(
    simIdx.map((i) => row(st.suspect[i], i)),
    st.panel.map((pm) => simIdx.map((i) => row(pm[i], i))),
    { sequential },
  );
  const tok = tokenDistributionSignal(
    st.probes
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => p.kind === "completion")
      .map(({ i }) => ({
        referenceModel: st.reference[i] ?? null,
        suspect: st.suspect[i] ?? null,
        panel: st.panel.map((pm) => pm[i] ?? null),
      })),
    st.panel.length,
    { sequential },
  );
  let canary: SignalResult;
  if (!input.canaries)
    canary = unavailableSignal("canary_reproduction", "no canary set for the reference's member");
  else {
    canary = canarySignal(
      input.canaries,
      st.canaryAnswers,
      canarySequential ? { askedOrder: st.canaryOrder.map((c) => c.id) } : {},
    );
  }
  const wrongEdges = st.probes
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => p.kind === "edge" && p.reference !== undefined)
    .map(({ p, i }) => ({
      reference: p.reference ?? "",
      referenceModel: st.reference[i]?.text ?? null,
      suspect: st.suspect[i]?.text ?? null,
      panel: st.panel.map((pm) => pm[i]?.text ?? null),
    }));
  const wrong = final
    ? sharedWrongSignal(wrongEdges, st.panel.length)
    : unavailableSignal("shared_wrong_answers", "fixed-sample signal: evaluated at the final look only");
  // Watermark radioactivity relative to the panel (signal-watermark-panel.ts): the plain binomial against
  // gamma is only valid on average over keys; for the member's one key, models sharing public text share
  // green pairs. Battery answers only, on the probes every model answered (the panel is never asked the
  // canaries, so canary answers would be distinctive for the suspect by construction).
  const answered = (r: ModelResponse | undefined) => r !== undefined && r !== MISSING;
  const answeredByAll = st.probes.map(
    (_, i) => answered(st.suspect[i]) && st.panel.every((pm) => answered(pm[i])),
  );
  const wmItems = (rs: readonly (ModelResponse | undefined)[]) =>
    st.probes.flatMap((p, i) => {
      const r = rs[i];
      return answeredByAll[i] && r ? [{ prompt: p.prompt, response: r }] : [];
    });
  const wm = final
    ? watermarkPanelSignal(
        wmItems(st.suspect),
        st.panel.map(wmItems),
        input.watermarkKey,
        input.watermarkGamma,
      )
    : unavailableSignal(
        "watermark",
        input.watermarkKey
          ? "fixed-sample signal: evaluated at the final look only"
          : "no watermark key for this member",
      );
  return [canary, sim, wrong, tok, wm, canaryWatermark(canary, wm)];
}

/**
 * Fisher's combination of the canary and watermark tests. Under the null the suspect's responses are
 * independent of the member's secrets; given the responses the canary p-value is a function of the
 * random exposed/decoy split only and the watermark p-value of the key only, and the member drew the two
 * independently, so the two p-values are independent and super-uniform and the product test is exact.
 * Effect: the larger of the two effects.
 */
function canaryWatermark(canary: SignalResult, wm: SignalResult): SignalResult {
  if (!canary.available || !wm.available) {
    return unavailableSignal("canary_watermark", "needs both the canary and the watermark test");
  }
  const p = fisherCombine([canary.p_value, wm.p_value]);
  return {
    name: "canary_watermark",
    available: true,
    statistic: -2 * (Math.log(Math.max(canary.p_value, 1e-300)) + Math.log(Math.max(wm.p_value, 1e-300))),
    p_value: p,
    effect: Math.max(canary.effect, wm.effect),
    detail: { canary_p: canary.p_value, watermark_p: wm.p_value },
  };
}

/** Runs the forensic comparison (see the module comment). Throws FingerprintError on bad input. */
export async function compare(input: CompareInput): Promise<CompareResult> {
  const policy = checkPolicy({ ...DEFAULT_POLICY, ...input.policy });
  if (input.battery.probes.length === 0)
    throw new FingerprintError("INVALID_ARGUMENT", "battery has no probes");
  const seed = input.seed ?? 1;
  const seqOpt = input.sequential === false ? null : (input.sequential ?? {});
  const batch = seqOpt ? Math.max(1, Math.floor(seqOpt.batchSize ?? 50)) : input.battery.probes.length;
  const order = seqOpt ? seededShuffle(input.battery.probes, seed) : [...input.battery.probes];
  const maxProbes = Math.min(order.length, seqOpt?.maxProbes ?? order.length);
  const canaryAll = input.canaries
    ? seededShuffle([...input.canaries.exposed, ...input.canaries.decoys], seed ^ 0x5bd1e995)
    : [];
  const canarySequential = seqOpt !== null && input.canaryTest === "sequential";
  if (input.canaryTest !== undefined && input.canaryTest !== "fixed" && input.canaryTest !== "sequential")
    throw new FingerprintError("INVALID_ARGUMENT", 'canaryTest must be "fixed" or "sequential"');
  const canaryTop = input.canaryTopLogprobs ?? CANARY_TOP_LOGPROBS;
  if (!(Number.isInteger(canaryTop) && canaryTop >= 0 && canaryTop <= 20))
    throw new FingerprintError("INVALID_ARGUMENT", "canaryTopLogprobs must be an integer in 0..20");
  const family = signalFamily(
    { canaries: input.canaries !== undefined, watermark: input.watermarkKey !== undefined },
    input.signalWeights ?? DEFAULT_SIGNAL_WEIGHTS,
  );
  decide([], policy, family); // validates the weights before any query is spent
  const canaryBatch = canarySequential
    ? Math.max(1, Math.ceil((canaryAll.length * batch) / Math.max(1, maxProbes)))
    : canaryAll.length;
  const st: State = {
    probes: [],
    suspect: [],
    reference: [],
    panel: input.panel.map(() => []),
    canaryOrder: [],
    canaryAnswers: new Map(),
  };
  const settings = input.settings ?? {};
  const q = { suspect: 0, reference: 0, panel: 0, canaries: 0 };
  const models = 2 + input.panel.length;
  const totalWork = maxProbes * models + canaryAll.length;
  let done = 0;
  const tick = () => input.onProgress?.({ stage: "compare", done: ++done, total: totalWork });
  // Canaries go to the suspect only, one at a time, in the seeded order; each answer stays in this call.
  const askCanaries = async (canaries: readonly Canary[]) => {
    for (const c of canaries) {
      const resp = await input.suspect.generate({
        prompt: c.prompt,
        mode: "chat",
        maxTokens: settings.maxTokens ?? 64,
        temperature: settings.temperature ?? 0,
        seed: settings.seed ?? 0,
        ...(canaryTop > 0 ? { topLogprobs: canaryTop, keepPositions: CANARY_LOGPROB_POSITIONS } : {}),
        ...(input.signal ? { signal: input.signal } : {}),
      });
      st.canaryOrder.push(c);
      st.canaryAnswers.set(c.id, resp);
      q.canaries++;
      tick();
    }
  };
  // A replay that lacks a probe leaves it missing (null) rather than failing the comparison; signals
  // compare only probes every model answered.
  const lenient = (a: ModelAdapter): ModelAdapter => ({
    describe: () => a.describe(),
    generate: async (req) => {
      try {
        return await a.generate(req);
      } catch (e) {
        if (e instanceof FingerprintError && e.code === "REPLAY_NOT_FOUND") return MISSING;
        throw e;
      }
    },
  });
  const ask = async (a: ModelAdapter, ps: readonly Probe[]) =>
    (
      await askAll(lenient(a), ps, settings, {
        ...(input.concurrency !== undefined ? { concurrency: input.concurrency } : {}),
        ...(input.signal ? { signal: input.signal } : {}),
        onDone: tick,
      })
    ).map((r) => (r === MISSING ? undefined : r));
  let signals: SignalResult[] = [];
  let stoppedEarly = false;
  while (st.probes.length < maxProbes) {
    const next = order.slice(st.probes.length, Math.min(maxProbes, st.probes.length + batch));
    const [s, r, ...pn] = await Promise.all([
      ask(input.suspect, next),
      ask(input.reference, next),
      ...input.panel.map((p) => ask(p, next)),
    ]);
    st.probes.push(...next);
    st.suspect.push(...(s ?? []));
    st.reference.push(...(r ?? []));
    for (const [j, rs] of pn.entries()) st.panel[j]?.push(...rs);
    q.suspect += next.length;
    q.reference += next.length;
    q.panel += next.length * input.panel.length;
    const cs = canaryAll.slice(st.canaryOrder.length, st.canaryOrder.length + canaryBatch);
    await askCanaries(cs);
    const final = st.probes.length >= maxProbes;
    signals = computeSignals(st, input, seqOpt !== null, final, canarySequential);
    if (!final && decide(signals, policy, family).decision === "LIKELY_DERIVED") {
      stoppedEarly = true;
      break;
    }
  }
  // Remaining canaries are asked at the final look when the probes ran out first (non-sequential mode too).
  if (!stoppedEarly && st.canaryOrder.length < canaryAll.length) {
    await askCanaries(canaryAll.slice(st.canaryOrder.length));
    signals = computeSignals(st, input, seqOpt !== null, true, canarySequential);
  }
  // Weighted Bonferroni over the family fixed by the inputs, whether or not each signal turned out
  // available: which signals are available may depend on the answers, the family must not.
  const d = decide(signals, policy, family);
  return {
    decision: d.decision,
    p_value: d.p_value,
    signals: signals.map((x) => ({
      name: x.name,
      statistic: x.statistic,
      p_value: x.p_value,
      available: x.available,
      effect: x.effect,
      ...(x.reason !== undefined ? { reason: x.reason } : {}),
      detail: x.detail,
    })),
    effect_size: d.effect_size,
    deciding_signal: d.deciding_signal,
    queries: { ...q, total: q.suspect + q.reference + q.panel + q.canaries },
    probes_used: st.probes.length,
    stopped_early: stoppedEarly,
    policy: d.policy,
    family,
  };
}
