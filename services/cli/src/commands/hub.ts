/**
 * `lineage hub ...`: the secretariat's hub. `keygen` creates its key, `enrol` logs a member's key in the
 * transparency log, `serve` serves the log's public reads over gRPC (what `lineage audit` talks to).
 */
import { resolve } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { MembershipAction, type MembershipRecord, MembershipRecordSchema } from "@lineage/api";
import { type DsseEnvelope, parseEnvelope } from "@lineage/crypto";
import { isLogError, keyFingerprint, startHubServer, TransparencyLog } from "@lineage/hub";
import { checkListenSecurity, insecureServerCredentials, RpcError, tlsServerCredentials } from "@lineage/rpc";
import { type HubDatabase, hubMigrations, isStoreError, type Store } from "@lineage/store";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation, OptionSpec } from "../command.js";
import { emit, requiredStringOpt, stringOpt } from "../option-values.js";
import { cliErrorFromStore } from "../store-errors.js";
import { openRoleStore, storeFlags } from "../store-flags.js";
import { hubKeygen, readBoundedFile, readPrivateKeyFile, readPublicKeyFile } from "./keygen.js";
import { MEMBER_ID_RE } from "./member-enrol-request.js";
import { hubMigrate } from "./migrate.js";
import { hubWitnessFlags, startHubWitnessing, witnessEndpointsOf } from "./witness.js";

const logFlags: Readonly<Record<string, OptionSpec>> = {
  key: { type: "string", valueName: "file", required: true, description: "The hub's private key (PEM)" },
  origin: {
    type: "string",
    valueName: "origin",
    required: true,
    description: "Log origin, e.g. lineage.example/log",
  },
  ...storeFlags,
};

function where(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

/** Opens the hub's store and log from the flags; the caller disposes both. */
async function openLog(inv: Invocation): Promise<{ store: Store<HubDatabase>; log: TransparencyLog }> {
  const hubKey = await readPrivateKeyFile(inv, requiredStringOpt(inv, "key"), "--key");
  const origin = requiredStringOpt(inv, "origin");
  let store: Store<HubDatabase>;
  try {
    store = await openRoleStore<HubDatabase>(inv, "hub");
    await store.migrate(hubMigrations);
  } catch (err) {
    // The embedded folder has one owner (libs/store data-dir-lock.ts): a second writer on it would fork
    // the log, so say who holds it instead.
    if (isStoreError(err, "locked")) {
      throw new CliError(
        "unavailable",
        `${where(inv)}: ${err.message}. A running \`lineage hub serve\` owns its data folder: stop it first`,
        { cause: err },
      );
    }
    throw cliErrorFromStore(err, where(inv));
  }
  try {
    // open() re-verifies the stored log against this key and origin before anything is signed: a wrong
    // --key fails with unknown_key, a wrong --origin with invalid_argument (log-integrity.ts).
    return { store, log: await TransparencyLog.open({ store, origin, hubKey }) };
  } catch (err) {
    await store.close();
    throw logToCli(err, inv);
  }
}

function logToCli(err: unknown, inv: Invocation): CliError {
  if (err instanceof CliError) return err;
  if (isLogError(err)) {
    const code = ["invalid_argument", "malformed", "too_large"].includes(err.code)
      ? "invalid_argument"
      : "failed";
    return new CliError(code, `${where(inv)}: ${err.message}`, { cause: err });
  }
  return cliErrorFromStore(err, where(inv));
}

/** Largest enrolment request read (a DSSE envelope of one membership record). */
const MAX_REQUEST_BYTES = 64 * 1024;

const enrol: Command = {
  name: "enrol",
  summary:
    "Enrol a member from its signed request (lineage member enrol-request) once its fingerprint is confirmed out of band; logged, then a checkpoint.",
  description:
    "The hub cannot enrol a key alone: the request is signed by the member's new key (proof of possession),\n" +
    "and --fingerprint is what the member read aloud on a call the secretariat placed. Nothing is signed\n" +
    "or logged unless the request's key has exactly that fingerprint (and, if given, is --public-key).",
  options: {
    ...logFlags,
    request: {
      type: "string",
      valueName: "file",
      required: true,
      description: "The member's signed enrolment request (DSSE JSON from 'lineage member enrol-request')",
    },
    fingerprint: {
      type: "string",
      valueName: "fp",
      required: true,
      description: "The key fingerprint the member read aloud (xxxx-xxxx-...), confirmed out of band",
    },
    "member-id": {
      type: "string",
      valueName: "id",
      description: "Expected member id (checked against the request)",
    },
    "public-key": {
      type: "string",
      valueName: "file",
      description: "Expected public key (PEM), if received separately (checked against the request)",
    },
  },
  run: async (inv) => {
    const expectedId = stringOpt(inv, "member-id");
    if (expectedId !== undefined && !MEMBER_ID_RE.test(expectedId)) {
      throw new CliError(
        "invalid_argument",
        `${where(inv)}: --member-id must be 1-64 of [a-z0-9-], starting with a letter or digit`,
      );
    }
    const heard = requiredStringOpt(inv, "fingerprint").trim().toLowerCase().replace(/\s+/g, "");
    const file = requiredStringOpt(inv, "request");
    const text = await readBoundedFile(
      where(inv),
      resolve(inv.io.cwd, file),
      "--request",
      MAX_REQUEST_BYTES,
      false,
      "a DSSE JSON file",
    );
    // Untrusted input: parsed strictly, decoded, and its key checked against what was heard, before the
    // hub signs anything.
    let envelope: DsseEnvelope;
    let record: MembershipRecord;
    try {
      envelope = parseEnvelope(text);
      record = fromBinary(MembershipRecordSchema, envelope.payload);
    } catch (err) {
      throw new CliError(
        "invalid_argument",
        `${where(inv)}: --request ${file} is not a signed membership record`,
        {
          cause: err,
        },
      );
    }
    const key = record.key;
    if (record.action !== MembershipAction.ENROL || key === undefined) {
      throw new CliError("invalid_argument", `${where(inv)}: --request ${file} is not an enrolment`);
    }
    const fingerprint = keyFingerprint(key.publicKey);
    if (heard !== fingerprint || record.confirmedFingerprint !== fingerprint) {
      throw new CliError(
        "failed",
        `${where(inv)}: the request's key has fingerprint ${fingerprint}, not the one confirmed out of band (${heard.slice(0, 80)}); nothing was logged`,
      );
    }
    if (expectedId !== undefined && record.memberId !== expectedId) {
      throw new CliError(
        "failed",
        `${where(inv)}: the request enrols '${record.memberId.slice(0, 64)}', not ${expectedId}`,
      );
    }
    const pubFile = stringOpt(inv, "public-key");
    if (pubFile !== undefined) {
      const expected = await readPublicKeyFile(inv, pubFile, "--public-key");
      if (expected.keyId !== key.keyId) {
        throw new CliError("failed", `${where(inv)}: the request's key is not --public-key ${pubFile}`);
      }
    }
    const { store, log } = await openLog(inv);
    try {
      const entry = await log.appendMembership(envelope);
      const cp = await log.checkpoint();
      emit(
        inv,
        {
          member_id: record.memberId,
          key_id: key.keyId,
          fingerprint,
          log_index: entry.index,
          checkpoint_size: cp.treeSize,
        },
        `enrolled ${record.memberId} (key ${key.keyId}, fingerprint ${fingerprint}) at log index ${entry.index}; checkpoint size ${cp.treeSize}`,
      );
      return EXIT.ok;
    } catch (err) {
      throw logToCli(err, inv);
    } finally {
      await log.close();
      await store.close();
    }
  },
};

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
  summary: "Serve the transparency log over gRPC (checkpoints, entries, proofs, bundles) until interrupted.",
  description:
    "Serves the log's public reads of the Hub contract; other Hub methods answer UNIMPLEMENTED in this build.\n" +
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
    "require-client-cert": {
      type: "boolean",
      description:
        "Refuse to serve off loopback without mutual TLS (--tls-client-ca): the member-facing port",
    },
  },
  run: async (inv) => {
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
    const { store, log } = await openLog(inv);
    try {
      let server: Awaited<ReturnType<typeof startHubServer>>;
      try {
        server = await startHubServer({ log, listen, credentials });
      } catch (err) {
        throw new CliError(
          "unavailable",
          `${where(inv)}: cannot listen on ${listen}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const witnessing = startHubWitnessing(inv, log, witnesses);
      emit(
        inv,
        {
          address: server.address,
          origin: log.origin,
          verifier_key: log.verifierKey,
          size: log.size,
          tls: cert !== undefined,
          witnesses: witnesses.length,
        },
        `hub log ${log.origin} (size ${log.size}) served at ${server.address}${cert ? " over TLS" : " (plaintext)"}\nverifier key: ${log.verifierKey}\n(Ctrl-C to stop)`,
      );
      await new Promise<void>((done) => {
        if (!inv.io.signal) return;
        if (inv.io.signal.aborted) done();
        inv.io.signal.addEventListener("abort", () => done(), { once: true });
      });
      await witnessing?.close();
      await server.close();
      inv.io.stderr.write("hub server stopped\n");
      return EXIT.ok;
    } finally {
      await log.close();
      await store.close();
    }
  },
};

export const hub: Command = {
  name: "hub",
  summary: "Run and manage the secretariat's hub (index, scanner, sessions, log, cases).",
  subcommands: [hubKeygen, enrol, serve, hubMigrate],
};
