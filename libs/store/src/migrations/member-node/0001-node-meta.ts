/**
 * Member-node migration 0001: `node_meta`, the node's own small key/value settings.
 * Frozen in time: never edit after merge; change the schema with a new migration.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("node_meta")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("node_meta_key_length", sql`char_length(key) between 1 and 128`)
    .addCheckConstraint("node_meta_value_size", sql`octet_length(value) <= 65536`)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("node_meta").execute();
}
