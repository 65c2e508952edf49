/**
 * Hub migration 0001: the alliance's members and their signing keys (DESIGN.md, "Enrol").
 * Frozen in time: never edit after merge; change the schema with a new migration.
 *
 * Bounds are enforced by the database too, so a bug upstream cannot store an unbounded value.
 * A public key is unique across members: nobody can enrol another member's key as their own.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("members")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("members_id_length", sql`char_length(id) between 1 and 64`)
    .addCheckConstraint("members_display_name_length", sql`char_length(display_name) between 1 and 200`)
    .execute();

  await db.schema
    .createTable("member_keys")
    .addColumn("key_id", "text", (c) => c.primaryKey())
    .addColumn("member_id", "text", (c) => c.notNull().references("members.id").onDelete("restrict"))
    .addColumn("public_key", "bytea", (c) => c.notNull())
    .addColumn("valid_from", "timestamptz", (c) => c.notNull())
    .addColumn("valid_until", "timestamptz")
    .addColumn("revoked_at", "timestamptz")
    .addUniqueConstraint("member_keys_public_key_unique", ["public_key"])
    .addCheckConstraint("member_keys_key_id_length", sql`char_length(key_id) between 1 and 128`)
    .addCheckConstraint("member_keys_public_key_length", sql`octet_length(public_key) between 1 and 256`)
    .addCheckConstraint("member_keys_validity", sql`valid_until is null or valid_until > valid_from`)
    .execute();

  await db.schema.createIndex("member_keys_member_id_idx").on("member_keys").column("member_id").execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("member_keys").execute();
  await db.schema.dropTable("members").execute();
}
