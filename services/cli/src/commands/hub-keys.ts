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
import { unlink } from "node:fs/promises";
import { resolve } from "node:path";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { HUB_KEY_PURPOSE_SIGNS, HUB_KEY_PURPOSES, type HubKeyPurposeName } from "@lineage/hub";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, requiredStringOpt, stringOpt } from "../option-values.js";
import { nextRootPath, readRootFiles, rootsPath } from "./hub-keys-files.js";
import { logFlags, logToCli, openLog } from "./hub-members.js";
import { purposeKeyPath, readHubKeySet, writePrivateKeyFile } from "./keygen.js";

function purposeOf(inv: Invocation): HubKeyPurposeName {
  const p = requiredStringOpt(inv, "purpose");
  if (p === "root")
    throw new CliError(
      "usage",
      `${["lineage", ...inv.path].join(" ")}: --purpose root: the root is not a purpose; rotate it with \`lineage hub keys rotate-root\``,
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

const reasonFlag = {
  reason: {
    type: "string",
    valueName: "text",
    description: "Why (logged in the statement, at most 256 characters)",
  },
} as const;

function reasonOf(inv: Invocation, fallback: string): string {
  const r = stringOpt(inv, "reason") ?? fallback;
  if (r.length === 0 || r.length > 256)
    throw new CliError("usage", `${["lineage", ...inv.path].join(" ")}: --reason must be 1..256 characters`);
  return r;
}

const rotateRoot: Command = {
  name: "rotate-root",
  summary: "Replace the hub's root key: the old root signs the handover to a new one (ROTATE_ROOT, logged).",
  description:
    "Writes the next root beside --key (hub.pem -> hub.root-next.pem) and lists the current root in\n" +
    "hub.roots.pub (the first line stays the log's trust root, the auditors' --log-key), then opens the log as\n" +
    "its owner: it logs ROTATE_ROOT signed by the old root and the new one, signs a checkpoint with the new\n" +
    "root, re-wraps the epoch keys under it and renames it over --key (the old root's private key is gone).\n" +
    "From the rotation's index on, the old root is refused (auditors: hub_key_not_valid). When a running hub\n" +
    "holds the log's folder, the rotation is completed when that hub restarts. Nobody is reconfigured:\n" +
    "auditors, member nodes and witnesses keep the first root and follow the logged rotation (a witness is\n" +
    "sent the ROTATE_ROOT statement with its inclusion proof by the hub's witness client, and keeps the new\n" +
    "root in its state; a member node reads it from the log and saves it). Witnesses more than 8 rotations\n" +
    "behind must be given the verifier key printed here.",
  options: { ...logFlags, ...reasonFlag },
  run: async (inv) => {
    const where = ["lineage", ...inv.path].join(" ");
    const keyFile = requiredStringOpt(inv, "key");
    const { root: old } = await readHubKeySet(inv, keyFile, "--key");
    const files = await readRootFiles(inv, keyFile);
    let next = files.nextRoot;
    if (next === undefined) {
      next = Ed25519PrivateKey.generate();
      // The file first: a rotation logged to a key nobody kept would leave the log unsignable.
      await writePrivateKeyFile(where, nextRootPath(files.rootPath), next.toPem(), false);
    }
    const reason = reasonOf(inv, "hub root rotation");
    let rotation: { keyId: string; index: number } | undefined;
    let verifier: string | undefined;
    let pending: string | undefined;
    try {
      // openLog logs (or adopts) the rotation to the next root file and completes it (hub-keys-files.ts).
      const { store, log } = await openLog(inv, { rootRotationReason: reason });
      try {
        rotation = log.rootRotation;
        verifier = log.verifierKey;
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
        old_root_key_id: old.keyId,
        root_key_id: next.keyId,
        rotation_index: rotation?.index ?? null,
        verifier_key: verifier ?? null,
        roots_file: rootsPath(files.rootPath),
        pending: pending ?? null,
      },
      pending === undefined
        ? `root rotated from ${old.keyId} to ${next.keyId} at log index ${rotation?.index}; ${keyFile} is the new root.\n` +
            `verifier key: ${verifier}\npast roots: ${rootsPath(files.rootPath)} (its first line stays the auditors' --log-key)\n`
        : `next root ${next.keyId} written to ${nextRootPath(files.rootPath)}; NOT YET LOGGED (${pending}).\nRestart the hub: it logs the rotation at start; the old root stays valid until then.\n`,
    );
    return EXIT.ok;
  },
};

const retire: Command = {
  name: "retire",
  summary:
    "Retire one purpose key (RETIRE, signed by the root): nothing signs that purpose until a new delegation.",
  description:
    "Opens the log as its owner, logs the retirement of --purpose's current key, then removes its key file\n" +
    "(hub.pem -> hub.<purpose>.pem). Until `hub keys rotate --purpose P` delegates a new key, the hub refuses\n" +
    "to sign P (failed_precondition) and auditors refuse any P signature after the retirement (hub_key_not_valid).",
  options: {
    ...logFlags,
    ...reasonFlag,
    purpose: {
      type: "string",
      valueName: "purpose",
      required: true,
      description: `The purpose whose key is retired: ${HUB_KEY_PURPOSES.join(", ")}`,
    },
  },
  run: async (inv) => {
    const where = ["lineage", ...inv.path].join(" ");
    const purpose = purposeOf(inv);
    const keyFile = requiredStringOpt(inv, "key");
    const reason = reasonOf(inv, `hub ${purpose} key retired`);
    const path = purposeKeyPath(resolve(inv.io.cwd, keyFile), purpose);
    const { store, log } = await openLog(inv);
    let index: number;
    let keyId: string;
    try {
      try {
        keyId = log.purposePublicKeys[purpose].keyId;
        index = (await log.retire(purpose, reason)).index;
        await log.checkpoint();
      } catch (err) {
        throw logToCli(err, inv);
      }
    } finally {
      await log.close();
      await store.close();
    }
    // The retired key never signs again, and a later open must not try to delegate it anew.
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT")
        throw new CliError("unavailable", `${where}: cannot remove ${path}: ${err.code}`);
    });
    emit(
      inv,
      { purpose, key_id: keyId, retirement_index: index, removed_file: path },
      `${purpose} key ${keyId} retired at log index ${index}; ${path} removed. Nothing signs ${purpose} until \`lineage hub keys rotate --purpose ${purpose}\`.\n`,
    );
    return EXIT.ok;
  },
};

export const hubKeys: Command = {
  name: "keys",
  summary: "The hub's key set: a root key (checkpoints) and one key per purpose, delegated in the log.",
  subcommands: [rotate, rotateRoot, retire],
};
