/**
 * A running member node built from its configuration (`lineage member serve`): key, database (Postgres, or
 * the embedded PGlite folder under its lock), bus (NATS, or the in-process bus), hub client, admin auth,
 * the gRPC server and the epoch watcher — and their orderly shutdown in reverse order.
 */
import { mkdir } from "node:fs/promises";
import type { ChannelCredentials, ServerCredentials } from "@grpc/grpc-js";
import { Hub } from "@lineage/api";
import { type Bus, connectNatsBus, createInProcessBus, isBusError } from "@lineage/bus";
import { Ed25519PrivateKey, Ed25519PublicKey, KeyRing } from "@lineage/crypto";
import {
  checkListenSecurity,
  createClient,
  insecureChannelCredentials,
  insecureServerCredentials,
  isLoopbackHost,
  parseListenAddress,
  type RpcLogger,
  type ServiceClient,
  type TransportSecurity,
  tlsChannelCredentials,
  tlsServerCredentials,
} from "@lineage/rpc";
import { type MemberNodeDatabase, memberNodeMigrations, openStore, type Store } from "@lineage/store";
import { adminAuth } from "./admin-auth.js";
import type { MemberNodeConfig } from "./config/member-node-config.js";
import { memberInboxPrefix, readPrivateFile } from "./config/member-node-config.js";
import { headerSigner } from "./header-signer.js";
import type { MemberNodeDeps } from "./member-node-deps.js";
import { MemberNodeError } from "./member-node-error.js";
import { type MemberNodeServer, startMemberNodeServer } from "./member-node-server.js";
import { jsonLineLogger, type NodeLogger } from "./node-logger.js";
import { type BatterySource, fileBatterySource } from "./protect/battery-source.js";
import { type EpochWatcher, watchEpochs } from "./protect/epoch-republish.js";
import { hubBatterySource } from "./protect/hub-battery-source.js";
import type { ProtectOptions } from "./protect/protect-flow.js";
import { ensureSketchStream } from "./protect/sketch-publisher.js";
import { startNodeMatch } from "./sessions/node-match.js";

const MAX_KEY_FILE_BYTES = 16 * 1024;
const MAX_PEM_BYTES = 256 * 1024;

/** Options of {@link startMemberNode}. */
export interface StartMemberNodeOptions {
  readonly config: MemberNodeConfig;
  /** Environment secrets are read from (NATS password/token, endpoint API keys). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger?: NodeLogger;
  readonly rpcLogger?: RpcLogger;
  readonly clock?: () => number;
  /** Replaces the configured battery source (tests, benchmarks). */
  readonly batteries?: BatterySource;
  /** Protect-flow overrides (tests): adapters, preflight, progress rate. */
  readonly protect?: Partial<Omit<ProtectOptions, "batteries" | "adapters" | "env">>;
  /** Epoch poll interval (default 60 s); 0 disables the watcher. */
  readonly epochPollMs?: number;
  /**
   * A bus the caller owns and shares with other roles in one process (the demo: hub and nodes on one
   * in-process bus). Used instead of the configured one, not closed by the node, and its streams are the
   * owner's (as in a deployment, where the hub owns them): the node does not create its sketch stream.
   */
  readonly bus?: Bus;
  /** Called as each start-up phase ends (`lineage member serve` traces them; issue 12). */
  readonly onPhase?: (phase: string) => void;
}

/** A running node. */
export interface MemberNode extends AsyncDisposable {
  readonly deps: MemberNodeDeps;
  readonly server: MemberNodeServer;
  /** host:port the gRPC server listens on. */
  readonly address: string;
  readonly protect: ProtectOptions;
  readonly epochs: EpochWatcher | undefined;
  /** Stops everything, in reverse order of start. Idempotent. */
  close(): Promise<void>;
}

async function readText(file: string, what: string, secret: boolean): Promise<string> {
  return readPrivateFile(file, what, secret ? MAX_KEY_FILE_BYTES : MAX_PEM_BYTES, secret);
}

/** Reads the member's signing key (private file). */
export async function readSigningKey(file: string): Promise<Ed25519PrivateKey> {
  const pem = await readText(file, "signing key file", true);
  try {
    return Ed25519PrivateKey.fromPem(pem);
  } catch (err) {
    throw new MemberNodeError(
      "invalid_argument",
      `signing key file ${file} is not an Ed25519 private key in PEM`,
      {
        cause: err,
      },
    );
  }
}

async function readPublicKeys(files: readonly string[], what: string): Promise<Ed25519PublicKey[]> {
  const out: Ed25519PublicKey[] = [];
  for (const f of files) {
    const pem = await readText(f, what, false);
    try {
      out.push(Ed25519PublicKey.fromPem(pem));
    } catch (err) {
      throw new MemberNodeError("invalid_argument", `${what} ${f} is not an Ed25519 public key in PEM`, {
        cause: err,
      });
    }
  }
  return out;
}

async function openNodeStore(config: MemberNodeConfig): Promise<Store<MemberNodeDatabase>> {
  const db = config.database;
  if (db.kind === "pglite") {
    try {
      await mkdir(db.dataDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new MemberNodeError("unavailable", `cannot create the data directory ${db.dataDir}`, {
        cause: err,
      });
    }
    return openStore<MemberNodeDatabase>({ kind: "pglite", dataDir: db.dataDir });
  }
  return openStore<MemberNodeDatabase>({
    kind: "postgres",
    url: db.url,
    ...(db.schema !== undefined ? { schema: db.schema } : {}),
  });
}

async function openBus(
  config: MemberNodeConfig,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Bus> {
  const n = config.nats;
  if (n === undefined) return createInProcessBus();
  const secret = (name: string | undefined, field: string): string | undefined => {
    if (name === undefined) return undefined;
    const v = env[name];
    if (v === undefined || v === "")
      throw new MemberNodeError(
        "failed_precondition",
        `config ${field}: environment variable ${name} is not set`,
      );
    return v;
  };
  const pass = secret(n.passEnv, "nats.pass_env");
  const token = secret(n.tokenEnv, "nats.token_env");
  // Credentials and keys cross the network only inside TLS: off loopback, tls:// or a nats.tls block.
  const url = new URL(n.url);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!isLoopbackHost(host) && url.protocol !== "tls:" && url.protocol !== "wss:" && n.tls === undefined)
    throw new MemberNodeError(
      "failed_precondition",
      `config nats.url ${url.host} is not loopback: use tls:// or give nats.tls (TLS is required off loopback)`,
    );
  const nkeySeed =
    n.nkeyFile === undefined ? undefined : await readText(n.nkeyFile, "config nats.nkey_file", true);
  const creds =
    n.credsFile === undefined ? undefined : await readText(n.credsFile, "config nats.creds_file", true);
  try {
    return await connectNatsBus({
      servers: n.url,
      name: `lineage-member-${config.memberId}`,
      inboxPrefix: memberInboxPrefix(config.memberId),
      ...(n.user !== undefined ? { user: n.user } : {}),
      ...(pass !== undefined ? { pass } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(nkeySeed !== undefined ? { nkeySeed } : {}),
      ...(creds !== undefined ? { creds } : {}),
      ...(n.tls !== undefined ? { tls: n.tls } : {}),
    });
  } catch (err) {
    // A file that parses as neither: say which config field it came from.
    if (isBusError(err) && err.code === "invalid_argument" && /nkeySeed|creds/.test(err.message))
      throw new MemberNodeError(
        "invalid_argument",
        `config nats.${nkeySeed !== undefined ? "nkey_file" : "creds_file"}: ${err.message}`,
        { cause: err },
      );
    throw err;
  }
}

async function serverCredentials(
  config: MemberNodeConfig,
): Promise<{ credentials: ServerCredentials; security: TransportSecurity }> {
  const t = config.tls;
  if (t === undefined) return { credentials: insecureServerCredentials(), security: "plaintext" };
  const certChainPem = await readText(t.certFile, "tls.cert_file", false);
  const privateKeyPem = await readText(t.keyFile, "tls.key_file", true);
  if (t.clientCaFile === undefined)
    return { credentials: tlsServerCredentials({ certChainPem, privateKeyPem }), security: "tls" };
  const clientCaPem = await readText(t.clientCaFile, "tls.client_ca_file", false);
  return {
    credentials: tlsServerCredentials({ certChainPem, privateKeyPem, clientCaPem }),
    security: "mtls",
  };
}

async function hubClient(config: MemberNodeConfig): Promise<ServiceClient<typeof Hub> | undefined> {
  const h = config.hub;
  if (h.address === undefined) return undefined;
  let creds: ChannelCredentials;
  if (h.caFile !== undefined) {
    const caPem = await readText(h.caFile, "hub.ca_file", false);
    const mtls =
      h.certFile !== undefined && h.keyFile !== undefined
        ? {
            certChainPem: await readText(h.certFile, "hub.cert_file", false),
            privateKeyPem: await readText(h.keyFile, "hub.key_file", true),
          }
        : {};
    creds = tlsChannelCredentials({ caPem, ...mtls });
  } else {
    const { host } = parseListenAddress(h.address);
    if (!isLoopbackHost(host))
      throw new MemberNodeError(
        "failed_precondition",
        `config hub.address ${h.address} is not loopback: give hub.ca_file (TLS is required off loopback)`,
      );
    creds = insecureChannelCredentials();
  }
  return createClient(Hub, h.address, creds, {
    defaultTimeoutMs: 30_000,
    ...(h.serverName !== undefined ? { serverNameOverride: h.serverName } : {}),
  });
}

/** Handler failures into the node's log: method, code, correlation id and error name (never the message). */
function rpcLoggerOf(logger: NodeLogger): RpcLogger {
  const fields = (r: Parameters<RpcLogger["error"]>[0]) => ({
    method: r.method,
    code: r.code,
    correlation_id: r.correlationId,
    error: r.error instanceof Error ? r.error.name : typeof r.error,
  });
  return {
    error: (r) => logger.error("rpc.error", fields(r)),
    warn: (r) => logger.warn("rpc.error", fields(r)),
  };
}

/** A battery source that says what to configure. */
const noBattery: BatterySource = {
  async get() {
    throw new MemberNodeError(
      "failed_precondition",
      "no epoch battery: configure a hub (hub.address), or battery.file and battery.epoch_key_file (--battery, --epoch-key)",
    );
  },
};

/** Starts a node from its configuration; resolves once the gRPC server listens. */
export async function startMemberNode(options: StartMemberNodeOptions): Promise<MemberNode> {
  const { config, env } = options;
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? jsonLineLogger();
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    while (cleanups.length > 0) {
      const c = cleanups.pop();
      await c?.().catch((err: unknown) => logger.warn("node.close_failed", { error: (err as Error)?.name }));
    }
  };
  try {
    const signingKey = await readSigningKey(config.signingKeyFile);
    const admins = new KeyRing([
      signingKey.publicKey,
      ...(await readPublicKeys(config.admin.keyFiles, "admin key file")),
    ]);
    const hubKeys = new KeyRing(await readPublicKeys(config.hub.keyFiles, "hub key file"));
    const { credentials, security } = await serverCredentials(config);
    // Refuse a transport too weak for the address before opening anything (the server checks again).
    checkListenSecurity(config.listen, security, { requireClientCerts: true });
    const phase = options.onPhase ?? (() => {});
    phase("keys");

    const store = await openNodeStore(config);
    cleanups.push(() => store.close());
    phase("store_open");
    await store.migrate(memberNodeMigrations);
    phase("migrations");

    const shared = options.bus;
    const bus = shared ?? (await openBus(config, env));
    if (shared === undefined) {
      cleanups.push(() => bus.close());
      if (bus.kind === "in-process" || config.nats?.ensureStream === true)
        await ensureSketchStream(bus, config.memberId);
    }

    const hub = await hubClient(config);
    if (hub !== undefined) cleanups.push(async () => hub.close());
    phase("bus");

    const deps: MemberNodeDeps = {
      memberId: config.memberId,
      store,
      bus,
      signingKey,
      signer: headerSigner(config.memberId, signingKey, store, clock),
      hub,
      hubKeys,
      admin: adminAuth({ keys: admins, clientCertSha256: config.admin.clientCertSha256, now: clock, store }),
      clock,
      logger,
    };
    // The battery: files when configured (until every hub serves it), else the hub's GetEpochBattery.
    const batteries =
      options.batteries ??
      (config.battery.file !== undefined && config.battery.epochKeyFile !== undefined
        ? fileBatterySource(config.battery.file, config.battery.epochKeyFile)
        : hub !== undefined
          ? hubBatterySource(deps)
          : noBattery);
    const protect: ProtectOptions = { ...options.protect, batteries, adapters: config.adapters, env };

    // Canary sets and match sessions need the hub's log (sessions/node-match.ts); without a hub they stay UNIMPLEMENTED.
    const match =
      hub === undefined
        ? undefined
        : await startNodeMatch(
            deps,
            protect,
            config.canaries === undefined
              ? {}
              : {
                  maxSuspectsPerCanary: config.canaries.maxSuspectsPerCanary,
                  watermarkQueries: config.canaries.watermarkQueries !== false,
                },
          ).catch((err: unknown) => {
            logger.warn("sessions.unavailable", {
              code: String((err as { code?: unknown })?.code ?? "error"),
            });
            return undefined;
          });
    if (match !== undefined) cleanups.push(() => match.stop());
    phase("match");
    const server = await startMemberNodeServer({
      deps,
      protect,
      ...(match === undefined ? {} : { match: match.services }),
      listen: config.listen,
      credentials,
      security,
      rpcLogger: options.rpcLogger ?? rpcLoggerOf(logger),
    });
    cleanups.push(() => server.close());
    phase("listening");

    const pollMs = options.epochPollMs ?? 60_000;
    const epochs = pollMs > 0 && batteries !== noBattery ? watchEpochs(deps, protect, pollMs) : undefined;
    if (epochs) cleanups.push(() => epochs.stop());

    logger.info("node.started", {
      member: config.memberId,
      key_id: signingKey.keyId,
      address: server.address,
      transport: security,
      database: config.database.kind,
      bus: bus.kind,
      hub: config.hub.address ?? null,
    });
    let closing: Promise<void> | undefined;
    const closeOnce = () => {
      closing ??= close().then(() => logger.info("node.stopped", { member: config.memberId }));
      return closing;
    };
    return {
      deps,
      server,
      address: server.address,
      protect,
      epochs,
      close: closeOnce,
      [Symbol.asyncDispose]: closeOnce,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
