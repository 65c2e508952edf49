import assert from "node:assert/strict";
import { test } from "node:test";
import type { Migration } from "kysely";
import { checkMigrationSet, migrationTableNames } from "./migration-set.js";
import { hubMigrations } from "./migrations/hub/index.js";
import { memberNodeMigrations } from "./migrations/member-node/index.js";
import { StoreError } from "./store-error.js";

const noop: Migration = { async up() {} };

test("each set gets its own bookkeeping tables", () => {
  assert.deepEqual(migrationTableNames("hub"), {
    migrations: "lineage_migration_hub",
    lock: "lineage_migration_lock_hub",
  });
  assert.deepEqual(migrationTableNames("member-node"), {
    migrations: "lineage_migration_member_node",
    lock: "lineage_migration_lock_member_node",
  });
});

test("the shipped sets are well formed and numbered from 0001 without gaps", () => {
  for (const set of [hubMigrations, memberNodeMigrations]) {
    checkMigrationSet(set);
    const numbers = Object.keys(set.migrations)
      .sort()
      .map((n) => Number(n.slice(0, 4)));
    assert.deepEqual(
      numbers,
      numbers.map((_, i) => i + 1),
      set.name,
    );
  }
});

test("bad set and migration names are refused with invalid_argument", () => {
  const bad = (name: string, migrations: Record<string, Migration>) =>
    assert.throws(
      () => checkMigrationSet({ name, migrations }),
      (e) => e instanceof StoreError && e.code === "invalid_argument",
      `${name} ${Object.keys(migrations)}`,
    );
  bad("", { "0001-a": noop });
  bad("Hub", { "0001-a": noop });
  bad("hub_node", { "0001-a": noop });
  bad("x".repeat(33), { "0001-a": noop });
  bad("hub", {});
  bad("hub", { "1-a": noop });
  bad("hub", { "0001_a": noop });
  bad("hub", { "0001-A": noop });
  bad("hub", { "0001-a.ts": noop });
  bad("hub", { "0001-a": {} as Migration });
});
