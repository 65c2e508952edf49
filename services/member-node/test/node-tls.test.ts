// The node's transport (issue 8 rules, issue 9 "serve"): plaintext only on loopback, TLS without client
// certificates refused off loopback, and mutual TLS where an allow-listed operator certificate authenticates
// admin calls while another certificate from the same CA (the hub's, say) does not.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { type RpcError, tlsChannelCredentials } from "@lineage/rpc";
import { connectMemberNode, readMemberNodeConfig, silentNodeLogger, startMemberNode } from "../src/index.js";
import { modelEndpoint, nodeFiles, testBattery } from "./protect-fixture.js";

function openssl(dir: string, args: string[]) {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A CA, a server certificate for 127.0.0.1 and two client certificates (operator, hub), all P-256. */
function makePki(dir: string) {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=test-ca",
  ]);
  const leaf = (name: string, ext: string) => {
    openssl(dir, ["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
    execFileSync(
      "sh",
      [
        "-c",
        `printf '%s\\n' '${ext}' > ${name}.ext && openssl x509 -req -in ${name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${name}.pem -days 1 -extfile ${name}.ext`,
      ],
      { cwd: dir, stdio: "pipe" },
    );
    chmodSync(join(dir, `${name}.key`), 0o600);
  };
  leaf("node", "subjectAltName=IP:127.0.0.1");
  leaf("operator", "extendedKeyUsage=clientAuth");
  leaf("hub", "extendedKeyUsage=clientAuth");
}

test("transport: plaintext and server-only TLS are refused off loopback; under mTLS only the allow-listed operator certificate is an admin", async () => {
  await using endpoint = await modelEndpoint();
  await using files = nodeFiles("acme", endpoint, testBattery(5));
  makePki(files.dir);

  const plain = await readMemberNodeConfig(files.writeConfig({ listen: "0.0.0.0:0" }), {});
  await assert.rejects(
    startMemberNode({ config: plain, env: {}, logger: silentNodeLogger, epochPollMs: 0 }),
    (e: RpcError) => {
      assert.equal(e.code, "failed_precondition");
      assert.match(e.message, /refusing plaintext on non-loopback address/);
      return true;
    },
  );
  const tlsOnly = await readMemberNodeConfig(
    files.writeConfig({ listen: "0.0.0.0:0", tls: { cert_file: "node.pem", key_file: "node.key" } }),
    {},
  );
  await assert.rejects(
    startMemberNode({ config: tlsOnly, env: {}, logger: silentNodeLogger, epochPollMs: 0 }),
    /mutual TLS is required/,
  );

  const operatorFp = new X509Certificate(readFileSync(join(files.dir, "operator.pem"))).fingerprint256;
  const config = await readMemberNodeConfig(
    files.writeConfig({
      listen: "127.0.0.1:0",
      tls: { cert_file: "node.pem", key_file: "node.key", client_ca_file: "ca.pem" },
      admin: { client_cert_sha256: [operatorFp] },
    }),
    {},
  );
  await using node = await startMemberNode({ config, env: {}, logger: silentNodeLogger, epochPollMs: 0 });
  const creds = (name: string) =>
    tlsChannelCredentials({
      caPem: readFileSync(join(files.dir, "ca.pem")),
      certChainPem: readFileSync(join(files.dir, `${name}.pem`)),
      privateKeyPem: readFileSync(join(files.dir, `${name}.key`)),
    });
  // A key that is no admin key of the node: only the certificate can authenticate these calls.
  const stranger = Ed25519PrivateKey.generate();
  {
    using operator = connectMemberNode(node.address, creds("operator"), stranger, "acme");
    assert.deepEqual((await operator.listModels()).models, []);
  }
  {
    using hub = connectMemberNode(node.address, creds("hub"), stranger, "acme");
    await assert.rejects(hub.listModels(), (e: RpcError) => e.code === "unauthenticated");
    assert.equal((await hub.info()).memberId, "acme", "GetNodeInfo stays public");
  }
});
