/**
 * Member-node migration 0002: protected models, their probe runs, every probe result as it arrives,
 * the sketches published and their withdrawals, and the counter of the node's signed headers (issue 9,
 * "Protected models"). Frozen in time: never edit after merge; change the schema with a new migration.
 *
 * - `protected_models`: a model the node protects, with the endpoint it is reached at (base URL, model
 *   name, the *name* of the environment variable holding its API key — never the key itself).
 * - `probe_runs`: one run per (model, epoch); resumed after a crash or restart.
 * - `probe_results`: one row per answered probe, written as it arrives (primary key (run, probe index), so a
 *   resumed run never stores a probe twice). The raw responses are the private fingerprint: they never
 *   leave the node.
 * - `published_sketches`: what was announced on the bus for (model, epoch), with the message id that
 *   makes a re-publish a duplicate.
 * - `sketch_withdrawals`: signed withdrawals announced.
 * - `header_sequence`: one row, the last sequence used in a member-signed header (strictly increasing
 *   across restarts, as receivers' replay guards require).
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("protected_models")
    .addColumn("model_id", "text", (c) => c.primaryKey())
    .addColumn("model_version", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("adapter", "text", (c) => c.notNull())
    .addColumn("endpoint", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("withdrawn_at", "timestamptz")
    .addCheckConstraint("protected_models_id_length", sql`char_length(model_id) between 1 and 128`)
    .addCheckConstraint("protected_models_version_length", sql`char_length(model_version) <= 64`)
    .addCheckConstraint("protected_models_adapter_length", sql`char_length(adapter) between 1 and 128`)
    .addCheckConstraint("protected_models_endpoint_size", sql`octet_length(endpoint) <= 8192`)
    .execute();

  await db.schema
    .createTable("probe_runs")
    .addColumn("run_id", "text", (c) => c.primaryKey())
    .addColumn("model_id", "text", (c) => c.notNull().references("protected_models.model_id"))
    .addColumn("epoch_id", "text", (c) => c.notNull())
    .addColumn("battery_sha256", "bytea", (c) => c.notNull())
    .addColumn("probes_total", "integer", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("reference_salt", "bytea", (c) => c.notNull())
    .addColumn("reference_hash", "bytea")
    .addColumn("sketch_sha256", "bytea")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("finished_at", "timestamptz")
    .addUniqueConstraint("probe_runs_model_epoch", ["model_id", "epoch_id"])
    .addCheckConstraint("probe_runs_state", sql`state in ('probing', 'done')`)
    .addCheckConstraint("probe_runs_total_range", sql`probes_total between 1 and 4096`)
    .addCheckConstraint("probe_runs_battery_sha256_length", sql`octet_length(battery_sha256) = 32`)
    .addCheckConstraint("probe_runs_salt_length", sql`octet_length(reference_salt) = 32`)
    .execute();

  await db.schema
    .createTable("probe_results")
    .addColumn("run_id", "text", (c) => c.notNull().references("probe_runs.run_id").onDelete("cascade"))
    .addColumn("probe_index", "integer", (c) => c.notNull())
    .addColumn("probe_id", "text", (c) => c.notNull())
    .addColumn("response", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("probe_results_pk", ["run_id", "probe_index"])
    .addCheckConstraint("probe_results_index_range", sql`probe_index between 0 and 4095`)
    .addCheckConstraint("probe_results_response_size", sql`octet_length(response) <= 4194304`)
    .execute();

  await db.schema
    .createTable("published_sketches")
    .addColumn("model_id", "text", (c) => c.notNull().references("protected_models.model_id"))
    .addColumn("epoch_id", "text", (c) => c.notNull())
    .addColumn("run_id", "text", (c) => c.notNull().references("probe_runs.run_id"))
    .addColumn("header_sequence", "bigint", (c) => c.notNull())
    .addColumn("msg_id", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("sketch_sha256", "bytea", (c) => c.notNull())
    .addColumn("stream_seq", "bigint")
    .addColumn("published_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("published_sketches_pk", ["model_id", "epoch_id"])
    .addCheckConstraint("published_sketches_sha256_length", sql`octet_length(sketch_sha256) = 32`)
    .execute();

  await db.schema
    .createTable("sketch_withdrawals")
    .addColumn("model_id", "text", (c) => c.notNull().references("protected_models.model_id"))
    .addColumn("epoch_id", "text", (c) => c.notNull())
    .addColumn("header_sequence", "bigint", (c) => c.notNull())
    .addColumn("msg_id", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("withdrawn_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("sketch_withdrawals_pk", ["model_id", "epoch_id"])
    .addCheckConstraint("sketch_withdrawals_reason_length", sql`char_length(reason) <= 1024`)
    .execute();

  await db.schema
    .createTable("header_sequence")
    .addColumn("id", "smallint", (c) => c.primaryKey())
    .addColumn("last", "bigint", (c) => c.notNull())
    .addCheckConstraint("header_sequence_single_row", sql`id = 1`)
    .addCheckConstraint("header_sequence_range", sql`last >= 0`)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    "header_sequence",
    "sketch_withdrawals",
    "published_sketches",
    "probe_results",
    "probe_runs",
    "protected_models",
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
