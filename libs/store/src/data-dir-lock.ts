/**
 * One owner per embedded data folder. PGlite is a single-user PostgreSQL: two processes (or two instances
 * in one process) on the same folder each keep their own WAL and buffers, so both "succeed" and the folder
 * ends up holding whichever wrote last — for the hub, two different signed checkpoints of the same size
 * (issue 8, "the embedded default forks the log"). PGlite's own postmaster.pid is written but never checked.
 *
 * The lock is a file beside the folder, `<dataDir>.lock` (inside it, PGlite's initdb refuses a non-empty
 * new folder), created with O_CREAT|O_EXCL and holding the owner's pid. A lock whose pid is no longer alive
 * (kill -9, power loss) is stale and reclaimed; a live pid — this process included — means `locked`.
 * The lock is advisory: it stops Lineage's own openers, not `rm -rf`.
 */

import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { StoreError } from "./store-error.js";

/** A held data-folder lock. */
export interface DataDirLock {
  /** The lock file, `<dataDir>.lock`. */
  readonly path: string;
  /** Removes the lock file if it is still ours; idempotent. */
  release(): void;
}

/** What a lock file says: `pid host token`, one line. */
interface LockContent {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
}

/** Lock files are tiny; anything larger is not ours and is refused rather than parsed. */
const MAX_LOCK_BYTES = 512;

/** Path of the lock file of `dataDir`. */
export function lockPathOf(dataDir: string): string {
  return `${resolve(dataDir)}.lock`;
}

/** Held locks of this process, released on exit (a crash leaves a stale lock, reclaimed by pid). */
const held = new Set<DataDirLock>();
let exitHook = false;

/**
 * Takes the lock of `dataDir` for this process. Throws StoreError `locked` (naming the folder and the
 * holder's pid) when another live process — or another open store of this process — holds it, and
 * `unavailable` when the lock file cannot be written.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = lockPathOf(dataDir);
  const me: LockContent = {
    pid: process.pid,
    host: hostname(),
    token: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
  };
  // Two rounds: the first may find a stale lock and move it away; the second must then succeed or
  // have lost the race to another opener, which is then the live holder.
  for (let round = 0; round < 2; round++) {
    if (tryCreate(path, me)) return register(path, me);
    const holder = readLock(path);
    if (holder === undefined) continue; // vanished between our create and read: try again
    if (holder !== "unreadable" && !isAlive(holder)) {
      reclaimStale(path, holder);
      continue;
    }
    throw lockedError(dataDir, path, holder);
  }
  const holder = readLock(path);
  throw lockedError(dataDir, path, holder ?? "unreadable");
}

function register(path: string, me: LockContent): DataDirLock {
  let released = false;
  const lock: DataDirLock = {
    path,
    release() {
      if (released) return;
      released = true;
      held.delete(lock);
      const now = readLock(path);
      if (now !== undefined && now !== "unreadable" && now.token === me.token) {
        try {
          unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      }
    },
  };
  held.add(lock);
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const l of [...held]) l.release();
    });
  }
  return lock;
}

function tryCreate(path: string, me: LockContent): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new StoreError(
      "unavailable",
      `cannot create the data folder lock ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      { cause: err, retryable: false },
    );
  }
  try {
    writeSync(fd, `${me.pid} ${me.host} ${me.token}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The lock's content; undefined when the file is gone; "unreadable" when it is not a lock we wrote. */
function readLock(path: string): LockContent | "unreadable" | undefined {
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_LOCK_BYTES) return "unreadable";
    text = buf.toString("utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return "unreadable";
  }
  // A creator that has not written yet leaves an empty file for a moment: treat it as held.
  const m = /^([1-9][0-9]{0,9}) (\S{1,255}) (\S{1,64})\n$/.exec(text);
  if (m === null) return "unreadable";
  return { pid: Number(m[1]), host: m[2] as string, token: m[3] as string };
}

/**
 * Whether the holder may still be running. A lock from another host (a folder on a shared disk) cannot be
 * checked from here, so it counts as alive.
 */
function isAlive(holder: LockContent): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Moves a stale lock away. rename() is atomic, so of several reclaimers only one moves a given file; if
 * what it moved turns out to be a fresh lock another reclaimer created meanwhile, it is put back (link()
 * fails rather than overwrite a newer one).
 */
function reclaimStale(path: string, stale: LockContent): void {
  const aside = `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else moved or removed it
  }
  const moved = readLock(aside);
  if (moved !== undefined && moved !== "unreadable" && moved.token !== stale.token) {
    try {
      linkSync(aside, path);
    } catch {
      // A newer lock exists already; the one we moved lost its race anyway.
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // Best effort.
  }
}

function lockedError(dataDir: string, path: string, holder: LockContent | "unreadable"): StoreError {
  const who =
    holder === "unreadable"
      ? "a lock file this version cannot read"
      : holder.pid === process.pid && holder.host === hostname()
        ? `this process (pid ${holder.pid}) through another open store`
        : `pid ${holder.pid}${holder.host === hostname() ? "" : ` on ${holder.host}`}`;
  return new StoreError(
    "locked",
    `embedded database ${resolve(dataDir)} is in use by ${who}; one process owns a data folder ` +
      `(stop it, or go through it). If no such process runs, remove ${path}`,
    { retryable: true },
  );
}
