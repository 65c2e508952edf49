/** `lineage <role> migrate`: applies a role's pending schema migrations (idempotent). */
import { hubMigrations, type MigrationSet, memberNodeMigrations } from "@lineage/store";
import { EXIT } from "../cli-error.js";
import type { Command } from "../command.js";
import { emit } from "../option-values.js";
import { cliErrorFromStore } from "../store-errors.js";
import { openRoleStore, storeFlags } from "../store-flags.js";

function migrateCommand(role: string, set: MigrationSet): Command {
  return {
    name: "migrate",
    summary: `Create or update the ${role} database schema (safe to run again).`,
    options: storeFlags,
    run: async (inv) => {
      const where = ["lineage", ...inv.path].join(" ");
      try {
        await using store = await openRoleStore(inv, role);
        const outcome = await store.migrate(set);
        const human =
          outcome.applied.length === 0
            ? `${role} schema is up to date (${store.kind})`
            : `applied ${outcome.applied.length} migration(s) to the ${role} schema (${store.kind}):\n${outcome.applied.map((m) => `  ${m}`).join("\n")}`;
        emit(inv, { set: outcome.set, backend: store.kind, applied: outcome.applied }, human);
        return EXIT.ok;
      } catch (err) {
        throw cliErrorFromStore(err, where);
      }
    },
  };
}

export const hubMigrate = migrateCommand("hub", hubMigrations);
export const memberMigrate = migrateCommand("member-node", memberNodeMigrations);
