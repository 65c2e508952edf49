/**
 * Member-node migration 0004: match sessions as they advance, so a retried session gets the same
 * answer and a node restarted mid-session finishes it. Frozen in time: never edit after merge.
 *
 * - `match_sessions`: the hub's request (verified before the row exists) and, once signed, the answer.
 *   `nonce` is unique: a second session with a nonce already seen is a replay.
 * - `session_canary_answers`: the suspect's answer to each canary item asked in a session (private:
 *   kept for a later disclosure to an auditor, never sent anywhere else).
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("match_sessions")
    .addColumn("session_id", "text", (c) => c.primaryKey())
    .addColumn("nonce", "bytea", (c) => c.notNull().unique())
    .addColumn("session_index", "bigint", (c) => c.notNull())
    .addColumn("suspect_id", "text", (c) => c.notNull())
    .addColumn("commitment_id", "text")
    .addColumn("request", "bytea", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("answer", "bytea")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("answered_at", "timestamptz")
    .addCheckConstraint("match_sessions_id_length", sql`char_length(session_id) between 1 and 64`)
    .addCheckConstraint("match_sessions_nonce_length", sql`octet_length(nonce) = 32`)
    .addCheckConstraint("match_sessions_state", sql`state in ('running', 'answered')`)
    .addCheckConstraint("match_sessions_answer", sql`(state = 'answered') = (answer is not null)`)
    .addCheckConstraint("match_sessions_request_size", sql`octet_length(request) <= 4194304`)
    .execute();
  await db.schema
    .createTable("session_canary_answers")
    .addColumn("session_id", "text", (c) =>
      c.notNull().references("match_sessions.session_id").onDelete("cascade"),
    )
    .addColumn("pair_index", "integer", (c) => c.notNull())
    .addColumn("item", "smallint", (c) => c.notNull())
    .addColumn("response", "text", (c) => c.notNull())
    .addColumn("first_positions", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("session_canary_answers_pk", ["session_id", "pair_index", "item"])
    .addCheckConstraint("session_canary_answers_item", sql`item in (0, 1)`)
    .addCheckConstraint("session_canary_answers_size", sql`octet_length(response) <= 65536`)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("session_canary_answers").execute();
  await db.schema.dropTable("match_sessions").execute();
}
