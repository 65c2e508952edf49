import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError, StoreError, type StoreErrorCode, toStoreError } from "./store-error.js";

/** A stand-in shaped like pg's and PGlite's DatabaseError: an Error with SQLSTATE fields. */
function dbError(code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`server said ${code}`), { code, ...extra });
}

const cases: [sqlState: string, code: StoreErrorCode, retryable: boolean][] = [
  ["23505", "conflict", false],
  ["40001", "conflict", true],
  ["40P01", "conflict", true],
  ["57014", "timeout", true],
  ["55P03", "timeout", true],
  ["08006", "unavailable", true],
  ["08001", "unavailable", true],
  ["57P01", "unavailable", true],
  ["53300", "unavailable", true],
  ["28P01", "unavailable", false],
  ["3D000", "unavailable", false],
  ["23502", "invalid_argument", false],
  ["23503", "invalid_argument", false],
  ["23514", "invalid_argument", false],
  ["22P02", "invalid_argument", false],
  ["42501", "permission_denied", false],
  ["42601", "internal", false],
  ["42P01", "internal", false],
  ["XX000", "internal", false],
];

test("SQLSTATEs map to the canonical codes with the right retry decision", () => {
  for (const [sqlState, code, retryable] of cases) {
    const cause = dbError(sqlState);
    const err = toStoreError(cause);
    assert.equal(err.code, code, sqlState);
    assert.equal(err.retryable, retryable, sqlState);
    assert.equal(err.sqlState, sqlState);
    assert.equal(err.cause, cause);
    assert.equal(err.name, "StoreError");
  }
});

test("the constraint is kept, row values from detail never reach the message", () => {
  const err = toStoreError(
    dbError("23505", { constraint: "members_pkey", detail: "Key (id)=(secret-canary) already exists." }),
  );
  assert.equal(err.constraint, "members_pkey");
  assert.ok(!err.message.includes("secret-canary"));
  assert.ok(!err.message.includes("server said"), "the driver's message is not copied either");
});

test("socket errors are unavailable and retryable, also inside an AggregateError", () => {
  for (const errno of ["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH"]) {
    const err = toStoreError(Object.assign(new Error("socket"), { code: errno }));
    assert.equal(err.code, "unavailable", errno);
    assert.equal(err.retryable, true, errno);
  }
  const agg = new AggregateError([Object.assign(new Error("v6"), { code: "ECONNREFUSED" })], "all failed");
  assert.equal(toStoreError(agg).code, "unavailable");
});

test("pg's code-less connection-loss errors are unavailable; other unknowns depend on the phase", () => {
  assert.equal(toStoreError(new Error("Connection terminated unexpectedly")).code, "unavailable");
  assert.equal(toStoreError(new Error("timeout exceeded when trying to connect")).code, "unavailable");
  assert.equal(toStoreError(new Error("something odd")).code, "internal");
  assert.equal(toStoreError(new Error("something odd"), "connect").code, "unavailable");
  assert.equal(toStoreError("not even an Error").code, "internal");
  assert.equal(toStoreError(dbError("42501"), "connect").code, "unavailable");
});

test("a StoreError passes through unchanged; isStoreError checks the code", () => {
  const original = new StoreError("conflict", "x");
  assert.equal(toStoreError(original), original);
  assert.equal(isStoreError(original), true);
  assert.equal(isStoreError(original, "conflict"), true);
  assert.equal(isStoreError(original, "timeout"), false);
  assert.equal(isStoreError(new Error("x")), false);
  assert.equal(new StoreError("internal", "x").retryable, false);
  assert.equal(new StoreError("unavailable", "x").retryable, true);
  assert.equal(new StoreError("unavailable", "x", { retryable: false }).retryable, false);
});
