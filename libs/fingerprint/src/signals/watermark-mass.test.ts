/**
 * The green-mass statistic (lineage-watermark-queries/3): pair weights read off the suspect's served
 * probabilities, the histogram the counts carry, its checks, the Chernoff tail, validity over keys by
 * simulation, and power where a suspect leans its served probability toward one key's green tokens.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import type { ModelResponse } from "../probe/probe-types.js";
import { seededShuffle } from "../stats/seeded-shuffle.js";
import { binomialUpperTail, weightedBernoulliUpperTail } from "../stats/stats-exact.js";
import { checkWatermarkCounts, type WatermarkCounts, watermarkTest } from "../verdict/verdict.js";
import { VERDICT_POLICY_3 } from "../verdict/verdict-policy.js";
import {
  massLevel,
  WATERMARK_MASS_LEVELS,
  WatermarkPairSet,
  type WatermarkResponse,
} from "./signal-watermark.js";
import { isGreen } from "./watermark-green-list.js";

const GAMMA = 0.25;

const VOCAB = Array.from({ length: 400 }, (_, i) => `w${i}`);

/**
 * Served answers over a fixed vocabulary: each position has 8 alternatives with probabilities from `spread`;
 * with `lean` (a key), green alternatives get their probability multiplied by (1 + lean.by) before
 * normalising: a student leaning toward one member's green tokens.
 */
function answers(n: number, seed: number, lean?: { key: Uint8Array; by: number }): WatermarkResponse[] {
  const out: WatermarkResponse[] = [];
  for (let a = 0; a < n; a++) {
    const prompt = VOCAB[(seed * 7919 + a * 37) % VOCAB.length] as string;
    let prev = prompt;
    const tokens = [];
    const words = [];
    for (let i = 0; i < 12; i++) {
      // Eight alternatives drawn by a seeded shuffle, with fixed base weights ((k + 1) / 8)^2.
      const alts = seededShuffle(VOCAB, seed * 1_000_003 + a * 101 + i).slice(0, 8);
      const raw = alts.map((t, k) => {
        const base = ((k + 1) / 8) ** 2;
        return { t, w: lean && isGreen(lean.key, prev, t, GAMMA) ? base * (1 + lean.by) : base };
      });
      const z = raw.reduce((s, x) => s + x.w, 0);
      const top = raw
        .map((x) => ({ token: ` ${x.t}`, logprob: Math.log(x.w / z) }))
        .sort((x, y) => y.logprob - x.logprob);
      const pick = top[0] as { token: string; logprob: number };
      tokens.push({ token: pick.token, logprob: pick.logprob, top });
      words.push(pick.token.trim());
      prev = pick.token.trim();
    }
    out.push({ prompt, response: { text: words.join(" "), tokens } });
  }
  return out;
}

test("massLevel: ceil(16 sqrt p), at least 1, at most 16", () => {
  assert.equal(WATERMARK_MASS_LEVELS, 16);
  assert.equal(massLevel(1), 16);
  assert.equal(massLevel(0.25), 8);
  assert.equal(massLevel(0.2501), 9);
  assert.equal(massLevel(1e-9), 1);
  assert.equal(massLevel(0), 1);
  assert.equal(massLevel(Number.NaN), 1);
  assert.equal(massLevel(2), 16);
});

test("a pair's level is the largest probability served for it; the histogram covers exactly the scored pairs", () => {
  const resp = (p1: number, p2: number): ModelResponse => ({
    text: "alpha beta",
    tokens: [
      { token: "alpha", logprob: Math.log(0.9), top: [{ token: "alpha", logprob: Math.log(0.9) }] },
      {
        token: " beta",
        logprob: Math.log(p1),
        top: [
          { token: " beta", logprob: Math.log(p1) },
          { token: " gamma", logprob: Math.log(p2) },
        ],
      },
    ],
  });
  const set = WatermarkPairSet.fromResponses(
    [
      { prompt: "say", response: resp(0.04, 0.01) },
      { prompt: "say", response: resp(0.64, 0.25) },
    ],
    { mass: true },
  );
  // Pairs: (say, alpha), (alpha, beta), (alpha, gamma); text pairs are not added on their own under mass.
  assert.equal(set.size, 3);
  const c = set.counts(randomBytes(32), GAMMA);
  assert.ok(c.mass);
  assert.deepEqual(
    c.mass.scored.map((n, i) => [i + 1, n]).filter(([, n]) => n !== 0),
    [
      [8, 1], // gamma: max(0.01, 0.25) -> ceil(16 * 0.5) = 8
      [13, 1], // beta: max(0.04, 0.64) -> ceil(16 * 0.8) = 13 (12.8)
      [16, 1], // alpha: 0.9 -> ceil(15.18) = 16
    ],
  );
  assert.equal(
    c.mass.green.reduce((s, x) => s + x, 0),
    c.all_green,
  );
  checkWatermarkCounts(c);
});

test("the levels are read without the key: every key sees the same histogram of scored pairs", () => {
  const set = WatermarkPairSet.fromResponses(answers(30, 7), { mass: true });
  const a = set.counts(randomBytes(32), GAMMA);
  const b = set.counts(randomBytes(32), GAMMA);
  assert.deepEqual(a.mass?.scored, b.mass?.scored);
  assert.equal(a.all_scored, b.all_scored);
  // Without `mass`, no histogram (the battery's counts, /2's).
  assert.equal(WatermarkPairSet.fromResponses(answers(3, 7)).counts(randomBytes(32), GAMMA).mass, undefined);
});

test("checkWatermarkCounts refuses a malformed histogram, naming what is wrong", () => {
  const base: WatermarkCounts = {
    gamma: GAMMA,
    selected_scored: 10,
    selected_green: 3,
    all_scored: 20,
    all_green: 6,
  };
  const levels = (k: number, n: number) =>
    Array.from({ length: WATERMARK_MASS_LEVELS }, (_, i) => (i === k ? n : 0));
  const ok = { ...base, mass: { scored: levels(3, 20), green: levels(3, 6) } };
  checkWatermarkCounts(ok);
  const cases: [WatermarkCounts, RegExp][] = [
    [{ ...base, mass: { scored: [20], green: [6] } }, /16 entries/],
    [{ ...base, mass: { scored: levels(3, 20), green: levels(4, 6) } }, /green\[4\] exceeds scored\[4\]/],
    [{ ...base, mass: { scored: levels(3, 19), green: levels(3, 6) } }, /does not sum/],
    [{ ...base, mass: { scored: levels(3, 20), green: levels(3, 5) } }, /does not sum/],
    [{ ...base, mass: { scored: levels(3, -1), green: levels(3, 6) } }, /mass\.scored\[3\]/],
    [{ ...base, mass: { scored: levels(3, 2.5), green: levels(3, 6) } }, /mass\.scored\[3\]/],
    [{ ...base, mass: { scored: "x", green: levels(3, 6) } as never }, /scored and green arrays/],
  ];
  for (const [c, re] of cases)
    assert.throws(
      () => checkWatermarkCounts(c),
      (e: unknown) => e instanceof FingerprintError && re.test(e.message),
      String(re),
    );
});

test("weightedBernoulliUpperTail: a valid bound (never below the exact binomial tail at unit weights), 1 at the mean, p^N at the top", () => {
  for (const [k, n] of [
    [30, 100],
    [60, 200],
    [400, 1000],
    [100, 100],
  ] as const) {
    const exact = binomialUpperTail(k, n, GAMMA);
    const bound = weightedBernoulliUpperTail(k, [[1, n]], GAMMA);
    assert.ok(bound >= exact * (1 - 1e-9), `${k}/${n}: ${bound} < ${exact}`);
    // Chernoff is within a polynomial factor of the exact tail.
    if (exact < 1e-3) assert.ok(bound < exact * 100, `${k}/${n}: ${bound} vs ${exact}`);
  }
  assert.equal(weightedBernoulliUpperTail(25, [[1, 100]], GAMMA), 1);
  assert.equal(weightedBernoulliUpperTail(10, [[1, 100]], GAMMA), 1);
  assert.ok(Math.abs(weightedBernoulliUpperTail(3, [[0.5, 6]], GAMMA) / GAMMA ** 6 - 1) < 1e-6);
  assert.equal(weightedBernoulliUpperTail(3.5, [[0.5, 6]], GAMMA), 0);
  // Decreasing in s.
  let last = 1;
  for (let s = 30; s < 100; s += 5) {
    const p = weightedBernoulliUpperTail(
      s,
      [
        [0.25, 100],
        [1, 50],
      ],
      GAMMA,
    );
    assert.ok(p <= last);
    last = p;
  }
  assert.throws(() => weightedBernoulliUpperTail(1, [[0, 3]], GAMMA), FingerprintError);
  assert.throws(() => weightedBernoulliUpperTail(1, [[1, 3]], 1), FingerprintError);
  assert.throws(() => weightedBernoulliUpperTail(Number.NaN, [[1, 3]], GAMMA), FingerprintError);
});

test("validity over keys: fixed answers scored under 400 fresh keys reject at most at the nominal rate", () => {
  const set = WatermarkPairSet.fromResponses(answers(40, 11), { mass: true });
  let le05 = 0;
  let le01 = 0;
  const keys = 400;
  for (let i = 0; i < keys; i++) {
    const p = watermarkTest(set.counts(randomBytes(32), GAMMA), {
      ...VERDICT_POLICY_3,
      min_watermark_pairs: 1,
    }).p;
    if (p <= 0.05) le05++;
    if (p <= 0.01) le01++;
  }
  // Binomial(400, 0.05) exceeds 32 with probability < 1e-3; the Chernoff bound makes it rarer still.
  assert.ok(le05 <= 32, `${le05} of ${keys} keys at p <= 0.05`);
  assert.ok(le01 <= 10, `${le01} of ${keys} keys at p <= 0.01`);
});

test("power: a suspect leaning its served probability toward one key's green tokens is found by mass, not by the count", () => {
  const key = new Uint8Array(32).fill(7);
  const leaning = answers(160, 5, { key, by: 0.5 });
  const mass = watermarkTest(
    WatermarkPairSet.fromResponses(leaning, { mass: true }).counts(key, GAMMA),
    VERDICT_POLICY_3,
  );
  const count = watermarkTest(WatermarkPairSet.fromResponses(leaning).counts(key, GAMMA), VERDICT_POLICY_3);
  assert.ok(mass.available);
  assert.ok(mass.p < 1e-6, `mass p ${mass.p}`);
  assert.ok(mass.p < count.p / 100, `mass p ${mass.p} vs count p ${count.p}`);
  assert.ok(mass.effect > 0);
  // The same answers under another key: nothing.
  const other = watermarkTest(
    WatermarkPairSet.fromResponses(leaning, { mass: true }).counts(new Uint8Array(32).fill(8), GAMMA),
    VERDICT_POLICY_3,
  );
  assert.ok(other.p > 1e-3, `other key p ${other.p}`);
});
