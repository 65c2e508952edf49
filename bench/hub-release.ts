/**
 * release_to_alert_ms for bench/hub.ts (issue 10): one release, from a member's report to the alert on the
 * bus, through the hub's real machinery and a real member node answering its session.
 *
 * Set up (untimed): the hub runtime `lineage hub serve` runs (openHubRuntime: index, ingestion, scanner,
 * sessions, cases, alerts) with its gRPC server on 127.0.0.1, on its own database (a throw-away Postgres
 * schema, or PGlite) and the in-process bus; a member node (startMemberNodeServer with the node's own match
 * services, on PGlite) that enrols through the hub (secretariat-signed), commits 32 canary pairs and a
 * reference commitment, probes its model on the epoch battery and submits its member-signed sketch; testbed
 * n-gram models served over HTTP by this process (the member's model, a copy of it that learned the exposed
 * canary items, and a panel of three).
 * Timed: the member's signed SubmitSuspect naming the copy's endpoint -> the hub logs the sighting, probes the
 * copy on the battery, sketches it, retrieves the member's model, logs and opens the session -> the node
 * probes the copy and the panel with its canaries, answers -> the hub verifies, countersigns and logs the
 * attestation, files the case -> the ATTESTATION_LOGGED alert reaches a subscriber of lineage.alert.> on the
 * bus. Inference (every generation the testbed models computed for the hub's battery and the node's
 * canaries, timed inside the models: they run synchronously in this process, so their time adds up without
 * overlap) is measured and subtracted: release_to_alert_ms = wall - inference.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EnrolMemberRequestSchema,
  GetEpochBatteryRequestSchema,
  Hub,
  LogCanaryCommitmentRequestSchema,
  ProbeKind,
  ProbeSchema,
  ReferenceFingerprintCommitmentSchema,
  SketchSchema,
  SubmitSketchRequestSchema,
  SubmitSuspectRequestSchema,
  SuspectSource,
} from "@lineage/api";
import { createInProcessBus } from "@lineage/bus";
import { Ed25519PrivateKey, KeyRing, parseVerifierKey, signEnvelope } from "@lineage/crypto";
import {
  type Battery,
  buildSketch,
  createSketchContext,
  HttpAdapter,
  type Probe,
  probeModel,
  sketchInputsFromFingerprint,
  splitBattery,
} from "@lineage/fingerprint";
import {
  ALERT_SUBJECTS,
  EpochStore,
  enrolmentRecord,
  envelopeToProto,
  openHubRuntime,
  PAYLOAD_TYPES,
  SECRETARIAT,
  SKETCH_PAYLOAD_TYPE,
  signMembership,
  signRequest,
  sketchToProto,
  startHubServer,
  TransparencyLog,
} from "@lineage/hub";
import {
  adminAuth,
  generateCanaryPairs,
  headerSigner,
  matchServices,
  silentNodeLogger,
  startMemberNodeServer,
  staticBatterySource,
} from "@lineage/member-node";
import { createClient, insecureChannelCredentials, insecureServerCredentials } from "@lineage/rpc";
import {
  type HubDatabase,
  hubMigrations,
  type MemberNodeDatabase,
  memberNodeMigrations,
  openStore,
  openTestStore,
  type Store,
} from "@lineage/store";
import { factSentence, loadCorpus, NgramCounts, serveTestbed, TestbedModel } from "@lineage/testbed";

/** What the release phase measured. */
export interface ReleaseToAlert {
  /** Wall time minus inference, ms. */
  readonly release_to_alert_ms: number;
  readonly wall_ms: number;
  readonly inference_ms: number;
  readonly generations: number;
  readonly verdict_alert: string;
  readonly probes: number;
  readonly canary_pairs: number;
  readonly panel: number;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok, fail) => {
    s.once("error", fail);
    s.listen(0, "127.0.0.1", ok);
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** Inference clock: every generation the served models compute is timed (synchronous, in this process). */
const inference = { ms: 0, calls: 0 };
function timed(model: TestbedModel): TestbedModel {
  for (const name of ["generate", "generateFromTokens", "topLogprobs", "logprob"] as const) {
    const f = (model[name] as (...a: unknown[]) => unknown).bind(model);
    Object.defineProperty(model, name, {
      value: (...a: unknown[]) => {
        const t = performance.now();
        try {
          return f(...a);
        } finally {
          inference.ms += performance.now() - t;
          inference.calls++;
        }
      },
    });
  }
  return model;
}

function trainModel(
  id: string,
  slice: [number, number],
  facts: readonly { prompt: string; answer: string }[] = [],
) {
  const corpus = loadCorpus();
  const counts = new NgramCounts(4);
  for (const s of corpus.public.slice(slice[0], slice[1])) counts.addSequence(corpus.tokens(s));
  for (const f of facts) counts.addSequence(factSentence(f.prompt, f.answer), 8);
  return timed(new TestbedModel(id, counts.compile()));
}

/** Runs the release phase once; `pgUrl` puts the hub on a throw-away Postgres schema (else PGlite). */
export async function measureReleaseToAlert(o: {
  readonly pgUrl?: string;
  readonly probes?: number;
}): Promise<ReleaseToAlert> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const origin = "bench.lineage/release";
    const hubKey = Ed25519PrivateKey.generate();
    const memberId = "acme";
    const modelId = `${memberId}-chat`;
    const corpus = loadCorpus();
    const epochId = `bench-release-${randomBytes(3).toString("hex")}`;
    const nProbes = o.probes ?? 64;
    const battery: Battery = {
      epoch: epochId,
      probes: corpus.public.slice(5000, 5000 + nProbes).map((s, i) => ({
        id: String(i),
        kind: "open" as const,
        prompt: corpus.tokens(s).slice(0, 5).join(" "),
      })),
    };
    const store: Store<HubDatabase> =
      o.pgUrl === undefined
        ? await openStore<HubDatabase>({ kind: "pglite" })
        : await openTestStore<HubDatabase>("postgres", { url: o.pgUrl });
    cleanups.push(() => store.close());
    await store.migrate(hubMigrations);
    const log = await TransparencyLog.open({ store, origin, hubKey });
    cleanups.push(() => log.close());
    if (log.latestCheckpoint === undefined) await log.checkpoint();
    await new EpochStore(store, hubKey).create({
      epochId,
      probes: battery.probes.map((p, index) =>
        create(ProbeSchema, { index, kind: ProbeKind.OPEN_ENDED, prompt: p.prompt, maxTokens: 40 }),
      ),
      notAfterMs: Date.now() + 86_400_000,
    });
    const [nodePort, modelsPort] = [await freePort(), await freePort()];
    const modelsUrl = `http://127.0.0.1:${modelsPort}/v1`;
    const bus = createInProcessBus();
    cleanups.push(() => bus.close());
    const panel = ["panel-a", "panel-b", "panel-c"];
    const scans: Promise<unknown>[] = [];
    const runtime = await openHubRuntime({
      store,
      log,
      hubKey,
      bus,
      members: new Map([
        [memberId, { address: `127.0.0.1:${nodePort}`, credentials: insecureChannelCredentials() }],
      ]),
      populationId: "bench-reference/1",
      reference: panel.map((id) => ({
        modelId: id,
        populationId: "bench-reference/1",
        baseUrl: modelsUrl,
        modelName: id,
      })),
      panelSize: panel.length,
      refreshIntervalMs: 0,
      onScan: (_id, p) => {
        scans.push(p);
        p.catch(() => {});
      },
    });
    cleanups.push(() => runtime.close());
    const server = await startHubServer({
      log,
      listen: "127.0.0.1:0",
      credentials: insecureServerCredentials(),
      index: runtime.index,
      sessions: runtime.sessions,
      logger: { warn: () => {}, error: () => {} },
    });
    cleanups.push(() => server.close());

    // ---- the member node ---------------------------------------------------------------------------------
    const mstore =
      o.pgUrl === undefined
        ? await openStore<MemberNodeDatabase>({ kind: "pglite" })
        : await openTestStore<MemberNodeDatabase>("postgres", { url: o.pgUrl });
    cleanups.push(() => mstore.close());
    await mstore.migrate(memberNodeMigrations);
    const key = Ed25519PrivateKey.generate();
    const hub = createClient(Hub, server.address, insecureChannelCredentials(), { defaultTimeoutMs: 60_000 });
    cleanups.push(async () => hub.close());
    const http = (model: string) => new HttpAdapter({ baseUrl: modelsUrl, model, concurrency: 8 });
    const deps = {
      memberId,
      store: mstore,
      bus: createInProcessBus(),
      signingKey: key,
      signer: headerSigner(memberId, key, mstore, Date.now),
      hub,
      hubKeys: new KeyRing([hubKey.publicKey]),
      admin: adminAuth({ keys: new KeyRing([key.publicKey]), now: Date.now, store: mstore }),
      clock: Date.now,
      logger: silentNodeLogger,
    };
    const services = matchServices(deps, {
      hubLog: { origin, verifier: parseVerifierKey(log.verifierKey) },
      models: {
        suspect: (ref) =>
          ref.target.case === "endpoint"
            ? new HttpAdapter({
                baseUrl: ref.target.value.baseUrl,
                model: ref.target.value.modelName,
                concurrency: 8,
              })
            : undefined,
        reference: (m) => (m.memberId === memberId && m.modelId === modelId ? http(modelId) : undefined),
        panel: (id) => http(id),
        battery: async (e) => (e === battery.epoch ? battery : undefined),
      },
    });
    const node = await startMemberNodeServer({
      deps,
      protect: { batteries: staticBatterySource(battery, new Uint8Array(32).fill(1)), adapters: {}, env: {} },
      match: services,
      listen: `127.0.0.1:${nodePort}`,
      credentials: insecureServerCredentials(),
      security: "plaintext",
      rpcLogger: { warn: () => {}, error: () => {} },
    });
    cleanups.push(() => node.close());
    const signed = <T>(schema: Parameters<typeof signRequest>[0], msg: T) =>
      signRequest(schema, msg as never, { memberId, key }) as T;
    const now = Date.now();
    await hub.enrolMember(
      signRequest(
        EnrolMemberRequestSchema,
        create(EnrolMemberRequestSchema, {
          memberId,
          displayName: "Member acme",
          record: envelopeToProto(
            signMembership(
              enrolmentRecord(memberId, "Member acme", key.publicKey, now - 60_000, { effectiveAtMs: now }),
              [key],
            ),
          ),
        }),
        { memberId: SECRETARIAT, key: hubKey },
      ),
    );
    // Canary prompts end in a distinctive word so that an n-gram copy that learned an item can answer it.
    const word = () => Array.from(randomBytes(8), (b) => String.fromCharCode(97 + (b % 26))).join("");
    const pairs = generateCanaryPairs(32).map((p) => ({
      ...p,
      a: { ...p.a, prompt: `${p.a.prompt.replace(/\?$/, "")} ${word()}` },
      b: { ...p.b, prompt: `${p.b.prompt.replace(/\?$/, "")} ${word()}` },
    }));
    await services.canaries.import(`${memberId}-pairs-1`, pairs);
    await services.canaries.commit(`${memberId}-pairs-1`);
    const labels = await services.canaries.learnLabels(`${memberId}-pairs-1`);
    const commitment = signEnvelope(
      PAYLOAD_TYPES.referenceFingerprint,
      toBinary(
        ReferenceFingerprintCommitmentSchema,
        create(ReferenceFingerprintCommitmentSchema, {
          memberId,
          modelId,
          modelVersion: "1",
          epochId,
          fingerprintHash: new Uint8Array(randomBytes(32)),
          probes: battery.probes.length,
          committedAt: timestampFromMs(Date.now()),
        }),
      ),
      key,
    );
    await hub.logCanaryCommitment(
      signed(
        LogCanaryCommitmentRequestSchema,
        create(LogCanaryCommitmentRequestSchema, { commitment: envelopeToProto(commitment) }),
      ),
    );
    const facts = pairs.map((p, i) => {
      const e = labels[i] === 1 ? p.b : p.a;
      return { prompt: e.prompt, answer: e.expected };
    });
    const models = await serveTestbed({
      port: modelsPort,
      models: [
        trainModel(modelId, [0, 800], facts),
        trainModel("suspect-copy", [0, 800], facts),
        trainModel("panel-a", [800, 1600]),
        trainModel("panel-b", [1600, 2400]),
        trainModel("panel-c", [2400, 3200]),
      ],
    });
    cleanups.push(() => models.close());
    // The node protects its model: probes it on the hub's battery and submits its member-signed sketch.
    const res = await hub.getEpochBattery(
      signed(GetEpochBatteryRequestSchema, create(GetEpochBatteryRequestSchema, {})),
    );
    const eb = res.battery;
    if (eb === undefined) throw new Error("bench/hub release: the hub sent no battery");
    const probes = eb.probes.map((p, i): Probe => ({ id: String(i), kind: "open", prompt: p.prompt }));
    const retrieval = splitBattery({ epoch: epochId, probes }, epochId).retrieval;
    const fp = await probeModel(http(modelId), retrieval, { concurrency: 4 });
    const sketch = buildSketch(
      sketchInputsFromFingerprint(retrieval, fp),
      createSketchContext(res.epochKey, epochId),
    );
    await hub.submitSketch(
      signed(
        SubmitSketchRequestSchema,
        create(SubmitSketchRequestSchema, {
          sketch: envelopeToProto(
            signEnvelope(
              SKETCH_PAYLOAD_TYPE,
              toBinary(
                SketchSchema,
                sketchToProto(sketch, { memberId, modelId, modelVersion: "1" }, Date.now()),
              ),
              key,
            ),
          ),
        }),
      ),
    );
    if (runtime.index.retriever.size !== 1)
      throw new Error("bench/hub release: the member's sketch is not indexed");

    // ---- timed: report -> alert ---------------------------------------------------------------------------
    let alerted: ((subject: string) => void) | undefined;
    const alert = new Promise<string>((ok) => {
      alerted = ok;
    });
    const sub = await bus.subscribe(ALERT_SUBJECTS, (ev) => alerted?.(ev.subject));
    cleanups.push(async () => sub.stop());
    inference.ms = 0;
    inference.calls = 0;
    const t0 = performance.now();
    await hub.submitSuspect(
      signed(
        SubmitSuspectRequestSchema,
        create(SubmitSuspectRequestSchema, {
          source: SuspectSource.MEMBER_REPORT,
          suspect: {
            target: {
              case: "endpoint",
              value: { baseUrl: modelsUrl, modelName: "suspect-copy", logprobs: true },
            },
          },
        }),
      ),
    );
    const timeout = new Promise<never>((_, fail) =>
      setTimeout(() => fail(new Error("bench/hub release: no alert within 120 s")), 120_000).unref(),
    );
    const subject = await Promise.race([
      alert,
      timeout,
      // A scan that fails ends the wait with its error.
      (async () => {
        for (;;) {
          if (scans.length > 0) {
            await scans[0];
            return await new Promise<string>(() => {});
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      })(),
    ]);
    const wall = performance.now() - t0;
    const inferenceMs = inference.ms;
    const calls = inference.calls;
    await Promise.allSettled(scans);
    return {
      release_to_alert_ms: Number((wall - inferenceMs).toFixed(1)),
      wall_ms: Number(wall.toFixed(1)),
      inference_ms: Number(inferenceMs.toFixed(1)),
      generations: calls,
      verdict_alert: subject,
      probes: nProbes,
      canary_pairs: pairs.length,
      panel: panel.length,
    };
  } finally {
    while (cleanups.length > 0)
      await cleanups
        .pop()?.()
        .catch(() => undefined);
  }
}

if (process.argv[1]?.endsWith("hub-release.ts")) {
  console.log(
    JSON.stringify(
      await measureReleaseToAlert({ ...(process.env.BENCH_PG ? { pgUrl: process.env.BENCH_PG } : {}) }),
      null,
      2,
    ),
  );
  process.exit(0);
}
