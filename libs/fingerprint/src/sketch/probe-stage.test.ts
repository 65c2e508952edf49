import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import { binomialUpperTail, DESIGN_SIMILARITY } from "./lsh-params.js";
import { minProbeAgreeingBands, PROBE_STAGE_V1, passesProbeStage } from "./probe-stage.js";
import { PROBE_BANDS, SKETCH_LIMITS } from "./sketch-types.js";

const bad = (f: () => unknown) =>
  assert.throws(f, (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT");

describe("probe stage", () => {
  it("is the largest count a copy at the design similarity reaches with probability >= recall", () => {
    assert.equal(PROBE_STAGE_V1.designSimilarity, DESIGN_SIMILARITY);
    for (const n of [32, 640, 8000, 7712, 32 * 1000]) {
      for (const params of [PROBE_STAGE_V1, { designSimilarity: 0.1, recall: 0.9 }]) {
        const t = minProbeAgreeingBands(n, params);
        assert.ok(binomialUpperTail(n, params.designSimilarity, t) >= params.recall - 1e-9, `n=${n}`);
        assert.ok(binomialUpperTail(n, params.designSimilarity, t + 1) < params.recall, `n=${n}`);
      }
    }
    // ~8,000 rows (250 listed probes): mean 480 at J = 0.06, the threshold ~3.1 standard deviations below.
    assert.equal(minProbeAgreeingBands(8000), 416);
    assert.equal(minProbeAgreeingBands(0), 0);
    assert.equal(minProbeAgreeingBands(32), 0); // one probe says too little to drop anyone
  });

  it("keeps a pair at the threshold, drops one below it, and keeps pairs with nothing compared", () => {
    const t = minProbeAgreeingBands(8000);
    assert.ok(passesProbeStage({ probeAgreeingBands: t, probeComparedBands: 8000 }));
    assert.ok(!passesProbeStage({ probeAgreeingBands: t - 1, probeComparedBands: 8000 }));
    assert.ok(passesProbeStage({ probeAgreeingBands: 0, probeComparedBands: 0 }));
    // Unrelated models of the same era (~0.04 per-probe Jaccard: 320 of 8,000) fall below it.
    assert.ok(!passesProbeStage({ probeAgreeingBands: 320, probeComparedBands: 8000 }));
  });

  it("rejects counts and parameters out of range", () => {
    bad(() => minProbeAgreeingBands(-1));
    bad(() => minProbeAgreeingBands(1.5));
    bad(() => minProbeAgreeingBands(SKETCH_LIMITS.maxProbes * PROBE_BANDS + 1));
    bad(() => minProbeAgreeingBands(100, { designSimilarity: 0, recall: 0.9 }));
    bad(() => minProbeAgreeingBands(100, { designSimilarity: 0.06, recall: 1 }));
    bad(() => minProbeAgreeingBands(100, { designSimilarity: Number.NaN, recall: 0.9 }));
  });
});
