/**
 * `lineage member watch` against a real hub log served over gRPC (`lineage hub serve`): an enrolment in
 * the member's name with a key it does not hold is reported (exit 1), the position is saved, and the
 * member's own entries are not.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";
import { whileServing as serveHub } from "../serving-hub.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-watch-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const ORIGIN = "lineage.test/watch";
const db = ["--data-dir", "hubdb"];

function io(signal?: AbortSignal): CapturedIo {
  return captureIo({ cwd: dir, signal });
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = io();
  const code = await main(args, c);
  return { code, out: c.out(), err: c.err() };
}

async function keygen(name: string): Promise<void> {
  const k = await run(["member", "keygen", "--out", `${name}.pem`, "--json"]);
  assert.equal(k.code, EXIT.ok, k.err);
  writeFileSync(
    join(dir, `${name}.pub.pem`),
    (JSON.parse(k.out) as { public_key_pem: string }).public_key_pem,
  );
}

/** Enrols `memberId` with the key in `<keyName>.pem` through the member request and the hub CLI. */
async function enrol(memberId: string, keyName: string): Promise<void> {
  const r = await run([
    "member",
    "enrol-request",
    "--key",
    `${keyName}.pem`,
    "--member-id",
    memberId,
    "--out",
    `${memberId}-${keyName}.req.json`,
    "--json",
  ]);
  assert.equal(r.code, EXIT.ok, r.err);
  const fp = (JSON.parse(r.out) as { fingerprint: string }).fingerprint;
  const e = await run([
    "hub",
    "enrol",
    "--key",
    "hub.pem",
    "--origin",
    ORIGIN,
    ...db,
    "--request",
    `${memberId}-${keyName}.req.json`,
    "--fingerprint",
    fp,
  ]);
  assert.equal(e.code, EXIT.ok, e.err);
}

/** Serves the hub log until the callback is done, then interrupts it like Ctrl-C. */
function whileServing(fn: (address: string) => Promise<void>): Promise<void> {
  return serveHub(dir, ["--key", "hub.pem", "--origin", ORIGIN, ...db], fn);
}

test("member watch reports an entry in the member's name made with a key it does not hold, once", async () => {
  const k = await run(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN, "--json"]);
  assert.equal(k.code, EXIT.ok, k.err);
  const vkey = (JSON.parse(k.out) as { verifier_key: string }).verifier_key;
  await keygen("acme-real");
  await keygen("hub-made");
  await keygen("globex");
  // The hub (or anyone it lets through) enrols "acme" with a key it made itself, before acme does.
  await enrol("acme", "hub-made");
  await enrol("globex", "globex");
  const watch = (state: string, key: string) => [
    "member",
    "watch",
    "--member",
    "acme",
    "--key",
    key,
    "--state",
    state,
    "--log-key",
    vkey,
  ];
  await whileServing(async (address) => {
    const first = await run([...watch("w1", "acme-real.pub.pem"), "--hub", address]);
    assert.equal(first.code, EXIT.failed, first.out + first.err);
    assert.match(first.out, /FOREIGN {2}entry 0 \(membership\) in the name of acme: ENROL/);
    assert.match(first.out, /1 not made with your keys/);
    assert.doesNotMatch(first.out, /entry 1/); // globex's enrolment is not acme's business
    const saved = JSON.parse(readFileSync(join(dir, "w1", "watch-acme.json"), "utf8")) as { size: number };
    assert.equal(saved.size, 2);
    // Nothing new since: exit 0, nothing reported twice.
    const again = await run([...watch("w1", "acme-real.pub.pem"), "--hub", address, "--json"]);
    assert.equal(again.code, EXIT.ok, again.out + again.err);
    const j = JSON.parse(again.out) as { from: number; to: number; foreign: number };
    assert.deepEqual([j.from, j.to, j.foreign], [2, 2, 0]);
    // Whoever holds the key the log lists sees its own entry as its own.
    const own = await run([...watch("w2", "hub-made.pub.pem"), "--hub", address]);
    assert.equal(own.code, EXIT.ok, own.out + own.err);
    assert.match(own.out, /ok {7}entry 0 \(membership\): ENROL/);
    // A saved position beyond what the hub serves is a rollback.
    writeFileSync(
      join(dir, "w2", "watch-acme.json"),
      JSON.stringify({ size: 3, range: ["00".repeat(32), "11".repeat(32)] }),
    );
    const rolled = await run([...watch("w2", "hub-made.pub.pem"), "--hub", address, "--json"]);
    assert.equal(rolled.code, EXIT.failed);
    assert.equal((JSON.parse(rolled.out) as { code: string }).code, "rollback");
  });
});
