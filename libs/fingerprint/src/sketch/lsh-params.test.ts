import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import {
  binomialUpperTail,
  candidateProbability,
  DESIGN_SIMILARITY,
  LSH_V1,
  pickLshParams,
} from "./lsh-params.js";
import { COARSE_BANDS, COARSE_ROWS_PER_BAND } from "./sketch-types.js";

describe("LSH parameters", () => {
  it("with one agreeing band the curve is the textbook 1 - (1 - s^r)^b", () => {
    for (const [s, b, r] of [
      [0.5, 20, 5],
      [0.06, 512, 1],
      [0.3, 100, 2],
    ] as const) {
      const want = 1 - (1 - s ** r) ** b;
      assert.ok(Math.abs(candidateProbability(s, { bands: b, rows: r, minAgreeingBands: 1 }) - want) < 1e-9);
    }
  });

  it("binomial tails match direct sums", () => {
    // P[Bin(4, 0.5) >= 2] = 11/16.
    assert.ok(Math.abs(binomialUpperTail(4, 0.5, 2) - 11 / 16) < 1e-12);
    assert.equal(binomialUpperTail(10, 0.3, 0), 1);
    assert.equal(binomialUpperTail(10, 0.3, 11), 0);
    assert.equal(binomialUpperTail(10, 0, 1), 0);
    assert.equal(binomialUpperTail(10, 1, 10), 1);
  });

  it("picks a scheme that meets the recall target and is monotone in similarity", () => {
    for (const s of [0.03, 0.06, 0.1, 0.3, 0.8]) {
      const c = pickLshParams({ designSimilarity: s, rowBudget: 512 });
      assert.ok(c.recall >= 0.99, `s=${s}`);
      assert.ok(c.bands * c.rows <= 512);
      assert.ok(candidateProbability(Math.min(1, s + 0.05), c) >= c.recall);
      assert.ok(c.falseCandidateRate <= c.recall);
    }
    const classic = pickLshParams({ designSimilarity: 0.8, rowBudget: 128, classic: true });
    assert.equal(classic.minAgreeingBands, 1);
    assert.ok(1 - (1 - 0.8 ** classic.rows) ** classic.bands >= 0.99);
  });

  it("the version-1 scheme is what the picker gives for the stated design similarity", () => {
    assert.equal(LSH_V1.designSimilarity, DESIGN_SIMILARITY);
    assert.equal(LSH_V1.bands, COARSE_BANDS);
    assert.equal(LSH_V1.rows, COARSE_ROWS_PER_BAND);
    assert.ok(LSH_V1.recall >= 0.99);
  });

  it("rejects impossible requests with INVALID_ARGUMENT", () => {
    const bad = (f: () => unknown) =>
      assert.throws(f, (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT");
    bad(() => pickLshParams({ designSimilarity: 0.01, rowBudget: 4, classic: true }));
    bad(() => pickLshParams({ designSimilarity: 0, rowBudget: 512 }));
    bad(() => pickLshParams({ designSimilarity: 1.5, rowBudget: 512 }));
    bad(() => pickLshParams({ designSimilarity: 0.5, rowBudget: 0 }));
    bad(() => candidateProbability(0.5, { bands: 4, rows: 1, minAgreeingBands: 5 }));
  });
});
