/**
 * Start-up benchmark (issue 12, "Services and the lineage command run compiled JavaScript built at install
 * time; target: `--help` in under 0.3 s, and a service restart in under a second before it serves"):
 *
 *   npm run bench:startup [-- --runs N] [--restarts N] [--json FILE] [--no-build] [--no-help] [--no-restart]
 *                            [--backends postgres,pglite] [--services hub,member] [--log-entries N] [--sketches N]
 *                            [--cpu-prof DIR]
 *
 * Rebuilds the compiled bundle (services/cli/bin/build.mjs --bundle-only) unless --no-build, then:
 *
 * 1. `lineage --help` as a user runs it (node services/cli/bin/lineage.js --help, a fresh process each time, wall
 *    clock from spawn to exit) N times (--runs, default 7) each:
 *   help_ms          the compiled bundle chosen by the launcher's freshness check (it must be: the run fails
 *                    if the launcher reports it ran the sources)
 *   help_ms_source   the TypeScript sources through tsx (LINEAGE_USE_DIST=0), what every call cost before
 *   check_ms         the launcher's freshness check alone (stat of every source entry), as it reports it
 *   node_ms          `node -e 0`, the floor
 *   *_cpu_ms         user+sys CPU time of the same runs (Linux: the children's times in /proc/self/stat, 10 ms
 *                    ticks), which other processes on a shared machine inflate far less than wall clock
 *
 * 2. Restart to serving, per service and backend (`restart.<service>_<backend>`): the compiled bundle
 *    (LINEAGE_USE_DIST=1: other work on the sources must not switch it to tsx mid-run) started as an operator
 *    starts it, on a store that already holds data, timed from spawn until its gRPC port answers a real call
 *    without credentials (Hub.GetCheckpoint, MemberNode.GetNodeInfo); then SIGTERM and a clean exit.
 *    - hub serve: a hub key file (mode 0600); the log holding --log-entries member enrolments (default 1000,
 *      appended through the hub's TransparencyLog before the first start, checkpointed as a live hub does)
 *      and an epoch; --sketches member-signed sketches (default 2000) uploaded to the first start over
 *      Hub.UploadSketches, as member nodes send them. In-process bus, plaintext on loopback.
 *    - member serve: `lineage member init` (key and config), a battery file and epoch key, so the epoch
 *      watcher runs; no hub configured.
 *    - backends: Postgres (LINEAGE_TEST_PG_URL, a throw-away schema, dropped at the end) and the embedded
 *      PGlite folder.
 *    A first start (untimed: it migrates/initialises whatever the populate step did not) precedes --restarts
 *    timed restarts (default 5); restart_ms is their median, with min and max. LINEAGE_TRACE_STARTUP=1 makes
 *    each service print its start-up phases (ms since its process started); their medians are reported per
 *    phase. --cpu-prof DIR writes a V8 CPU profile of each timed restart there.
 *
 * Each figure is the median; the machine's load average (1 min) is printed at the start and the end of each
 * part: the machine is shared, and a start-up is mostly one CPU core's work.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { Hub, MemberNode, UploadSketchesRequestSchema } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { COARSE_BANDS, PROBE_BANDS, type Sketch } from "@lineage/fingerprint";
import { EpochStore, TransparencyLog } from "@lineage/hub";
import { createClient, insecureChannelCredentials } from "@lineage/rpc";
import {
  DEFAULT_TEST_PG_URL,
  type HubDatabase,
  hubMigrations,
  openStore,
  type StoreOptions,
} from "@lineage/store";
import { sql } from "kysely";
import {
  type BenchMember,
  benchMember,
  childrenCpuMs,
  createBenchEpoch,
  enrolment,
  loadAverage1m,
  nextHeader,
  processCpuMs,
  quantile,
  signedSketch,
  xorshift32,
} from "./hub-bench-kit.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = fileURLToPath(new URL("../services/cli/bin/lineage.js", import.meta.url));
const buildScript = fileURLToPath(new URL("../services/cli/bin/build.mjs", import.meta.url));

type Service = "hub" | "member";
type Backend = "postgres" | "pglite";

interface Options {
  runs: number;
  restarts: number;
  json: string | undefined;
  build: boolean;
  help: boolean;
  restart: boolean;
  backends: Backend[];
  services: Service[];
  logEntries: number;
  sketches: number;
  cpuProf: string | undefined;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    runs: 7,
    restarts: 5,
    json: undefined,
    build: true,
    help: true,
    restart: true,
    backends: ["postgres", "pglite"],
    services: ["hub", "member"],
    logEntries: 1000,
    sketches: 2000,
    cpuProf: undefined,
  };
  const count = (name: string, v: string | undefined, min: number, max: number): number => {
    if (v === undefined || !/^\d{1,7}$/.test(v) || Number(v) < min || Number(v) > max)
      throw new Error(`${name} needs a whole number ${min}..${max}, got ${v}`);
    return Number(v);
  };
  const list = <T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T[] => {
    const items = (v ?? "").split(",").filter((x) => x !== "");
    if (items.length === 0 || items.some((x) => !allowed.includes(x as T)))
      throw new Error(`${name} takes a comma-separated list of ${allowed.join(", ")}, got ${v}`);
    return items as T[];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--runs") o.runs = count(a, argv[++i], 1, 9999);
    else if (a === "--restarts") o.restarts = count(a, argv[++i], 1, 999);
    else if (a === "--log-entries") o.logEntries = count(a, argv[++i], 0, 1_000_000);
    else if (a === "--sketches") o.sketches = count(a, argv[++i], 0, 1_000_000);
    else if (a === "--backends") o.backends = list(a, argv[++i], ["postgres", "pglite"] as const);
    else if (a === "--services") o.services = list(a, argv[++i], ["hub", "member"] as const);
    else if (a === "--json") {
      o.json = argv[++i];
      if (o.json === undefined || o.json === "") throw new Error("--json needs a file name");
    } else if (a === "--cpu-prof") {
      o.cpuProf = argv[++i];
      if (o.cpuProf === undefined || o.cpuProf === "") throw new Error("--cpu-prof needs a folder");
    } else if (a === "--no-build") o.build = false;
    else if (a === "--no-help") o.help = false;
    else if (a === "--no-restart") o.restart = false;
    else throw new Error(`unknown argument ${a} (see the header of bench/startup.ts)`);
  }
  return o;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const load1 = () => r1(loadAverage1m());

/** Runs `node args` with `env` added; returns wall and CPU ms and stderr. Fails on a non-zero exit. */
function timeRun(
  args: readonly string[],
  env: Record<string, string>,
  cwd = root,
): { ms: number; cpu: number; stdout: string; stderr: string } {
  const c0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { ms, cpu: childrenCpuMs() - c0, stdout: r.stdout, stderr: r.stderr };
}

// ---- 1. lineage --help ----------------------------------------------------------------------------------

function benchHelp(runs: number): Record<string, number> {
  const compiled: number[] = [];
  const compiledCpu: number[] = [];
  const check: number[] = [];
  const source: number[] = [];
  const sourceCpu: number[] = [];
  const floor: number[] = [];
  const loadBefore = load1();
  for (let i = 0; i < runs; i++) {
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
  return {
    help_ms: r1(quantile(compiled, 0.5)),
    help_ms_source: r1(quantile(source, 0.5)),
    check_ms: r1(quantile(check, 0.5)),
    node_ms: r1(quantile(floor, 0.5)),
    help_cpu_ms: r1(quantile(compiledCpu, 0.5)),
    help_cpu_ms_source: r1(quantile(sourceCpu, 0.5)),
    help_ms_p90: r1(quantile(compiled, 0.9)),
    help_ms_source_p90: r1(quantile(source, 0.9)),
    runs,
    loadavg_1m_before: loadBefore,
    loadavg_1m: load1(),
    target_help_ms: 300,
  };
}

// ---- 2. restart to serving ------------------------------------------------------------------------------

const ORIGIN = "bench.lineage/startup";
const EPOCH_ID = "bench-startup-epoch";
const PROBES = 8;
const pgUrl = process.env.LINEAGE_TEST_PG_URL || DEFAULT_TEST_PG_URL;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a !== null ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

const rng = (seed: number) => xorshift32(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b));

/** A synthetic sketch of the version-1 shape (random digests: unrelated models). */
function sketchOf(seed: number): Sketch {
  const r = rng(seed);
  const coarse = new Uint8Array(COARSE_BANDS * 8);
  const dv = new DataView(coarse.buffer);
  for (let o = 0; o < coarse.length; o += 4) dv.setUint32(o, r());
  const probes = Array.from({ length: PROBES }, (_, i) => String(i))
    .sort()
    .map((probeId) => {
      const bands = new Uint8Array(PROBE_BANDS * 4);
      const pv = new DataView(bands.buffer);
      for (let o = 0; o < bands.length; o += 4) pv.setUint32(o, r());
      return { probeId, empty: false, bands };
    });
  return { version: 1, epochId: EPOCH_ID, coarse, simhash: null, probes, wrongAnswers: [] };
}

/**
 * Fills a hub's log the way a running hub would have: `entries` enrolments (appended in concurrent groups, so
 * the log batches and checkpoints them as under load), and an epoch. Returns the members (their keys sign
 * the sketches uploaded next).
 */
async function populateHubLog(
  opts: StoreOptions,
  hubKey: Ed25519PrivateKey,
  entries: number,
): Promise<BenchMember[]> {
  const store = await openStore<HubDatabase>(opts);
  const members: BenchMember[] = [];
  try {
    await store.migrate(hubMigrations);
    const log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
    try {
      for (let i = 0; i < Math.max(entries, 1); i += 100) {
        const group = Array.from({ length: Math.min(100, Math.max(entries, 1) - i) }, (_, j) =>
          benchMember(`member-${i + j}`),
        );
        members.push(...group);
        await Promise.all(group.map((m) => log.appendMembership(enrolment(m))));
      }
      await log.checkpoint();
    } finally {
      await log.close();
    }
    await createBenchEpoch(new EpochStore(store, hubKey), EPOCH_ID, PROBES);
  } finally {
    await store.close();
  }
  return members;
}

/**
 * Uploads `count` member-signed sketches to the running hub at `address` (Hub.UploadSketches, as member nodes
 * do: each message's header and envelope signed by its member), 500 per call, spread over the members.
 */
async function uploadSketches(address: string, members: BenchMember[], count: number): Promise<void> {
  const client = createClient(Hub, address, insecureChannelCredentials(), { defaultTimeoutMs: 120_000 });
  try {
    const createdAt = Date.now();
    for (let i = 0, call = 0; i < count; i += 500, call++) {
      const m = members[call % members.length] as BenchMember;
      const batch = Array.from({ length: Math.min(500, count - i) }, (_, j) => {
        const model = { memberId: m.id, modelId: `model-${i + j}`, modelVersion: "1" };
        const sketch = signedSketch(m.key, sketchOf(i + j + 1), model, createdAt).envelope;
        const header = nextHeader(
          m,
          UploadSketchesRequestSchema,
          create(UploadSketchesRequestSchema, { sketch }),
        );
        return create(UploadSketchesRequestSchema, { header, sketch });
      });
      const r = await client.uploadSketches(
        (async function* () {
          yield* batch;
        })(),
      );
      if (r.accepted !== batch.length)
        throw new Error(`bench/startup: the hub indexed ${r.accepted} of ${batch.length} sketches`);
    }
  } finally {
    client.close();
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (polled every 5 ms). */
async function portOpen(port: number, child: ChildProcess, deadline: number): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited ${child.exitCode} before serving`);
    if (performance.now() > deadline) throw new Error("the service did not listen in time");
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface StartTiming {
  /** Spawn to the first successful gRPC call. */
  ms: number;
  /** CPU time (user + system) the service process used until then: what other load inflates far less. */
  cpuMs: number;
  /** Start-up phases the service traced (ms since its process started). */
  phases: Record<string, number>;
  /** CPU ms the service had used at the end of each phase. */
  phasesCpu: Record<string, number>;
}

/**
 * Spawns `lineage args`, waits until `call` succeeds on its port, stops it with SIGTERM and waits for a clean
 * exit (an embedded folder's lock is released only then).
 */
async function timeStart(
  args: readonly string[],
  cwd: string,
  port: number,
  call: (address: string) => Promise<void>,
  env: Record<string, string>,
  cpuProf: string | undefined,
  whileServing?: (address: string) => Promise<void>,
): Promise<StartTiming> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [...(cpuProf === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${cpuProf}`]), bin, ...args],
    {
      cwd,
      env: { ...process.env, LINEAGE_USE_DIST: "1", LINEAGE_TRACE_STARTUP: "1", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let ms: number;
  let cpuMs: number;
  try {
    const deadline = t0 + 120_000;
    await portOpen(port, child, deadline);
    // The port answers from the moment it listens; a real call proves the service behind it serves.
    for (;;) {
      try {
        await call(`127.0.0.1:${port}`);
        break;
      } catch (err) {
        if (performance.now() > deadline || child.exitCode !== null) throw err;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    ms = performance.now() - t0;
    cpuMs = processCpuMs(child.pid) ?? Number.NaN;
    await whileServing?.(`127.0.0.1:${port}`);
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`lineage ${args.slice(0, 2).join(" ")}: ${(err as Error).message}\n${stderr}`);
  }
  child.kill("SIGTERM");
  const code = await exited;
  if (code !== 0) throw new Error(`lineage ${args.slice(0, 2).join(" ")} exited ${code}:\n${stderr}`);
  if (!stderr.includes("lineage: running compiled"))
    throw new Error(`lineage ${args.slice(0, 2).join(" ")} did not run the compiled bundle:\n${stderr}`);
  const phases: Record<string, number> = {};
  const phasesCpu: Record<string, number> = {};
  for (const m of stderr.matchAll(/^lineage: startup ([a-z_]+) ([\d.]+) ms cpu ([\d.]+) ms$/gm)) {
    phases[m[1] as string] = Number(m[2]);
    phasesCpu[m[1] as string] = Number(m[3]);
  }
  return { ms, cpuMs, phases, phasesCpu };
}

const getCheckpoint = async (address: string) => {
  const c = createClient(Hub, address, insecureChannelCredentials(), { defaultTimeoutMs: 5000 });
  try {
    const r = await c.getCheckpoint({});
    if (r.checkpoint === undefined) throw new Error("GetCheckpoint answered without a checkpoint");
  } finally {
    c.close();
  }
};

const getNodeInfo = async (address: string) => {
  const c = createClient(MemberNode, address, insecureChannelCredentials(), { defaultTimeoutMs: 5000 });
  try {
    const r = await c.getNodeInfo({});
    if (r.memberId !== "bench-startup") throw new Error(`GetNodeInfo answered member ${r.memberId}`);
  } finally {
    c.close();
  }
};

interface RestartResult {
  restart_ms: number;
  /** Median CPU time of the service process until it served (10 ms ticks). */
  restart_cpu_ms: number;
  restart_ms_min: number;
  restart_ms_max: number;
  first_start_ms: number;
  /** Median ms since process start at which each traced phase ended. */
  phases_ms: Record<string, number>;
  /** Median CPU ms the service had used when each traced phase ended. */
  phases_cpu_ms: Record<string, number>;
  restarts: number;
  data: Record<string, number>;
  loadavg_1m_before: number;
  loadavg_1m: number;
}

async function benchRestart(service: Service, backend: Backend, o: Options): Promise<RestartResult> {
  const dir = mkdtempSync(join(tmpdir(), `lineage-startup-${service}-`));
  const schema = `bench_startup_${service}_${randomBytes(4).toString("hex")}`;
  const port = await freePort();
  let args: string[];
  let env: Record<string, string> = {};
  let call: (address: string) => Promise<void>;
  let data: Record<string, number>;
  let members: BenchMember[] = [];
  try {
    if (service === "hub") {
      const hubKey = Ed25519PrivateKey.generate();
      writeFileSync(join(dir, "hub.pem"), hubKey.toPem(), { mode: 0o600 });
      const storeOpts: StoreOptions =
        backend === "postgres"
          ? { kind: "postgres", url: pgUrl, schema }
          : { kind: "pglite", dataDir: join(dir, "hubdata") };
      process.stderr.write(`bench/startup: hub on ${backend}: logging ${o.logEntries} enrolments\n`);
      members = await populateHubLog(storeOpts, hubKey, o.logEntries);
      args = [
        "hub",
        "serve",
        "--key",
        "hub.pem",
        "--origin",
        ORIGIN,
        ...(backend === "postgres" ? ["--pg", pgUrl, "--schema", schema] : ["--data-dir", "hubdata"]),
        "--listen",
        `127.0.0.1:${port}`,
      ];
      call = getCheckpoint;
      data = { log_entries: o.logEntries, sketches: o.sketches };
    } else {
      writeFileSync(join(dir, "epoch.key"), `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
      timeRun(
        [
          bin,
          "member",
          "init",
          "--member-id",
          "bench-startup",
          "--dir",
          "member",
          "--listen",
          `127.0.0.1:${port}`,
          "--battery",
          join(root, "examples/battery.json"),
          "--epoch-key",
          "epoch.key",
          ...(backend === "postgres" ? ["--pg", pgUrl] : []),
        ],
        { LINEAGE_USE_DIST: "1" },
        dir,
      );
      args = ["member", "serve", "--config", "member/member-node.json"];
      if (backend === "postgres") env = { LINEAGE_MEMBER_PG_SCHEMA: schema };
      call = getNodeInfo;
      data = {};
    }
    process.stderr.write(`bench/startup: ${service} serve on ${backend}: first start\n`);
    const first = await timeStart(args, dir, port, call, env, undefined, async (address) => {
      if (service !== "hub" || o.sketches === 0) return;
      process.stderr.write(`bench/startup: uploading ${o.sketches} sketches to the hub\n`);
      await uploadSketches(address, members, o.sketches);
    });
    const loadBefore = load1();
    const runs: StartTiming[] = [];
    for (let i = 0; i < o.restarts; i++) runs.push(await timeStart(args, dir, port, call, env, o.cpuProf));
    const ms = runs.map((r) => r.ms);
    const phaseNames = [...new Set(runs.flatMap((r) => Object.keys(r.phases)))];
    const median = (key: "phases" | "phasesCpu") =>
      Object.fromEntries(
        phaseNames
          .map(
            (p) =>
              [
                p,
                r1(
                  quantile(
                    runs.map((r) => r[key][p] ?? Number.NaN),
                    0.5,
                  ),
                ),
              ] as const,
          )
          .sort((x, y) => x[1] - y[1]),
      );
    const phases_ms = median("phases");
    const phases_cpu_ms = median("phasesCpu");
    return {
      restart_ms: r1(quantile(ms, 0.5)),
      restart_cpu_ms: r1(
        quantile(
          runs.map((r) => r.cpuMs),
          0.5,
        ),
      ),
      restart_ms_min: r1(Math.min(...ms)),
      restart_ms_max: r1(Math.max(...ms)),
      first_start_ms: r1(first.ms),
      phases_ms,
      phases_cpu_ms,
      restarts: o.restarts,
      data,
      loadavg_1m_before: loadBefore,
      loadavg_1m: load1(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (backend === "postgres") {
      const admin = await openStore({ kind: "postgres", url: pgUrl });
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(admin.db).catch(() => undefined);
      await admin.close();
    }
  }
}

const opts = parseArgs(process.argv.slice(2));
if (opts.build) {
  const r = spawnSync(process.execPath, [buildScript, "--bundle-only"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  process.stderr.write(r.stdout);
}

const result: Record<string, unknown> = {};
if (opts.help) Object.assign(result, benchHelp(opts.runs));
if (opts.restart) {
  const restart: Record<string, RestartResult> = {};
  for (const service of opts.services)
    for (const backend of opts.backends) {
      const r = await benchRestart(service, backend, opts);
      restart[`${service}_${backend}`] = r;
      process.stderr.write(
        `bench/startup: ${service} serve on ${backend}: restart ${r.restart_ms} ms, CPU ${r.restart_cpu_ms} ms (min ${r.restart_ms_min}, max ${r.restart_ms_max}; first start ${r.first_start_ms}; load ${r.loadavg_1m_before}->${r.loadavg_1m})\n  phases (wall ms) ${JSON.stringify(r.phases_ms)}\n  phases (CPU ms)  ${JSON.stringify(r.phases_cpu_ms)}\n`,
      );
    }
  result.restart = restart;
  result.target_restart_ms = 1000;
}
process.stdout.write(`${JSON.stringify(result)}\n`);
if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
