/**
 * `lineage hub epoch create|rotate|show` on the embedded database: a battery file becomes a hub-signed
 * epoch; rotation starts the next number; `show` prints public facts only (no prompt, no key); bad battery
 * files, a wrong hub key and a second `create` are refused with a clear message before anything is stored.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { LogEntryKind, LogLeafSchema } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { type HubDatabase, openStore } from "@lineage/store";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-hub-epoch-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const db = ["--data-dir", "hubdb"];
const ORIGIN = "lineage.test/epochs";

async function run(args: string[]) {
  const io = captureIo({ cwd: dir });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

function battery(name: string, probes: unknown[]): string {
  writeFileSync(join(dir, name), JSON.stringify({ probes }));
  return name;
}

const GOOD = [
  {
    index: 0,
    kind: "edge_case",
    prompt: "SECRET-PROMPT-0: capital of France?",
    reference_answer: "Paris",
    max_tokens: 8,
  },
  { index: 1, kind: "open_ended", prompt: "SECRET-PROMPT-1: describe rain.", max_tokens: 64 },
  {
    index: 2,
    kind: "short_completion",
    prompt: "SECRET-PROMPT-2: The sky is",
    max_tokens: 4,
    top_logprobs: 5,
  },
];

test("hub epoch create, rotate and show", async () => {
  assert.equal((await run(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN])).code, EXIT.ok);
  assert.equal((await run(["hub", "keygen", "--out", "other.pem", "--origin", ORIGIN])).code, EXIT.ok);
  const key = ["--key", "hub.pem", "--origin", ORIGIN, ...db];

  const created = await run([
    "hub",
    "epoch",
    "create",
    ...key,
    "--epoch-id",
    "2026-12",
    "--battery",
    battery("b1.json", GOOD),
    "--json",
  ]);
  assert.equal(created.code, EXIT.ok, created.err);
  const facts = JSON.parse(created.out) as {
    epoch_id: string;
    number: number;
    probes: number;
    battery_digest: string;
  };
  assert.equal(facts.epoch_id, "2026-12");
  assert.equal(facts.number, 1);
  assert.equal(facts.probes, 3);
  assert.match(facts.battery_digest, /^[0-9a-f]{64}$/);

  const again = await run([
    "hub",
    "epoch",
    "create",
    ...key,
    "--epoch-id",
    "2026-13",
    "--battery",
    "b1.json",
  ]);
  assert.equal(again.code, EXIT.failed);
  assert.match(again.err, /rotate instead/);

  const wrongKey = await run([
    "hub",
    "epoch",
    "rotate",
    "--key",
    "other.pem",
    "--origin",
    ORIGIN,
    ...db,
    "--epoch-id",
    "x",
    "--battery",
    "b1.json",
  ]);
  assert.notEqual(wrongKey.code, EXIT.ok);

  for (const [name, probes, pattern] of [
    ["gap.json", [GOOD[0], { ...GOOD[1], index: 5 }], /probe indexes must be 0\.\.1/],
    ["kind.json", [{ ...GOOD[1], kind: "poem" }], /kind must be one of/],
    [
      "ref.json",
      [{ ...GOOD[1], index: 0, reference_answer: "x" }],
      /only an EDGE_CASE probe has a reference_answer/,
    ],
    ["extra.json", [{ ...GOOD[1], secret: 1 }], /unknown field "secret"/],
    ["empty.json", [], /1\.\.4096 probes/],
  ] as const) {
    const r = await run([
      "hub",
      "epoch",
      "rotate",
      ...key,
      "--epoch-id",
      "bad",
      "--battery",
      battery(name, [...probes]),
    ]);
    assert.equal(r.code, EXIT.usage, `${name}: ${r.err}`);
    assert.match(r.err, pattern, name);
  }
  writeFileSync(join(dir, "notjson.json"), "{probes:");
  assert.match(
    (await run(["hub", "epoch", "rotate", ...key, "--epoch-id", "bad", "--battery", "notjson.json"])).err,
    /not valid JSON/,
  );
  const badDays = await run([
    "hub",
    "epoch",
    "rotate",
    ...key,
    "--epoch-id",
    "2027-01",
    "--battery",
    "b1.json",
    "--days",
    "0",
  ]);
  assert.equal(badDays.code, EXIT.usage);

  const rotated = await run([
    "hub",
    "epoch",
    "rotate",
    ...key,
    "--epoch-id",
    "2027-01",
    "--battery",
    "b1.json",
    "--days",
    "7",
    "--json",
  ]);
  assert.equal(rotated.code, EXIT.ok, rotated.err);
  assert.deepEqual(
    (({ epoch_id, number, previous_epoch_id }) => ({ epoch_id, number, previous_epoch_id }))(
      JSON.parse(rotated.out),
    ),
    { epoch_id: "2027-01", number: 2, previous_epoch_id: "2026-12" },
  );

  const shown = await run(["hub", "epoch", "show", ...db]);
  assert.equal(shown.code, EXIT.ok, shown.err);
  assert.match(shown.out, /epoch 2027-01 \(number 2\), 3 probes/);
  assert.doesNotMatch(shown.out + rotated.out + created.out, /SECRET-PROMPT|Paris/);
  const old = await run(["hub", "epoch", "show", ...db, "--epoch-id", "2026-12", "--json"]);
  assert.equal(JSON.parse(old.out).number, 1);
  assert.equal((await run(["hub", "epoch", "show", ...db, "--epoch-id", "nope"])).code, EXIT.failed);
});

test("hub epoch create with a key set: the epoch's statement is logged, signed by the membership key", async () => {
  const keygen = await run(["hub", "keygen", "--out", "set.pem", "--origin", ORIGIN, "--key-set"]);
  assert.equal(keygen.code, EXIT.ok, keygen.err);
  const created = await run([
    "hub",
    "epoch",
    "create",
    "--key",
    "set.pem",
    "--origin",
    ORIGIN,
    "--data-dir",
    "setdb",
    "--epoch-id",
    "2026-12",
    "--battery",
    battery("set.json", GOOD),
  ]);
  assert.equal(created.code, EXIT.ok, created.err);
  await using store = await openStore<HubDatabase>({ kind: "pglite", dataDir: join(dir, "setdb") });
  const rows = await store.db.selectFrom("log_entries").select(["kind", "leaf"]).execute();
  const epochs = rows.filter((r) => r.kind === LogEntryKind.EPOCH);
  assert.equal(epochs.length, 1);
  const leaf = fromBinary(LogLeafSchema, epochs[0]?.leaf ?? new Uint8Array());
  const membership = Ed25519PrivateKey.fromPem(readFileSync(join(dir, "set.membership.pem"), "utf8"));
  assert.equal(leaf.envelope?.signatures[0]?.keyid, membership.keyId);
});
