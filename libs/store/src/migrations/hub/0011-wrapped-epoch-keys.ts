/**
 * Hub migration 0011: per-epoch sketch keys are stored wrapped (services/hub epochs/epoch-key-wrap.ts:
 * AES-256-GCM under a key derived from the hub's root key, 69 bytes) instead of in plaintext (32 bytes).
 * The length check admits both: rows written before are wrapped in place by the hub the first time it opens
 * its epoch store with its key (SQL cannot: the key is not in the database). Frozen in time: never edit
 * after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table epochs drop constraint epochs_key_length`.execute(db);
  await sql`alter table epochs add constraint epochs_key_length check (octet_length(epoch_key) in (32, 69))`.execute(
    db,
  );
}

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table epochs drop constraint epochs_key_length`.execute(db);
  await sql`alter table epochs add constraint epochs_key_length check (octet_length(epoch_key) = 32)`.execute(
    db,
  );
}
