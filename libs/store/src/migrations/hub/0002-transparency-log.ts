/**
 * Hub migration 0002: the transparency log (DESIGN.md, "Transparency log"; RFC 6962/9162 hashing,
 * c2sp.org/tlog-checkpoint). Frozen in time: never edit after merge; change the schema with a new
 * migration.
 *
 * - `log_entries`: one row per leaf, `idx` dense from 0; `leaf` is the exact encoded LogLeaf that
 *   was hashed, `leaf_hash` = SHA-256(0x00 || leaf).
 * - `log_nodes`: every perfect-subtree hash (level 0 = leaf hashes), so any inclusion or
 *   consistency proof is O(log n) reads and never needs all leaves.
 * - `log_checkpoints`: every signed checkpoint (C2SP signed note), by tree size.
 *
 * All three are append-only: a trigger rejects UPDATE, DELETE and TRUNCATE, so a bug (or a
 * careless operator using the application role) cannot rewrite history. A database superuser can
 * still disable triggers: that is what auditors and consistency proofs are for.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("log_entries")
    .addColumn("idx", "bigint", (c) => c.primaryKey())
    .addColumn("kind", "smallint", (c) => c.notNull())
    .addColumn("leaf", "bytea", (c) => c.notNull())
    .addColumn("leaf_hash", "bytea", (c) => c.notNull())
    .addColumn("integrated_at", "timestamptz", (c) => c.notNull())
    .addColumn("member_id", "text")
    .addColumn("key_id", "text")
    .addColumn("session_id", "text")
    .addColumn("ref_idx", "bigint")
    .addCheckConstraint("log_entries_idx_range", sql`idx >= 0`)
    .addCheckConstraint("log_entries_kind_range", sql`kind between 1 and 5`)
    .addCheckConstraint("log_entries_leaf_length", sql`octet_length(leaf) between 1 and 1100000`)
    .addCheckConstraint("log_entries_leaf_hash_length", sql`octet_length(leaf_hash) = 32`)
    .addCheckConstraint(
      "log_entries_member_id_length",
      sql`member_id is null or char_length(member_id) between 1 and 64`,
    )
    .addCheckConstraint(
      "log_entries_key_id_length",
      sql`key_id is null or char_length(key_id) between 1 and 128`,
    )
    .addCheckConstraint(
      "log_entries_session_id_length",
      sql`session_id is null or char_length(session_id) between 1 and 64`,
    )
    .addCheckConstraint(
      "log_entries_ref_idx_before",
      sql`ref_idx is null or (ref_idx >= 0 and ref_idx < idx)`,
    )
    .execute();
  await db.schema.createIndex("log_entries_kind_idx").on("log_entries").columns(["kind", "idx"]).execute();
  await db.schema
    .createIndex("log_entries_key_id_idx")
    .on("log_entries")
    .columns(["key_id", "idx"])
    .execute();
  await db.schema
    .createIndex("log_entries_session_id_idx")
    .on("log_entries")
    .columns(["session_id"])
    .execute();

  await db.schema
    .createTable("log_nodes")
    .addColumn("level", "smallint", (c) => c.notNull())
    .addColumn("idx", "bigint", (c) => c.notNull())
    .addColumn("hash", "bytea", (c) => c.notNull())
    .addPrimaryKeyConstraint("log_nodes_pk", ["level", "idx"])
    .addCheckConstraint("log_nodes_level_range", sql`level between 0 and 63`)
    .addCheckConstraint("log_nodes_idx_range", sql`idx >= 0`)
    .addCheckConstraint("log_nodes_hash_length", sql`octet_length(hash) = 32`)
    .execute();

  await db.schema
    .createTable("log_checkpoints")
    .addColumn("tree_size", "bigint", (c) => c.primaryKey())
    .addColumn("root_hash", "bytea", (c) => c.notNull())
    .addColumn("signed_note", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("log_checkpoints_tree_size_range", sql`tree_size >= 0`)
    .addCheckConstraint("log_checkpoints_root_hash_length", sql`octet_length(root_hash) = 32`)
    .addCheckConstraint("log_checkpoints_note_length", sql`char_length(signed_note) between 1 and 16384`)
    .execute();

  await sql`
    create function lineage_log_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'table % is append-only: % is not allowed', tg_table_name, tg_op
        using errcode = 'restrict_violation';
    end
    $$`.execute(db);
  for (const table of ["log_entries", "log_nodes", "log_checkpoints"]) {
    await sql`create trigger ${sql.id(`${table}_no_update_delete`)} before update or delete on ${sql.id(table)}
      for each row execute function lineage_log_append_only()`.execute(db);
    await sql`create trigger ${sql.id(`${table}_no_truncate`)} before truncate on ${sql.id(table)}
      for each statement execute function lineage_log_append_only()`.execute(db);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("log_checkpoints").execute();
  await db.schema.dropTable("log_nodes").execute();
  await db.schema.dropTable("log_entries").execute();
  await sql`drop function lineage_log_append_only()`.execute(db);
}
