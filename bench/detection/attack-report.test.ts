import assert from "node:assert/strict";
import { test } from "node:test";
import { type AttackOutcome, attackNulls, attackRow, byAttack, formatAttackRow } from "./attack-report.js";

const o = (x: Partial<AttackOutcome>): AttackOutcome => ({
  row: "canary_filter",
  split: "test",
  tokenizer: "word",
  rule: "logprob_rule_on",
  suspectId: "s",
  memberKey: "test/member-1",
  derived: true,
  watermarking: true,
  verdict: "INCONCLUSIVE",
  decidedBy: [],
  queries: 100,
  ...x,
});

test("a row counts LIKELY_DERIVED with an exact interval, deciding tests and the control apart", () => {
  const r = attackRow([
    o({ verdict: "LIKELY_DERIVED", decidedBy: ["watermark"], queries: 50 }),
    o({ verdict: "LIKELY_DERIVED", decidedBy: ["watermark", "canary_pairs"], queries: 70 }),
    o({ verdict: "SIMILAR", watermarking: false, queries: 300 }),
    o({ watermarking: false, queries: 300 }),
  ]);
  assert.equal(r.n, 4);
  assert.equal(r.detected, 2);
  assert.equal(r.tpr, 0.5);
  assert.deepEqual(r.tpr_ci95, [0.0676, 0.9324]);
  assert.deepEqual(r.decided_by, { watermark: 2, canary_pairs: 1 });
  assert.equal(r.similar_leads, 1);
  assert.deepEqual(r.watermarking, { n: 2, detected: 2 });
  assert.deepEqual(r.control, { n: 2, detected: 0 });
  assert.equal(formatAttackRow(r), "2/4 50.0% [6.8%, 93.2%]");
  assert.equal(formatAttackRow(attackRow([])), "-");
});

test("rows nest by row, split, tokenizer and rule; nulls and sibling panels apart", () => {
  const rows = byAttack([
    o({ verdict: "LIKELY_DERIVED" }),
    o({ rule: "logprob_rule_off" }),
    o({ tokenizer: "subword" }),
    o({ split: "calibration" }),
    o({ row: "sibling", panel: "with_sibling", verdict: "SIMILAR" }),
    o({ row: "sibling", panel: "usual" }),
    o({ derived: false, verdict: "LIKELY_DERIVED" }),
  ]);
  assert.deepEqual(Object.keys(rows).sort(), ["canary_filter", "sibling", "sibling_in_panel"]);
  assert.equal(rows.canary_filter?.test?.word?.logprob_rule_on?.detected, 1);
  assert.equal(rows.canary_filter?.test?.word?.logprob_rule_on?.n, 1);
  assert.equal(rows.canary_filter?.test?.word?.logprob_rule_off?.detected, 0);
  assert.equal(rows.canary_filter?.test?.subword?.logprob_rule_on?.n, 1);
  assert.equal(rows.canary_filter?.calibration?.word?.logprob_rule_on?.n, 1);
  assert.equal(rows.sibling_in_panel?.test?.word?.logprob_rule_on?.similar_leads, 1);
  const nulls = attackNulls([
    o({ derived: false, verdict: "LIKELY_DERIVED" }),
    o({ derived: false }),
    o({ derived: false, verdict: "SIMILAR" }),
    o({ verdict: "LIKELY_DERIVED" }),
  ]);
  assert.deepEqual(Object.keys(nulls), ["canary_filter/test/word/logprob_rule_on"]);
  const g = nulls["canary_filter/test/word/logprob_rule_on"];
  assert.equal(g?.comparisons, 3);
  assert.equal(g?.false_likely_derived, 1);
  assert.equal(g?.similar_leads, 1);
  assert.ok((g?.upper95 ?? 0) > 0.33 && (g?.upper95 ?? 1) < 1);
});
