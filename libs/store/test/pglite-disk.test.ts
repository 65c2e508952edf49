/** The store contract on PGlite on disk (a fresh schema per test on one instance in a temp dir), plus persistence. */

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type MemberNodeDatabase, memberNodeMigrations, openStore, openTestStore } from "../src/index.js";
import { storeContract } from "./store-contract.js";

storeContract("pglite-disk", () => openTestStore("pglite-disk"));

test("pglite-disk: committed data and applied migrations survive close and reopen", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-store-reopen-"));
  try {
    const first = await openStore<MemberNodeDatabase>({
      kind: "pglite",
      dataDir: dir,
      schema: "member_node",
    });
    try {
      await first.migrate(memberNodeMigrations);
      await first.transaction((trx) =>
        trx.insertInto("node_meta").values({ key: "node-id", value: "n1" }).execute(),
      );
      await first
        .transaction(async (trx) => {
          await trx.insertInto("node_meta").values({ key: "lost", value: "x" }).execute();
          throw new Error("rolled back");
        })
        .catch(() => {});
    } finally {
      await first.close();
    }
    const again = await openStore<MemberNodeDatabase>({
      kind: "pglite",
      dataDir: dir,
      schema: "member_node",
    });
    try {
      assert.deepEqual(await again.migrate(memberNodeMigrations), { set: "member-node", applied: [] });
      const rows = await again.db.selectFrom("node_meta").select(["key", "value"]).execute();
      assert.deepEqual(rows, [{ key: "node-id", value: "n1" }]);
    } finally {
      await again.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
