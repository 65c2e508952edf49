/**
 * Least privilege on a real PostgreSQL (issue 8, "the service role can rewrite the log"): runs
 * deploy/postgres/hub-roles.sql itself, with role and schema names unique to this test, migrates the hub's
 * tables as the migration role, then connects AS the service role (its own login, as `lineage hub serve`
 * does) and shows that it can append and read, and that every way of rewriting the log — disabling or
 * dropping the append-only triggers, replacing their function, UPDATE, DELETE, TRUNCATE, DROP TABLE,
 * assuming the owner role — fails with `permission_denied`.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import {
  type HubDatabase,
  hubMigrations,
  openStore,
  postgresTestTarget,
  StoreError,
  type StoreErrorCode,
} from "../src/index.js";

const target = await postgresTestTarget();
const skip = target.skip ?? false;
const url = target.skip === undefined ? target.url : "";

const ROLES_SQL = new URL("../../../deploy/postgres/hub-roles.sql", import.meta.url);

/** hub-roles.sql with this test's names, comments dropped, as single statements. */
function rolesStatements(owner: string, service: string, schema: string): string[] {
  const text = readFileSync(ROLES_SQL, "utf8")
    .split("\n")
    .filter((l) => !l.trimStart().startsWith("--"))
    .join("\n")
    .replace(/\blineage_hub_owner\b/g, owner)
    .replace(/\blineage_hub_service\b/g, service)
    .replace(/\bSCHEMA hub\b/g, `SCHEMA ${schema}`);
  return text
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function rejectsWith(p: Promise<unknown>, code: StoreErrorCode, what: string): Promise<void> {
  let caught: unknown;
  await assert.rejects(p, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof StoreError, `${what}: expected a StoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, `${what}: expected ${code}, got ${caught.code}: ${caught.message}`);
}

test("postgres: the hub's service role may only SELECT and INSERT the log tables", { skip }, async () => {
  const id = randomBytes(6).toString("hex");
  const owner = `t_owner_${id}`;
  const service = `t_service_${id}`;
  const schema = `t_hub_${id}`;
  const dbName = new URL(url).pathname.slice(1);
  try {
    await admin(async (c) => {
      for (const stmt of rolesStatements(owner, service, schema)) await c.query(stmt);
      await c.query(`grant connect on database "${dbName}" to ${owner}, ${service}`);
    });

    // Migrate as the owner: an administrator's login assuming the migration role (store option `role`).
    const asOwner = await openStore<HubDatabase>({ kind: "postgres", url, schema, role: owner });
    try {
      const { applied } = await asOwner.migrate(hubMigrations);
      assert.ok(applied.length >= 2, `migrations applied: ${applied.join(", ")}`);
      const { rows } = await sql<{ tablename: string; tableowner: string }>`
        select tablename, tableowner from pg_tables where schemaname = ${schema} order by tablename`.execute(
        asOwner.db,
      );
      for (const t of ["log_checkpoints", "log_entries", "log_nodes"]) {
        assert.equal(
          rows.find((r) => r.tablename === t)?.tableowner,
          owner,
          `${t} is owned by the migration role`,
        );
      }
    } finally {
      await asOwner.close();
    }

    // Connect as the service role itself (the URL's user), like `lineage hub serve --pg`.
    const serviceUrl = new URL(url);
    serviceUrl.username = service;
    serviceUrl.password = "";
    const svc = await openStore<HubDatabase>({ kind: "postgres", url: serviceUrl.toString(), schema });
    try {
      const who = await sql<{ u: string }>`select current_user as u`.execute(svc.db);
      assert.equal(who.rows[0]?.u, service);
      // Opening and "migrating" an up-to-date schema only reads.
      assert.deepEqual((await svc.migrate(hubMigrations)).applied, []);

      // Appends and reads work.
      await svc.db
        .insertInto("log_entries")
        .values({
          idx: 0n,
          kind: 1,
          leaf: new Uint8Array([1, 2, 3]),
          leaf_hash: new Uint8Array(32),
          integrated_at: new Date(),
          member_id: null,
          key_id: null,
          session_id: null,
          ref_idx: null,
        })
        .execute();
      await svc.db
        .insertInto("log_nodes")
        .values({ level: 0, idx: 0n, hash: new Uint8Array(32) })
        .execute();
      await svc.db
        .insertInto("log_checkpoints")
        .values({ tree_size: 1n, root_hash: new Uint8Array(32), signed_note: "note\n" })
        .execute();
      const count = await svc.db
        .selectFrom("log_entries")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirst();
      assert.equal(BigInt(count?.n ?? -1), 1n);

      // Every rewrite is refused by privileges, before any trigger runs.
      const refused: Array<[string, ReturnType<typeof sql>]> = [
        ["disable trigger all", sql`alter table log_entries disable trigger all`],
        ["disable one trigger", sql`alter table log_entries disable trigger log_entries_no_update_delete`],
        ["drop trigger", sql`drop trigger log_nodes_no_update_delete on log_nodes`],
        [
          "replace the trigger function",
          sql.raw(
            `create or replace function lineage_log_append_only() returns trigger language plpgsql as $$ begin return new; end $$`,
          ),
        ],
        ["update a leaf", sql`update log_entries set leaf = '\\x00'::bytea where idx = 0`],
        ["update a node", sql`update log_nodes set hash = hash`],
        ["delete an entry", sql`delete from log_entries`],
        ["delete a checkpoint", sql`delete from log_checkpoints`],
        ["truncate", sql`truncate log_entries`],
        ["truncate checkpoints", sql`truncate log_checkpoints`],
        ["drop table", sql`drop table log_checkpoints`],
        ["rename table", sql`alter table log_entries rename to log_entries_old`],
        ["create a table", sql`create table shadow (x int)`],
        ["assume the owner role", sql.raw(`set role ${owner}`)],
      ];
      for (const [what, stmt] of refused) {
        await rejectsWith(stmt.execute(svc.db), "permission_denied", what);
      }
      // Nothing changed.
      const after = await svc.db.selectFrom("log_entries").select(["idx", "leaf"]).execute();
      assert.deepEqual(
        after.map((r) => [r.idx, [...r.leaf]]),
        [[0n, [1, 2, 3]]],
      );
      // The sketch index (not the log): its status columns and its sequence, and nothing else (migration 0009).
      const privileges = await sql<Record<string, boolean>>`
        select has_column_privilege(current_user, ${`${schema}.sketches`}, 'status', 'UPDATE') as status,
               has_column_privilege(current_user, ${`${schema}.sketches`}, 'status_reason', 'UPDATE') as reason,
               has_column_privilege(current_user, ${`${schema}.sketches`}, 'sketch_id', 'UPDATE') as sketch_id,
               has_column_privilege(current_user, ${`${schema}.sketches`}, 'envelope', 'UPDATE') as envelope,
               has_table_privilege(current_user, ${`${schema}.sketches`}, 'DELETE') as delete_sketch,
               has_sequence_privilege(current_user, ${`${schema}.sketches_seq_seq`}, 'USAGE') as seq,
               has_table_privilege(current_user, ${`${schema}.log_entries`}, 'UPDATE') as log_update`.execute(
        svc.db,
      );
      assert.deepEqual(
        { ...privileges.rows[0] },
        {
          status: true,
          reason: true,
          sketch_id: false,
          envelope: false,
          delete_sketch: false,
          seq: true,
          log_update: false,
        },
        "the service role may set a sketch's status and number new sketches, nothing more",
      );
      await rejectsWith(
        sql`update sketches set envelope = '\\x00'::bytea`.execute(svc.db),
        "permission_denied",
        "rewrite an indexed sketch",
      );
      const triggers = await sql<{ n: string }>`
        select count(*)::text as n from pg_trigger t join pg_class c on c.oid = t.tgrelid
        join pg_namespace s on s.oid = c.relnamespace
        where s.nspname = ${schema} and not t.tgisinternal and t.tgenabled = 'O'`.execute(svc.db);
      assert.equal(triggers.rows[0]?.n, "6", "all six append-only triggers are still enabled");
    } finally {
      await svc.close();
    }
  } finally {
    await admin(async (c) => {
      await c.query(`drop schema if exists ${schema} cascade`);
      for (const r of [owner, service]) {
        await c.query(`drop owned by ${r}`).catch(() => {});
        await c.query(`drop role if exists ${r}`).catch(() => {});
      }
    });
  }
});
