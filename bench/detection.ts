/**
 * Detection benchmark (issue 3, "The benchmark"): the testbed population run through the engine over HTTP,
 * exactly as real suspects would be.
 *
 *   npm run bench:detection [-- --json FILE] [--size full|small] [--panel N] [--concurrency N]
 *                              [--foreign test|both|none] [--panel-select closest|rotation] [--cache-dir DIR]
 *                              [--scenarios LIST] [--attacks LIST|all|none] [--attacks-only]
 *                              [--attack-splits calibration|test|both] [--lsh-only]
 *
 * 1. Build (or load from .cache/testbed) the calibration and test populations.
 * 2. Serve each split from its own child process (bench/detection/serve-split.ts): the testbed's
 *    OpenAI-compatible HTTP API on 127.0.0.1, one core for generation.
 * 3. Probe every model once on its split's battery through the engine's HttpAdapter (probeModel), into a
 *    memoizing wrapper (bench/detection/caching-adapter.ts) that the comparisons then share.
 * 4. LSH: sketch every fingerprint, index the member teachers, query with every suspect (coarse bands, then
 *    the per-probe fine stage). `--lsh-only` stops here and reports this section only.
 * 5. Calibration split: compare() every (suspect, member) pair; the verdict is re-derived from the counts
 *    compare() returns (deriveVerdict) under the default policy, and the minimum effect is frozen on
 *    calibration only (bench/detection/freeze.ts). Test split: the same, scored with the frozen policy and
 *    untouched afterwards. The test split's seed is fresh (testbed "lineage-test-v2"): no design decision
 *    looked at it.
 * 6. Report: per-scenario TPR with exact CIs and median queries to a decision (compare()'s sequential
 *    mode), by_verdict per split, nulls (test-only, by kind, with Clopper–Pearson bounds), the canary null
 *    check by enumeration (bench/detection/canary-null.ts), watermark validity over >= 200 fresh keys
 *    (bench/detection/watermark-keys.ts), attribution, LSH, timings; JSON with --json.
 *
 * 7. Attack rows (issue 11; bench/detection/attack-run.ts): the adaptive distillers of libs/testbed attacks.ts
 *    and every positive served through the subword tokenizer, with the canary log-probability rule on and
 *    off, at the engine's default policy: `by_attack` in the JSON. `--attacks-only` runs steps 1-3 for the
 *    panels (negatives and teachers only) and then only these rows.
 *
 * Comparisons are planned by bench/detection/plan.ts (its header lists the kinds of null).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import {
  attributeMembers,
  type Battery,
  CANARY_LOGPROB_POSITIONS,
  CANARY_TOP_LOGPROBS,
  type CompareResult,
  canaryAnswerScore,
  canaryResponseHit,
  canaryScoringPrompt,
  compare,
  createSketchContext,
  deriveVerdict,
  type Fingerprint,
  featureSimilarity,
  HttpAdapter,
  LSH_V1,
  probeModel,
  type ResponseFeatures,
  resolvePolicy,
  responseFeatures,
  type SketchProbeInput,
  sketchInputsFromFingerprint,
  VERDICT_POLICY_3,
  type VerdictEvidence,
  type VerdictPolicy,
  type VerdictResult,
  type WatermarkCounts,
  WatermarkPairSet,
  watermarkTest,
} from "@lineage/fingerprint";
import { WATERMARK_QUERIES_PROTOCOL, WATERMARK_QUERY_COUNT, WATERMARK_QUERY_TOP } from "@lineage/member-node";
import {
  buildPopulation,
  type MemberInfo,
  type Population,
  pairedCanarySet,
  SCENARIOS,
  type Split,
} from "@lineage/testbed";
import { type BenchArgs, parseArgs } from "./detection/args.js";
import { type AttackOutcome, attackNulls, byAttack, formatAttackRow } from "./detection/attack-report.js";
import { BPE, runAttackRows } from "./detection/attack-run.js";
import { CachingAdapter } from "./detection/caching-adapter.js";
import {
  canaryHitCoverage,
  canaryNullCheck,
  formatCanaryNull,
  type PairedNullCounts,
} from "./detection/canary-null.js";
import {
  memberPooledCheck,
  type PairOutcomes,
  type RankNullItem,
  rankNullCheck,
} from "./detection/canary-rank-null.js";
import { type EnsembleItem, ensembleAttribution } from "./detection/ensemble.js";
import { type FrozenPolicy, freezePolicy } from "./detection/freeze.js";
import { evaluateLsh } from "./detection/lsh-eval.js";
import { type Comparison, type PlanMember, planComparisons, summarizePlan } from "./detection/plan.js";
import { Progress, runPool } from "./detection/progress.js";
import {
  attribution,
  byScenario,
  byVerdict,
  nullSection,
  nullsByKind,
  type Outcome,
  type SignalOutcome,
  scenarioTable,
  signalBreakdown,
} from "./detection/report.js";
import { hashUnit } from "./detection/stats.js";
import { freshKeys, type ScorablePairs, watermarkKeyCheck } from "./detection/watermark-keys.js";
import { type AnsweredStep, askWatermarkStep, withWatermarkStep } from "./detection/watermark-step.js";

const SPLITS: readonly Split[] = ["calibration", "test"];
/** Fresh keys the watermark validity check scores every null suspect under (issue 7: at least 200). */
const VALIDITY_KEYS = 200;
const TARGETS: Record<string, number> = {
  direct: 0.9,
  paraphrased: 0.9,
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
      ...(args.attacks.length > 0 ? { attacks: true } : {}),
      ...(args.attackStudents !== undefined ? { attackStudents: args.attackStudents } : {}),
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
      ...(args.attacks.length > 0 ? ["--attacks", "--subword"] : []),
      ...(args.attackStudents !== undefined ? [`--attack-students=${args.attackStudents}`] : []),
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
for (const s of SPLITS)
  for (const e of popOf(s).entries) {
    splitOfModel.set(e.id, s);
    if (args.attacks.length > 0 && e.role === "positive") splitOfModel.set(`${e.id}${BPE}`, s);
  }
/** Models of the main plan: every entry but the attack models (their rows are by_attack). */
const mainEntries = (s: Split) => popOf(s).entries.filter((e) => e.attack === undefined);
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
// Plans: every home member (copied and bystander), plus the other split's copied members where --foreign
// asks for them (foreign nulls share no seed, facts or keys with this split; only their guessable canary
// pairs can hit, as for any unrelated model).
const other = (s: Split): Split => (s === "test" ? "calibration" : "test");
const withForeign = (s: Split) => args.foreign === "both" || args.foreign === s;
function membersFor(s: Split): PlanMember[] {
  const mk = (split: Split, home: boolean) =>
    popOf(split)
      .members.filter((m) => home || !m.bystander)
      .map((m) => ({
        key: `${split}/${m.memberId}`,
        memberId: m.memberId,
        teacherId: m.teacherId,
        home,
        bystander: m.bystander,
      }));
  return [...mk(s, true), ...(withForeign(s) ? mk(other(s), false) : [])];
}
/**
 * Hypotheses corrected for in each per-pair verdict: every member a suspect is compared with (home and
 * foreign), the most over the splits — a Bonferroni factor fixed by the plan before any answer.
 */
const MEMBERS_PER_SUSPECT = Math.max(...SPLITS.map((s) => membersFor(s).length));
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
    // --attacks-only: only what the panels need (negatives and the members' teachers).
    const ids = new Set(
      mainEntries(s)
        .filter((e) => !args.attacksOnly || e.role === "negative")
        .map((e) => e.id),
    );
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
    entries: mainEntries(s).map((e) => ({
      id: e.id,
      role: e.role,
      ...(e.scenario !== undefined ? { scenario: e.scenario } : {}),
      members: e.members,
      ...(typeof e.recipe.kind === "string" ? { recipeKind: e.recipe.kind } : {}),
    })),
    members: membersFor(s),
    panelSize,
    ...(args.panelSelect === "closest" ? { panelRanking: ranking(s) } : {}),
  });
  // --scenarios: positives of other scenarios are not compared at all (their comparisons as nulls neither).
  const keep = args.scenarios;
  const scenarioOf = new Map(popOf(s).entries.map((e) => [e.id, e.scenario]));
  const kept =
    keep === undefined
      ? plan
      : plan.filter((c) => {
          const sc = scenarioOf.get(c.suspectId);
          return sc === undefined || keep.includes(sc);
        });
  plans.set(s, kept);
  const sum = summarizePlan(kept);
  log(
    `${s}: ${kept.length} comparisons; positives ${JSON.stringify(sum.positives)}; nulls ${JSON.stringify(sum.nulls)}`,
  );
}
// ---------------------------------------------------------------------------------------------------
// 7 (run here in --attacks-only mode, after the test split otherwise). Attack rows at the default policy.
/** The watermark queries step of each served attack suspect, asked once (bench/detection/watermark-step.ts). */
const attackSteps = new Map<string, Promise<AnsweredStep>>();
async function attackRows(): Promise<AttackOutcome[]> {
  const out: AttackOutcome[] = [];
  const scenarioNames = (args.scenarios ?? SCENARIOS) as readonly string[];
  for (const s of args.attackSplits) {
    const negatives = popOf(s).entries.filter((e) => e.role === "negative").length;
    out.push(
      ...(await runAttackRows({
        split: s,
        population: popOf(s),
        battery: batteries.get(s) as Battery,
        adapter,
        ranking: ranking(s),
        panelSize: Math.min(args.panel, negatives - 1),
        comparisons: MEMBERS_PER_SUSPECT,
        policy: VERDICT_POLICY_3,
        concurrency: args.concurrency,
        attacks: args.attacks,
        scenarios: scenarioNames,
        seed: fnv,
        watermarkStep: (servedId) => {
          let step = attackSteps.get(servedId);
          if (!step) {
            step = askWatermarkStep(
              adapter(servedId),
              `attacks/${s}/${servedId}`,
              batteries.get(s) as Battery,
            );
            attackSteps.set(servedId, step);
          }
          return step;
        },
      })),
    );
  }
  return out;
}

/** The by_attack section of the JSON, and its table on stdout. */
function attackSection(outcomes: readonly AttackOutcome[]) {
  const rows = byAttack(outcomes);
  const section = {
    policy_id: VERDICT_POLICY_3.id,
    note:
      "LIKELY_DERIVED at the engine's default policy (nothing tuned here) over each attack's or scenario's " +
      "derived (suspect, member) comparisons, exact 95% CIs; word = the testbed's whole-word tokens, subword = " +
      "the same model served through the BPE-like tokenizer (libs/testbed subword-model.ts); logprob_rule_off = " +
      "canaryTopLogprobs 0 (text hits only; the echo rank test still runs). Every comparison with a watermarking " +
      "member binds the member node's watermark queries step (lineage-watermark-queries/3, 500 queries scored by " +
      "green mass) and asks it only when undecided without it, as a session does; median_queries counts it. " +
      "sibling_in_panel: the sibling " +
      "attack's suspects with their published sibling in the panel's closest slot. nulls: negatives vs the " +
      "members' variants with ordinary-looking canaries. Attack designs (filter rules, scrub threshold, " +
      "ordinary canary word lists) were fixed before any test-split run and looked at on calibration only.",
    attacks: args.attacks,
    rows,
    nulls: attackNulls(outcomes),
  };
  process.stdout.write("\nAttacks and subword variants (LIKELY_DERIVED at the default policy):\n");
  for (const [row, bySplit] of Object.entries(rows)) {
    for (const [split, byTok] of Object.entries(bySplit)) {
      const cells = Object.entries(byTok).flatMap(([tok, byRule]) =>
        Object.entries(byRule).map(
          ([rule, r]) => `${tok}/${rule.replace("logprob_rule_", "lp ")} ${formatAttackRow(r)}`,
        ),
      );
      process.stdout.write(`  ${row.padEnd(24)} ${split.padEnd(11)} ${cells.join("; ")}\n`);
    }
  }
  for (const [k, g] of Object.entries(section.nulls))
    process.stdout.write(
      `  nulls ${k}: ${g.false_likely_derived}/${g.comparisons} false LIKELY_DERIVED (95% upper ${g.upper95}), SIMILAR ${g.similar_leads}\n`,
    );
  return section;
}

if (args.attacksOnly) {
  const t = performance.now();
  const outcomes = await attackRows();
  lap("attack_rows_s", t);
  cleanup();
  const totalSent = [...adapters.values()].reduce((a, x) => a + x.sent, 0);
  timings.total_s = Number(((performance.now() - t0) / 1000).toFixed(1));
  const report = {
    by_attack: attackSection(outcomes),
    setup: {
      size: args.size,
      panel_size: args.panel,
      seeds: Object.fromEntries(SPLITS.map((s) => [s, popOf(s).seed])),
      attack_splits: args.attackSplits,
      scenarios: args.scenarios ?? SCENARIOS,
      http_requests_sent: totalSent,
      mode: "attacks-only",
    },
    timings,
  };
  process.stdout.write(`Timings (s): ${JSON.stringify(timings)}; HTTP requests sent: ${totalSent}\n`);
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${args.json}`);
  }
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------------
// 4. LSH retrieval on the fingerprints' sketches.
const lshBySplit: Record<string, Omit<ReturnType<typeof evaluateLsh>, "candidates_by_suspect">> = {};
/** Per split and suspect, the member teachers LSH retrieved: the sessions the hub would open. */
const retrievedBySplit = new Map<Split, Readonly<Record<string, readonly string[]>>>();
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
    const { candidates_by_suspect, ...lsh } = evaluateLsh(inputs, pairs, ctx);
    lshBySplit[s] = lsh;
    retrievedBySplit.set(s, candidates_by_suspect);
  }
  lap("lsh_s", t);
}
if (args.lshOnly) {
  cleanup();
  timings.total_s = Number(((performance.now() - t0) / 1000).toFixed(1));
  for (const [s, l] of Object.entries(lshBySplit))
    process.stdout.write(
      `LSH ${s} (design similarity ${l.design_similarity}): recall ${l.positives_retrieved}/${l.positive_pairs} (${l.recall}), ` +
        `${l.recall_at_or_above_design} of the ${l.positive_pairs_at_or_above_design} at/above the design similarity; ` +
        `false-candidate rate ${l.null_candidates}/${l.null_pairs} (${l.false_candidate_rate})\n`,
    );
  process.stdout.write(`Timings (s): ${JSON.stringify(timings)}\n`);
  if (args.json) {
    const setup = {
      size: args.size,
      seeds: Object.fromEntries(SPLITS.map((s) => [s, popOf(s).seed])),
      mode: "lsh-only",
    };
    writeFileSync(
      args.json,
      `${JSON.stringify({ lsh: { by_split: lshBySplit }, setup, timings }, null, 2)}\n`,
    );
    log(`wrote ${args.json}`);
  }
  process.exit(0);
}

// 5. Comparisons through compare(): calibration, freeze, test.
interface Ran {
  readonly split: Split;
  readonly comparison: Comparison;
  readonly result: CompareResult;
  /**
   * The counts the verdict rests on (compare()'s evidence, with the watermark queries step's counts where the
   * member watermarks), with the plan's correction.
   */
  readonly evidence: VerdictEvidence;
  /** Suspect queries the watermark queries step asked in this comparison (0 when it was not needed). */
  readonly stepQueries: number;
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const memberInfo = new Map<string, MemberInfo>(
  SPLITS.flatMap((sp) => popOf(sp).members.map((m): [string, MemberInfo] => [`${sp}/${m.memberId}`, m])),
);

/** A policy as compare()'s knobs (compare() names it: registered id, or `custom`). */
function policyKnobs(p: VerdictPolicy): Partial<Omit<VerdictPolicy, "id">> {
  const { id: _id, ...knobs } = p;
  return knobs;
}

// ---------------------------------------------------------------------------------------------------
// The member node's watermark queries step (issue 11; services/member-node watermark-queries.ts, protocol
// lineage-watermark-queries/3): asked of every suspect as a session asks it, its pairs scored by green mass
// under each watermarking member's key. The ensemble rows read the same counts as the verdicts: what a session
// records, nothing a member node could not do (an earlier bench scored pairs filtered by the member's own
// unwatermarked teacher, which an endpoint serving only its top 20 alternatives cannot support).
/** The step's counts by wmKey (bench/detection/watermark-step.ts); the queries asked per suspect in stepQueriesOf. */
const stepCounts = new Map<string, WatermarkCounts>();
const stepQueriesOf = new Map<string, number>();
const wmKey = (s: Split, suspectId: string, memberKey: string) => `${s}/${suspectId}/${memberKey}`;
let watermarkQueriesSent = 0;
{
  const t = performance.now();
  // Both splits' suspects in one pool: each split's server generates on its own core.
  const bySplit: (() => Promise<void>)[][] = [];
  for (const s of SPLITS) {
    const tasks: (() => Promise<void>)[] = [];
    bySplit.push(tasks);
    const battery = batteries.get(s) as Battery;
    const suspects = [...new Set((plans.get(s) ?? []).map((c) => c.suspectId))];
    const wmMembers = membersFor(s).flatMap((pm) => {
      const m = memberInfo.get(pm.key);
      return m?.watermark ? [{ key: pm.key, wm: m.watermark }] : [];
    });
    for (const id of suspects) {
      tasks.push(async () => {
        const http = new HttpAdapter({
          baseUrl: urls.get(s) as string,
          model: id,
          concurrency: 4,
          timeoutMs: 60_000,
        });
        const step = await askWatermarkStep(http, `${s}/${id}`, battery);
        watermarkQueriesSent += step.queries;
        stepQueriesOf.set(`${s}/${id}`, step.queries);
        for (const m of wmMembers)
          stepCounts.set(wmKey(s, id, m.key), step.pairs.counts(m.wm.key, m.wm.gamma));
      });
    }
  }
  // Interleave the splits so both servers stay busy.
  const tasks = Array.from({ length: Math.max(...bySplit.map((x) => x.length)) }, (_, i) =>
    bySplit.flatMap((x) => (i < x.length ? [x[i] as () => Promise<void>] : [])),
  ).flat();
  const progress = new Progress("extra watermark queries (suspects)", tasks.length);
  await runPool(tasks, Math.max(2, Math.ceil(args.concurrency / 2)), () => progress.tick());
  lap("watermark_queries_s", t);
}

/**
 * A comparison's per-member evidence for attribution: the counts its session records (canary counts, the
 * battery's watermark counts and the watermark queries step's), at comparisons = 1 (Holm across the members).
 */
function ensembleItems(runs: readonly Ran[], policy: VerdictPolicy): EnsembleItem[] {
  return runs.map((r) => {
    const m = memberInfo.get(r.comparison.member.key);
    const evidence: VerdictEvidence = { ...r.evidence, comparisons: 1 };
    return {
      split: r.split,
      comparison: r.comparison,
      watermarks: m?.watermark !== undefined,
      result: deriveVerdict(evidence, policy),
    };
  });
}

async function runSplit(s: Split, policy: VerdictPolicy): Promise<Ran[]> {
  const battery = batteries.get(s) as Battery;
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
        canaries: pairedCanarySet(m, c.member.key),
        ...(m.watermark ? { watermarkKey: m.watermark.key, watermarkGamma: m.watermark.gamma } : {}),
        policy: policyKnobs(policy),
        comparisons: MEMBERS_PER_SUSPECT,
        // The rank test (policy 3): every canary item also scored by the suspect (the testbed serves echo).
        canaryScoring: true,
        seed: fnv(`${s}/${c.suspectId}/${c.member.key}`),
        concurrency: 2,
      });
      const evidence: VerdictEvidence = { ...result.evidence, comparisons: MEMBERS_PER_SUSPECT };
      const step = stepCounts.get(wmKey(s, c.suspectId, c.member.key));
      if (!step || !evidence.watermark) return { split: s, comparison: c, result, evidence, stepQueries: 0 };
      const withStep = await withWatermarkStep(evidence, policy, () => step);
      return {
        split: s,
        comparison: c,
        result,
        evidence: withStep.evidence,
        stepQueries: withStep.asked ? (stepQueriesOf.get(`${s}/${c.suspectId}`) ?? 0) : 0,
      };
    }),
    args.concurrency,
    () => progress.tick(),
  );
}

/** Suspect-side queries of one comparison: battery probes plus canaries asked before the decision. */
const suspectQueries = (r: CompareResult) => r.queries.suspect + r.queries.canaries;

function toOutcome(r: Ran, policy: VerdictPolicy): Outcome {
  const v = deriveVerdict(r.evidence, policy);
  const signals: SignalOutcome[] = [
    ...v.tests.map((t) => ({
      name: t.test,
      available: t.available,
      p_value: t.p_value,
      effect: t.effect,
      detail: {
        adjusted_p: t.adjusted_p,
        ...(t.test === "canary_pairs" && r.evidence.canary
          ? {
              pairs_completed: r.evidence.canary.pairs_completed,
              exposed_only: r.evidence.canary.exposed_only,
              decoy_only: r.evidence.canary.decoy_only,
              exposed_hits: r.evidence.canary.exposed_hits,
              decoy_hits: r.evidence.canary.decoy_hits,
            }
          : {}),
        ...(t.test === "canary_ranks" && r.evidence.canary?.rank_signs !== undefined
          ? {
              scored_pairs: r.evidence.canary.scored_pairs ?? 0,
              ranked_pairs: r.evidence.canary.rank_signs.length,
            }
          : {}),
        ...(t.test === "watermark" && r.evidence.watermark
          ? {
              selected_scored: r.evidence.watermark.selected_scored,
              selected_green: r.evidence.watermark.selected_green,
              all_scored: r.evidence.watermark.all_scored,
              ...(r.evidence.watermark_queries
                ? {
                    step_selected_scored: r.evidence.watermark_queries.selected_scored,
                    step_selected_green: r.evidence.watermark_queries.selected_green,
                    step_all_scored: r.evidence.watermark_queries.all_scored,
                    step_queries: r.stepQueries,
                  }
                : {}),
            }
          : {}),
      },
    })),
    ...(v.lead
      ? [
          {
            name: "similarity_lead",
            available: v.lead.reason === undefined,
            p_value: v.lead.p_value,
            effect: v.lead.score,
            detail: { rank: v.lead.rank, null_size: v.lead.null_size },
          },
        ]
      : []),
  ];
  return {
    split: r.split,
    comparison: r.comparison,
    decision: v.verdict,
    p_value: v.p_value,
    effect: v.effect,
    queries: suspectQueries(r.result) + r.stepQueries,
    signals,
  };
}

/**
 * The policy the bench runs: lineage-policy/3 (policy 2 plus the canary rank test), chosen on the calibration
 * split only (verdict-policy.ts says how); the minimum effect is then frozen on calibration as before.
 */
const basePolicy: VerdictPolicy = VERDICT_POLICY_3;
const policyAt = (minEffect: number): VerdictPolicy =>
  resolvePolicy({ ...basePolicy, min_effect: minEffect });
let frozen: FrozenPolicy;
let calibrationRuns: Ran[];
{
  const t = performance.now();
  calibrationRuns = await runSplit("calibration", basePolicy);
  frozen = freezePolicy(
    calibrationRuns.map((r) => ({
      derived: r.comparison.derived,
      decidedAt: (minEffect: number) =>
        deriveVerdict(r.evidence, policyAt(minEffect)).verdict === "LIKELY_DERIVED",
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
const testPolicy: VerdictPolicy = policyAt(Math.min(1, frozen.minEffect));
let testRuns: Ran[];
{
  const t = performance.now();
  testRuns = await runSplit("test", testPolicy);
  lap("compare_test_s", t);
}
let attackOutcomes: AttackOutcome[] = [];
if (args.attacks.length > 0) {
  const t = performance.now();
  attackOutcomes = await attackRows();
  lap("attack_rows_s", t);
}
cleanup();

// ---------------------------------------------------------------------------------------------------
// 6. Report.
const testOut = testRuns.map((r) => toOutcome(r, testPolicy));
const calOut = calibrationRuns.map((r) => toOutcome(r, testPolicy));
const allOut = [...calOut, ...testOut];
const scenarios = byScenario(testOut, SCENARIOS);
const nulls = nullSection(allOut);
const nullsTest = nullSection(testOut);

// Canary null check: every null comparison with at least one canary hit, its paired counts.
function pairedNulls(runs: readonly Ran[]): PairedNullCounts[] {
  return runs.flatMap((r) => {
    const c = r.evidence.canary;
    if (r.comparison.derived || !c || c.exposed_hits + c.decoy_hits === 0) return [];
    return [
      {
        b: c.exposed_only,
        c: c.decoy_only,
        both: c.exposed_hits - c.exposed_only,
        u: hashUnit(`${r.split}/${r.comparison.suspectId}/${r.comparison.member.key}/mcnemar`),
      },
    ];
  });
}
const nullCanaryRuns = (runs: readonly Ran[]) =>
  runs.filter((r) => !r.comparison.derived && r.evidence.canary);
const hitCoverage = (runs: readonly Ran[]) =>
  canaryHitCoverage(
    nullCanaryRuns(runs).map((r) => ({
      kind: r.comparison.nullKind ?? "negative",
      hits: (r.evidence.canary?.exposed_hits ?? 0) + (r.evidence.canary?.decoy_hits ?? 0),
    })),
  );
const canaryNull = {
  test: {
    null_comparisons_with_canaries: nullCanaryRuns(testRuns).length,
    coverage: hitCoverage(testRuns),
    ...canaryNullCheck(pairedNulls(testRuns)),
  },
  calibration: {
    null_comparisons_with_canaries: nullCanaryRuns(calibrationRuns).length,
    coverage: hitCoverage(calibrationRuns),
    ...canaryNullCheck(pairedNulls(calibrationRuns)),
  },
};

// The rank test's null check, and the member-level pooled check of both canary tests (canary-rank-null.ts):
// per-pair outcomes of each null comparison, re-read from the memoized answers compare() got (the same
// requests: no new query reaches a model).
function rankNulls(runs: readonly Ran[]): RankNullItem[] {
  return runs.flatMap((r) => {
    const c = r.evidence.canary;
    if (r.comparison.derived || c?.rank_signs === undefined) return [];
    return [
      {
        signs: c.rank_signs,
        u: hashUnit(`${r.split}/${r.comparison.suspectId}/${r.comparison.member.key}/ranks`),
      },
    ];
  });
}
async function pairOutcomes(runs: readonly Ran[]): Promise<{ hits: PairOutcomes[]; ranks: PairOutcomes[] }> {
  const hits: PairOutcomes[] = [];
  const ranks: PairOutcomes[] = [];
  for (const r of runs) {
    if (r.comparison.derived || !r.evidence.canary) continue;
    const m = memberInfo.get(r.comparison.member.key);
    if (!m) continue;
    const a = adapter(r.comparison.suspectId);
    const ask = (c: { prompt: string }) =>
      a.generate({
        prompt: c.prompt,
        mode: "chat",
        maxTokens: 64,
        temperature: 0,
        seed: 0,
        topLogprobs: CANARY_TOP_LOGPROBS,
        keepPositions: CANARY_LOGPROB_POSITIONS,
      });
    const score = async (c: { prompt: string; answer: string }) =>
      canaryAnswerScore(
        c,
        await a.generate({
          prompt: canaryScoringPrompt(c).prompt,
          mode: "completion",
          maxTokens: 1,
          temperature: 0,
          seed: 0,
          topLogprobs: 1,
          echo: true,
          keepPositions: 0,
        }),
      );
    const h: number[] = [];
    const k: number[] = [];
    for (const p of pairedCanarySet(m, r.comparison.member.key).pairs) {
      const e = canaryResponseHit(p.exposed.answer, await ask(p.exposed));
      const d = canaryResponseHit(p.decoy.answer, await ask(p.decoy));
      h.push(e === d ? 0 : e ? 1 : -1);
      const se = await score(p.exposed);
      const sd = await score(p.decoy);
      k.push(se === null || sd === null || se === sd ? 0 : se > sd ? 1 : -1);
    }
    hits.push({ member: r.comparison.member.key, outcomes: h });
    ranks.push({ member: r.comparison.member.key, outcomes: k });
  }
  return { hits, ranks };
}
const sentBeforePooling = [...adapters.values()].reduce((a, x) => a + x.sent, 0);
type Pooled = ReturnType<typeof memberPooledCheck>;
const pooled: Record<string, { pair_hits: Pooled; pair_ranks: Pooled } | { error: string }> = {};
for (const [name, runs] of [
  ["test", testRuns],
  ["calibration", calibrationRuns],
] as const) {
  try {
    const { hits, ranks } = await pairOutcomes(runs);
    pooled[name] = {
      pair_hits: memberPooledCheck(hits, (mk) => hashUnit(`${name}/${mk}/pair-hits`)),
      pair_ranks: memberPooledCheck(ranks, (mk) => hashUnit(`${name}/${mk}/pair-ranks`)),
    };
  } catch (e) {
    // The servers are down by now: an answer compare() never asked cannot be re-read. Say so, keep the rest.
    pooled[name] = { error: (e as Error).message };
  }
}
const pooledExtraRequests = [...adapters.values()].reduce((a, x) => a + x.sent, 0) - sentBeforePooling;
const canaryRankNull = {
  test: rankNullCheck(rankNulls(testRuns)),
  calibration: rankNullCheck(rankNulls(calibrationRuns)),
  member_pooled: {
    note:
      "one randomized p-value per member: T = sum over pairs of (exposed-only minus decoy-only suspects) " +
      "[pair_hits], or of (exposed scored higher minus decoy scored higher) [pair_ranks], against its exact law " +
      "under the member's label coins; members' labels are independent, so the KS is exact in law",
    requests_not_cached: pooledExtraRequests,
    ...pooled,
  },
};

// Watermark validity over fresh keys: every test-split suspect that is a null for the watermarked member(s)
// of its split, scored on its battery responses; power with the real key on that member's students.
let watermarkValidity: ReturnType<typeof watermarkKeyCheck> | null = null;
let watermarkPower: Record<string, unknown> | null = null;
{
  const t = performance.now();
  const wmMembers = popOf("test").members.filter((m) => m.watermark);
  const battery = batteries.get("test") as Battery;
  const fps = fingerprints.get("test") as Map<string, Fingerprint>;
  const pairSetOf = (id: string): WatermarkPairSet => {
    const fp = fps.get(id);
    if (!fp) throw new Error(`no fingerprint for ${id}`);
    return WatermarkPairSet.fromResponses(
      battery.probes.flatMap((p) => {
        const r = fp.responses[p.id];
        return r ? [{ prompt: p.prompt, response: r }] : [];
      }),
    );
  };
  const derivedFrom = (id: string, memberId: string) =>
    popOf("test")
      .entries.find((e) => e.id === id)
      ?.members.some((x) => x.memberId === memberId) === true;
  const nullSuspects = new Map<string, ScorablePairs>();
  const gamma = wmMembers[0]?.watermark?.gamma ?? 0.25;
  for (const e of mainEntries("test")) {
    if (wmMembers.every((m) => !derivedFrom(e.id, m.memberId))) nullSuspects.set(e.id, pairSetOf(e.id));
  }
  const test = (c: Parameters<typeof watermarkTest>[0]) => {
    const w = watermarkTest(c, testPolicy);
    return { available: w.available, p: w.p };
  };
  watermarkValidity = watermarkKeyCheck(nullSuspects, freshKeys(VALIDITY_KEYS), gamma, test);
  const power: Record<string, unknown> = {};
  for (const m of wmMembers) {
    const wm = m.watermark;
    if (!wm) continue;
    const students = mainEntries("test").filter(
      (e) => e.role === "positive" && e.members.some((x) => x.memberId === m.memberId),
    );
    const byScen: Record<
      string,
      { students: number; p_le_0_01: number; p_le_1e_6: number; median_p: number | null }
    > = {};
    for (const sc of SCENARIOS) {
      const ps = students
        .filter((e) => e.scenario === sc)
        .map((e) => watermarkTest(pairSetOf(e.id).counts(wm.key, wm.gamma), testPolicy).p);
      if (ps.length === 0) continue;
      const sorted = [...ps].sort((a, b) => a - b);
      byScen[sc] = {
        students: ps.length,
        p_le_0_01: ps.filter((p) => p <= 0.01).length,
        p_le_1e_6: ps.filter((p) => p <= 1e-6).length,
        median_p: sorted[Math.floor(sorted.length / 2)] ?? null,
      };
    }
    // The engine's own verdicts on those (suspect, member) comparisons: the watermark test's adjusted p.
    const viaCompare = testRuns.filter(
      (r) => r.comparison.derived && r.comparison.member.key === `test/${m.memberId}`,
    );
    const decidedByWatermark = viaCompare.filter((r) =>
      deriveVerdict(r.evidence, testPolicy).tests.some(
        (x) =>
          x.test === "watermark" &&
          x.available &&
          x.adjusted_p <= testPolicy.alpha &&
          x.effect >= testPolicy.min_effect,
      ),
    ).length;
    power[`test/${m.memberId}`] = {
      note: "raw watermark test p-values of the member's students' battery responses under the member's real key",
      by_scenario: byScen,
      comparisons: viaCompare.length,
      watermark_test_alone_meets_policy: decidedByWatermark,
    };
  }
  watermarkPower = power;
  lap("watermark_keys_s", t);
}

// Holm attribution across the suspect's members (engine's attributeMembers), next to per-pair verdicts.
function holmAttribution(runs: readonly Ran[], policy: VerdictPolicy) {
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
    const res = attributeMembers(
      list.map((r) => ({
        memberId: r.comparison.member.key,
        // One model per member: the correction across members is attributeMembers' own (Holm).
        result: deriveVerdict({ ...r.evidence, comparisons: 1 }, policy) as VerdictResult,
      })),
      policy,
    );
    for (const a of res) {
      const derived = list.find((r) => r.comparison.member.key === a.memberId)?.comparison.derived === true;
      if (a.verdict === "LIKELY_DERIVED") {
        named++;
        if (derived) correct++;
      }
    }
    truth += list.filter((r) => r.comparison.derived).length;
  }
  return {
    method:
      "engine attributeMembers(): Holm across the members compared, each member's verdict at comparisons = 1",
    named,
    correct,
    true_members: truth,
    precision: named === 0 ? null : Number((correct / named).toFixed(4)),
    recall: truth === 0 ? null : Number((correct / truth).toFixed(4)),
  };
}

const perSignalDeciding: Record<string, number> = {};
for (const r of testRuns) {
  if (!r.comparison.derived) continue;
  const b = deriveVerdict(r.evidence, testPolicy).backed_by;
  if (b) perSignalDeciding[b] = (perSignalDeciding[b] ?? 0) + 1;
}
// Per scenario and accusing test: positives where that test alone meets the frozen policy (in the family).
const perSignalByScenario: Record<string, Record<string, number>> = {};
for (const r of testRuns) {
  if (!r.comparison.derived) continue;
  const key = r.comparison.scenario ?? "?";
  const row = perSignalByScenario[key] ?? {};
  perSignalByScenario[key] = row;
  for (const t of deriveVerdict(r.evidence, testPolicy).tests) {
    if (t.available && t.adjusted_p <= testPolicy.alpha && t.effect >= testPolicy.min_effect)
      row[t.test] = (row[t.test] ?? 0) + 1;
  }
}

/**
 * The multiplicity the protocol applies (DESIGN.md "The match protocol"; match_session.proto `comparisons`:
 * members x models of the scan): the hub opens a session only with each member whose model the suspect's
 * sketch retrieved, and corrects over those sessions. Here: a comparison counts only if LSH retrieved its
 * member's teacher (otherwise no session exists: a positive not retrieved is a miss), and its verdict is
 * re-derived at comparisons = the number of members retrieved for that suspect. Retrieval reads only the
 * battery, never the canary labels or the key, so the tests' nulls hold given the retrieval. The headline
 * figures stay at the bench's fixed MEMBERS_PER_SUSPECT (every member compared: more conservative).
 */
function atRetrievedMultiplicity(runs: readonly Ran[], policy: VerdictPolicy) {
  const rows = runs.map((r) => {
    const cands = retrievedBySplit.get(r.split)?.[r.comparison.suspectId] ?? [];
    const retrieved = cands.includes(r.comparison.member.teacherId);
    const m = Math.max(1, cands.length);
    const v = retrieved ? deriveVerdict({ ...r.evidence, comparisons: m }, policy).verdict : "INCONCLUSIVE";
    return { r, retrieved, m, v };
  });
  const byScen: Record<
    string,
    { positives: number; retrieved: number; detected: number; tpr: number | null }
  > = {};
  for (const sc of SCENARIOS) {
    const xs = rows.filter((x) => x.r.comparison.derived && x.r.comparison.scenario === sc);
    if (xs.length === 0) continue;
    const det = xs.filter((x) => x.v === "LIKELY_DERIVED").length;
    byScen[sc] = {
      positives: xs.length,
      retrieved: xs.filter((x) => x.retrieved).length,
      detected: det,
      tpr: Number((det / xs.length).toFixed(4)),
    };
  }
  const nulls = rows.filter((x) => !x.r.comparison.derived);
  const ms = rows
    .filter((x) => x.retrieved)
    .map((x) => x.m)
    .sort((a, b) => a - b);
  return {
    note: "comparisons = members retrieved by LSH for the suspect (the sessions the hub opens); unretrieved pairs get no session",
    by_scenario: byScen,
    nulls: {
      comparisons: nulls.length,
      retrieved: nulls.filter((x) => x.retrieved).length,
      false_likely_derived: nulls.filter((x) => x.v === "LIKELY_DERIVED").length,
    },
    median_comparisons: ms.length === 0 ? null : ms[Math.floor(ms.length / 2)],
    max_comparisons: ms.length === 0 ? null : ms[ms.length - 1],
  };
}
const retrievedMultiplicity = {
  test: atRetrievedMultiplicity(testRuns, testPolicy),
  calibration: atRetrievedMultiplicity(calibrationRuns, testPolicy),
};

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

// Ensemble attribution (issue 11): every member's own tests at comparisons = 1, Holm across the members.
const ensemblePolicy: VerdictPolicy = testPolicy;
const ensembles = {
  policy_id: ensemblePolicy.id,
  note:
    "per (suspect, member): the counts the member's session records — paired canary counts from compare(), " +
    "its own watermark key over the battery answers and over the watermark queries step's answers (green " +
    "mass, lineage-watermark-queries/3) — at comparisons 1; attributeMembers (Holm) across the members " +
    "compared with the suspect. Shares: the member's share of the blend's distillation queries. Design " +
    "chosen on calibration (bench/detection/green-mass-study.ts); test figures looked at once.",
  watermark_queries: {
    protocol: WATERMARK_QUERIES_PROTOCOL,
    per_suspect: WATERMARK_QUERY_COUNT,
    top_logprobs: WATERMARK_QUERY_TOP,
    temperature: 1,
    sent: watermarkQueriesSent,
  },
  test: ensembleAttribution(ensembleItems(testRuns, ensemblePolicy), ensemblePolicy),
  calibration: ensembleAttribution(ensembleItems(calibrationRuns, ensemblePolicy), ensemblePolicy),
};

const calAtDefault = calibrationRuns.map((r) => toOutcome(r, basePolicy));
const byKindTest = nullsByKind(testOut);
const totalSent = [...adapters.values()].reduce((a, x) => a + x.sent, 0);
timings.total_s = Number(((performance.now() - t0) / 1000).toFixed(1));
const report = {
  policy_alpha: testPolicy.alpha,
  policy_id: testPolicy.id,
  by_scenario: scenarios,
  by_verdict: {
    test: byVerdict(testOut, SCENARIOS),
    calibration: byVerdict(calOut, SCENARIOS),
  },
  null: {
    ...nulls,
    comparisons: nulls.comparisons,
    false_accusations: nulls.false_accusations,
    ks_uniform_p: canaryNull.test.randomized.ks_uniform_p,
    ks_validity_p: nulls.ks_validity_p,
    p_value_note:
      "ks_uniform_p: two-sided KS against U(0,1) of the randomized exact McNemar p-values (P(B>b)+U*P(B=b), " +
      "b | b+c ~ Binomial(b+c, 1/2) under the paired design) of the TEST split's null comparisons with a " +
      "discordant canary pair; canary_null has the enumeration. ks_validity_p: one-sided KS (Birnbaum–Tingey) " +
      "of the verdicts' adjusted p-values over all nulls (super-uniform by design: Bonferroni over the " +
      "accusing tests x members; small only if anti-conservative).",
    nulls_are:
      "every (suspect, member) pair without lineage; the kinds are in bench/detection/plan.ts. Headline " +
      "figures are test_split_only.by_kind: ordinary (same-split) vs foreign (other split's members: " +
      "different seed, facts, canaries and keys; only their guessable canaries can hit). Calibration nulls " +
      "were seen while freezing the policy.",
    test_split_only: {
      comparisons: nullsTest.comparisons,
      false_accusations: nullsTest.false_accusations,
      ks_validity_p: nullsTest.ks_validity_p,
      by_kind: byKindTest,
    },
    calibration_split_only: nullsByKind(calOut),
  },
  canary_null: canaryNull,
  canary_rank_null: canaryRankNull,
  watermark_validity: watermarkValidity,
  watermark_power: watermarkPower,
  attribution: {
    ...attribution(testOut),
    ensembles_only: attribution(testOut, (o) => o.comparison.scenario?.startsWith("ensemble_") === true),
    holm: holmAttribution(testRuns, testPolicy),
  },
  ensembles,
  ...(args.attacks.length > 0 ? { by_attack: attackSection(attackOutcomes) } : {}),
  lsh: lshCombined,
  multiplicity_at_retrieval: retrievedMultiplicity,
  frozen_policy: {
    ...frozen,
    id: testPolicy.id,
    alpha: testPolicy.alpha,
    min_effect: testPolicy.min_effect,
    comparisons: MEMBERS_PER_SUSPECT,
    weights: testPolicy.weights,
    default_policy: basePolicy.id,
    default_min_effect: basePolicy.min_effect,
    frozen_min_effect: frozen.minEffect,
  },
  per_signal: {
    deciding_signal_test_positives: perSignalDeciding,
    alone_meets_policy_by_scenario: perSignalByScenario,
    test_breakdown: signalBreakdown(testOut),
  },
  calibration: {
    note:
      "the calibration split, scored at the engine's default policy (before freezing) and at the frozen one; " +
      "every choice was made here",
    at_default: byScenario(calAtDefault, SCENARIOS),
    at_frozen: byScenario(calOut, SCENARIOS),
    nulls_at_default: nullsByKind(calAtDefault),
    breakdown: signalBreakdown(calOut),
  },
  sequential: {
    note:
      "median_queries = queries to the suspect until the decision: the canary items' scoring queries (asked " +
      "first, with a look of the rank test), their generations (a look of the paired test), the battery probes " +
      "in batches, and the watermark queries step when it is asked; a comparison no look settles pays the whole " +
      "budget (budget_per_comparison, plus the step's 500 queries where the member watermarks)",
    budget_per_comparison:
      (batteries.get("test")?.probes.length ?? 0) +
      4 * (popOf("test").members[0]?.canaries.pairs.length ?? 0),
  },
  setup: {
    size: args.size,
    panel_size: args.panel,
    foreign: args.foreign,
    seeds: Object.fromEntries(SPLITS.map((s) => [s, popOf(s).seed])),
    models: Object.fromEntries(SPLITS.map((s) => [s, mainEntries(s).length])),
    members: Object.fromEntries(
      SPLITS.map((s) => [
        s,
        {
          copied: popOf(s).members.filter((m) => !m.bystander).length,
          bystanders: popOf(s).members.filter((m) => m.bystander).length,
        },
      ]),
    ),
    canary_labels:
      "per pair, SHA-256 of a per-split checkpoint stand-in and the pair id (libs/testbed pair-labels.ts, " +
      "local stand-in for libs/crypto canaryPairLabels)",
    probes: Object.fromEntries(SPLITS.map((s) => [s, popOf(s).probes.length])),
    comparisons: Object.fromEntries(SPLITS.map((s) => [s, plans.get(s)?.length ?? 0])),
    http_requests_sent: totalSent,
    transport: "engine HttpAdapter -> testbed OpenAI-compatible server in a child process per split",
  },
  timings,
};

const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
const pctU = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(2)}%`);
process.stdout.write(
  `\nDetection on the test split (seed ${popOf("test").seed}; policy ${testPolicy.id}, alpha ${testPolicy.alpha}, min effect ${testPolicy.min_effect}, frozen on calibration)\n\n`,
);
process.stdout.write(`${scenarioTable(scenarios, TARGETS)}\n\n`);
{
  const v = report.by_verdict.test;
  process.stdout.write(
    `Verdicts (test): positives ${JSON.stringify(v.positives)}; nulls ${JSON.stringify(v.nulls)}\n`,
  );
  process.stdout.write(
    "Nulls (test split only), false LIKELY_DERIVED / comparisons, 95% upper bound, false leads:\n",
  );
  const row = (name: string, g: (typeof byKindTest)["ordinary"]) =>
    `  ${name.padEnd(22)} ${String(g.false_likely_derived).padStart(3)} / ${String(g.comparisons).padEnd(5)} <= ${pctU(g.false_accusation_upper95).padStart(7)}   SIMILAR ${g.false_leads}\n`;
  process.stdout.write(row("ordinary (same split)", byKindTest.ordinary));
  for (const [k, g] of Object.entries(byKindTest.by_kind)) process.stdout.write(row(`  ${k}`, g));
  process.stdout.write(row("foreign (other split)", byKindTest.foreign));
  process.stdout.write(row("all", byKindTest.all));
  const cv = report.by_verdict.calibration;
  process.stdout.write(
    `Calibration split: nulls ${JSON.stringify(cv.nulls)}; positives ${JSON.stringify(cv.positives)}\n`,
  );
}
process.stdout.write(`${formatCanaryNull("test", canaryNull.test, canaryNull.test.coverage)}\n`);
process.stdout.write(
  "  (comparisons against one member share its labels: each comparison's law is exact, pooled KS and level tails are indicative)\n",
);
{
  const rt = canaryRankNull.test;
  const ks = (split: string, which: "pair_hits" | "pair_ranks") => {
    const x = pooled[split];
    if (!x || "error" in x) return `unavailable (${x?.error ?? "not run"})`;
    return `${x[which].members} members, KS p = ${x[which].randomized.ks_uniform_p}`;
  };
  process.stdout.write(
    `Canary rank null (test): ${rt.with_ranked} / ${rt.comparisons} null comparisons with a ranked pair; randomized signed-rank KS p = ${rt.randomized.ks_uniform_p}; min exact p = ${rt.min_exact_p}; levels ${JSON.stringify(rt.levels)}\n` +
      `  member-level pooled (independent units): test pair_hits ${ks("test", "pair_hits")}, pair_ranks ${ks("test", "pair_ranks")}; ` +
      `calibration pair_hits ${ks("calibration", "pair_hits")}, pair_ranks ${ks("calibration", "pair_ranks")}\n`,
  );
}
if (watermarkValidity) {
  const w = watermarkValidity;
  process.stdout.write(
    `Watermark validity: ${w.suspects} null suspects x ${w.keys} fresh keys: share p <= 0.01 ${w.share_at_or_below_0_01}, ` +
      `<= 0.05 ${w.share_at_or_below_0_05}; pooled one-sided KS p = ${w.pooled.ks_validity_p}; randomized selected-pairs KS p = ` +
      `${w.randomized_selected.ks_uniform_p}; per-suspect KS min ${w.per_suspect_ks.min} (Bonferroni ${w.per_suspect_ks.min_bonferroni})\n`,
  );
  process.stdout.write(`Watermark power (real key): ${JSON.stringify(watermarkPower)}\n`);
}
process.stdout.write(
  `Attribution (test positives): precision ${pct(report.attribution.precision)}, recall ${pct(report.attribution.recall)}; ` +
    `ensembles: precision ${pct(report.attribution.ensembles_only.precision)}, recall ${pct(report.attribution.ensembles_only.recall)}; ` +
    `Holm: precision ${pct(report.attribution.holm.precision)}, recall ${pct(report.attribution.holm.recall)}\n`,
);
{
  const e = ensembles.test;
  const ci = (r: { tpr_ci95: readonly [number, number] | null }) =>
    r.tpr_ci95 === null ? "" : ` [${pct(r.tpr_ci95[0])}, ${pct(r.tpr_ci95[1])}]`;
  process.stdout.write(
    `Ensembles (test; ${ensembles.watermark_queries.per_suspect} extra watermark queries per suspect, Holm across members, policy ${ensemblePolicy.id}):\n`,
  );
  for (const [share, r] of Object.entries(e.by_share)) {
    process.stdout.write(
      `  share ${share.padEnd(5)} ${String(r.named).padStart(3)} / ${String(r.members).padEnd(3)} ${pct(r.tpr)}${ci(r)}; watermarking ${r.watermarking.named}/${r.watermarking.members}${ci(r.watermarking)}, control ${r.control.named}/${r.control.members}; decided by ${JSON.stringify(r.decided_by)}\n`,
    );
  }
  process.stdout.write(
    `  nulls: ${e.nulls.false_likely_derived} false attributions / ${e.nulls.comparisons} (95% upper ${pctU(e.nulls.false_accusation_upper95)}; ordinary ${e.nulls.ordinary.false_likely_derived}/${e.nulls.ordinary.comparisons}, in blends ${e.nulls.in_ensembles.false_likely_derived}/${e.nulls.in_ensembles.comparisons}); shared violations ${JSON.stringify(e.shared_violations)}\n`,
  );
}
process.stdout.write(
  `LSH (design similarity ${LSH_V1.designSimilarity}): recall ${pct(lshCombined.recall)} over ${lshCombined.positive_pairs} positive pairs ` +
    `(${pct(lshCombined.recall_at_or_above_design)} of the ${lshCombined.positive_pairs_at_or_above_design} at/above the design similarity), ` +
    `false-candidate rate ${pct(lshCombined.false_candidate_rate)} over ${lshCombined.null_pairs} null pairs\n`,
);
process.stdout.write(
  `At the protocol's multiplicity (members retrieved per suspect, median ${retrievedMultiplicity.test.median_comparisons}): ` +
    `test ${JSON.stringify(retrievedMultiplicity.test.by_scenario)}; nulls ${JSON.stringify(retrievedMultiplicity.test.nulls)}\n`,
);
process.stdout.write(`Timings (s): ${JSON.stringify(timings)}; HTTP requests sent: ${totalSent}\n`);
if (args.json) {
  writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${args.json}`);
}
process.exit(0);
