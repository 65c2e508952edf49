/**
 * Hub migration 0013: each sketch is stored once (issue 10, ingestion throughput). Migration 0005 kept three
 * copies of every sketch: the member-signed envelope (whose payload is the protobuf Sketch), its canonical
 * encoding (`sketch`) and its coarse signature (`coarse`, a slice of both). The envelope is the evidence and
 * holds everything the index needs, so the two derived copies go: the index decodes the envelope's payload
 * when it loads a sketch (services/hub/src/ingest/sketch-store.ts). Their check constraints go with them.
 *
 * The envelope is signed digests — incompressible — so it is stored EXTERNAL: out of line without the
 * compression attempt Postgres would make (and fail) on every insert.
 *
 * No `down`: the dropped columns cannot be refilled by SQL (they are decoded from protobuf). Frozen in time:
 * never edit after merge.
 */

import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table sketches drop column sketch, drop column coarse`.execute(db);
  await sql`alter table sketches alter column envelope set storage external`.execute(db);
}
