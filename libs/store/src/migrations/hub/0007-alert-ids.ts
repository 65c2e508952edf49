/**
 * Hub migration 0007: each alert's id (unique), so an alert raised again for the same event — after a hub
 * restart, or by a replica handling the same attestation — is stored and published once.
 * Frozen in time: never edit after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("hub_alerts")
    .addColumn("alert_id", "text", (c) => c.notNull().unique())
    .execute();
  await sql`alter table hub_alerts add constraint hub_alerts_id_length check (char_length(alert_id) between 1 and 64)`.execute(
    db,
  );
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("hub_alerts").dropColumn("alert_id").execute();
}
