/**
 * GetLogEntries pages its database reads by bytes (issue 8): no read holds more than MAX_PAGE_BYTES of
 * leaves at the current cap, whatever the row count asked for; ranges stay checked before any read.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CallContext } from "@lineage/rpc";
import { isLogError } from "./log-error.js";
import { MAX_LEAF_BYTES } from "./log-leaf.js";
import { ENTRY_PAGE_ROWS, logServiceHandlers, MAX_ENTRIES_PER_CALL, MAX_PAGE_BYTES } from "./log-service.js";
import type { StoredEntry } from "./log-store.js";
import type { TransparencyLog } from "./transparency-log.js";

/** A log of `size` entries whose leaves are `leafBytes(i)` long; records every read. */
function fakeLog(size: number, leafBytes: (i: number) => number) {
  const reads: Array<{ start: number; end: number; bytes: number }> = [];
  const log = {
    size,
    async refresh() {},
    async entries(start: number, end: number): Promise<StoredEntry[]> {
      const out: StoredEntry[] = [];
      for (let i = start; i < end; i++) {
        out.push({
          index: i,
          kind: 1,
          leaf: new Uint8Array(leafBytes(i)),
          leafHash: new Uint8Array(32),
          keyId: null,
          memberId: null,
          refIndex: null,
        });
      }
      reads.push({ start, end, bytes: out.reduce((s, e) => s + e.leaf.length, 0) });
      return out;
    },
  };
  return { log: log as unknown as TransparencyLog, reads };
}

const ctx = { signal: new AbortController().signal, peer: "ipv4:127.0.0.1:5000" } as CallContext;

async function stream(log: TransparencyLog, start: number, end: number): Promise<number[]> {
  const got: number[] = [];
  for await (const r of logServiceHandlers(log, { streams: { maxBytesPerCall: 1 << 30 } }).getLogEntries(
    { start: BigInt(start), end: BigInt(end) } as never,
    ctx,
  )) {
    got.push(Number((r as { entry: { index: bigint } }).entry.index));
  }
  return got;
}

test("every database read of GetLogEntries fits MAX_PAGE_BYTES at the largest leaf the log writes", async () => {
  assert.ok(ENTRY_PAGE_ROWS >= 1 && ENTRY_PAGE_ROWS * MAX_LEAF_BYTES <= MAX_PAGE_BYTES);
  assert.ok(ENTRY_PAGE_ROWS < 500, "rows per read are bounded by bytes, not the old 500-row page");
  const { log, reads } = fakeLog(2000, () => MAX_LEAF_BYTES);
  const got = await stream(log, 0, 1200);
  assert.deepEqual(
    got,
    Array.from({ length: 1200 }, (_, i) => i),
  );
  for (const r of reads)
    assert.ok(r.bytes <= MAX_PAGE_BYTES, `read [${r.start}, ${r.end}) held ${r.bytes} bytes`);
});

test("leaves above the current cap (an older log) shrink later reads back under the page bound", async () => {
  const big = 1 << 20; // the former 1 MiB payload cap
  const { log, reads } = fakeLog(400, () => big);
  const got = await stream(log, 0, 400);
  assert.equal(got.length, 400);
  assert.equal(got[399], 399);
  // The first read is bounded by rows x the old cap; every later one fits the page bound.
  for (const r of reads.slice(1))
    assert.ok(r.bytes <= MAX_PAGE_BYTES, `read [${r.start}, ${r.end}) ${r.bytes}`);
  assert.ok(reads.length > 400 / ENTRY_PAGE_ROWS);
});

test("ranges are checked before any read", async () => {
  const { log, reads } = fakeLog(10, () => 100);
  for (const [s, e, c] of [
    [5, 5, "invalid_argument"],
    [0, MAX_ENTRIES_PER_CALL + 1, "invalid_argument"],
    [0, 11, "not_found"],
  ] as const) {
    await assert.rejects(stream(log, s, e), (err: unknown) => isLogError(err, c));
  }
  assert.equal(reads.length, 0);
});
