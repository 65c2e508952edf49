/**
 * When the test Postgres is unreachable: a visible skip with its reason outside CI, a failure under any
 * truthy `CI` (issue 7, "a missing server outside CI shows as a visible skipped test").
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "./store-error.js";
import { isCi, postgresTestTarget } from "./test-store.js";

test("isCi: any truthy CI value is CI; unset, empty, 0, false, no and off are not", () => {
  const table: Array<[string | undefined, boolean]> = [
    [undefined, false],
    ["", false],
    [" ", false],
    ["0", false],
    ["false", false],
    ["FALSE", false],
    ["False", false],
    ["no", false],
    ["off", false],
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["yes", true],
    ["on", true],
    ["woodpecker", true],
    [" true ", true],
  ];
  for (const [value, expected] of table) {
    const env = value === undefined ? {} : { CI: value };
    assert.equal(isCi(env), expected, `CI=${JSON.stringify(value)}`);
  }
});

// Port 1 on loopback: nothing listens, so the connection is refused at once.
const unreachable = "postgres://postgres:secret@127.0.0.1:1/lineage_test";

test("an unreachable test Postgres is a skip with its reason outside CI (password redacted)", async () => {
  for (const ci of [undefined, "0", "false", ""]) {
    const env = { LINEAGE_TEST_PG_URL: unreachable, ...(ci === undefined ? {} : { CI: ci }) };
    const target = await postgresTestTarget(env);
    assert.ok(target.skip !== undefined, `CI=${String(ci)} should skip`);
    assert.match(target.skip, /127\.0\.0\.1:1.*unreachable/);
    assert.ok(!target.skip.includes("secret"), target.skip);
  }
});

test("an unreachable test Postgres fails under any truthy CI", async () => {
  for (const ci of ["true", "1", "yes"]) {
    await assert.rejects(
      postgresTestTarget({ LINEAGE_TEST_PG_URL: unreachable, CI: ci }),
      (e: unknown) => e instanceof StoreError && e.code === "unavailable" && e.message.includes(`CI=${ci}`),
    );
  }
});
