import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RpcError } from "./rpc-error.js";
import { checkListenSecurity, isLoopbackHost, parseListenAddress } from "./transport-policy.js";

const code = (c: string) => (e: unknown) => e instanceof RpcError && e.code === c;

describe("transport policy", () => {
  it("parses host:port, IPv6 in brackets; refuses malformed addresses", () => {
    assert.deepEqual(parseListenAddress("127.0.0.1:7443"), { host: "127.0.0.1", port: 7443 });
    assert.deepEqual(parseListenAddress("[::1]:0"), { host: "::1", port: 0 });
    assert.deepEqual(parseListenAddress("hub.example:443"), { host: "hub.example", port: 443 });
    for (const bad of ["nowhere", "::1:80", "[nothex]:80", "host:65536", "host:", ":80", "a b:80"]) {
      assert.throws(() => parseListenAddress(bad), code("invalid_argument"), bad);
    }
  });

  it("only loopback addresses and localhost are loopback; wildcards are not", () => {
    for (const h of [
      "127.0.0.1",
      "127.8.9.10",
      "::1",
      "[::1]",
      "localhost",
      "LOCALHOST",
      "::ffff:127.0.0.1",
    ]) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of [
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "192.168.1.1",
      "::ffff:10.0.0.1",
      "hub.example",
      "localhost.evil",
    ]) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });

  it("plaintext is refused off loopback, TLS accepted; mTLS demanded when asked", () => {
    assert.equal(checkListenSecurity("127.0.0.1:0", "plaintext").port, 0);
    assert.equal(checkListenSecurity("[::1]:7443", "plaintext").host, "::1");
    assert.throws(() => checkListenSecurity("0.0.0.0:7443", "plaintext"), code("failed_precondition"));
    assert.throws(() => checkListenSecurity("[::]:7443", "plaintext"), code("failed_precondition"));
    assert.throws(() => checkListenSecurity("hub.example:443", "plaintext"), /TLS is required off loopback/);
    assert.equal(checkListenSecurity("0.0.0.0:7443", "tls").host, "0.0.0.0");
    assert.throws(
      () => checkListenSecurity("0.0.0.0:7443", "tls", { requireClientCerts: true }),
      code("failed_precondition"),
    );
    assert.equal(checkListenSecurity("0.0.0.0:7443", "mtls", { requireClientCerts: true }).port, 7443);
    assert.equal(checkListenSecurity("127.0.0.1:1", "tls", { requireClientCerts: true }).port, 1);
  });
});
