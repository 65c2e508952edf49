/**
 * The store contract on a real PostgreSQL (each test in its own fresh `t_<random>` schema, dropped
 * on dispose), plus what only a server can show: unreachable servers, statement timeouts, schema
 * isolation, per-pool type parsers. Unreachable server: a visible SKIP with the reason outside CI,
 * a failure in CI (any truthy CI; test-store.ts isCi).
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import {
  type HubDatabase,
  hubMigrations,
  openStore,
  openTestStore,
  postgresTestTarget,
  StoreError,
  type StoreErrorCode,
} from "../src/index.js";
import { storeContract } from "./store-contract.js";

const target = await postgresTestTarget();
const skip = target.skip ?? false;
const url = target.skip === undefined ? target.url : "";

async function rejectsWithCode(p: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  let caught: unknown;
  await assert.rejects(p, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof StoreError, `expected a StoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

/** Another URL on the same server, with one part changed. */
function variant(change: (u: URL) => void): string {
  const u = new URL(url);
  change(u);
  return u.toString();
}

async function schemaExists(schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query("select 1 from pg_namespace where nspname = $1", [schema]);
    return res.rowCount === 1;
  } finally {
    await client.end();
  }
}

if (skip === false) {
  storeContract("postgres", () => openTestStore("postgres", { url }));
} else {
  // A visible SKIP that the run's summary counts (a skipped describe counts as no test at all).
  test("store contract: postgres", { skip }, () => {});
}

describe("postgres store", { skip }, () => {
  test("an unreachable server fails openStore with unavailable (retryable)", async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const err = await rejectsWithCode(
      openStore({ kind: "postgres", url: "postgres://postgres:postgres@127.0.0.1:1/lineage_test" }),
      "unavailable",
    );
    assert.equal(err.retryable, true);
  });

  test("a missing database fails with unavailable (not retryable)", async () => {
    const err = await rejectsWithCode(
      openStore({ kind: "postgres", url: variant((u) => (u.pathname = "/lineage_no_such_db")) }),
      "unavailable",
    );
    assert.equal(err.sqlState, "3D000");
    assert.equal(err.retryable, false);
  });

  test("malformed URLs and options fail with invalid_argument before any connection", async () => {
    await rejectsWithCode(openStore({ kind: "postgres", url: "not a url" }), "invalid_argument");
    await rejectsWithCode(openStore({ kind: "postgres", url: "mysql://127.0.0.1/x" }), "invalid_argument");
    await rejectsWithCode(openStore({ kind: "postgres", url, schema: "Robert'); drop" }), "invalid_argument");
    await rejectsWithCode(openStore({ kind: "postgres", url, poolMax: 0 }), "invalid_argument");
  });

  test("statementTimeoutMs makes a long statement fail with timeout (retryable)", async () => {
    const store = await openTestStore("postgres", { url, statementTimeoutMs: 100 });
    try {
      const err = await rejectsWithCode(sql`select pg_sleep(2)`.execute(store.db), "timeout");
      assert.equal(err.sqlState, "57014");
      assert.equal(err.retryable, true);
      // The pool stays usable.
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(store.db);
      assert.equal(rows[0]?.one, 1);
    } finally {
      await store.close();
    }
  });

  test("each schema is isolated, created on open, and dropped by the fixture on dispose", async () => {
    const a = await openTestStore<HubDatabase>("postgres", { url });
    const b = await openTestStore<HubDatabase>("postgres", { url });
    try {
      assert.match(a.schema, /^t_[0-9a-f]{16}$/);
      assert.notEqual(a.schema, b.schema);
      assert.equal(await schemaExists(a.schema), true);
      const all = Object.keys(hubMigrations.migrations).sort();
      assert.deepEqual((await a.migrate(hubMigrations)).applied, all);
      assert.deepEqual((await b.migrate(hubMigrations)).applied, all);
      await a.db.insertInto("members").values({ id: "only-in-a", display_name: "A" }).execute();
      assert.equal((await b.db.selectFrom("members").selectAll().execute()).length, 0);
      // Every pooled connection uses the schema, not just the first one.
      const paths = await Promise.all(
        Array.from({ length: 4 }, () =>
          a.transaction(async (trx) => {
            await sql`select pg_sleep(0.05)`.execute(trx);
            return (await sql<{ s: string }>`select current_schema() as s`.execute(trx)).rows[0]?.s;
          }),
        ),
      );
      assert.deepEqual(paths, [a.schema, a.schema, a.schema, a.schema]);
    } finally {
      await a[Symbol.asyncDispose]();
      await b.close();
    }
    assert.equal(await schemaExists(a.schema), false);
    assert.equal(await schemaExists(b.schema), false);
  });

  test("opening the same schema twice shares it (services restart onto their schema)", async () => {
    const first = await openTestStore<HubDatabase>("postgres", { url });
    try {
      await first.migrate(hubMigrations);
      await first.db.insertInto("members").values({ id: "m", display_name: "M" }).execute();
      const second = await openStore<HubDatabase>({ kind: "postgres", url, schema: first.schema });
      try {
        assert.deepEqual((await second.migrate(hubMigrations)).applied, []);
        assert.equal((await second.db.selectFrom("members").selectAll().execute()).length, 1);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });

  test("int8 parsing is per pool: pg's global type parsers are left alone", async () => {
    const store = await openTestStore("postgres", { url });
    try {
      const { rows } = await sql<{ v: bigint }>`select 9007199254740993::int8 as v`.execute(store.db);
      assert.equal(rows[0]?.v, 9007199254740993n);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const plain = await client.query("select 9007199254740993::int8 as v");
        assert.equal(plain.rows[0].v, "9007199254740993", "a plain pg client still gets strings");
      } finally {
        await client.end();
      }
    } finally {
      await store.close();
    }
  });

  test("transactions on separate pooled connections are open at the same time", {
    timeout: 20_000,
  }, async () => {
    const store = await openTestStore("postgres", { url, poolMax: 4 });
    try {
      // Each transaction waits, inside its transaction, until all four have begun: this can only
      // finish if the pool runs them side by side (PGlite would wait forever here).
      const n = 4;
      let begun = 0;
      let allBegun!: () => void;
      const barrier = new Promise<void>((r) => {
        allBegun = r;
      });
      const pids = await Promise.all(
        Array.from({ length: n }, () =>
          store.transaction(async (trx) => {
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
            if (++begun === n) allBegun();
            await barrier;
            return rows[0]?.pid;
          }),
        ),
      );
      assert.equal(new Set(pids).size, n, "four distinct server sessions");
    } finally {
      await store.close();
    }
  });
});
