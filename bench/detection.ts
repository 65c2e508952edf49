/**
 * Detection benchmark (issue 3, "The benchmark"): the testbed population run through the engine over HTTP,
 * exactly as real suspects would be.
 *
 *   npm run bench:detection [-- --json FILE] [--size full|small] [--panel N] [--concurrency N]
 *                              [--foreign test|both|none] [--panel-select closest|rotation] [--cache-dir DIR]
 *
 * 1. Build (or load from .cache/testbed) the calibration and test populations.
 * 2. Serve each split from its own child process (bench/detection/serve-split.ts): the testbed's
 *    OpenAI-compatible HTTP API on 127.0.0.1, one core for generation.
 * 3. Probe every model once on its split's battery through the engine's HttpAdapter (probeModel), into a
 *    memoizing wrapper (bench/detection/caching-adapter.ts) that the comparisons then share.
 * 4. LSH: sketch every fingerprint (sketch version 1), index the member teachers, query with every suspect.
 * 5. Calibration split: compare() every (suspect, member) pair with the default policy; freeze the policy
 *    (bench/detection/freeze.ts). Test split: compare() with the frozen policy, untouched afterwards.
 * 6. Report: per-scenario TPR with exact CIs and median queries to a decision (compare()'s sequential
 *    mode), nulls (false accusations, p-value calibration), attribution, LSH, timings; JSON with --json.
 *
 * Comparisons are planned by bench/detection/plan.ts (its header lists the kinds of null).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import {
  attribute,
  type Battery,
  type CompareResult,
  compare,
  createSketchContext,
  DEFAULT_POLICY,
  type DecisionPolicy,
  decide,
  type Fingerprint,
  featureSimilarity,
  HttpAdapter,
  LSH_V1,
  probeModel,
  type ResponseFeatures,
  responseFeatures,
  type SignalResult,
  type SketchProbeInput,
  sketchInputsFromFingerprint,
} from "@lineage/fingerprint";
import { buildPopulation, type MemberInfo, type Population, SCENARIOS, type Split } from "@lineage/testbed";
import { type BenchArgs, parseArgs } from "./detection/args.js";
import { CachingAdapter } from "./detection/caching-adapter.js";
import { type FrozenPolicy, freezePolicy } from "./detection/freeze.js";
import { evaluateLsh } from "./detection/lsh-eval.js";
import { type Comparison, type PlanMember, planComparisons, summarizePlan } from "./detection/plan.js";
import { Progress, runPool } from "./detection/progress.js";
import {
  attribution,
  byScenario,
  calibrate,
  nullSection,
  type Outcome,
  type SignalOutcome,
  scenarioTable,
  signalBreakdown,
} from "./detection/report.js";
import { randomizedFisher } from "./detection/stats.js";

const SPLITS: readonly Split[] = ["calibration", "test"];
/** Members of the whole bench alliance (3 per split): the policy's correction for members x models. */
const ALLIANCE_MEMBERS = 6;
const TARGETS: Record<string, number> = {
  direct: 0.9,
  paraphrased: 0.75,
  ensemble_share_ge_25: 0.8,
  weights_copy: 0.95,
  finetuned_copy: 0.95,
};

function log(msg: string): void {
  process.stderr.write(`[bench:detection] ${msg}\n`);
}

let args: BenchArgs;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`bench:detection: ${(e as Error).message}\n`);
  process.exit(2);
}

const t0 = performance.now();
const timings: Record<string, number> = {};
const lap = (name: string, since: number) => {
  timings[name] = Number(((performance.now() - since) / 1000).toFixed(1));
};

// ---------------------------------------------------------------------------------------------------
// 1. Populations.
const pops = new Map<Split, Population>();
{
  const t = performance.now();
  for (const split of SPLITS) {
    let progress: Progress | null = null;
    const pop = await buildPopulation({
      split,
      size: args.size,
      ...(args.cacheDir !== undefined ? { cacheDir: resolve(args.cacheDir) } : {}),
      onProgress: (p) => {
        if (p.phase === "model") {
          progress ??= new Progress(`build ${split} population`, p.total);
          progress.tick();
        }
      },
    });
    log(
      `${split}: ${pop.entries.length} models (${pop.stats.modelsTrained} trained, ${pop.stats.modelsCached} cached), ${pop.probes.length} probes`,
    );
    pops.set(split, pop);
  }
  lap("build_populations_s", t);
}
const popOf = (s: Split) => pops.get(s) as Population;

// ---------------------------------------------------------------------------------------------------
// 2. One server process per split.
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
};
process.on("exit", cleanup);
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

async function serve(split: Split): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      "--conditions=lineage-source",
      "--import",
      "tsx",
      resolve(import.meta.dirname, "detection/serve-split.ts"),
      split,
      args.size,
      ...(args.cacheDir !== undefined ? [resolve(args.cacheDir)] : []),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
  return new Promise((res, rej) => {
    child.once("exit", (code) => rej(new Error(`server for ${split} exited early (code ${code})`)));
    lines.once("line", (line) => {
      try {
        const url = (JSON.parse(line) as { url?: unknown }).url;
        if (typeof url !== "string" || !/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error("bad url");
        res(url);
      } catch {
        rej(new Error(`server for ${split} printed an unexpected first line`));
      }
    });
  });
}

const urls = new Map<Split, string>();
{
  const t = performance.now();
  const [cu, tu] = await Promise.all(SPLITS.map(serve));
  urls.set("calibration", cu as string);
  urls.set("test", tu as string);
  lap("start_servers_s", t);
  log(`serving calibration at ${cu}, test at ${tu}`);
}

// One (memoizing) HTTP adapter per model, on the server of the model's own split.
const adapters = new Map<string, CachingAdapter>();
const splitOfModel = new Map<string, Split>();
for (const s of SPLITS) for (const e of popOf(s).entries) splitOfModel.set(e.id, s);
function adapter(modelId: string): CachingAdapter {
  let a = adapters.get(modelId);
  if (!a) {
    const split = splitOfModel.get(modelId);
    if (!split) throw new Error(`unknown model ${modelId}`);
    a = new CachingAdapter(
      new HttpAdapter({
        baseUrl: urls.get(split) as string,
        model: modelId,
        concurrency: 4,
        timeoutMs: 60_000,
      }),
    );
    adapters.set(modelId, a);
  }
  return a;
}

// ---------------------------------------------------------------------------------------------------
// Plans: home members, plus the other split's members where --foreign asks for them.
const other = (s: Split): Split => (s === "test" ? "calibration" : "test");
const withForeign = (s: Split) => args.foreign === "both" || args.foreign === s;
function membersFor(s: Split): PlanMember[] {
  const mk = (split: Split, home: boolean) =>
    popOf(split).members.map((m) => ({
      key: `${split}/${m.memberId}`,
      memberId: m.memberId,
      teacherId: m.teacherId,
      home,
    }));
  return [...mk(s, true), ...(withForeign(s) ? mk(other(s), false) : [])];
}
const batteries = new Map<Split, Battery>(
  SPLITS.map((s) => [s, { epoch: `bench-detection-${s}`, probes: popOf(s).probes }]),
);

// ---------------------------------------------------------------------------------------------------
// 3. Fingerprints: every model probed once on its split's battery (foreign teachers on both).
const fingerprints = new Map<Split, Map<string, Fingerprint>>();
{
  const t = performance.now();
  const jobs: { split: Split; id: string }[] = [];
  for (const s of SPLITS) {
    const ids = new Set(popOf(s).entries.map((e) => e.id));
    for (const m of membersFor(s)) ids.add(m.teacherId);
    for (const id of ids) jobs.push({ split: s, id });
    fingerprints.set(s, new Map());
  }
  const probes = jobs.reduce((n, j) => n + (batteries.get(j.split)?.probes.length ?? 0), 0);
  const progress = new Progress("probe battery over HTTP (queries)", probes);
  await runPool(
    jobs.map((j) => async () => {
      const fp = await probeModel(adapter(j.id), batteries.get(j.split) as Battery, {
        concurrency: 2,
        onProgress: () => progress.tick(),
      });
      fingerprints.get(j.split)?.set(j.id, fp);
    }),
    Math.max(1, Math.ceil(args.concurrency / 2)),
  );
  lap("probe_battery_s", t);
}

// Panels: per member, this split's negatives ranked by mean output similarity (the engine's blend
// feature) to the member's reference on the battery, closest first (plan.ts).
function ranking(s: Split): (memberKey: string) => readonly string[] {
  const fps = fingerprints.get(s) as Map<string, Fingerprint>;
  const battery = batteries.get(s) as Battery;
  const ids = battery.probes.filter((p) => p.kind !== "completion").map((p) => p.id);
  const feats = new Map<string, Map<string, ResponseFeatures>>();
  const featsOf = (model: string) => {
    let f = feats.get(model);
    if (!f) {
      const fp = fps.get(model);
      if (!fp) throw new Error(`no fingerprint for ${model}`);
      f = new Map(
        ids.flatMap((id) => {
          const r = fp.responses[id];
          return r ? [[id, responseFeatures(r.text)] as [string, ResponseFeatures]] : [];
        }),
      );
      feats.set(model, f);
    }
    return f;
  };
  const negatives = popOf(s)
    .entries.filter((e) => e.role === "negative")
    .map((e) => e.id);
  const cache = new Map<string, string[]>();
  const teacherOf = new Map(membersFor(s).map((m) => [m.key, m.teacherId]));
  return (memberKey) => {
    let r = cache.get(memberKey);
    if (!r) {
      const ref = featsOf(teacherOf.get(memberKey) as string);
      const score = (n: string) => {
        const f = featsOf(n);
        let sum = 0;
        let k = 0;
        for (const id of ids) {
          const a = f.get(id);
          const b = ref.get(id);
          if (a && b) {
            sum += featureSimilarity(a, b)[4] ?? 0;
            k++;
          }
        }
        return k === 0 ? 0 : sum / k;
      };
      const scored = negatives
        .map((n) => ({ n, v: score(n) }))
        .sort((a, b) => b.v - a.v || (a.n < b.n ? -1 : 1));
      r = scored.map((x) => x.n);
      cache.set(memberKey, r);
    }
    return r;
  };
}

const plans = new Map<Split, Comparison[]>();
for (const s of SPLITS) {
  const negatives = popOf(s).entries.filter((e) => e.role === "negative").length;
  const panelSize = Math.min(args.panel, negatives - 1);
  if (panelSize < args.panel) log(`${s}: panel of ${panelSize} (only ${negatives} negatives)`);
  const plan = planComparisons({
    entries: popOf(s).entries,
    members: membersFor(s),
    panelSize,
    ...(args.panelSelect === "closest" ? { panelRanking: ranking(s) } : {}),
  });
  plans.set(s, plan);
  const sum = summarizePlan(plan);
  log(
    `${s}: ${plan.length} comparisons; positives ${JSON.stringify(sum.positives)}; nulls ${JSON.stringify(sum.nulls)}`,
  );
}
// ---------------------------------------------------------------------------------------------------
// 4. LSH retrieval on the fingerprints' sketches.
const lshBySplit: Record<string, ReturnType<typeof evaluateLsh>> = {};
{
  const t = performance.now();
  for (const s of SPLITS) {
    const battery = batteries.get(s) as Battery;
    const inputs = new Map<string, SketchProbeInput[]>();
    for (const [id, fp] of fingerprints.get(s) ?? [])
      inputs.set(id, sketchInputsFromFingerprint(battery, fp));
    const ctx = createSketchContext(
      Uint8Array.from({ length: 32 }, (_, i) => (i * 73 + (s === "test" ? 5 : 9)) & 0xff),
      battery.epoch,
    );
    const pairs = (plans.get(s) ?? []).map((c) => ({
      suspectId: c.suspectId,
      teacherId: c.member.teacherId,
      derived: c.derived,
    }));
    lshBySplit[s] = evaluateLsh(inputs, pairs, ctx);
  }
  lap("lsh_s", t);
}

// ---------------------------------------------------------------------------------------------------
// 5. Comparisons through compare(): calibration, freeze, test.
interface Ran {
  readonly split: Split;
  readonly comparison: Comparison;
  readonly result: CompareResult;
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

async function runSplit(s: Split, policy: DecisionPolicy): Promise<Ran[]> {
  const battery = batteries.get(s) as Battery;
  const memberInfo = new Map<string, MemberInfo>(
    SPLITS.flatMap((sp) => popOf(sp).members.map((m): [string, MemberInfo] => [`${sp}/${m.memberId}`, m])),
  );
  const plan = plans.get(s) ?? [];
  const progress = new Progress(`compare ${s} (comparisons)`, plan.length);
  return runPool(
    plan.map((c) => async (): Promise<Ran> => {
      const m = memberInfo.get(c.member.key);
      if (!m) throw new Error(`no member ${c.member.key}`);
      const result = await compare({
        suspect: adapter(c.suspectId),
        reference: adapter(c.member.teacherId),
        panel: c.panel.map(adapter),
        battery,
        canaries: { memberId: c.member.key, exposed: m.canaries.exposed, decoys: m.canaries.decoys },
        ...(m.watermark ? { watermarkKey: m.watermark.key, watermarkGamma: m.watermark.gamma } : {}),
        policy,
        seed: fnv(`${s}/${c.suspectId}/${c.member.key}`),
        concurrency: 2,
      });
      return { split: s, comparison: c, result };
    }),
    args.concurrency,
    () => progress.tick(),
  );
}

/** Suspect-side queries of one comparison: battery probes plus canaries asked before the decision. */
const suspectQueries = (r: CompareResult) => r.queries.suspect + r.queries.canaries;

function toOutcome(r: Ran): Outcome {
  const signals: SignalOutcome[] = r.result.signals.map((sig) => {
    const u =
      (fnv(`${r.split}/${r.comparison.suspectId}/${r.comparison.member.key}/${sig.name}`) + 0.5) / 2 ** 32;
    let randomized: number | undefined;
    const d = sig.detail;
    if (sig.available && sig.name === "canary_reproduction") {
      const ea = Number(d.exposed_asked);
      const da = Number(d.decoys_asked);
      const xe = Number(d.exposed_hits);
      const xd = Number(d.decoy_hits);
      if ([ea, da, xe, xd].every(Number.isInteger))
        randomized = randomizedFisher(xe, xe + xd, ea, ea + da, u);
    }
    // The watermark test is relative to the panel (max of two exact tests): its p-value is not a plain
    // binomial of the counts in `detail`, so it is checked through its own p-value (per_signal, one-sided
    // validity), not randomized here.
    const numeric = Object.fromEntries(
      Object.entries(d).filter(
        (e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1]),
      ),
    );
    return {
      name: sig.name,
      available: sig.available,
      p_value: sig.p_value,
      effect: sig.effect,
      ...(randomized !== undefined ? { randomized_p: randomized } : {}),
      detail: numeric,
    };
  });
  return {
    split: r.split,
    comparison: r.comparison,
    decision: r.result.decision,
    p_value: r.result.p_value,
    effect: r.result.effect_size,
    queries: suspectQueries(r.result),
    signals,
  };
}

const basePolicy: DecisionPolicy = { ...DEFAULT_POLICY, comparisons: ALLIANCE_MEMBERS };
let frozen: FrozenPolicy;
let calibrationRuns: Ran[];
{
  const t = performance.now();
  calibrationRuns = await runSplit("calibration", basePolicy);
  frozen = freezePolicy(
    calibrationRuns.map((r) => ({
      derived: r.comparison.derived,
      decidedAt: (minEffect: number) =>
        decide(r.result.signals as SignalResult[], { ...basePolicy, min_effect: minEffect }, r.result.family)
          .decision === "LIKELY_DERIVED",
    })),
    basePolicy.alpha,
    basePolicy.min_effect,
  );
  lap("compare_calibration_s", t);
  log(
    `frozen on calibration: alpha ${frozen.alpha}, min_effect ${frozen.minEffect} (calibration nulls accused at the default: ${frozen.calibrationNullsAccusedAtDefault}; calibration positives detected: ${frozen.calibrationDetected}/${frozen.calibrationPositives})`,
  );
}
if (!Number.isFinite(frozen.minEffect)) {
  log("no minimum effect separates calibration nulls: the test split is scored with min_effect 1");
}
const testPolicy: DecisionPolicy = { ...basePolicy, min_effect: Math.min(1, frozen.minEffect) };
let testRuns: Ran[];
{
  const t = performance.now();
  testRuns = await runSplit("test", testPolicy);
  lap("compare_test_s", t);
}
cleanup();

// ---------------------------------------------------------------------------------------------------
// 6. Report.
const testOut = testRuns.map(toOutcome);
const calOut = calibrationRuns.map(toOutcome);
const allOut = [...calOut, ...testOut];
const scenarios = byScenario(testOut, SCENARIOS);
const nulls = nullSection(allOut);
const nullsTest = nullSection(testOut);
// Pooled randomized p-values of the exact discrete test (canary Fisher) on every null.
const randomizedNull = allOut
  .filter((o) => !o.comparison.derived)
  .flatMap((o) => o.signals.filter((s) => s.randomized_p !== undefined).map((s) => s.randomized_p as number));
const randomizedCal = calibrate(randomizedNull);

// Holm attribution across the suspect's home members (engine's attribute()), next to per-pair decisions.
function holmAttribution(runs: readonly Ran[], policy: DecisionPolicy) {
  const bySuspect = new Map<string, Ran[]>();
  for (const r of runs) {
    if (r.comparison.suspectRole !== "positive") continue;
    const l = bySuspect.get(r.comparison.suspectId) ?? [];
    l.push(r);
    bySuspect.set(r.comparison.suspectId, l);
  }
  let named = 0;
  let correct = 0;
  let truth = 0;
  for (const list of bySuspect.values()) {
    const res = attribute(
      list.map((r) => ({ memberId: r.comparison.member.key, signals: r.result.signals as SignalResult[] })),
      { ...policy, comparisons: 1 },
    );
    for (const a of res) {
      const derived = list.find((r) => r.comparison.member.key === a.memberId)?.comparison.derived === true;
      if (a.decision === "LIKELY_DERIVED") {
        named++;
        if (derived) correct++;
      }
    }
    truth += list.filter((r) => r.comparison.derived).length;
  }
  return {
    method: "engine attribute(): Bonferroni over a member's signals, Holm across the members compared",
    named,
    correct,
    true_members: truth,
    precision: named === 0 ? null : Number((correct / named).toFixed(4)),
    recall: truth === 0 ? null : Number((correct / truth).toFixed(4)),
  };
}

const perSignalDeciding: Record<string, number> = {};
for (const r of testRuns) {
  if (r.comparison.derived && r.result.deciding_signal)
    perSignalDeciding[r.result.deciding_signal] = (perSignalDeciding[r.result.deciding_signal] ?? 0) + 1;
}
// Per scenario and signal: positives where the signal alone meets the frozen policy.
const perSignalByScenario: Record<string, Record<string, number>> = {};
for (const r of testRuns) {
  if (!r.comparison.derived) continue;
  const key = r.comparison.scenario ?? "?";
  const row = perSignalByScenario[key] ?? {};
  perSignalByScenario[key] = row;
  for (const sig of r.result.signals) {
    // The signal alone, corrected as in the full family (weighted Bonferroni x members).
    if (decide([sig as SignalResult], testPolicy, r.result.family).decision === "LIKELY_DERIVED")
      row[sig.name] = (row[sig.name] ?? 0) + 1;
  }
}

const lshCombined = (() => {
  const l = Object.values(lshBySplit);
  const pos = l.reduce((a, x) => a + x.positive_pairs, 0);
  const hit = l.reduce((a, x) => a + x.positives_retrieved, 0);
  const neg = l.reduce((a, x) => a + x.null_pairs, 0);
  const fc = l.reduce((a, x) => a + x.null_candidates, 0);
  const posAt = l.reduce((a, x) => a + x.positive_pairs_at_or_above_design, 0);
  const hitAt = l.reduce(
    (a, x) => a + Math.round((x.recall_at_or_above_design ?? 0) * x.positive_pairs_at_or_above_design),
    0,
  );
  return {
    design_similarity: LSH_V1.designSimilarity,
    recall: pos === 0 ? null : Number((hit / pos).toFixed(4)),
    false_candidate_rate: neg === 0 ? null : Number((fc / neg).toFixed(4)),
    recall_at_or_above_design: posAt === 0 ? null : Number((hitAt / posAt).toFixed(4)),
    positive_pairs: pos,
    positive_pairs_at_or_above_design: posAt,
    null_pairs: neg,
    by_split: lshBySplit,
  };
})();

const totalSent = [...adapters.values()].reduce((a, x) => a + x.sent, 0);
timings.total_s = Number(((performance.now() - t0) / 1000).toFixed(1));
const report = {
  policy_alpha: testPolicy.alpha,
  by_scenario: scenarios,
  null: {
    ...nulls,
    comparisons: nulls.comparisons,
    false_accusations: nulls.false_accusations,
    ks_uniform_p: randomizedCal.ks_uniform_p,
    ks_validity_p: nulls.ks_validity_p,
    p_value_note:
      "ks_uniform_p: two-sided KS against U(0,1) of the randomized p-values (P(T>t)+U*P(T=t), U from a hash " +
      "of the comparison) of the exact discrete canary test on every null comparison " +
      "(Fisher, hypergeometric null of the random exposed/decoy split); exactly uniform if that null holds. " +
      "The watermark test is panel-relative (max of two exact tests), checked by its own p-values in per_signal. ks_validity_p: one-sided KS (Birnbaum–Tingey) of " +
      "the combined, corrected decision p-values — small only if they are anti-conservative; these are " +
      "capped at 1 and super-uniform by design (weighted Bonferroni over the signal family x 6 members, intersection-union " +
      "panel tests), so a two-sided KS on them (combined.ks_uniform_p) rejects uniformity without any " +
      "error-rate consequence. per_signal gives each signal's raw p-value calibration.",
    nulls_are:
      "every (suspect, member) pair without lineage: negatives and the non-member teacher vs every member, " +
      "member teachers vs the other members, copies of one member vs the others, and (foreign_member) " +
      "every model vs the 3 members of the other split, whose teachers are probed on this split's battery " +
      "and whose canaries are asked of the suspect; calibration-split nulls were seen while freezing " +
      "the policy, test-split nulls were not",
    randomized_exact_tests: randomizedCal,
    test_split_only: {
      comparisons: nullsTest.comparisons,
      false_accusations: nullsTest.false_accusations,
      ks_validity_p: nullsTest.ks_validity_p,
    },
  },
  attribution: {
    ...attribution(testOut),
    ensembles_only: attribution(testOut, (o) => o.comparison.scenario?.startsWith("ensemble_") === true),
    holm: holmAttribution(testRuns, testPolicy),
  },
  lsh: lshCombined,
  frozen_policy: {
    ...frozen,
    alpha: testPolicy.alpha,
    min_effect: testPolicy.min_effect,
    comparisons: testPolicy.comparisons,
    signal_family: testRuns[0]?.result.family ?? null,
    default_min_effect: basePolicy.min_effect,
    frozen_min_effect: frozen.minEffect,
  },
  per_signal: {
    deciding_signal_test_positives: perSignalDeciding,
    alone_meets_policy_by_scenario: perSignalByScenario,
    test_breakdown: signalBreakdown(testOut),
  },
  calibration: {
    note: "the calibration split, scored at the engine's default policy (before freezing) and at the frozen one",
    at_default: byScenario(
      calibrationRuns.map((r) => ({ ...toOutcome(r), decision: r.result.decision })),
      SCENARIOS,
    ),
    at_frozen: byScenario(
      calibrationRuns.map((r) => ({
        ...toOutcome(r),
        decision: decide(r.result.signals as SignalResult[], testPolicy, r.result.family).decision,
      })),
      SCENARIOS,
    ),
    breakdown: signalBreakdown(calOut),
  },
  sequential: {
    note:
      "median_queries = queries to the suspect (battery probes + canaries) until compare()'s sequential mode " +
      "decided (it stops at the first look that settles LIKELY_DERIVED; otherwise the whole budget)",
    budget_per_comparison: (batteries.get("test")?.probes.length ?? 0) + 96,
  },
  setup: {
    size: args.size,
    panel_size: args.panel,
    foreign: args.foreign,
    models: Object.fromEntries(SPLITS.map((s) => [s, popOf(s).entries.length])),
    probes: Object.fromEntries(SPLITS.map((s) => [s, popOf(s).probes.length])),
    comparisons: Object.fromEntries(SPLITS.map((s) => [s, plans.get(s)?.length ?? 0])),
    http_requests_sent: totalSent,
    transport: "engine HttpAdapter -> testbed OpenAI-compatible server in a child process per split",
  },
  timings,
};

const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
process.stdout.write(
  `\nDetection on the test split (policy alpha ${testPolicy.alpha}, min effect ${testPolicy.min_effect}, frozen on calibration)\n\n`,
);
process.stdout.write(`${scenarioTable(scenarios, TARGETS)}\n\n`);
process.stdout.write(
  `Nulls: ${nulls.comparisons} comparisons (${JSON.stringify(nulls.by_split)}), false accusations ${nulls.false_accusations} ` +
    `(test split: ${nullsTest.false_accusations}/${nullsTest.comparisons}); randomized exact-test p-values KS p = ${randomizedCal.ks_uniform_p} ` +
    `(n = ${randomizedCal.n}); decision p-values one-sided validity KS p = ${nulls.ks_validity_p}\n`,
);
{
  const r = nulls.per_signal.canary_reproduction?.randomized;
  if (r)
    process.stdout.write(
      `  null canary_reproduction: randomized p-values KS p = ${r.ks_uniform_p}, one-sided ${r.ks_validity_p} (n = ${r.n})\n`,
    );
  const w = nulls.per_signal.watermark;
  if (w)
    process.stdout.write(
      `  null watermark (panel-relative): one-sided validity KS p = ${w.ks_validity_p}, share <= 0.01: ${w.fraction_at_or_below["0.01"]}, <= 0.05: ${w.fraction_at_or_below["0.05"]} (n = ${w.n})\n`,
    );
}
process.stdout.write(
  `Attribution (test positives): precision ${pct(report.attribution.precision)}, recall ${pct(report.attribution.recall)}; ` +
    `ensembles: precision ${pct(report.attribution.ensembles_only.precision)}, recall ${pct(report.attribution.ensembles_only.recall)}\n`,
);
process.stdout.write(
  `LSH (design similarity ${LSH_V1.designSimilarity}): recall ${pct(lshCombined.recall)} over ${lshCombined.positive_pairs} positive pairs ` +
    `(${pct(lshCombined.recall_at_or_above_design)} of the ${lshCombined.positive_pairs_at_or_above_design} at/above the design similarity), ` +
    `false-candidate rate ${pct(lshCombined.false_candidate_rate)} over ${lshCombined.null_pairs} null pairs\n`,
);
process.stdout.write(`Timings (s): ${JSON.stringify(timings)}; HTTP requests sent: ${totalSent}\n`);
if (args.json) {
  writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${args.json}`);
}
process.exit(0);
