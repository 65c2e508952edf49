/**
 * Hub migration 0006: the reference population, match sessions and the alpha ledger, cases and alerts
 * (issue 10; DESIGN.md "The match protocol", "Concepts: Case"). Every table is insert-only: the hub's service
 * role may only SELECT and INSERT (deploy/postgres/hub-roles.sql), so a session's outcome, a case's state and
 * the ledger are rows appended beside the earlier ones, and the current state is the latest row.
 *   - hub_reference_models: the alliance's reference population (models known to be unrelated to every
 *     member), from which the hub — never a member — chooses each session's panel;
 *   - hub_alpha_ledger: one row per session the hub reserves for a member in an epoch, written BEFORE the
 *     session is logged, holding the planned SessionOpened so a hub killed before logging it logs the same one;
 *   - hub_sessions: the session once logged (its log index and the request sent to the member);
 *   - hub_session_outcomes: one row per session: attested (with the attestation's log index), declined or failed;
 *   - hub_cases / hub_case_attestations / hub_case_events: one case per suspect, its attestations, and its
 *     state history (review decisions with their log index; shared-violation recomputations);
 *   - hub_alerts: every alert raised, numbered by a sequence WatchAlerts resumes from.
 * Frozen in time: never edit after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("hub_reference_models")
    .addColumn("model_id", "text", (c) => c.primaryKey())
    .addColumn("population_id", "text", (c) => c.notNull())
    .addColumn("base_url", "text", (c) => c.notNull())
    .addColumn("model_name", "text", (c) => c.notNull())
    .addColumn("added_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("hub_reference_models_id", sql`char_length(model_id) between 1 and 256`)
    .addCheckConstraint("hub_reference_models_population", sql`char_length(population_id) between 1 and 128`)
    .addCheckConstraint("hub_reference_models_url", sql`char_length(base_url) between 1 and 2048`)
    .addCheckConstraint("hub_reference_models_name", sql`char_length(model_name) between 1 and 256`)
    .execute();

  await db.schema
    .createTable("hub_alpha_ledger")
    .addColumn("session_id", "text", (c) => c.primaryKey())
    .addColumn("member_id", "text", (c) => c.notNull())
    .addColumn("epoch_id", "text", (c) => c.notNull())
    .addColumn("alpha", "double precision", (c) => c.notNull())
    .addColumn("suspect_id", "text", (c) => c.notNull())
    .addColumn("model_id", "text", (c) => c.notNull())
    .addColumn("model_version", "text", (c) => c.notNull())
    .addColumn("planned", "bytea", (c) => c.notNull())
    .addColumn("reserved_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("hub_alpha_ledger_alpha", sql`alpha > 0 and alpha < 1`)
    .addCheckConstraint("hub_alpha_ledger_planned_size", sql`octet_length(planned) <= 1048576`)
    .execute();
  await db.schema
    .createIndex("hub_alpha_ledger_member_epoch")
    .on("hub_alpha_ledger")
    .columns(["member_id", "epoch_id"])
    .execute();
  // One session per (suspect, member model): a second scan of the same release does not spend alpha again.
  await db.schema
    .createIndex("hub_alpha_ledger_suspect_model")
    .on("hub_alpha_ledger")
    .columns(["suspect_id", "member_id", "model_id", "model_version"])
    .unique()
    .execute();

  await db.schema
    .createTable("hub_sessions")
    .addColumn("session_id", "text", (c) =>
      c.primaryKey().references("hub_alpha_ledger.session_id").onDelete("restrict"),
    )
    .addColumn("session_index", "bigint", (c) => c.notNull().unique())
    .addColumn("request", "bytea", (c) => c.notNull())
    .addColumn("logged_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("hub_sessions_request_size", sql`octet_length(request) <= 1048576`)
    .execute();

  await db.schema
    .createTable("hub_session_outcomes")
    .addColumn("session_id", "text", (c) =>
      c.primaryKey().references("hub_sessions.session_id").onDelete("restrict"),
    )
    .addColumn("outcome", "text", (c) => c.notNull())
    .addColumn("attestation_index", "bigint", (c) => c.unique())
    .addColumn("verdict", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("decline_reason", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("note", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("decided_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("hub_session_outcomes_outcome", sql`outcome in ('attested', 'declined', 'failed')`)
    .addCheckConstraint(
      "hub_session_outcomes_attested_index",
      sql`(outcome = 'attested') = (attestation_index is not null)`,
    )
    .addCheckConstraint("hub_session_outcomes_note", sql`char_length(note) <= 512`)
    .execute();

  await db.schema
    .createTable("hub_cases")
    .addColumn("case_id", "text", (c) => c.primaryKey())
    .addColumn("suspect_id", "text", (c) => c.notNull().unique())
    .addColumn("suspect", "bytea", (c) => c.notNull())
    .addColumn("opened_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("hub_cases_id", sql`char_length(case_id) between 1 and 64`)
    .addCheckConstraint("hub_cases_suspect_size", sql`octet_length(suspect) <= 65536`)
    .execute();

  await db.schema
    .createTable("hub_case_attestations")
    .addColumn("log_index", "bigint", (c) => c.primaryKey())
    .addColumn("case_id", "text", (c) => c.notNull().references("hub_cases.case_id").onDelete("restrict"))
    .addColumn("session_id", "text", (c) => c.notNull().unique())
    .addColumn("member_id", "text", (c) => c.notNull())
    .addColumn("model_id", "text", (c) => c.notNull())
    .addColumn("model_version", "text", (c) => c.notNull())
    .addColumn("verdict", "integer", (c) => c.notNull())
    .addColumn("combined_p", "double precision", (c) => c.notNull())
    .addColumn("added_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex("hub_case_attestations_case")
    .on("hub_case_attestations")
    .column("case_id")
    .execute();

  await db.schema
    .createTable("hub_case_events")
    .addColumn("case_id", "text", (c) => c.notNull().references("hub_cases.case_id").onDelete("restrict"))
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("state", "integer", (c) => c.notNull())
    .addColumn("shared_violation", "boolean", (c) => c.notNull())
    .addColumn("member_ids", "text", (c) => c.notNull())
    .addColumn("leads", "text", (c) => c.notNull())
    .addColumn("dismissal_reason", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("rationale", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("reviewer", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("decision_log_index", "bigint")
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("hub_case_events_pk", ["case_id", "seq"])
    .addCheckConstraint("hub_case_events_seq", sql`seq >= 1`)
    .addCheckConstraint("hub_case_events_state", sql`state between 1 and 4`)
    .addCheckConstraint("hub_case_events_rationale", sql`char_length(rationale) <= 4096`)
    .execute();

  await db.schema
    .createTable("hub_alerts")
    .addColumn("sequence", "bigint", (c) => c.primaryKey())
    .addColumn("kind", "integer", (c) => c.notNull())
    .addColumn("member_ids", "text", (c) => c.notNull())
    .addColumn("alert", "bytea", (c) => c.notNull())
    .addColumn("raised_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("hub_alerts_sequence", sql`sequence >= 1`)
    .addCheckConstraint("hub_alerts_size", sql`octet_length(alert) <= 65536`)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    "hub_alerts",
    "hub_case_events",
    "hub_case_attestations",
    "hub_cases",
    "hub_session_outcomes",
    "hub_sessions",
    "hub_alpha_ledger",
    "hub_reference_models",
  ])
    await db.schema.dropTable(t).execute();
}
