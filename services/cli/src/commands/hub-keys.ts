/**
 * The hub's key set on disk (docs/specs/hub-keys.md): the root key file given with --key (e.g. hub.pem:
 * checkpoints, the auditor's root of trust) and, beside it, one file per purpose it delegates —
 * hub.membership.pem, hub.sessions.pem, hub.countersign.pem. Every file is written like the root
 * (keygen.ts: O_EXCL|O_NOFOLLOW temp file, fsync, link/rename) and read with the same permission check; a
 * purpose file that is a symbolic link is refused. A purpose without a file is signed by the root, as a
 * single-key hub's always was (its log stays valid: the root counts for a purpose until it is delegated).
 *
 * `lineage hub keys rotate --purpose P` writes a new P key file, then logs its delegation through the owner
 * path (the log's folder or Postgres). When a running hub holds the folder, the delegation is logged when that
 * hub next opens its log (restart): until then the old key stays valid — validity is by log position.
 */
import { resolve } from "node:path";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { HUB_KEY_PURPOSE_SIGNS, HUB_KEY_PURPOSES, type HubKeyPurposeName } from "@lineage/hub";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, requiredStringOpt } from "../option-values.js";
import { logFlags, openLog } from "./hub-members.js";
import { purposeKeyPath, readHubKeySet, writePrivateKeyFile } from "./keygen.js";

function purposeOf(inv: Invocation): HubKeyPurposeName {
  const p = requiredStringOpt(inv, "purpose");
  if (p === "root")
    throw new CliError(
      "usage",
      `${["lineage", ...inv.path].join(" ")}: --purpose root: the hub does not rotate its root key yet (the auditor follows a logged root rotation: docs/specs/hub-keys.md)`,
    );
  if (!(HUB_KEY_PURPOSES as readonly string[]).includes(p))
    throw new CliError(
      "usage",
      `${["lineage", ...inv.path].join(" ")}: --purpose must be one of ${HUB_KEY_PURPOSES.join(", ")} (got '${p.slice(0, 32)}')`,
    );
  return p as HubKeyPurposeName;
}

const rotate: Command = {
  name: "rotate",
  summary: "Replace one purpose key of the hub's key set and log its delegation (signed by the root key).",
  description:
    "Writes a new key file for --purpose beside --key (hub.pem -> hub.<purpose>.pem), then opens the log as\n" +
    "its owner and logs the delegation, signed by the root key and the new key. When a running hub holds the\n" +
    "log's folder, the delegation is logged when that hub restarts; until then the old key stays valid.\n" +
    `Purposes: ${HUB_KEY_PURPOSES.map((p) => `${p} (${HUB_KEY_PURPOSE_SIGNS[p]})`).join("; ")}.`,
  options: {
    ...logFlags,
    purpose: {
      type: "string",
      valueName: "purpose",
      required: true,
      description: `The purpose whose key is replaced: ${HUB_KEY_PURPOSES.join(", ")}`,
    },
  },
  run: async (inv) => {
    const where = ["lineage", ...inv.path].join(" ");
    const purpose = purposeOf(inv);
    const keyFile = requiredStringOpt(inv, "key");
    await readHubKeySet(inv, keyFile, "--key"); // the set as it is must read before anything is replaced
    const path = purposeKeyPath(resolve(inv.io.cwd, keyFile), purpose);
    const key = Ed25519PrivateKey.generate();
    // The file first: a delegation logged for a key nobody kept would leave the purpose unsignable.
    await writePrivateKeyFile(where, path, key.toPem(), true);
    let logged: number | undefined;
    let pending: string | undefined;
    try {
      const { store, log } = await openLog(inv);
      try {
        logged = log.hubKeyStatementIndexes.at(-1);
        await log.checkpoint();
      } finally {
        await log.close();
        await store.close();
      }
    } catch (err) {
      if (!(err instanceof CliError) || err.code !== "unavailable") throw err;
      pending = err.message;
    }
    emit(
      inv,
      {
        purpose,
        key_id: key.keyId,
        file: path,
        delegation_index: logged ?? null,
        pending: pending ?? null,
      },
      pending === undefined
        ? `${purpose} key ${key.keyId} written to ${path}; its delegation is logged at index ${logged}\n`
        : `${purpose} key ${key.keyId} written to ${path}; NOT YET LOGGED (${pending}).\nRestart the hub: it logs the delegation before the new key signs anything; the old key stays valid until then.\n`,
    );
    return EXIT.ok;
  },
};

export const hubKeys: Command = {
  name: "keys",
  summary: "The hub's key set: a root key (checkpoints) and one key per purpose, delegated in the log.",
  subcommands: [rotate],
};
