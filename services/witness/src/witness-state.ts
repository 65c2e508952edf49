/**
 * What a witness remembers: for each log origin, the last checkpoint it cosigned (size, root and the
 * log-signed note as evidence). One small file per log in the state folder, written crash-safely: a
 * temp file (O_EXCL | O_NOFOLLOW, mode 0600) is written and fsynced, renamed over the old file, and the
 * folder fsynced — so after a crash the file holds the old state or the new one, never a torn one, and
 * the witness never answers before the new state is durable.
 *
 * Why files and not libs/store: a witness is meant to be run by someone other than the hub, on a small
 * machine, with no database to administer; its whole state is one line per log, and a file per log is
 * easy to back up and to inspect. What it must never lose is that line — a witness whose state is lost
 * must be retired under a new key, not restarted (docs/specs/witness.md).
 */
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Ed25519PublicKey, fromBase64, fromHex, toBase64, toHex } from "@lineage/crypto";
import { type DataDirLock, isStoreError, lockDataDir } from "@lineage/store";
import { WitnessError } from "./witness-error.js";

/** A root key of a log that this witness trusts or trusted (docs/specs/witness.md, root rotation). */
export interface TrustedRoot {
  readonly key: Ed25519PublicKey;
  /** Log index of the ROTATE_ROOT statement that made it the root; -1 for the key its operator configured. */
  readonly index: number;
}

/** Most roots kept per log (each rotation adds one; a hub rotating yearly stays far below). */
export const MAX_TRUSTED_ROOTS = 1000;

/** The last checkpoint cosigned for one log. */
export interface WitnessedCheckpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The log-signed note that was cosigned (evidence, if the log later contradicts it). */
  readonly note: string;
  /**
   * The cosignature line this witness gave it. Asked again for the same checkpoint, the witness answers
   * this same line instead of signing anew: one cosignature per checkpoint, so a disclosure seed that
   * mixes in cosignatures (docs/specs/disclosure.md) cannot be re-rolled by asking again.
   */
  readonly cosignature: string;
  /**
   * Set once the witness followed a root rotation: every root it trusted for the log, oldest first (the first is
   * the configured key); the last signs the checkpoints it cosigns now, the others are refused. Absent: the
   * configured key is the root.
   */
  readonly roots?: readonly TrustedRoot[];
}

const MAX_STATE_BYTES = 256 * 1024;

/** The witness's per-log state in a folder. */
export class WitnessState {
  readonly dir: string;

  constructor(dir: string) {
    if (typeof dir !== "string" || dir.length === 0)
      throw new WitnessError("invalid_argument", "the witness state folder is empty");
    this.dir = dir;
  }

  /**
   * Takes the folder for this process (`<dir>.lock`, libs/store's one-owner lock: O_EXCL with the pid, stale
   * locks reclaimed). Two witness processes on one state would each serialise only their own requests and
   * could cosign two forks of one log: a second `witness serve` on the folder is refused (`unavailable`).
   */
  lock(): DataDirLock {
    try {
      return lockDataDir(this.dir);
    } catch (cause) {
      if (isStoreError(cause, "locked"))
        throw new WitnessError("unavailable", `the witness state ${this.dir} is in use: ${cause.message}`, {
          cause,
        });
      throw new WitnessError("unavailable", `cannot lock the witness state ${this.dir}`, { cause });
    }
  }

  #file(origin: string): string {
    // Origins are arbitrary printable text; the file is named by a hash of it (the origin is inside).
    return join(this.dir, `log-${createHash("sha256").update(origin).digest("hex").slice(0, 32)}.json`);
  }

  /** The last cosigned checkpoint of `origin`, or undefined on first contact. */
  async get(origin: string): Promise<WitnessedCheckpoint | undefined> {
    const file = this.#file(origin);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new WitnessError("unavailable", `cannot read the witness state in ${this.dir}`, { cause });
    }
    const cp = parseState(text, file);
    if (cp.origin !== origin) throw new WitnessError("internal", `the witness state ${file} is damaged`);
    return cp;
  }

  /**
   * Reads every log's state file and checks it (run before serving): a damaged or torn file is an error
   * naming it, so a witness never starts to answer with a state it cannot read. It must not be deleted to
   * "repair" it — that would make the witness cosign that log from size 0 again (docs/specs/witness.md:
   * a witness that lost its state is retired under a new key). Returns the number of logs.
   */
  async checkAll(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw new WitnessError("unavailable", `cannot read the witness state folder ${this.dir}`, { cause });
    }
    let n = 0;
    for (const name of names) {
      if (!/^log-[0-9a-f]{32}\.json$/.test(name)) continue;
      const file = join(this.dir, name);
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (cause) {
        throw new WitnessError("unavailable", `cannot read the witness state ${file}`, { cause });
      }
      const cp = parseState(text, file);
      if (this.#file(cp.origin) !== file)
        throw new WitnessError("internal", `the witness state ${file} holds another log's origin`);
      n++;
    }
    return n;
  }

  /** Durably replaces the state of `cp.origin` (see the module comment). */
  async put(cp: WitnessedCheckpoint): Promise<void> {
    const file = this.#file(cp.origin);
    const tmp = `${file}.${randomBytes(8).toString("hex")}.tmp`;
    if ((cp.roots?.length ?? 0) > MAX_TRUSTED_ROOTS)
      throw new WitnessError("invalid_argument", `more than ${MAX_TRUSTED_ROOTS} roots for one log`);
    const roots = cp.roots?.map((r) => ({ key: toHex(r.key.raw), index: r.index }));
    const body = `${JSON.stringify({ origin: cp.origin, size: cp.size, root_hash: toBase64(cp.rootHash), note: cp.note, cosignature: cp.cosignature, ...(roots === undefined ? {} : { roots }) })}\n`;
    let fh: FileHandle | undefined;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      fh = await open(
        tmp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
      await fh.writeFile(body);
      await fh.sync();
      await fh.close();
      fh = undefined;
      await rename(tmp, file);
      const d = await open(this.dir, constants.O_RDONLY);
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (cause) {
      await fh?.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw new WitnessError("unavailable", `cannot write the witness state in ${this.dir}`, { cause });
    }
  }
}

/** Parses and checks one state file's text (`file` names it in errors). */
function parseState(text: string, file: string): WitnessedCheckpoint {
  if (text.length > MAX_STATE_BYTES)
    throw new WitnessError("internal", `the witness state ${file} is too large`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new WitnessError("internal", `the witness state ${file} is not JSON (torn or damaged)`, { cause });
  }
  const o = (parsed ?? {}) as Record<string, unknown>;
  const size = o.size;
  if (
    typeof o.origin !== "string" ||
    typeof size !== "number" ||
    !Number.isSafeInteger(size) ||
    size < 0 ||
    typeof o.root_hash !== "string" ||
    typeof o.note !== "string" ||
    typeof o.cosignature !== "string"
  ) {
    throw new WitnessError("internal", `the witness state ${file} is damaged (a field is missing or wrong)`);
  }
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(o.root_hash, "stored root hash");
  } catch (cause) {
    throw new WitnessError("internal", `the witness state ${file} is damaged (root_hash)`, { cause });
  }
  if (rootHash.length !== 32)
    throw new WitnessError("internal", `the witness state ${file} is damaged (root_hash)`);
  const cp = { origin: o.origin, size, rootHash, note: o.note, cosignature: o.cosignature };
  if (o.roots === undefined) return cp;
  return { ...cp, roots: parseRoots(o.roots, file) };
}

/** The `roots` field of a state file: [{ key: hex raw Ed25519 key, index }], in rotation order. */
function parseRoots(value: unknown, file: string): TrustedRoot[] {
  const damaged = (cause?: unknown) =>
    new WitnessError("internal", `the witness state ${file} is damaged (roots)`, { cause });
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_TRUSTED_ROOTS) throw damaged();
  let prev = -2;
  return value.map((r: unknown) => {
    const { key, index } = (r ?? {}) as Record<string, unknown>;
    if (typeof key !== "string" || typeof index !== "number" || !Number.isSafeInteger(index) || index < -1)
      throw damaged();
    // Rotations in log order; a configured key (-1) may follow them (an operator's manual re-key).
    if (index !== -1 && index <= prev) throw damaged();
    if (index !== -1) prev = index;
    try {
      return { key: Ed25519PublicKey.fromRaw(fromHex(key)), index };
    } catch (cause) {
      throw damaged(cause);
    }
  });
}
