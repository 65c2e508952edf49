import assert from "node:assert/strict";
import { test } from "node:test";
import { isCi, planServerTest } from "./server-required.js";

test("isCi: any truthy CI value is CI; unset, empty, 0, false, no and off are not", () => {
  const table: Array<[string | undefined, boolean]> = [
    [undefined, false],
    ["", false],
    [" ", false],
    ["0", false],
    ["false", false],
    ["False", false],
    ["no", false],
    ["OFF", false],
    ["true", true],
    ["1", true],
    ["yes", true],
    ["Yes", true],
    ["github-actions", true],
  ];
  for (const [value, expected] of table) {
    assert.equal(isCi(value === undefined ? {} : { CI: value }), expected, `CI=${JSON.stringify(value)}`);
  }
});

test("planServerTest: run when present; skip with the reason outside CI; fail with it in CI", () => {
  assert.deepEqual(planServerTest(undefined, { CI: "true" }), { action: "run" });
  assert.deepEqual(planServerTest(undefined, {}), { action: "run" });
  assert.deepEqual(planServerTest("no nats at 127.0.0.1:4222", {}), {
    action: "skip",
    reason: "no nats at 127.0.0.1:4222",
  });
  assert.deepEqual(planServerTest("no nats", { CI: "0" }), { action: "skip", reason: "no nats" });
  for (const ci of ["1", "yes", "true"]) {
    const plan = planServerTest("no nats", { CI: ci });
    assert.equal(plan.action, "fail", `CI=${ci}`);
    assert.ok(
      plan.action === "fail" && plan.reason.startsWith("no nats") && plan.reason.includes(`CI=${ci}`),
    );
  }
});
