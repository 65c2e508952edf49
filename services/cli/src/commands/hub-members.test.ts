/**
 * `lineage hub members ...` and `hub enrol --hub` (issues 8, 10): while `hub serve` owns its data folder,
 * membership changes go through it. Opening the folder beside it is refused pointing at --hub; a wrong
 * --key is refused by the hub and a wrong --origin before anything is sent; nothing refused is logged.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type HubDatabase, openTestStore, postgresTestTarget } from "@lineage/store";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";
import { whileServing } from "../serving-hub.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-hub-members-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const ORIGIN = "lineage.test/members";
const db = ["--data-dir", "hubdb"];

async function run(args: readonly string[]): Promise<CapturedIo & { code: number }> {
  const c = captureIo({ cwd: dir });
  const code = await main([...args], c);
  return Object.assign(c, { code });
}

async function ok(args: readonly string[]): Promise<string> {
  const r = await run(args);
  assert.equal(r.code, EXIT.ok, `${args.join(" ")}: ${r.err()}`);
  return r.out();
}

interface ListedMember {
  readonly member_id: string;
  readonly status: string;
  readonly keys: { key_id: string }[];
}

test("members add/list/suspend go through the running hub; wrong key or origin sign nothing", async () => {
  await ok(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN]);
  await ok(["hub", "keygen", "--out", "other-hub.pem", "--origin", ORIGIN]);
  await ok(["member", "keygen", "--out", "acme.pem"]);
  const req = JSON.parse(
    await ok([
      "member",
      "enrol-request",
      "--key",
      "acme.pem",
      "--member-id",
      "acme",
      "--out",
      "acme.req.json",
      "--json",
    ]),
  ) as { fingerprint: string };
  const enrolArgs = ["--request", "acme.req.json", "--fingerprint", req.fingerprint];

  await whileServing(dir, ["--key", "hub.pem", "--origin", ORIGIN, ...db], async (address) => {
    // Beside the running hub, opening its folder is refused and points at --hub.
    const beside = await run([
      "hub",
      "members",
      "add",
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      ...db,
      ...enrolArgs,
    ]);
    assert.equal(beside.code, EXIT.unavailable, beside.err());
    assert.match(
      beside.err(),
      new RegExp(`with --hub ${address.replace(/\./g, "\\.")} \\(where it serves\\)`),
    );
    const hub = ["--hub", address];
    // --hub with a store flag is a usage error.
    const both = await run([
      "hub",
      "members",
      "add",
      ...hub,
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      ...db,
      ...enrolArgs,
    ]);
    assert.equal(both.code, EXIT.usage, both.err());
    // A wrong hub key: the hub refuses the request's header; nothing is logged.
    const wrongKey = await run([
      "hub",
      "members",
      "add",
      ...hub,
      "--key",
      "other-hub.pem",
      "--origin",
      ORIGIN,
      ...enrolArgs,
    ]);
    assert.equal(wrongKey.code, EXIT.failed, wrongKey.err());
    assert.match(wrongKey.err(), /unknown_key.*is --key the running hub's key/s);
    // A wrong origin: refused from the hub's own checkpoint before anything is sent.
    const wrongOrigin = await run([
      "hub",
      "enrol",
      ...hub,
      "--key",
      "hub.pem",
      "--origin",
      "lineage.test/other",
      ...enrolArgs,
    ]);
    assert.equal(wrongOrigin.code, EXIT.usage, wrongOrigin.err());
    assert.match(
      wrongOrigin.err(),
      /serves origin "lineage\.test\/members", not --origin "lineage\.test\/other"; nothing was sent/,
    );
    // A fingerprint that was not the one heard: refused before anything is sent.
    const misheard = await run([
      "hub",
      "members",
      "add",
      ...hub,
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      "--request",
      "acme.req.json",
      "--fingerprint",
      req.fingerprint.replace(/^./, (c) => (c === "0" ? "1" : "0")),
    ]);
    assert.equal(misheard.code, EXIT.failed, misheard.err());
    assert.deepEqual(
      (JSON.parse(await ok(["hub", "members", "list", ...hub, "--json"])) as { members: ListedMember[] })
        .members,
      [],
      "nothing refused was logged",
    );

    const added = JSON.parse(
      await ok([
        "hub",
        "members",
        "add",
        ...hub,
        "--key",
        "hub.pem",
        "--origin",
        ORIGIN,
        ...enrolArgs,
        "--json",
      ]),
    ) as { member_id: string; log_index: number };
    assert.deepEqual([added.member_id, added.log_index], ["acme", 0]);
    const again = await run([
      "hub",
      "members",
      "add",
      ...hub,
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      ...enrolArgs,
    ]);
    assert.equal(again.code, EXIT.failed, again.err());
    assert.match(again.err(), /already_exists/);

    await ok([
      "hub",
      "members",
      "suspend",
      ...hub,
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      "--member-id",
      "acme",
      "--reason",
      "dues unpaid",
    ]);
    const listed = (
      JSON.parse(await ok(["hub", "members", "list", ...hub, "--json"])) as { members: ListedMember[] }
    ).members;
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.member_id, "acme");
    assert.equal(listed[0]?.status, "suspended");
    const unknown = await run([
      "hub",
      "members",
      "remove",
      ...hub,
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      "--member-id",
      "nobody",
      "--reason",
      "x",
    ]);
    assert.equal(unknown.code, EXIT.failed, unknown.err());
    assert.match(unknown.err(), /unknown_member/);
  });

  // With the hub stopped, the folder is free: the same list read locally from the verified log.
  const local = (
    JSON.parse(
      await ok(["hub", "members", "list", "--key", "hub.pem", "--origin", ORIGIN, ...db, "--json"]),
    ) as {
      members: ListedMember[];
    }
  ).members;
  assert.deepEqual(
    local.map((m) => [m.member_id, m.status]),
    [["acme", "suspended"]],
  );
  await ok([
    "hub",
    "members",
    "reinstate",
    "--key",
    "hub.pem",
    "--origin",
    ORIGIN,
    ...db,
    "--member-id",
    "acme",
    "--reason",
    "paid",
  ]);
});

const pg = await postgresTestTarget();

test("two hub serve processes on one Postgres log: a member added through one is seen and served by the other", {
  skip: pg.skip ?? false,
}, async () => {
  const url = pg.skip === undefined ? pg.url : "";
  // A fresh schema for this test, dropped at the end.
  await using schemaStore = await openTestStore<HubDatabase>("postgres", { url });
  const store = ["--pg", url, "--schema", schemaStore.schema];
  await ok(["hub", "keygen", "--out", "pg-hub.pem", "--origin", ORIGIN]);
  await ok(["member", "keygen", "--out", "beta.pem"]);
  const req = JSON.parse(
    await ok([
      "member",
      "enrol-request",
      "--key",
      "beta.pem",
      "--member-id",
      "beta",
      "--out",
      "beta.req.json",
      "--json",
    ]),
  ) as { fingerprint: string };
  const serve = ["--key", "pg-hub.pem", "--origin", ORIGIN, ...store];
  await whileServing(dir, serve, async (first) => {
    await whileServing(dir, serve, async (second) => {
      const added = JSON.parse(
        await ok([
          "hub",
          "members",
          "add",
          "--hub",
          first,
          "--key",
          "pg-hub.pem",
          "--origin",
          ORIGIN,
          "--request",
          "beta.req.json",
          "--fingerprint",
          req.fingerprint,
          "--json",
        ]),
      ) as { log_index: number };
      assert.equal(added.log_index, 0);
      // The other hub process lists it (it catches up on the shared log before answering) ...
      const listed = (
        JSON.parse(await ok(["hub", "members", "list", "--hub", second, "--json"])) as {
          members: ListedMember[];
        }
      ).members;
      assert.deepEqual(
        listed.map((m) => [m.member_id, m.status]),
        [["beta", "active"]],
      );
      // ... and appends after it: the suspension through the second lands at index 1, not a fork at 0.
      const suspended = JSON.parse(
        await ok([
          "hub",
          "members",
          "suspend",
          "--hub",
          second,
          "--key",
          "pg-hub.pem",
          "--origin",
          ORIGIN,
          "--member-id",
          "beta",
          "--reason",
          "audit",
          "--json",
        ]),
      ) as { log_index: number };
      assert.equal(suspended.log_index, 1);
      const fromFirst = (
        JSON.parse(await ok(["hub", "members", "list", "--hub", first, "--json"])) as {
          members: ListedMember[];
        }
      ).members;
      assert.equal(fromFirst[0]?.status, "suspended");
    });
  });
});
