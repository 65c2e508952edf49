/**
 * Start-up re-verification of the stored log (issue 8: "on start, the hub re-verifies the stored tree
 * against the latest signed checkpoint and refuses to serve a log that does not match").
 *
 * The append-only triggers and the service role's privileges (deploy/postgres) stop the hub's own code
 * and its database role from rewriting history; they do not stop a superuser, a restored backup or a
 * hand-edited PGlite folder. Before it serves or signs anything, the hub therefore recomputes the whole
 * tree from the stored LEAVES — not from the stored node hashes, which a careful forger rewrites too —
 * and checks, in one pass in index order:
 *
 * - the entries are dense (0..size-1) and every stored `leaf_hash` is SHA-256(0x00 || leaf) (RFC 9162);
 * - every stored perfect-subtree node equals the one recomputed from the leaves, and no other node is
 *   stored (proofs are served from these nodes);
 * - every stored checkpoint is a C2SP signed note of THIS log's origin, signed by THIS hub's root valid at its
 *   size (the trust root, or the key the last ROTATE_ROOT below that size named: the chain of root rotations
 *   is followed from the trust root, each rotation signed by the root before it and by the key it names), whose
 *   size and root are the row's and equal the root recomputed from the stored leaves at that size, and
 *   whose `lineage-previous-size` extension names the checkpoint stored just before it. Checkpoints that
 *   are all roots of prefixes of one leaf sequence are consistent with one another by construction, so
 *   this is the "each checkpoint consistent with the next" check, without needing proofs.
 *
 * Failures: `invalid_argument` when the stored checkpoints are of another origin (a wrong `--origin`),
 * `unknown_key` when they carry no signature by this hub's key (a wrong `--key`), `log_corrupt` for any
 * disagreement between rows, leaves, nodes and signatures, `unavailable` when the tables cannot be read.
 * Test: services/hub/test/log-integrity.test.ts (tampering as a superuser, then reopening).
 *
 * What it cannot see: a log cut back to an earlier self-consistent prefix (rows deleted from the end,
 * with their checkpoints). Only someone who kept a later checkpoint can: auditors and witnesses.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { HubKeyAction, HubKeyStatementSchema, LogEntryKind } from "@lineage/api";
import {
  CompactRange,
  Ed25519PublicKey,
  ed25519NoteVerifier,
  hashLeaf,
  isCryptoError,
  KeyRing,
  type MerkleNode,
  openCheckpoint,
  toHex,
  verifyEnvelope,
} from "@lineage/crypto";
import type { HubDatabase, LogCheckpointRow } from "@lineage/store";
import { type Kysely, sql } from "kysely";
import { isLogError, LogError } from "./log-error.js";
import { decodeLeaf, LOG_DSSE_LIMITS } from "./log-leaf.js";
import { readEntries, type StoredEntry } from "./log-store.js";

/**
 * Extension line of every checkpoint the hub signs: `lineage-previous-size <n>`, the tree size of
 * the checkpoint signed just before (0 for the first). It makes "the first checkpoint covering
 * leaf i" a signed fact (previous size <= i < tree size), which disclosure seeds rely on. Defined here,
 * where start-up verification checks it, and re-exported by transparency-log.ts, which writes it.
 */
export const PREVIOUS_SIZE_EXTENSION = "lineage-previous-size";

/** Leaves read per page (each page also reads the nodes it completes). */
const DEFAULT_PAGE = 1000;

/**
 * Where an incremental verification starts (another process appended to a shared Postgres log): the
 * compact range of the entries already verified and the size of the latest checkpoint already verified.
 */
export interface VerifyFrom {
  readonly range: CompactRange;
  /** Tree size of the latest verified checkpoint; -1 when none was signed yet. */
  readonly checkpointSize: number;
  /** The root key after every rotation verified so far (default: the trust root). */
  readonly rootKey?: Ed25519PublicKey;
}

/** Options of {@link verifyStoredLog}. */
export interface LogIntegrityOptions {
  /** The log's origin, as the hub is started with. */
  readonly origin: string;
  /** Note key name of the checkpoint signatures (the hub's `keyName`, default the origin). */
  readonly keyName: string;
  /**
   * The log's trust root (its first root key, the auditors' `--log-key`): checkpoints are signed by it until
   * a logged ROTATE_ROOT names the next root, followed from here.
   */
  readonly hubPublicKey: Ed25519PublicKey;
  /** Leaves per read (tests use small pages to cross page boundaries). Default 1000. */
  readonly pageSize?: number;
  /**
   * Verify only what was stored after this point (entries from `from.range.size`, checkpoints above
   * `from.checkpointSize`), chaining on from it. Used before each write batch and on reads that find the
   * stored tree grown (transparency-log.ts): the same checks as at start-up, on the new part only.
   */
  readonly from?: VerifyFrom;
  /**
   * Called with every entry verified, in index order, once its leaf hash checked (start-up replays the
   * admission state from these, so the log is read once). A throw aborts the verification.
   */
  readonly onEntry?: (entry: StoredEntry) => void;
}

/** What a successful verification covered. */
export interface VerifiedLog {
  /** Entries stored and re-hashed (with `from`: the whole size, not only the new part). */
  readonly size: number;
  /** Signed checkpoints verified (with `from`: the new ones). */
  readonly checkpoints: number;
  /** Root of the whole stored tree (the latest checkpoint's when it covers every entry). */
  readonly root: Uint8Array;
  /** Compact range of the whole verified tree (what the writer appends to). */
  readonly range: CompactRange;
  /** The latest stored checkpoint verified (with `from`: only if a new one was). */
  readonly latest: LogCheckpointRow | undefined;
  /** The root key after every rotation in the verified tree: the key that signs its next checkpoint. */
  readonly rootKey: Ed25519PublicKey;
  /** Index of the last root rotation verified (-1: none; with `from`, none in the new part). */
  readonly rotatedAt: number;
}

/** The stored tree's size and its latest checkpoint's size (-1: none), read in one statement. */
export interface StoredHead {
  readonly size: number;
  readonly checkpointSize: number;
}

function corrupt(message: string, cause?: unknown): LogError {
  return new LogError("log_corrupt", `stored log does not verify: ${message}`, {
    retryable: false,
    ...(cause === undefined ? {} : { cause }),
  });
}

async function read<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    if (cause instanceof LogError) throw cause;
    throw new LogError("unavailable", `cannot read ${what} (is the hub store migrated?)`, { cause });
  }
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

/**
 * The stored size and latest checkpoint size, from one statement (one snapshot: a checkpoint is committed
 * with or after the entries it covers, so checkpointSize <= size unless the tables were tampered with).
 * Two index lookups: cheap enough to run before every write batch and on reads.
 */
export async function storedHead(db: Kysely<HubDatabase>): Promise<StoredHead> {
  const r = await read("the log tables", () =>
    sql<{ max: string | null; cp: string | null }>`
      select (select max(idx) from log_entries)::text as max,
             (select max(tree_size) from log_checkpoints)::text as cp`.execute(db),
  );
  const row = r.rows[0];
  return {
    size: row?.max === null || row?.max === undefined ? 0 : Number(row.max) + 1,
    checkpointSize: row?.cp === null || row?.cp === undefined ? -1 : Number(row.cp),
  };
}

/**
 * Re-verifies everything stored (or, with `from`, everything stored since) against the hub's own signed
 * checkpoints; see the module comment for the checks and the error codes. Reads every leaf once (O(n)
 * hashing; measured by the test). Entries and checkpoints are bounded by the sizes read first in one
 * snapshot, so rows committed meanwhile by another writer are left for the next call.
 */
export async function verifyStoredLog(
  db: Kysely<HubDatabase>,
  options: LogIntegrityOptions,
): Promise<VerifiedLog> {
  const page = options.pageSize ?? DEFAULT_PAGE;
  const from = options.from;
  let root = from?.rootKey ?? options.hubPublicKey;
  let verifier = ed25519NoteVerifier(options.keyName, root);
  let rotatedAt = -1;
  // A root rotation at index r (docs/specs/hub-keys.md): signed by the root valid there and by the key it
  // names; checkpoints of sizes > r are the new root's only. Stored leaves are attacker-controlled here.
  const followRotation = (index: number, leafBytes: Uint8Array) => {
    const leaf = decodeLeaf(leafBytes);
    const st = fromBinary(HubKeyStatementSchema, leaf.envelope.payload);
    if (st.action !== HubKeyAction.ROTATE_ROOT) return;
    let next: Ed25519PublicKey;
    try {
      next = Ed25519PublicKey.fromRaw(st.publicKey);
      verifyEnvelope(leaf.envelope, {
        keys: new KeyRing([root, next]),
        requiredKeyIds: [root.keyId, next.keyId],
        limits: LOG_DSSE_LIMITS,
      });
    } catch (err) {
      throw corrupt(
        `entry ${index}: a root rotation not signed by the root before it and the key it names`,
        err,
      );
    }
    if (st.rootKeyId !== root.keyId || st.keyId !== next.keyId)
      throw corrupt(`entry ${index}: a root rotation whose key ids are not its keys'`);
    root = next;
    verifier = ed25519NoteVerifier(options.keyName, root);
    rotatedAt = index;
  };
  let size: number;
  let maxCheckpoint: number;
  let storedNodes = -1;
  if (from === undefined) {
    const counts = await read("the log tables", async () => {
      const r = await sql<{ n: string; max: string | null; nodes: string; cp: string | null }>`
        select (select count(*) from log_entries)::text as n, (select max(idx) from log_entries)::text as max,
               (select count(*) from log_nodes)::text as nodes,
               (select max(tree_size) from log_checkpoints)::text as cp`.execute(db);
      return r.rows[0];
    });
    size = counts?.max === null || counts?.max === undefined ? 0 : Number(counts.max) + 1;
    if (Number(counts?.n ?? 0) !== size) {
      throw corrupt(`entries are not dense: ${counts?.n} rows for indices 0..${size - 1}`);
    }
    storedNodes = Number(counts?.nodes ?? 0);
    maxCheckpoint = counts?.cp === null || counts?.cp === undefined ? -1 : Number(counts.cp);
  } else {
    const head = await storedHead(db);
    size = head.size;
    maxCheckpoint = head.checkpointSize;
    if (size < from.range.size || maxCheckpoint < from.checkpointSize) {
      throw corrupt(
        `the stored log (size ${size}, checkpoint ${maxCheckpoint}) is behind what this hub verified` +
          ` (size ${from.range.size}, checkpoint ${from.checkpointSize}): entries were deleted`,
      );
    }
  }
  if (maxCheckpoint > size) {
    throw corrupt(`a checkpoint of size ${maxCheckpoint} is beyond the ${size} stored entries`);
  }

  let range = from?.range ?? CompactRange.empty();
  let nodesSeen = 0;
  let checkpointsSeen = 0;
  let previousSize = Math.max(from?.checkpointSize ?? 0, 0);
  let firstCheckpoint = from === undefined;
  let afterSize = from?.checkpointSize ?? -1;
  let latest: LogCheckpointRow | undefined;
  // The next stored checkpoint (by size), read one page of checkpoints at a time.
  let cpPage: LogCheckpointRow[] = [];
  const nextCheckpoint = async (): Promise<LogCheckpointRow | undefined> => {
    if (cpPage.length === 0 && afterSize < maxCheckpoint) {
      cpPage = await read("log_checkpoints", () =>
        db
          .selectFrom("log_checkpoints")
          .selectAll()
          .where("tree_size", ">", BigInt(afterSize))
          .where("tree_size", "<=", BigInt(maxCheckpoint))
          .orderBy("tree_size")
          .limit(page)
          .execute(),
      );
    }
    const row = cpPage.shift();
    if (row !== undefined) afterSize = Number(row.tree_size);
    return row;
  };

  const checkCheckpoint = (row: LogCheckpointRow) => {
    const treeSize = Number(row.tree_size);
    const firstLine = row.signed_note.slice(0, row.signed_note.indexOf("\n"));
    if (firstLine !== options.origin) {
      throw new LogError(
        "invalid_argument",
        `the stored log's checkpoints are for origin "${firstLine.slice(0, 256)}", not "${options.origin}"`,
      );
    }
    let opened: ReturnType<typeof openCheckpoint>;
    try {
      opened = openCheckpoint(row.signed_note, { log: verifier, origin: options.origin });
    } catch (err) {
      if (isCryptoError(err, "unknown_key") && firstCheckpoint) {
        throw new LogError(
          "unknown_key",
          `the stored log's checkpoints are not signed by this hub's root key (${options.keyName}+${verifier.keyId
            .toString(16)
            .padStart(8, "0")}): wrong key file?`,
          { cause: err },
        );
      }
      throw corrupt(`checkpoint of size ${treeSize} does not open under the hub key`, err);
    }
    const cp = opened.checkpoint;
    if (cp.size !== treeSize || !same(cp.rootHash, row.root_hash)) {
      throw corrupt(`checkpoint row of size ${treeSize} disagrees with its signed note`);
    }
    const ext = (cp.extensions ?? []).filter((e) => e.startsWith(`${PREVIOUS_SIZE_EXTENSION} `));
    if (ext.length !== 1 || ext[0] !== `${PREVIOUS_SIZE_EXTENSION} ${previousSize}`) {
      throw corrupt(
        `checkpoint of size ${treeSize} does not follow the stored checkpoint of size ${previousSize}` +
          " (a checkpoint is missing or was added)",
      );
    }
    if (!same(range.root(), cp.rootHash)) {
      throw corrupt(`the stored leaves do not hash to the signed root of size ${treeSize}`);
    }
    previousSize = treeSize;
    firstCheckpoint = false;
    checkpointsSeen++;
    latest = row;
  };

  let cp = await nextCheckpoint();
  // Checkpoints of the tree verified so far (the empty tree at start-up) come before any new leaf.
  while (cp !== undefined && Number(cp.tree_size) === range.size) {
    checkCheckpoint(cp);
    cp = await nextCheckpoint();
  }
  if (cp !== undefined && Number(cp.tree_size) < range.size) {
    throw corrupt(`a checkpoint of size ${cp.tree_size} was added below the verified size ${range.size}`);
  }
  // One read of a page of entries and one of the tree nodes they complete, then the checks below segment by
  // segment (a segment ends at each stored checkpoint, which is checked against the root there). A live hub
  // signs a checkpoint every second it appends, so reading per segment made a restart's cost one round
  // trip per checkpoint (bench:startup).
  while (range.size < size) {
    const pageStart = range.size;
    const pageStop = Math.min(pageStart + page, size);
    const pageRows = await read("log_entries", () => readEntries(db, pageStart, pageStop));
    if (pageRows.length !== pageStop - pageStart)
      throw corrupt(`entries ${pageStart}..${pageStop - 1} are not all stored`);
    const pageNodes = await readNodes(db, pageStart, pageStop);
    while (range.size < pageStop) {
      const stop = Math.min(pageStop, cp === undefined ? pageStop : Number(cp.tree_size));
      const rows = pageRows.slice(range.size - pageStart, stop - pageStart);
      const hashes: Uint8Array[] = [];
      for (const [i, r] of rows.entries()) {
        const index = range.size + i;
        if (r.index !== index) throw corrupt(`entry ${index} is missing`);
        const h = hashLeaf(r.leaf);
        if (!same(h, r.leafHash)) throw corrupt(`entry ${index}: leaf_hash is not the hash of its leaf`);
        hashes.push(h);
        if (r.kind === LogEntryKind.HUB_KEY) {
          try {
            followRotation(index, r.leaf);
          } catch (err) {
            if (isLogError(err, "log_corrupt")) throw err;
            throw corrupt(`entry ${index}: a hub key statement that does not decode`, err);
          }
        }
      }
      const appended = range.append(hashes);
      checkNodes(pageNodes, appended.newNodes);
      nodesSeen += appended.newNodes.length;
      range = appended.range;
      if (options.onEntry !== undefined) {
        for (const r of rows) {
          try {
            options.onEntry(r);
          } catch (err) {
            if (isLogError(err, "log_corrupt")) throw err;
            throw corrupt(`entry ${r.index} cannot be replayed: ${(err as Error).message}`, err);
          }
        }
      }
      while (cp !== undefined && Number(cp.tree_size) === range.size) {
        checkCheckpoint(cp);
        cp = await nextCheckpoint();
      }
    }
  }
  if (cp !== undefined) {
    throw corrupt(`a checkpoint of size ${cp.tree_size} is beyond the ${size} stored entries`);
  }
  if (storedNodes >= 0 && storedNodes !== nodesSeen) {
    throw corrupt(`${storedNodes} tree nodes are stored where the leaves make ${nodesSeen}`);
  }
  return { size, checkpoints: checkpointsSeen, root: range.root(), range, latest, rootKey: root, rotatedAt };
}

/**
 * The stored tree nodes that appending leaves `start..stop-1` completes: per level, the contiguous run of
 * indices of the subtrees ending in that range (level 0: the leaves), read with one range per level (an IN
 * list of thousands of tuples overflows PGlite's small stack). Keyed `level/index`.
 */
async function readNodes(
  db: Kysely<HubDatabase>,
  start: number,
  stop: number,
): Promise<Map<string, Uint8Array>> {
  const runs: { level: number; lo: number; hi: number }[] = [];
  for (let level = 0, width = 1; Math.floor(stop / width) - 1 >= Math.floor(start / width); level++) {
    runs.push({ level, lo: Math.floor(start / width), hi: Math.floor(stop / width) - 1 });
    width *= 2;
  }
  if (runs.length === 0) return new Map();
  const rows = await read("log_nodes", () =>
    db
      .selectFrom("log_nodes")
      .select(["level", "idx", "hash"])
      .where((eb) =>
        eb.or(
          runs.map((r) =>
            eb.and([eb("level", "=", r.level), eb("idx", ">=", BigInt(r.lo)), eb("idx", "<=", BigInt(r.hi))]),
          ),
        ),
      )
      .execute(),
  );
  return new Map(rows.map((r) => [`${r.level}/${r.idx}`, r.hash]));
}

/** Every recomputed node must be stored with the same hash (`stored`: from {@link readNodes}). */
function checkNodes(stored: ReadonlyMap<string, Uint8Array>, nodes: readonly MerkleNode[]): void {
  for (const n of nodes) {
    const h = stored.get(`${n.level}/${n.index}`);
    if (h === undefined) throw corrupt(`tree node (${n.level}, ${n.index}) is missing`);
    if (!same(h, n.hash)) {
      throw corrupt(
        `tree node (${n.level}, ${n.index}) is ${toHex(h).slice(0, 16)}…, the leaves give another`,
      );
    }
  }
}
