import assert from "node:assert/strict";
import { test } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import type { ModelResponse } from "../probe/probe-types.js";
import { watermarkPairs, watermarkSignal } from "./signal-watermark.js";
import { MAX_WATERMARK_PANEL, watermarkPanelSignal } from "./signal-watermark-panel.js";
import { isGreen } from "./watermark-green-list.js";

const KEY = new Uint8Array(32).fill(7);
const GAMMA = 0.25;

/** Deterministic PRNG (mulberry32) so the simulations are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const PREVS = Array.from({ length: 40 }, (_, i) => `p${i}`);

/** A pair "prev tok" as a one-pair text; `green` picks its colour under KEY (null: whatever it is). */
function pairText(r: () => number, tag: string, green: boolean | null): string {
  for (;;) {
    const prev = PREVS[Math.floor(r() * PREVS.length)] ?? "p0";
    const tok = `${tag}${Math.floor(r() * 1e9).toString(36)}`;
    if (green === null || isGreen(KEY, prev, tok, GAMMA) === green) return `${prev} ${tok}`;
  }
}

/**
 * A shared public-text pool whose pairs are 60% green under KEY: the fixed-key bias that makes the
 * plain binomial null wrong. Every model emits each pool pair with probability 0.7.
 */
function biasedPool(r: () => number, size = 300): string[] {
  return Array.from({ length: size }, (_, i) => pairText(r, "pool", i < size * 0.6));
}

/** One model: part of the pool plus `own` pairs of its own, green with probability `greenRate` (or key-blind). */
function model(
  r: () => number,
  pool: readonly string[],
  tag: string,
  own = 150,
  greenRate?: number,
): string[] {
  const out = pool.filter(() => r() < 0.7);
  for (let i = 0; i < own; i++) out.push(pairText(r, tag, greenRate === undefined ? null : r() < greenRate));
  return out;
}

test("watermarkPairs counts the same distinct pairs as watermarkSignal, served alternatives included", () => {
  const response: ModelResponse = {
    text: "the cat sat",
    tokens: [
      {
        token: "the",
        logprob: -0.1,
        top: [
          { token: "a", logprob: -1 },
          { token: "Ġsub", logprob: -2 },
        ],
      },
      { token: " cat", logprob: -0.2, top: [{ token: " dog", logprob: -1 }] },
      { token: " sat", logprob: -0.3, top: [{ token: " ran", logprob: -1 }] },
    ],
  };
  const items = [{ prompt: "Tell me about", response }, "the cat sat on the mat", "The cat sat."];
  const pairs = watermarkPairs(items);
  assert.equal(pairs.size, watermarkSignal(items, KEY, GAMMA, 1).detail.pairs);
  assert.ok(pairs.has("the\ncat") && pairs.has("about\na") && pairs.has("cat\nran"));
});

test("a student whose own pairs are green is detected; its unrelated twin is not", () => {
  const r = rng(1);
  const pool = biasedPool(r);
  const panel = Array.from({ length: 6 }, (_, j) => model(r, pool, `n${j}x`));
  const student = watermarkPanelSignal(model(r, pool, "s", 200, 0.6), panel, KEY, GAMMA);
  assert.equal(student.available, true);
  assert.ok(student.p_value < 1e-10, `student p ${student.p_value}`);
  assert.ok(student.effect > 0.3);
  const twin = watermarkPanelSignal(model(r, pool, "u", 200), panel, KEY, GAMMA);
  assert.equal(twin.available, true);
  assert.ok(twin.p_value > 0.001, `unrelated p ${twin.p_value}`);
  // Suspect pairs shared with a panel model are excluded: only the 200 own pairs (and rare pool pairs) count.
  assert.ok((student.detail.pairs as number) >= 200 && (student.detail.pairs as number) < 215);
});

test("null calibration when every model shares a green-biased pool: no excess of small p-values", () => {
  const r = rng(2);
  const pool = biasedPool(r);
  const trials = 120;
  const panelP: number[] = [];
  const plainP: number[] = [];
  for (let t = 0; t < trials; t++) {
    const panel = Array.from({ length: 6 }, (_, j) =>
      model(r, pool, `t${t}n${j}x`, 60 + Math.floor(r() * 150)),
    );
    const suspect = model(r, pool, `t${t}s`, 60 + Math.floor(r() * 150));
    const res = watermarkPanelSignal(suspect, panel, KEY, GAMMA);
    assert.equal(res.available, true);
    panelP.push(res.p_value);
    plainP.push(watermarkSignal(suspect, KEY, GAMMA).p_value);
  }
  const below = (xs: number[], a: number) => xs.filter((x) => x < a).length / xs.length;
  // The plain binomial null is fooled by the shared bias (this is what the panel test fixes)...
  assert.ok(below(plainP, 0.01) > 0.5, `plain test fraction below 0.01: ${below(plainP, 0.01)}`);
  // ...the panel test is not (binomial slack: 120 draws, expected 6 and 1.2).
  assert.ok(below(panelP, 0.05) <= 0.1, `panel fraction below 0.05: ${below(panelP, 0.05)}`);
  assert.ok(below(panelP, 0.01) <= 0.034, `panel fraction below 0.01: ${below(panelP, 0.01)}`);
});

test("bad inputs: no key, small panel, too few pairs are unavailable; invalid arguments throw", () => {
  const r = rng(3);
  const pool = biasedPool(r, 100);
  const panel = Array.from({ length: 3 }, (_, j) => model(r, pool, `b${j}x`));
  const suspect = model(r, pool, "bs");
  assert.equal(watermarkPanelSignal(suspect, panel, undefined).available, false);
  assert.equal(watermarkPanelSignal(suspect, panel.slice(0, 1), KEY).available, false);
  // Only pool pairs: everything the suspect says, the panel says too.
  const copycat = watermarkPanelSignal(pool, panel, KEY);
  assert.equal(copycat.available, false);
  assert.match(copycat.reason ?? "", /suspect/);
  const shortPanel = [pool, pool, pool];
  assert.equal(watermarkPanelSignal(suspect, shortPanel, KEY).available, false);
  assert.equal(watermarkPanelSignal([], panel, KEY).available, false);
  const code = (f: () => unknown) =>
    assert.throws(f, (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT");
  code(() => watermarkPanelSignal(suspect, panel, KEY, 1));
  code(() => watermarkPanelSignal(suspect, panel, KEY, 0.25, { minPairs: 0 }));
  code(() => watermarkPanelSignal(suspect, panel, KEY, 0.25, { minPanel: 1.5 }));
  code(() =>
    watermarkPanelSignal(
      suspect,
      Array.from({ length: MAX_WATERMARK_PANEL + 1 }, () => ["a b"]),
      KEY,
    ),
  );
});
