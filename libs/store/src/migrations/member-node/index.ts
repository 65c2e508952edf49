/**
 * The member node's migration set. Add a migration: create `NNNN-what-it-does.ts` beside this
 * file (next number, `up(db: Kysely<any>)`, optional `down`), import it here and add it to the
 * record, and update the table types in `../../schema/member-node-database.ts`. Never edit a
 * merged migration.
 */

import type { MigrationSet } from "../../migration-set.js";
import * as m0001 from "./0001-node-meta.js";
import * as m0002 from "./0002-protected-models.js";
import * as m0003 from "./0003-canary-sets.js";
import * as m0004 from "./0004-match-sessions.js";
import * as m0005 from "./0005-scores-and-watermark-keys.js";
import * as m0006 from "./0006-seen-nonces.js";

/** Migrations of a member node's database (tables: node_meta; 0002: protected_models, probe_runs,
 * probe_results, published_sketches, sketch_withdrawals, header_sequence). */
export const memberNodeMigrations: MigrationSet = {
  name: "member-node",
  migrations: {
    "0001-node-meta": m0001,
    "0002-protected-models": m0002,
    "0003-canary-sets": m0003,
    "0004-match-sessions": m0004,
    "0005-scores-and-watermark-keys": m0005,
    "0006-seen-nonces": m0006,
  },
};
