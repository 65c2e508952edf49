import assert from "node:assert/strict";
import { test } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import { attributeMembers } from "./attribution.js";
import { type CanaryPairCounts, deriveVerdict } from "./verdict.js";
import { resolvePolicy, VERDICT_POLICY_2 } from "./verdict-policy.js";

// Policy 2 explicitly: these counts are McNemar's alone (policy 2's family), the arithmetic Holm is tested on.

/** A canary comparison with b exposed-only and c decoy-only pairs among n completed (no both-hit pairs). */
const canary = (b: number, c: number, n: number): CanaryPairCounts => ({
  pairs_committed: n,
  pairs_completed: n,
  exposed_hits: b,
  decoy_hits: c,
  exposed_only: b,
  decoy_only: c,
});
const member = (memberId: string, b: number, c: number, n: number, lead = false) => ({
  memberId,
  result: deriveVerdict(
    {
      canary: canary(b, c, n),
      comparisons: 1,
      ...(lead ? { lead: { score: 0.9, null_size: 99, null_at_least: 0, population: "p" } } : {}),
    },
    VERDICT_POLICY_2,
  ),
});
const invalidArg = (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT";

test("Holm across members: a member that decides alone can fail once the others are counted", () => {
  // b alone: P(Bin(20, 1/2) >= 20) = 2^-20 = 9.5e-7 <= 1e-6, so LIKELY_DERIVED by itself...
  const b = member("b", 20, 0, 40);
  assert.equal(b.result.verdict, "LIKELY_DERIVED");
  assert.deepEqual(
    attributeMembers([b], VERDICT_POLICY_2).map((x) => x.verdict),
    ["LIKELY_DERIVED"],
  );
  // ...but second in Holm's order among three members it needs 2 x 9.5e-7 <= 1e-6, which fails.
  const out = attributeMembers([member("a", 40, 0, 40), b, member("c", 3, 4, 40, true)], VERDICT_POLICY_2);
  assert.deepEqual(
    out.map((x) => [x.memberId, x.verdict]),
    [
      ["a", "LIKELY_DERIVED"],
      ["b", "INCONCLUSIVE"],
      ["c", "SIMILAR"],
    ],
  );
  assert.ok(Math.abs((out[0]?.p_value ?? 0) / (3 * 2 ** -40) - 1) < 1e-9);
  assert.ok(Math.abs((out[1]?.p_value ?? 0) / (2 * 2 ** -20) - 1) < 1e-9);
  assert.equal(out[1]?.member_p, b.result.tests[0]?.adjusted_p);
  assert.equal(out[0]?.test, "canary_pairs");
});

test("a test below the minimum effect does not count; bad input is refused with INVALID_ARGUMENT", () => {
  // 30 exposed-only of 1000 completed pairs: p = 2^-30 but effect 0.03 < 0.1.
  const [weak] = attributeMembers([member("w", 30, 0, 1000)], VERDICT_POLICY_2);
  assert.equal(weak?.verdict, "INCONCLUSIVE");
  assert.equal(weak?.p_value, 1);
  assert.equal(weak?.test, null);
  assert.throws(() => attributeMembers([], VERDICT_POLICY_2), invalidArg);
  const a = member("a", 40, 0, 40);
  assert.throws(() => attributeMembers([a, a], VERDICT_POLICY_2), invalidArg);
  // Members decided under other policy numbers cannot be corrected together.
  assert.throws(() => attributeMembers([a], resolvePolicy({ alpha: 1e-3 })), invalidArg);
});
