/**
 * Hub migration 0010: hub key statements in the log. The hub's root key delegates its purposes (membership,
 * sessions, countersignatures) to keys of their own and rotates them by logged HubKeyStatements (kind 8,
 * proto/lineage/v1/transparency_log.proto LogEntryKind.HUB_KEY; docs/specs/hub-keys.md), so the kind check
 * widens from 1..7 to 1..8. Frozen in time: never edit after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table log_entries drop constraint log_entries_kind_range`.execute(db);
  await sql`alter table log_entries add constraint log_entries_kind_range check (kind between 1 and 8)`.execute(
    db,
  );
}

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table log_entries drop constraint log_entries_kind_range`.execute(db);
  await sql`alter table log_entries add constraint log_entries_kind_range check (kind between 1 and 7)`.execute(
    db,
  );
}
