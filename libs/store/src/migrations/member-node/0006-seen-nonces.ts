/**
 * Member-node migration 0006: replay memory that survives a restart. Frozen in time: never edit after merge.
 *
 * - `seen_nonces`: the nonce of every signed request the node accepted — hub-signed headers of session
 *   requests (`scope` 'hub-header') and signed admin requests ('admin') — until `expires_at_ms` (node clock,
 *   ms since the epoch), after which the request would be refused as stale anyway. Admission inserts the
 *   nonce in the same statement that checks it (primary key), so a replay right after a restart, or to a
 *   second process on the same database, is refused like one to the running node.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("seen_nonces")
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("nonce", "bytea", (c) => c.notNull())
    .addColumn("expires_at_ms", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("seen_nonces_pk", ["scope", "nonce"])
    .addCheckConstraint("seen_nonces_scope", sql`scope in ('hub-header', 'admin')`)
    .addCheckConstraint("seen_nonces_nonce_length", sql`octet_length(nonce) between 1 and 64`)
    .execute();
  await db.schema.createIndex("seen_nonces_expiry").on("seen_nonces").column("expires_at_ms").execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("seen_nonces").execute();
}
