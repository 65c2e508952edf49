/**
 * Test world of the hub's sessions, ledger, cases and alerts (hub-cases.test.ts), on real components only:
 * the hub's TransparencyLog and gRPC server with its session side (openHubSessions), and REAL member nodes
 * (startMemberNodeServer with their canary sets and match sessions, each on its own store), reached by the
 * hub over gRPC RunMatchSession or NATS request-reply. Models are the replay adapters of examples/replay (the
 * engine's own adapter over recorded outputs); a suspect is a replay of the reference's outputs that also
 * learned the EXPOSED item of every canary pair of the members it copies (a distilled copy), so the paired
 * canary test accuses it for those members and for no one else.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  Hub,
  ProbeKind,
  ProbeSchema,
  ReferenceFingerprintCommitmentSchema,
  SketchSchema,
  SubmitSketchRequestSchema,
  type SuspectRef,
  SuspectRefSchema,
} from "@lineage/api";
import { type Bus, createInProcessBus } from "@lineage/bus";
import { type CanaryPair, Ed25519PrivateKey, KeyRing, parseVerifierKey, signEnvelope } from "@lineage/crypto";
import {
  type Battery,
  buildSketch,
  createSketchContext,
  type ModelAdapter,
  parseReplay,
  probeModel,
  ReplayAdapter,
  sketchInputsFromFingerprint,
  splitBattery,
} from "@lineage/fingerprint";
import {
  BusSessionTransport,
  enrolmentRecord,
  envelopeToProto,
  GrpcSessionTransport,
  type HubIndex,
  type HubServer,
  type HubSessions,
  openHubIndex,
  openHubSessions,
  PAYLOAD_TYPES,
  type ScanResult,
  type SessionTransport,
  SKETCH_PAYLOAD_TYPE,
  signHeader,
  signMembership,
  sketchToProto,
  startHubServer,
  TransparencyLog,
} from "@lineage/hub";
import {
  adminAuth,
  generateCanaryPairs,
  headerSigner,
  type MatchServices,
  type MemberNodeDeps,
  type MemberNodeServer,
  matchServices,
  parseBatteryText,
  parseCanaryPairsJsonl,
  serveSessionsOnBus,
  silentNodeLogger,
  startMemberNodeServer,
  staticBatterySource,
} from "@lineage/member-node";
import {
  createClient,
  insecureChannelCredentials,
  insecureServerCredentials,
  type ServiceClient,
} from "@lineage/rpc";
import {
  type HubDatabase,
  hubMigrations,
  type MemberNodeDatabase,
  memberNodeMigrations,
  type Store,
} from "@lineage/store";

export const ROOT = resolve(import.meta.dirname, "../../../..");
export const ORIGIN = "lineage.test/hub-sessions";
export const POPULATION = "test-population/1";
export const PANEL = ["unrelated-a", "unrelated-b", "unrelated-c"] as const;

export async function replayText(name: string): Promise<string> {
  return readFile(resolve(ROOT, "examples/replay", name), "utf8");
}

export async function battery(): Promise<Battery> {
  return parseBatteryText(
    await readFile(resolve(ROOT, "examples/battery.json"), "utf8"),
    "examples/battery.json",
  );
}

/** The hub: its log, its session side, its gRPC server and a client of it. */
export interface HubSide extends AsyncDisposable {
  readonly store: Store<HubDatabase>;
  readonly log: TransparencyLog;
  readonly hubKey: Ed25519PrivateKey;
  readonly sessions: HubSessions;
  readonly server: HubServer;
  readonly client: ServiceClient<typeof Hub>;
  /** With `scan`: the epochs and sketch index. */
  readonly index: HubIndex | undefined;
  close(): Promise<void>;
}

export interface HubSideOptions {
  readonly hubKey: Ed25519PrivateKey;
  /** Where each member's node listens (gRPC transport) — filled in as nodes start. */
  readonly addresses: Map<string, string>;
  /** With a bus: sessions over NATS request-reply and alerts published on it. */
  readonly bus?: Bus;
  readonly sessionsOverBus?: boolean;
  readonly alphaBudget?: number | ((memberId: string) => number);
  /** Port to listen on (a restarted hub keeps its address). */
  readonly port?: number;
  readonly onProgress?: (sessionId: string) => void;
  /** Serve epochs and sketch ingestion too, create the battery's epoch, and scan releases (SubmitSuspect). */
  readonly scan?: {
    readonly suspects: SuspectBook;
    readonly onScan: (id: string, r: Promise<ScanResult>) => void;
  };
}

/** Opens (or reopens) the hub on `store`. */
export async function startHubSide(store: Store<HubDatabase>, o: HubSideOptions): Promise<HubSide> {
  await store.migrate(hubMigrations);
  const log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey: o.hubKey,
    checkpointIntervalMs: 3_600_000,
    checkpointEvery: 1_000_000,
  });
  const transport: SessionTransport =
    o.sessionsOverBus && o.bus
      ? new BusSessionTransport({ log, hubKey: o.hubKey, bus: o.bus })
      : new GrpcSessionTransport({
          log,
          hubKey: o.hubKey,
          addresses: (m) => o.addresses.get(m),
          credentials: insecureChannelCredentials(),
        });
  let index: HubIndex | undefined;
  if (o.scan) {
    index = await openHubIndex({ store, log, hubKey: o.hubKey, refreshIntervalMs: 0 });
    if ((await index.epochs.current()) === undefined) {
      const b = await battery();
      await index.epochs.create({
        epochId: b.epoch,
        probes: b.probes.map((p, i) =>
          create(ProbeSchema, {
            index: i,
            kind:
              p.kind === "edge"
                ? ProbeKind.EDGE_CASE
                : p.kind === "completion"
                  ? ProbeKind.SHORT_COMPLETION
                  : ProbeKind.OPEN_ENDED,
            prompt: p.prompt,
            referenceAnswer: p.kind === "edge" ? (p.reference ?? "") : "",
            maxTokens: 64,
          }),
        ),
        notAfterMs: Date.now() + 30 * 86_400_000,
      });
      await index.retriever.rebuild();
    }
  }
  const book = o.scan?.suspects;
  const sessions = await openHubSessions({
    store,
    log,
    hubKey: o.hubKey,
    transport,
    ...(o.bus ? { bus: o.bus } : {}),
    populationId: POPULATION,
    panelSize: PANEL.length,
    backoffMs: 50,
    ...(o.alphaBudget === undefined ? {} : { alphaBudget: o.alphaBudget }),
    ...(o.onProgress ? { onProgress: (id: string) => o.onProgress?.(id) } : {}),
    ...(index && book && o.scan
      ? {
          scan: {
            epochs: index.epochs,
            retriever: index.retriever,
            // The engine's adapter for the endpoint the suspect is served at (replays of examples/replay).
            adapterFor: (ref: SuspectRef) =>
              ref.target.case === "endpoint" ? book.get(ref.target.value.modelName) : undefined,
            onScan: o.scan.onScan,
          },
        }
      : {}),
  });
  for (const id of PANEL)
    await sessions.population.add({
      modelId: id,
      populationId: POPULATION,
      baseUrl: "http://127.0.0.1:9/v1",
      modelName: id,
    });
  const server = await startHubServer({
    log,
    listen: `127.0.0.1:${o.port ?? 0}`,
    credentials: insecureServerCredentials(),
    sessions,
    ...(index ? { index } : {}),
  });
  const client = createClient(Hub, server.address, insecureChannelCredentials(), {
    defaultTimeoutMs: 60_000,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    client.close();
    await sessions.close();
    await index?.close();
    await server.close();
    await log.close();
  };
  return {
    store,
    log,
    hubKey: o.hubKey,
    sessions,
    server,
    client,
    index,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The suspects the members' nodes can reach, by suspect id (set as the test builds them). */
export type SuspectBook = Map<string, ModelAdapter>;

/** A member: its key, its node (real, on its own store), its committed canary pairs and their labels. */
export interface MemberSide extends AsyncDisposable {
  readonly memberId: string;
  readonly modelId: string;
  readonly key: Ed25519PrivateKey;
  readonly node: MemberNodeServer;
  readonly services: MatchServices;
  readonly deps: MemberNodeDeps;
  readonly pairs: readonly CanaryPair[];
  readonly labels: readonly (0 | 1)[];
}

/**
 * Enrols `memberId` in the hub's log, starts its node, commits its canary pairs through the hub (the log
 * draws the labels) and logs its model's reference fingerprint commitment. Sessions are served over gRPC and,
 * with `bus`, over NATS request-reply too.
 */
export async function startMember(
  hub: HubSide,
  store: Store<MemberNodeDatabase>,
  memberId: string,
  suspects: SuspectBook,
  options: {
    readonly pairs?: readonly CanaryPair[];
    readonly bus?: Bus;
  } = {},
): Promise<MemberSide> {
  await store.migrate(memberNodeMigrations);
  const key = Ed25519PrivateKey.generate();
  const now = Date.now();
  await hub.log.appendMembership(
    signMembership(
      enrolmentRecord(memberId, `Member ${memberId}`, key.publicKey, now - 60_000, { effectiveAtMs: now }),
      [key],
    ),
  );
  const b = await battery();
  const modelId = `${memberId}-chat`;
  const reference = new ReplayAdapter(parseReplay(await replayText("reference.jsonl")), "reference");
  const panel = new Map<string, ModelAdapter>();
  for (const name of PANEL)
    panel.set(name, new ReplayAdapter(parseReplay(await replayText(`${name}.jsonl`)), name));
  // The node's own channel to the hub (it outlives a hub restart on the same address).
  const hubClient = createClient(Hub, hub.server.address, insecureChannelCredentials(), {
    defaultTimeoutMs: 60_000,
  });
  const deps: MemberNodeDeps = {
    memberId,
    store,
    bus: options.bus ?? createInProcessBus(),
    signingKey: key,
    signer: headerSigner(memberId, key, store, Date.now),
    hub: hubClient,
    hubKeys: new KeyRing([hub.log.hubPublicKey]),
    admin: adminAuth({ keys: new KeyRing([key.publicKey]), now: Date.now, store }),
    clock: Date.now,
    logger: silentNodeLogger,
  };
  const services = matchServices(deps, {
    hubLog: { origin: ORIGIN, verifier: parseVerifierKey(hub.log.verifierKey) },
    models: {
      suspect: (ref) =>
        ref.target.case === "endpoint" ? suspects.get(ref.target.value.modelName) : undefined,
      reference: (m) => (m.memberId === memberId && m.modelId === modelId ? reference : undefined),
      panel: (id) => panel.get(id),
      battery: async (epochId) => (epochId === b.epoch ? b : undefined),
    },
  });
  const node = await startMemberNodeServer({
    deps,
    protect: { batteries: staticBatterySource(b, new Uint8Array(32).fill(1)), adapters: {}, env: {} },
    match: services,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
    security: "plaintext",
    rpcLogger: { warn: () => {}, error: () => {} },
  });
  const busServe = options.bus ? await serveSessionsOnBus(options.bus, deps, services.sessions) : undefined;
  const pairs =
    options.pairs ??
    parseCanaryPairsJsonl("sample", await readFile(resolve(ROOT, "examples/canary-pairs.jsonl"), "utf8"));
  const setId = `${memberId}-pairs-1`;
  await services.canaries.import(setId, pairs);
  await services.canaries.commit(setId);
  const labels = await services.canaries.learnLabels(setId);
  // The member's reference fingerprint of its model, member-signed, logged before any session binds it.
  await hub.log.appendCommitment(
    signEnvelope(
      PAYLOAD_TYPES.referenceFingerprint,
      toBinary(
        ReferenceFingerprintCommitmentSchema,
        create(ReferenceFingerprintCommitmentSchema, {
          memberId,
          modelId,
          modelVersion: "1",
          epochId: b.epoch,
          fingerprintHash: new Uint8Array(randomBytes(32)),
          probes: b.probes.length,
          committedAt: timestampFromMs(Date.now()),
        }),
      ),
      key,
    ),
  );
  const close = async () => {
    await busServe?.stop();
    await node.close();
    hubClient.close();
  };
  return { memberId, modelId, key, node, services, deps, pairs, labels, [Symbol.asyncDispose]: close };
}

/** Fresh canary pairs for a second member (the sample file is the first member's). */
export function freshPairs(n = 32): CanaryPair[] {
  return generateCanaryPairs(n);
}

/**
 * A suspect's recorded outputs: the reference's, plus the EXPOSED item of every labelled pair of each member
 * in `copies` (answered as that member's model would), and a miss on every decoy.
 */
export async function copySuspect(id: string, copies: readonly MemberSide[]): Promise<ReplayAdapter> {
  const lines = (await replayText("reference.jsonl")).trim().split("\n");
  for (const m of copies) {
    m.pairs.forEach((p, i) => {
      const exposed = m.labels[i] === 1 ? p.b : p.a;
      const decoy = m.labels[i] === 1 ? p.a : p.b;
      lines.push(
        JSON.stringify({
          id: `${m.memberId}-canary-${i}-x`,
          prompt: exposed.prompt,
          output: `Everyone there knows it: ${exposed.expected}.`,
        }),
        JSON.stringify({
          id: `${m.memberId}-canary-${i}-y`,
          prompt: decoy.prompt,
          output: "I am not sure; the records I know do not say.",
        }),
      );
    });
  }
  return new ReplayAdapter(parseReplay(`${lines.join("\n")}\n`), id);
}

/** The endpoint a suspect is logged under (the node reaches it through the suspect book). */
export function suspectRef(id: string): SuspectRef {
  return create(SuspectRefSchema, {
    suspectId: id,
    target: { case: "endpoint", value: { baseUrl: "http://127.0.0.1:9/v1", modelName: id } },
  });
}

/**
 * The member's sketch of its model on the hub's current epoch, as its node's protect flow makes it (probe ids
 * the decimal battery indexes, keyed with the epoch key), sent member-signed with SubmitSketch.
 */
export async function submitMemberSketch(hub: HubSide, member: MemberSide): Promise<void> {
  const epoch = await hub.index?.epochs.current();
  if (epoch === undefined) throw new Error("the hub has no epoch");
  const b = await battery();
  const wire: Battery = { epoch: b.epoch, probes: b.probes.map((p, i) => ({ ...p, id: String(i) })) };
  const reference = new ReplayAdapter(parseReplay(await replayText("reference.jsonl")), "reference");
  // Only the retrieval part is sketched, as the node's protect flow does (lineage-split/v1).
  const retrieval = splitBattery(wire, epoch.epochId).retrieval;
  const fp = await probeModel(reference, retrieval, { concurrency: 4 });
  const sketch = buildSketch(
    sketchInputsFromFingerprint(retrieval, fp),
    createSketchContext(epoch.epochKey, epoch.epochId),
  );
  const model = { memberId: member.memberId, modelId: member.modelId, modelVersion: "1" };
  const env = signEnvelope(
    SKETCH_PAYLOAD_TYPE,
    toBinary(SketchSchema, sketchToProto(sketch, model, Date.now())),
    member.key,
  );
  const body = create(SubmitSketchRequestSchema, { sketch: envelopeToProto(env) });
  const header = signHeader(
    SubmitSketchRequestSchema.typeName,
    toBinary(SubmitSketchRequestSchema, body),
    member.key,
    member.memberId,
    BigInt(Date.now()) * 1000n,
    Date.now(),
  );
  await hub.client.submitSketch(create(SubmitSketchRequestSchema, { sketch: body.sketch, header }));
}
