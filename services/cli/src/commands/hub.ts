/**
 * `lineage hub ...`: the secretariat's hub. `keygen` creates its key, `enrol` / `members ...` log membership
 * changes (hub-members.ts; through the running hub with --hub), `serve` runs the whole hub (services/hub
 * hub-runtime.ts): the Hub gRPC contract, the shared NATS sketch consumer, scanning, sessions, cases and alerts,
 * configured by the flags of hub-serve-config.ts (checked before anything opens).
 */
import { resolve } from "node:path";
import { type Bus, connectNatsBus, createInProcessBus } from "@lineage/bus";
import { openHubRuntime, startHubServer } from "@lineage/hub";
import { checkListenSecurity, insecureServerCredentials, RpcError, tlsServerCredentials } from "@lineage/rpc";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, requiredStringOpt, stringOpt } from "../option-values.js";
import { startupTrace } from "../startup-trace.js";
import { hubCases } from "./hub-cases.js";
import { hubEpoch } from "./hub-epoch.js";
import { hubKeys } from "./hub-keys.js";
import { enrol, logFlags, members, openLog, recordServing, where } from "./hub-members.js";
import {
  feedSourceOf,
  hubServeFlags,
  memberEndpointsOf,
  natsOptionsOf,
  referenceModelsOf,
  sessionSettingsOf,
} from "./hub-serve-config.js";
import { hubSketches } from "./hub-sketches.js";
import { hubKeygen, readBoundedFile, readPrivateKeyFile } from "./keygen.js";
import { hubMigrate } from "./migrate.js";
import { hubWitnessFlags, startHubWitnessing, witnessEndpointsOf } from "./witness.js";

/** Largest certificate/key PEM file read (a chain of a few certificates is a few KiB). */
const MAX_PEM_BYTES = 256 * 1024;

/** Reads a PEM flag; a private key (`secret`) must not be accessible by group or others. */
async function readPem(inv: Invocation, flag: string, secret = false): Promise<string | undefined> {
  const file = stringOpt(inv, flag);
  if (file === undefined) return undefined;
  const text = await readBoundedFile(
    where(inv),
    resolve(inv.io.cwd, file),
    `--${flag}`,
    MAX_PEM_BYTES,
    secret,
    "a PEM file",
  );
  if (!text.includes("-----BEGIN "))
    throw new CliError("invalid_argument", `${where(inv)}: --${flag} ${file} is not PEM`);
  return text;
}

const serve: Command = {
  name: "serve",
  summary:
    "Run the hub: log, membership, epochs, sketch ingestion, release scanning, sessions, cases, alerts.",
  description:
    "Serves the Hub contract over gRPC: the log's public reads, member-signed membership and commitment\n" +
    "writes, epochs, sketch ingestion (SubmitSketch/UploadSketches and, on NATS, the durable consumer every\n" +
    "replica shares), SubmitSuspect and the --feed listing (scanned, then sessions with the candidates'\n" +
    "member nodes: --members-file over gRPC, others over NATS request-reply), cases and alerts.\n" +
    "Without --nats (or $LINEAGE_HUB_NATS_URL) everything runs on the in-process bus of one process.\n" +
    "Without --tls-cert the server is plaintext, which is allowed only on a loopback address (127.0.0.1, ::1,\n" +
    "localhost); any other --listen needs --tls-cert and --tls-key (and --tls-client-ca for mutual TLS).",
  options: {
    ...logFlags,
    listen: {
      type: "string",
      valueName: "host:port",
      default: "127.0.0.1:7443",
      description: "Address to bind",
    },
    "tls-cert": { type: "string", valueName: "file", description: "Server certificate chain (PEM)" },
    "tls-key": { type: "string", valueName: "file", description: "Server private key (PEM)" },
    "tls-client-ca": {
      type: "string",
      valueName: "file",
      description: "Require client certificates from this CA (mTLS)",
    },
    ...hubWitnessFlags,
    ...hubServeFlags,
    "require-client-cert": {
      type: "boolean",
      description:
        "Refuse to serve off loopback without mutual TLS (--tls-client-ca): the member-facing port",
    },
  },
  run: async (inv) => {
    const mark = startupTrace(inv.io);
    mark("command");
    const listen = stringOpt(inv, "listen") ?? "127.0.0.1:7443";
    const m = /^(.+):(\d{1,5})$/.exec(listen);
    if (!m || Number(m[2]) > 65535)
      throw new CliError("invalid_argument", `${where(inv)}: --listen must be host:port, got '${listen}'`);
    const tlsFlags = stringOpt(inv, "tls-cert") !== undefined;
    const mtlsFlags = tlsFlags && stringOpt(inv, "tls-client-ca") !== undefined;
    // Transport policy (libs/rpc transport-policy.ts): refused before any file or store is opened.
    try {
      checkListenSecurity(listen, mtlsFlags ? "mtls" : tlsFlags ? "tls" : "plaintext", {
        requireClientCerts: inv.options["require-client-cert"] === true,
      });
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      throw new CliError("usage", `${where(inv)}: --listen: ${err.message}`, { cause: err });
    }
    const [cert, key, clientCa] = [
      await readPem(inv, "tls-cert"),
      await readPem(inv, "tls-key", true),
      await readPem(inv, "tls-client-ca"),
    ];
    if ((cert === undefined) !== (key === undefined))
      throw new CliError("usage", `${where(inv)}: --tls-cert and --tls-key go together`);
    if (clientCa !== undefined && cert === undefined)
      throw new CliError("usage", `${where(inv)}: --tls-client-ca needs --tls-cert`);
    const credentials =
      cert !== undefined && key !== undefined
        ? tlsServerCredentials({
            certChainPem: cert,
            privateKeyPem: key,
            ...(clientCa !== undefined ? { clientCaPem: clientCa } : {}),
          })
        : insecureServerCredentials();
    const witnesses = witnessEndpointsOf(inv);
    // Everything else the hub reads is checked before the store, the bus or the port is opened.
    const nats = natsOptionsOf(inv);
    const members = await memberEndpointsOf(inv);
    const settings = sessionSettingsOf(inv);
    const reference = await referenceModelsOf(inv, settings.populationId);
    const feed = feedSourceOf(inv);
    mark("config");
    let bus: Bus;
    try {
      bus = nats === undefined ? createInProcessBus() : await connectNatsBus(nats);
    } catch (err) {
      throw new CliError("unavailable", `${where(inv)}: --nats: ${(err as Error).message}`, { cause: err });
    }
    mark("bus");
    const report = (line: string) => inv.io.stderr.write(`hub: ${line}\n`);
    let opened: Awaited<ReturnType<typeof openLog>>;
    try {
      opened = await openLog(inv, { mark });
    } catch (err) {
      await bus.close();
      throw err;
    }
    const { store, log } = opened;
    // Read after the log opened: an open that completed a root rotation replaced the key file (hub-keys-files.ts).
    const hubKey = await readPrivateKeyFile(inv, requiredStringOpt(inv, "key"), "--key").catch(
      async (err) => {
        await log.close();
        await store.close();
        await bus.close();
        throw err;
      },
    );
    try {
      // Epochs, ingestion and the index; sessions, scanning, cases and alerts (issue 10): from the database.
      let runtime: Awaited<ReturnType<typeof openHubRuntime>>;
      try {
        runtime = await openHubRuntime({
          store,
          log,
          hubKey,
          bus,
          members,
          populationId: settings.populationId,
          reference,
          ...(settings.panelSize === undefined ? {} : { panelSize: settings.panelSize }),
          ...(settings.alphaBudget === undefined ? {} : { alphaBudget: settings.alphaBudget }),
          ...(feed === undefined ? {} : { feed }),
          report,
          onPhase: mark,
        });
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError("invalid_argument", `${where(inv)}: ${(err as Error).message}`, { cause: err });
      }
      const { index, sessions } = runtime;
      let server: Awaited<ReturnType<typeof startHubServer>>;
      try {
        server = await startHubServer({ log, listen, credentials, index, sessions });
        mark("listening");
      } catch (err) {
        await runtime.close();
        throw new CliError(
          "unavailable",
          `${where(inv)}: cannot listen on ${listen}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const witnessing = startHubWitnessing(inv, log, witnesses, bus);
      if (feed !== undefined)
        runtime.pollFeed().catch((err: unknown) => report(`feed ${feed.name}: ${(err as Error).message}`));
      // Beside the embedded folder's lock: where this hub serves, so a writer that finds the folder held
      // can say which --hub to use (hub-members.ts). Removed when the hub stops.
      const serving = await recordServing(inv, server.address, cert !== undefined);
      emit(
        inv,
        {
          address: server.address,
          origin: log.origin,
          verifier_key: log.verifierKey,
          // Which key signs each purpose (the root's id where none is delegated; docs/specs/hub-keys.md).
          purpose_key_ids: Object.fromEntries(
            Object.entries(log.purposePublicKeys).map(([p, k]) => [p, k.keyId]),
          ),
          size: log.size,
          tls: cert !== undefined,
          witnesses: witnesses.length,
          nats: nats !== undefined,
          member_nodes: members.size,
          population: settings.populationId,
          feed: feed?.name ?? null,
        },
        `hub log ${log.origin} (size ${log.size}) served at ${server.address}${cert ? " over TLS" : " (plaintext)"}\nverifier key: ${log.verifierKey}\n(Ctrl-C to stop)`,
      );
      await new Promise<void>((done) => {
        if (!inv.io.signal) return;
        if (inv.io.signal.aborted) done();
        inv.io.signal.addEventListener("abort", () => done(), { once: true });
      });
      await witnessing?.close();
      await serving.remove();
      await server.close();
      await runtime.close();
      // What this replica ingested (the replicas of one deployment share the sketches between them).
      const m = index.metrics.snapshot();
      report(`ingested ${m.indexed} sketches (${m.duplicates} duplicates, ${m.rejectedTotal} rejected)`);
      inv.io.stderr.write("hub server stopped\n");
      return EXIT.ok;
    } finally {
      await log.close();
      await store.close();
      await bus.close();
    }
  },
};

export const hub: Command = {
  name: "hub",
  summary: "Run and manage the secretariat's hub (index, scanner, sessions, log, cases).",
  subcommands: [hubKeygen, hubKeys, enrol, members, hubCases, hubEpoch, hubSketches, serve, hubMigrate],
};
