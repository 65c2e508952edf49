import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Battery,
  deriveVerdict,
  type GenerateRequest,
  type ModelAdapter,
  VERDICT_POLICY_3,
  type WatermarkCounts,
} from "@lineage/fingerprint";
import { WATERMARK_QUERY_COUNT, WATERMARK_QUERY_TOP } from "@lineage/member-node";
import { canaryCounts, watermarkCounts } from "./test-counts.js";
import { askWatermarkStep, withWatermarkStep } from "./watermark-step.js";

const policy = VERDICT_POLICY_3;
const canary = canaryCounts;
const wm = watermarkCounts;
/** A step's counts with a one-level green-mass histogram (every pair at the top level). */
const massCounts = (green: number, n: number): WatermarkCounts => ({
  ...wm(green, n),
  mass: {
    scored: Array.from({ length: 16 }, (_, i) => (i === 15 ? n : 0)),
    green: Array.from({ length: 16 }, (_, i) => (i === 15 ? green : 0)),
  },
});

describe("withWatermarkStep", () => {
  it("binds the step but never asks it when the comparison is decided without it", async () => {
    const evidence = { canary: canary(30, 0), watermark: wm(20, 80), comparisons: 1 };
    let asked = 0;
    const r = await withWatermarkStep(evidence, policy, () => {
      asked++;
      return massCounts(0, 0);
    });
    assert.equal(asked, 0);
    assert.equal(r.asked, false);
    assert.equal(r.evidence.watermark_queries?.all_scored, 0);
    assert.ok(r.evidence.watermark_queries?.mass, "the unasked step keeps its green-mass shape");
    assert.equal(deriveVerdict(r.evidence, policy).verdict, "LIKELY_DERIVED");
  });

  it("asks the step when undecided, and its counts decide", async () => {
    const evidence = { canary: canary(1, 1), watermark: wm(20, 80), comparisons: 1 };
    let asked = 0;
    const r = await withWatermarkStep(evidence, policy, async () => {
      asked++;
      return massCounts(900, 1000);
    });
    assert.equal(asked, 1);
    assert.equal(r.asked, true);
    assert.equal(r.evidence.watermark_queries?.all_green, 900);
    assert.notEqual(deriveVerdict(evidence, policy).verdict, "LIKELY_DERIVED");
    assert.equal(deriveVerdict(r.evidence, policy).verdict, "LIKELY_DERIVED");
  });

  it("refuses a comparison without watermark counts (the member does not watermark)", async () => {
    await assert.rejects(
      withWatermarkStep({ canary: canary(1, 1), comparisons: 1 }, policy, () => massCounts(0, 0)),
      /no watermark counts/,
    );
  });
});

describe("askWatermarkStep", () => {
  it("asks the node's plan at temperature 1 with the node's alternatives, and reads the answers' pairs", async () => {
    const battery: Battery = {
      id: "b",
      probes: [{ id: "p1", prompt: "the quick brown fox jumps over", kind: "open" }],
    } as unknown as Battery;
    const seen: GenerateRequest[] = [];
    const model: ModelAdapter = {
      describe: () => ({ name: "fixed" }),
      generate: async (req: GenerateRequest) => {
        seen.push(req);
        return {
          text: "alpha beta gamma",
          tokens: ["alpha", "beta", "gamma"].map((token) => ({
            token,
            logprob: -0.1,
            top: [{ token, logprob: -0.1 }],
          })),
        };
      },
    } as unknown as ModelAdapter;
    const step = await askWatermarkStep(model, "test/suspect", battery);
    assert.equal(step.queries, WATERMARK_QUERY_COUNT);
    assert.equal(seen.length, WATERMARK_QUERY_COUNT);
    assert.ok(seen.every((r) => r.temperature === 1 && r.topLogprobs === WATERMARK_QUERY_TOP));
    const first = seen.splice(0).map((r) => [r.prompt, r.seed]);
    await askWatermarkStep(model, "test/suspect", battery);
    assert.deepEqual(
      seen.map((r) => [r.prompt, r.seed]),
      first,
      "the plan is a function of the seed label",
    );
    seen.length = 0;
    await askWatermarkStep(model, "test/other", battery);
    assert.notDeepEqual(
      seen.map((r) => [r.prompt, r.seed]),
      first,
      "another label, another plan",
    );
    assert.ok(step.pairs.counts(new Uint8Array(32).fill(7), 0.25).all_scored > 0);
  });
});
