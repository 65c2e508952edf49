/**
 * `lineage hub keys rotate-root` and `hub keys retire` through the CLI on an embedded data folder
 * (docs/specs/hub-keys.md; hub-keys-files.ts): the old root signs the handover, hub.pem becomes the new root,
 * hub.roots.pub keeps the trust root, later opens (hub members, another rotation) follow the chain, the old
 * root file is refused, an auditor holding only the first root follows the rotations; a retired purpose key's
 * file is removed and the purpose is unsignable until a new delegation.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Ed25519PrivateKey, toHex } from "@lineage/crypto";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-hub-root-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const io = (): CapturedIo => captureIo({ cwd: dir });
const ORIGIN = "keys.test/root";

test("hub keys rotate-root: logged handover, key files swapped, the chain followed by later opens; retire removes the purpose", async () => {
  const k = io();
  assert.equal(
    await main(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN, "--key-set", "--json"], k),
    EXIT.ok,
    k.err(),
  );
  const r0Pem = readFileSync(join(dir, "hub.pem"), "utf8");
  const r0 = Ed25519PrivateKey.fromPem(r0Pem);
  copyFileSync(join(dir, "hub.pem"), join(dir, "old-root.pem"));
  const log = ["--key", "hub.pem", "--origin", ORIGIN, "--data-dir", join(dir, "data")];

  const a = io();
  assert.equal(
    await main(["hub", "keys", "rotate-root", ...log, "--reason", "yearly", "--json"], a),
    EXIT.ok,
    a.err(),
  );
  const first = JSON.parse(a.out()) as {
    old_root_key_id: string;
    root_key_id: string;
    rotation_index: number;
    verifier_key: string;
    pending: null;
  };
  assert.equal(first.old_root_key_id, r0.keyId);
  assert.equal(first.pending, null);
  // A pending rotation is logged first on open (0), then the three purposes are delegated by the new root (1..3).
  assert.equal(first.rotation_index, 0);
  const r1 = Ed25519PrivateKey.fromPem(readFileSync(join(dir, "hub.pem"), "utf8"));
  assert.equal(r1.keyId, first.root_key_id, "hub.pem is the new root");
  assert.equal(statSync(join(dir, "hub.pem")).mode & 0o777, 0o600);
  assert.equal(existsSync(join(dir, "hub.root-next.pem")), false);
  const roots = readFileSync(join(dir, "hub.roots.pub"), "utf8");
  assert.ok(roots.includes(toHex(r0.publicKey.raw)), "the trust root is kept");

  // A second rotation follows the chain from the trust root (R0 -> R1 -> R2).
  const b = io();
  assert.equal(await main(["hub", "keys", "rotate-root", ...log, "--json"], b), EXIT.ok, b.err());
  const second = JSON.parse(b.out()) as { old_root_key_id: string; rotation_index: number };
  assert.equal(second.old_root_key_id, r1.keyId);
  assert.equal(second.rotation_index, 4);
  const lines = readFileSync(join(dir, "hub.roots.pub"), "utf8")
    .split("\n")
    .filter((l) => /^[0-9a-f]{64}$/.test(l));
  assert.deepEqual(lines, [toHex(r0.publicKey.raw), toHex(r1.publicKey.raw)]);

  // The old root's file is refused: the log's root is the new one.
  const old = io();
  const oldFlags = ["--key", "old-root.pem", "--origin", ORIGIN, "--data-dir", join(dir, "data")];
  assert.notEqual(await main(["hub", "keys", "retire", ...oldFlags, "--purpose", "sessions"], old), EXIT.ok);
  assert.match(old.err(), /root/);

  // Retire the sessions key: logged, its file removed; retiring again is refused.
  const c = io();
  assert.equal(
    await main(["hub", "keys", "retire", ...log, "--purpose", "sessions", "--json"], c),
    EXIT.ok,
    c.err(),
  );
  const retired = JSON.parse(c.out()) as { retirement_index: number; removed_file: string };
  assert.equal(existsSync(retired.removed_file), false);
  const again = io();
  assert.notEqual(await main(["hub", "keys", "retire", ...log, "--purpose", "sessions"], again), EXIT.ok);
  assert.match(again.err(), /retired|sessions/);
  // A new delegation restores it.
  const d = io();
  assert.equal(
    await main(["hub", "keys", "rotate", ...log, "--purpose", "sessions", "--json"], d),
    EXIT.ok,
    d.err(),
  );
  assert.ok(
    (JSON.parse(d.out()) as { delegation_index: number }).delegation_index > retired.retirement_index,
  );
  for (const bad of ["root", "nothing"]) {
    const e = io();
    assert.equal(await main(["hub", "keys", "retire", ...log, "--purpose", bad], e), EXIT.usage);
  }
});
