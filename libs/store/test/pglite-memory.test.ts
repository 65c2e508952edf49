/**
 * The store contract on PGlite in memory (a fresh schema per test on one shared instance), plus
 * what is particular to PGlite: owned vs shared instances, several stores on one instance.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "kysely";
import { type HubDatabase, hubMigrations, isStoreError, openStore, openTestStore } from "../src/index.js";
import { storeContract } from "./store-contract.js";

storeContract("pglite-memory", () => openTestStore("pglite-memory"));

test("pglite: a store without an instance creates one, uses public, and closes it", async () => {
  const store = await openStore<HubDatabase>({ kind: "pglite" });
  assert.equal(store.kind, "pglite");
  assert.equal(store.schema, "public");
  await store.migrate(hubMigrations);
  await store.db.insertInto("members").values({ id: "m", display_name: "M" }).execute();
  await store.close();
  await assert.rejects(store.db.selectFrom("members").selectAll().execute(), (e) =>
    isStoreError(e, "unavailable"),
  );
});

test("pglite: stores in different schemas share one instance without seeing each other", async () => {
  const pglite = await PGlite.create();
  try {
    const a = await openStore<HubDatabase>({ kind: "pglite", pglite, schema: "role_a" });
    const b = await openStore<HubDatabase>({ kind: "pglite", pglite, schema: "role_b" });
    assert.equal(a.schema, "role_a");
    assert.equal(b.schema, "role_b");
    await Promise.all([a.migrate(hubMigrations), b.migrate(hubMigrations)]);
    // Interleave work from both stores; each statement must land in its own store's schema.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? a : b).transaction(async (trx) => {
          await trx
            .insertInto("members")
            .values({ id: `m${i}`, display_name: `M${i}` })
            .execute();
        }),
      ),
    );
    const ids = async (s: typeof a) =>
      (await s.db.selectFrom("members").select("id").orderBy("id").execute()).map((r) => r.id);
    assert.deepEqual(await ids(a), ["m0", "m2", "m4", "m6", "m8"]);
    assert.deepEqual(await ids(b), ["m1", "m3", "m5", "m7", "m9"]);
    await a.close();
    // Closing one store leaves the shared instance (and the other store) working.
    assert.equal(pglite.closed, false);
    assert.deepEqual((await sql<{ n: bigint }>`select count(*) as n from members`.execute(b.db)).rows, [
      { n: 5n },
    ]);
    await b.close();
  } finally {
    await pglite.close();
  }
});
