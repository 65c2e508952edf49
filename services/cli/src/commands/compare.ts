/**
 * `lineage compare`: forensic comparison of a suspect with a reference model against a panel of
 * unrelated models (issue 3), from live endpoints or replay files. Exit 0 whenever the comparison ran,
 * whatever the decision; 2 for bad input (named), 3 when an endpoint or file is unreachable. Progress on
 * stderr; the result on stdout (JSON with --json).
 */
import { resolve } from "node:path";
import {
  type Battery,
  type CanarySet,
  compare,
  type ModelAdapter,
  parseBattery,
  parseCanarySet,
  ReplayAdapter,
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

export const compareCommand: Command = {
  name: "compare",
  summary: "Compare a suspect model with a reference model against a panel of unrelated models.",
  description:
    "Models: replay:FILE (JSONL of {id, prompt, output[, top_logprobs]}, .gz ok) or\n" +
    "http(s)://HOST:PORT/v1?model=NAME (OpenAI-compatible). Decision: LIKELY_DERIVED or INCONCLUSIVE.\n" +
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
    canaries: { type: "string", valueName: "file", description: "The reference member's canary set JSON" },
    "watermark-key-env": {
      type: "string",
      valueName: "var",
      description: "Env var holding the member's watermark key (hex)",
    },
    alpha: { type: "string", valueName: "p", description: "Decision level (default 1e-6)" },
    "min-effect": { type: "string", valueName: "x", description: "Minimum effect size (default 0.1)" },
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
    const alpha = numberOpt(inv, "alpha", { min: 1e-300, max: 0.5 });
    const minEffect = numberOpt(inv, "min-effect", { min: 0, max: 1 });
    const comparisons = intOpt(inv, "comparisons", { min: 1, max: 1_000_000 });
    const seed = intOpt(inv, "seed", { min: 0, max: 2 ** 31 - 1 });
    let lastPct = -1;
    let result: Awaited<ReturnType<typeof compare>>;
    try {
      result = await compare({
        suspect,
        reference,
        panel,
        battery,
        ...(canaries ? { canaries } : {}),
        ...(wmHex ? { watermarkKey: parseHexKey(wmHex) } : {}),
        policy: {
          ...(alpha !== undefined ? { alpha } : {}),
          ...(minEffect !== undefined ? { min_effect: minEffect } : {}),
          ...(comparisons !== undefined ? { comparisons } : {}),
        },
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
    const human = [
      `decision: ${result.decision}  p=${result.p_value.toExponential(2)}  effect=${result.effect_size.toFixed(3)}`,
      ...result.signals.map((s) =>
        s.available
          ? `  ${s.name.padEnd(22)} p=${s.p_value.toExponential(2)} effect=${s.effect.toFixed(3)}`
          : `  ${s.name.padEnd(22)} unavailable: ${s.reason ?? ""}`,
      ),
      `queries: ${result.queries.total} (suspect ${result.queries.suspect}, canaries ${result.queries.canaries}); probes used ${result.probes_used}${result.stopped_early ? " (stopped early)" : ""}`,
    ].join("\n");
    emit(inv, result, human);
    return EXIT.ok;
  },
};
