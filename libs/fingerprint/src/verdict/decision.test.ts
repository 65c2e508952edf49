import assert from "node:assert/strict";
import { test } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import type { SignalResult } from "../signals/signal-types.js";
import { unavailableSignal } from "../signals/signal-types.js";
import { attribute, DEFAULT_SIGNAL_WEIGHTS, decide, signalFamily } from "./decision.js";

const sig = (name: SignalResult["name"], p: number, effect: number): SignalResult => ({
  name,
  available: true,
  statistic: effect,
  p_value: p,
  effect,
  detail: {},
});

test("LIKELY_DERIVED needs a strict adjusted p AND the minimum effect; otherwise INCONCLUSIVE, never CLEAN", () => {
  assert.equal(decide([sig("canary_reproduction", 1e-12, 0.8)]).decision, "LIKELY_DERIVED");
  assert.equal(decide([sig("output_similarity", 1e-12, 0.05)]).decision, "INCONCLUSIVE");
  assert.equal(decide([sig("output_similarity", 1e-5, 0.5)]).decision, "INCONCLUSIVE");
  assert.equal(decide([]).decision, "INCONCLUSIVE");
  assert.equal(decide([unavailableSignal("watermark", "no key")]).p_value, 1);
});

test("Bonferroni over signals and comparisons", () => {
  const s = [sig("canary_reproduction", 4e-7, 0.5), sig("output_similarity", 0.5, 0)];
  const one = decide(s);
  assert.equal(one.p_value, 8e-7);
  assert.equal(one.decision, "LIKELY_DERIVED");
  const many = decide(s, { alpha: 1e-6, min_effect: 0.1, comparisons: 10 });
  assert.equal(many.decision, "INCONCLUSIVE");
  assert.equal(decide(s, undefined, 5).policy.corrections.signals, 5);
  assert.throws(
    () => decide(s, { alpha: 2, min_effect: 0.1, comparisons: 1 }),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
});

test("attribution names every member inside an ensemble, with Holm across members", () => {
  const out = attribute([
    { memberId: "a", signals: [sig("canary_reproduction", 1e-12, 0.6)] },
    { memberId: "b", signals: [sig("canary_reproduction", 1e-9, 0.3)] },
    { memberId: "c", signals: [sig("canary_reproduction", 0.2, 0.02)] },
  ]);
  assert.deepEqual(
    out.map((x) => x.decision),
    ["LIKELY_DERIVED", "LIKELY_DERIVED", "INCONCLUSIVE"],
  );
  assert.ok(Math.abs((out[1]?.p_value ?? 0) - 2e-9) < 1e-18);
});

test("weighted Bonferroni over a family fixed in advance: p * W / w, signals outside it ignored", () => {
  const family = signalFamily({ canaries: true, watermark: false });
  assert.deepEqual(Object.keys(family).sort(), [
    "canary_reproduction",
    "output_similarity",
    "shared_wrong_answers",
    "token_distribution",
  ]);
  const total = 4 + 3;
  const d = decide([sig("canary_reproduction", 1e-7, 0.5), sig("watermark", 1e-30, 0.9)], undefined, family);
  // The watermark is not in the family (no key was given), so it cannot decide.
  assert.equal(d.deciding_signal, "canary_reproduction");
  assert.ok(Math.abs(d.p_value - (1e-7 * total) / DEFAULT_SIGNAL_WEIGHTS.canary_reproduction) < 1e-20);
  assert.equal(d.policy.corrections.method, "weighted_bonferroni");
  const weak = decide([sig("output_similarity", 5e-7, 0.5)], undefined, family);
  assert.equal(weak.decision, "INCONCLUSIVE");
  assert.ok(Math.abs(weak.p_value - 5e-7 * total) < 1e-18);
  assert.throws(
    () => decide([], undefined, { canary_reproduction: 0 }),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
  assert.throws(
    () => decide([], undefined, {}),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
});

test("weighted Bonferroni keeps the family-wise error under alpha on simulated nulls", () => {
  let s = 12345;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const family = signalFamily({ canaries: true, watermark: true });
  const alpha = 0.05;
  let rejections = 0;
  const n = 4000;
  for (let k = 0; k < n; k++) {
    // Worst case for Bonferroni: independent uniform p-values, one per family member.
    const signals = (Object.keys(family) as SignalResult["name"][]).map((name) => sig(name, u(), 0.5));
    if (decide(signals, { alpha, min_effect: 0.1, comparisons: 1 }, family).decision === "LIKELY_DERIVED")
      rejections++;
  }
  assert.ok(rejections / n <= alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / n), `${rejections / n}`);
});

test("attribution with each member's family: weighted factors, signals outside the family ignored", () => {
  const fam = signalFamily({ canaries: true, watermark: false });
  const out = attribute([
    { memberId: "a", signals: [sig("canary_reproduction", 1e-9, 0.4)], family: fam },
    { memberId: "b", signals: [sig("watermark", 1e-30, 0.5)], family: fam },
  ]);
  assert.equal(out[0]?.decision, "LIKELY_DERIVED");
  // Holm across 2 members on the smaller p: 2 * 1e-9 * 7 / 4.
  assert.ok(Math.abs((out[0]?.p_value ?? 0) - (2 * 1e-9 * 7) / 4) < 1e-20);
  assert.equal(out[1]?.decision, "INCONCLUSIVE");
  assert.equal(out[1]?.p_value, 1);
});
