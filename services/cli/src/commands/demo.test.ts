import assert from "node:assert/strict";
import { test } from "node:test";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

test("the demo runs every role in one process: every attestation is logged and audits, none accuses falsely", async () => {
  const io = captureIo();
  assert.equal(await main(["demo", "--size", "small", "--unrelated", "1", "--json"], io), EXIT.ok);
  const r = JSON.parse(io.out()) as {
    results: { audit: string; log_index: number; decision: string; correct: boolean }[];
    audited: number;
    false_accusations: number;
    checkpoint: { tree_size: number; note: string };
    hub_verifier_key: string;
  };
  const logged = r.results.filter((x) => x.log_index >= 0);
  assert.ok(logged.length >= 8, "one suspect per scenario plus an unrelated one was confirmed by members");
  assert.equal(r.audited, logged.length);
  assert.ok(logged.every((x) => x.audit === "verified"));
  assert.equal(r.false_accusations, 0);
  // Membership records (3 members) plus the attestations are all in the signed checkpoint.
  assert.equal(r.checkpoint.tree_size, logged.length + 3);
  assert.match(r.checkpoint.note, /^lineage\.demo\/log\n\d+\n/);
});

test("demo flags are validated", async () => {
  const io = captureIo();
  assert.equal(await main(["demo", "--unrelated", "99"], io), EXIT.usage);
  assert.match(io.err(), /--unrelated must be between 0 and 20/);
});
