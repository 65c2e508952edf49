/**
 * Start-up benchmark (issue 12, "Services and the lineage command run compiled JavaScript"):
 *
 *   npm run bench:startup [-- --runs N] [--json FILE] [--no-build]
 *
 * Rebuilds the compiled bundle (services/cli/bin/build.mjs --bundle-only) unless --no-build, then times
 * `lineage --help` as a user runs it (node services/cli/bin/lineage.js --help, a fresh process each time, wall clock from
 * spawn to exit) N times each:
 *   help_ms          the compiled bundle chosen by the launcher's freshness check (it must be: the run fails
 *                    if the launcher reports it ran the sources)
 *   help_ms_source   the TypeScript sources through tsx (LINEAGE_USE_DIST=0), what every call cost before
 *   check_ms         the launcher's freshness check alone (stat of every source entry), as it reports it
 *   node_ms          `node -e 0`, the floor
 *   *_cpu_ms         user+sys CPU time of the same runs (Linux: the children's times in /proc/self/stat, 10 ms
 *                    ticks), which other processes on a shared machine inflate far less than wall clock
 * Each figure is the median; *_p90 and the machine's load average are printed alongside.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = fileURLToPath(new URL("../services/cli/bin/lineage.js", import.meta.url));
const buildScript = fileURLToPath(new URL("../services/cli/bin/build.mjs", import.meta.url));

function parseArgs(argv: readonly string[]): { runs: number; json: string | undefined; build: boolean } {
  let runs = 7;
  let json: string | undefined;
  let build = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--runs") {
      const v = argv[++i];
      if (v === undefined || !/^[1-9]\d{0,3}$/.test(v))
        throw new Error(`--runs needs a whole number 1..9999, got ${v}`);
      runs = Number(v);
    } else if (a === "--json") {
      json = argv[++i];
      if (json === undefined || json === "") throw new Error("--json needs a file name");
    } else if (a === "--no-build") build = false;
    else throw new Error(`unknown argument ${a} (expected --runs N, --json FILE, --no-build)`);
  }
  return { runs, json, build };
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

/** CPU ms used by this process's waited-for children so far (cutime + cstime), or NaN off Linux. */
function childrenCpuMs(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 16 and 17 of proc(5); `fields` starts at field 3. Clock ticks are 100 per second on Linux.
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** Runs `node args` with `env` added; returns wall and CPU ms and stderr. Fails on a non-zero exit. */
function timeRun(
  args: readonly string[],
  env: Record<string, string>,
): { ms: number; cpu: number; stderr: string } {
  const c0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { ms, cpu: childrenCpuMs() - c0, stderr: r.stderr };
}

const opts = parseArgs(process.argv.slice(2));
if (opts.build) {
  const r = spawnSync(process.execPath, [buildScript, "--bundle-only"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  process.stderr.write(r.stdout);
}

const compiled: number[] = [];
const compiledCpu: number[] = [];
const check: number[] = [];
const source: number[] = [];
const sourceCpu: number[] = [];
const floor: number[] = [];
for (let i = 0; i < opts.runs; i++) {
  const c = timeRun([bin, "--help"], { LINEAGE_TRACE_STARTUP: "1" });
  const m = /lineage: running (compiled|source) \(freshness check ([\d.]+) ms\)/.exec(c.stderr);
  if (!m) throw new Error(`the launcher did not report its choice: ${c.stderr}`);
  if (m[1] !== "compiled") {
    throw new Error(
      "the launcher ran the sources: a source is newer than the bundle (edited during the run?)",
    );
  }
  compiled.push(c.ms);
  compiledCpu.push(c.cpu);
  check.push(Number(m[2]));
  const s = timeRun([bin, "--help"], { LINEAGE_USE_DIST: "0" });
  source.push(s.ms);
  sourceCpu.push(s.cpu);
  floor.push(timeRun(["-e", "0"], {}).ms);
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const result = {
  help_ms: r1(quantile(compiled, 0.5)),
  help_ms_source: r1(quantile(source, 0.5)),
  check_ms: r1(quantile(check, 0.5)),
  node_ms: r1(quantile(floor, 0.5)),
  help_cpu_ms: r1(quantile(compiledCpu, 0.5)),
  help_cpu_ms_source: r1(quantile(sourceCpu, 0.5)),
  help_ms_p90: r1(quantile(compiled, 0.9)),
  help_ms_source_p90: r1(quantile(source, 0.9)),
  runs: opts.runs,
  loadavg_1m: r1(loadavg()[0] ?? 0),
  target_help_ms: 300,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
