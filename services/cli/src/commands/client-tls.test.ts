/**
 * Commands that talk to a running hub (--hub) reach one that requires mutual TLS with a client certificate
 * from --tls-cert/--tls-key or $LINEAGE_TLS_CERT/$LINEAGE_TLS_KEY (issue 12's multi-process deployment); the
 * files are checked like other key reads (a key others can read, PEM of the wrong kind, a half pair are
 * refused, naming the flag). The hub is a real `lineage hub serve --tls-client-ca` on loopback; the
 * certificates are made by the openssl CLI at test time.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-client-tls-"));
const io = (env: Record<string, string> = {}, signal?: AbortSignal): CapturedIo => ({
  ...captureIo({ cwd: dir, signal }),
  env,
});
const ORIGIN = "lineage.test/client-tls";

function openssl(args: string[]) {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A CA, the hub's server certificate for 127.0.0.1, and a client certificate; plus a second CA's client. */
function makePki() {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  for (const ca of ["ca", "other-ca"])
    openssl([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.pem`,
      "-days",
      "1",
      "-subj",
      `/CN=${ca}`,
    ]);
  const leaf = (name: string, ca: string, ext: string) => {
    openssl(["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.pem`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    ]);
    chmodSync(join(dir, `${name}.key`), 0o600);
  };
  leaf("server", "ca", "subjectAltName=IP:127.0.0.1");
  leaf("client", "ca", "extendedKeyUsage=clientAuth");
  leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth");
}

let hubAddress = "";
let stopHub: () => Promise<void> = async () => {};

before(async () => {
  makePki();
  const k = io();
  assert.equal(await main(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN], k), EXIT.ok, k.err());
  const ac = new AbortController();
  const s = io({}, ac.signal);
  const running = main(
    [
      "hub",
      "serve",
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      "--data-dir",
      "hubdb",
      "--listen",
      "127.0.0.1:0",
      "--tls-cert",
      "server.pem",
      "--tls-key",
      "server.key",
      "--tls-client-ca",
      "ca.pem",
      "--json",
    ],
    s,
  );
  for (let i = 0; i < 600 && hubAddress === ""; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (s.out().trim().endsWith("}")) hubAddress = (JSON.parse(s.out()) as { address: string }).address;
  }
  assert.notEqual(hubAddress, "", s.err());
  stopHub = async () => {
    ac.abort();
    assert.equal(await running, EXIT.ok, s.err());
  };
});

after(async () => {
  await stopHub();
  rmSync(dir, { recursive: true, force: true });
});

const list = (extra: string[], env: Record<string, string> = {}) => {
  const c = io(env);
  return main(
    ["hub", "cases", "list", "--hub", hubAddress, "--json", "--timeout-ms", "5000", ...extra],
    c,
  ).then((code) => ({ code, out: c.out(), err: c.err() }));
};

test("--hub against a mutual-TLS hub: the client certificate from the flags or the environment is presented", {
  timeout: 120_000,
}, async () => {
  // TLS without a client certificate: the hub refuses the handshake.
  const bare = await list(["--tls-ca", "ca.pem"]);
  assert.notEqual(bare.code, EXIT.ok, bare.out);

  const flags = await list(["--tls-ca", "ca.pem", "--tls-cert", "client.pem", "--tls-key", "client.key"]);
  assert.equal(flags.code, EXIT.ok, flags.err);
  assert.deepEqual(JSON.parse(flags.out), { cases: [] });

  const env = await list(["--tls-ca", "ca.pem"], {
    LINEAGE_TLS_CERT: "client.pem",
    LINEAGE_TLS_KEY: "client.key",
  });
  assert.equal(env.code, EXIT.ok, env.err);

  // A certificate from a CA the hub does not trust is refused by the hub.
  const stranger = await list([
    "--tls-ca",
    "ca.pem",
    "--tls-cert",
    "stranger.pem",
    "--tls-key",
    "stranger.key",
  ]);
  assert.notEqual(stranger.code, EXIT.ok, stranger.out);
});

test("client certificate files are checked before anything connects, naming the flag", async () => {
  const half = await list(["--tls-ca", "ca.pem", "--tls-cert", "client.pem"]);
  assert.equal(half.code, EXIT.usage);
  assert.match(half.err, /--tls-cert and --tls-key go together/);
  const halfEnv = await list(["--tls-ca", "ca.pem"], { LINEAGE_TLS_KEY: "client.key" });
  assert.equal(halfEnv.code, EXIT.usage);
  assert.match(halfEnv.err, /\$LINEAGE_TLS_CERT and \$LINEAGE_TLS_KEY go together/);
  const noCa = await list(["--tls-cert", "client.pem", "--tls-key", "client.key"]);
  assert.equal(noCa.code, EXIT.usage);
  assert.match(noCa.err, /--tls-cert\/--tls-key need --tls-ca/);

  copyFileSync(join(dir, "client.key"), join(dir, "open.key"));
  chmodSync(join(dir, "open.key"), 0o644);
  const open = await list(["--tls-ca", "ca.pem", "--tls-cert", "client.pem", "--tls-key", "open.key"]);
  assert.equal(open.code, EXIT.usage);
  assert.match(
    open.err,
    /--tls-key .*open\.key is a private key accessible by group or others \(mode 0644\)/,
  );

  const swapped = await list(["--tls-ca", "ca.pem", "--tls-cert", "client.key", "--tls-key", "client.pem"]);
  assert.equal(swapped.code, EXIT.usage);
  assert.match(swapped.err, /--tls-cert client\.key holds no PEM certificate/);

  writeFileSync(join(dir, "garbage.pem"), "not a certificate\n");
  const garbage = await list(["--tls-ca", "garbage.pem"]);
  assert.equal(garbage.code, EXIT.usage);
  assert.match(garbage.err, /--tls-ca garbage\.pem holds no PEM certificate/);

  const missing = await list(["--tls-ca", "ca.pem", "--tls-cert", "nope.pem", "--tls-key", "client.key"]);
  assert.equal(missing.code, EXIT.unavailable);
  assert.match(missing.err, /cannot read --tls-cert .*nope\.pem: ENOENT/);

  // A key that is not the certificate's.
  const mismatch = await list([
    "--tls-ca",
    "ca.pem",
    "--tls-cert",
    "client.pem",
    "--tls-key",
    "stranger.key",
  ]);
  assert.notEqual(mismatch.code, EXIT.ok);
  assert.match(mismatch.err, /TLS files do not make a client identity|key values mismatch/);
});
