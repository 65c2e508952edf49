/**
 * The files of a hub root rotation beside the root key file (docs/specs/hub-keys.md, "Rotating the root"):
 *
 * - `hub.root-next.pem` — the next root (0600, written like every key file: keygen.ts). While it exists, every
 *   owner-path open of the log (`hub serve`, `hub keys ...`, `hub enrol` on the folder) logs the rotation to it
 *   (or adopts it, when an earlier run logged it and stopped), re-wraps the epoch keys under it, then renames it
 *   over `hub.pem`: the old root's private key is gone, the rotation is done.
 * - `hub.roots.pub` — the public keys of the roots before the current one, oldest first, one lowercase-hex raw
 *   Ed25519 key per line: the first is the log's trust root (the auditors' `--log-key`), from which start-up
 *   follows the logged rotations (log-integrity.ts). Written before the rotation is logged, so a crash at any
 *   step leaves a folder the next open completes.
 *
 * Every file read here is attacker-reachable local input: sizes bounded, symbolic links refused, keys parsed.
 */
import { lstat, rename } from "node:fs/promises";
import { resolve } from "node:path";
import { type Ed25519PrivateKey, Ed25519PublicKey, fromHex, toHex } from "@lineage/crypto";
import { CliError } from "../cli-error.js";
import type { Invocation } from "../command.js";
import { readBoundedFile, readHubKeySet, readPrivateKeyFile, writePrivateKeyFile } from "./keygen.js";

/** Most past roots a roots file lists (a root rotated daily for a century stays below). */
export const MAX_ROOTS = 50_000;

function sibling(rootPath: string, suffix: string): string {
  return rootPath.endsWith(".pem") ? `${rootPath.slice(0, -4)}.${suffix}` : `${rootPath}.${suffix}`;
}

/** `hub.pem` -> `hub.root-next.pem`. */
export function nextRootPath(rootPath: string): string {
  return sibling(rootPath, "root-next.pem");
}

/** `hub.pem` -> `hub.roots.pub`. */
export function rootsPath(rootPath: string): string {
  return sibling(rootPath, "roots.pub");
}

async function exists(where: string, path: string): Promise<boolean> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw new CliError("unavailable", `${where}: cannot inspect ${path}: ${err.code}`, { cause: err });
  });
  if (st === undefined) return false;
  if (st.isSymbolicLink())
    throw new CliError("invalid_argument", `${where}: ${path} is a symbolic link; refusing to follow it`);
  if (!st.isFile()) throw new CliError("invalid_argument", `${where}: ${path} is not a regular file`);
  return true;
}

/** Parses a roots file (untrusted text): one 64-hex-digit key per line, '#' comments and blank lines allowed. */
export function parseRoots(text: string, what: string): Ed25519PublicKey[] {
  const keys: Ed25519PublicKey[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (!/^[0-9a-f]{64}$/.test(line))
      throw new CliError("invalid_argument", `${what} line ${i + 1}: not a 64-hex-digit Ed25519 public key`);
    try {
      keys.push(Ed25519PublicKey.fromRaw(fromHex(line)));
    } catch (cause) {
      throw new CliError("invalid_argument", `${what} line ${i + 1}: not an Ed25519 public key`, { cause });
    }
    if (keys.length > MAX_ROOTS)
      throw new CliError("invalid_argument", `${what}: more than ${MAX_ROOTS} roots`);
  }
  return keys;
}

/** The root rotation state of a key folder (module header). */
export interface RootFiles {
  readonly rootPath: string;
  /** The log's first root, when the roots file names one (else the root key file's key is). */
  readonly trustRoot: Ed25519PublicKey | undefined;
  /** Every past root listed, oldest first. */
  readonly past: readonly Ed25519PublicKey[];
  /** A rotation to complete, when `hub.root-next.pem` exists. */
  readonly nextRoot: Ed25519PrivateKey | undefined;
}

/** Reads the roots file and the pending next root beside the root key file `file` (relative to the cwd). */
export async function readRootFiles(inv: Invocation, file: string): Promise<RootFiles> {
  const where = ["lineage", ...inv.path].join(" ");
  const rootPath = resolve(inv.io.cwd, file);
  const rp = rootsPath(rootPath);
  let past: Ed25519PublicKey[] = [];
  if (await exists(where, rp))
    past = parseRoots(
      await readBoundedFile(where, rp, "--key (roots file)", 4 << 20, false, "a roots file"),
      rp,
    );
  const np = nextRootPath(rootPath);
  const nextRoot = (await exists(where, np))
    ? await readPrivateKeyFile(inv, np, "--key (next root)")
    : undefined;
  return { rootPath, trustRoot: past[0], past, nextRoot };
}

/**
 * Before a rotation is logged: the roots file lists `current` last (written through a temp file and a rename),
 * so the folder still names the log's trust root once the root key file is replaced.
 */
export async function recordPastRoot(
  where: string,
  files: RootFiles,
  current: Ed25519PublicKey,
): Promise<void> {
  if (files.past.some((k) => k.keyId === current.keyId)) return;
  const lines = [...files.past, current].map((k) => toHex(k.raw));
  const text = `# past root keys of this hub, oldest first (the first is the log's trust root)\n${lines.join("\n")}\n`;
  await writePrivateKeyFile(where, rootsPath(files.rootPath), text, true);
}

/** After the log's root is the next root: it replaces the root key file (an atomic rename). */
export async function promoteNextRoot(where: string, files: RootFiles): Promise<void> {
  try {
    await rename(nextRootPath(files.rootPath), files.rootPath);
  } catch (cause) {
    throw new CliError("unavailable", `${where}: cannot rename the next root over ${files.rootPath}`, {
      cause,
    });
  }
}

/**
 * The key the secretariat signs its requests to a running hub with (enrol, member status, review decisions):
 * the membership key beside the root (`hub.membership.pem`), or the root itself while there is none — what
 * the hub's RequestAuthenticator accepts (docs/specs/hub-keys.md).
 */
export async function secretariatKey(inv: Invocation, file: string): Promise<Ed25519PrivateKey> {
  const { root, purposeKeys } = await readHubKeySet(inv, file, "--key");
  return purposeKeys.membership ?? root;
}
