import assert from "node:assert/strict";
import { test } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import {
  binomialUpperTail,
  hypergeometricUpperTail,
  ksUniform,
  logChoose,
  logGamma,
  normalUpperTail,
} from "./stats-exact.js";
import { bonferroni, holm } from "./stats-multiple.js";

const close = (a: number, b: number, rel = 1e-9) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} vs ${b}`);

test("binomial tails match hand-computed values", () => {
  close(binomialUpperTail(10, 10, 0.5), 2 ** -10);
  close(binomialUpperTail(9, 10, 0.5), 11 / 1024);
  assert.equal(binomialUpperTail(0, 10, 0.3), 1);
  assert.equal(binomialUpperTail(11, 10, 0.3), 0);
  // Tiny tails keep relative accuracy: P(Bin(1000, .5) >= 1000) = 2^-1000.
  close(binomialUpperTail(1000, 1000, 0.5), 2 ** -1000, 1e-8);
});

test("hypergeometric tail is Fisher's exact test (lady tasting tea: 1/70)", () => {
  close(hypergeometricUpperTail(4, 8, 4, 4), 1 / 70);
  close(hypergeometricUpperTail(3, 8, 4, 4), 17 / 70);
  assert.equal(hypergeometricUpperTail(0, 8, 4, 4), 1);
  assert.throws(
    () => hypergeometricUpperTail(1, 3, 4, 1),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
});

test("normal tail", () => {
  close(normalUpperTail(0), 0.5, 1e-6);
  close(normalUpperTail(1.959963985), 0.025, 1e-5);
  close(normalUpperTail(5), 2.866515719e-7, 1e-5);
});

test("KS accepts uniform samples and rejects skewed ones", () => {
  let s = 12345;
  const u = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const uni = Array.from({ length: 2000 }, u);
  assert.ok(ksUniform(uni).p_value > 0.01);
  assert.ok(ksUniform(uni.map((x) => x * x)).p_value < 1e-6);
});

test("Bonferroni and Holm adjust in input order", () => {
  assert.deepEqual(bonferroni([0.01, 0.5]), [0.02, 1]);
  assert.deepEqual(holm([0.04, 0.01, 0.03]), [0.06, 0.03, 0.06]);
  assert.deepEqual(holm([0.01], 3), [0.03]);
});

test("logChoose on integers (memoised ln Γ) equals the direct Lanczos formula bit for bit", () => {
  for (const n of [0, 1, 7, 100, 4_999, 5_000, 20_000]) {
    for (const k of [0, 1, Math.floor(n / 3), n - 1, n]) {
      if (k < 0) continue;
      const direct = logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
      assert.equal(Object.is(logChoose(n, k), direct), true, `logChoose(${n}, ${k})`);
      assert.equal(Object.is(logChoose(n, k), direct), true, `logChoose(${n}, ${k}) from the memo`);
    }
  }
  assert.equal(logChoose(5, 6), Number.NEGATIVE_INFINITY);
});
