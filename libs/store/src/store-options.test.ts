import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "./store-error.js";
import { checkStoreOptions } from "./store-options.js";

function rejects(input: unknown, field: string): void {
  assert.throws(
    () => checkStoreOptions(input),
    (err) =>
      err instanceof StoreError && err.code === "invalid_argument" && err.message.includes(`"${field}"`),
    `expected invalid_argument naming ${field} for ${JSON.stringify(input)}`,
  );
}

test("valid options get their defaults", () => {
  assert.deepEqual(checkStoreOptions({ kind: "postgres", url: "postgres://u:p@127.0.0.1:5432/db" }), {
    kind: "postgres",
    url: "postgres://u:p@127.0.0.1:5432/db",
    schema: undefined,
    role: undefined,
    poolMax: 10,
    statementTimeoutMs: undefined,
    connectTimeoutMs: 10_000,
  });
  const full = checkStoreOptions({
    kind: "postgres",
    url: "postgresql://h/db",
    schema: "t_0123abcd",
    poolMax: 3,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 200,
  });
  assert.equal(full.kind === "postgres" && full.schema, "t_0123abcd");
  const owner = checkStoreOptions({ kind: "postgres", url: "postgres://h/db", role: "lineage_hub_owner" });
  assert.equal(owner.kind === "postgres" && owner.role, "lineage_hub_owner");
  const pglite = { kind: "pglite", dataDir: undefined, schema: undefined, pglite: undefined };
  assert.deepEqual(checkStoreOptions({ kind: "pglite" }), pglite);
  assert.deepEqual(checkStoreOptions({ kind: "pglite", dataDir: "memory://" }), pglite);
  assert.deepEqual(checkStoreOptions({ kind: "pglite", dataDir: "/var/lib/x", schema: "hub" }), {
    ...pglite,
    dataDir: "/var/lib/x",
    schema: "hub",
  });
});

test("malformed options are refused, naming the field", () => {
  rejects(null, "options");
  rejects("postgres://x", "options");
  rejects({ kind: "mysql" }, "kind");
  rejects({ kind: "postgres" }, "url");
  rejects({ kind: "postgres", url: "" }, "url");
  rejects({ kind: "postgres", url: "not a url" }, "url");
  rejects({ kind: "postgres", url: "http://h/db" }, "url");
  rejects({ kind: "postgres", url: `postgres://h/${"d".repeat(3000)}` }, "url");
  const url = "postgres://h/db";
  rejects({ kind: "postgres", url, schema: "" }, "schema");
  rejects({ kind: "postgres", url, schema: "Upper" }, "schema");
  rejects({ kind: "postgres", url, schema: "1abc" }, "schema");
  rejects({ kind: "postgres", url, schema: "a b" }, "schema");
  rejects({ kind: "postgres", url, schema: "x;drop" }, "schema");
  rejects({ kind: "postgres", url, schema: "a".repeat(64) }, "schema");
  rejects({ kind: "postgres", url, schema: "pg_temp" }, "schema");
  rejects({ kind: "postgres", url, role: "" }, "role");
  rejects({ kind: "postgres", url, role: "Owner" }, "role");
  rejects({ kind: "postgres", url, role: "x -c search_path=evil" }, "role");
  rejects({ kind: "postgres", url, role: "pg_write_all_data" }, "role");
  rejects({ kind: "postgres", url, role: 7 }, "role");
  rejects({ kind: "postgres", url, poolMax: 0 }, "poolMax");
  rejects({ kind: "postgres", url, poolMax: 101 }, "poolMax");
  rejects({ kind: "postgres", url, poolMax: 2.5 }, "poolMax");
  rejects({ kind: "postgres", url, poolMax: "4" }, "poolMax");
  rejects({ kind: "postgres", url, statementTimeoutMs: 0 }, "statementTimeoutMs");
  rejects({ kind: "postgres", url, statementTimeoutMs: Number.NaN }, "statementTimeoutMs");
  rejects({ kind: "postgres", url, connectTimeoutMs: -1 }, "connectTimeoutMs");
  rejects({ kind: "pglite", dataDir: "" }, "dataDir");
  rejects({ kind: "pglite", dataDir: "a\0b" }, "dataDir");
  rejects({ kind: "pglite", dataDir: "idb://x" }, "dataDir");
  rejects({ kind: "pglite", dataDir: "x".repeat(5000) }, "dataDir");
  rejects({ kind: "pglite", dataDir: 42 }, "dataDir");
  rejects({ kind: "pglite", schema: "Nope" }, "schema");
  rejects({ kind: "pglite", pglite: { query() {} } }, "pglite");
});
