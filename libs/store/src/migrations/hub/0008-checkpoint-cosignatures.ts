/**
 * Hub migration 0008: `log_cosignatures`, the witness cosignature lines the hub received for its signed
 * checkpoints (issue 8; docs/specs/witness.md), so a checkpoint is served with its cosignatures after a
 * restart — the first checkpoint covering an attestation seeds its disclosure with them
 * (docs/specs/disclosure.md, witnessed seed). One line per (checkpoint size, witness key). No append-only
 * trigger: a line is self-authenticating (an auditor verifies it under the witness's key), so changing one
 * can only remove a cosignature, not forge one; the hub's service role may only SELECT and INSERT it anyway
 * (deploy/postgres/hub-roles.sql default privileges). Frozen in time: never edit after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("log_cosignatures")
    .addColumn("tree_size", "bigint", (c) => c.notNull())
    .addColumn("witness", "text", (c) => c.notNull())
    .addColumn("line", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("log_cosignatures_pk", ["tree_size", "witness"])
    .addCheckConstraint("log_cosignatures_tree_size_range", sql`tree_size >= 0`)
    .addCheckConstraint("log_cosignatures_witness_length", sql`char_length(witness) between 10 and 300`)
    .addCheckConstraint("log_cosignatures_line_length", sql`char_length(line) between 1 and 1024`)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("log_cosignatures").execute();
}
