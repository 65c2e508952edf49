/**
 * `lineage compare`: forensic comparison of a suspect with a reference model against a panel of
 * unrelated models, from live endpoints or replay files, decided by the shared verdict module
 * (LIKELY_DERIVED | SIMILAR | INCONCLUSIVE; DESIGN.md "Deciding copied: who chose the null?"). The human
 * output names the models compared, the verdict, what backs it (or why nothing does), the similarity rank
 * in words and the policy. `--policy ID` binds any registered policy (default lineage-policy/3); a registered
 * policy other than the default is named as such, and a knob that moves the numbers off every registered
 * policy makes it `custom`, with a loud line: a forensic run may turn knobs, but a reader must see that it did. Exit 0 whenever the comparison ran,
 * whatever the verdict; 2 for bad input (named), 3 when an endpoint or file is unreachable. Progress on
 * stderr; the result on stdout (JSON with --json).
 */
import { resolve } from "node:path";
import {
  ACCUSING_TESTS,
  type AccusingTest,
  type Battery,
  type CanarySet,
  type CompareResult,
  compare,
  DEFAULT_VERDICT_POLICY,
  type ModelAdapter,
  parseBattery,
  parseCanarySet,
  ReplayAdapter,
  VERDICT_POLICIES,
  type VerdictPolicy,
} from "@lineage/fingerprint";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, intOpt, numberOpt, requiredStringOpt, stringListOpt, stringOpt } from "../option-values.js";
import { checkDistinctModels, cliErrorFrom, openModel, readTextFile } from "./model-spec.js";

async function readJson(path: string, what: string): Promise<unknown> {
  const text = await readTextFile(path, what);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CliError("invalid_argument", `${what} ${path} is not valid JSON`, { cause });
  }
}

/** With no --battery, replay comparisons use the reference's recorded prompts as open probes. */
function batteryFromReplay(ref: ModelAdapter): Battery | null {
  if (!(ref instanceof ReplayAdapter)) return null;
  const probes = ref.records().map((r) => ({ id: r.id, kind: "open" as const, prompt: r.prompt }));
  return probes.length > 0 ? { epoch: "replay", probes } : null;
}

function parseHexKey(hex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2}){16,64}$/.test(hex)) {
    throw new CliError(
      "invalid_argument",
      "--watermark-key-env must name a variable holding 32-128 hex digits",
    );
  }
  return Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
}

/**
 * The registered policy `--policy` names (default DEFAULT_VERDICT_POLICY); an unknown id is refused with the
 * list of registered ones.
 */
export function basePolicy(inv: Invocation): VerdictPolicy {
  const id = stringOpt(inv, "policy");
  if (id === undefined) return DEFAULT_VERDICT_POLICY;
  const p = VERDICT_POLICIES.get(id);
  if (!p)
    throw new CliError(
      "invalid_argument",
      `lineage compare: --policy '${id.slice(0, 64)}' is not a registered policy; registered: ${[...VERDICT_POLICIES.keys()].join(", ")} (default ${DEFAULT_VERDICT_POLICY.id})`,
    );
  return p;
}

/** Policy overrides a forensic run may set; numbers that match no registered policy make it `custom`. */
export type PolicyOverrides = { -readonly [K in keyof Omit<VerdictPolicy, "id">]?: VerdictPolicy[K] };

/**
 * Reads the policy knobs (`--alpha`, `--min-effect`, `--lead-alpha`, `--min-canary-pairs`,
 * `--min-watermark-pairs`, `--min-lead-null`, `--weight TEST=W`) into policy overrides. Ranges are checked
 * here, naming the flag; the verdict module checks the policy as a whole again.
 */
export function policyOverrides(
  inv: Invocation,
  base: VerdictPolicy = DEFAULT_VERDICT_POLICY,
): PolicyOverrides {
  const o: PolicyOverrides = {};
  const alpha = numberOpt(inv, "alpha", { min: 1e-300, max: 0.5 });
  if (alpha !== undefined) o.alpha = alpha;
  const minEffect = numberOpt(inv, "min-effect", { min: 0, max: 1 });
  if (minEffect !== undefined) o.min_effect = minEffect;
  const leadAlpha = numberOpt(inv, "lead-alpha", { min: 1e-300, max: 0.5 });
  if (leadAlpha !== undefined) o.lead_alpha = leadAlpha;
  const minPairs = intOpt(inv, "min-canary-pairs", { min: 1, max: 1_000_000 });
  if (minPairs !== undefined) o.min_canary_pairs = minPairs;
  const minWm = intOpt(inv, "min-watermark-pairs", { min: 1, max: 1_000_000 });
  if (minWm !== undefined) o.min_watermark_pairs = minWm;
  const minNull = intOpt(inv, "min-lead-null", { min: 1, max: 1_000_000 });
  if (minNull !== undefined) o.min_lead_null = minNull;
  const weights = stringListOpt(inv, "weight");
  if (weights.length > 0) {
    const w: Partial<Record<AccusingTest, number>> = {};
    for (const raw of weights) {
      const m = /^([a-z_]+)=(.+)$/.exec(raw);
      const name = m?.[1] as AccusingTest | undefined;
      const value = Number(m?.[2]);
      if (!m || !name || !ACCUSING_TESTS.includes(name)) {
        throw new CliError(
          "invalid_argument",
          `lineage compare: --weight must be TEST=W with TEST one of ${ACCUSING_TESTS.join(", ")}, got '${raw}'`,
        );
      }
      if (!(Number.isFinite(value) && value > 0 && value <= 1e6))
        throw new CliError(
          "invalid_argument",
          `lineage compare: --weight ${name} must be in (0, 1e6], got '${m[2]}'`,
        );
      if (w[name] !== undefined)
        throw new CliError("invalid_argument", `lineage compare: --weight ${name} is given twice`);
      w[name] = value;
    }
    // Each --weight changes one test's weight; the others keep the bound policy's (dropping a test from the
    // family would shrink the correction, which no flag should do silently).
    o.weights = { ...base.weights, ...w };
  }
  return o;
}

const KNOB_FLAGS: Readonly<Record<keyof PolicyOverrides, string>> = {
  alpha: "--alpha",
  min_effect: "--min-effect",
  lead_alpha: "--lead-alpha",
  min_canary_pairs: "--min-canary-pairs",
  min_watermark_pairs: "--min-watermark-pairs",
  min_lead_null: "--min-lead-null",
  weights: "--weight",
};

function fmtNum(x: number): string {
  return Number.isInteger(x) || (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6) ? String(x) : x.toExponential(1);
}

function fmtP(p: number | null): string {
  if (p === null) return "n/a";
  return p >= 1e-3 ? p.toPrecision(2) : p.toExponential(1);
}

function fmtWeights(w: VerdictPolicy["weights"]): string {
  return Object.entries(w)
    .map(([k, v]) => `${k}=${fmtNum(v as number)}`)
    .join(",");
}

/**
 * The knobs in which `policy` differs from `base` (the registered policy the run started from, default the
 * default policy), as "flag value (base-id value)".
 */
export function policyChanges(policy: VerdictPolicy, base: VerdictPolicy = DEFAULT_VERDICT_POLICY): string[] {
  const d = base;
  const out: string[] = [];
  for (const k of Object.keys(KNOB_FLAGS) as (keyof PolicyOverrides)[]) {
    if (k === "weights") {
      if (fmtWeights(policy.weights) !== fmtWeights(d.weights))
        out.push(`--weight ${fmtWeights(policy.weights)} (${d.id}: ${fmtWeights(d.weights)})`);
    } else if (policy[k] !== d[k])
      out.push(`${KNOB_FLAGS[k]} ${fmtNum(policy[k])} (${d.id}: ${fmtNum(d[k])})`);
  }
  return out;
}

const TEST_WORDS: Readonly<Record<string, string>> = {
  canary_pairs: "the paired canary test",
  canary_ranks: "the paired canary rank test (the suspect's log-probabilities of the canary answers)",
  watermark: "the watermark test",
  canary_watermark: "the combined canary and watermark test",
  similarity_lead: "a similarity lead (ranked against unrelated models; never an accusation)",
};

/** The models as the user named them, for the report. */
export interface ComparedModels {
  readonly suspect: string;
  readonly reference: string;
  readonly panel: readonly string[];
  /** The --canaries file, when given: its pair labels are the user's, which the report says. */
  readonly canaries?: string;
  /** The registered policy the run started from (`--policy`; default the default policy). */
  readonly basePolicy?: VerdictPolicy;
}

/**
 * The human report of a comparison: which models, the verdict and what backs it, the similarity rank in
 * words, every accusing test and signal (unavailable ones with their reason), the policy (and, loudly, any
 * knob that moved it off the default), and the query count. Pure, so tests read exactly what users read.
 */
export function renderCompare(r: CompareResult, models: ComparedModels): string {
  const lines: string[] = [];
  lines.push(`suspect:   ${models.suspect}`);
  lines.push(`reference: ${models.reference}`);
  lines.push(
    `panel:     ${models.panel.length} unrelated model${models.panel.length === 1 ? "" : "s"}: ${models.panel.join(", ")}`,
  );
  lines.push("");
  if (!r.policy_registered) {
    const base = models.basePolicy ?? DEFAULT_VERDICT_POLICY;
    lines.push(
      `NON-DEFAULT POLICY (forensic use only): ${policyChanges(r.policy, base).join("; ") || "custom numbers"}`,
    );
    lines.push(
      "  a match session would not reach this verdict; the hub refuses a policy that is not registered",
    );
  }
  lines.push(`verdict:   ${r.verdict}`);
  lines.push(
    `backed by: ${r.backed_by === null ? "nothing (see below)" : (TEST_WORDS[r.backed_by] ?? r.backed_by)}`,
  );
  lines.push(`  ${r.explanation}`);
  const lead = r.lead_rank;
  if (lead) {
    const where = `closer to the reference than ${lead.rank} of ${lead.null_size} unrelated pair${lead.null_size === 1 ? "" : "s"}`;
    const status = lead.is_lead
      ? `a lead (rank p ${fmtP(lead.p_value)} <= ${fmtNum(r.policy.lead_alpha)}; estimated false-lead rate ${(lead.false_lead_rate * 100).toFixed(1)}%)`
      : lead.reason
        ? `not a lead: ${lead.reason}`
        : `not a lead (rank p ${fmtP(lead.p_value)} > ${fmtNum(r.policy.lead_alpha)})`;
    lines.push(`similarity: ${where} (lead score ${lead.score.toFixed(3)}); ${status}`);
  } else if (r.lead_score !== null) {
    lines.push(`similarity: lead score ${r.lead_score.toFixed(3)}, not ranked against unrelated pairs`);
  } else {
    const why = r.signals.find((s) => s.role === "lead" && !s.available)?.reason;
    lines.push(`similarity: not measured${why ? `: ${why}` : " (the similarity signals could not run)"}`);
  }
  lines.push("tests that can accuse:");
  if (r.tests.length === 0)
    lines.push("  none bound (no --canaries, no --watermark-key-env): nothing can back LIKELY_DERIVED");
  for (const t of r.tests) {
    const name = t.test.padEnd(18);
    if (!t.available) {
      lines.push(`  ${name} did not run: ${t.reason ?? "unavailable"}`);
      continue;
    }
    let counts = "";
    const c = r.evidence.canary;
    const w = r.evidence.watermark;
    if (t.test === "canary_pairs" && c)
      counts = `; ${c.exposed_only} exposed-only vs ${c.decoy_only} decoy-only of ${c.pairs_completed} completed pairs`;
    if (t.test === "canary_ranks" && c?.rank_signs !== undefined) {
      const e = [...c.rank_signs].filter((x) => x === "E").length;
      counts = `; exposed scored higher in ${e} of ${c.rank_signs.length} ranked pairs (${c.scored_pairs ?? 0} scored)`;
    }
    if (t.test === "watermark" && w)
      counts = `; ${w.selected_green} of ${w.selected_scored} selected pairs green (gamma ${w.gamma})`;
    lines.push(
      `  ${name} adjusted p ${fmtP(t.adjusted_p)} (raw ${fmtP(t.p_value)} x ${fmtNum(Number(t.factor.toPrecision(4)))}), effect ${t.effect.toFixed(2)}${counts}`,
    );
  }
  if (models.canaries && r.evidence.canary)
    lines.push(
      `  canary pair labels as given in ${models.canaries}; in a match session they are drawn from the log, not chosen by anyone`,
    );
  lines.push("signals:");
  for (const s of r.signals) {
    const name = s.name.padEnd(22);
    const role = `[${s.role}]`.padEnd(11);
    lines.push(
      s.available
        ? `  ${name}${role}p ${fmtP(s.p_value)}${s.effect === null ? "" : `  effect ${s.effect.toFixed(3)}`}`
        : `  ${name}${role}unavailable: ${s.reason ?? "no reason given"}`,
    );
  }
  const pol = r.policy;
  const standing = r.policy_is_default
    ? "(default)"
    : r.policy_registered
      ? `(registered, not the default ${DEFAULT_VERDICT_POLICY.id})`
      : `(custom numbers, registered in no policy; the default is ${DEFAULT_VERDICT_POLICY.id})`;
  lines.push(
    `policy:    ${pol.id} ${standing}: alpha ${fmtNum(pol.alpha)}, min effect ${fmtNum(pol.min_effect)}, lead alpha ${fmtNum(pol.lead_alpha)}, weights ${fmtWeights(pol.weights)}`,
  );
  const q = r.queries;
  lines.push(
    `queries:   ${q.total} (suspect ${q.suspect}, reference ${q.reference}, panel ${q.panel}, canaries ${q.canaries}); probes used ${r.probes_used}${r.stopped_early ? " (stopped early)" : ""}; seed ${r.bound.seed}`,
  );
  return `${lines.join("\n")}\n`;
}

export const compareCommand: Command = {
  name: "compare",
  summary: "Compare a suspect model with a reference model against a panel of unrelated models.",
  description:
    "Models: replay:FILE (JSONL of {id, prompt, output[, top_logprobs]}, .gz ok) or\n" +
    "http(s)://HOST:PORT/v1?model=NAME (OpenAI-compatible); each model at most once. Formats and sample\n" +
    "files: README 'Input formats' and examples/. Verdict: LIKELY_DERIVED (backed by the canary or\n" +
    "watermark test only), SIMILAR (a similarity lead ranked against unrelated models; never an\n" +
    "accusation) or INCONCLUSIVE (never 'clean'). --policy binds a registered policy (default\n" +
    `${DEFAULT_VERDICT_POLICY.id}, which also asks each canary item as a scoring query for the rank test).\n` +
    "Policy knobs are for forensic use: any that moves the policy off every registered policy is\n" +
    "reported as NON-DEFAULT POLICY (custom).\n" +
    "Exit 0 whenever the comparison ran, 2 on bad input, 3 when a model is unreachable.",
  options: {
    suspect: { type: "string", valueName: "model", required: true, description: "The suspect model" },
    reference: {
      type: "string",
      valueName: "model",
      required: true,
      description: "The member's reference model",
    },
    panel: { type: "string", valueName: "model", multiple: true, description: "An unrelated model" },
    battery: {
      type: "string",
      valueName: "file",
      description: "Battery JSON {epoch, probes} (default: replay prompts)",
    },
    canaries: {
      type: "string",
      valueName: "file",
      description: "The reference member's canary pairs JSON {member_id, pairs}",
    },
    "watermark-key-env": {
      type: "string",
      valueName: "var",
      description: "Env var holding the member's watermark key (hex)",
    },
    policy: {
      type: "string",
      valueName: "id",
      description: `Registered policy to bind: ${[...VERDICT_POLICIES.keys()].join(", ")} (default ${DEFAULT_VERDICT_POLICY.id})`,
    },
    alpha: { type: "string", valueName: "p", description: "Policy: level of LIKELY_DERIVED (default 1e-6)" },
    "min-effect": {
      type: "string",
      valueName: "x",
      description: "Policy: least effect of a deciding test (default 0.1)",
    },
    "lead-alpha": {
      type: "string",
      valueName: "p",
      description: "Policy: rank p-value of a similarity lead (default 0.05)",
    },
    "min-canary-pairs": {
      type: "string",
      valueName: "n",
      description: "Policy: completed canary pairs the canary test needs (default 8)",
    },
    "min-watermark-pairs": {
      type: "string",
      valueName: "n",
      description: "Policy: scored pairs the watermark test needs (default 50)",
    },
    "min-lead-null": {
      type: "string",
      valueName: "n",
      description: "Policy: unrelated pairs a lead is ranked against, at least (default 19)",
    },
    weight: {
      type: "string",
      valueName: "test=w",
      multiple: true,
      description: `Policy: change one accusing test's weight, the others keep theirs (default ${fmtWeights(DEFAULT_VERDICT_POLICY.weights)})`,
    },
    comparisons: { type: "string", valueName: "n", description: "Hypotheses compared together (default 1)" },
    fixed: { type: "boolean", description: "One fixed-size look instead of sequential stopping" },
    "max-probes": { type: "string", valueName: "n", description: "Probe budget (default: whole battery)" },
    "batch-size": { type: "string", valueName: "n", description: "Probes per sequential look (default 50)" },
    seed: { type: "string", valueName: "n", description: "Seed of the probe order (default 1)" },
    "timeout-ms": { type: "string", valueName: "ms", description: "Per-request timeout for endpoints" },
    concurrency: {
      type: "string",
      valueName: "n",
      description: "Requests in flight per endpoint (default 4)",
    },
    "api-key-env": {
      type: "string",
      valueName: "var",
      description: "Env var holding the endpoints' API key",
    },
  },
  run: async (inv: Invocation) => {
    const cwd = inv.io.cwd;
    const keyEnv = stringOpt(inv, "api-key-env");
    const apiKey = keyEnv ? inv.io.env[keyEnv] : undefined;
    if (keyEnv && !apiKey) throw new CliError("invalid_argument", `--api-key-env: ${keyEnv} is not set`);
    const timeoutMs = intOpt(inv, "timeout-ms", { min: 1, max: 600_000 });
    const concurrency = intOpt(inv, "concurrency", { min: 1, max: 64 });
    const ep = {
      ...(apiKey ? { apiKey } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
    };
    const panelSpecs = stringListOpt(inv, "panel");
    if (panelSpecs.length === 0)
      throw new CliError("usage", "lineage compare: give at least one --panel model");
    if (panelSpecs.length > 64)
      throw new CliError("invalid_argument", "lineage compare: at most 64 --panel models");
    const suspectSpec = requiredStringOpt(inv, "suspect");
    const referenceSpec = requiredStringOpt(inv, "reference");
    await checkDistinctModels(
      [
        { flag: "suspect", spec: suspectSpec },
        { flag: "reference", spec: referenceSpec },
        ...panelSpecs.map((spec) => ({ flag: "panel", spec })),
      ],
      cwd,
    );
    const suspect = await openModel(suspectSpec, "suspect", cwd, ep);
    const reference = await openModel(referenceSpec, "reference", cwd, ep);
    const panel: ModelAdapter[] = [];
    for (const p of panelSpecs) panel.push(await openModel(p, "panel", cwd, ep));
    const batteryPath = stringOpt(inv, "battery");
    let battery: Battery | null;
    try {
      battery = batteryPath
        ? parseBattery(await readJson(resolve(cwd, batteryPath), "--battery"))
        : batteryFromReplay(reference);
    } catch (e) {
      throw cliErrorFrom(e, "--battery");
    }
    if (!battery)
      throw new CliError(
        "usage",
        "lineage compare: --battery is required unless --reference is a replay file",
      );
    const canPath = stringOpt(inv, "canaries");
    let canaries: CanarySet | undefined;
    try {
      if (canPath) canaries = parseCanarySet(await readJson(resolve(cwd, canPath), "--canaries"));
    } catch (e) {
      throw cliErrorFrom(e, "--canaries");
    }
    const wmEnv = stringOpt(inv, "watermark-key-env");
    const wmHex = wmEnv ? inv.io.env[wmEnv] : undefined;
    if (wmEnv && !wmHex) throw new CliError("invalid_argument", `--watermark-key-env: ${wmEnv} is not set`);
    const maxProbes = intOpt(inv, "max-probes", { min: 1, max: 1_000_000 });
    const batchSize = intOpt(inv, "batch-size", { min: 1, max: 100_000 });
    const base = basePolicy(inv);
    const policy = policyOverrides(inv, base);
    const comparisons = intOpt(inv, "comparisons", { min: 1, max: 1_000_000 });
    const seed = intOpt(inv, "seed", { min: 0, max: 2 ** 31 - 1 });
    let lastPct = -1;
    let result: CompareResult;
    try {
      result = await compare({
        suspect,
        reference,
        panel,
        battery,
        ...(canaries ? { canaries } : {}),
        ...(wmHex ? { watermarkKey: parseHexKey(wmHex) } : {}),
        policyId: base.id,
        policy,
        ...(comparisons !== undefined ? { comparisons } : {}),
        sequential:
          inv.options.fixed === true
            ? false
            : {
                ...(maxProbes !== undefined ? { maxProbes } : {}),
                ...(batchSize !== undefined ? { batchSize } : {}),
              },
        ...(seed !== undefined ? { seed } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(inv.io.signal ? { signal: inv.io.signal } : {}),
        onProgress: (p) => {
          const pct = Math.floor((100 * p.done) / Math.max(1, p.total));
          if (pct !== lastPct) {
            lastPct = pct;
            inv.io.stderr.write(`\rcomparing: ${p.done}/${p.total} queries (${pct}%)`);
          }
        },
      });
    } catch (e) {
      inv.io.stderr.write("\n");
      throw cliErrorFrom(e, "lineage compare");
    }
    inv.io.stderr.write(`\rcomparing: done${" ".repeat(30)}\n`);
    emit(
      inv,
      result,
      renderCompare(result, {
        suspect: suspectSpec,
        reference: referenceSpec,
        panel: panelSpecs,
        ...(canPath ? { canaries: canPath } : {}),
        basePolicy: base,
      }),
    );
    return EXIT.ok;
  },
};
