/**
 * The membership history an auditor reads from the log itself (issue 8; DESIGN.md "Privacy and trust"):
 * every membership record up to a hub-signed checkpoint, so a bundle cannot choose which history the
 * auditor sees (leaving out a revocation or a suspension). The scan reads entries [0, size) in bounded
 * pages (Hub.GetLogEntries), with every hub key statement (hub-key-history.ts), and recomputes the RFC 6962 root over ALL of them: equal to the checkpoint's
 * root, it proves every entry, and so that no membership record was left out. O(size) reads and hashes;
 * no log index is trusted. Everything the hub sends is attacker-controlled.
 */
import type { ChannelCredentials } from "@grpc/grpc-js";
import { Hub, LogEntryKind } from "@lineage/api";
import { CompactRange, hashLeaf, toHex } from "@lineage/crypto";
import { createClient, RpcError } from "@lineage/rpc";
import { AuditError } from "./audit-error.js";
import { type AuditedLeaf, decodeAuditedLeaf } from "./log-records.js";

/** Entries per GetLogEntries call (the hub allows up to 10000; pages stay well under 1 GiB at 1 MiB each). */
export const HISTORY_PAGE_ENTRIES = 500;
/** Largest log the scan reads. */
export const MAX_HISTORY_ENTRIES = 50_000_000;
/** Most membership records kept. */
export const MAX_HISTORY_RECORDS = 1_000_000;

/** One entry as served. */
export interface ServedEntry {
  readonly index: number;
  readonly leaf: Uint8Array;
}

/** Where the scan reads entries from (a hub, or a test double over real leaves). */
export interface LogEntrySource {
  /** Entries [start, end), in order. */
  entries(start: number, end: number): Promise<readonly ServedEntry[]>;
}

/** A membership record read from the log. */
export interface MemberHistoryRecord {
  readonly index: number;
  readonly leaf: AuditedLeaf;
  /** The encoded leaf as hashed. */
  readonly leafBytes: Uint8Array;
}

/** Every membership record of a log of `treeSize` entries whose root is `rootHash`. */
export interface MemberHistory {
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  readonly records: readonly MemberHistoryRecord[];
  /** Every hub key statement (LOG_ENTRY_KIND_HUB_KEY) of the log up to `treeSize`, in log order. */
  readonly hubKeys: readonly MemberHistoryRecord[];
  /** Every epoch statement and sketch suppression (kinds 9, 10) in log order: check with epoch-records.ts. */
  readonly epochEntries: readonly MemberHistoryRecord[];
}

/**
 * Reads every entry of the tree `checkpoint` (a hub-signed checkpoint the caller already opened, e.g.
 * the bundle's) and keeps the membership records. Fails with `bad_proof` when the entries do not hash
 * to the checkpoint's root, `malformed` when the hub sends other indexes or undecodable leaves,
 * `too_large` beyond the bounds, `unavailable` when the hub cannot be read.
 */
export async function readMemberHistory(
  source: LogEntrySource,
  checkpoint: { readonly size: number; readonly rootHash: Uint8Array },
  pageEntries = HISTORY_PAGE_ENTRIES,
): Promise<MemberHistory> {
  const size = checkpoint.size;
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_HISTORY_ENTRIES) {
    throw new AuditError("too_large", `the log of ${size} entries is beyond the scan's bound`);
  }
  if (!Number.isSafeInteger(pageEntries) || pageEntries < 1 || pageEntries > 10_000) {
    throw new AuditError("invalid_argument", "pageEntries must be an integer in [1, 10000]");
  }
  let range = CompactRange.empty();
  const records: MemberHistoryRecord[] = [];
  const hubKeys: MemberHistoryRecord[] = [];
  const epochEntries: MemberHistoryRecord[] = [];
  for (let start = 0; start < size; start += pageEntries) {
    const end = Math.min(size, start + pageEntries);
    const page = await source.entries(start, end);
    if (page.length !== end - start) {
      throw new AuditError("malformed", `the hub sent ${page.length} entries for [${start}, ${end})`);
    }
    const hashes: Uint8Array[] = [];
    for (const [i, e] of page.entries()) {
      if (e.index !== start + i)
        throw new AuditError("malformed", `the hub sent entry ${e.index} out of order`);
      hashes.push(hashLeaf(e.leaf));
      const leaf = decodeAuditedLeaf(e.leaf, `log entry ${e.index}`);
      if (leaf.kind === LogEntryKind.MEMBERSHIP) {
        if (records.length >= MAX_HISTORY_RECORDS)
          throw new AuditError("too_large", "more membership records than the scan keeps");
        records.push({ index: e.index, leaf, leafBytes: e.leaf });
      } else if (leaf.kind === LogEntryKind.HUB_KEY) {
        if (hubKeys.length >= MAX_HISTORY_RECORDS)
          throw new AuditError("too_large", "more hub key statements than the scan keeps");
        hubKeys.push({ index: e.index, leaf, leafBytes: e.leaf });
      } else if (leaf.kind === LogEntryKind.EPOCH || leaf.kind === LogEntryKind.SKETCH_SUPPRESSION) {
        if (epochEntries.length >= MAX_HISTORY_RECORDS)
          throw new AuditError("too_large", "more epoch and suppression entries than the scan keeps");
        epochEntries.push({ index: e.index, leaf, leafBytes: e.leaf });
      }
    }
    range = range.append(hashes).range;
  }
  if (toHex(range.root()) !== toHex(checkpoint.rootHash)) {
    throw new AuditError(
      "bad_proof",
      `the log's entries [0, ${size}) do not hash to the checkpoint's root: the hub served another history`,
    );
  }
  return { treeSize: size, rootHash: checkpoint.rootHash, records, hubKeys, epochEntries };
}

/** A {@link LogEntrySource} over a hub's gRPC API (GetLogEntries). Close it when done. */
export function hubEntrySource(
  address: string,
  credentials: ChannelCredentials,
  timeoutMs = 10_000,
): LogEntrySource & Disposable {
  const client = createClient(Hub, address, credentials, { defaultTimeoutMs: timeoutMs });
  return {
    async entries(start, end) {
      const out: ServedEntry[] = [];
      try {
        for await (const r of client.getLogEntries({ start: BigInt(start), end: BigInt(end) })) {
          if (r.entry === undefined) throw new AuditError("malformed", "the hub sent an empty entry");
          if (out.length >= end - start) throw new AuditError("malformed", "the hub sent too many entries");
          out.push({ index: Number(r.entry.index), leaf: r.entry.leaf });
        }
      } catch (err) {
        if (err instanceof AuditError) throw err;
        const code = err instanceof RpcError ? err.code : "internal";
        throw new AuditError(
          "unavailable",
          `GetLogEntries [${start}, ${end}): ${code}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      return out;
    },
    [Symbol.dispose]: () => client.close(),
  };
}
