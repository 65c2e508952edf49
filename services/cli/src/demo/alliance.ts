/**
 * The demo's alliance on the real services, in one process (issue 12, "The demo"): a hub — the runtime
 * `lineage hub serve` runs (services/hub hub-runtime.ts) with its gRPC server on 127.0.0.1 — and member nodes —
 * the runtime `lineage member serve` runs (services/member-node member-node-runtime.ts), each with its own
 * embedded database, key and gRPC server — all on one in-process bus (sketches, alerts), as a deployment has
 * them on NATS. The roles talk only through their APIs: the secretariat enrols a member through the hub's
 * EnrolMember with the member's self-signed record (`lineage member enrol-request` + `lineage hub enrol
 * --hub`); the operator drives its node through the node's signed admin gRPC calls (`lineage member
 * canaries import`, `watermark keygen|commit`, `protect`, `disclose`); the hub reaches each node over gRPC
 * for its match sessions.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { EnrolMemberRequestSchema, Hub, type Probe, ProbeKind, ProbeSchema } from "@lineage/api";
import { type Bus, createInProcessBus } from "@lineage/bus";
import { Ed25519PrivateKey } from "@lineage/crypto";
import {
  enrolmentRecord,
  envelopeToProto,
  type FeedSource,
  type HubRuntime,
  type HubServer,
  openHubRuntime,
  type ReferenceModel,
  type ScanResult,
  SECRETARIAT,
  signMembership,
  signRequest,
  startHubServer,
  TransparencyLog,
} from "@lineage/hub";
import {
  type AdapterConfig,
  connectMemberNode,
  type MemberNode,
  type MemberNodeClient,
  type MemberNodeConfig,
  silentNodeLogger,
  startMemberNode,
} from "@lineage/member-node";
import {
  createClient,
  insecureChannelCredentials,
  insecureServerCredentials,
  type ServiceClient,
} from "@lineage/rpc";
import { type HubDatabase, hubMigrations, openStore, type Store } from "@lineage/store";

/** The demo hub's log origin. */
export const DEMO_ORIGIN = "lineage.demo/hub";
/** The reference population the hub draws session panels from. */
export const DEMO_POPULATION = "demo-reference/1";

/** A free loopback port (bound, read, released): the hub must know each node's address before it starts. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok, fail) => {
    s.once("error", fail);
    s.listen(0, "127.0.0.1", ok);
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** Writes a private file (0600), creating its folder (0700). */
export async function writePrivate(path: string, text: string | Uint8Array): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true, mode: 0o700 });
  await writeFile(path, text, { mode: 0o600, flag: "wx" });
}

/** The running hub: runtime, gRPC server, a client of its API and the facts an auditor trusts. */
export interface DemoHub {
  readonly address: string;
  readonly origin: string;
  readonly verifierKey: string;
  readonly publicKeyPem: string;
  readonly log: TransparencyLog;
  readonly runtime: HubRuntime;
  readonly client: ServiceClient<typeof Hub>;
  /** Enrols a member (secretariat-signed EnrolMember over gRPC, carrying the member's self-signed record). */
  enrol(memberId: string, displayName: string, key: Ed25519PrivateKey): Promise<number>;
  /** Creates the epoch whose battery members protect on and the scanner probes suspects with. */
  createEpoch(epochId: string, probes: readonly DemoProbe[]): Promise<void>;
  /** Registers the reference models session panels are drawn from. */
  addReference(models: readonly ReferenceModel[]): Promise<void>;
  close(): Promise<void>;
}

/** A battery probe as the testbed describes it. */
export interface DemoProbe {
  readonly kind: "edge" | "open" | "completion";
  readonly prompt: string;
  readonly reference?: string;
}

function probeProto(p: DemoProbe, index: number): Probe {
  return create(ProbeSchema, {
    index,
    kind:
      p.kind === "edge"
        ? ProbeKind.EDGE_CASE
        : p.kind === "open"
          ? ProbeKind.OPEN_ENDED
          : ProbeKind.SHORT_COMPLETION,
    prompt: p.prompt,
    referenceAnswer: p.reference ?? "",
    maxTokens: 40,
    topLogprobs: 0,
  });
}

/**
 * Starts the hub: a fresh key, an embedded database (in memory, or `dataDir`), its log, the runtime over the
 * shared bus (nodes reached over gRPC at `members`), the registry feed and the gRPC server on 127.0.0.1.
 */
export async function startDemoHub(o: {
  readonly bus: Bus;
  readonly dataDir?: string;
  readonly members: ReadonlyMap<string, string>;
  readonly feed: FeedSource;
  readonly panelSize: number;
  /** Coarse bands a protected model must share with a suspect to be sessioned (hub default when absent). */
  readonly minAgreeingBands?: number;
  readonly report: (line: string) => void;
  readonly onScan: (suspectId: string, result: Promise<ScanResult>) => void;
}): Promise<DemoHub> {
  const hubKey = Ed25519PrivateKey.generate();
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    while (cleanups.length > 0)
      await cleanups
        .pop()?.()
        .catch(() => {});
  };
  try {
    if (o.dataDir !== undefined) await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
    const store: Store<HubDatabase> = await openStore<HubDatabase>(
      o.dataDir === undefined ? { kind: "pglite" } : { kind: "pglite", dataDir: o.dataDir },
    );
    cleanups.push(() => store.close());
    await store.migrate(hubMigrations);
    const log = await TransparencyLog.open({ store, origin: DEMO_ORIGIN, hubKey });
    cleanups.push(() => log.close());
    if (log.latestCheckpoint === undefined) await log.checkpoint();
    const members = new Map(
      [...o.members].map(([id, address]) => [id, { address, credentials: insecureChannelCredentials() }]),
    );
    const runtime = await openHubRuntime({
      store,
      log,
      hubKey,
      bus: o.bus,
      members,
      populationId: DEMO_POPULATION,
      panelSize: o.panelSize,
      ...(o.minAgreeingBands === undefined ? {} : { minAgreeingBands: o.minAgreeingBands }),
      feed: o.feed,
      report: o.report,
      onScan: o.onScan,
    });
    cleanups.push(() => runtime.close());
    const server: HubServer = await startHubServer({
      log,
      listen: "127.0.0.1:0",
      credentials: insecureServerCredentials(),
      index: runtime.index,
      sessions: runtime.sessions,
      logger: { warn: () => {}, error: () => {} },
    });
    cleanups.push(() => server.close());
    const client = createClient(Hub, server.address, insecureChannelCredentials(), {
      defaultTimeoutMs: 60_000,
    });
    cleanups.push(async () => client.close());
    return {
      address: server.address,
      origin: log.origin,
      verifierKey: log.verifierKey,
      publicKeyPem: hubKey.publicKey.toPem(),
      log,
      runtime,
      client,
      async enrol(memberId, displayName, key) {
        const now = Date.now();
        // The member's half (`lineage member enrol-request`): its ENROL record signed by its own key.
        const record = signMembership(
          enrolmentRecord(memberId, displayName, key.publicKey, now - 60_000, { effectiveAtMs: now }),
          [key],
        );
        // The secretariat's half (`lineage hub enrol --hub`): a secretariat-signed EnrolMember call.
        const res = await client.enrolMember(
          signRequest(
            EnrolMemberRequestSchema,
            create(EnrolMemberRequestSchema, { memberId, displayName, record: envelopeToProto(record) }),
            { memberId: SECRETARIAT, key: hubKey },
          ),
        );
        return Number(res.logEntry?.index ?? -1n);
      },
      async createEpoch(epochId, probes) {
        // `lineage hub epoch create`: signed by the hub key, stored in the hub's database.
        await runtime.index.epochs.create({
          epochId,
          probes: probes.map(probeProto),
          notAfterMs: Date.now() + 7 * 86_400_000,
        });
      },
      async addReference(models) {
        for (const m of models) await runtime.sessions.population.add(m);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One running member node and its operator's admin client. */
export interface DemoMember {
  readonly memberId: string;
  readonly key: Ed25519PrivateKey;
  readonly dir: string;
  readonly node: MemberNode;
  readonly admin: MemberNodeClient;
  close(): Promise<void>;
}

/**
 * Starts a member node as `lineage member serve` would from its config: a fresh key (file, 0600), its own
 * embedded database under `dir`, the hub's address and key, and an OpenAI-compatible endpoint per model it
 * reaches (its own and the reference panel's), listening on `port`.
 */
export async function startDemoMember(o: {
  readonly memberId: string;
  readonly dir: string;
  readonly port: number;
  readonly hubAddress: string;
  readonly hubPublicKeyPem: string;
  readonly bus: Bus;
  /** The member's canary reuse policy: distinct suspects one canary item may be sent to. */
  readonly maxSuspectsPerCanary: number;
  /** Adapter name -> endpoint ("main": the member's own model; the others: the hub's reference panel). */
  readonly endpoints: Readonly<Record<string, { readonly baseUrl: string; readonly model: string }>>;
}): Promise<DemoMember> {
  const key = Ed25519PrivateKey.generate();
  const keyFile = join(o.dir, "signing-key.pem");
  const hubKeyFile = join(o.dir, "hub-key.pub.pem");
  await writePrivate(keyFile, key.toPem());
  await writePrivate(hubKeyFile, o.hubPublicKeyPem);
  const adapters: Record<string, AdapterConfig> = {};
  for (const [name, e] of Object.entries(o.endpoints))
    adapters[name] = { baseUrl: e.baseUrl, model: e.model, concurrency: 8, timeoutMs: 60_000, retries: 3 };
  const config: MemberNodeConfig = {
    memberId: o.memberId,
    signingKeyFile: keyFile,
    listen: `127.0.0.1:${o.port}`,
    admin: { keyFiles: [], clientCertSha256: [] },
    database: { kind: "pglite", dataDir: join(o.dir, "db") },
    hub: { address: o.hubAddress, keyFiles: [hubKeyFile] },
    battery: {},
    adapters,
    canaries: { maxSuspectsPerCanary: o.maxSuspectsPerCanary, watermarkQueries: true },
  };
  const node = await startMemberNode({
    config,
    env: {},
    logger: silentNodeLogger,
    rpcLogger: { warn: () => {}, error: () => {} },
    bus: o.bus,
    epochPollMs: 0,
  });
  const admin = connectMemberNode(node.address, insecureChannelCredentials(), key, o.memberId);
  return {
    memberId: o.memberId,
    key,
    dir: o.dir,
    node,
    admin,
    async close() {
      admin.close();
      await node.close();
    },
  };
}

/** The bus every role of the demo shares (the embedded default's in-process bus). */
export function demoBus(): Bus {
  return createInProcessBus();
}

/** 32 random bytes as hex (a watermark key file's content). */
export function randomHex(bytes = 32): string {
  return randomBytes(bytes).toString("hex");
}
