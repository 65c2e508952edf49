import assert from "node:assert/strict";
import { test } from "node:test";
import { Mutex } from "./mutex.js";

test("holders run one at a time, in arrival order", async () => {
  const m = new Mutex();
  const events: string[] = [];
  const worker = async (name: string, ms: number) => {
    const release = await m.lock();
    events.push(`${name}+`);
    await new Promise((r) => setTimeout(r, ms));
    events.push(`${name}-`);
    release();
  };
  await Promise.all([worker("a", 15), worker("b", 1), worker("c", 5)]);
  assert.deepEqual(events, ["a+", "a-", "b+", "b-", "c+", "c-"]);
  assert.equal(m.locked, false);
});

test("a second release call does not free the next holder early", async () => {
  const m = new Mutex();
  const first = await m.lock();
  const secondP = m.lock();
  first();
  const second = await secondP;
  first(); // double release of the first holder must be a no-op
  let thirdIn = false;
  const thirdP = m.lock().then((r) => {
    thirdIn = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(thirdIn, false);
  assert.equal(m.locked, true);
  second();
  (await thirdP)();
  assert.equal(thirdIn, true);
  assert.equal(m.locked, false);
});
