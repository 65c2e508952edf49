/**
 * The hub's key set on disk (docs/specs/hub-keys.md): `hub keygen --key-set` writes the root and one key per purpose
 * (0600, through a temp file); `hub keys rotate` replaces one and logs its delegation through the owner path;
 * a purpose key readable by others, or a symlink, is refused when read.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-hub-keys-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const io = (): CapturedIo => captureIo({ cwd: dir });
const ORIGIN = "keys.test/log";

test("hub keygen --key-set writes the key set; hub keys rotate logs each new purpose key's delegation", async () => {
  const a = io();
  assert.equal(
    await main(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN, "--key-set", "--json"], a),
    EXIT.ok,
    a.err(),
  );
  const out = JSON.parse(a.out()) as { purpose_keys: Record<string, { key_id: string; file: string }> };
  assert.deepEqual(Object.keys(out.purpose_keys), ["membership", "sessions", "countersign"]);
  for (const p of ["membership", "sessions", "countersign"]) {
    const file = join(dir, `hub.${p}.pem`);
    assert.equal(out.purpose_keys[p]?.file, file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, "utf8"), /^-----BEGIN PRIVATE KEY-----/);
  }
  const log = ["--key", "hub.pem", "--origin", ORIGIN, "--data-dir", join(dir, "data")];
  const r1 = io();
  assert.equal(
    await main(["hub", "keys", "rotate", ...log, "--purpose", "countersign", "--json"], r1),
    EXIT.ok,
    r1.err(),
  );
  const first = JSON.parse(r1.out()) as { key_id: string; delegation_index: number; pending: null };
  // The first open delegated membership (0) and sessions (1), then the new countersignature key (2).
  assert.equal(first.delegation_index, 2);
  assert.equal(first.pending, null);
  assert.notEqual(first.key_id, out.purpose_keys.countersign?.key_id);
  const r2 = io();
  assert.equal(
    await main(["hub", "keys", "rotate", ...log, "--purpose", "sessions", "--json"], r2),
    EXIT.ok,
    r2.err(),
  );
  assert.equal((JSON.parse(r2.out()) as { delegation_index: number }).delegation_index, 3);
  for (const bad of ["root", "everything"]) {
    const e = io();
    assert.equal(await main(["hub", "keys", "rotate", ...log, "--purpose", bad], e), EXIT.usage);
    assert.match(e.err(), /--purpose/);
  }
});

test("a purpose key file open to others, or a symbolic link, is refused before the log is opened", async () => {
  const a = io();
  assert.equal(
    await main(["hub", "keygen", "--out", "h2.pem", "--origin", ORIGIN, "--key-set"], a),
    EXIT.ok,
    a.err(),
  );
  chmodSync(join(dir, "h2.sessions.pem"), 0o640);
  const log = ["--key", "h2.pem", "--origin", ORIGIN, "--data-dir", join(dir, "data2")];
  const e = io();
  assert.equal(await main(["hub", "keys", "rotate", ...log, "--purpose", "membership"], e), EXIT.usage);
  assert.match(e.err(), /h2\.sessions\.pem is a private key accessible by group or others/);
  chmodSync(join(dir, "h2.sessions.pem"), 0o600);
  rmSync(join(dir, "h2.countersign.pem"));
  symlinkSync(join(dir, "h2.sessions.pem"), join(dir, "h2.countersign.pem"));
  const s = io();
  assert.equal(await main(["hub", "keys", "rotate", ...log, "--purpose", "membership"], s), EXIT.usage);
  assert.match(s.err(), /countersign key .* is a symbolic link/);
});

/** Runs `hub serve` until it prints its JSON line; returns that line, then stops it like Ctrl-C. */
async function serveOnce(args: readonly string[]): Promise<Record<string, unknown>> {
  const ac = new AbortController();
  const s = captureIo({ cwd: dir, signal: ac.signal });
  const running = main(["hub", "serve", ...args, "--listen", "127.0.0.1:0", "--json"], s);
  let line: Record<string, unknown> | undefined;
  for (let i = 0; i < 600 && line === undefined; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (s.out().trim().endsWith("}")) line = JSON.parse(s.out()) as Record<string, unknown>;
  }
  ac.abort();
  assert.equal(await running, EXIT.ok, s.err());
  assert.ok(line !== undefined, s.err());
  return line;
}

test("hub serve with a key set logs its delegations on first start only, and reports which key signs each purpose", async () => {
  const k = io();
  assert.equal(
    await main(["hub", "keygen", "--out", "h3.pem", "--origin", ORIGIN, "--key-set", "--json"], k),
    EXIT.ok,
    k.err(),
  );
  const made = JSON.parse(k.out()) as { purpose_keys: Record<string, { key_id: string }> };
  const args = ["--key", "h3.pem", "--origin", ORIGIN, "--data-dir", join(dir, "data3")];
  const first = await serveOnce(args);
  assert.equal(first.size, 3);
  assert.deepEqual(first.purpose_key_ids, {
    membership: made.purpose_keys.membership?.key_id,
    sessions: made.purpose_keys.sessions?.key_id,
    countersign: made.purpose_keys.countersign?.key_id,
  });
  assert.equal((await serveOnce(args)).size, 3);
});
