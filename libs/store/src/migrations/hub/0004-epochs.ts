/**
 * Hub migration 0004: epoch batteries (DESIGN.md "Epoch battery"; proto/lineage/v1/epoch.proto). One row per
 * epoch: its battery (confidential to the alliance), the per-epoch HMAC key of sketch digests (secret), and
 * the hub's signature over the Epoch record announced to members. Epoch numbers increase by one per rotation.
 * Frozen in time: never edit after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("epochs")
    .addColumn("epoch_id", "text", (c) => c.primaryKey())
    .addColumn("number", "bigint", (c) => c.notNull().unique())
    .addColumn("not_before", "timestamptz", (c) => c.notNull())
    .addColumn("not_after", "timestamptz", (c) => c.notNull())
    .addColumn("battery", "bytea", (c) => c.notNull())
    .addColumn("probe_count", "integer", (c) => c.notNull())
    .addColumn("battery_digest", "bytea", (c) => c.notNull())
    .addColumn("epoch_key", "bytea", (c) => c.notNull())
    .addColumn("previous_epoch_id", "text", (c) => c.references("epochs.epoch_id").onDelete("restrict"))
    .addColumn("hub_signature", "bytea", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("epochs_id_length", sql`char_length(epoch_id) between 1 and 64`)
    .addCheckConstraint("epochs_number_positive", sql`number >= 1`)
    .addCheckConstraint("epochs_validity", sql`not_after > not_before`)
    .addCheckConstraint("epochs_probe_count", sql`probe_count between 1 and 4096`)
    .addCheckConstraint("epochs_battery_size", sql`octet_length(battery) <= 67108864`)
    .addCheckConstraint("epochs_digest_length", sql`octet_length(battery_digest) = 32`)
    .addCheckConstraint("epochs_key_length", sql`octet_length(epoch_key) = 32`)
    .addCheckConstraint("epochs_signature_length", sql`octet_length(hub_signature) = 64`)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("epochs").execute();
}
