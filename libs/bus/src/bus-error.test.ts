import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BUS_ERROR_CODES, BusError, dispositionFor, isBusError, isBusErrorCode } from "./bus-error.js";

describe("BusError", () => {
  it("sets name, code, retryable and keeps the cause", () => {
    const cause = new Error("socket closed");
    const e = new BusError("unavailable", "server gone", { cause });
    assert.equal(e.name, "BusError");
    assert.equal(e.code, "unavailable");
    assert.equal(e.retryable, true);
    assert.equal(e.cause, cause);
    assert.ok(isBusError(e, "unavailable"));
    assert.ok(!isBusError(e, "timeout"));
    assert.equal(new BusError("conflict", "x").retryable, false);
    assert.equal("cause" in new BusError("internal", "x"), false);
  });

  it("only timeout and unavailable are retryable", () => {
    const retryable = BUS_ERROR_CODES.filter((c) => new BusError(c, "x").retryable);
    assert.deepEqual(retryable, ["timeout", "unavailable"]);
    assert.ok(isBusErrorCode("not_found"));
    assert.ok(!isBusErrorCode("NOT_FOUND"));
    assert.ok(!isBusErrorCode(3));
  });
});

describe("dispositionFor", () => {
  it("naks retryable BusErrors and terms the others", () => {
    for (const c of BUS_ERROR_CODES) {
      assert.equal(
        dispositionFor(new BusError(c, "x")),
        c === "timeout" || c === "unavailable" ? "nak" : "term",
        c,
      );
    }
  });

  it("reads `retryable` from any package's error, along the cause chain", () => {
    class StoreError extends Error {
      readonly retryable: boolean;
      constructor(retryable: boolean) {
        super("store");
        this.retryable = retryable;
      }
    }
    assert.equal(dispositionFor(new StoreError(true)), "nak");
    assert.equal(dispositionFor(new StoreError(false)), "term");
    assert.equal(dispositionFor(new Error("wrapped", { cause: new StoreError(true) })), "nak");
    assert.equal(dispositionFor(new Error("wrapped", { cause: new BusError("conflict", "x") })), "term");
  });

  it("naks transient Node system errors and terms everything unclassified", () => {
    const sys = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    assert.equal(dispositionFor(sys), "nak");
    assert.equal(dispositionFor(Object.assign(new Error("x"), { code: "ENOENT" })), "term");
    assert.equal(dispositionFor(new TypeError("bug")), "term");
    assert.equal(dispositionFor("a string"), "term");
    assert.equal(dispositionFor(null), "term");
    assert.equal(dispositionFor(undefined), "term");
  });

  it("stops following cycles and very deep chains", () => {
    const a: { cause?: unknown } = {};
    a.cause = a;
    assert.equal(dispositionFor(a), "term");
    let deep: unknown = new BusError("timeout", "x");
    for (let i = 0; i < 20; i++) deep = new Error("w", { cause: deep });
    assert.equal(dispositionFor(deep), "term");
  });
});
