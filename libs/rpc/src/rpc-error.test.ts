// The error table and the status <-> error conversions, without sockets.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Metadata, status } from "@grpc/grpc-js";
import { ErrorInfoSchema, StatusSchema } from "@lineage/api";
import { errorToStatus, STATUS_DETAILS_KEY, statusToRpcError } from "./error-status.js";
import { CODE_TABLE, DOMAIN_CODES, domainCodeForStatus, RpcError } from "./rpc-error.js";
import { silentRpcLogger } from "./rpc-logger.js";

function forged(grpcCode: status, reason: string, domain = "lineage") {
  const md = new Metadata();
  const st = create(StatusSchema, {
    code: grpcCode,
    details: [anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason, domain }))],
  });
  md.set(STATUS_DETAILS_KEY, Buffer.from(toBinary(StatusSchema, st)));
  return { code: grpcCode, details: "x", metadata: md };
}

describe("error table", () => {
  it("maps every domain code, and the required ones as specified", () => {
    assert.deepEqual(Object.keys(CODE_TABLE).sort(), [...DOMAIN_CODES].sort());
    assert.equal(CODE_TABLE.bad_signature.status, status.UNAUTHENTICATED);
    assert.equal(CODE_TABLE.unknown_key.status, status.UNAUTHENTICATED);
    assert.equal(CODE_TABLE.replay.status, status.ALREADY_EXISTS);
    assert.equal(CODE_TABLE.unknown_member.status, status.NOT_FOUND);
    const retryable = DOMAIN_CODES.filter((c) => CODE_TABLE[c].retryable).sort();
    assert.deepEqual(retryable, ["rate_limited", "timeout", "unavailable"]);
  });

  it("every domain code survives errorToStatus -> statusToRpcError", () => {
    for (const code of DOMAIN_CODES) {
      const st = errorToStatus(new RpcError(code, `m-${code}`), "/t/T", silentRpcLogger);
      const back = statusToRpcError(st);
      assert.equal(back.code, code);
      assert.equal(back.retryable, CODE_TABLE[code].retryable);
      assert.equal(back.message, `m-${code}`);
    }
  });

  it("without details, a status maps to its generic code, which the table maps back to it", () => {
    for (const s of Object.values(status).filter((v): v is number => typeof v === "number")) {
      const code = domainCodeForStatus(s);
      const back = statusToRpcError({ code: s, details: "", metadata: new Metadata() });
      assert.equal(back.code, code);
      if (code !== "internal" && s !== status.OUT_OF_RANGE) assert.equal(CODE_TABLE[code].status, s);
    }
    assert.equal(domainCodeForStatus(status.UNAUTHENTICATED), "unauthenticated");
    assert.equal(domainCodeForStatus(status.RESOURCE_EXHAUSTED), "too_large");
    assert.equal(
      statusToRpcError({ code: status.RESOURCE_EXHAUSTED, details: "", metadata: new Metadata() }).retryable,
      false,
    );
  });

  it("ignores an ErrorInfo that does not match the status, another domain, or garbage", () => {
    assert.equal(statusToRpcError(forged(status.INTERNAL, "RATE_LIMITED")).code, "internal");
    assert.equal(statusToRpcError(forged(status.INTERNAL, "RATE_LIMITED")).retryable, false);
    assert.equal(
      statusToRpcError(forged(status.UNAUTHENTICATED, "BAD_SIGNATURE", "other")).code,
      "unauthenticated",
    );
    assert.equal(statusToRpcError(forged(status.UNAUTHENTICATED, "BAD_SIGNATURE")).code, "bad_signature");
    const md = new Metadata();
    md.set(STATUS_DETAILS_KEY, Buffer.from([0xff, 0xff, 0xff]));
    assert.equal(statusToRpcError({ code: status.NOT_FOUND, details: "", metadata: md }).code, "not_found");
  });

  it("RpcError keeps its cause and refuses unknown codes", () => {
    const cause = new Error("inner");
    const e = new RpcError("conflict", "outer", { cause });
    assert.equal(e.cause, cause);
    assert.equal(e.name, "RpcError");
    assert.throws(() => new RpcError("nope" as never, "x"), TypeError);
  });

  it("cuts long messages sent to a peer", () => {
    const st = errorToStatus(new RpcError("invalid_argument", "y".repeat(5000)), "/t/T", silentRpcLogger);
    assert.ok(st.details.length <= 1027);
  });
});
