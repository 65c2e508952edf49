/**
 * Member-node migration 0005: what a resumed session and a watermarking node need. Frozen in time: never
 * edit after merge.
 *
 * - `session_canary_scores`: the suspect's answer to each rank-test scoring query (lineage-policy/3) in a
 *   session — the scored prompt tokens from the answer's start on — so a resumed session re-uses them
 *   instead of asking (and spending) the item again. Private, like `session_canary_answers`.
 * - `watermark_keys`: the member's watermark keys (secret: never sent anywhere) with the salt that opens
 *   their logged digest; `log_index` is set once the WatermarkKeyCommitment is in the hub's log, and a key
 *   is used by sessions only after that.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("session_canary_scores")
    .addColumn("session_id", "text", (c) =>
      c.notNull().references("match_sessions.session_id").onDelete("cascade"),
    )
    .addColumn("pair_index", "integer", (c) => c.notNull())
    .addColumn("item", "smallint", (c) => c.notNull())
    .addColumn("prompt_tokens", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("session_canary_scores_pk", ["session_id", "pair_index", "item"])
    .addCheckConstraint("session_canary_scores_item", sql`item in (0, 1)`)
    .addCheckConstraint("session_canary_scores_size", sql`octet_length(prompt_tokens) <= 262144`)
    .execute();
  await db.schema
    .createTable("watermark_keys")
    .addColumn("commitment_id", "text", (c) => c.primaryKey())
    .addColumn("secret_key", "bytea", (c) => c.notNull())
    .addColumn("salt", "bytea", (c) => c.notNull())
    .addColumn("key_digest", "bytea", (c) => c.notNull())
    .addColumn("gamma", "double precision", (c) => c.notNull())
    .addColumn("log_index", "bigint")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("watermark_keys_id_length", sql`char_length(commitment_id) between 1 and 64`)
    .addCheckConstraint("watermark_keys_key_length", sql`octet_length(secret_key) between 16 and 64`)
    .addCheckConstraint("watermark_keys_salt_length", sql`octet_length(salt) = 32`)
    .addCheckConstraint("watermark_keys_digest_length", sql`octet_length(key_digest) = 32`)
    .addCheckConstraint("watermark_keys_gamma", sql`gamma > 0 and gamma < 1`)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("watermark_keys").execute();
  await db.schema.dropTable("session_canary_scores").execute();
}
