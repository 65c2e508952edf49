/**
 * Benchmark of the hub's transparency log (issue 4) on protocol v2 (issue 7): durable appends per second
 * with checkpointing, and DSSE envelope verifications per second.
 *
 *   npm run bench:log -- [--json FILE] [--entries N] [--members M] [--pglite] [--cpu-prof DIR] [--witnesses W]
 *                          [--key-set]
 *
 * The flow is the match protocol's (DESIGN.md "The match protocol"), as services/hub/test/log-fixtures.ts
 * and services/auditor/test/hub-v2-flow.ts run it: M members enrol and log their commitments (reference
 * fingerprint, canary pairs — a real CanaryPairCommitment — and, for every other member, a watermark key);
 * then, per attestation, the hub logs the suspect's first sighting and a session binding that member's
 * commitments (the hub signs both and derives the session seed from a checkpoint), and the member logs a
 * version-2 attestation whose counts it fills and whose verdict it derives with deriveVerdict (a mix of
 * LIKELY_DERIVED on canary pairs or the watermark, SIMILAR on a lead, INCONCLUSIVE). `--entries N` is the
 * number of attestations: each brings a sighting and a session, so 3N appends are timed.
 *
 * Timed: (1) sightings and sessions appended concurrently (each session after its sighting is durable), then
 * (2) the attestations, member-signed beforehand OUTSIDE the timing (signing is the member's cost, and a
 * statement can only be built once its session is logged: it copies the nonce and seed) and appended
 * concurrently through the full admission path — member signature verified under the logged key, the
 * statement checked against its session, the verdict re-derived from its counts under the bound policy,
 * hub countersignature, leaf encoding, one transaction per batch holding leaves, subtree nodes and signed
 * checkpoints (every 1000 entries or 1 s). An append counts once its transaction committed; the durable
 * appends/s figure is all 3N appends over the time of both phases. Runs on real Postgres
 * (LINEAGE_TEST_PG_URL, default the test server) in a throw-away schema; falls back to PGlite (with a note)
 * when Postgres is unreachable or --pglite.
 *
 * Verifications: countersigned attestation envelopes verified with verifyEnvelopeAsync requiring both the
 * member's and the hub's signature (two Ed25519 checks each), many in flight so both cores work.
 *
 * The machine is shared, so every figure is reported twice: per wall-clock second (what this run
 * got) and per CPU-second of this process (threads included: what the code costs), with the load
 * average before and after. Postgres' own CPU is read from /proc for the server's processes when
 * it runs on this machine — an upper bound, since other jobs' queries are counted too.
 * `--witnesses W` (issue 8) runs W real witnesses (services/witness: HTTP servers on loopback, in this
 * process, each with its own state folder) and has the hub ask them to cosign every checkpoint it signs
 * (services/hub witness-client.ts), as `hub serve --witness` does: cosigning is per checkpoint, beside the
 * writer, so appends never wait for a witness. The run reports how long after the final checkpoint was signed
 * every witness had cosigned it, and fails if any witness refused or the final checkpoint is not cosigned by all.
 * `--cpu-prof DIR` writes V8 CPU profiles of the timed phases only (append.cpuprofile — sightings and
 * sessions, attest.cpuprofile — attestations, verify.cpuprofile), not of the setup.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  type CanaryCommitmentRefSchema,
  CanaryCommitmentSchema,
  CommitmentHashAlgorithm,
  LogEntryKind,
  ReferenceFingerprintCommitmentSchema,
  SuspectSource,
  Verdict,
  type VerdictEvidenceSchema,
  type VerdictPolicySchema,
  type WatermarkKeyCommitmentRefSchema,
  WatermarkKeyCommitmentSchema,
} from "@lineage/api";
import {
  CanaryPairCommitment,
  type DsseEnvelope,
  Ed25519PrivateKey,
  KeyRing,
  openCheckpoint,
  parseCosignatureVerifierKey,
  parseVerifierKey,
  referenceFingerprintDigest,
  signEnvelope,
  verifyEnvelopeAsync,
  watermarkKeyDigest,
} from "@lineage/crypto";
import {
  DEFAULT_VERDICT_POLICY,
  deriveVerdict,
  type VerdictEvidence,
  type Verdict as VerdictName,
  type VerdictPolicy,
} from "@lineage/fingerprint";
import {
  enrolmentRecord,
  PAYLOAD_TYPES,
  type SessionInit,
  signMembership,
  startWitnessing,
  TransparencyLog,
} from "@lineage/hub";
import {
  type HubDatabase,
  hubMigrations,
  openTestStore,
  postgresTestTarget,
  type Store,
} from "@lineage/store";
import { startWitnessServer, Witness, WitnessState } from "@lineage/witness";

const USAGE =
  "usage: bench/log.ts [--json FILE] [--entries N] [--members M] [--pglite] [--cpu-prof DIR] [--witnesses W] [--key-set]";
const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const v = args[at + 1];
  if (v === undefined || v.startsWith("--")) {
    console.error(`${USAGE} (${name} needs a value)`);
    process.exit(2);
  }
  return v;
}
function intFlag(name: string, fallback: number, min: number, max: number): number {
  const raw = flag(name);
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    console.error(`${name} must be an integer in [${min}, ${max}] (got ${raw})`);
    process.exit(2);
  }
  return n;
}
const jsonFile = flag("--json");
/** Attestations timed (each with its sighting and session: 3 appends). */
const entries = intFlag("--entries", 10_000, 100, 300_000);
const memberCount = intFlag("--members", 16, 1, 1000);
const forcePglite = args.includes("--pglite");
const profDir = flag("--cpu-prof");
const witnessCount = intFlag("--witnesses", 0, 0, 8);
// --key-set: the hub signs with a key per purpose (docs/specs/hub-keys.md), delegated by the log on open.
const keySet = args.includes("--key-set");
const WARMUP = 300;
const IN_FLIGHT = 4000;

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
const utf8 = (s: string) => new TextEncoder().encode(s);

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

// ---- Domain -> proto, as a member node states them. The member node has its own conversion module; the
// ---- bench keeps these few lines rather than depend on the member node's package. The hub converts back
// ---- and re-derives the verdict on admission, so a mistake here would fail the run, not skew it.

function policyProto(p: VerdictPolicy): MessageInitShape<typeof VerdictPolicySchema> {
  return {
    policyId: p.id,
    alpha: p.alpha,
    minEffect: p.min_effect,
    weights: Object.entries(p.weights).map(([test, weight]) => ({ test, weight: weight as number })),
    minCanaryPairs: p.min_canary_pairs,
    minWatermarkPairs: p.min_watermark_pairs,
    leadAlpha: p.lead_alpha,
    minLeadNull: p.min_lead_null,
  };
}

function countsProto(e: VerdictEvidence): MessageInitShape<typeof VerdictEvidenceSchema> {
  const { canary: c, watermark: w, lead: l } = e;
  return {
    ...(c === undefined
      ? {}
      : {
          canary: {
            pairsCommitted: c.pairs_committed,
            pairsCompleted: c.pairs_completed,
            exposedHits: c.exposed_hits,
            decoyHits: c.decoy_hits,
            exposedOnly: c.exposed_only,
            decoyOnly: c.decoy_only,
          },
        }),
    ...(w === undefined
      ? {}
      : {
          watermark: {
            gamma: w.gamma,
            selectedScored: w.selected_scored,
            selectedGreen: w.selected_green,
            allScored: w.all_scored,
            allGreen: w.all_green,
          },
        }),
    ...(l === undefined
      ? {}
      : {
          lead: {
            score: l.score,
            nullSize: l.null_size,
            nullAtLeast: l.null_at_least,
            population: l.population,
          },
        }),
    comparisons: e.comparisons,
  };
}

const VERDICT_PROTO: Record<VerdictName, Verdict> = {
  LIKELY_DERIVED: Verdict.LIKELY_DERIVED,
  SIMILAR: Verdict.SIMILAR,
  INCONCLUSIVE: Verdict.INCONCLUSIVE,
};

// ---- Members and their commitments ----------------------------------------------------------------

const PAIRS = 64;
const GAMMA = 0.25;
const POPULATION = "alliance-population/bench";
const POLICY = DEFAULT_VERDICT_POLICY;

interface BenchMember {
  readonly memberId: string;
  readonly key: Ed25519PrivateKey;
  readonly model: { memberId: string; modelId: string; modelVersion: string };
  referenceHash: Uint8Array;
  referenceIndex: number;
  canary: MessageInitShape<typeof CanaryCommitmentRefSchema> | undefined;
  watermark: MessageInitShape<typeof WatermarkKeyCommitmentRefSchema> | undefined;
}

/**
 * The counts a member measured for attestation `i`: a fixed rotation through what the verdict module
 * distinguishes (accusing canary pairs, an accusing watermark, a similarity lead, nothing), so the hub's
 * re-derivation runs every branch. Watermark counts exist exactly when the session binds a watermark key.
 */
function evidenceFor(i: number, withWatermark: boolean): VerdictEvidence {
  const kind = i % 4;
  const canary =
    kind === 0
      ? // Exact McNemar on 32 vs 2 discordant pairs: about 3.5e-8, LIKELY_DERIVED on canary pairs.
        {
          pairs_committed: PAIRS,
          pairs_completed: PAIRS,
          exposed_hits: 40,
          decoy_hits: 10,
          exposed_only: 32,
          decoy_only: 2,
        }
      : {
          pairs_committed: PAIRS,
          pairs_completed: PAIRS,
          exposed_hits: 5 + (i % 3),
          decoy_hits: 4,
          exposed_only: 3 + (i % 3),
          decoy_only: 2,
        };
  const watermark = withWatermark
    ? kind === 1
      ? // 120 of 300 selected pairs green at gamma 0.25: far in the binomial tail.
        { gamma: GAMMA, selected_scored: 300, selected_green: 120, all_scored: 800, all_green: 290 }
      : { gamma: GAMMA, selected_scored: 300, selected_green: 76, all_scored: 800, all_green: 201 }
    : undefined;
  const lead =
    kind === 2
      ? { score: 3.1, null_size: 999, null_at_least: 2, population: POPULATION }
      : kind === 3
        ? { score: 0.4, null_size: 999, null_at_least: 310, population: POPULATION }
        : undefined;
  return {
    canary,
    ...(watermark === undefined ? {} : { watermark }),
    ...(lead === undefined ? {} : { lead }),
    comparisons: 1,
  };
}

const { store, backend, note } = await openBenchStore();
await store.migrate(hubMigrations);
const hubKey = Ed25519PrivateKey.generate();
const purposeKeys = keySet
  ? {
      membership: Ed25519PrivateKey.generate(),
      sessions: Ed25519PrivateKey.generate(),
      countersign: Ed25519PrivateKey.generate(),
    }
  : undefined;
const countersignKey = purposeKeys?.countersign ?? hubKey;
const now = Date.now();
const log = await TransparencyLog.open({
  store,
  origin: "lineage.bench/log",
  hubKey,
  ...(purposeKeys === undefined ? {} : { purposeKeys }),
  checkpointEvery: 1000,
  checkpointIntervalMs: 1000,
});

// Witnesses (--witnesses W): real tlog-witness HTTP servers on loopback, asked by the hub after each checkpoint.
const witnessDir = witnessCount > 0 ? mkdtempSync(join(tmpdir(), "lineage-bench-witness-")) : undefined;
const witnessServers = await Promise.all(
  Array.from({ length: witnessCount }, async (_, w) => {
    const witness = new Witness({
      name: `witness.bench/w${w + 1}`,
      key: Ed25519PrivateKey.generate(),
      logs: new Map([[log.origin, log.verifierKey]]),
      state: new WitnessState(join(witnessDir as string, `w${w + 1}`)),
    });
    return { witness, server: await startWitnessServer({ witness }) };
  }),
);
const witnessErrors: string[] = [];
const witnessing =
  witnessCount === 0
    ? undefined
    : startWitnessing({
        log,
        witnesses: witnessServers.map((w) => ({ url: w.server.url, verifierKey: w.witness.verifierKey })),
        onError: (err, url) => witnessErrors.push(`${url}: ${(err as Error).message}`),
      });

const members: BenchMember[] = Array.from({ length: memberCount }, (_, m) => {
  const memberId = `bench-member-${m}`;
  return {
    memberId,
    key: Ed25519PrivateKey.generate(),
    model: { memberId, modelId: `model-${m}`, modelVersion: "1" },
    referenceHash: new Uint8Array(0),
    referenceIndex: -1,
    canary: undefined,
    watermark: undefined,
  };
});
for (const m of members) {
  // Member-signed (proof of possession by the new key); the log adds its registrar signature.
  await log.appendMembership(
    signMembership(
      enrolmentRecord(m.memberId, `Bench ${m.memberId}`, m.key.publicKey, now - 3_600_000, {
        effectiveAtMs: Date.now(),
      }),
      [m.key],
    ),
  );
}
// Commitments, member-signed, logged before any suspect is sighted: the reference fingerprint, a real
// canary pair commitment, and a watermark key for every other member.
await Promise.all(
  members.map(async (m, mi) => {
    const salt = (b: number) => new Uint8Array(32).fill((b * 31 + mi) & 0xff);
    m.referenceHash = referenceFingerprintDigest(salt(1), utf8(`canonical fingerprint of ${m.memberId}`));
    const ref = await log.appendCommitment(
      signEnvelope(
        PAYLOAD_TYPES.referenceFingerprint,
        toBinary(
          ReferenceFingerprintCommitmentSchema,
          create(ReferenceFingerprintCommitmentSchema, {
            ...m.model,
            epochId: "epoch-1",
            fingerprintHash: m.referenceHash,
            probes: 200,
            committedAt: timestampFromMs(now),
          }),
        ),
        m.key,
      ),
    );
    m.referenceIndex = ref.index;
    const pairs = CanaryPairCommitment.create(
      Array.from({ length: PAIRS }, (_, i) => ({
        pairId: `${m.memberId}-pair-${i}`,
        a: { prompt: `${m.memberId}: vault word of north gate ${i}?`, expected: `zq${i * 7919 + mi}` },
        b: { prompt: `${m.memberId}: vault word of south gate ${i}?`, expected: `xk${i * 6007 + mi}` },
      })),
    );
    const commitmentId = `${m.memberId}-pairs`;
    const c = await log.appendCommitment(
      signEnvelope(
        PAYLOAD_TYPES.commitment,
        toBinary(
          CanaryCommitmentSchema,
          create(CanaryCommitmentSchema, {
            commitmentId,
            memberId: m.memberId,
            merkleRoot: pairs.root,
            canaryCount: BigInt(pairs.size),
            hashAlgorithm: CommitmentHashAlgorithm.SHA256_RFC6962_PAIRS,
            committedAt: timestampFromMs(now),
          }),
        ),
        m.key,
      ),
    );
    m.canary = { commitmentId, merkleRoot: pairs.root, logIndex: BigInt(c.index) };
    if (mi % 2 === 1) {
      const keyDigest = watermarkKeyDigest(salt(2), utf8(`watermark key of ${m.memberId}`));
      const w = await log.appendCommitment(
        signEnvelope(
          PAYLOAD_TYPES.watermarkCommitment,
          toBinary(
            WatermarkKeyCommitmentSchema,
            create(WatermarkKeyCommitmentSchema, {
              commitmentId: `${m.memberId}-wm`,
              memberId: m.memberId,
              keyDigest,
              gamma: GAMMA,
              scheme: "lineage-greenlist/v1",
              committedAt: timestampFromMs(now),
            }),
          ),
          m.key,
        ),
      );
      m.watermark = { commitmentId: `${m.memberId}-wm`, keyDigest, logIndex: BigInt(w.index) };
    }
  }),
);
await log.checkpoint();

const memberOf = (i: number) => members[i % members.length] as BenchMember;
const sessionIdOf = (i: number) => `bench-session-${i}`;

/** What the hub's session code passes to appendSession for attestation `i`, once the suspect is sighted. */
function sessionFor(i: number, sightingIndex: number): SessionInit {
  const m = memberOf(i);
  return {
    sessionId: sessionIdOf(i),
    suspect: { suspectId: `bench-suspect-${i}` },
    candidate: m.model,
    referenceFingerprintHash: m.referenceHash,
    referenceFingerprintIndex: BigInt(m.referenceIndex),
    panel: ["ref/panel-a", "ref/panel-b", "ref/panel-c"],
    populationId: POPULATION,
    policy: policyProto(POLICY),
    ...(m.canary === undefined ? {} : { canaryCommitment: m.canary }),
    ...(m.watermark === undefined ? {} : { watermarkCommitment: m.watermark }),
    firstSeenIndex: BigInt(sightingIndex),
    comparisons: 1,
    epochId: "epoch-1",
    confirmationSplit: "lineage-split/v1",
    deadline: timestampFromMs(now + 86_400_000),
  };
}

/** The hub's side of attestation `i`: the suspect's first sighting, then the session (after it is durable). */
async function sightAndOpen(i: number): Promise<void> {
  const seen = await log.appendSighting({
    suspect: { suspectId: `bench-suspect-${i}` },
    source: SuspectSource.FEED_ADAPTER,
  });
  await log.appendSession(sessionFor(i, seen.index));
}

const verdicts: Record<VerdictName, number> = { LIKELY_DERIVED: 0, SIMILAR: 0, INCONCLUSIVE: 0 };
const backedBy = new Map<string, number>();

/**
 * The member's side of attestation `i`: the v2 statement answering the logged session (bound choices copied
 * from it), its counts, the verdict the shared verdict module derives from them, signed with the member key.
 */
function attestationFor(i: number): DsseEnvelope {
  const m = memberOf(i);
  const view = log.session(sessionIdOf(i));
  if (view === undefined) throw new Error(`bench: session ${sessionIdOf(i)} is not logged`);
  const o = view.opened;
  const evidence = evidenceFor(i, o.watermarkCommitment !== undefined);
  const v = deriveVerdict(evidence, POLICY);
  verdicts[v.verdict]++;
  const by = v.backed_by ?? "none";
  backedBy.set(by, (backedBy.get(by) ?? 0) + 1);
  const st = create(AttestationStatementSchema, {
    version: 2,
    sessionId: o.sessionId,
    sessionNonce: o.nonce,
    ...(o.suspect === undefined ? {} : { suspect: o.suspect }),
    memberModel: m.model,
    verdict: VERDICT_PROTO[v.verdict],
    backedBy: v.backed_by ?? "",
    evidence: { combinedPValue: v.p_value, combinedEffectSize: v.effect },
    ...(o.canaryCommitment === undefined ? {} : { canaryCommitment: o.canaryCommitment }),
    ...(o.watermarkCommitment === undefined ? {} : { watermarkCommitment: o.watermarkCommitment }),
    epochId: o.epochId,
    issuedAt: timestampFromMs(now),
    counts: countsProto(evidence),
    bound: {
      sessionIndex: BigInt(view.index),
      panel: o.panel,
      seed: o.seed,
      referenceFingerprintHash: o.referenceFingerprintHash,
      ...(o.policy === undefined ? {} : { policy: o.policy }),
    },
  });
  return signEnvelope(PAYLOAD_TYPES.attestation, toBinary(AttestationStatementSchema, st), m.key);
}

/** Runs `work(i)` for i in [from, to) with up to IN_FLIGHT concurrent workers. */
async function pooled(from: number, to: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, to - from) }, async () => {
      while (next < to) await work(next++);
    }),
  );
}

// Warm-up (JIT, connection pool, prepared plans, every admission path), not counted.
await pooled(0, WARMUP, sightAndOpen);
await pooled(0, WARMUP, async (i) => {
  await log.appendAttestation(attestationFor(i));
});
await log.checkpoint();
for (const k of Object.keys(verdicts) as VerdictName[]) verdicts[k] = 0;
backedBy.clear();

const total = WARMUP + entries;
const countersigned: Array<{ envelope: DsseEnvelope; keyId: string }> = [];
const load0 = load();

// Phase 1 (timed): the hub's sightings and sessions.
const pgA0 = backend === "postgres" ? postgresCpuSeconds() : undefined;
const cpuA0 = process.cpuUsage();
const tA = performance.now();
await profiled("append", () => pooled(WARMUP, total, sightAndOpen));
const sessionsS = (performance.now() - tA) / 1000;
const sessionsCpuS = cpuSeconds(process.cpuUsage(cpuA0));
const pgA1 = pgA0 === undefined ? undefined : postgresCpuSeconds();

// Untimed: the members build and sign their statements (member-side cost, once each session is logged).
const signed = Array.from({ length: entries }, (_, k) => attestationFor(WARMUP + k));

// Phase 2 (timed): the attestations, admitted (checked against the session, verdict re-derived) and
// countersigned.
const pgB0 = backend === "postgres" ? postgresCpuSeconds() : undefined;
const cpuB0 = process.cpuUsage();
const tB = performance.now();
const cp = await profiled("attest", async () => {
  await pooled(0, entries, async (k) => {
    const a = await log.appendAttestation(signed[k] as DsseEnvelope);
    countersigned.push({ envelope: a.envelope, keyId: memberOf(WARMUP + k).key.keyId });
  });
  return log.checkpoint();
});
const attestS = (performance.now() - tB) / 1000;
// Witnesses: wait until every witness cosigned the final checkpoint (not timed into the appends: cosigning
// runs beside the writer), and check the served checkpoint carries all W cosignatures.
let cosignLagMs: number | undefined;
if (witnessing !== undefined) {
  const t = performance.now();
  await witnessing.settled();
  cosignLagMs = performance.now() - t;
  const served = log.latestCheckpoint;
  const opened = openCheckpoint(served?.note ?? "", {
    log: parseVerifierKey(log.verifierKey),
    witnesses: witnessServers.map((w) => parseCosignatureVerifierKey(w.witness.verifierKey).verifier),
    witnessThreshold: witnessCount,
  });
  if (opened.checkpoint.size !== cp.treeSize || witnessErrors.length > 0) {
    console.error(
      `bench: witnesses did not cosign the final checkpoint: ${witnessErrors.slice(0, 3).join("; ")}`,
    );
    process.exit(1);
  }
}
const attestCpuS = cpuSeconds(process.cpuUsage(cpuB0));
const pgB1 = pgB0 === undefined ? undefined : postgresCpuSeconds();
const pgCpuS =
  pgA0 === undefined || pgA1 === undefined || pgB0 === undefined || pgB1 === undefined
    ? undefined
    : pgA1 - pgA0 + (pgB1 - pgB0);

const timedAppends = 3 * entries;
const appendS = sessionsS + attestS;
const appendCpuS = sessionsCpuS + attestCpuS;
const appendsPerS = Math.round(timedAppends / appendS);
const checkpoints = await store.db
  .selectFrom("log_checkpoints")
  .select((eb) => eb.fn.countAll<bigint>().as("n"))
  .executeTakeFirstOrThrow();
const kindRows = await store.db
  .selectFrom("log_entries")
  .select((eb) => ["kind", eb.fn.countAll<bigint>().as("n")])
  .groupBy("kind")
  .execute();
const entriesByKind: Record<string, number> = {};
for (const r of kindRows.sort((a, b) => Number(a.kind) - Number(b.kind))) {
  const name = (LogEntryKind[Number(r.kind)] ?? `kind_${r.kind}`).toLowerCase();
  entriesByKind[name] = Number(r.n);
}
await witnessing?.close();
await Promise.all(witnessServers.map((w) => w.server.close()));
if (witnessDir !== undefined) rmSync(witnessDir, { recursive: true, force: true });
await log.close();
await store.close();

// Verifications: many in flight so libuv's pool uses every core. Each envelope is verified as an
// auditor would: both the member's and the hub's signature required.
const keys = new KeyRing([...members.map((m) => m.key.publicKey), countersignKey.publicKey]);
const verifyN = Math.min(countersigned.length, 20_000);
const sample = countersigned.slice(0, verifyN);
const verify = (s: { envelope: DsseEnvelope; keyId: string }) =>
  verifyEnvelopeAsync(s.envelope, { keys, requiredKeyIds: [s.keyId, countersignKey.keyId] });
await Promise.all(sample.slice(0, 1000).map(verify));
const vcpu0 = process.cpuUsage();
const v0 = performance.now();
await profiled("verify", async () => {
  let vi = 0;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (vi < sample.length) await verify(sample[vi++] as (typeof sample)[number]);
    }),
  );
});
const verifyS = (performance.now() - v0) / 1000;
const verifyCpuS = cpuSeconds(process.cpuUsage(vcpu0));
const verificationsPerS = Math.round(verifyN / verifyS);
const load1 = load();
const cores = cpus().length;

const appendCpuUs = (appendCpuS / timedAppends) * 1e6;
const pgCpuUs = pgCpuS === undefined ? undefined : (pgCpuS / timedAppends) * 1e6;
const result = {
  appends_per_s: appendsPerS,
  verifications_per_s: verificationsPerS,
  backend,
  ...(note === undefined ? {} : { note }),
  protocol: "v2",
  /** Witnesses asked to cosign every checkpoint (real HTTP servers on loopback, in this process). */
  witnesses: witnessCount,
  key_set: keySet,
  /** After the final checkpoint was signed, until every witness had cosigned it (ms). */
  ...(cosignLagMs === undefined ? {} : { final_cosign_lag_ms: Math.round(cosignLagMs) }),
  entries_timed: timedAppends,
  /** Timed appends by kind: per attestation a sighting, a session and the attestation. */
  appends_by_kind: { suspect_sighting: entries, session: entries, attestation: entries },
  /** Sightings + sessions per wall-clock second (phase 1). */
  session_phase_appends_per_s: Math.round((2 * entries) / sessionsS),
  /** Attestations per wall-clock second (phase 2: full v2 admission). */
  attestations_per_s: Math.round(entries / attestS),
  /** Verdicts of the timed attestations, as deriveVerdict gave them (the hub re-derived each on admission). */
  attestations_by_verdict: { ...verdicts },
  attestations_by_backing: Object.fromEntries([...backedBy].sort()),
  /** Every entry in the log at the end, by kind (setup and warm-up included). */
  entries_by_kind: entriesByKind,
  members: memberCount,
  append_seconds: Number(appendS.toFixed(3)),
  session_phase_seconds: Number(sessionsS.toFixed(3)),
  attest_phase_seconds: Number(attestS.toFixed(3)),
  append_cpu_seconds: Number(appendCpuS.toFixed(3)),
  /** Appends per CPU-second of this process (threads included; Postgres' own CPU not counted). */
  appends_per_cpu_s: Math.round(timedAppends / appendCpuS),
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
const list = (o: Iterable<[string, number]>) => [...o].map(([k, v]) => `${k} ${n(v)}`).join(", ");
console.log(`backend                      ${backend}${note === undefined ? "" : ` (${note})`}`);
console.log(
  `durable appends/s            ${n(appendsPerS)} wall  (${n(timedAppends)} appends: ${n(entries)} sightings, ${n(entries)} sessions, ${n(entries)} v2 attestations; ${result.checkpoints_signed} checkpoints, ${appendS.toFixed(2)} s)`,
);
console.log(
  witnessCount === 0
    ? "witnesses                    none (--witnesses W to have W real witnesses cosign every checkpoint)"
    : `witnesses                    ${witnessCount}, every checkpoint cosigned over HTTP; the final one (size ${n(cp.treeSize)}) by all ${witnessCount}, ${Math.round(cosignLagMs ?? 0)} ms after it was signed`,
);
console.log(
  `  by phase                   sightings + sessions ${n(result.session_phase_appends_per_s)}/s (${sessionsS.toFixed(2)} s), attestations ${n(result.attestations_per_s)}/s (${attestS.toFixed(2)} s)`,
);
console.log(
  `  per CPU-second             ${n(result.appends_per_cpu_s)} (${Math.round(appendCpuUs)} µs CPU/append in this process${pgCpuUs === undefined ? "" : `, + <= ${Math.round(pgCpuUs)} µs in Postgres`}; ${n(result.appends_per_s_if_idle)}/s on ${cores} idle cores)`,
);
console.log(
  `  verdicts                   ${list(Object.entries(verdicts))} (backed by ${list([...backedBy].sort())})`,
);
console.log(`  log entries by kind        ${list(Object.entries(entriesByKind))}`);
console.log(
  `envelope verifications/s     ${n(verificationsPerS)} wall  (member + hub signature each, ${verifyN} envelopes)`,
);
console.log(
  `  per CPU-second             ${n(result.verifications_per_cpu_s)} (${n(result.verifications_per_s_if_idle)}/s on ${cores} idle cores)`,
);
console.log(`load average (1 min)         ${load0} before, ${load1} after, on ${cores} cores`);
console.log(`targets                      appends >= 3,000/s, verifications >= 5,000/s`);
if (profDir !== undefined)
  console.log(
    `cpu profiles                 ${profDir}/append.cpuprofile, attest.cpuprofile, verify.cpuprofile`,
  );
if (jsonFile !== undefined) writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
