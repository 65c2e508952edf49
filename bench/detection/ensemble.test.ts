import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CanaryPairCounts,
  deriveVerdict,
  VERDICT_POLICY_3,
  type WatermarkCounts,
} from "@lineage/fingerprint";
import { type EnsembleItem, ensembleAttribution } from "./ensemble.js";
import type { Comparison } from "./plan.js";
import { canaryCounts, watermarkCounts } from "./test-counts.js";

const policy = VERDICT_POLICY_3;

const canary = canaryCounts;
const wm = watermarkCounts;

function item(
  suspectId: string,
  memberKey: string,
  share: number,
  scenario: string | undefined,
  c: CanaryPairCounts,
  w?: WatermarkCounts,
): EnsembleItem {
  const comparison: Comparison = {
    suspectId,
    member: { key: memberKey, memberId: memberKey, teacherId: `t-${memberKey}`, home: true },
    derived: share > 0,
    share,
    ...(scenario ? { scenario } : {}),
    suspectRole: share > 0 ? "positive" : "negative",
    ...(share > 0 ? {} : { nullKind: "negative" as const }),
    panel: [],
  };
  return {
    split: "test",
    comparison,
    watermarks: w !== undefined,
    result: deriveVerdict({ canary: c, ...(w ? { watermark: w } : {}), comparisons: 1 }, policy),
  };
}

describe("ensembleAttribution", () => {
  it("names blend members by the test that decides, never a member outside the blend, and counts shared violations", () => {
    const items = [
      // A 75/25 blend: the majority member found by canaries, the minority by its watermark alone.
      item("s1", "m1", 0.75, "ensemble_25", canary(30, 0), wm(250, 1000)),
      item("s1", "m2", 0.25, "ensemble_25", canary(2, 1), wm(400, 1000)),
      item("s1", "m3", 0, undefined, canary(1, 2), wm(255, 1000)),
      // A 90/10 blend whose minority (the control: no watermark) left no canary trace.
      item("s2", "m1", 0.9, "ensemble_10", canary(28, 1), wm(240, 1000)),
      item("s2", "m3", 0.1, "ensemble_10", canary(3, 2)),
      item("s2", "m2", 0, undefined, canary(0, 0), wm(251, 1000)),
    ];
    const r = ensembleAttribution(items, policy);
    assert.equal(r.by_share["0.25"]?.named, 1);
    assert.deepEqual(r.by_share["0.25"]?.decided_by, { watermark: 1 });
    assert.equal(r.by_share["0.75"]?.named, 1);
    assert.deepEqual(r.by_share["0.75"]?.decided_by, { canary_pairs: 1 });
    assert.equal(r.by_share["0.1"]?.named, 0);
    assert.equal(r.by_share["0.1"]?.control.members, 1);
    assert.equal(r.by_share["0.1"]?.watermarking.members, 0);
    assert.deepEqual(r.by_share["0.1"]?.tpr_ci95, [0, 0.975]);
    assert.equal(r.nulls.comparisons, 2);
    assert.equal(r.nulls.false_likely_derived, 0);
    assert.equal(r.shared_violations.raised, 1);
    assert.equal(r.shared_violations.all_named_in_blend, 1);
    assert.equal(r.shared_violations.blends_with_2_plus_members, 2);
    assert.equal(r.shared_violations.blends_fully_named, 1);
  });

  it("applies Holm across the suspect's members: a p that passes alone fails among many members", () => {
    // The least green count of 300 pairs whose watermark test decides for one member alone (adjusted p just
    // <= alpha; its effect is well above the minimum at this n).
    const adjusted = (g: number) =>
      deriveVerdict({ canary: canary(0, 0), watermark: wm(g, 300), comparisons: 1 }, policy).tests.find(
        (t) => t.test === "watermark",
      );
    let g = 75;
    while ((adjusted(g)?.adjusted_p ?? 1) > policy.alpha) g++;
    assert.ok((adjusted(g)?.effect ?? 0) >= policy.min_effect);
    const strong = wm(g, 300);
    const wmTest = adjusted(g);
    assert.ok(wmTest && wmTest.adjusted_p <= policy.alpha, `adjusted ${wmTest?.adjusted_p}`);
    const few = ensembleAttribution([item("s", "m1", 0.1, "ensemble_10", canary(0, 0), strong)], policy);
    assert.equal(few.by_share["0.1"]?.named, 1);
    // The same member among 40 members compared: Holm multiplies its p by 40 and it is no longer named.
    const crowd = [
      item("s", "m1", 0.1, "ensemble_10", canary(0, 0), strong),
      ...Array.from({ length: 39 }, (_, i) => item("s", `n${i}`, 0, undefined, canary(0, 0), wm(250, 1000))),
    ];
    const many = ensembleAttribution(crowd, policy);
    const holmP = 40 * (wmTest?.adjusted_p ?? 1);
    assert.equal(many.by_share["0.1"]?.named, holmP <= policy.alpha ? 1 : 0);
    assert.ok(holmP > policy.alpha);
    assert.equal(many.nulls.comparisons, 39);
  });

  it("refuses a member decided under another policy", () => {
    const a = item("s", "m1", 0.5, "ensemble_50", canary(10, 0));
    const other = {
      ...a,
      result: deriveVerdict({ canary: canary(10, 0), comparisons: 1 }, { ...policy, alpha: 0.01, id: "x" }),
    };
    assert.throws(() => ensembleAttribution([other], policy), /policy/);
  });
});
