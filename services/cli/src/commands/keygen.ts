/**
 * Key files of the roles. `keygen` creates an Ed25519 signing key: the private key is written to a
 * file only (mode 0600, never printed, never overwritten without --force); what is printed is what
 * others need — the key id and public key, and for the hub the checkpoint verifier key auditors trust.
 *
 * Writing (issue 8): the key goes to a fresh temp file in the target's directory opened with
 * O_CREAT | O_EXCL | O_NOFOLLOW (so a planted file or symlink at the temp name is never written through),
 * is fsynced, then moved into place — link(2) without --force (fails if the target appeared meanwhile),
 * rename(2) with --force (replaces the directory entry, never follows it) — and the directory is fsynced.
 * A symlink at the target is refused even with --force: whoever planted it wanted the key elsewhere.
 * Reading: a private key file readable or writable by group or others is refused, like ssh does.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, link, lstat, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Ed25519PrivateKey, Ed25519PublicKey, formatVerifierKey } from "@lineage/crypto";
import { HUB_KEY_PURPOSES, type HubKeyPurposeName, type HubPurposeKeys } from "@lineage/hub";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, requiredStringOpt, stringOpt } from "../option-values.js";

function keygenCommand(role: "member" | "hub"): Command {
  return {
    name: "keygen",
    summary:
      role === "hub"
        ? "Create the hub's Ed25519 key; prints the checkpoint verifier key auditors trust."
        : "Create an Ed25519 signing key; prints its key id and public key.",
    options: {
      out: {
        type: "string",
        valueName: "file",
        required: true,
        description: "Where to write the private key (PEM)",
      },
      force: { type: "boolean", description: "Overwrite an existing key file" },
      ...(role === "hub"
        ? {
            "key-set": {
              type: "boolean",
              description:
                "Also write one key per purpose beside the root (hub.membership.pem, hub.sessions.pem, hub.countersign.pem; docs/specs/hub-keys.md); without it the root signs every purpose",
            },
            origin: {
              type: "string",
              valueName: "origin",
              required: true,
              description: "Log origin, e.g. lineage.example/log",
            },
          }
        : {}),
    },
    run: async (inv) => {
      const where = ["lineage", ...inv.path].join(" ");
      const path = resolve(inv.io.cwd, requiredStringOpt(inv, "out"));
      const origin = stringOpt(inv, "origin");
      const key = Ed25519PrivateKey.generate();
      let verifierKey: string | undefined;
      if (origin !== undefined) {
        try {
          verifierKey = formatVerifierKey(origin, key.publicKey);
        } catch (err) {
          throw new CliError("invalid_argument", `${where}: --origin: ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
      await writePrivateKeyFile(where, path, key.toPem(), inv.options.force === true);
      // The hub's key set (docs/specs/hub-keys.md): one key per purpose beside the root, delegated in the log
      // by the hub's first start.
      const purposes =
        role === "hub" && inv.options["key-set"] === true
          ? await writePurposeKeys(where, path, inv.options.force === true)
          : undefined;
      const pub = key.publicKey;
      emit(
        inv,
        {
          key_id: key.keyId,
          public_key_pem: pub.toPem(),
          private_key_file: path,
          ...(verifierKey ? { verifier_key: verifierKey } : {}),
          ...(purposes ? { purpose_keys: purposes } : {}),
        },
        `key id: ${key.keyId}\nprivate key written to ${path} (mode 0600)\n${pub.toPem()}${verifierKey ? `verifier key: ${verifierKey}\n` : ""}${
          purposes
            ? Object.entries(purposes)
                .map(([p, v]) => `${p} key ${v.key_id} written to ${v.file} (mode 0600)\n`)
                .join("")
            : ""
        }`,
      );
      return EXIT.ok;
    },
  };
}

export const memberKeygen = keygenCommand("member");
export const hubKeygen = keygenCommand("hub");

/** Largest key file read (an Ed25519 PEM is ~120 bytes; a TLS key or chain a few KiB). */
const MAX_KEY_FILE_BYTES = 16 * 1024;

/**
 * Writes a private key file as the module header describes: temp file (O_EXCL | O_NOFOLLOW, mode 0600)
 * in the same directory, fsync, link or rename over `path`, fsync the directory. `where` prefixes errors.
 * @throws CliError `usage` when `path` exists (without `force`) or is a symlink or not a regular file;
 *   `unavailable` when the directory cannot be written.
 */
export async function writePrivateKeyFile(
  where: string,
  path: string,
  pem: string,
  force: boolean,
): Promise<void> {
  const existing = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw new CliError("unavailable", `${where}: cannot inspect ${path}: ${err.code ?? String(err)}`, {
      cause: err,
    });
  });
  if (existing?.isSymbolicLink())
    throw new CliError("usage", `${where}: ${path} is a symbolic link; refusing to follow or replace it`);
  if (existing !== undefined && !existing.isFile())
    throw new CliError("usage", `${where}: ${path} exists and is not a regular file`);
  if (existing !== undefined && !force)
    throw new CliError("usage", `${where}: ${path} exists (use --force to replace it)`);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(8).toString("hex")}.tmp`);
  const fail = (err: unknown): CliError => {
    if (err instanceof CliError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST")
      return new CliError("usage", `${where}: ${path} exists (use --force to replace it)`);
    return new CliError("unavailable", `${where}: cannot write ${path}: ${code ?? String(err)}`, {
      cause: err,
    });
  };
  let fh: FileHandle | undefined;
  try {
    fh = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    await fh.chmod(0o600); // the umask may have narrowed it further; never wider
    await fh.writeFile(pem);
    await fh.sync();
    await fh.close();
    fh = undefined;
    if (force) await rename(tmp, path);
    else {
      await link(tmp, path); // fails with EEXIST if a file or link appeared at path since the lstat
      await unlink(tmp);
    }
  } catch (err) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw fail(err);
  }
  // Make the new directory entry durable; a directory that cannot be opened for fsync is not an error.
  const d = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (d !== undefined) {
    await d.sync().catch(() => {});
    await d.close();
  }
}

/**
 * Reads a key file named by a flag, bounded. With `secret`, the file must not be readable or writable by
 * group or others (checked on the opened file, so the file checked is the file read); the message says
 * how to fix it.
 */
async function readKeyText(
  inv: Invocation,
  file: string,
  flag: string,
  secret: boolean,
): Promise<{ path: string; pem: string }> {
  const where = ["lineage", ...inv.path].join(" ");
  const path = resolve(inv.io.cwd, file);
  const text = await readBoundedFile(where, path, flag, MAX_KEY_FILE_BYTES, secret, "a key");
  return { path, pem: text };
}

/**
 * Reads at most `maxBytes` of a file named by `flag`; with `secret`, refuses a file whose mode grants
 * group or others any access. Exported for the hub's TLS key (`hub serve --tls-key`).
 * @throws CliError `unavailable` (cannot read), `invalid_argument` (too large, or too open when secret)
 */
export async function readBoundedFile(
  where: string,
  path: string,
  flag: string,
  maxBytes: number,
  secret: boolean,
  what: string,
): Promise<string> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY);
  } catch (err) {
    throw new CliError(
      "unavailable",
      `${where}: cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new CliError("invalid_argument", `${where}: ${flag} ${path} is not a regular file`);
    if (secret && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw new CliError(
        "invalid_argument",
        `${where}: ${flag} ${path} is a private key accessible by group or others (mode ${mode}); ` +
          `run chmod 600 ${path}`,
      );
    }
    if (st.size > maxBytes)
      throw new CliError("invalid_argument", `${where}: ${flag} ${path} is too large to be ${what}`);
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > maxBytes)
        throw new CliError("invalid_argument", `${where}: ${flag} ${path} is too large to be ${what}`);
    }
    return buf.subarray(0, n).toString("utf8");
  } finally {
    await fh.close();
  }
}

function parseKey<K>(inv: Invocation, flag: string, path: string, what: string, parse: () => K): K {
  try {
    return parse();
  } catch (err) {
    const where = ["lineage", ...inv.path].join(" ");
    throw new CliError("invalid_argument", `${where}: ${flag} ${path} is not an Ed25519 ${what} key in PEM`, {
      cause: err,
    });
  }
}

/** Reads an Ed25519 private key (PEM) named by a flag; errors name the flag and the file. */
export async function readPrivateKeyFile(
  inv: Invocation,
  file: string,
  flag: string,
): Promise<Ed25519PrivateKey> {
  const { path, pem } = await readKeyText(inv, file, flag, true);
  return parseKey(inv, flag, path, "private", () => Ed25519PrivateKey.fromPem(pem));
}

/** Reads an Ed25519 public key (PEM) named by a flag; errors name the flag and the file. */
export async function readPublicKeyFile(
  inv: Invocation,
  file: string,
  flag: string,
): Promise<Ed25519PublicKey> {
  const { path, pem } = await readKeyText(inv, file, flag, false);
  return parseKey(inv, flag, path, "public", () => Ed25519PublicKey.fromPem(pem));
}

export const memberPubkey: Command = {
  name: "pubkey",
  summary: "Print the key id and public key of a private key file.",
  options: {
    key: { type: "string", valueName: "file", required: true, description: "Private key file (PEM)" },
  },
  run: async (inv) => {
    const key = await readPrivateKeyFile(inv, requiredStringOpt(inv, "key"), "--key");
    emit(
      inv,
      { key_id: key.keyId, public_key_pem: key.publicKey.toPem() },
      `key id: ${key.keyId}\n${key.publicKey.toPem()}`,
    );
    return EXIT.ok;
  },
};

/** The file of `purpose`'s key beside the root key file `rootPath` (hub.pem -> hub.membership.pem). */
export function purposeKeyPath(rootPath: string, purpose: HubKeyPurposeName): string {
  return rootPath.endsWith(".pem") ? `${rootPath.slice(0, -4)}.${purpose}.pem` : `${rootPath}.${purpose}`;
}

/** The root key and the purpose keys found beside it (permission-checked, never through a symlink). */
export async function readHubKeySet(
  inv: Invocation,
  file: string,
  flag: string,
): Promise<{ root: Ed25519PrivateKey; purposeKeys: HubPurposeKeys }> {
  const root = await readPrivateKeyFile(inv, file, flag);
  const rootPath = resolve(inv.io.cwd, file);
  const purposeKeys: { -readonly [P in HubKeyPurposeName]?: Ed25519PrivateKey } = {};
  for (const p of HUB_KEY_PURPOSES) {
    const path = purposeKeyPath(rootPath, p);
    const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw new CliError(
        "unavailable",
        `${["lineage", ...inv.path].join(" ")}: cannot inspect ${path}: ${err.code}`,
      );
    });
    if (st === undefined) continue;
    if (st.isSymbolicLink())
      throw new CliError(
        "invalid_argument",
        `${["lineage", ...inv.path].join(" ")}: the ${p} key ${path} is a symbolic link; refusing to follow it`,
      );
    purposeKeys[p] = await readPrivateKeyFile(inv, path, `${flag} (${p} key)`);
  }
  return { root, purposeKeys };
}

/** Writes a fresh key for each purpose beside `rootPath`; returns their ids and files. */
export async function writePurposeKeys(
  where: string,
  rootPath: string,
  force: boolean,
): Promise<Record<HubKeyPurposeName, { key_id: string; file: string; public_key_pem: string }>> {
  const out = {} as Record<HubKeyPurposeName, { key_id: string; file: string; public_key_pem: string }>;
  for (const p of HUB_KEY_PURPOSES) {
    const key = Ed25519PrivateKey.generate();
    const file = purposeKeyPath(rootPath, p);
    await writePrivateKeyFile(where, file, key.toPem(), force);
    out[p] = { key_id: key.keyId, file, public_key_pem: key.publicKey.toPem() };
  }
  return out;
}
