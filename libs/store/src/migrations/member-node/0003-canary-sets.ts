/**
 * Member-node migration 0003: canary PAIR sets (docs/specs/canary-commitment.md) and their exposure.
 * Frozen in time: never edit after merge; change the schema with a new migration.
 *
 * - `canary_sets`: one row per commitment; `state` moves imported -> committed (logged through the hub)
 *   -> labelled (the first checkpoint covering the commitment decided each pair's exposed item).
 * - `canary_pairs`: the private pairs and salts that open the committed root; `exposed` (0 = item a,
 *   1 = item b) stays null until the log has drawn it, so no item can be marked exposed before then.
 * - `canary_exposures`: each canary item sent to a suspect, once per (item, suspect): a retried or
 *   resumed session re-sends nothing new and spends nothing twice.
 * These tables hold secrets: nothing in them ever leaves the node.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("canary_sets")
    .addColumn("commitment_id", "text", (c) => c.primaryKey())
    .addColumn("pair_count", "integer", (c) => c.notNull())
    .addColumn("merkle_root", "bytea", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("log_index", "bigint")
    .addColumn("label_checkpoint_size", "bigint")
    .addColumn("label_checkpoint_root", "bytea")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("canary_sets_id_length", sql`char_length(commitment_id) between 1 and 64`)
    .addCheckConstraint("canary_sets_pair_count", sql`pair_count between 1 and 1000000`)
    .addCheckConstraint("canary_sets_root_length", sql`octet_length(merkle_root) = 32`)
    .addCheckConstraint("canary_sets_state", sql`state in ('imported', 'committed', 'labelled')`)
    .addCheckConstraint("canary_sets_committed_has_index", sql`(state = 'imported') = (log_index is null)`)
    .addCheckConstraint(
      "canary_sets_labelled_has_checkpoint",
      sql`(state = 'labelled') = (label_checkpoint_size is not null and label_checkpoint_root is not null)`,
    )
    .execute();
  await db.schema
    .createTable("canary_pairs")
    .addColumn("commitment_id", "text", (c) =>
      c.notNull().references("canary_sets.commitment_id").onDelete("cascade"),
    )
    .addColumn("pair_index", "integer", (c) => c.notNull())
    .addColumn("pair_id", "text", (c) => c.notNull())
    .addColumn("salt", "bytea", (c) => c.notNull())
    .addColumn("prompt_a", "text", (c) => c.notNull())
    .addColumn("expected_a", "text", (c) => c.notNull())
    .addColumn("prompt_b", "text", (c) => c.notNull())
    .addColumn("expected_b", "text", (c) => c.notNull())
    .addColumn("exposed", "smallint")
    .addPrimaryKeyConstraint("canary_pairs_pk", ["commitment_id", "pair_index"])
    .addUniqueConstraint("canary_pairs_pair_id_unique", ["commitment_id", "pair_id"])
    .addCheckConstraint("canary_pairs_index_range", sql`pair_index >= 0`)
    .addCheckConstraint("canary_pairs_salt_length", sql`octet_length(salt) = 32`)
    .addCheckConstraint("canary_pairs_exposed", sql`exposed is null or exposed in (0, 1)`)
    .execute();
  await db.schema
    .createTable("canary_exposures")
    .addColumn("commitment_id", "text", (c) => c.notNull())
    .addColumn("pair_index", "integer", (c) => c.notNull())
    .addColumn("item", "smallint", (c) => c.notNull())
    .addColumn("suspect_id", "text", (c) => c.notNull())
    .addColumn("session_id", "text", (c) => c.notNull())
    .addColumn("exposed_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("canary_exposures_pk", ["commitment_id", "pair_index", "item", "suspect_id"])
    .addForeignKeyConstraint(
      "canary_exposures_pair_fk",
      ["commitment_id", "pair_index"],
      "canary_pairs",
      ["commitment_id", "pair_index"],
      (c) => c.onDelete("cascade"),
    )
    .addCheckConstraint("canary_exposures_item", sql`item in (0, 1)`)
    .addCheckConstraint("canary_exposures_suspect_length", sql`char_length(suspect_id) between 1 and 64`)
    .addCheckConstraint("canary_exposures_session_length", sql`char_length(session_id) between 1 and 64`)
    .execute();
  await db.schema
    .createIndex("canary_exposures_recent_idx")
    .on("canary_exposures")
    .columns(["commitment_id", "exposed_at"])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("canary_exposures").execute();
  await db.schema.dropTable("canary_pairs").execute();
  await db.schema.dropTable("canary_sets").execute();
}
