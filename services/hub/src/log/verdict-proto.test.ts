import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { VerdictPolicySchema } from "@lineage/api";
import { checkBoundPolicy, DEFAULT_VERDICT_POLICY } from "@lineage/fingerprint";
import { isLogError } from "./log-error.js";
import { policyFromProto } from "./verdict-proto.js";

const registered = () =>
  create(VerdictPolicySchema, {
    policyId: DEFAULT_VERDICT_POLICY.id,
    alpha: DEFAULT_VERDICT_POLICY.alpha,
    minEffect: DEFAULT_VERDICT_POLICY.min_effect,
    weights: Object.entries(DEFAULT_VERDICT_POLICY.weights).map(([t, w]) => ({ test: t, weight: w })),
    minCanaryPairs: DEFAULT_VERDICT_POLICY.min_canary_pairs,
    minWatermarkPairs: DEFAULT_VERDICT_POLICY.min_watermark_pairs,
    leadAlpha: DEFAULT_VERDICT_POLICY.lead_alpha,
    minLeadNull: DEFAULT_VERDICT_POLICY.min_lead_null,
  });

test("a stated policy converts to the registered one; an unknown or repeated weight name is refused", () => {
  assert.equal(checkBoundPolicy(policyFromProto(registered())).ok, true);
  for (const extra of ["__proto__", "similarity", "canary_pairs"]) {
    const p = registered();
    p.weights.push({ $typeName: "lineage.v1.TestWeight", test: extra, weight: 1 });
    assert.throws(
      () => policyFromProto(p),
      (e: unknown) => isLogError(e) && e.code === "invalid_argument",
      `an extra weight "${extra}" is refused`,
    );
  }
});
