import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function io(): CapturedIo {
  return captureIo({ cwd: dir });
}

test("member keygen writes a 0600 key, never prints it, and refuses to overwrite", async () => {
  const a = io();
  assert.equal(await main(["member", "keygen", "--out", "member.pem", "--json"], a), EXIT.ok);
  const res = JSON.parse(a.out()) as { key_id: string; public_key_pem: string };
  assert.match(res.key_id, /^[0-9a-f]{64}$/);
  const file = join(dir, "member.pem");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const secret = readFileSync(file, "utf8");
  assert.match(secret, /BEGIN PRIVATE KEY/);
  assert.ok(!a.out().includes("PRIVATE KEY"), "the private key is never printed");

  const b = io();
  assert.equal(await main(["member", "keygen", "--out", "member.pem"], b), EXIT.usage);
  assert.match(b.err(), /exists \(use --force/);
  assert.equal(readFileSync(file, "utf8"), secret, "the existing key is untouched");

  const c = io();
  assert.equal(await main(["member", "pubkey", "--key", "member.pem", "--json"], c), EXIT.ok);
  assert.equal(JSON.parse(c.out()).key_id, res.key_id);
});

test("member pubkey names a file that is not a key", async () => {
  const a = io();
  assert.equal(await main(["member", "pubkey", "--key", "missing.pem"], a), EXIT.unavailable);
  assert.match(a.err(), /cannot read .*missing\.pem: ENOENT/);
});

test("hub and member migrate on the embedded database, idempotently", async () => {
  const a = io();
  assert.equal(await main(["hub", "migrate", "--data-dir", "db/hub", "--json"], a), EXIT.ok);
  const first = JSON.parse(a.out()) as { applied: string[]; backend: string };
  assert.equal(first.backend, "pglite");
  assert.ok(first.applied.length >= 1);
  const b = io();
  assert.equal(await main(["hub", "migrate", "--data-dir", "db/hub", "--json"], b), EXIT.ok);
  assert.deepEqual(JSON.parse(b.out()).applied, []);
  const c = io();
  assert.equal(await main(["member", "migrate", "--data-dir", "db/member"], c), EXIT.ok);
  assert.match(c.out(), /member-node/);
});

test("database flags are checked before anything is opened", async () => {
  const a = io();
  assert.equal(await main(["hub", "migrate", "--pg", "mysql://x"], a), EXIT.usage);
  assert.match(a.err(), /--pg must be a postgres:\/\/ URL/);
  const b = io();
  assert.equal(
    await main(["hub", "migrate", "--pg", "postgres://x@127.0.0.1/y", "--data-dir", "d"], b),
    EXIT.usage,
  );
  assert.match(b.err(), /exclude each other/);
  const c = io();
  assert.equal(
    await main(["hub", "migrate", "--pg", "postgres://postgres@127.0.0.1:1/none"], c),
    EXIT.unavailable,
  );
});
