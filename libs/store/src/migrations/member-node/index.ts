/**
 * The member node's migration set. Add a migration: create `NNNN-what-it-does.ts` beside this
 * file (next number, `up(db: Kysely<any>)`, optional `down`), import it here and add it to the
 * record, and update the table types in `../../schema/member-node-database.ts`. Never edit a
 * merged migration.
 */

import type { MigrationSet } from "../../migration-set.js";
import * as m0001 from "./0001-node-meta.js";

/** Migrations of a member node's database (tables: node_meta). */
export const memberNodeMigrations: MigrationSet = {
  name: "member-node",
  migrations: {
    "0001-node-meta": m0001,
  },
};
