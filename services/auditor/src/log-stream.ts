/**
 * Reading a whole log from a hub as a stream (Hub.GetLogEntries, hub_service.proto): entries are handed to the
 * caller one at a time as they arrive, so what the auditor holds is bounded by one leaf (MAX_LEAF_BYTES), never
 * by a page. Calls ask for at most MAX_ENTRIES_PER_CALL entries; the hub sends at most its per-call byte budget
 * (services/hub stream-limits.ts) and then stops with RESOURCE_EXHAUSTED naming where to continue — the reader
 * continues from the entry after the last one received. Everything the hub sends is attacker-controlled: the
 * indexes must be exactly the ones asked for, in order, and no leaf may exceed the bound.
 */
import type { ChannelCredentials } from "@grpc/grpc-js";
import { Hub } from "@lineage/api";
import { createClient, RpcError } from "@lineage/rpc";
import { AuditError } from "./audit-error.js";
import { MAX_LEAF_BYTES } from "./log-records.js";
import type { LogEntrySource, ServedEntry } from "./member-history.js";

/** Most entries one GetLogEntries call asks for (the hub's bound, hub_service.proto). */
export const MAX_ENTRIES_PER_CALL = 10_000;

/** Where a walk reads the log: streamed in order, and single entries read again by index. */
export interface LogEntryStream extends LogEntrySource {
  /** Entries [start, end), in order, as they arrive; throws rather than end early. */
  stream(start: number, end: number): AsyncIterable<ServedEntry>;
}

function unavailable(err: unknown, what: string): AuditError {
  const code = err instanceof RpcError ? err.code : "internal";
  return new AuditError("unavailable", `${what}: ${code}: ${(err as Error).message}`, { cause: err });
}

/** Checks one served entry against the index expected next. */
function served(index: bigint, leaf: Uint8Array, expected: number): ServedEntry {
  if (index !== BigInt(expected))
    throw new AuditError("malformed", `the hub sent entry ${index} where entry ${expected} was due`);
  if (leaf.length > MAX_LEAF_BYTES)
    throw new AuditError("too_large", `the hub sent entry ${expected} larger than ${MAX_LEAF_BYTES} bytes`);
  return { index: expected, leaf };
}

/** A {@link LogEntryStream} over a hub's gRPC API. Close it when done. */
export function hubEntryStream(
  address: string,
  credentials: ChannelCredentials,
  timeoutMs = 30_000,
): LogEntryStream & Disposable {
  const client = createClient(Hub, address, credentials, { defaultTimeoutMs: timeoutMs });
  async function* stream(start: number, end: number): AsyncGenerator<ServedEntry> {
    let next = start;
    while (next < end) {
      const to = Math.min(end, next + MAX_ENTRIES_PER_CALL);
      const from = next;
      try {
        for await (const r of client.getLogEntries({ start: BigInt(from), end: BigInt(to) })) {
          if (r.entry === undefined) throw new AuditError("malformed", "the hub sent an empty entry");
          if (next >= to) throw new AuditError("malformed", "the hub sent more entries than asked for");
          const e = served(r.entry.index, r.entry.leaf, next);
          next++;
          yield e;
        }
      } catch (err) {
        if (err instanceof AuditError) throw err;
        // The hub's per-call byte budget (or the call's deadline) ended a stream that made progress: continue
        // after the last entry received. Without progress it cannot be read (a rate limit, a hub that is down).
        const resumable = err instanceof RpcError && (err.code === "too_large" || err.code === "timeout");
        if (!(resumable && next > from)) throw unavailable(err, `GetLogEntries [${from}, ${to})`);
        continue;
      }
      if (next < to)
        throw new AuditError("malformed", `the hub ended GetLogEntries [${from}, ${to}) at entry ${next}`);
    }
  }
  return {
    stream,
    async entries(start, end) {
      const out: ServedEntry[] = [];
      for await (const e of stream(start, end)) out.push(e);
      return out;
    },
    [Symbol.dispose]: () => client.close(),
  };
}
