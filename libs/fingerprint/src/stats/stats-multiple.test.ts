import assert from "node:assert/strict";
import { test } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import { bonferroni, fisherCombine, holm } from "./stats-multiple.js";

test("Fisher's combination: closed form for two p-values, the identity for one, and bad input rejected", () => {
  // k = 2: x (1 - ln x).
  const x = 1e-3 * 2e-2;
  assert.ok(Math.abs(fisherCombine([1e-3, 2e-2]) / (x * (1 - Math.log(x))) - 1) < 1e-12);
  assert.ok(Math.abs(fisherCombine([0.3]) - 0.3) < 1e-15);
  assert.equal(fisherCombine([1, 1]), 1);
  assert.equal(fisherCombine([0, 0.5]), 0);
  // chi^2_6 upper tail at 2 * 3 * ln(10) for three p-values of 0.1: 0.001 * (1 + t + t^2 / 2), t = ln 1000.
  const t = Math.log(1000);
  assert.ok(Math.abs(fisherCombine([0.1, 0.1, 0.1]) / (0.001 * (1 + t + (t * t) / 2)) - 1) < 1e-12);
  for (const bad of [[], [1.5], [-0.1], [Number.NaN]]) {
    assert.throws(
      () => fisherCombine(bad),
      (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
    );
  }
});

test("Fisher's combination of independent uniform p-values is uniform", () => {
  let s = 99;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const n = 20000;
  const ps = Array.from({ length: n }, () => fisherCombine([u(), u()]));
  for (const a of [0.001, 0.01, 0.05, 0.2, 0.5]) {
    const rate = ps.filter((p) => p <= a).length / n;
    assert.ok(Math.abs(rate - a) <= 4 * Math.sqrt((a * (1 - a)) / n) + 1e-4, `P(p <= ${a}) = ${rate}`);
  }
});

test("Bonferroni and Holm adjust in input order and refuse a family smaller than the count", () => {
  assert.deepEqual(bonferroni([0.01, 0.2], 5), [0.05, 1]);
  assert.deepEqual(holm([0.04, 0.01, 0.03]), [0.06, 0.03, 0.06]);
  assert.throws(
    () => holm([0.1, 0.2], 1),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
});
