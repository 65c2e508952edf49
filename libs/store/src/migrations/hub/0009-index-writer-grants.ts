/**
 * Hub migration 0009: what the hub's service role needs to keep the sketch index, and nothing more.
 *
 * deploy/postgres/hub-roles.sql gives the service role SELECT and INSERT on every table the migration role
 * creates, so the transparency log stays append-only for it. The sketch index (migration 0005) is not the log:
 * a sketch's `status` (active, withdrawn, suppressed) changes, and `sketches.seq` is a bigserial. So the roles
 * that may INSERT into `log_entries` — the service role, however a deployment names it — get UPDATE of the three
 * status columns of `sketches` only (never the sketch, its envelope or its ids) and USAGE of its sequence.
 * A database with no such role (the embedded default, a single-role Postgres) is left as it is.
 * Frozen in time: never edit after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await sql
    .raw(`
do $$
declare r record;
begin
  for r in
    select distinct grantee from information_schema.role_table_grants
    where table_schema = current_schema() and table_name = 'log_entries' and privilege_type = 'INSERT'
      and grantee <> current_user and grantee <> 'PUBLIC'
  loop
    execute format('grant update (status, status_reason, status_at) on sketches to %I', r.grantee);
    execute format('grant usage on sequence sketches_seq_seq to %I', r.grantee);
  end loop;
end
$$`)
    .execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(_db: Kysely<any>): Promise<void> {}
