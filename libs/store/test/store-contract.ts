/**
 * The store contract: what every backend (PGlite in memory, PGlite on disk, PostgreSQL) must do
 * the same way. Run by pglite-memory.test.ts, pglite-disk.test.ts and postgres.test.ts.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Kysely, type Migration, sql } from "kysely";
import {
  type HubDatabase,
  hubMigrations,
  isStoreError,
  type MemberNodeDatabase,
  type MigrationSet,
  memberNodeMigrations,
  migrationTableNames,
  type Store,
  StoreError,
  type StoreErrorCode,
} from "../src/index.js";

/** Tables the contract creates through its own migration set. */
export interface ContractDatabase {
  items: {
    id: bigint;
    label: string;
    data: Uint8Array | null;
    at: Date | null;
    amount: string | null;
    ids: bigint[] | null;
  };
  counters: { id: number; value: bigint };
}

type AnyDb = ContractDatabase & HubDatabase & MemberNodeDatabase;

const contractMigrations: MigrationSet = {
  name: "contract",
  migrations: {
    "0001-items": {
      // biome-ignore lint/suspicious/noExplicitAny: migrations take Kysely<any>.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("items")
          .addColumn("id", "int8", (c) => c.primaryKey())
          .addColumn("label", "text", (c) => c.notNull().unique())
          .addColumn("data", "bytea")
          .addColumn("at", "timestamptz")
          .addColumn("amount", "numeric")
          .addColumn("ids", sql`int8[]`)
          .execute();
        await db.schema
          .createTable("counters")
          .addColumn("id", "int4", (c) => c.primaryKey())
          .addColumn("value", "int8", (c) => c.notNull())
          .execute();
      },
    },
  },
};

/** A factory giving each test its own isolated, open store; the test closes it. */
export type MakeStore = () => Promise<Store<AnyDb>>;

async function withStore(make: MakeStore, fn: (store: Store<AnyDb>) => Promise<void>): Promise<void> {
  const store = await make();
  try {
    await store.migrate(contractMigrations);
    await fn(store);
  } finally {
    await store.close();
  }
}

async function rejectsWithCode(p: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  let caught: unknown;
  await assert.rejects(p, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof StoreError, `expected a StoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected code ${code}, got ${caught.code}: ${caught.message}`);
  assert.equal(caught.name, "StoreError");
  return caught;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Registers the contract tests for one backend. */
export function storeContract(name: string, makeStore: MakeStore): void {
  const run = (title: string, fn: (store: Store<AnyDb>) => Promise<void>) =>
    test(title, () => withStore(makeStore, fn));

  describe(`store contract: ${name}`, () => {
    run("int8 round-trips as bigint beyond 2^53; numeric stays a string; count(*) is bigint", async (s) => {
      const big = 2n ** 60n + 7n;
      const values = [big, -(2n ** 63n), 2n ** 63n - 1n];
      await s.db
        .insertInto("items")
        .values(
          values.map((id, i) => ({
            id,
            label: `l${i}`,
            amount: "12345678901234567890.123456789",
            ids: [big, 1n],
          })),
        )
        .execute();
      const rows = await s.db.selectFrom("items").select(["id", "amount", "ids"]).orderBy("id").execute();
      assert.deepEqual(
        rows.map((r) => r.id),
        [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      );
      for (const r of rows) {
        assert.equal(typeof r.id, "bigint");
        assert.equal(r.amount, "12345678901234567890.123456789");
        assert.deepEqual(r.ids, [big, 1n]);
      }
      const byKey = await s.db
        .selectFrom("items")
        .select("label")
        .where("id", "=", big)
        .executeTakeFirstOrThrow();
      assert.equal(byKey.label, "l0");
      const { count } = await s.db
        .selectFrom("items")
        .select((eb) => eb.fn.countAll().as("count"))
        .executeTakeFirstOrThrow();
      assert.equal(count, 3n);
      const arith = await sql<{ v: bigint }>`select ${big}::int8 + 1 as v`.execute(s.db);
      assert.equal(arith.rows[0]?.v, big + 1n);
    });

    run("bytea round-trips as a plain Uint8Array, all 256 byte values", async (s) => {
      const data = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      await s.db.insertInto("items").values({ id: 1n, label: "bytes", data }).execute();
      await s.db
        .insertInto("items")
        .values({ id: 2n, label: "empty", data: new Uint8Array(0) })
        .execute();
      const rows = await s.db.selectFrom("items").select(["id", "data"]).orderBy("id").execute();
      assert.equal(Object.getPrototypeOf(rows[0]?.data), Uint8Array.prototype);
      assert.deepEqual(rows[0]?.data, data);
      assert.deepEqual(rows[1]?.data, new Uint8Array(0));
    });

    run("timestamptz round-trips as Date with millisecond precision; now() default works", async (s) => {
      const at = new Date("2031-02-03T04:05:06.789Z");
      await s.db.insertInto("items").values({ id: 1n, label: "t", at }).execute();
      const row = await s.db.selectFrom("items").select("at").executeTakeFirstOrThrow();
      assert.ok(row.at instanceof Date);
      assert.equal(row.at.getTime(), at.getTime());
      const byRange = await s.db
        .selectFrom("items")
        .select("id")
        .where("at", ">", new Date("2031-02-03T04:05:06.788Z"))
        .where("at", "<", new Date("2031-02-03T04:05:06.790Z"))
        .execute();
      assert.equal(byRange.length, 1);

      await s.migrate(hubMigrations);
      const before = Date.now();
      await s.db.insertInto("members").values({ id: "acme", display_name: "Acme" }).execute();
      const m = await s.db.selectFrom("members").selectAll().executeTakeFirstOrThrow();
      assert.ok(m.created_at instanceof Date);
      assert.ok(Math.abs(m.created_at.getTime() - before) < 60_000, "created_at defaults to now()");
    });

    run("a committed transaction is visible and returns the callback's value", async (s) => {
      const out = await s.transaction(async (trx) => {
        await trx.insertInto("items").values({ id: 1n, label: "a" }).execute();
        await trx.insertInto("items").values({ id: 2n, label: "b" }).execute();
        const seen = await trx.selectFrom("items").select("id").execute();
        assert.equal(seen.length, 2);
        return "done";
      });
      assert.equal(out, "done");
      const rows = await s.db.selectFrom("items").select("label").orderBy("id").execute();
      assert.deepEqual(
        rows.map((r) => r.label),
        ["a", "b"],
      );
    });

    run("a failed transaction leaves nothing and rethrows the very same error", async (s) => {
      const boom = new Error("callback failed");
      await assert.rejects(
        s.transaction(async (trx) => {
          await trx.insertInto("items").values({ id: 1n, label: "a" }).execute();
          await trx.insertInto("counters").values({ id: 1, value: 5n }).execute();
          throw boom;
        }),
        (err) => err === boom,
      );
      assert.equal((await s.db.selectFrom("items").selectAll().execute()).length, 0);
      assert.equal((await s.db.selectFrom("counters").selectAll().execute()).length, 0);
      // The connection went back clean: the next transaction works.
      await s.transaction((trx) => trx.insertInto("items").values({ id: 2n, label: "b" }).execute());
      assert.equal((await s.db.selectFrom("items").selectAll().execute()).length, 1);
    });

    run("a database error inside a transaction rolls back everything and maps to StoreError", async (s) => {
      await s.db.insertInto("items").values({ id: 1n, label: "taken" }).execute();
      const err = await rejectsWithCode(
        s.transaction(async (trx) => {
          await trx.insertInto("items").values({ id: 2n, label: "fresh" }).execute();
          await trx.insertInto("items").values({ id: 3n, label: "taken" }).execute();
        }),
        "conflict",
      );
      assert.equal(err.retryable, false);
      const labels = (await s.db.selectFrom("items").select("label").execute()).map((r) => r.label);
      assert.deepEqual(labels, ["taken"]);
    });

    run("nested transactions are savepoints: an inner failure undoes only the inner work", async (s) => {
      const inner = new Error("inner failed");
      await s.transaction(async (trx) => {
        await trx.insertInto("items").values({ id: 1n, label: "outer" }).execute();
        await assert.rejects(
          s.transaction(async (t2) => {
            await t2.insertInto("items").values({ id: 2n, label: "inner-undone" }).execute();
            throw inner;
          }),
          (e) => e === inner,
        );
        // A database error inside a savepoint does not poison the outer transaction either.
        await rejectsWithCode(
          s.transaction((t2) => t2.insertInto("items").values({ id: 3n, label: "outer" }).execute()),
          "conflict",
        );
        await s.transaction(async (t2) => {
          await t2.insertInto("items").values({ id: 4n, label: "inner-kept" }).execute();
          await s.transaction((t3) => t3.insertInto("items").values({ id: 5n, label: "deepest" }).execute());
        });
      });
      const labels = (await s.db.selectFrom("items").select("label").orderBy("id").execute()).map(
        (r) => r.label,
      );
      assert.deepEqual(labels, ["outer", "inner-kept", "deepest"]);

      // An outer failure undoes the nested work that had succeeded.
      await assert.rejects(
        s.transaction(async () => {
          await s.transaction((t2) => t2.insertInto("items").values({ id: 6n, label: "gone" }).execute());
          throw new Error("outer failed");
        }),
      );
      assert.equal(
        (await s.db.selectFrom("items").select("id").where("id", "=", 6n).execute()).length,
        0,
        "nested work rolled back with its outer transaction",
      );
    });

    run("sibling nested transactions started concurrently run one after another", async (s) => {
      const events: string[] = [];
      await s.transaction(async () => {
        const settled = await Promise.allSettled(
          [1, 2, 3].map((i) =>
            s.transaction(async (t) => {
              events.push(`+${i}`);
              await delay(5);
              await t
                .insertInto("items")
                .values({ id: BigInt(i), label: `n${i}` })
                .execute();
              events.push(`-${i}`);
              if (i === 2) throw new Error("second sibling fails");
            }),
          ),
        );
        assert.deepEqual(
          settled.map((r) => r.status),
          ["fulfilled", "rejected", "fulfilled"],
        );
      });
      assert.deepEqual(events, ["+1", "-1", "+2", "-2", "+3", "-3"]);
      const ids = (await s.db.selectFrom("items").select("id").orderBy("id").execute()).map((r) => r.id);
      assert.deepEqual(ids, [1n, 3n]);
    });

    run(
      "concurrent read-modify-write transactions lose no update (FOR UPDATE on every backend)",
      async (s) => {
        await s.db.insertInto("counters").values({ id: 1, value: 0n }).execute();
        const n = 8;
        await Promise.all(
          Array.from({ length: n }, () =>
            s.transaction(async (trx) => {
              const row = await trx
                .selectFrom("counters")
                .select("value")
                .where("id", "=", 1)
                .forUpdate()
                .executeTakeFirstOrThrow();
              await delay(2);
              await trx
                .updateTable("counters")
                .set({ value: row.value + 1n })
                .where("id", "=", 1)
                .execute();
            }),
          ),
        );
        const { value } = await s.db.selectFrom("counters").select("value").executeTakeFirstOrThrow();
        assert.equal(value, BigInt(n));
      },
    );

    if (name.startsWith("pglite")) {
      run("PGlite: concurrent transactions never interleave, even without row locks", async (s) => {
        await s.db.insertInto("counters").values({ id: 1, value: 0n }).execute();
        const events: string[] = [];
        const n = 6;
        await Promise.all(
          Array.from({ length: n }, (_, i) =>
            s.transaction(async (trx) => {
              events.push(`+${i}`);
              const row = await trx.selectFrom("counters").select("value").executeTakeFirstOrThrow();
              await delay(3);
              await trx
                .updateTable("counters")
                .set({ value: row.value + 1n })
                .execute();
              events.push(`-${i}`);
            }),
          ),
        );
        for (let k = 0; k < events.length; k += 2) {
          assert.equal(events[k]?.slice(1), events[k + 1]?.slice(1), `transactions interleaved: ${events}`);
        }
        const { value } = await s.db.selectFrom("counters").select("value").executeTakeFirstOrThrow();
        assert.equal(value, BigInt(n));
        // Autocommit statements queued behind a transaction see its committed result, not a partial one.
        let begun!: () => void;
        const started = new Promise<void>((r) => {
          begun = r;
        });
        const writer = s.transaction(async (trx) => {
          await trx.updateTable("counters").set({ value: 100n }).execute();
          begun();
          await delay(10);
          await trx.updateTable("counters").set({ value: 200n }).execute();
        });
        await started;
        const reads = [(await s.db.selectFrom("counters").select("value").executeTakeFirstOrThrow()).value];
        await writer;
        assert.deepEqual(reads, [200n]);
      });
    }

    run(
      "store.db inside store.transaction() fails fast with code internal instead of deadlocking",
      async (s) => {
        await rejectsWithCode(
          s.transaction(async (trx) => {
            await trx.insertInto("items").values({ id: 1n, label: "a" }).execute();
            await s.db.selectFrom("items").selectAll().execute();
          }),
          "internal",
        );
        assert.equal((await s.db.selectFrom("items").selectAll().execute()).length, 0);
      },
    );

    run("work started inside a transaction that outlives it runs outside any transaction", async (s) => {
      let later!: Promise<void>;
      await s.transaction(async (trx) => {
        await trx.insertInto("items").values({ id: 1n, label: "in" }).execute();
        // Fire-and-forget: keeps the transaction's async context but runs after the commit.
        later = delay(20).then(async () => {
          await s.db.insertInto("items").values({ id: 2n, label: "after" }).execute();
          await s.transaction((t) => t.insertInto("items").values({ id: 3n, label: "own-trx" }).execute());
        });
      });
      await later;
      const labels = (await s.db.selectFrom("items").select("label").orderBy("id").execute()).map(
        (r) => r.label,
      );
      assert.deepEqual(labels, ["in", "after", "own-trx"]);
    });

    run("unique violation -> conflict (not retryable, names the constraint)", async (s) => {
      await s.migrate(hubMigrations);
      await s.db.insertInto("members").values({ id: "acme", display_name: "Acme" }).execute();
      const err = await rejectsWithCode(
        s.db.insertInto("members").values({ id: "acme", display_name: "Other" }).execute(),
        "conflict",
      );
      assert.equal(err.retryable, false);
      assert.equal(err.sqlState, "23505");
      assert.equal(err.constraint, "members_pkey");
      assert.ok(
        !err.message.includes("Other") && !err.message.includes("acme"),
        "no row values in the message",
      );

      const key = Uint8Array.from({ length: 32 }, (_, i) => i);
      const validFrom = new Date("2030-01-01T00:00:00Z");
      await s.db.insertInto("members").values({ id: "beta", display_name: "Beta" }).execute();
      await s.db
        .insertInto("member_keys")
        .values({
          key_id: "k1",
          member_id: "acme",
          public_key: key,
          valid_from: validFrom,
          valid_until: null,
        })
        .execute();
      const dup = await rejectsWithCode(
        s.db
          .insertInto("member_keys")
          .values({ key_id: "k2", member_id: "beta", public_key: key, valid_from: validFrom })
          .execute(),
        "conflict",
      );
      assert.equal(dup.constraint, "member_keys_public_key_unique");
      const stored = await s.db.selectFrom("member_keys").selectAll().executeTakeFirstOrThrow();
      assert.deepEqual(stored.public_key, key);
      assert.equal(stored.valid_from.getTime(), validFrom.getTime());
      assert.equal(stored.valid_until, null);
      assert.equal(stored.revoked_at, null);
    });

    run(
      "check, foreign-key and not-null violations -> invalid_argument; syntax error -> internal",
      async (s) => {
        await s.migrate(hubMigrations);
        const check = await rejectsWithCode(
          s.db.insertInto("members").values({ id: "x", display_name: "" }).execute(),
          "invalid_argument",
        );
        assert.equal(check.sqlState, "23514");
        assert.equal(check.constraint, "members_display_name_length");
        const fk = await rejectsWithCode(
          s.db
            .insertInto("member_keys")
            .values({
              key_id: "k",
              member_id: "nobody",
              public_key: new Uint8Array(32),
              valid_from: new Date(),
            })
            .execute(),
          "invalid_argument",
        );
        assert.equal(fk.sqlState, "23503");
        const validity = await rejectsWithCode(
          s.db
            .insertInto("members")
            .values({ id: "m", display_name: "M" })
            .execute()
            .then(() =>
              s.db
                .insertInto("member_keys")
                .values({
                  key_id: "k",
                  member_id: "m",
                  public_key: new Uint8Array(32),
                  valid_from: new Date("2030-01-02Z"),
                  valid_until: new Date("2030-01-01Z"),
                })
                .execute(),
            ),
          "invalid_argument",
        );
        assert.equal(validity.constraint, "member_keys_validity");
        const syntax = await rejectsWithCode(sql`selec 1`.execute(s.db), "internal");
        assert.equal(syntax.sqlState, "42601");
        const missing = await rejectsWithCode(sql`select * from no_such_table`.execute(s.db), "internal");
        assert.equal(missing.sqlState, "42P01");
      },
    );

    run("migrations are idempotent and tracked per set", async (s) => {
      const first = await s.migrate(hubMigrations);
      const hubNames = Object.keys(hubMigrations.migrations).sort();
      const nodeNames = Object.keys(memberNodeMigrations.migrations).sort();
      assert.deepEqual(first, { set: "hub", applied: hubNames });
      assert.deepEqual(await s.migrate(hubMigrations), { set: "hub", applied: [] });
      assert.deepEqual(await s.migrate(memberNodeMigrations), {
        set: "member-node",
        applied: nodeNames,
      });
      assert.deepEqual(await s.migrate(memberNodeMigrations), { set: "member-node", applied: [] });

      const tables = (await s.db.introspection.getTables({ withInternalKyselyTables: true }))
        .filter((t) => t.schema === s.schema)
        .map((t) => t.name)
        .sort();
      for (const t of [
        "members",
        "member_keys",
        "node_meta",
        "lineage_migration_hub",
        "lineage_migration_member_node",
      ]) {
        assert.ok(tables.includes(t), `table ${t} exists in ${s.schema}: ${tables}`);
      }
      const executed = async (set: string) =>
        (
          await sql<{
            name: string;
          }>`select name from ${sql.table(migrationTableNames(set).migrations)} order by name`.execute(s.db)
        ).rows.map((r) => r.name);
      assert.deepEqual(await executed("hub"), hubNames);
      assert.deepEqual(await executed("member-node"), nodeNames);
      assert.deepEqual(await executed("contract"), ["0001-items"]);

      await s.db.insertInto("node_meta").values({ key: "k", value: "v" }).execute();
      const meta = await s.db.selectFrom("node_meta").selectAll().executeTakeFirstOrThrow();
      assert.equal(meta.value, "v");
      assert.ok(meta.updated_at instanceof Date);
    });

    run(
      "a failing migration rolls back whole, leaves other sets alone, and can be fixed and re-run",
      async (s) => {
        await s.migrate(hubMigrations);
        const ok: Migration = {
          // biome-ignore lint/suspicious/noExplicitAny: migrations take Kysely<any>.
          async up(db: Kysely<any>) {
            await db.schema
              .createTable("extra_a")
              .addColumn("id", "int8", (c) => c.primaryKey())
              .execute();
          },
        };
        const broken: Migration = {
          // biome-ignore lint/suspicious/noExplicitAny: migrations take Kysely<any>.
          async up(db: Kysely<any>) {
            await db.schema.createTable("extra_b").addColumn("id", "int8").execute();
            await sql`select * from table_that_does_not_exist`.execute(db);
          },
        };
        const err = await rejectsWithCode(
          s.migrate({ name: "extra", migrations: { "0001-a": ok, "0002-b": broken } }),
          "internal",
        );
        assert.match(err.message, /extra\/0002-b/);
        const names = (await s.db.introspection.getTables())
          .filter((t) => t.schema === s.schema)
          .map((t) => t.name);
        assert.ok(
          !names.includes("extra_a") && !names.includes("extra_b"),
          `set rolled back whole: ${names}`,
        );
        assert.ok(names.includes("members"), "the hub set is untouched");

        const fixed: Migration = {
          // biome-ignore lint/suspicious/noExplicitAny: migrations take Kysely<any>.
          async up(db: Kysely<any>) {
            await db.schema.createTable("extra_b").addColumn("id", "int8").execute();
          },
        };
        assert.deepEqual(await s.migrate({ name: "extra", migrations: { "0001-a": ok, "0002-b": fixed } }), {
          set: "extra",
          applied: ["0001-a", "0002-b"],
        });
        // Code that no longer knows an applied migration is refused, not silently run.
        const lost = await rejectsWithCode(
          s.migrate({ name: "extra", migrations: { "0001-a": ok } }),
          "internal",
        );
        assert.match(lost.message, /0002-b/);
        assert.deepEqual(await s.migrate(hubMigrations), { set: "hub", applied: [] });
      },
    );

    run("badly named migration sets and migrations are refused with invalid_argument", async (s) => {
      const noop: Migration = { async up() {} };
      await rejectsWithCode(
        s.migrate({ name: "Bad Name", migrations: { "0001-x": noop } }),
        "invalid_argument",
      );
      await rejectsWithCode(s.migrate({ name: "ok", migrations: { "first-x": noop } }), "invalid_argument");
      await rejectsWithCode(s.migrate({ name: "ok", migrations: {} }), "invalid_argument");
    });

    test("a closed store fails with unavailable; close is idempotent", async () => {
      const s = await makeStore();
      await s.close();
      await s.close();
      const err = await rejectsWithCode(sql`select 1`.execute(s.db), "unavailable");
      assert.equal(err.retryable, false);
      await rejectsWithCode(
        s.transaction(async () => {}),
        "unavailable",
      );
      assert.ok(isStoreError(err, "unavailable"));
    });
  });
}
