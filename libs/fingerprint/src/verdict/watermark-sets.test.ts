/**
 * The watermark test over two count sets (the battery's and the extra watermark queries step's; verdict.ts
 * `watermarkSetsTest`): Bonferroni 2 whenever both are bound, the deciding set must reach the minimum effect on
 * its own, validity over keys by simulation, and evidence without step counts derives exactly as before.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { binomialUpperTail } from "../stats/stats-exact.js";
import { fisherCombine } from "../stats/stats-multiple.js";
import {
  decidedWithoutWatermarkQueries,
  deriveVerdict,
  unscoredWatermarkCounts,
  type WatermarkCounts,
  watermarkSetsTest,
  watermarkTest,
} from "./verdict.js";
import { VERDICT_POLICY_2, VERDICT_POLICY_3 } from "./verdict-policy.js";

const wm = (sel: number, selGreen: number, all: number, allGreen: number, gamma = 0.25): WatermarkCounts => ({
  gamma,
  selected_scored: sel,
  selected_green: selGreen,
  all_scored: all,
  all_green: allGreen,
});
const canary = {
  pairs_committed: 48,
  pairs_completed: 48,
  exposed_hits: 8,
  decoy_hits: 1,
  exposed_only: 8,
  decoy_only: 1,
};

test("a strong battery set decides even when the step's pairs are diluted (a watermarked copy)", () => {
  // Battery: 400 selected pairs, 60% green (effect 0.47). Step: 70,000 pairs at 28% green (effect 0.04).
  const battery = wm(400, 240, 800, 400);
  const queries = wm(40_000, 11_200, 70_000, 19_600);
  const r = watermarkSetsTest(battery, queries, VERDICT_POLICY_3);
  assert.equal(r.set, "battery");
  assert.equal(r.p, Math.min(1, 2 * watermarkTest(battery).p));
  assert.ok(r.effect > 0.4);
  // pAny is the smaller of the two sets' p doubled, whichever effect it has.
  assert.equal(r.pAny, Math.min(1, 2 * Math.min(watermarkTest(battery).p, watermarkTest(queries).p)));
  const v = deriveVerdict(
    { watermark: battery, watermark_queries: queries, comparisons: 1 },
    VERDICT_POLICY_3,
  );
  assert.equal(v.verdict, "LIKELY_DERIVED");
  assert.equal(v.backed_by, "watermark");
});

test("a set whose effect is below the minimum never decides alone; Fisher with the canaries still may", () => {
  const battery = wm(300, 80, 700, 180); // no signal
  const queries = wm(40_000, 11_000, 70_000, 19_000); // z >> 10, effect ~0.03
  const r = watermarkSetsTest(battery, queries, VERDICT_POLICY_3);
  assert.equal(r.set, "queries");
  assert.ok(r.effect < VERDICT_POLICY_3.min_effect);
  const alone = deriveVerdict(
    { watermark: battery, watermark_queries: queries, comparisons: 1 },
    VERDICT_POLICY_3,
  );
  assert.equal(alone.verdict, "INCONCLUSIVE");
  const withCanary = deriveVerdict(
    { canary, watermark: battery, watermark_queries: queries, comparisons: 1 },
    VERDICT_POLICY_3,
  );
  const cw = withCanary.tests.find((t) => t.test === "canary_watermark");
  const pCanary = binomialUpperTail(8, 9, 0.5);
  assert.ok(cw);
  assert.equal(cw.p_value, fisherCombine([pCanary, r.pAny]));
  assert.equal(withCanary.verdict, "LIKELY_DERIVED");
  assert.equal(withCanary.backed_by, "canary_watermark");
});

test("evidence without step counts derives exactly as before (policies 2 and 3)", () => {
  const battery = wm(400, 130, 800, 240);
  for (const policy of [VERDICT_POLICY_2, VERDICT_POLICY_3]) {
    const v = deriveVerdict({ canary, watermark: battery, comparisons: 3 }, policy);
    const w = v.tests.find((t) => t.test === "watermark");
    assert.equal(w?.p_value, watermarkTest(battery).p);
    const cw = v.tests.find((t) => t.test === "canary_watermark");
    assert.equal(cw?.p_value, fisherCombine([binomialUpperTail(8, 9, 0.5), watermarkTest(battery).p]));
  }
});

test("the factor 2 stays when one set cannot run; neither running leaves the test unavailable", () => {
  const few = wm(10, 10, 20, 20);
  const strong = wm(400, 240, 800, 400);
  const r = watermarkSetsTest(few, strong, VERDICT_POLICY_3);
  assert.equal(r.set, "queries");
  assert.equal(r.p, Math.min(1, 2 * watermarkTest(strong).p));
  const none = watermarkSetsTest(few, few, VERDICT_POLICY_3);
  assert.equal(none.available, false);
  assert.match(none.reason ?? "", /neither/);
});

test("malformed step counts are refused: without a key, another gamma, inconsistent counts", () => {
  const ok = wm(400, 130, 800, 240);
  assert.throws(
    () => deriveVerdict({ watermark_queries: ok, comparisons: 1 }, VERDICT_POLICY_3),
    /watermark_queries counts need a bound watermark key/,
  );
  assert.throws(
    () => deriveVerdict({ watermark: ok, watermark_queries: wm(400, 130, 800, 240, 0.5), comparisons: 1 }),
    /gamma must equal/,
  );
  assert.throws(
    () => deriveVerdict({ watermark: ok, watermark_queries: wm(400, 500, 800, 240), comparisons: 1 }),
    /inconsistent/,
  );
});

test("validity over keys: with independent Bernoulli(gamma) green bits, P(p <= a) <= a for both p-values", () => {
  // A deterministic generator (mulberry32) so the test is reproducible.
  let s = 0x9e3779b9;
  const u = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const draw = (sel: number, all: number): WatermarkCounts => {
    let sg = 0;
    let ag = 0;
    for (let i = 0; i < all; i++) {
      const g = u() < 0.25;
      if (g) ag++;
      if (g && i < sel) sg++;
    }
    return wm(sel, sg, all, ag);
  };
  const runs = 4000;
  const levels = [0.01, 0.05, 0.2];
  const hits = levels.map(() => ({ p: 0, any: 0 }));
  for (let i = 0; i < runs; i++) {
    const r = watermarkSetsTest(draw(60, 120), draw(300, 900), VERDICT_POLICY_3);
    for (const [j, a] of levels.entries()) {
      if (r.p <= a) (hits[j] as { p: number }).p++;
      if (r.pAny <= a) (hits[j] as { any: number }).any++;
    }
  }
  for (const [j, a] of levels.entries()) {
    const h = hits[j] as { p: number; any: number };
    // Upper 4-sigma slack of the binomial at `runs` draws.
    const slack = 4 * Math.sqrt((a * (1 - a)) / runs);
    assert.ok(h.p / runs <= a + slack, `P(p <= ${a}) = ${h.p / runs}`);
    assert.ok(h.any / runs <= a + slack, `P(pAny <= ${a}) = ${h.any / runs}`);
  }
});

test("the step is asked only when the comparison is undecided without it, and asking never undoes a decision", () => {
  const P = VERDICT_POLICY_3;
  const weakCanary = { ...canary, exposed_hits: 2, decoy_hits: 1, exposed_only: 2, decoy_only: 1 };
  // No key bound: there is no step to ask.
  assert.equal(decidedWithoutWatermarkQueries({ canary, comparisons: 1 }, P), false);
  // The battery alone decides (a watermarked copy): not asked.
  const strong = wm(400, 240, 800, 400);
  assert.equal(
    decidedWithoutWatermarkQueries({ canary: weakCanary, watermark: strong, comparisons: 1 }, P),
    true,
  );
  // The battery at gamma and weak canaries: undecided, asked.
  const atGamma = wm(400, 100, 800, 200);
  assert.equal(
    decidedWithoutWatermarkQueries({ canary: weakCanary, watermark: atGamma, comparisons: 1 }, P),
    false,
  );
  // Whatever the step would have found, a comparison decided without it stays decided with it.
  const steps = [
    wm(0, 0, 0, 0),
    wm(40_000, 10_000, 70_000, 17_500),
    wm(40_000, 11_200, 70_000, 19_600),
    wm(50, 0, 90, 0),
  ];
  for (const q of steps) {
    const v = deriveVerdict(
      { canary: weakCanary, watermark: strong, watermark_queries: q, comparisons: 1 },
      P,
    );
    assert.equal(v.verdict, "LIKELY_DERIVED", `step ${JSON.stringify(q)}: ${v.explanation}`);
  }
  assert.deepEqual(unscoredWatermarkCounts(0.25), wm(0, 0, 0, 0));
});
