/**
 * Benchmark of the hub's sketch ingestion and candidate retrieval (issue 10).
 *
 *   npm run bench:hub -- [--json FILE] [--models N] [--ingest K] [--probes P] [--queries Q]
 *                        [--unrelated-jaccard J] [--workers W] [--pglite] [--in-process] [--no-release]
 *                        [--detail-budget-mb MB]
 *
 * 1. Ingestion (timed): K member-signed SketchAnnouncements (real Ed25519 header and DSSE signatures,
 *    made beforehand OUTSIDE the timing: signing is the members' cost) are published into a JetStream
 *    stream; then W hub ingestion replicas (default 2; separate processes, bench/hub-worker.ts, each with its
 *    own database pool and NATS connection — in this process with --one-process or without Postgres+NATS)
 *    share one durable consumer and drain it: each message is verified (header and envelope signatures
 *    under the logged keys, membership, epoch, sizes), committed to Postgres in batches (replay claims,
 *    sketch rows) and acked. ingest_sketches_per_s = K / (first pull .. last commit).
 * 2. Fill: the remaining N - K models are committed through the same batch commit (sketch-store.ts)
 *    without NATS and without signatures (the index never re-verifies), only to reach N indexed models.
 * 3. Index: the in-memory band index is rebuilt from Postgres (as on start-up), timed.
 * 4. Lookups (timed per query): Q suspects, half derived from a random indexed model (25% of its coarse
 *    bands and per-probe digests inherited: a distilled copy), half unrelated; retrieveCandidates with
 *    limit 10 (coarse band counting over all N models, then the top 40 compared probe by probe from the
 *    per-probe detail held in memory — read from Postgres beyond --detail-budget-mb, default 512). lookup_p50_ms / lookup_p99_ms, and the derived suspects' recall@10 as a check.
 * Synthetic sketches: sketch version 1 shapes (512 coarse bands of 8 bytes, 32 per-probe digests of 4 bytes
 * for each of P probes, default 8), unrelated models sharing a Jaccard of about J (default 0.05, inside
 * the 0.03-0.12 unrelated real models show, lsh-params.ts) through frequent per-band digests, so each
 * query's buckets hold ~J x N models per band as on real text.
 * 5. Release -> alert (untimed set-up, then timed; bench/hub-release.ts, skipped with --no-release): a member's
 *    SubmitSuspect of a copy of its model -> scan, retrieval, session with a real member node, attestation,
 *    the alert on the bus; release_to_alert_ms is that wall time less the models' inference time.
 * Runs on the test Postgres (LINEAGE_TEST_PG_URL) in a throw-away
 * schema and on NATS (LINEAGE_TEST_NATS_URL) in a throw-away stream; falls back to PGlite / the in-process
 * bus (with a note) when unreachable or asked to.
 */

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { create, toBinary } from "@bufbuild/protobuf";
import { DsseEnvelopeSchema, SketchAnnouncementSchema, SketchSchema } from "@lineage/api";
import { type Bus, connectNatsBus, createInProcessBus } from "@lineage/bus";
import { Ed25519PrivateKey, sha256, toHex } from "@lineage/crypto";
import { COARSE_BANDS, PROBE_BANDS, type Sketch } from "@lineage/fingerprint";
import {
  EpochStore,
  logMemberDirectory,
  type PendingSketch,
  SKETCH_PAYLOAD_TYPE,
  SketchIngestor,
  SketchRetriever,
  SketchStore,
  sketchToProto,
  startSketchConsumer,
  TransparencyLog,
} from "@lineage/hub";
import {
  DEFAULT_TEST_PG_URL,
  type HubDatabase,
  hubMigrations,
  openStore,
  openTestStore,
  postgresTestTarget,
  type Store,
} from "@lineage/store";
import { sql } from "kysely";
import {
  benchMember,
  createBenchEpoch,
  enrolment,
  loadAverage1m,
  nextHeader,
  processCpuMs,
  quantile,
  signedSketch,
  xorshift32,
} from "./hub-bench-kit.js";
import { measureReleaseToAlert, type ReleaseToAlert } from "./hub-release.js";

const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) {
    console.error(`bench/hub: ${name} needs a value`);
    process.exit(2);
  }
  return v;
}
function intFlag(name: string, dflt: number, min: number, max: number): number {
  const raw = flag(name);
  const v = raw === undefined ? dflt : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(Number.isInteger(v) && v >= min && v <= max)) {
    console.error(`bench/hub: ${name} must be an integer in ${min}..${max}`);
    process.exit(2);
  }
  return v;
}
const jsonFile = flag("--json");
const MODELS = intFlag("--models", 100_000, 100, 1_000_000);
const INGEST = intFlag("--ingest", Math.min(20_000, MODELS), 10, MODELS);
const PROBES = intFlag("--probes", 8, 1, 4096);
const QUERIES = intFlag("--queries", 500, 10, 100_000);
const WORKERS = intFlag("--workers", 2, 1, 8);
const jRaw = flag("--unrelated-jaccard") ?? "0.05";
const UNRELATED_J = Number(jRaw);
if (!(/^0?\.\d+$/.test(jRaw) && UNRELATED_J > 0 && UNRELATED_J <= 0.5)) {
  console.error("bench/hub: --unrelated-jaccard must be a number in (0, 0.5]");
  process.exit(2);
}
// Unrelated models agree on a band when both drew a frequent digest (probability q each) and the same one
// of POOL: J = q^2 / POOL.
const POOL = 2;
const COMMON_Q = Math.sqrt(UNRELATED_J * POOL);
const EPOCH_ID = "bench-epoch";
const MEMBERS = 16;
const notes: string[] = [];

function rng(seed: number): () => number {
  const x = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  const y = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return xorshift32(y ^ (y >>> 16));
}

/** Model i's synthetic sketch (deterministic), or a copy of `parent` inheriting a fraction of its digests. */
function sketchOf(seed: number, parent?: Sketch, inherit = 0): Sketch {
  const r = rng(seed);
  const unit = () => r() / 4294967296;
  const coarse = new Uint8Array(COARSE_BANDS * 8);
  const dv = new DataView(coarse.buffer);
  for (let b = 0; b < COARSE_BANDS; b++) {
    if (parent !== undefined && unit() < inherit) coarse.set(parent.coarse.subarray(b * 8, b * 8 + 8), b * 8);
    else if (unit() < COMMON_Q) {
      const k = r() % POOL;
      dv.setUint32(b * 8, 0xc0000000 + b * 64 + k);
      dv.setUint32(b * 8 + 4, k);
    } else {
      dv.setUint32(b * 8, r());
      dv.setUint32(b * 8 + 4, r());
    }
  }
  const ids = Array.from({ length: PROBES }, (_, i) => String(i)).sort();
  const probes = ids.map((probeId, pi) => {
    const bands = new Uint8Array(PROBE_BANDS * 4);
    const pv = new DataView(bands.buffer);
    const from = parent?.probes[pi];
    for (let o = 0; o < bands.length; o += 4) {
      if (from !== undefined && unit() < inherit) bands.set(from.bands.subarray(o, o + 4), o);
      else pv.setUint32(o, r());
    }
    return { probeId, empty: false, bands };
  });
  return { version: 1, epochId: EPOCH_ID, coarse, simhash: null, probes, wrongAnswers: [] };
}

/** The NATS server on LINEAGE_TEST_NATS_URL's port, if it runs on this machine. */
function natsServerPid(): number | undefined {
  const port = new URL(process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222").port || "4222";
  let dirs: string[];
  try {
    dirs = readdirSync("/proc");
  } catch {
    return undefined; // no /proc: not measured
  }
  for (const d of dirs) {
    if (!/^\d+$/.test(d)) continue;
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // gone meanwhile
    }
    if (!(cmd[0] ?? "").endsWith("nats-server")) continue;
    const i = cmd.indexOf("-p");
    if ((i >= 0 ? cmd[i + 1] : "4222") === port) return Number(d);
  }
  return undefined;
}

/** `url` with application_name set (so the bench can find the replicas' backends). */
function withAppName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set("application_name", name);
  return u.toString();
}

/** The `p`th percentile of `sorted`. */
const percentile = (sorted: number[], p: number) => quantile(sorted, p / 100);

async function openBackends(): Promise<{
  store: Store<HubDatabase>;
  replica: () => Promise<Store<HubDatabase>>;
  bus: Bus;
  pg: boolean;
}> {
  let store: Store<HubDatabase>;
  let replica: () => Promise<Store<HubDatabase>>;
  let pg = false;
  const target = args.includes("--pglite")
    ? { skip: "--pglite given" }
    : await postgresTestTarget().catch((e) => ({ skip: String(e) }));
  if ("url" in target && target.url !== undefined) {
    const url = target.url;
    store = await openTestStore<HubDatabase>("postgres", { url, poolMax: 8 });
    replica = () =>
      openStore<HubDatabase>({ kind: "postgres", url, schema: store.schema as string, poolMax: 8 });
    pg = true;
  } else {
    notes.push(`PGlite instead of Postgres (${(target as { skip: string }).skip})`);
    store = await openTestStore<HubDatabase>("pglite-memory");
    replica = async () => store;
  }
  await store.migrate(hubMigrations);
  let bus: Bus;
  const natsUrl = process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
  if (args.includes("--in-process")) {
    notes.push("in-process bus instead of NATS (--in-process given)");
    bus = createInProcessBus();
  } else {
    try {
      bus = await connectNatsBus({
        servers: natsUrl,
        name: "bench-hub",
        timeoutMs: 3000,
        maxReconnectAttempts: 0,
      });
    } catch (err) {
      notes.push(`in-process bus instead of NATS (${(err as Error).message})`);
      bus = createInProcessBus();
    }
  }
  return { store, replica, bus, pg };
}

const load0 = loadAverage1m();
const { store, replica, bus, pg } = await openBackends();
const extraStores: Store<HubDatabase>[] = [];
let streamToDelete: string | undefined;
/** Drops the throw-away schema and stream, also when the run is interrupted. */
async function cleanup(): Promise<void> {
  if (streamToDelete !== undefined) await bus.deleteStream(streamToDelete).catch(() => false);
  streamToDelete = undefined;
  for (const s of extraStores.splice(0)) await s.close().catch(() => undefined);
  await store.close().catch(() => undefined);
  if (bus.kind === "nats") await bus.close().catch(() => undefined);
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void cleanup().finally(() => process.exit(130));
  });
}
const hubKey = Ed25519PrivateKey.generate();
const ORIGIN = "bench.lineage/hub";
const log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
const members = Array.from({ length: MEMBERS }, (_, i) => benchMember(`member-${i}`));
for (const m of members) await log.appendMembership(enrolment(m));
const epochs = new EpochStore(store, hubKey);
await createBenchEpoch(epochs, EPOCH_ID, PROBES);
const directory = logMemberDirectory(log);
const createdAt = Date.now();
const modelOf = (i: number) => ({
  memberId: (members[i % MEMBERS] as { id: string }).id,
  modelId: `model-${i}`,
  modelVersion: "1",
});

// ---- 1. Ingestion through JetStream into Postgres ------------------------------------------------------
const tag = randomBytes(4).toString("hex");
const stream = `BENCH_HUB_${tag}`;
const root = `bench${tag}`;
let t0 = performance.now();
const messages: { subject: string; data: Uint8Array; msgId: string }[] = [];
for (let i = 0; i < INGEST; i++) {
  const m = members[i % MEMBERS] as (typeof members)[number];
  const model = modelOf(i);
  const { payload, envelope: sketch } = signedSketch(m.key, sketchOf(i + 1), model, createdAt);
  const body = create(SketchAnnouncementSchema, { sketch });
  const header = nextHeader(m, SketchAnnouncementSchema, body);
  messages.push({
    subject: `${root}.sketch.${m.id}.${model.modelId}`,
    data: toBinary(SketchAnnouncementSchema, { ...body, header }),
    msgId: toHex(sha256(payload)),
  });
}
const signMs = performance.now() - t0;
console.error(`bench/hub: ${INGEST} announcements signed (untimed); publishing`);
const messageBytes = messages.reduce((s, m) => s + m.data.length, 0) / messages.length;
streamToDelete = stream;
await bus.ensureStream({ name: stream, subjects: [`${root}.sketch.>`], maxMsgSize: 2 << 20 });
t0 = performance.now();
for (let i = 0; i < messages.length; i += 500) {
  await Promise.all(
    messages.slice(i, i + 500).map((m) => bus.publish(m.subject, m.data, { msgId: m.msgId })),
  );
}
const publishMs = performance.now() - t0;
messages.length = 0;

const durable = `bench_${tag}`;
const appName = `bench-hub-${tag}`;
let pgCpuMs: number | undefined;
let natsCpuMs: number | undefined;
let ingestMs: number;
let ingestCpuMs: number;
let perWorker: number[];
/** Batch commits the replicas ran (each one Postgres transaction). */
let commits: number;
let processes = false;
if (pg && bus.kind === "nats" && !args.includes("--one-process")) {
  pgCpuMs = 0;
  // Replicas as separate processes (as deployed), each with its own database pool and NATS connection.
  processes = true;
  await bus.ensureConsumer(stream, { durable, ackWaitMs: 30_000, maxAckPending: 1024 });
  const config = JSON.stringify({
    pgUrl: withAppName(process.env.LINEAGE_TEST_PG_URL || DEFAULT_TEST_PG_URL, appName),
    schema: store.schema,
    natsUrl: process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222",
    origin: ORIGIN,
    hubKeyPkcs8Hex: toHex(hubKey.toPkcs8()),
    stream,
    durable,
    subjects: `${root}.sketch.>`,
  });
  const children = Array.from({ length: WORKERS }, () =>
    spawn(
      process.execPath,
      [
        // BENCH_HUB_PROFILE=DIR: each worker writes a V8 CPU profile there (node --cpu-prof).
        ...(process.env.BENCH_HUB_PROFILE
          ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_HUB_PROFILE}`]
          : []),
        "--conditions=lineage-source",
        "--import",
        "tsx",
        join(import.meta.dirname, "hub-worker.ts"),
      ],
      {
        env: { ...process.env, BENCH_HUB_WORKER: config },
        stdio: ["pipe", "pipe", "inherit"],
      },
    ),
  );
  const lines = children.map((c) =>
    createInterface({ input: c.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator](),
  );
  for (const l of lines)
    if ((await l.next()).value !== "ready") throw new Error("bench/hub: a worker did not start");
  console.error(`bench/hub: ingesting through JetStream with ${WORKERS} worker processes`);
  // Each worker prints {"indexed", "at"} lines as its count grows (no polling of the database meanwhile: a
  // count(*) every few ms would take CPU from the replicas being measured); the final report on "stop".
  type Line = { indexed: number; at?: number; rejected?: number; cpuMs?: number; commits?: number };
  const latest: Line[] = children.map(() => ({ indexed: 0, at: 0 }));
  const finals: (Line | undefined)[] = children.map(() => undefined);
  const readers = lines.map(async (l, w) => {
    for (;;) {
      const r = await l.next();
      if (r.done) return;
      const line = JSON.parse(r.value as string) as Line;
      if (line.cpuMs !== undefined) {
        finals[w] = line;
        return;
      }
      latest[w] = line;
    }
  });
  // The CPU the replicas' Postgres backends and the NATS server use meanwhile (read from /proc; the NATS
  // server is shared with whatever else runs, so its share is an upper bound).
  const backends = async () =>
    (
      await sql<{
        pid: number;
      }>`select pid from pg_stat_activity where application_name = ${appName}`.execute(store.db)
    ).rows.map((r) => r.pid);
  const before = new Map<number, number>();
  for (const pid of await backends()) before.set(pid, processCpuMs(pid) ?? 0);
  const natsPid = natsServerPid();
  const nats0 = natsPid === undefined ? undefined : processCpuMs(natsPid);
  const goAt = performance.timeOrigin + performance.now();
  for (const c of children) c.stdin?.write("go\n");
  let checked = performance.now();
  for (;;) {
    if (latest.reduce((a, l) => a + l.indexed, 0) >= INGEST) break;
    if (performance.now() - checked > 1000) {
      checked = performance.now();
      const info = await bus.consumerInfo(stream, durable);
      if (info.numPending === 0 && info.numAckPending === 0) {
        await new Promise((res) => setTimeout(res, 500));
        const n = latest.reduce((a, l) => a + l.indexed, 0);
        if (n < INGEST)
          throw new Error(`bench/hub: consumer drained with ${n} of ${INGEST} sketches indexed`);
        break;
      }
    }
    await new Promise((res) => setTimeout(res, 10));
  }
  ingestMs = Math.max(...latest.map((l) => l.at ?? 0)) - goAt;
  for (const pid of await backends()) pgCpuMs += (processCpuMs(pid) ?? 0) - (before.get(pid) ?? 0);
  const nats1 = natsPid === undefined ? undefined : processCpuMs(natsPid);
  if (nats0 !== undefined && nats1 !== undefined) natsCpuMs = nats1 - nats0;
  for (const c of children) c.stdin?.write("stop\n");
  await Promise.all(readers);
  const reports = finals.map((f) => f ?? { indexed: 0, rejected: 1, cpuMs: 0, commits: 0 }) as Required<
    Omit<Line, "at">
  >[];
  const { count } = store.db.fn;
  const inDb = await store.db
    .selectFrom("sketches")
    .select(count<string>("seq").as("n"))
    .executeTakeFirstOrThrow();
  if (Number(inDb.n) !== INGEST) throw new Error(`bench/hub: ${inDb.n} sketches in Postgres, ${INGEST} sent`);
  if (reports.some((r) => r.rejected > 0)) throw new Error("bench/hub: sketches were rejected");
  perWorker = reports.map((r) => r.indexed);
  commits = reports.reduce((a, r) => a + r.commits, 0);
  ingestCpuMs = reports.reduce((a, r) => a + r.cpuMs, 0);
  await bus.deleteStream(stream);
  streamToDelete = undefined;
} else {
  const stores = [store];
  for (let w = 1; w < WORKERS; w++) {
    const s = await replica();
    stores.push(s);
    if (s !== store) extraStores.push(s);
  }
  const workers = stores.map(
    (s) =>
      new SketchIngestor({
        store: s,
        epochs: new EpochStore(s, hubKey),
        members: directory,
        batch: { maxBatch: 500, maxDelayMs: 10, maxInFlight: 2 },
      }),
  );
  console.error("bench/hub: ingesting through the bus in this process");
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  const consumptions = await Promise.all(
    workers.map((w) =>
      startSketchConsumer(bus, w, { stream, durable, subjects: `${root}.sketch.>`, concurrency: 256 }),
    ),
  );
  const indexedNow = () => workers.reduce((s, w) => s + w.metrics.snapshot().indexed, 0);
  const rejectedNow = () => workers.reduce((s, w) => s + w.metrics.snapshot().rejectedTotal, 0);
  while (indexedNow() + rejectedNow() < INGEST) await new Promise((r) => setTimeout(r, 20));
  ingestMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  ingestCpuMs = (cpu.user + cpu.system) / 1000;
  for (const c of consumptions) await c.stop();
  await bus.deleteStream(stream);
  streamToDelete = undefined;
  if (rejectedNow() > 0) throw new Error(`bench/hub: ${rejectedNow()} sketches were rejected`);
  perWorker = workers.map((w) => w.metrics.snapshot().indexed);
  commits = workers.reduce((s, w) => s + w.metrics.snapshot().commits, 0);
}

// ---- 2. Fill to MODELS through the batch commit ------------------------------------------------------
console.error(
  `bench/hub: ingested at ${Math.round(INGEST / (ingestMs / 1000))}/s; filling to ${MODELS} models`,
);
t0 = performance.now();
const sketches = new SketchStore(store);
let seqBase = 10_000_000n;
for (let i = INGEST; i < MODELS; i += 500) {
  const batch: PendingSketch[] = [];
  for (let j = i; j < Math.min(MODELS, i + 500); j++) {
    const sk = sketchOf(j + 1);
    const model = modelOf(j);
    const payload = toBinary(SketchSchema, sketchToProto(sk, model, createdAt));
    seqBase += 1n;
    batch.push({
      streamSeq: undefined,
      verified: {
        memberId: model.memberId,
        keyId: (members[j % MEMBERS] as { key: Ed25519PrivateKey }).key.keyId,
        sequence: seqBase,
        nonce: new Uint8Array(randomBytes(16)),
        messageDigest: sha256(payload),
        sketchId: toHex(sha256(payload)),
        epochId: EPOCH_ID,
        model,
        sketch: sk,
        envelope: toBinary(
          DsseEnvelopeSchema,
          create(DsseEnvelopeSchema, { payloadType: SKETCH_PAYLOAD_TYPE, payload }),
        ),
      },
    });
  }
  const out = await sketches.commit(batch);
  if (out.some((o) => o.kind !== "indexed")) throw new Error("bench/hub: a filler sketch was not indexed");
}
const fillMs = performance.now() - t0;

// ---- 3. Index rebuild from Postgres, 4. lookups ----------------------------------------------------
console.error("bench/hub: rebuilding the index from Postgres, then lookups");
// --detail-budget-mb N: memory for the per-probe detail stage 2 reads from (probe-detail.ts; 0 = all from
// Postgres, as before it existed).
const DETAIL_BUDGET_MB = intFlag("--detail-budget-mb", 512, 0, 65_536);
const heapBefore = process.memoryUsage();
const retriever = new SketchRetriever(sketches, epochs, Date.now, DETAIL_BUDGET_MB * 1024 * 1024);
t0 = performance.now();
await retriever.rebuild();
const rebuildMs = performance.now() - t0;
const heapAfter = process.memoryUsage();
if (retriever.size !== MODELS)
  throw new Error(`bench/hub: ${retriever.size} models indexed, expected ${MODELS}`);
const r = rng(777);
const times: number[] = [];
let derived = 0;
let found = 0;
let candidatesSum = 0;
const cpuTimes: number[] = [];
const coarseTimes: number[] = [];
const detailTimes: number[] = [];
let uncounted = 0;
let detailReads = 0;
let detailFromMemory = 0;
// The suspects are made before the timed loop (the hub receives a finished sketch; making them in the loop
// left their garbage to be collected inside the timed lookups).
const suspects = Array.from({ length: QUERIES }, (_, q) => {
  const parentIdx = r() % MODELS;
  return q % 2 === 0
    ? { parentIdx, sketch: sketchOf(900_000_000 + q, sketchOf(parentIdx + 1), 0.25) }
    : { parentIdx, sketch: sketchOf(800_000_000 + q) };
});
for (let q = 0; q < QUERIES; q++) {
  const isCopy = q % 2 === 0;
  const { parentIdx, sketch: suspect } = suspects[q] as (typeof suspects)[number];
  const s = performance.now();
  const cpu0 = process.cpuUsage();
  const c = await retriever.retrieveCandidates(suspect, { limit: 10 });
  times.push(performance.now() - s);
  const cu = process.cpuUsage(cpu0);
  cpuTimes.push((cu.user + cu.system) / 1000);
  const lk = retriever.lastLookup;
  if (lk !== undefined) {
    coarseTimes.push(lk.coarseMs);
    detailTimes.push(lk.detailReadMs);
    uncounted += lk.uncountedBands;
    detailReads += lk.detailRead;
    detailFromMemory += lk.detailFromMemory;
  }
  candidatesSum += c.length;
  if (isCopy) {
    derived++;
    if (c.some((x) => x.model.modelId === `model-${parentIdx}`)) found++;
  }
}
times.sort((a, b) => a - b);
for (const a of [cpuTimes, coarseTimes, detailTimes]) a.sort((x, y) => x - y);
const ms = (v: number) => Number(v.toFixed(3));

// ---- 5. Release -> alert (bench/hub-release.ts) -------------------------------------------------------------
let release: ReleaseToAlert | undefined;
if (!args.includes("--no-release")) {
  console.error("bench/hub: release -> alert through the hub runtime and a member node");
  release = await measureReleaseToAlert(
    pg ? { pgUrl: process.env.LINEAGE_TEST_PG_URL || DEFAULT_TEST_PG_URL } : {},
  );
}

const report = {
  ingest_sketches_per_s: Math.round(INGEST / (ingestMs / 1000)),
  indexed_models: retriever.size,
  lookup_p50_ms: Number(percentile(times, 50).toFixed(3)),
  lookup_p99_ms: Number(percentile(times, 99).toFixed(3)),
  release_to_alert_ms: release?.release_to_alert_ms ?? null,
  details: {
    backend: { postgres: pg, nats: bus.kind === "nats" },
    ingest: {
      sketches: INGEST,
      workers: WORKERS,
      per_worker: perWorker,
      seconds: Number((ingestMs / 1000).toFixed(2)),
      worker_processes: processes,
      cpu_seconds_hub_workers: Number((ingestCpuMs / 1000).toFixed(2)),
      hub_cpu_ms_per_sketch: Number((ingestCpuMs / INGEST).toFixed(3)),
      postgres_backend_cpu_ms_per_sketch:
        pgCpuMs === undefined ? null : Number((pgCpuMs / INGEST).toFixed(3)),
      nats_server_cpu_ms_per_sketch_upper_bound:
        natsCpuMs === undefined ? null : Number((natsCpuMs / INGEST).toFixed(3)),
      // What the machine's cores would ingest if they ran nothing else: cores / CPU per sketch (hub replicas,
      // their Postgres backends and the NATS server; Postgres' WAL writer and checkpointer not counted).
      cpu_bound_capacity_per_s:
        pgCpuMs === undefined || natsCpuMs === undefined
          ? null
          : Math.round((cpus().length * 1000 * INGEST) / (ingestCpuMs + pgCpuMs + natsCpuMs)),
      message_bytes_mean: Math.round(messageBytes),
      mean_commit_batch: Number((INGEST / Math.max(1, commits)).toFixed(1)),
      probes_per_sketch: PROBES,
      member_signing_s_untimed: Number((signMs / 1000).toFixed(2)),
      publish_per_s: Math.round(INGEST / (publishMs / 1000)),
    },
    fill: { sketches: MODELS - INGEST, seconds: Number((fillMs / 1000).toFixed(2)), signed: false },
    index: {
      rebuild_from_postgres_s: Number((rebuildMs / 1000).toFixed(2)),
      unrelated_jaccard: UNRELATED_J,
      detail_budget_mb: DETAIL_BUDGET_MB,
      detail_models_held: retriever.detailHeld.models,
      detail_estimated_mb: Number((retriever.detailHeld.bytes / 2 ** 20).toFixed(1)),
      // This process after the rebuild less before it (band index + detail + garbage not yet collected).
      rss_growth_mb: Math.round((heapAfter.rss - heapBefore.rss) / 2 ** 20),
      array_buffers_growth_mb: Math.round((heapAfter.arrayBuffers - heapBefore.arrayBuffers) / 2 ** 20),
    },
    lookups: {
      queries: QUERIES,
      mean_candidates: Number((candidatesSum / QUERIES).toFixed(2)),
      derived_recall_at_10: Number((found / Math.max(1, derived)).toFixed(4)),
      max_ms: Number((times[times.length - 1] ?? 0).toFixed(3)),
      // This process's CPU per lookup (not the Postgres backend's), and the two stages' wall times.
      cpu_p50_ms: ms(percentile(cpuTimes, 50)),
      cpu_p99_ms: ms(percentile(cpuTimes, 99)),
      coarse_stage_p50_ms: ms(percentile(coarseTimes, 50)),
      coarse_stage_p99_ms: ms(percentile(coarseTimes, 99)),
      detail_read_p50_ms: ms(percentile(detailTimes, 50)),
      detail_read_p99_ms: ms(percentile(detailTimes, 99)),
      mean_detail_sketches_read: Number((detailReads / QUERIES).toFixed(2)),
      mean_detail_from_memory: Number((detailFromMemory / QUERIES).toFixed(2)),
      // Band-index posting budget: bands left to stage 2 per query (H; a model sharing more than H bands is
      // guaranteed counted agreement in stage 1).
      mean_uncounted_bands: Number((uncounted / QUERIES).toFixed(1)),
    },
    release: release ?? "not measured (--no-release)",
    machine: { cpus: cpus().length, loadavg_before: load0, loadavg_after: loadAverage1m() },
    notes,
  },
};
console.log(JSON.stringify(report, null, 2));
if (jsonFile !== undefined) writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
await log.close();
await cleanup();
