import assert from "node:assert/strict";
import { test } from "node:test";
import { freezePolicy } from "./freeze.js";

/** A comparison decided at every floor up to `maxEffect` (a signal with that effect reached alpha). */
const point = (derived: boolean, maxEffect: number | null) => ({
  derived,
  decidedAt: (m: number) => maxEffect !== null && maxEffect >= m,
});

test("keeps the engine default when no calibration null is accused", () => {
  const f = freezePolicy([point(false, null), point(true, 0.2), point(true, 0.05)], 1e-6, 0.1);
  assert.equal(f.minEffect, 0.1);
  assert.equal(f.calibrationNullsAccusedAtDefault, 0);
  assert.equal(f.calibrationDetected, 1);
  assert.equal(f.calibrationPositives, 2);
});

test("raises the floor above every accused calibration null", () => {
  const f = freezePolicy([point(false, 0.12), point(false, 0.04), point(true, 0.3)], 1e-6, 0.05);
  assert.equal(f.minEffect, 0.15);
  assert.equal(f.calibrationNullsAccusedAtDefault, 1);
  assert.equal(f.calibrationDetected, 1);
  // No floor separates: nothing is ever decided.
  const none = freezePolicy([point(false, 1)], 1e-6, 0);
  assert.equal(none.minEffect, Number.POSITIVE_INFINITY);
  assert.equal(none.calibrationDetected, 0);
  assert.throws(() => freezePolicy([], 0, 0), RangeError);
});
