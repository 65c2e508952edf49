/**
 * The log's public gRPC methods of the Hub service (proto/lineage/v1/hub_service.proto):
 * GetCheckpoint, GetLogEntries, GetInclusionProof, GetConsistencyProof, GetAttestationBundle,
 * GetFirstCoveringCheckpoint.
 * These are self-verifying reads, so they need no signed header; every request field is
 * attacker-controlled and checked here, with ranges bounded before any database read.
 */
import type { Hub } from "@lineage/api";
import type { ServiceImpl } from "@lineage/rpc";
import { buildAttestationBundle } from "./attestation-bundle.js";
import { LogError } from "./log-error.js";
import { MAX_LEAF_BYTES } from "./log-leaf.js";
import { PeerStreamLimiter, type StreamLimits } from "./stream-limits.js";
import type { TransparencyLog } from "./transparency-log.js";

/** Most entries one GetLogEntries call may ask for (hub_service.proto). */
export const MAX_ENTRIES_PER_CALL = 10_000;

/**
 * Most leaf bytes one database read of GetLogEntries may hold (issue 8: pages of 500 rows of up to 1 MiB
 * each let one anonymous call make the hub hold 500 MiB). Pages are sized by bytes, not rows: a page has
 * as many rows as fit when every leaf is as large as the log allows ({@link MAX_LEAF_BYTES}), so no page
 * can exceed this whatever the entries hold; the stream itself is written with backpressure.
 */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;

/** Rows per database read: the most whose worst-case size fits {@link MAX_PAGE_BYTES}, at most 500. */
export const ENTRY_PAGE_ROWS = Math.max(1, Math.min(500, Math.floor(MAX_PAGE_BYTES / MAX_LEAF_BYTES)));

/** The log's handlers; spread them into the hub's full `ServiceImpl<typeof Hub>`. */
export type LogServiceHandlers = Pick<
  ServiceImpl<typeof Hub>,
  | "getCheckpoint"
  | "getLogEntries"
  | "getInclusionProof"
  | "getConsistencyProof"
  | "getAttestationBundle"
  | "getFirstCoveringCheckpoint"
>;

function toIndex(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new LogError("invalid_argument", `${what} is too large`);
  return Number(value);
}

/** The latest checkpoint, signing one first when the log has never signed any. */
async function latest(log: TransparencyLog) {
  return log.latestCheckpoint ?? (await log.checkpoint());
}

/**
 * Every read first catches up on what other hub processes appended to a shared Postgres log
 * (TransparencyLog.refresh: one cheap statement when nothing changed), so a replica never serves a
 * checkpoint, size or proof older than the stored log.
 */
function fresh(log: TransparencyLog): Promise<void> {
  return log.refresh();
}

/** Options of {@link logServiceHandlers}. */
export interface LogServiceOptions {
  /** Per-client limits of GetLogEntries (stream-limits.ts). */
  readonly streams?: StreamLimits;
}

/** Builds the log's gRPC handlers over `log`. */
export function logServiceHandlers(
  log: TransparencyLog,
  options: LogServiceOptions = {},
): LogServiceHandlers {
  const encoder = new TextEncoder();
  const limiter = new PeerStreamLimiter(options.streams);
  return {
    async getCheckpoint() {
      await fresh(log);
      const cp = await latest(log);
      return { checkpoint: { signedNote: encoder.encode(cp.note) } };
    },

    async *getLogEntries(req, ctx) {
      const start = toIndex(req.start, "start");
      const end = toIndex(req.end, "end");
      if (end <= start) throw new LogError("invalid_argument", "end must be greater than start");
      if (end - start > MAX_ENTRIES_PER_CALL) {
        throw new LogError("invalid_argument", `at most ${MAX_ENTRIES_PER_CALL} entries per call`);
      }
      if (end > log.size) await fresh(log);
      if (end > log.size) throw new LogError("not_found", `end ${end} is beyond the log size ${log.size}`);
      // Taken after the request checks (a refused request holds no slot), released however the stream ends.
      const slot = limiter.acquire(ctx.peer);
      try {
        let rows = ENTRY_PAGE_ROWS;
        let sent = 0;
        for (let from = start; from < end; ) {
          if (ctx.signal.aborted) return;
          const page = await log.entries(from, Math.min(end, from + rows));
          if (page.length === 0) throw new LogError("internal", `no entries read at ${from}`);
          let bytes = 0;
          for (const e of page) bytes += e.leaf.length;
          // Leaves larger than the current bound (written under an older, larger cap) shrink later pages so
          // they still fit; this page was read already, so it is bounded by rows x the older cap.
          if (bytes > MAX_PAGE_BYTES)
            rows = Math.max(1, Math.floor(rows / Math.ceil(bytes / MAX_PAGE_BYTES)));
          from += page.length;
          for (const e of page) {
            sent += e.leaf.length;
            if (sent > limiter.maxBytesPerCall) {
              throw new LogError(
                "too_large",
                `GetLogEntries sends at most ${limiter.maxBytesPerCall} bytes of entries per call;` +
                  ` entries from index ${e.index} on were not sent: ask again with start=${e.index}`,
              );
            }
            yield { entry: { index: BigInt(e.index), leaf: e.leaf } };
          }
        }
      } finally {
        slot.release();
      }
    },

    async getInclusionProof(req) {
      await fresh(log);
      const index = toIndex(req.leafIndex, "leaf_index");
      let size = toIndex(req.treeSize, "tree_size");
      const cp = size === 0 ? await latest(log) : log.latestCheckpoint;
      if (size === 0) size = cp?.treeSize ?? 0;
      if (size > log.size)
        throw new LogError("not_found", `tree_size ${size} is beyond the log size ${log.size}`);
      if (index >= log.size) throw new LogError("not_found", `no entry at leaf_index ${index}`);
      if (index >= size) throw new LogError("invalid_argument", "leaf_index must be below tree_size");
      const hashes = await log.inclusionProof(index, size);
      return {
        proof: { leafIndex: BigInt(index), treeSize: BigInt(size), hashes },
        ...(cp !== undefined && cp.treeSize === size
          ? { checkpoint: { signedNote: encoder.encode(cp.note) } }
          : {}),
      };
    },

    async getConsistencyProof(req) {
      await fresh(log);
      const oldSize = toIndex(req.oldSize, "old_size");
      let newSize = toIndex(req.newSize, "new_size");
      if (oldSize < 1) throw new LogError("invalid_argument", "old_size must be at least 1");
      if (newSize === 0) newSize = (await latest(log)).treeSize;
      if (newSize > log.size)
        throw new LogError("not_found", `new_size ${newSize} is beyond the log size ${log.size}`);
      if (oldSize > newSize) throw new LogError("invalid_argument", "old_size must not exceed new_size");
      const hashes = await log.consistencyProof(oldSize, newSize);
      return { proof: { oldSize: BigInt(oldSize), newSize: BigInt(newSize), hashes } };
    },

    async getAttestationBundle(req) {
      await fresh(log);
      const sel = req.selector;
      if (sel.case === "logIndex") {
        return { bundle: await buildAttestationBundle(log, { logIndex: toIndex(sel.value, "log_index") }) };
      }
      if (sel.case === "sessionId") {
        if (!/^[\x21-\x7e]{1,64}$/.test(sel.value)) {
          throw new LogError("invalid_argument", "session_id must be 1..64 printable characters");
        }
        return { bundle: await buildAttestationBundle(log, { sessionId: sel.value }) };
      }
      throw new LogError("invalid_argument", "set log_index or session_id");
    },

    async getFirstCoveringCheckpoint(req) {
      await fresh(log);
      const index = toIndex(req.leafIndex, "leaf_index");
      if (index >= log.size) throw new LogError("not_found", `no entry at leaf_index ${index}`);
      let refSize = toIndex(req.referenceSize, "reference_size");
      if (refSize === 0) refSize = (await latest(log)).treeSize;
      if (refSize > log.size)
        throw new LogError("not_found", `reference_size ${refSize} is beyond the log size ${log.size}`);
      const first = await log.firstCoveringCheckpoint(index);
      const size = first.checkpoint.treeSize;
      if (refSize < size) {
        throw new LogError(
          "invalid_argument",
          "reference_size must not be below the first covering checkpoint",
        );
      }
      const hashes = refSize === size ? [] : await log.consistencyProof(size, refSize);
      return {
        first: {
          leafIndex: BigInt(index),
          checkpoint: { signedNote: encoder.encode(first.checkpoint.note) },
          ...(first.previous === undefined
            ? {}
            : { previous: { signedNote: encoder.encode(first.previous.note) } }),
          previousConsistency: first.previousConsistency,
        },
        referenceConsistency: { oldSize: BigInt(size), newSize: BigInt(refSize), hashes },
      };
    },
  };
}
