/**
 * `lineage member init`: creates a member node's signing key and config file in one folder
 * (default .lineage/member). Both files are written like `keygen` writes keys: a fresh temp file opened
 * O_CREAT|O_EXCL|O_NOFOLLOW with mode 0600, fsynced, then linked into place (never over an existing file
 * without --force, never through a symlink). Prints the key id and public key (what the hub enrols) and the
 * paths; never a secret: endpoint API keys and NATS passwords are named by environment variable only.
 */
import { join, resolve } from "node:path";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { checkMemberNodeConfig } from "@lineage/member-node";
import { CliError, EXIT } from "../cli-error.js";
import type { Command } from "../command.js";
import { emit, requiredStringOpt, stringOpt } from "../option-values.js";
import { writePrivateKeyFile } from "./keygen.js";
import { cliErrorFromNode, whereOf } from "./member-node-access.js";

export const memberInit: Command = {
  name: "init",
  summary: "Create a member node's key and config file (mode 0600); prints the key id and public key.",
  description:
    "Writes <dir>/member-key.pem and <dir>/member-node.json. Without --pg the node uses the embedded\n" +
    "database in <dir>/data; without --nats, the in-process bus. Secrets are never written: name the\n" +
    "environment variable that holds an endpoint's API key with --adapter-key-env.",
  options: {
    "member-id": {
      type: "string",
      valueName: "id",
      required: true,
      description: "This member's id ([a-z0-9-])",
    },
    dir: {
      type: "string",
      valueName: "dir",
      description: "Folder for the key, config and data (default .lineage/member)",
    },
    listen: {
      type: "string",
      valueName: "host:port",
      description: "gRPC listen address (default 127.0.0.1:7450)",
    },
    pg: { type: "string", valueName: "url", description: "PostgreSQL URL (default: embedded database)" },
    nats: { type: "string", valueName: "url", description: "NATS URL (default: in-process bus)" },
    hub: { type: "string", valueName: "host:port", description: "The hub's gRPC address" },
    battery: {
      type: "string",
      valueName: "file",
      description: "Epoch battery file (until the hub serves it)",
    },
    "epoch-key": {
      type: "string",
      valueName: "file",
      description: "Epoch sketch key file (64 hex chars, mode 0600)",
    },
    "adapter-url": {
      type: "string",
      valueName: "url",
      description: "OpenAI-compatible endpoint of the model to protect",
    },
    "adapter-model": { type: "string", valueName: "name", description: "Model name at that endpoint" },
    "adapter-key-env": {
      type: "string",
      valueName: "VAR",
      description: "Environment variable holding its API key",
    },
    force: { type: "boolean", description: "Replace an existing key and config" },
  },
  run: async (inv) => {
    const where = whereOf(inv);
    const dir = resolve(inv.io.cwd, stringOpt(inv, "dir") ?? ".lineage/member");
    const memberId = requiredStringOpt(inv, "member-id");
    const url = stringOpt(inv, "adapter-url");
    const model = stringOpt(inv, "adapter-model");
    if ((url === undefined) !== (model === undefined))
      throw new CliError("usage", `${where}: --adapter-url and --adapter-model go together`);
    const keyEnv = stringOpt(inv, "adapter-key-env");
    if (keyEnv !== undefined && url === undefined)
      throw new CliError("usage", `${where}: --adapter-key-env needs --adapter-url`);
    const pg = stringOpt(inv, "pg");
    const nats = stringOpt(inv, "nats");
    const hub = stringOpt(inv, "hub");
    const battery = stringOpt(inv, "battery");
    const epochKey = stringOpt(inv, "epoch-key");
    const doc = {
      member_id: memberId,
      signing_key_file: "member-key.pem",
      listen: stringOpt(inv, "listen") ?? "127.0.0.1:7450",
      database: pg !== undefined ? { postgres_url: pg } : { data_dir: "data" },
      ...(nats !== undefined ? { nats: { url: nats } } : {}),
      hub: { ...(hub !== undefined ? { address: hub } : {}), key_files: [] },
      battery: {
        ...(battery !== undefined ? { file: resolve(inv.io.cwd, battery) } : {}),
        ...(epochKey !== undefined ? { epoch_key_file: resolve(inv.io.cwd, epochKey) } : {}),
      },
      adapters:
        url !== undefined && model !== undefined
          ? { main: { base_url: url, model, ...(keyEnv !== undefined ? { api_key_env: keyEnv } : {}) } }
          : {},
      admin: { key_files: [], client_cert_sha256: [] },
    };
    // The same checks the node applies, before anything is written.
    try {
      checkMemberNodeConfig(doc, dir, {});
    } catch (err) {
      throw cliErrorFromNode(err, where);
    }
    const { mkdir } = await import("node:fs/promises");
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new CliError(
        "unavailable",
        `${where}: cannot create ${dir}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
    const keyFile = join(dir, "member-key.pem");
    const configFile = join(dir, "member-node.json");
    const force = inv.options.force === true;
    if (!force) {
      // Refuse before writing either file, so a refused init leaves nothing half-written.
      const { lstat } = await import("node:fs/promises");
      for (const f of [configFile, keyFile]) {
        const exists = await lstat(f).then(
          () => true,
          () => false,
        );
        if (exists) throw new CliError("usage", `${where}: ${f} exists (use --force to replace it)`);
      }
    }
    const key = Ed25519PrivateKey.generate();
    await writePrivateKeyFile(where, configFile, `${JSON.stringify(doc, null, 2)}\n`, force);
    await writePrivateKeyFile(where, keyFile, key.toPem(), force);
    emit(
      inv,
      {
        member_id: memberId,
        key_id: key.keyId,
        public_key_pem: key.publicKey.toPem(),
        key_file: keyFile,
        config_file: configFile,
      },
      `member ${memberId}\nkey id: ${key.keyId}\nprivate key written to ${keyFile} (mode 0600)\nconfig written to ${configFile} (mode 0600)\n${key.publicKey.toPem()}`,
    );
    return EXIT.ok;
  },
};
