/**
 * Issue 8, "the embedded default forks the log": `hub enrol` on the folder of a running `hub serve` is
 * refused naming the holder (no second writer, no second checkpoint of the same size), and a wrong --key
 * or --origin is refused before anything is signed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type HubDatabase, openStore } from "@lineage/store";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-hub-owner-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const io = (signal?: AbortSignal): CapturedIo => captureIo({ cwd: dir, signal });
const ORIGIN = "lineage.test/owner";
const db = ["--data-dir", "hubdb"];

async function keygen(args: string[]): Promise<void> {
  const k = io();
  assert.equal(await main(args, k), EXIT.ok, k.err());
}

let fingerprint = "";

async function enrolWith(key: string, origin: string): Promise<CapturedIo & { code: number }> {
  const e = io();
  const code = await main(
    [
      "hub",
      "enrol",
      "--key",
      key,
      "--origin",
      origin,
      ...db,
      "--request",
      "acme.req.json",
      "--fingerprint",
      fingerprint,
    ],
    e,
  );
  return Object.assign(e, { code });
}

async function checkpointSizes(): Promise<number[]> {
  const store = await openStore<HubDatabase>({ kind: "pglite", dataDir: join(dir, "hubdb") });
  try {
    const rows = await store.db
      .selectFrom("log_checkpoints")
      .select("tree_size")
      .orderBy("tree_size")
      .execute();
    return rows.map((r) => Number(r.tree_size));
  } finally {
    await store.close();
  }
}

test("enrol beside a running hub is refused naming it; a wrong --key or --origin signs nothing", async (t) => {
  await keygen(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN]);
  await keygen(["hub", "keygen", "--out", "other-hub.pem", "--origin", ORIGIN]);
  const m = io();
  assert.equal(await main(["member", "keygen", "--out", "acme.pem"], m), EXIT.ok, m.err());
  const r = io();
  const req = [
    "member",
    "enrol-request",
    "--key",
    "acme.pem",
    "--member-id",
    "acme",
    "--out",
    "acme.req.json",
  ];
  assert.equal(await main([...req, "--json"], r), EXIT.ok, r.err());
  fingerprint = (JSON.parse(r.out()) as { fingerprint: string }).fingerprint;

  // Serve long enough for the hub to sign its first checkpoint (the empty tree) on its timer.
  const ac = new AbortController();
  t.after(() => ac.abort());
  const s = io(ac.signal);
  const serving = main(
    ["hub", "serve", "--key", "hub.pem", "--origin", ORIGIN, ...db, "--listen", "127.0.0.1:0", "--json"],
    s,
  );
  for (let i = 0; i < 600 && !s.out().trim().endsWith("}"); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(s.out().trim().endsWith("}"), `hub serve did not start: ${s.err()}`);
  await new Promise((r) => setTimeout(r, 1500));

  const beside = await enrolWith("hub.pem", ORIGIN);
  assert.equal(beside.code, EXIT.unavailable, beside.err());
  assert.match(beside.err(), /in use by this process \(pid \d+\)/);
  assert.match(beside.err(), /hub serve/);
  assert.match(beside.err(), /hubdb/);

  ac.abort();
  assert.equal(await serving, EXIT.ok, s.err());
  const before = await checkpointSizes();
  assert.deepEqual(before, [0], "the running hub signed the empty tree; enrol added nothing");

  const wrongKey = await enrolWith("other-hub.pem", ORIGIN);
  assert.equal(wrongKey.code, EXIT.failed, wrongKey.err());
  assert.match(wrongKey.err(), /not signed by this hub's root key/);

  const wrongOrigin = await enrolWith("hub.pem", "lineage.test/elsewhere");
  assert.equal(wrongOrigin.code, EXIT.usage, wrongOrigin.err());
  assert.match(wrongOrigin.err(), /for origin "lineage\.test\/owner", not "lineage\.test\/elsewhere"/);

  assert.deepEqual(await checkpointSizes(), before, "the refused enrolments signed no checkpoint");
});
