import assert from "node:assert/strict";
import { test } from "node:test";
import type { Comparison, PlanMember } from "./plan.js";
import {
  attribution,
  byScenario,
  byVerdict,
  calibrate,
  formatTable,
  nullSection,
  nullsByKind,
  type Outcome,
  signalBreakdown,
} from "./report.js";

const m = (k: string, home = true): PlanMember => ({ key: k, memberId: k, teacherId: `t-${k}`, home });

function outcome(
  c: Partial<Comparison> & { suspectId: string; derived: boolean },
  decision: Outcome["decision"],
  p = 0.5,
  queries = 100,
): Outcome {
  const comparison: Comparison = {
    member: m("m1"),
    share: c.derived ? 1 : 0,
    suspectRole: c.derived ? "positive" : "negative",
    panel: [],
    ...(c.derived ? {} : { nullKind: "negative" as const }),
    ...c,
  };
  return {
    split: "test",
    comparison,
    decision,
    p_value: p,
    effect: 0,
    queries,
    signals: [{ name: "canary_reproduction", available: true, p_value: p, effect: 0, randomized_p: p }],
  };
}

test("scenario rows count (suspect, member) positives, CIs bracket the rate, medians use all positives", () => {
  const outs = [
    outcome({ suspectId: "d0", derived: true, scenario: "direct" }, "LIKELY_DERIVED", 1e-9, 50),
    outcome({ suspectId: "d1", derived: true, scenario: "direct" }, "LIKELY_DERIVED", 1e-9, 70),
    outcome({ suspectId: "d2", derived: true, scenario: "direct" }, "INCONCLUSIVE", 0.2, 300),
    outcome({ suspectId: "e0", derived: true, scenario: "ensemble_25", share: 0.25 }, "LIKELY_DERIVED"),
    outcome(
      { suspectId: "e0", derived: true, scenario: "ensemble_25", share: 0.75, member: m("m2") },
      "LIKELY_DERIVED",
    ),
    outcome({ suspectId: "e1", derived: true, scenario: "ensemble_10", share: 0.1 }, "INCONCLUSIVE"),
    outcome({ suspectId: "n0", derived: false }, "INCONCLUSIVE"),
  ];
  const rows = byScenario(outs, ["direct", "ensemble_25", "ensemble_10", "weights_copy"]);
  assert.equal(rows.direct?.positives, 3);
  assert.equal(rows.direct?.detected, 2);
  assert.equal(rows.direct?.tpr, 0.6667);
  assert.equal(rows.direct?.median_queries, 70);
  assert.equal(rows.direct?.median_queries_detected, 60);
  const [lo, hi] = rows.direct?.tpr_ci95 ?? [0, 0];
  assert.ok(lo < 0.6667 && hi > 0.6667);
  assert.equal(rows.ensemble_share_ge_25?.positives, 2);
  assert.equal(rows.ensemble_share_10?.detected, 0);
  assert.equal(rows.weights_copy?.positives, 0);
  assert.equal(rows.weights_copy?.median_queries, null);
});

test("null section counts false accusations and calibrates p-values", () => {
  const outs = Array.from({ length: 200 }, (_, i) =>
    outcome(
      { suspectId: `n${i}`, derived: false },
      i === 7 ? "LIKELY_DERIVED" : "INCONCLUSIVE",
      (i + 0.5) / 200,
    ),
  );
  const s = nullSection(outs);
  assert.equal(s.comparisons, 200);
  assert.equal(s.false_accusations, 1);
  assert.equal(s.accused[0]?.suspect, "n7");
  assert.ok((s.ks_uniform_p ?? 0) > 0.9);
  assert.ok((s.per_signal.canary_reproduction?.randomized?.n ?? 0) === 200);
  assert.equal(calibrate([]).ks_uniform_p, null);
  assert.equal(calibrate([1, 1, 0.5, 0.25]).at_one, 0.5);
});

test("attribution: precision over names, recall over true members, foreign names are wrong", () => {
  const outs = [
    outcome({ suspectId: "e0", derived: true, scenario: "ensemble_50", share: 0.5 }, "LIKELY_DERIVED"),
    outcome(
      { suspectId: "e0", derived: true, scenario: "ensemble_50", share: 0.5, member: m("m2") },
      "INCONCLUSIVE",
    ),
    outcome(
      {
        suspectId: "e0",
        derived: false,
        suspectRole: "positive",
        member: m("x1", false),
        nullKind: "foreign_member",
      },
      "LIKELY_DERIVED",
    ),
    outcome({ suspectId: "n0", derived: false }, "LIKELY_DERIVED"),
  ];
  const a = attribution(outs);
  assert.equal(a.suspects, 1);
  assert.equal(a.named, 2);
  assert.equal(a.correct, 1);
  assert.equal(a.precision, 0.5);
  assert.equal(a.recall, 0.5);
  assert.equal(a.exact_sets, 0);
});

test("tables align columns", () => {
  const t = formatTable(["a", "bb"], [["xyz", "1"]]).split("\n");
  assert.equal(t[0], "a    bb");
  assert.equal(t[2], "xyz   1");
});

test("signal breakdown groups positives by scenario and nulls by kind, with medians of details", () => {
  const mk = (id: string, derived: boolean, p: number, hits: number) => {
    const o = outcome(
      { suspectId: id, derived, ...(derived ? { scenario: "direct" } : {}) },
      "INCONCLUSIVE",
      p,
    );
    return {
      ...o,
      signals: [{ name: "canary_reproduction", available: true, p_value: p, effect: 0.1, detail: { hits } }],
    };
  };
  const b = signalBreakdown([mk("a", true, 0.1, 3), mk("b", true, 0.3, 5), mk("c", false, 1, 0)]);
  assert.equal(b.direct?.canary_reproduction?.available, 2);
  assert.equal(b.direct?.canary_reproduction?.median_p, 0.2);
  assert.equal(b.direct?.canary_reproduction?.median_hits, 4);
  assert.equal(b["null:negative"]?.canary_reproduction?.min_p, 1);
});

test("by_verdict counts the three verdicts per scenario and per null kind", () => {
  const outs = [
    outcome({ suspectId: "d0", derived: true, scenario: "direct" }, "LIKELY_DERIVED"),
    outcome({ suspectId: "d1", derived: true, scenario: "direct" }, "SIMILAR"),
    outcome({ suspectId: "n0", derived: false }, "SIMILAR"),
    outcome({ suspectId: "n1", derived: false }, "INCONCLUSIVE"),
    outcome(
      { suspectId: "n2", derived: false, nullKind: "foreign_member", member: m("x", false) },
      "INCONCLUSIVE",
    ),
  ];
  const v = byVerdict(outs, ["direct", "paraphrased"]);
  assert.deepEqual(v.scenarios.direct, { LIKELY_DERIVED: 1, SIMILAR: 1, INCONCLUSIVE: 0 });
  assert.deepEqual(v.scenarios.paraphrased, { LIKELY_DERIVED: 0, SIMILAR: 0, INCONCLUSIVE: 0 });
  assert.deepEqual(v.nulls, { LIKELY_DERIVED: 0, SIMILAR: 1, INCONCLUSIVE: 2 });
  assert.deepEqual(v.nulls_ordinary, { LIKELY_DERIVED: 0, SIMILAR: 1, INCONCLUSIVE: 1 });
  assert.deepEqual(v.nulls_by_kind.foreign_member, { LIKELY_DERIVED: 0, SIMILAR: 0, INCONCLUSIVE: 1 });
});

test("nulls by kind: ordinary vs foreign, exact upper bounds, SIMILAR is a false lead not an accusation", () => {
  const outs = [
    ...Array.from({ length: 1000 }, (_, i) =>
      outcome(
        {
          suspectId: `n${i}`,
          derived: false,
          nullKind: i % 2 === 0 ? "negative" : "bystander_member",
          recipeKind: i % 4 === 0 ? "negative_public" : "negative_genre",
        },
        i % 100 === 0 ? "SIMILAR" : "INCONCLUSIVE",
      ),
    ),
    ...Array.from({ length: 500 }, (_, i) =>
      outcome(
        { suspectId: `f${i}`, derived: false, nullKind: "foreign_member", member: m("x", false) },
        "INCONCLUSIVE",
      ),
    ),
    outcome({ suspectId: "d0", derived: true, scenario: "direct" }, "LIKELY_DERIVED"),
  ];
  const r = nullsByKind(outs);
  assert.equal(r.all.comparisons, 1500);
  assert.equal(r.ordinary.comparisons, 1000);
  assert.equal(r.foreign.comparisons, 500);
  assert.equal(r.ordinary.false_likely_derived, 0);
  assert.equal(r.ordinary.false_leads, 10);
  // 0 in 1000: 1 - 0.025^(1/1000).
  assert.ok(Math.abs((r.ordinary.false_accusation_upper95 ?? 0) - (1 - 0.025 ** (1 / 1000))) < 1e-5);
  assert.equal(r.by_kind.bystander_member?.comparisons, 500);
  assert.equal(r.ordinary_by_suspect_recipe.negative_public?.comparisons, 250);
  const one = nullsByKind([outcome({ suspectId: "n", derived: false }, "LIKELY_DERIVED")]);
  assert.equal(one.ordinary.false_likely_derived, 1);
  assert.equal(one.ordinary.false_accusation_upper95, 1);
});
