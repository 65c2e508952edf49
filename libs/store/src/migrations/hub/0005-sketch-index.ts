/**
 * Hub migration 0005: the sketch index (DESIGN.md flow 2 "Protect" and 4 "Scan"). `sketches` holds every
 * accepted member sketch with the member's signed envelope (evidence of who published what) and its
 * canonical encoding (libs/fingerprint sketch-codec); at most one active sketch per (epoch, member model).
 * `sketch_messages` records every accepted signed header (member, sequence, nonce) so a replayed header is
 * refused by every hub replica, and the JetStream stream sequence it came with, so a redelivery of the same
 * stored message is recognised as a duplicate instead of a replay. Frozen in time: never edit after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("sketches")
    .addColumn("seq", "bigserial", (c) => c.primaryKey())
    .addColumn("sketch_id", "text", (c) => c.notNull().unique())
    .addColumn("epoch_id", "text", (c) => c.notNull().references("epochs.epoch_id").onDelete("restrict"))
    .addColumn("member_id", "text", (c) => c.notNull())
    .addColumn("model_id", "text", (c) => c.notNull())
    .addColumn("model_version", "text", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("sketch", "bytea", (c) => c.notNull())
    .addColumn("coarse", "bytea", (c) => c.notNull())
    .addColumn("envelope", "bytea", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("active"))
    .addColumn("status_reason", "text")
    .addColumn("received_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("status_at", "timestamptz")
    .addCheckConstraint("sketches_id_length", sql`char_length(sketch_id) = 64`)
    .addCheckConstraint("sketches_member_length", sql`char_length(member_id) between 1 and 64`)
    .addCheckConstraint("sketches_model_length", sql`char_length(model_id) between 1 and 128`)
    .addCheckConstraint("sketches_version_length", sql`char_length(model_version) <= 64`)
    .addCheckConstraint("sketches_status", sql`status in ('active', 'superseded', 'withdrawn', 'suppressed')`)
    .addCheckConstraint(
      "sketches_reason_length",
      sql`status_reason is null or char_length(status_reason) <= 1024`,
    )
    .addCheckConstraint("sketches_sketch_size", sql`octet_length(sketch) <= 2097152`)
    .addCheckConstraint("sketches_coarse_size", sql`octet_length(coarse) in (0, 4096)`)
    .addCheckConstraint("sketches_envelope_size", sql`octet_length(envelope) <= 2097152`)
    .execute();
  await sql`create unique index sketches_one_active on sketches (epoch_id, member_id, model_id, model_version) where status = 'active'`.execute(
    db,
  );
  await db.schema
    .createIndex("sketches_epoch_status_idx")
    .on("sketches")
    .columns(["epoch_id", "status", "seq"])
    .execute();
  await db.schema
    .createIndex("sketches_model_idx")
    .on("sketches")
    .columns(["member_id", "model_id", "model_version"])
    .execute();

  await db.schema
    .createTable("sketch_messages")
    .addColumn("member_id", "text", (c) => c.notNull())
    .addColumn("sequence", "bigint", (c) => c.notNull())
    .addColumn("nonce", "bytea", (c) => c.notNull())
    .addColumn("message_digest", "bytea", (c) => c.notNull())
    .addColumn("stream_seq", "bigint")
    .addColumn("sketch_id", "text", (c) => c.notNull())
    .addColumn("received_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("sketch_messages_pk", ["member_id", "sequence"])
    .addUniqueConstraint("sketch_messages_nonce_unique", ["member_id", "nonce"])
    .addCheckConstraint("sketch_messages_sequence", sql`sequence >= 0`)
    .addCheckConstraint("sketch_messages_nonce_length", sql`octet_length(nonce) between 16 and 64`)
    .addCheckConstraint("sketch_messages_digest_length", sql`octet_length(message_digest) = 32`)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("sketch_messages").execute();
  await db.schema.dropTable("sketches").execute();
}
