/**
 * SQL of the transparency log over `@lineage/store` (Postgres or PGlite, same code): batched
 * inserts of leaves and subtree nodes, batch node reads for proofs, range reads of entries.
 * Tables: libs/store/src/migrations/hub/0002-transparency-log.ts.
 */
import type { MerkleNode, MerkleNodeId } from "@lineage/crypto";
import type { HubDatabase, LogCheckpointRow } from "@lineage/store";
import { type Kysely, sql } from "kysely";
import { LogError } from "./log-error.js";

/** Rows per INSERT statement, and leaf bytes per statement (bounds one message to the server). */
const ROWS_PER_STATEMENT = 5000;
const BYTES_PER_STATEMENT = 16 << 20;

/** A batch of new leaves in columns, dense from `firstIndex`, all integrated at `integratedAtMs`. */
export interface LeafColumns {
  readonly firstIndex: number;
  readonly integratedAtMs: number;
  readonly kinds: readonly number[];
  readonly leaves: readonly Uint8Array[];
  readonly leafHashes: readonly Uint8Array[];
  readonly memberIds: readonly (string | null)[];
  readonly keyIds: readonly (string | null)[];
  readonly sessionIds: readonly (string | null)[];
  readonly refIndexes: readonly (number | null)[];
}

function concat(parts: readonly Uint8Array[], from: number, to: number): Uint8Array {
  let len = 0;
  for (let i = from; i < to; i++) len += (parts[i] as Uint8Array).length;
  const out = Buffer.allocUnsafe(len);
  let o = 0;
  for (let i = from; i < to; i++) {
    const p = parts[i] as Uint8Array;
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Inserts leaves and nodes (and a checkpoint) with `db`, which should be a transaction. Rows go in
 * columns — one `unnest` over arrays and one concatenated bytea per statement, sliced server-side —
 * instead of a VALUES list with nine parameters per row: the per-row cost of building, compiling
 * and serialising the statement was a large share of an append's CPU (bench/log.ts).
 */
export async function insertBatch(
  db: Kysely<HubDatabase>,
  entries: LeafColumns,
  nodes: readonly MerkleNode[],
  checkpoint: { treeSize: number; rootHash: Uint8Array; note: string } | undefined,
): Promise<void> {
  const at = new Date(entries.integratedAtMs);
  const n = entries.leaves.length;
  for (let from = 0; from < n; ) {
    let to = from;
    let bytes = 0;
    while (to < n && to - from < ROWS_PER_STATEMENT && (to === from || bytes < BYTES_PER_STATEMENT)) {
      bytes += (entries.leaves[to] as Uint8Array).length;
      to++;
    }
    const offsets: number[] = [];
    let off = 0;
    for (let i = from; i < to; i++) {
      offsets.push(off);
      off += (entries.leaves[i] as Uint8Array).length;
    }
    const lens = entries.leaves.slice(from, to).map((l) => l.length);
    await sql`
      insert into log_entries (idx, kind, leaf, leaf_hash, integrated_at, member_id, key_id, session_id, ref_idx)
      select ${entries.firstIndex + from}::bigint + t.i - 1, t.kind,
             substring(${concat(entries.leaves, from, to)}::bytea from t.off + 1 for t.len),
             substring(${concat(entries.leafHashes, from, to)}::bytea from (t.i - 1)::int * 32 + 1 for 32),
             ${at}::timestamptz, t.member_id, t.key_id, t.session_id, t.ref_idx
      from unnest(${entries.kinds.slice(from, to)}::smallint[], ${offsets}::int[], ${lens}::int[],
                  ${entries.memberIds.slice(from, to)}::text[], ${entries.keyIds.slice(from, to)}::text[],
                  ${entries.sessionIds.slice(from, to)}::text[], ${entries.refIndexes.slice(from, to)}::bigint[])
           with ordinality as t(kind, off, len, member_id, key_id, session_id, ref_idx, i)`.execute(db);
    from = to;
  }
  for (let from = 0; from < nodes.length; from += ROWS_PER_STATEMENT) {
    const part = nodes.slice(from, from + ROWS_PER_STATEMENT);
    await sql`
      insert into log_nodes (level, idx, hash)
      select t.level, t.idx, substring(${concat(
        part.map((p) => p.hash),
        0,
        part.length,
      )}::bytea from (t.i - 1)::int * 32 + 1 for 32)
      from unnest(${part.map((p) => p.level)}::smallint[], ${part.map((p) => p.index)}::bigint[])
           with ordinality as t(level, idx, i)`.execute(db);
  }
  if (checkpoint !== undefined) {
    await db
      .insertInto("log_checkpoints")
      .values({
        tree_size: BigInt(checkpoint.treeSize),
        root_hash: checkpoint.rootHash,
        signed_note: checkpoint.note,
      })
      .execute();
  }
}

/** Node hashes in the order asked; `internal` if one is missing (the tree is broken). */
export async function fetchNodes(
  db: Kysely<HubDatabase>,
  ids: readonly MerkleNodeId[],
): Promise<Uint8Array[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom("log_nodes")
    .select(["level", "idx", "hash"])
    .where(
      sql<boolean>`(level, idx) in (${sql.join(ids.map((id) => sql`(${id.level}::smallint, ${BigInt(id.index)}::bigint)`))})`,
    )
    .execute();
  const byId = new Map(rows.map((r) => [`${r.level}/${r.idx}`, r.hash]));
  return ids.map((id) => {
    const h = byId.get(`${id.level}/${id.index}`);
    if (h === undefined) throw new LogError("internal", `log node (${id.level}, ${id.index}) is missing`);
    return h;
  });
}

/** Number of leaves stored (0 for an empty log). */
export async function storedSize(db: Kysely<HubDatabase>): Promise<number> {
  const row = await db
    .selectFrom("log_entries")
    .select((eb) => eb.fn.max("idx").as("max"))
    .executeTakeFirst();
  const max = row?.max;
  return max === null || max === undefined ? 0 : Number(max) + 1;
}

/** The checkpoint with the largest tree size, if any. */
export async function latestCheckpointRow(db: Kysely<HubDatabase>): Promise<LogCheckpointRow | undefined> {
  return db
    .selectFrom("log_checkpoints")
    .selectAll()
    .orderBy("tree_size", "desc")
    .limit(1)
    .executeTakeFirst();
}

/** One stored entry. */
export interface StoredEntry {
  readonly index: number;
  readonly kind: number;
  readonly leaf: Uint8Array;
  readonly leafHash: Uint8Array;
  readonly keyId: string | null;
  readonly memberId: string | null;
  readonly refIndex: number | null;
}

function toStored(r: {
  idx: bigint;
  kind: number;
  leaf: Uint8Array;
  leaf_hash: Uint8Array;
  key_id: string | null;
  member_id: string | null;
  ref_idx: bigint | null;
}): StoredEntry {
  return {
    index: Number(r.idx),
    kind: r.kind,
    leaf: r.leaf,
    leafHash: r.leaf_hash,
    keyId: r.key_id,
    memberId: r.member_id,
    refIndex: r.ref_idx === null ? null : Number(r.ref_idx),
  };
}

const ENTRY_COLUMNS = ["idx", "kind", "leaf", "leaf_hash", "key_id", "member_id", "ref_idx"] as const;

/** Entries [start, end) in index order. */
export async function readEntries(
  db: Kysely<HubDatabase>,
  start: number,
  end: number,
): Promise<StoredEntry[]> {
  const rows = await db
    .selectFrom("log_entries")
    .select(ENTRY_COLUMNS)
    .where("idx", ">=", BigInt(start))
    .where("idx", "<", BigInt(end))
    .orderBy("idx")
    .execute();
  return rows.map(toStored);
}

/** One entry, or undefined. */
export async function readEntry(db: Kysely<HubDatabase>, index: number): Promise<StoredEntry | undefined> {
  const r = await db
    .selectFrom("log_entries")
    .select(ENTRY_COLUMNS)
    .where("idx", "=", BigInt(index))
    .executeTakeFirst();
  return r === undefined ? undefined : toStored(r);
}

/** Entries of one kind with index >= `after`, in index order, at most `limit`. */
export async function readEntriesOfKind(
  db: Kysely<HubDatabase>,
  kind: number,
  after: number,
  limit: number,
): Promise<StoredEntry[]> {
  const rows = await db
    .selectFrom("log_entries")
    .select(ENTRY_COLUMNS)
    .where("kind", "=", kind)
    .where("idx", ">=", BigInt(after))
    .orderBy("idx")
    .limit(limit)
    .execute();
  return rows.map(toStored);
}

/**
 * Which entries of a kind {@link readEntriesOfKindAbout} selects: those about one key (its membership
 * records), or those written for a member WITHOUT a key id in [from, to) (the hub's SUSPEND / REINSTATE /
 * REMOVE membership decisions, which name no key).
 */
export type EntriesAbout =
  | { readonly keyId: string }
  | { readonly memberId: string; readonly from: number; readonly to: number };

/** Entries of one kind about a key or (keyless) a member, in index order, at most `limit`. */
export async function readEntriesOfKindAbout(
  db: Kysely<HubDatabase>,
  kind: number,
  about: EntriesAbout,
  limit: number,
): Promise<StoredEntry[]> {
  let q = db.selectFrom("log_entries").select(ENTRY_COLUMNS).where("kind", "=", kind);
  q =
    "keyId" in about
      ? q.where("key_id", "=", about.keyId)
      : q
          .where("member_id", "=", about.memberId)
          .where("key_id", "is", null)
          .where("idx", ">=", BigInt(about.from))
          .where("idx", "<", BigInt(about.to));
  const rows = await q.orderBy("idx").limit(limit).execute();
  return rows.map(toStored);
}

/** The attestation logged for a session (the first one), if any. */
export async function attestationIndexOfSession(
  db: Kysely<HubDatabase>,
  kind: number,
  sessionId: string,
): Promise<number | undefined> {
  const r = await db
    .selectFrom("log_entries")
    .select("idx")
    .where("session_id", "=", sessionId)
    .where("kind", "=", kind)
    .orderBy("idx")
    .limit(1)
    .executeTakeFirst();
  return r === undefined ? undefined : Number(r.idx);
}

/** The stored checkpoint of exactly `treeSize`, if the hub signed one. */
export async function checkpointAt(
  db: Kysely<HubDatabase>,
  treeSize: number,
): Promise<LogCheckpointRow | undefined> {
  return db
    .selectFrom("log_checkpoints")
    .selectAll()
    .where("tree_size", "=", BigInt(treeSize))
    .executeTakeFirst();
}

/** The first checkpoint whose tree covers leaf `index` (tree_size > index), if signed yet. */
export async function firstCheckpointCovering(
  db: Kysely<HubDatabase>,
  index: number,
): Promise<LogCheckpointRow | undefined> {
  return db
    .selectFrom("log_checkpoints")
    .selectAll()
    .where("tree_size", ">", BigInt(index))
    .orderBy("tree_size")
    .limit(1)
    .executeTakeFirst();
}

/** The last checkpoint signed before the one of `treeSize` (sizes only grow), if any. */
export async function checkpointBefore(
  db: Kysely<HubDatabase>,
  treeSize: number,
): Promise<LogCheckpointRow | undefined> {
  return db
    .selectFrom("log_checkpoints")
    .selectAll()
    .where("tree_size", "<", BigInt(treeSize))
    .orderBy("tree_size", "desc")
    .limit(1)
    .executeTakeFirst();
}
