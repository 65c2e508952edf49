import assert from "node:assert/strict";
import { test } from "node:test";
import {
  binomialCdf,
  clopperPearsonInterval,
  fractionAtOrBelow,
  hypergeometricPmf,
  ksUniform,
  ksUniformUpper,
  ksUpperTail,
  median,
  randomizedBinomial,
  randomizedFisher,
  randomizedPValue,
  wilsonInterval,
} from "./stats.js";

/** Deterministic uniform generator (mulberry32) so the simulations cannot flake. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const close = (a: number, b: number, tol: number) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} not within ${tol} of ${b}`);

test("Wilson interval matches textbook values and handles the edges", () => {
  const [lo, hi] = wilsonInterval(5, 10);
  close(lo, 0.2366, 1e-4);
  close(hi, 0.7634, 1e-4);
  const [lo2, hi2] = wilsonInterval(20, 20);
  close(lo2, 0.8389, 1e-4);
  assert.equal(hi2, 1);
  assert.deepEqual(wilsonInterval(0, 0), [0, 1]);
  assert.throws(() => wilsonInterval(3, 2), RangeError);
});

test("Clopper–Pearson interval: closed forms at 0 and n, the tabulated 5/10", () => {
  const [lo, hi] = clopperPearsonInterval(5, 10);
  close(lo, 0.187086, 1e-5);
  close(hi, 0.812914, 1e-5);
  const [, hi0] = clopperPearsonInterval(0, 10);
  close(hi0, 1 - 0.025 ** (1 / 10), 1e-9);
  const [lon] = clopperPearsonInterval(10, 10);
  close(lon, 0.025 ** (1 / 10), 1e-9);
  // Never narrower than Wilson at the boundary.
  assert.ok(clopperPearsonInterval(20, 20)[0] <= wilsonInterval(20, 20)[0]);
});

test("binomial CDF sums to one and matches a hand value", () => {
  close(binomialCdf(10, 10, 0.3), 1, 0);
  close(binomialCdf(1, 3, 0.5), 0.5, 1e-12);
});

test("median of odd, even and empty lists", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
});

test("KS two-sided: a uniform grid passes, a point mass fails, simulated nulls reject at about the level", () => {
  const grid = Array.from({ length: 500 }, (_, i) => (i + 0.5) / 500);
  assert.ok(ksUniform(grid).p_value > 0.99);
  assert.ok(ksUniform(Array(200).fill(0.5)).p_value < 1e-10);
  const r = rng(7);
  let rejections = 0;
  const reps = 400;
  for (let k = 0; k < reps; k++) {
    const s = Array.from({ length: 100 }, r);
    if (ksUniform(s).p_value < 0.05) rejections++;
  }
  const rate = rejections / reps;
  assert.ok(rate > 0.02 && rate < 0.09, `rejection rate ${rate}`);
});

test("KS one-sided: exact tail at n = 1, conservative data pass, anti-conservative data fail", () => {
  close(ksUpperTail(1, 0.3), 0.7, 1e-12);
  // n = 2 against simulation of P(D+ >= 0.4).
  const r = rng(11);
  let hits = 0;
  const reps = 200_000;
  for (let k = 0; k < reps; k++) {
    const a = r();
    const b = r();
    const x = Math.min(a, b);
    const y = Math.max(a, b);
    if (Math.max(0.5 - x, 1 - y) >= 0.4) hits++;
  }
  close(ksUpperTail(2, 0.4), hits / reps, 0.005);
  // Super-uniform p-values (all mass pushed up) are not evidence against validity...
  const conservative = Array.from({ length: 300 }, (_, i) => Math.min(1, 0.2 + (i + 0.5) / 300));
  assert.ok(ksUniformUpper(conservative).p_value > 0.5);
  assert.ok(ksUniform(conservative).p_value < 1e-6);
  // ... but too many small ones are.
  const anti = Array.from({ length: 300 }, (_, i) => ((i + 0.5) / 300) ** 2);
  assert.ok(ksUniformUpper(anti).p_value < 1e-6);
});

test("randomized p-values of a discrete test are uniform under its null", () => {
  const r = rng(3);
  const n = 12;
  const ps: number[] = [];
  const plain: number[] = [];
  for (let k = 0; k < 2000; k++) {
    let t = 0;
    for (let i = 0; i < n; i++) if (r() < 0.5) t++;
    const ge = 1 - binomialCdf(t - 1, n, 0.5);
    const eq = ge - (1 - binomialCdf(t, n, 0.5));
    ps.push(randomizedPValue(ge, eq, r()));
    plain.push(ge);
  }
  assert.ok(ksUniform(ps).p_value > 0.01, `randomized KS p ${ksUniform(ps).p_value}`);
  // The plain discrete p-values are valid but visibly not uniform.
  assert.ok(ksUniform(plain).p_value < 1e-6);
  assert.ok(ksUniformUpper(plain).p_value > 0.05);
  assert.throws(() => randomizedPValue(0.1, 0.2, 0.5), RangeError);
});

test("fractionAtOrBelow counts inclusively", () => {
  assert.deepEqual(fractionAtOrBelow([0.01, 0.05, 0.5, 1], [0.01, 0.05, 0.1]), [0.25, 0.5, 0.5]);
  assert.deepEqual(fractionAtOrBelow([], [0.1]), [0]);
});

test("randomized Fisher and binomial p-values are uniform on simulated nulls", () => {
  const r = rng(5);
  const fisher: number[] = [];
  const binom: number[] = [];
  for (let k = 0; k < 1500; k++) {
    // 20 exposed of 40 canaries; 6 hits placed at random (exchangeable under the null).
    const hits = new Set<number>();
    while (hits.size < 6) hits.add(Math.floor(r() * 40));
    const x = [...hits].filter((i) => i < 20).length;
    fisher.push(randomizedFisher(x, 6, 20, 40, r()));
    let g = 0;
    for (let i = 0; i < 30; i++) if (r() < 0.25) g++;
    binom.push(randomizedBinomial(g, 30, 0.25, r()));
  }
  assert.ok(ksUniform(fisher).p_value > 0.01, `fisher KS ${ksUniform(fisher).p_value}`);
  assert.ok(ksUniform(binom).p_value > 0.01, `binomial KS ${ksUniform(binom).p_value}`);
  close(hypergeometricPmf(1, 4, 2, 2), 4 / 6, 1e-12);
});
