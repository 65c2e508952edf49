// TLS and mutual TLS with certificates made by the openssl CLI at test time: a client trusting the
// CA connects; under mutual TLS a client without a certificate, or with one from another CA, is
// refused; the handler sees the verified client certificate.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Hub } from "@lineage/api";
import {
  createClient,
  insecureChannelCredentials,
  RpcError,
  tlsChannelCredentials,
  tlsServerCredentials,
  withUnimplemented,
} from "../src/index.js";
import { makePki, type Pki, startServer } from "./fixtures.js";

describe("TLS", () => {
  let pki: Pki;
  before(() => {
    pki = makePki();
  });

  const impl = () =>
    withUnimplemented(Hub, {
      async getMember(req, ctx) {
        const cn = ctx.auth.sslPeerCertificate?.subject?.CN ?? "";
        return { member: { memberId: req.memberId, displayName: `${ctx.auth.transportSecurityType}:${cn}` } };
      },
    });

  it("server-only TLS: a client trusting the CA connects; a plain-text client cannot", async () => {
    await using srv = await startServer(Hub, impl(), {
      credentials: tlsServerCredentials({ certChainPem: pki.serverCertPem, privateKeyPem: pki.serverKeyPem }),
    });
    using client = createClient(Hub, srv.address, tlsChannelCredentials({ caPem: pki.caPem }));
    const res = await client.getMember({ memberId: "acme" }, { timeoutMs: 5000 });
    assert.match(res.member?.displayName ?? "", /:$/, "no client certificate is presented");
    using plain = createClient(Hub, srv.address, insecureChannelCredentials());
    await assert.rejects(
      plain.getMember({ memberId: "acme" }, { timeoutMs: 2000 }),
      (e: unknown) => e instanceof RpcError,
    );
  });

  it("a client that does not trust the server's CA is refused", async () => {
    await using srv = await startServer(Hub, impl(), {
      credentials: tlsServerCredentials({ certChainPem: pki.serverCertPem, privateKeyPem: pki.serverKeyPem }),
    });
    using client = createClient(
      Hub,
      srv.address,
      tlsChannelCredentials({ caPem: pki.foreignClientCertPem }), // not the server's CA
    );
    await assert.rejects(client.getMember({ memberId: "acme" }, { timeoutMs: 3000 }), {
      code: "unavailable",
    });
  });

  describe("mutual TLS", () => {
    const mtls = () =>
      tlsServerCredentials({
        certChainPem: pki.serverCertPem,
        privateKeyPem: pki.serverKeyPem,
        clientCaPem: pki.caPem,
      });

    it("accepts a client certificate from the CA and shows it to the handler", async () => {
      await using srv = await startServer(Hub, impl(), { credentials: mtls() });
      using client = createClient(
        Hub,
        srv.address,
        tlsChannelCredentials({
          caPem: pki.caPem,
          certChainPem: pki.clientCertPem,
          privateKeyPem: pki.clientKeyPem,
        }),
      );
      const res = await client.getMember({ memberId: "acme" }, { timeoutMs: 5000 });
      assert.equal(res.member?.displayName, "ssl:member-acme");
    });

    it("refuses a client without a certificate", async () => {
      await using srv = await startServer(Hub, impl(), { credentials: mtls() });
      using client = createClient(Hub, srv.address, tlsChannelCredentials({ caPem: pki.caPem }));
      await assert.rejects(client.getMember({ memberId: "acme" }, { timeoutMs: 3000 }), {
        code: "unavailable",
      });
    });

    it("refuses a client certificate issued by another CA", async () => {
      await using srv = await startServer(Hub, impl(), { credentials: mtls() });
      using client = createClient(
        Hub,
        srv.address,
        tlsChannelCredentials({
          caPem: pki.caPem,
          certChainPem: pki.foreignClientCertPem,
          privateKeyPem: pki.foreignClientKeyPem,
        }),
      );
      await assert.rejects(client.getMember({ memberId: "acme" }, { timeoutMs: 3000 }), {
        code: "unavailable",
      });
    });

    it("refuses inconsistent credential options with `invalid_argument`", () => {
      assert.throws(
        () =>
          tlsServerCredentials({
            certChainPem: pki.serverCertPem,
            privateKeyPem: pki.serverKeyPem,
            requireClientCert: true,
          }),
        { code: "invalid_argument" },
      );
      assert.throws(() => tlsChannelCredentials({ caPem: pki.caPem, certChainPem: pki.clientCertPem }), {
        code: "invalid_argument",
      });
      assert.throws(() => tlsChannelCredentials({ caPem: "not pem" }), { code: "invalid_argument" });
    });
  });
});
