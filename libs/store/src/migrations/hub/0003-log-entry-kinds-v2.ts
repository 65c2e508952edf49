/**
 * Hub migration 0003: protocol v2 log entry kinds. The match protocol logs the hub's SessionOpened (kind 6)
 * and SuspectSighting (kind 7) entries before a member queries a suspect (DESIGN.md "The match protocol";
 * proto/lineage/v1/transparency_log.proto LogEntryKind), so the kind check of 0002 widens from 1..5 to 1..7.
 * Frozen in time: never edit after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table log_entries drop constraint log_entries_kind_range`.execute(db);
  await sql`alter table log_entries add constraint log_entries_kind_range check (kind between 1 and 7)`.execute(
    db,
  );
}

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table log_entries drop constraint log_entries_kind_range`.execute(db);
  await sql`alter table log_entries add constraint log_entries_kind_range check (kind between 1 and 5)`.execute(
    db,
  );
}
