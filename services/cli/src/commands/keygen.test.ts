/**
 * Key files (issue 8): keygen writes through a temp file and never follows a symlink at the target, even
 * with --force; private keys readable by group or others are refused when read.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-keygen-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const io = (): CapturedIo => captureIo({ cwd: dir });

test("keygen writes a 0600 key, refuses to overwrite without --force, replaces it with --force", async () => {
  const a = io();
  assert.equal(await main(["member", "keygen", "--out", "k.pem", "--json"], a), EXIT.ok, a.err());
  const first = readFileSync(join(dir, "k.pem"), "utf8");
  assert.match(first, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(statSync(join(dir, "k.pem")).mode & 0o777, 0o600);
  const b = io();
  assert.equal(await main(["member", "keygen", "--out", "k.pem"], b), EXIT.usage);
  assert.match(b.err(), /exists \(use --force to replace it\)/);
  assert.equal(readFileSync(join(dir, "k.pem"), "utf8"), first);
  const c = io();
  assert.equal(await main(["member", "keygen", "--out", "k.pem", "--force"], c), EXIT.ok, c.err());
  assert.notEqual(readFileSync(join(dir, "k.pem"), "utf8"), first);
  assert.equal(statSync(join(dir, "k.pem")).mode & 0o777, 0o600);
  // No temp file is left behind.
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith(".tmp")),
    [],
  );
});

test("a symlink at the target is refused, with and without --force, and its target is untouched", async () => {
  const victim = join(dir, "victim.txt");
  writeFileSync(victim, "do not overwrite\n");
  symlinkSync(victim, join(dir, "link.pem"));
  for (const extra of [[], ["--force"]]) {
    const e = io();
    assert.equal(
      await main(["hub", "keygen", "--out", "link.pem", "--origin", "o.test/log", ...extra], e),
      EXIT.usage,
    );
    assert.match(e.err(), /link\.pem is a symbolic link; refusing to follow or replace it/);
    assert.equal(readFileSync(victim, "utf8"), "do not overwrite\n");
    assert.equal(lstatSync(join(dir, "link.pem")).isSymbolicLink(), true);
  }
  // A dangling symlink (the classic planted-link attack: O_CREAT would create its target) too.
  symlinkSync(join(dir, "created-by-attacker.pem"), join(dir, "dangling.pem"));
  const d = io();
  assert.equal(await main(["member", "keygen", "--out", "dangling.pem", "--force"], d), EXIT.usage);
  assert.equal(existsSync(join(dir, "created-by-attacker.pem")), false);
  // A directory at the target is not a key file either.
  const f = io();
  assert.equal(await main(["member", "keygen", "--out", ".", "--force"], f), EXIT.usage);
  assert.match(f.err(), /is not a regular file/);
});

test("a private key readable by group or others is refused when read; 0600 and 0400 are accepted", async () => {
  const a = io();
  assert.equal(await main(["member", "keygen", "--out", "m.pem"], a), EXIT.ok, a.err());
  for (const mode of [0o644, 0o640, 0o604, 0o620]) {
    chmodSync(join(dir, "m.pem"), mode);
    const e = io();
    assert.equal(await main(["member", "pubkey", "--key", "m.pem"], e), EXIT.usage, mode.toString(8));
    assert.match(
      e.err(),
      new RegExp(
        `m\\.pem is a private key accessible by group or others \\(mode 0${mode.toString(8)}\\); run chmod 600`,
      ),
    );
  }
  for (const mode of [0o600, 0o400]) {
    chmodSync(join(dir, "m.pem"), mode);
    const ok = io();
    assert.equal(await main(["member", "pubkey", "--key", "m.pem", "--json"], ok), EXIT.ok, ok.err());
    assert.match(ok.out(), /"key_id"/);
  }
  // An oversized "key" is refused before it is parsed.
  writeFileSync(join(dir, "big.pem"), "x".repeat(20_000), { mode: 0o600 });
  const big = io();
  assert.equal(await main(["member", "pubkey", "--key", "big.pem"], big), EXIT.usage);
  assert.match(big.err(), /too large to be a key/);
});
