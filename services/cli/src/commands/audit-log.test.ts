/**
 * `lineage audit log` as the CLI parses it: listed under `audit`, usage errors exit 2 before anything connects,
 * a hub that cannot be read exits 3 ("could not check", in JSON too). The walk itself, against a real hub log
 * served over gRPC (exit 0 and 1, the summary and --json), is services/auditor/test/log-walk.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Ed25519PrivateKey, formatVerifierKey } from "@lineage/crypto";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const vkey = formatVerifierKey("lineage.test/cli-log", Ed25519PrivateKey.generate().publicKey);

test("audit log: listed, usage errors exit 2, an unreachable hub exits 3", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-log-cli-"));
  try {
    const help = captureIo({ cwd: dir });
    assert.equal(await main(["audit", "--help"], help), EXIT.ok);
    assert.match(help.out(), /\blog\b.*whole log/);

    const state = ["--state", join(dir, "state")];
    for (const args of [
      ["audit", "log", "--hub", "127.0.0.1:1", ...state],
      ["audit", "log", "--log-key", vkey, ...state],
      ["audit", "log", "--log-key", vkey, "--hub", "not an address", ...state],
      ["audit", "log", "--log-key", vkey, "--hub", "127.0.0.1:1", "--witnesses", "1", ...state],
      ["audit", "log", "--log-key", "not-a-key", "--hub", "127.0.0.1:1", ...state],
    ]) {
      const io = captureIo({ cwd: dir });
      assert.equal(await main(args, io), EXIT.usage, `${args.join(" ")}: ${io.err()}`);
    }

    const down = captureIo({ cwd: dir });
    const code = await main(
      ["audit", "log", "--log-key", vkey, "--hub", "127.0.0.1:1", "--timeout-ms", "2000", "--json", ...state],
      down,
    );
    assert.equal(code, EXIT.unavailable, down.err());
    const json = JSON.parse(down.out()) as { verified: boolean; outcome: string; code: string };
    assert.deepEqual([json.verified, json.outcome, json.code], [false, "could_not_check", "unavailable"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
