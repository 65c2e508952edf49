/**
 * `lineage witness`: run a C2SP tlog-witness (services/witness, docs/specs/witness.md) that cosigns the
 * hub's checkpoints only when they extend what it cosigned before.
 *
 *   witness init   --name N --out FILE       create the witness key (written like keygen: O_EXCL|O_NOFOLLOW)
 *   witness pubkey --name N --key FILE       print the witness verifier key auditors put in their trust root
 *   witness serve  --name N --key FILE --state DIR --log ORIGIN=VKEYFILE ... [--listen host:port]
 *
 * A --log's VKEYFILE holds the log's checkpoint verifier key (the `verifier key:` line `lineage hub keygen`
 * prints), and its key name must be the origin's note key; a witness follows only the logs it is given.
 */
import { resolve } from "node:path";
import { Ed25519PrivateKey, formatCosignatureVerifierKey, parseVerifierKey } from "@lineage/crypto";
import {
  type CheckpointGossip,
  startWitnessing,
  type TransparencyLog,
  WitnessClient,
  type WitnessEndpoint,
  type Witnessing,
} from "@lineage/hub";
import { checkListenSecurity, RpcError } from "@lineage/rpc";
import { startWitnessServer, Witness, WitnessState } from "@lineage/witness";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation, OptionSpec } from "../command.js";
import { emit, requiredStringOpt, stringListOpt, stringOpt } from "../option-values.js";
import { readBoundedFile, readPrivateKeyFile, writePrivateKeyFile } from "./keygen.js";

function where(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

const nameFlag = {
  name: {
    type: "string",
    valueName: "name",
    required: true,
    description: "The witness's key name, e.g. witness.example/w1 (appears in its cosignature lines)",
  },
} as const;

/** The witness verifier key of (name, key), or a usage error naming --name. */
function verifierKeyOf(inv: Invocation, name: string, key: Ed25519PrivateKey): string {
  try {
    return formatCosignatureVerifierKey(name, key.publicKey);
  } catch (err) {
    throw new CliError("invalid_argument", `${where(inv)}: --name: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

const init: Command = {
  name: "init",
  summary: "Create the witness's Ed25519 key; prints the witness verifier key auditors trust.",
  options: {
    ...nameFlag,
    out: {
      type: "string",
      valueName: "file",
      required: true,
      description: "Where to write the private key (PEM)",
    },
    force: { type: "boolean", description: "Overwrite an existing key file (never through a symlink)" },
  },
  run: async (inv) => {
    const name = requiredStringOpt(inv, "name");
    const key = Ed25519PrivateKey.generate();
    const vkey = verifierKeyOf(inv, name, key); // before anything is written
    const path = resolve(inv.io.cwd, requiredStringOpt(inv, "out"));
    await writePrivateKeyFile(where(inv), path, key.toPem(), inv.options.force === true);
    emit(
      inv,
      { name, private_key_file: path, witness_verifier_key: vkey },
      `private key written to ${path} (mode 0600)\nwitness verifier key: ${vkey}\n`,
    );
    return EXIT.ok;
  },
};

const pubkey: Command = {
  name: "pubkey",
  summary: "Print the witness verifier key of a witness key file.",
  options: {
    ...nameFlag,
    key: {
      type: "string",
      valueName: "file",
      required: true,
      description: "The witness's private key (PEM)",
    },
  },
  run: async (inv) => {
    const name = requiredStringOpt(inv, "name");
    const key = await readPrivateKeyFile(inv, requiredStringOpt(inv, "key"), "--key");
    const vkey = verifierKeyOf(inv, name, key);
    emit(inv, { name, witness_verifier_key: vkey }, `witness verifier key: ${vkey}\n`);
    return EXIT.ok;
  },
};

const MAX_VKEY_FILE_BYTES = 4096;
const ORIGIN_RE = /^[\x21-\x7e][\x20-\x7e]{0,255}$/;

/** Parses the --log values: ORIGIN=VKEYFILE, each origin once. */
async function readLogs(inv: Invocation): Promise<Map<string, string>> {
  const values = stringListOpt(inv, "log");
  if (values.length === 0)
    throw new CliError("usage", `${where(inv)}: give at least one --log ORIGIN=VKEYFILE`);
  const logs = new Map<string, string>();
  for (const v of values) {
    const eq = v.lastIndexOf("=");
    if (eq <= 0 || eq === v.length - 1)
      throw new CliError("invalid_argument", `${where(inv)}: --log must be ORIGIN=VKEYFILE, got '${v}'`);
    const origin = v.slice(0, eq);
    const file = resolve(inv.io.cwd, v.slice(eq + 1));
    if (!ORIGIN_RE.test(origin))
      throw new CliError(
        "invalid_argument",
        `${where(inv)}: --log origin '${origin}' is not 1..256 printable characters`,
      );
    if (logs.has(origin))
      throw new CliError("invalid_argument", `${where(inv)}: --log ${origin} given twice`);
    const text = await readBoundedFile(
      where(inv),
      file,
      "--log",
      MAX_VKEY_FILE_BYTES,
      false,
      "a verifier key",
    );
    const vkey = text.trim();
    try {
      parseVerifierKey(vkey);
    } catch (err) {
      throw new CliError(
        "invalid_argument",
        `${where(inv)}: --log ${origin}: ${file} does not hold a C2SP Ed25519 verifier key (name+hex8+base64): ${(err as Error).message}`,
        { cause: err },
      );
    }
    logs.set(origin, vkey);
  }
  return logs;
}

const serve: Command = {
  name: "serve",
  summary: "Serve the witness's add-checkpoint endpoint (C2SP tlog-witness) until interrupted.",
  description:
    "Cosigns a checkpoint only if it is signed by the --log key of its origin and a consistency proof shows\n" +
    "it extends the last checkpoint this witness cosigned for that log (kept in --state; never lose it).\n" +
    "When the log rotates its root, the witness follows the logged rotation (signed by the root it trusts and\n" +
    "the new key, proven included in the new checkpoint) and keeps the new root in --state: the --log key\n" +
    "stays the log's first root.\n" +
    "Plaintext HTTP only on loopback; any other --listen needs --tls-cert and --tls-key.",
  options: {
    ...nameFlag,
    key: {
      type: "string",
      valueName: "file",
      required: true,
      description: "The witness's private key (PEM)",
    },
    state: { type: "string", valueName: "dir", required: true, description: "Folder of the witness's state" },
    log: {
      type: "string",
      multiple: true,
      valueName: "origin=file",
      description: "A log to witness: its origin and a file with its checkpoint verifier key",
    },
    listen: {
      type: "string",
      valueName: "host:port",
      default: "127.0.0.1:7380",
      description: "Address to bind",
    },
    "tls-cert": { type: "string", valueName: "file", description: "Server certificate chain (PEM)" },
    "tls-key": { type: "string", valueName: "file", description: "Server private key (PEM)" },
  },
  run: async (inv) => {
    const name = requiredStringOpt(inv, "name");
    const listen = stringOpt(inv, "listen") ?? "127.0.0.1:7380";
    const certFile = stringOpt(inv, "tls-cert");
    const keyFile = stringOpt(inv, "tls-key");
    if ((certFile === undefined) !== (keyFile === undefined))
      throw new CliError("usage", `${where(inv)}: --tls-cert and --tls-key go together`);
    let addr: { host: string; port: number };
    try {
      addr = checkListenSecurity(listen, certFile === undefined ? "plaintext" : "tls");
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      throw new CliError("usage", `${where(inv)}: --listen: ${err.message}`, { cause: err });
    }
    const logs = await readLogs(inv);
    const key = await readPrivateKeyFile(inv, requiredStringOpt(inv, "key"), "--key");
    verifierKeyOf(inv, name, key);
    const tls =
      certFile !== undefined && keyFile !== undefined
        ? {
            certChainPem: await readBoundedFile(
              where(inv),
              resolve(inv.io.cwd, certFile),
              "--tls-cert",
              64 * 1024,
              false,
              "a PEM file",
            ),
            privateKeyPem: await readBoundedFile(
              where(inv),
              resolve(inv.io.cwd, keyFile),
              "--tls-key",
              64 * 1024,
              true,
              "a PEM file",
            ),
          }
        : undefined;
    const state = new WitnessState(resolve(inv.io.cwd, requiredStringOpt(inv, "state")));
    let lock: ReturnType<WitnessState["lock"]>;
    try {
      lock = state.lock();
    } catch (err) {
      throw new CliError("unavailable", `${where(inv)}: --state: ${(err as Error).message}`, { cause: err });
    }
    const witness = new Witness({ name, key, logs, state });
    let server: Awaited<ReturnType<typeof startWitnessServer>>;
    try {
      server = await startWitnessServer({
        witness,
        host: addr.host,
        port: addr.port,
        ...(tls === undefined ? {} : { tls }),
        onError: (e) => inv.io.stderr.write(`witness: refused: ${e.code}: ${e.message}\n`),
      });
    } catch (err) {
      lock.release();
      throw new CliError(
        "unavailable",
        `${where(inv)}: cannot listen on ${listen}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    emit(
      inv,
      { url: server.url, name, witness_verifier_key: witness.verifierKey, logs: [...logs.keys()] },
      `witness ${name} serving ${server.url}/add-checkpoint for ${[...logs.keys()].join(", ")}\nwitness verifier key: ${witness.verifierKey}\n(Ctrl-C to stop)\n`,
    );
    await new Promise<void>((done) => {
      if (!inv.io.signal) return;
      if (inv.io.signal.aborted) done();
      inv.io.signal.addEventListener("abort", () => done(), { once: true });
    });
    await server.close();
    lock.release();
    inv.io.stderr.write("witness stopped\n");
    return EXIT.ok;
  },
};

export const witness: Command = {
  name: "witness",
  summary: "Run a witness that cosigns the hub's checkpoints it verified as consistent (C2SP tlog-witness).",
  subcommands: [init, pubkey, serve],
};

/** `hub serve --witness URL,VKEY`: the witnesses the hub asks to cosign its checkpoints. */
export const hubWitnessFlags: Readonly<Record<string, OptionSpec>> = {
  witness: {
    type: "string",
    multiple: true,
    valueName: "url,vkey",
    description:
      "A witness to ask for cosignatures of every checkpoint: its base URL and its verifier key ('lineage witness pubkey')",
  },
};

/** The --witness values, each checked (URL, cosignature/v1 key, no duplicates) before anything is opened. */
export function witnessEndpointsOf(inv: Invocation): WitnessEndpoint[] {
  const out: WitnessEndpoint[] = [];
  for (const v of stringListOpt(inv, "witness")) {
    const comma = v.indexOf(",");
    if (comma <= 0 || comma === v.length - 1)
      throw new CliError(
        "invalid_argument",
        `${where(inv)}: --witness must be URL,VKEY, got '${v.slice(0, 80)}'`,
      );
    const endpoint = { url: v.slice(0, comma), verifierKey: v.slice(comma + 1) };
    try {
      new WitnessClient(endpoint);
    } catch (err) {
      throw new CliError("invalid_argument", `${where(inv)}: --witness: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (out.some((e) => e.verifierKey === endpoint.verifierKey))
      throw new CliError("invalid_argument", `${where(inv)}: --witness key given twice`);
    out.push(endpoint);
  }
  return out;
}

/**
 * Starts asking `endpoints` to cosign the log's checkpoints (none: undefined); failures go to stderr. With
 * `gossip` (the hub's bus), each cosigned checkpoint is published on lineage.checkpoint.<origin>.
 */
export function startHubWitnessing(
  inv: Invocation,
  log: TransparencyLog,
  endpoints: readonly WitnessEndpoint[],
  gossip?: CheckpointGossip,
): Witnessing | undefined {
  if (endpoints.length === 0) return undefined;
  return startWitnessing({
    log,
    witnesses: endpoints,
    ...(gossip === undefined ? {} : { gossip }),
    onError: (err, url) => inv.io.stderr.write(`hub: witness ${url}: ${(err as Error).message}\n`),
  });
}
