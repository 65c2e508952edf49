/**
 * `hub serve` transport policy (issue 8): plaintext only on loopback; off loopback TLS is required, and
 * mutual TLS when --require-client-cert is given. Certificates are made by the openssl CLI at test time.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-hub-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const io = (signal?: AbortSignal): CapturedIo => captureIo({ cwd: dir, signal });
const ORIGIN = "lineage.test/log";
const base = ["hub", "serve", "--key", "hub.pem", "--origin", ORIGIN, "--data-dir", "hubdb"];

before(async () => {
  const k = io();
  assert.equal(await main(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN], k), EXIT.ok, k.err());
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "tls.key",
      "-out",
      "tls.pem",
      "-days",
      "1",
      "-subj",
      "/CN=hub",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { cwd: dir, stdio: "pipe" },
  );
  chmodSync(join(dir, "tls.key"), 0o600);
});

/** Starts `hub serve` with `args`, waits for its JSON line, interrupts it; returns what it printed. */
async function serveOnce(args: string[]): Promise<{ address: string; tls: boolean }> {
  const ac = new AbortController();
  const s = io(ac.signal);
  const running = main([...base, ...args, "--json"], s);
  let out: { address: string; tls: boolean } | undefined;
  for (let i = 0; i < 300 && out === undefined; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (s.out().trim().endsWith("}")) out = JSON.parse(s.out()) as { address: string; tls: boolean };
  }
  ac.abort();
  assert.equal(await running, EXIT.ok, s.err());
  assert.ok(out, s.err());
  return out;
}

test("plaintext on a non-loopback address exits 2 before anything is opened", async () => {
  for (const listen of ["0.0.0.0:0", "[::]:0", "192.0.2.1:7443", "hub.example:7443"]) {
    const e = io();
    assert.equal(await main([...base, "--listen", listen], e), EXIT.usage, listen);
    assert.match(e.err(), /refusing plaintext on non-loopback address .*TLS is required off loopback/);
  }
  assert.equal(existsSync(join(dir, "hubdb")), false, "the store was not opened");
});

test("loopback plaintext is still served", async () => {
  const r = await serveOnce(["--listen", "127.0.0.1:0"]);
  assert.match(r.address, /^127\.0\.0\.1:\d+$/);
  assert.equal(r.tls, false);
});

test("off loopback TLS is served; --require-client-cert demands mutual TLS", async () => {
  const tls = ["--tls-cert", "tls.pem", "--tls-key", "tls.key"];
  const r = await serveOnce(["--listen", "0.0.0.0:0", ...tls]);
  assert.equal(r.tls, true);
  const e = io();
  assert.equal(
    await main([...base, "--listen", "0.0.0.0:0", ...tls, "--require-client-cert"], e),
    EXIT.usage,
  );
  assert.match(e.err(), /mutual TLS is required/);
  const m = await serveOnce([
    "--listen",
    "0.0.0.0:0",
    ...tls,
    "--tls-client-ca",
    "tls.pem",
    "--require-client-cert",
  ]);
  assert.equal(m.tls, true);
});

test("a TLS private key readable by group or others is refused", async () => {
  chmodSync(join(dir, "tls.key"), 0o644);
  try {
    const e = io();
    assert.equal(
      await main([...base, "--listen", "0.0.0.0:0", "--tls-cert", "tls.pem", "--tls-key", "tls.key"], e),
      EXIT.usage,
    );
    assert.match(
      e.err(),
      /--tls-key .*tls\.key is a private key accessible by group or others \(mode 0644\)/,
    );
  } finally {
    chmodSync(join(dir, "tls.key"), 0o600);
  }
});
