/**
 * Benchmark of the hub's transparency log (issue 4): durable appends per second with checkpointing,
 * and DSSE envelope verifications per second.
 *
 *   npm run bench:log -- [--json FILE] [--entries N] [--pglite] [--cpu-prof DIR]
 *
 * Appends: N member-signed attestations (signed beforehand, outside the timing) are appended
 * concurrently through the full admission path — member signature verified under the logged key,
 * validity checks, hub countersignature, leaf encoding, one transaction per batch holding leaves,
 * subtree nodes and signed checkpoints (every 1000 entries or 1 s). An append counts once its
 * transaction committed. Runs on real Postgres (LINEAGE_TEST_PG_URL, default the test server) in a
 * throw-away schema; falls back to PGlite (with a note) when Postgres is unreachable or --pglite.
 *
 * Verifications: countersigned envelopes verified with verifyEnvelopeAsync requiring both the
 * member's and the hub's signature (two Ed25519 checks each), many in flight so both cores work.
 *
 * The machine is shared, so every figure is reported twice: per wall-clock second (what this run
 * got) and per CPU-second of this process (threads included: what the code costs), with the load
 * average before and after. Postgres' own CPU is read from /proc for the server's processes when
 * it runs on this machine — an upper bound, since other jobs' queries are counted too.
 * `--cpu-prof DIR` writes V8 CPU profiles of the two timed phases only (append.cpuprofile,
 * verify.cpuprofile), not of the setup.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AttestationStatementSchema, KeyAlgorithm, MembershipAction, Verdict } from "@lineage/api";
import {
  type DsseEnvelope,
  Ed25519PrivateKey,
  KeyRing,
  signEnvelope,
  verifyEnvelopeAsync,
} from "@lineage/crypto";
import { PAYLOAD_TYPES, TransparencyLog } from "@lineage/hub";
import {
  type HubDatabase,
  hubMigrations,
  openTestStore,
  postgresTestTarget,
  type Store,
} from "@lineage/store";

const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const v = args[at + 1];
  if (v === undefined || v.startsWith("--")) {
    console.error(`usage: bench/log.ts [--json FILE] [--entries N] [--pglite] (${name} needs a value)`);
    process.exit(2);
  }
  return v;
}
const jsonFile = flag("--json");
const entries = Number(flag("--entries") ?? 20_000);
if (!Number.isSafeInteger(entries) || entries < 100 || entries > 1_000_000) {
  console.error("--entries must be an integer in [100, 1000000]");
  process.exit(2);
}
const forcePglite = args.includes("--pglite");
const profDir = flag("--cpu-prof");

/** V8 CPU profile of one phase (node:inspector), written to `${profDir}/${name}.cpuprofile`. */
async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (profDir === undefined) return fn();
  mkdirSync(profDir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  try {
    return await fn();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(join(profDir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/**
 * CPU seconds used so far by the local Postgres server's processes (all of them: other jobs'
 * queries included, so differences are an upper bound), or undefined when not readable.
 */
function postgresCpuSeconds(): number | undefined {
  let total = 0;
  let found = false;
  const tick = 100; // USER_HZ on Linux
  try {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "postgres") continue;
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue;
      }
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(f[11]) + Number(f[12])) / tick;
      found = true;
    }
  } catch {
    return undefined;
  }
  return found ? total : undefined;
}

const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
const load = () => Number((loadavg()[0] ?? 0).toFixed(2));

async function openBenchStore(): Promise<{ store: Store<HubDatabase>; backend: string; note?: string }> {
  if (!forcePglite) {
    const pg = await postgresTestTarget({ ...process.env, CI: "false" });
    if (pg.skip === undefined) {
      return { store: await openTestStore<HubDatabase>("postgres", { url: pg.url }), backend: "postgres" };
    }
    console.log(`note: ${pg.skip}; falling back to PGlite (in-process, not comparable to Postgres)`);
    return {
      store: await openTestStore<HubDatabase>("pglite-disk"),
      backend: "pglite-disk",
      note: "Postgres unreachable; PGlite on disk",
    };
  }
  return { store: await openTestStore<HubDatabase>("pglite-disk"), backend: "pglite-disk" };
}

function statement(key: Ed25519PrivateKey, i: number, now: number): DsseEnvelope {
  const st = create(AttestationStatementSchema, {
    version: 1,
    sessionId: `bench-${i}`,
    sessionNonce: new Uint8Array(32).fill(i & 0xff),
    suspect: { suspectId: `suspect-${i % 97}` },
    memberModel: { memberId: "bench-member", modelId: "model-a", modelVersion: "1" },
    verdict: Verdict.LIKELY_DERIVED,
    evidence: {
      tests: [
        {
          queries: 200,
          trials: 200,
          hits: 37,
          statistic: 9.1,
          effectSize: 0.18,
          pValue: 1e-12,
          nullModels: 24,
        },
      ],
      combinedPValue: 1e-12,
      combinedEffectSize: 0.18,
      policy: {
        policyId: "default-v1",
        alpha: 1e-6,
        minEffectSize: 0.1,
        combination: "fisher",
        comparisons: 12,
      },
      canariesSpent: 200,
      totalQueries: 400,
    },
    epochId: "epoch-1",
    issuedAt: timestampFromMs(now),
  });
  return signEnvelope(PAYLOAD_TYPES.attestation, toBinary(AttestationStatementSchema, st), key);
}

const { store, backend, note } = await openBenchStore();
await store.migrate(hubMigrations);
const hubKey = Ed25519PrivateKey.generate();
const member = Ed25519PrivateKey.generate();
const now = Date.now();
const log = await TransparencyLog.open({
  store,
  origin: "lineage.bench/log",
  hubKey,
  checkpointEvery: 1000,
  checkpointIntervalMs: 1000,
});
await log.appendMembership({
  action: MembershipAction.ENROL,
  memberId: "bench-member",
  displayName: "Bench member",
  key: {
    keyId: member.keyId,
    algorithm: KeyAlgorithm.ED25519,
    publicKey: member.publicKey.raw,
    notBefore: timestampFromMs(now - 3_600_000),
  },
  effectiveAt: timestampFromMs(now - 3_600_000),
});
const envelopes = Array.from({ length: entries }, (_, i) => statement(member, i, now));

// Warm-up (JIT, connection pool, prepared plans), not counted.
await Promise.all(envelopes.slice(0, 500).map((e) => log.appendAttestation(e)));
await log.checkpoint();
const timed = envelopes.slice(500);
const inFlight = 4000;
const countersigned: DsseEnvelope[] = [];
const load0 = load();
const pg0 = backend === "postgres" ? postgresCpuSeconds() : undefined;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const cp = await profiled("append", async () => {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < timed.length) {
        const e = timed[next++] as DsseEnvelope;
        countersigned.push((await log.appendAttestation(e)).envelope);
      }
    }),
  );
  return log.checkpoint();
});
const appendS = (performance.now() - t0) / 1000;
const appendCpuS = cpuSeconds(process.cpuUsage(cpu0));
const pg1 = pg0 === undefined ? undefined : postgresCpuSeconds();
const pgCpuS = pg0 === undefined || pg1 === undefined ? undefined : pg1 - pg0;
const appendsPerS = Math.round(timed.length / appendS);
const checkpoints = await store.db
  .selectFrom("log_checkpoints")
  .select((eb) => eb.fn.countAll<bigint>().as("n"))
  .executeTakeFirstOrThrow();
await log.close();
await store.close();

// Verifications: many in flight so libuv's pool uses every core. Each envelope is verified as an
// auditor would: both the member's and the hub's signature required.
const keys = new KeyRing([member.publicKey, hubKey.publicKey]);
const required = [member.keyId, hubKey.keyId];
const verifyN = Math.min(countersigned.length, 20_000);
const sample = countersigned.slice(0, verifyN);
await Promise.all(
  sample.slice(0, 1000).map((e) => verifyEnvelopeAsync(e, { keys, requiredKeyIds: required })),
);
const vcpu0 = process.cpuUsage();
const v0 = performance.now();
await profiled("verify", async () => {
  let vi = 0;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (vi < sample.length) {
        const e = sample[vi++] as DsseEnvelope;
        await verifyEnvelopeAsync(e, { keys, requiredKeyIds: required });
      }
    }),
  );
});
const verifyS = (performance.now() - v0) / 1000;
const verifyCpuS = cpuSeconds(process.cpuUsage(vcpu0));
const verificationsPerS = Math.round(verifyN / verifyS);
const load1 = load();
const cores = cpus().length;

const appendCpuUs = (appendCpuS / timed.length) * 1e6;
const pgCpuUs = pgCpuS === undefined ? undefined : (pgCpuS / timed.length) * 1e6;
const result = {
  appends_per_s: appendsPerS,
  verifications_per_s: verificationsPerS,
  backend,
  ...(note === undefined ? {} : { note }),
  entries_timed: timed.length,
  append_seconds: Number(appendS.toFixed(3)),
  append_cpu_seconds: Number(appendCpuS.toFixed(3)),
  /** Appends per CPU-second of this process (threads included; Postgres' own CPU not counted). */
  appends_per_cpu_s: Math.round(timed.length / appendCpuS),
  append_cpu_us: Math.round(appendCpuUs),
  /** Postgres server CPU per append (all its processes: an upper bound on a shared server). */
  ...(pgCpuUs === undefined ? {} : { postgres_cpu_us_per_append: Math.round(pgCpuUs) }),
  /** What `cores` idle cores would sustain at this run's CPU cost (this process + Postgres). */
  appends_per_s_if_idle: Math.round((cores * 1e6) / (appendCpuUs + (pgCpuUs ?? 0))),
  verifications_per_cpu_s: Math.round(verifyN / verifyCpuS),
  verifications_per_s_if_idle: Math.round((cores * verifyN) / verifyCpuS),
  verify_seconds: Number(verifyS.toFixed(3)),
  final_tree_size: cp.treeSize,
  checkpoints_signed: Number(checkpoints.n),
  envelopes_verified: verifyN,
  signatures_per_envelope: 2,
  cores,
  loadavg_1m_before: load0,
  loadavg_1m_after: load1,
  node: process.version,
};
const n = (x: number) => x.toLocaleString("en-US");
console.log(`backend                      ${backend}${note === undefined ? "" : ` (${note})`}`);
console.log(
  `durable appends/s            ${n(appendsPerS)} wall  (${timed.length} attestations, ${result.checkpoints_signed} checkpoints, ${appendS.toFixed(2)} s)`,
);
console.log(
  `  per CPU-second             ${n(result.appends_per_cpu_s)} (${Math.round(appendCpuUs)} µs CPU/append in this process${pgCpuUs === undefined ? "" : `, + <= ${Math.round(pgCpuUs)} µs in Postgres`}; ${n(result.appends_per_s_if_idle)}/s on ${cores} idle cores)`,
);
console.log(
  `envelope verifications/s     ${n(verificationsPerS)} wall  (member + hub signature each, ${verifyN} envelopes)`,
);
console.log(
  `  per CPU-second             ${n(result.verifications_per_cpu_s)} (${n(result.verifications_per_s_if_idle)}/s on ${cores} idle cores)`,
);
console.log(`load average (1 min)         ${load0} before, ${load1} after, on ${cores} cores`);
console.log(`targets                      appends >= 3,000/s, verifications >= 5,000/s`);
if (profDir !== undefined)
  console.log(`cpu profiles                 ${profDir}/append.cpuprofile, verify.cpuprofile`);
if (jsonFile !== undefined) writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
