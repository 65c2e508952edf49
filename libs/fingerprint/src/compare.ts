/**
 * Forensic comparison of a suspect with a reference model (issue 7, "Defensible verdicts"): probes the
 * suspect, the reference and a panel of known-unrelated models on the battery, asks the suspect the
 * member's canary pairs, scores the member's watermark, and derives the verdict with the shared verdict
 * module (`deriveVerdict`), the same function the hub and the auditor re-derive it with.
 *
 * Who may accuse (DESIGN.md, "Deciding copied: who chose the null?"): only the tests whose null comes from
 * randomness fixed before the evidence — the paired canary test (labels drawn from the log) and the
 * watermark test (key committed before the suspect was seen), and their Fisher combination. Similarity
 * (similarityLead: output similarity, token distributions, shared wrong answers) is ranked against the
 * panel's unrelated pairs and can at most raise a lead (SIMILAR); it never enters the accusing family.
 *
 * Sequential mode (default) asks the battery in batches, in a seeded order fixed before any answer. Only the
 * accusing tests may stop it early, and of those only the canary test: with `canaryTest: "sequential"` the
 * canary items (a seeded shuffle of all items, label-blind: signal-canary.ts) are spread over the batches and
 * the anytime-valid sign-test martingale bets on COMPLETED pairs only; with the default `"fixed"`, before any
 * battery probe, every item's scoring query is asked and the rank test looked at, then (if undecided) every
 * item's generation and the paired test looked at: each on counts that never change after its look, so a
 * suspect decided there is never sent the battery (docs/specs/verdict.md, "Order of the queries"). The
 * watermark test is fixed-sample: it is evaluated once, at the last look (the end of the budget, or
 * the early stop — a stop decided by the canary test alone, which never reads the key, so the watermark's
 * null over keys is untouched). At interim looks the watermark stays in the family as "not yet evaluated",
 * so the correction never shrinks with what the answers turned out to support.
 *
 * Bound choices: the policy is a registered one (`policyId`, default DEFAULT_VERDICT_POLICY = lineage-policy/3)
 * with any knobs on top (`resolvePolicy`); knobs that match no registered policy make it `custom`, which the
 * result marks (`policy_registered`, `policy_is_default`).
 *
 * Canary scoring (the rank test `canary_ranks`): asked whenever the bound policy weighs that test and the
 * canary test is fixed-sample — one more suspect query per canary item, its prompt and answer in completion
 * mode with echo. A suspect that cannot score prompts (echo refused, no completions endpoint, a replay without
 * those queries) leaves the items unscored: the rank test then stays in the family as unavailable, and the
 * McNemar test decides alone at the policy's larger correction. The result also
 * names the seed and the models compared (`bound`), so a report says exactly what was chosen.
 */
import type { ModelAdapter } from "./adapters/adapter-types.js";
import { FingerprintError } from "./fingerprint-error.js";
import type { ProbeSettings, Progress } from "./probe/probe-run.js";
import { askAll } from "./probe/probe-run.js";
import type { Battery, Canary, CanarySet, ModelResponse, Probe } from "./probe/probe-types.js";
import {
  CANARY_LOGPROB_POSITIONS,
  CANARY_TOP_LOGPROBS,
  type CanaryPairScore,
  canaryAnswerScore,
  canaryAskOrder,
  canaryScoringPrompt,
  scoreCanaryPairs,
} from "./signals/signal-canary.js";
import type { SignalResult } from "./signals/signal-types.js";
import { DEFAULT_WATERMARK_GAMMA, WatermarkPairSet } from "./signals/signal-watermark.js";
import { similarityLead } from "./signals/similarity-lead.js";
import { seededShuffle } from "./stats/seeded-shuffle.js";
import type {
  LeadOutcome,
  TestOutcome,
  Verdict,
  VerdictEvidence,
  VerdictResult,
  WatermarkCounts,
} from "./verdict/verdict.js";
import { deriveVerdict, unscoredWatermarkCounts } from "./verdict/verdict.js";
import {
  ACCUSING_TESTS,
  type AccusingTest,
  DEFAULT_VERDICT_POLICY,
  isRegisteredPolicy,
  registeredPolicy,
  resolvePolicy,
  type VerdictPolicy,
} from "./verdict/verdict-policy.js";

/** Inputs of compare(). */
export interface CompareInput {
  readonly suspect: ModelAdapter;
  readonly reference: ModelAdapter;
  /** Known-unrelated models (the reference population for the similarity lead); never the suspect or reference. */
  readonly panel: readonly ModelAdapter[];
  readonly battery: Battery;
  /** The reference member's labelled canary pairs (private: only hit counts leave this call). */
  readonly canaries?: CanarySet;
  /** The reference member's watermark key, when it watermarks (never leaves this call). */
  readonly watermarkKey?: Uint8Array;
  /** Green-list fraction of the member's scheme (default DEFAULT_WATERMARK_GAMMA). */
  readonly watermarkGamma?: number;
  /** The registered policy the comparison is bound to, by id (default DEFAULT_VERDICT_POLICY's). */
  readonly policyId?: string;
  /** Knobs over that policy; numbers matching no registered policy make it `custom` (marked in the result). */
  readonly policy?: Partial<Omit<VerdictPolicy, "id">>;
  /** Hypotheses corrected for together (models of the session compared with this member; default 1). */
  readonly comparisons?: number;
  /** Sequential probing (default on, batches of 50) or `false` for one fixed-size look. */
  readonly sequential?: false | { readonly batchSize?: number; readonly maxProbes?: number };
  /**
   * `fixed` (default): every canary item scored, then asked, before the battery, with a look after each.
   * `sequential`: items spread over the batches, the anytime-valid martingale over completed pairs (sequential
   * probing only).
   */
  readonly canaryTest?: "fixed" | "sequential";
  /** Top alternatives asked per position on canary queries (0..20, default CANARY_TOP_LOGPROBS; 0: text hits only). */
  readonly canaryTopLogprobs?: number;
  /**
   * Also ask each canary item as a scoring query (its prompt and answer, completion mode with echo) for the
   * rank test `canary_ranks`: one more suspect query per item. Fixed canary test only. Default: on when the
   * bound policy weighs `canary_ranks` (lineage-policy/3, the default) and the canary test is fixed; `false`
   * saves the queries and leaves the rank test unavailable (it stays in the family: the correction does not
   * shrink).
   */
  readonly canaryScoring?: boolean;
  readonly settings?: ProbeSettings;
  /** Seed of the probe and canary order (default 1): the session's seed, fixed before any answer. */
  readonly seed?: number;
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}

/** A signal as reported by compare(). */
export interface ReportedSignal {
  readonly name: string;
  /** `accusing`: may back LIKELY_DERIVED; `lead`: similarity, may at most raise SIMILAR. */
  readonly role: "accusing" | "lead";
  readonly available: boolean;
  /** Raw p-value; null when the signal did not run (see `reason`), never a stand-in 1. */
  readonly p_value: number | null;
  /** Accusing signals that ran: after the policy's weighted Bonferroni and the comparisons. */
  readonly adjusted_p?: number;
  readonly statistic: number | null;
  readonly effect: number | null;
  /** Why the signal did not run, when it did not. */
  readonly reason?: string;
  /** Counts for the report; never raw text. */
  readonly detail: Readonly<Record<string, number | string | boolean>>;
}

/** The models and seed a comparison was bound to, as the adapters name them. */
export interface CompareBound {
  readonly seed: number;
  readonly suspect: string;
  readonly reference: string;
  readonly panel: readonly string[];
}

/** The result of compare(). */
export interface CompareResult {
  readonly verdict: Verdict;
  /** Same value as `verdict` (the name the CLI's JSON has always carried). */
  readonly decision: Verdict;
  /** Adjusted p-value of the best accusing test; 1 when none ran. */
  readonly p_value: number;
  /** Effect of the deciding (or best) accusing test; 0 when none ran. */
  readonly effect_size: number;
  readonly backed_by: VerdictResult["backed_by"];
  /** One sentence a reviewer can read: the verdict, what backs it, the policy. */
  readonly explanation: string;
  /** The similarity lead score (higher = closer to the reference than the population); null when it did not run. */
  readonly lead_score: number | null;
  readonly lead_rank: LeadOutcome | null;
  /** The counts the verdict rests on (what an attestation carries; `deriveVerdict(evidence, policy)` re-derives it). */
  readonly evidence: VerdictEvidence;
  readonly tests: readonly TestOutcome[];
  readonly signals: readonly ReportedSignal[];
  readonly policy: VerdictPolicy;
  /** True when the policy is a registered one (default or not); false for `custom` knobs. */
  readonly policy_registered: boolean;
  /** True only for the default registered policy (DEFAULT_VERDICT_POLICY). */
  readonly policy_is_default: boolean;
  readonly bound: CompareBound;
  readonly queries: {
    readonly suspect: number;
    readonly reference: number;
    readonly panel: number;
    readonly canaries: number;
    readonly total: number;
  };
  readonly probes_used: number;
  readonly stopped_early: boolean;
}

/** Marks a probe a replay has no answer for. */
const MISSING: ModelResponse = Object.freeze({ text: "" });

function modelName(a: ModelAdapter): string {
  const d = a.describe();
  return d.model ?? d.target;
}

function invalid(message: string): FingerprintError {
  return new FingerprintError("INVALID_ARGUMENT", message);
}

/** Checks the inputs before any query is spent; returns the resolved policy. */
function checkInput(input: CompareInput): VerdictPolicy {
  if (input.battery.probes.length === 0) throw invalid("battery has no probes");
  const names = (a: ModelAdapter) => `"${modelName(a).slice(0, 128)}"`;
  input.panel.forEach((p, i) => {
    if (p === input.suspect) throw invalid(`panel[${i}] is the suspect adapter ${names(p)}`);
    if (p === input.reference) throw invalid(`panel[${i}] is the reference adapter ${names(p)}`);
    const j = input.panel.indexOf(p);
    if (j !== i) throw invalid(`panel[${i}] repeats panel[${j}] ${names(p)}`);
  });
  const seed = input.seed ?? 1;
  if (!Number.isSafeInteger(seed)) throw invalid("seed must be a safe integer");
  const comparisons = input.comparisons ?? 1;
  if (!(Number.isInteger(comparisons) && comparisons >= 1 && comparisons <= 1_000_000))
    throw invalid("comparisons must be an integer in 1..1000000");
  if (input.canaryTest !== undefined && input.canaryTest !== "fixed" && input.canaryTest !== "sequential")
    throw invalid('canaryTest must be "fixed" or "sequential"');
  if (input.sequential) {
    // A NaN batch size would make every batch empty and the probing loop never end.
    const { batchSize, maxProbes } = input.sequential;
    if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1))
      throw invalid("sequential.batchSize must be an integer >= 1");
    if (maxProbes !== undefined && !(Number.isInteger(maxProbes) && maxProbes >= 1))
      throw invalid("sequential.maxProbes must be an integer >= 1");
  }
  if (input.canaryScoring !== undefined && typeof input.canaryScoring !== "boolean")
    throw invalid("canaryScoring must be a boolean");
  if (input.canaryScoring === true && input.canaryTest === "sequential")
    throw invalid(
      'canaryScoring (the rank test) is fixed-sample: it cannot run with canaryTest "sequential"',
    );
  const top = input.canaryTopLogprobs ?? CANARY_TOP_LOGPROBS;
  if (!(Number.isInteger(top) && top >= 0 && top <= 20))
    throw invalid("canaryTopLogprobs must be an integer in 0..20");
  if (input.canaries) {
    // Pairs may come from a caller other than parseCanarySet: an item id used twice would let one answer
    // count on both arms, so ids are checked here too.
    if (input.canaries.pairs.length === 0) throw invalid("canaries has no pairs");
    const pairIds = new Set<string>();
    const itemIds = new Set<string>();
    for (const [i, p] of input.canaries.pairs.entries()) {
      if (pairIds.has(p.id)) throw invalid(`canaries.pairs[${i}] repeats pair id "${p.id.slice(0, 64)}"`);
      pairIds.add(p.id);
      for (const c of [p.exposed, p.decoy]) {
        if (itemIds.has(c.id)) throw invalid(`canaries.pairs[${i}] repeats item id "${c.id.slice(0, 64)}"`);
        itemIds.add(c.id);
      }
    }
  }
  if (
    input.watermarkKey !== undefined &&
    !(input.watermarkKey.length >= 16 && input.watermarkKey.length <= 1024)
  )
    throw invalid("watermarkKey must be 16..1024 bytes");
  const gamma = input.watermarkGamma ?? DEFAULT_WATERMARK_GAMMA;
  if (!(gamma > 0 && gamma < 1)) throw invalid("watermarkGamma must be in (0, 1)");
  if (input.policyId !== undefined && typeof input.policyId !== "string")
    throw invalid("policyId must be a string");
  const base = input.policyId === undefined ? DEFAULT_VERDICT_POLICY : registeredPolicy(input.policyId);
  return resolvePolicy(input.policy ?? {}, base);
}

const ACCUSING_DETAIL_NONE: Readonly<Record<AccusingTest, string>> = {
  canary_pairs: "no canary pairs for the reference's member",
  watermark: "no watermark key for the reference's member",
  canary_watermark: "needs both canary pairs and a watermark key",
  canary_ranks: "no canary pairs for the reference's member",
};

function accusingSignals(
  v: VerdictResult,
  policy: VerdictPolicy,
  canary: CanaryPairScore | null,
  wm: { counts: WatermarkCounts; alternativePairs: number } | null,
): ReportedSignal[] {
  return ACCUSING_TESTS.map((name): ReportedSignal => {
    const t = v.tests.find((x) => x.test === name);
    const bound =
      name === "canary_pairs"
        ? canary !== null
        : name === "canary_ranks"
          ? canary !== null
          : name === "watermark"
            ? wm !== null
            : canary !== null && wm !== null;
    let detail: Record<string, number | string | boolean> = {};
    let statistic: number | null = null;
    if (name === "canary_ranks" && canary) {
      const { scored_pairs, rank_signs } = canary.counts;
      if (scored_pairs !== undefined && rank_signs !== undefined) {
        detail = { scored_pairs, ranked_pairs: rank_signs.length };
        let w = 0;
        for (let i = 0; i < rank_signs.length; i++) if (rank_signs[i] === "E") w += i + 1;
        statistic = w;
      }
    } else if (name === "canary_pairs" && canary) {
      const { sequence, scored_pairs: _s, rank_signs: _r, ...counts } = canary.counts;
      detail = {
        ...counts,
        ...canary.detail,
        ...(sequence !== undefined ? { discordant_bets: sequence.length } : {}),
      };
      statistic = counts.exposed_only;
    } else if (name === "watermark" && wm) {
      const { mass: _mass, ...counts } = wm.counts;
      detail = { ...counts, alternative_pairs: wm.alternativePairs };
      statistic = wm.counts.selected_green;
    }
    if (!t?.available) {
      const reason = !bound
        ? ACCUSING_DETAIL_NONE[name]
        : !t
          ? `the policy ${policy.id} gives this test no weight`
          : (t.reason ?? "did not run");
      return {
        name,
        role: "accusing",
        available: false,
        p_value: null,
        statistic: null,
        effect: null,
        reason,
        detail,
      };
    }
    if (name === "canary_watermark") statistic = t.p_value > 0 ? -2 * Math.log(t.p_value) : null;
    return {
      name,
      role: "accusing",
      available: true,
      p_value: t.p_value,
      adjusted_p: t.adjusted_p,
      statistic,
      effect: t.effect,
      detail,
    };
  });
}

function leadSignal(s: SignalResult): ReportedSignal {
  return {
    name: s.name,
    role: "lead",
    available: s.available,
    p_value: s.available ? s.p_value : null,
    statistic: s.available ? s.statistic : null,
    effect: s.available ? s.effect : null,
    ...(s.available ? {} : { reason: s.reason ?? "did not run" }),
    detail: s.detail,
  };
}

/** Runs the forensic comparison (see the module comment). Throws FingerprintError on bad input. */
export async function compare(input: CompareInput): Promise<CompareResult> {
  const policy = checkInput(input);
  const seed = input.seed ?? 1;
  const comparisons = input.comparisons ?? 1;
  const gamma = input.watermarkGamma ?? DEFAULT_WATERMARK_GAMMA;
  const canaryTop = input.canaryTopLogprobs ?? CANARY_TOP_LOGPROBS;
  const seqOpt = input.sequential === false ? null : (input.sequential ?? {});
  const batch = seqOpt ? Math.max(1, Math.floor(seqOpt.batchSize ?? 50)) : input.battery.probes.length;
  const order = seqOpt ? seededShuffle(input.battery.probes, seed) : [...input.battery.probes];
  const maxProbes = Math.max(1, Math.min(order.length, Math.floor(seqOpt?.maxProbes ?? order.length)));
  const canaryItems = input.canaries ? canaryAskOrder(input.canaries, seed ^ 0x5bd1e995) : [];
  const canarySequential = seqOpt !== null && input.canaryTest === "sequential";
  const canaryBatch = canarySequential
    ? Math.max(1, Math.ceil((canaryItems.length * batch) / maxProbes))
    : canaryItems.length;
  const bound: CompareBound = {
    seed,
    suspect: modelName(input.suspect),
    reference: modelName(input.reference),
    panel: input.panel.map(modelName),
  };

  const probes: Probe[] = [];
  const suspectR: (ModelResponse | undefined)[] = [];
  const referenceR: (ModelResponse | undefined)[] = [];
  const panelR: (ModelResponse | undefined)[][] = input.panel.map(() => []);
  const askedItems: string[] = [];
  const canaryAnswers = new Map<string, ModelResponse>();
  const canaryScores = new Map<string, number>();
  // The rank test's scoring queries: asked when the bound policy weighs the test (checkInput refused an
  // explicit `true` with the sequential canary test).
  const canaryScoring =
    input.canaryScoring ?? (policy.weights.canary_ranks !== undefined && !canarySequential);
  // Set once the suspect showed it cannot score prompts at all (no completions endpoint): no more scoring
  // queries are spent on it.
  let scoringRefused = false;
  const settings = input.settings ?? {};
  const q = { suspect: 0, reference: 0, panel: 0, canaries: 0 };
  const totalWork = maxProbes * (2 + input.panel.length) + canaryItems.length;
  let done = 0;
  const tick = () => input.onProgress?.({ stage: "compare", done: ++done, total: totalWork });
  const abortable = input.signal ? { signal: input.signal } : {};

  // Canary items go to the suspect only, one at a time, in the seeded order; each answer stays in this call.
  // An item a replay has no answer for stays unanswered, and its pair is never completed.
  const generateCanaries = async (items: readonly Canary[]) => {
    for (const c of items) {
      // An adapter may not watch the signal: a stopped comparison asks nothing more either way.
      input.signal?.throwIfAborted();
      try {
        const resp = await input.suspect.generate({
          prompt: c.prompt,
          mode: "chat",
          maxTokens: settings.maxTokens ?? 64,
          temperature: settings.temperature ?? 0,
          seed: settings.seed ?? 0,
          ...(canaryTop > 0 ? { topLogprobs: canaryTop, keepPositions: CANARY_LOGPROB_POSITIONS } : {}),
          ...abortable,
        });
        canaryAnswers.set(c.id, resp);
      } catch (e) {
        if (!(e instanceof FingerprintError && e.code === "REPLAY_NOT_FOUND")) throw e;
      }
      askedItems.push(c.id);
      q.canaries++;
      tick();
    }
  };
  // The rank test's scoring queries: each item's prompt and answer, scored by the suspect (legacy echo). An
  // endpoint that does not score prompts leaves the item unscored (its pair then stays out of the rank test),
  // and one with no completions route is asked no more of them.
  const scoreCanaries = async (items: readonly Canary[]) => {
    for (const c of items) {
      if (scoringRefused) return;
      input.signal?.throwIfAborted();
      try {
        const scored = await input.suspect.generate({
          prompt: canaryScoringPrompt(c).prompt,
          mode: "completion",
          maxTokens: 1,
          temperature: 0,
          seed: settings.seed ?? 0,
          topLogprobs: 1,
          echo: true,
          keepPositions: 0,
          ...abortable,
        });
        const score = canaryAnswerScore(c, scored);
        if (score !== null) canaryScores.set(c.id, score);
        // An answer that scored no prompt token at all: the endpoint does not echo prompt log-probabilities
        // (most chat APIs), so no further scoring query can score either. A property of the endpoint, not of
        // any label: stopping here spends no more of the suspect's budget and changes no test's null.
        else if ((scored.promptTokens ?? []).length === 0) scoringRefused = true;
      } catch (e) {
        if (!(e instanceof FingerprintError)) throw e;
        // A chat-only endpoint has no completions route (404/405/501): the items stay unscored and the
        // comparison goes on (the rank test is then unavailable). Any other failure is the endpoint's.
        if (e.code === "HTTP_STATUS" && (e.status === 404 || e.status === 405 || e.status === 501))
          scoringRefused = true;
        else if (e.code !== "REPLAY_NOT_FOUND") throw e;
      }
      q.canaries++;
    }
  };
  // Every scoring query (when the rank test is weighed; never with the sequential test), then every generation.
  const askCanaries = async (items: readonly Canary[]) => {
    if (canaryScoring) await scoreCanaries(items);
    await generateCanaries(items);
  };
  // A replay that lacks a probe leaves it unanswered rather than failing the comparison.
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
        ...abortable,
        onDone: tick,
      })
    ).map((r) => (r === MISSING ? undefined : r));
  const canaryCounts = (): CanaryPairScore | null =>
    input.canaries
      ? scoreCanaryPairs(
          input.canaries,
          canaryAnswers,
          canarySequential ? { askedOrder: askedItems } : canaryScoring ? { scores: canaryScores } : {},
        )
      : null;

  // Interim look: only the canary test may stop; the watermark stays in the family, not yet evaluated.
  const interimDecides = (): boolean => {
    const interim = canaryCounts();
    const v = deriveVerdict(
      {
        ...(interim ? { canary: interim.counts } : {}),
        ...(input.watermarkKey ? { watermark: unscoredWatermarkCounts(gamma) } : {}),
        comparisons,
      },
      policy,
    );
    return v.verdict === "LIKELY_DERIVED";
  };
  let stoppedEarly = false;
  // Fixed-sample canary tests, before any battery probe: the scoring queries and a look (the rank test's counts
  // are final), then the generations and a look (the paired test's are): a suspect decided by either is never
  // sent the battery, and the battery's looks below could not change them.
  if (seqOpt && input.canaries && !canarySequential) {
    if (canaryScoring) {
      await scoreCanaries(canaryItems);
      stoppedEarly = interimDecides();
    }
    if (!stoppedEarly) {
      await generateCanaries(canaryItems);
      stoppedEarly = interimDecides();
    }
  }
  while (!stoppedEarly && probes.length < maxProbes) {
    const next = order.slice(probes.length, Math.min(maxProbes, probes.length + batch));
    const [s, r, ...pn] = await Promise.all([
      ask(input.suspect, next),
      ask(input.reference, next),
      ...input.panel.map((p) => ask(p, next)),
    ]);
    probes.push(...next);
    suspectR.push(...(s ?? []));
    referenceR.push(...(r ?? []));
    for (const [j, rs] of pn.entries()) panelR[j]?.push(...rs);
    q.suspect += next.length;
    q.reference += next.length;
    q.panel += next.length * input.panel.length;
    await askCanaries(canaryItems.slice(askedItems.length, askedItems.length + canaryBatch));
    if (probes.length >= maxProbes || !input.canaries || !canarySequential) continue;
    if (interimDecides()) {
      stoppedEarly = true;
      break;
    }
  }
  // Items left when the probes ran out first are asked at the last look.
  if (!stoppedEarly && askedItems.length < canaryItems.length)
    await askCanaries(canaryItems.slice(askedItems.length));

  const canary = canaryCounts();
  let wm: { counts: WatermarkCounts; alternativePairs: number } | null = null;
  if (input.watermarkKey) {
    // The hub's prompts only (never canary answers: see signal-watermark.ts).
    const pairs = WatermarkPairSet.fromResponses(
      probes.flatMap((p, i) => {
        const resp = suspectR[i];
        return resp ? [{ prompt: p.prompt, response: resp }] : [];
      }),
    );
    wm = { counts: pairs.counts(input.watermarkKey, gamma), alternativePairs: pairs.alternativePairs };
  }
  const lead = similarityLead({ probes, suspect: suspectR, reference: referenceR, panel: panelR });
  const evidence: VerdictEvidence = {
    ...(canary ? { canary: canary.counts } : {}),
    ...(wm ? { watermark: wm.counts } : {}),
    ...(lead.evidence ? { lead: lead.evidence } : {}),
    comparisons,
  };
  const v = deriveVerdict(evidence, policy);
  return {
    verdict: v.verdict,
    decision: v.verdict,
    p_value: v.p_value,
    effect_size: v.effect,
    backed_by: v.backed_by,
    explanation: v.explanation,
    lead_score: lead.evidence ? lead.evidence.score : null,
    lead_rank: v.lead,
    evidence,
    tests: v.tests,
    signals: [...accusingSignals(v, policy, canary, wm), ...lead.signals.map(leadSignal)],
    policy,
    policy_registered: isRegisteredPolicy(policy),
    policy_is_default: policy.id === DEFAULT_VERDICT_POLICY.id && isRegisteredPolicy(policy),
    bound,
    queries: { ...q, total: q.suspect + q.reference + q.panel + q.canaries },
    probes_used: probes.length,
    stopped_early: stoppedEarly,
  };
}
