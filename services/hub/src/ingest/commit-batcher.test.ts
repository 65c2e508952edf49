/**
 * CommitBatcher: items are committed together (up to maxBatch, or after maxDelayMs), at most maxInFlight
 * commits run at once, each caller gets its own item's outcome, and a failed commit fails exactly the
 * items of that batch.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CommitBatcher } from "./commit-batcher.js";

test("items share commits, each gets its own outcome, in-flight commits are bounded", async () => {
  const batches: number[][] = [];
  let running = 0;
  let peak = 0;
  const b = new CommitBatcher<number, string>(
    async (items) => {
      running++;
      peak = Math.max(peak, running);
      batches.push(items);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return items.map((i) => `done ${i}`);
    },
    { maxBatch: 10, maxDelayMs: 2, maxInFlight: 2 },
  );
  const out = await Promise.all(Array.from({ length: 95 }, (_, i) => b.submit(i)));
  assert.deepEqual(
    out,
    Array.from({ length: 95 }, (_, i) => `done ${i}`),
  );
  assert.ok(batches.every((x) => x.length <= 10));
  assert.equal(batches.flat().length, 95);
  assert.ok(batches.length <= 12, `${batches.length} commits for 95 items`);
  assert.ok(peak <= 2);
});

test("a failed commit rejects its own items only; bad options are refused", async () => {
  let n = 0;
  const b = new CommitBatcher<number, number>(
    async (items) => {
      n++;
      if (n === 1) throw new Error("database down");
      return items;
    },
    { maxBatch: 3, maxDelayMs: 1, maxInFlight: 1 },
  );
  const first = [1, 2, 3].map((i) => b.submit(i));
  const results = await Promise.allSettled(first);
  assert.ok(results.every((r) => r.status === "rejected"));
  assert.deepEqual(await Promise.all([4, 5].map((i) => b.submit(i))), [4, 5]);
  assert.throws(() => new CommitBatcher(async () => [], { maxBatch: 0 }), RangeError);
  assert.throws(() => new CommitBatcher(async () => [], { maxInFlight: 1.5 }), RangeError);
});
