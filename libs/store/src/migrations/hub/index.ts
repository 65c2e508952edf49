/**
 * The hub's migration set. Add a migration: create `NNNN-what-it-does.ts` beside this file
 * (next number, `up(db: Kysely<any>)`, optional `down`), import it here and add it to the record,
 * and update the table types in `../../schema/hub-database.ts`. Never edit a merged migration.
 */

import type { MigrationSet } from "../../migration-set.js";
import * as m0001 from "./0001-members-and-keys.js";
import * as m0002 from "./0002-transparency-log.js";
import * as m0003 from "./0003-log-entry-kinds-v2.js";
import * as m0004 from "./0004-epochs.js";
import * as m0005 from "./0005-sketch-index.js";
import * as m0006 from "./0006-sessions-ledger-cases-alerts.js";
import * as m0007 from "./0007-alert-ids.js";
import * as m0008 from "./0008-checkpoint-cosignatures.js";
import * as m0009 from "./0009-index-writer-grants.js";
import * as m0010 from "./0010-hub-key-entries.js";
import * as m0011 from "./0011-wrapped-epoch-keys.js";
import * as m0012 from "./0012-epoch-and-suppression-entries.js";
import * as m0013 from "./0013-sketch-stored-once.js";

/** Migrations of the hub's database (tables: members, member_keys, log_entries, log_nodes, log_checkpoints,
 * epochs, sketches, sketch_messages; 0006: hub_reference_models, hub_alpha_ledger, hub_sessions,
 * hub_session_outcomes, hub_cases, hub_case_attestations, hub_case_events, hub_alerts; 0013: a sketch is stored
 * once, in its envelope). */
export const hubMigrations: MigrationSet = {
  name: "hub",
  migrations: {
    "0001-members-and-keys": m0001,
    "0002-transparency-log": m0002,
    "0003-log-entry-kinds-v2": m0003,
    "0004-epochs": m0004,
    "0005-sketch-index": m0005,
    "0006-sessions-ledger-cases-alerts": m0006,
    "0007-alert-ids": m0007,
    "0008-checkpoint-cosignatures": m0008,
    "0009-index-writer-grants": m0009,
    "0010-hub-key-entries": m0010,
    "0011-wrapped-epoch-keys": m0011,
    "0012-epoch-and-suppression-entries": m0012,
    "0013-sketch-stored-once": m0013,
  },
};
