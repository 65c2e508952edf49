import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { EndpointApi, SuspectRefSchema } from "@lineage/api";
import { DEFAULT_VERDICT_POLICY, VERDICT_POLICY_2 } from "@lineage/fingerprint";
import { sessionPolicyFor } from "./session-manager.js";

test("sessionPolicyFor: decided from the logged suspect alone — an endpoint without log-probabilities binds policy 2, everything else the default", () => {
  const endpoint = (logprobs: boolean) =>
    create(SuspectRefSchema, {
      suspectId: "s1",
      target: {
        case: "endpoint",
        value: { baseUrl: "https://x.example", modelName: "m", api: EndpointApi.OPENAI_CHAT, logprobs },
      },
    });
  assert.equal(sessionPolicyFor(endpoint(false)).id, VERDICT_POLICY_2.id);
  assert.equal(sessionPolicyFor(endpoint(true)).id, DEFAULT_VERDICT_POLICY.id);
  const release = create(SuspectRefSchema, {
    suspectId: "s2",
    target: { case: "release", value: { registry: "hf", repo: "a/b", revision: "r" } },
  });
  assert.equal(sessionPolicyFor(release).id, DEFAULT_VERDICT_POLICY.id);
  assert.equal(sessionPolicyFor(undefined).id, DEFAULT_VERDICT_POLICY.id);
  assert.notEqual(DEFAULT_VERDICT_POLICY.id, VERDICT_POLICY_2.id);
});
