import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CANARY_LEVELS,
  canaryHitCoverage,
  canaryNullCheck,
  formatCanaryNull,
  halfPmf,
  mcnemarLevel,
  mcnemarTail,
  type PairedNullCounts,
  poissonBinomialPmf,
  randomizedMcnemar,
} from "./canary-null.js";

/** A small deterministic PRNG (mulberry32) for simulated nulls. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("exact McNemar tails and levels by enumeration (hand-computed vectors)", () => {
  // n = 10: P(B >= 9) = 11/1024, P(B >= 8) = 56/1024.
  assert.ok(Math.abs(mcnemarTail(9, 10).ge - 11 / 1024) < 1e-12);
  assert.ok(Math.abs(mcnemarTail(8, 10).eq - 45 / 1024) < 1e-12);
  assert.ok(Math.abs(mcnemarLevel(10, 0.05) - 11 / 1024) < 1e-12);
  assert.ok(Math.abs(mcnemarLevel(10, 0.06) - 56 / 1024) < 1e-12);
  // n = 3: no b reaches p <= 0.1 (the smallest p is 1/8).
  assert.equal(mcnemarLevel(3, 0.1), 0);
  assert.equal(mcnemarTail(0, 0).ge, 1);
  assert.ok(Math.abs(halfPmf(2, 4) - 6 / 16) < 1e-12);
  assert.throws(() => mcnemarTail(5, 4), RangeError);
  assert.throws(() => randomizedMcnemar(1, 1, 2), RangeError);
  // Poisson-binomial of two fair coins and one certain event.
  assert.deepEqual(
    poissonBinomialPmf([0.5, 0.5, 1]).map((x) => Number(x.toFixed(6))),
    [0, 0.25, 0.5, 0.25],
  );
});

test("the randomized p-value spans [P(B > b), P(B >= b)]", () => {
  const { ge, eq } = mcnemarTail(7, 10);
  assert.ok(Math.abs(randomizedMcnemar(7, 3, 0) - (ge - eq)) < 1e-12);
  assert.ok(Math.abs(randomizedMcnemar(7, 3, 1) - ge) < 1e-12);
});

function simulate(seed: number, count: number, pExposed: number): PairedNullCounts[] {
  const r = rng(seed);
  return Array.from({ length: count }, () => {
    const n = 1 + Math.floor(r() * 20);
    let b = 0;
    for (let i = 0; i < n; i++) if (r() < pExposed) b++;
    return { b, c: n - b, both: Math.floor(r() * 3), u: r() };
  });
}

test("a simulated null passes every check; an exposed-side excess fails them", () => {
  const ok = canaryNullCheck(simulate(1, 3000, 0.5));
  assert.equal(ok.comparisons, 3000);
  assert.ok((ok.randomized.ks_uniform_p ?? 0) > 0.001, `KS ${ok.randomized.ks_uniform_p}`);
  for (const l of ok.levels) assert.ok(l.p_upper > 0.001 && l.p_lower > 0.001, JSON.stringify(l));
  const small = ok.small_n["4"];
  assert.ok(small && small.observed.length === 5 && small.expected.length === 5);
  assert.equal(
    small.observed.reduce((a, b) => a + b, 0),
    small.comparisons,
  );

  const bad = canaryNullCheck(simulate(2, 3000, 0.6));
  assert.ok((bad.randomized.ks_uniform_p ?? 1) < 1e-6, `KS ${bad.randomized.ks_uniform_p}`);
  const at05 = bad.levels.find((l) => l.level === 0.05);
  assert.ok(at05 && at05.observed > at05.expected && at05.p_upper < 1e-6, JSON.stringify(at05));
});

test("comparisons without discordant pairs count but do not enter the tests", () => {
  const r = canaryNullCheck([
    { b: 0, c: 0, both: 3, u: 0.5 },
    { b: 2, c: 1, both: 0, u: 0.5 },
  ]);
  assert.equal(r.comparisons, 2);
  assert.equal(r.with_discordant, 1);
  assert.equal(r.randomized.n, 1);
  assert.deepEqual(r.totals, { exposed_only: 2, decoy_only: 1, both: 3 });
  assert.equal(r.max_excess, 1);
});

test("hit coverage counts comparisons with a hit, per kind, and rejects bad counts", () => {
  const cov = canaryHitCoverage([
    { kind: "negative", hits: 0 },
    { kind: "negative", hits: 2 },
    { kind: "foreign_member", hits: 1 },
    { kind: "negative", hits: 5 },
  ]);
  assert.equal(cov.comparisons, 4);
  assert.equal(cov.with_hit, 3);
  assert.equal(cov.share_with_hit, 0.75);
  assert.deepEqual(cov.by_kind, {
    negative: { comparisons: 3, with_hit: 2 },
    foreign_member: { comparisons: 1, with_hit: 1 },
  });
  assert.equal(canaryHitCoverage([]).share_with_hit, null);
  assert.throws(() => canaryHitCoverage([{ kind: "negative", hits: -1 }]), RangeError);
});

test("the printed section carries coverage, the KS p-value and one row per level", () => {
  const check = canaryNullCheck(simulate(3, 200, 0.5));
  const text = formatCanaryNull(
    "test",
    check,
    canaryHitCoverage([
      { kind: "negative", hits: 1 },
      { kind: "negative", hits: 0 },
    ]),
  );
  assert.match(
    text,
    /^Canary null \(test\): 1 \/ 2 null comparisons with >= 1 canary hit \(50\.0%; negative 1\/2\)/,
  );
  assert.match(
    text,
    new RegExp(`two-sided KS vs U\\(0,1\\) p = ${check.randomized.ks_uniform_p?.toFixed(4)}`),
  );
  for (const l of CANARY_LEVELS)
    assert.match(text, new RegExp(`\\n  ${l} +${check.levels.find((x) => x.level === l)?.observed} `));
});
