/**
 * Measures the population build: `node --conditions=lineage-source --import tsx libs/testbed/bench/build-population.ts
 * [--size full|small] [--cache DIR] [--cold]`. Builds calibration then test, prints a table and a JSON line
 * with wall-clock and CPU seconds and the composition of each split. `--cold` uses a fresh temporary cache.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildPopulation, type PopulationSize, type Split } from "../src/index.js";

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const size = (opt("--size") ?? "full") as PopulationSize;
if (size !== "full" && size !== "small") throw new Error("--size must be full or small");
const cold = args.includes("--cold");
const tmp = cold ? mkdtempSync(join(tmpdir(), "lineage-testbed-bench-")) : undefined;
const cacheDir = tmp ?? opt("--cache");

const result: Record<string, unknown> = { size, cold };
for (const pass of cold ? ["cold", "warm"] : ["run"]) {
  for (const split of ["calibration", "test"] as Split[]) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const pop = await buildPopulation({ split, size, ...(cacheDir ? { cacheDir } : {}) });
    const cpu = process.cpuUsage(c0);
    const wall = (performance.now() - t0) / 1000;
    const composition: Record<string, number> = {};
    for (const e of pop.entries) {
      const k = e.scenario ?? e.role;
      composition[k] = (composition[k] ?? 0) + 1;
    }
    const row = {
      wall_s: Number(wall.toFixed(2)),
      cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
      models: pop.entries.length,
      trained: pop.stats.modelsTrained,
      probes: pop.probes.length,
      canaries_per_member: pop.members[0]?.canaries.exposed.length ?? 0,
      composition,
    };
    result[`${pass}_${split}`] = row;
    console.log(
      `${pass.padEnd(5)} ${split.padEnd(12)} wall ${row.wall_s}s cpu ${row.cpu_s}s models ${row.models} (trained ${row.trained}) probes ${row.probes}`,
    );
  }
}
console.log(JSON.stringify(result));
if (tmp) rmSync(tmp, { recursive: true, force: true });
