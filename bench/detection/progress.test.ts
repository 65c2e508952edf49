import assert from "node:assert/strict";
import { test } from "node:test";
import { runPool } from "./progress.js";

test("runPool keeps order, bounds concurrency and reports each completion", async () => {
  let inFlight = 0;
  let peak = 0;
  let done = 0;
  const tasks = Array.from({ length: 20 }, (_, i) => async () => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, (i * 7) % 5));
    inFlight--;
    return i * i;
  });
  const out = await runPool(tasks, 3, () => done++);
  assert.deepEqual(
    out,
    Array.from({ length: 20 }, (_, i) => i * i),
  );
  assert.ok(peak <= 3);
  assert.equal(done, 20);
});

test("runPool rejects with the first failure and stops starting new tasks", async () => {
  let started = 0;
  const tasks = Array.from({ length: 10 }, (_, i) => async () => {
    started++;
    if (i === 1) throw new Error("boom");
    await new Promise((r) => setTimeout(r, 5));
    return i;
  });
  await assert.rejects(runPool(tasks, 2), /boom/);
  assert.ok(started < 10);
  await assert.rejects(runPool([], 0), RangeError);
});
