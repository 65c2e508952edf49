/**
 * Hub migration 0012: epochs and sketch suppressions in the log (issue 10). The hub logs each epoch it creates
 * or rotates to (EpochStatement, kind 9) before handing its battery out, and each sketch the secretariat takes
 * out of retrieval (SketchSuppression, kind 10): proto/lineage/v1/transparency_log.proto LOG_ENTRY_KIND_EPOCH
 * and LOG_ENTRY_KIND_SKETCH_SUPPRESSION. The kind check widens from 1..8 to 1..10. Frozen in time: never edit
 * after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table log_entries drop constraint log_entries_kind_range`.execute(db);
  await sql`alter table log_entries add constraint log_entries_kind_range check (kind between 1 and 10)`.execute(
    db,
  );
}

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table log_entries drop constraint log_entries_kind_range`.execute(db);
  await sql`alter table log_entries add constraint log_entries_kind_range check (kind between 1 and 8)`.execute(
    db,
  );
}
