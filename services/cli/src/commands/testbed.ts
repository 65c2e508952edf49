/**
 * `lineage testbed ...`: the population of small language models with known lineage, served the way
 * real suspects are served (OpenAI-compatible HTTP with log-probabilities), for trying the engine and
 * for the benchmarks.
 */
import { resolve } from "node:path";
import {
  type BuildProgress,
  buildPopulation,
  type Population,
  serveTestbedPopulation,
} from "@lineage/testbed";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation, OptionSpec } from "../command.js";
import { choiceOpt, emit, intOpt, stringOpt } from "../option-values.js";

const populationFlags: Readonly<Record<string, OptionSpec>> = {
  split: { type: "string", valueName: "name", default: "test", description: "calibration or test" },
  size: { type: "string", valueName: "size", default: "small", description: "small (quick) or full" },
  "cache-dir": {
    type: "string",
    valueName: "dir",
    description: "Trained-model cache (default .cache/testbed)",
  },
};

function populationOptions(inv: Invocation) {
  const split = choiceOpt(inv, "split", ["calibration", "test"] as const, "test") ?? "test";
  const size = choiceOpt(inv, "size", ["small", "full"] as const, "small") ?? "small";
  const cacheDir = stringOpt(inv, "cache-dir");
  const onProgress = (p: BuildProgress) => {
    if (p.phase === "model")
      inv.io.stderr.write(`\rbuilding ${split} population: ${p.done}/${p.total} models`);
    if (p.phase === "done") inv.io.stderr.write(`\rbuilding ${split} population: done${" ".repeat(20)}\n`);
  };
  return {
    split,
    size,
    ...(cacheDir !== undefined ? { cacheDir: resolve(inv.io.cwd, cacheDir) } : {}),
    onProgress,
  };
}

function describe(pop: Population) {
  return pop.entries.map((e) => ({
    id: e.id,
    role: e.role,
    ...(e.scenario ? { scenario: e.scenario } : {}),
    members: e.members.map((m) => ({ member_id: m.memberId, share: m.share })),
  }));
}

const list: Command = {
  name: "list",
  summary: "List the population's models with their ground-truth lineage.",
  options: populationFlags,
  run: async (inv) => {
    const pop = await buildPopulation(populationOptions(inv));
    const rows = describe(pop);
    const human = rows
      .map(
        (r) =>
          `${r.id.padEnd(28)} ${r.role.padEnd(18)} ${(r.scenario ?? "").padEnd(15)} ${r.members.map((m) => `${m.member_id}:${m.share}`).join(",")}`,
      )
      .join("\n");
    emit(inv, { split: pop.split, size: pop.size, models: rows, probes: pop.probes.length }, human);
    return EXIT.ok;
  },
};

const serve: Command = {
  name: "serve",
  summary: "Serve the population on an OpenAI-compatible HTTP API until interrupted.",
  description:
    "Endpoints: GET /v1/models, POST /v1/chat/completions, POST /v1/completions (with logprobs).\n" +
    "Binds 127.0.0.1 by default; the models are test fixtures, not a public service.",
  options: {
    ...populationFlags,
    host: { type: "string", valueName: "addr", default: "127.0.0.1", description: "Address to bind" },
    port: { type: "string", valueName: "n", default: "8089", description: "Port (0 = any free port)" },
  },
  run: async (inv) => {
    const port = intOpt(inv, "port", { min: 0, max: 65535 }, 8089) ?? 8089;
    const host = stringOpt(inv, "host") ?? "127.0.0.1";
    let server: Awaited<ReturnType<typeof serveTestbedPopulation>>;
    try {
      server = await serveTestbedPopulation({ ...populationOptions(inv), host, port });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
        throw new CliError(
          "unavailable",
          `lineage testbed serve: cannot listen on ${host}:${port} (${code})`,
          { cause: err },
        );
      }
      throw err;
    }
    emit(
      inv,
      { url: server.url, models: describe(server.population) },
      `serving ${server.population.entries.length} models at ${server.url}/v1 (Ctrl-C to stop)`,
    );
    await new Promise<void>((done) => {
      if (!inv.io.signal) return; // no way to be interrupted: serve until the process is killed
      if (inv.io.signal.aborted) done();
      inv.io.signal.addEventListener("abort", () => done(), { once: true });
    });
    await server.close();
    inv.io.stderr.write("testbed server stopped\n");
    return EXIT.ok;
  },
};

export const testbed: Command = {
  name: "testbed",
  summary: "Small language models with known lineage, for trying and benchmarking the engine.",
  subcommands: [list, serve],
};
