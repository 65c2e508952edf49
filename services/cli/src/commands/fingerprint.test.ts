/**
 * `lineage fingerprint` checks where its outputs go before it probes anything, and a replay that lacks an
 * answer fails naming the replay file and the prompt id.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-fingerprint-"));
after(() => {
  chmodSync(join(dir, "locked"), 0o755);
  rmSync(dir, { recursive: true, force: true });
});

const battery = {
  epoch: "e1",
  probes: [
    { id: "p1", kind: "open", prompt: "Describe a quiet morning." },
    { id: "p2", kind: "open", prompt: "Name a colour." },
  ],
};
writeFileSync(join(dir, "battery.json"), JSON.stringify(battery));
writeFileSync(
  join(dir, "model.jsonl"),
  [
    JSON.stringify({ id: "p1", prompt: "Describe a quiet morning.", output: "Mist over still water." }),
    JSON.stringify({ id: "p2", prompt: "Name a colour.", output: "Teal." }),
  ].join("\n"),
);
writeFileSync(
  join(dir, "partial.jsonl"),
  JSON.stringify({ id: "p1", prompt: "Describe a quiet morning.", output: "Mist." }),
);
mkdirSync(join(dir, "locked"));
chmodSync(join(dir, "locked"), 0o555);
const asRoot = process.getuid?.() === 0;

async function fingerprint(model: string, out: string) {
  const io = captureIo({ cwd: dir });
  const code = await main(["fingerprint", "--model", model, "--battery", "battery.json", "--out", out], io);
  return { code, err: io.err(), out: io.out() };
}

test("fingerprint writes the fingerprint of a replay model", async () => {
  const r = await fingerprint("replay:model.jsonl", "fp.json");
  assert.equal(r.code, EXIT.ok, r.err);
  const fp = JSON.parse(readFileSync(join(dir, "fp.json"), "utf8")) as { responses: Record<string, unknown> };
  assert.deepEqual(Object.keys(fp.responses).sort(), ["p1", "p2"]);
});

test("fingerprint --out in a missing directory is refused before probing (exit 2, names the flag)", async () => {
  // The model is an endpoint nobody listens on: had it been probed, the exit code would be 3.
  const r = await fingerprint("http://127.0.0.1:1/v1?model=x", "no-such-dir/fp.json");
  assert.equal(r.code, EXIT.usage, r.err);
  assert.match(r.err, /--out/);
  assert.ok(r.err.includes(join(dir, "no-such-dir")), r.err);
  assert.doesNotMatch(r.err, /probing/);
});

test("fingerprint --out naming a directory is refused before probing (exit 2)", async () => {
  const r = await fingerprint("http://127.0.0.1:1/v1?model=x", "locked");
  assert.equal(r.code, EXIT.usage, r.err);
  assert.match(r.err, /--out .*locked: is a directory/);
  const f = await fingerprint("http://127.0.0.1:1/v1?model=x", "model.jsonl/fp.json");
  assert.equal(f.code, EXIT.usage, f.err);
  assert.match(f.err, /model\.jsonl is not a directory/);
});

test("fingerprint --out in a read-only directory is refused before probing (exit 2)", {
  skip: asRoot ? "running as root: permission bits do not stop root from writing" : false,
}, async () => {
  const r = await fingerprint("http://127.0.0.1:1/v1?model=x", "locked/fp.json");
  assert.equal(r.code, EXIT.usage, r.err);
  assert.match(r.err, /--out .*not writable/);
  assert.equal(existsSync(join(dir, "locked", "fp.json")), false);
});

test("a replay without an answer for a probe names the file and the prompt id (exit 2)", async () => {
  const r = await fingerprint("replay:partial.jsonl", "fp2.json");
  assert.equal(r.code, EXIT.usage, r.err);
  assert.match(r.err, /partial\.jsonl/);
  assert.match(r.err, /"p2"/);
  assert.doesNotMatch(r.err, /Name a colour/);
  assert.equal(existsSync(join(dir, "fp2.json")), false);
});
