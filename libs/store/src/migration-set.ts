/**
 * Named sets of kysely migrations. Each service owns one set (the hub, the member node, ...) and
 * each set keeps its own kysely bookkeeping tables, so two sets can live in one database schema
 * without either seeing the other's migrations as "missing" (kysely's Migrator refuses to run
 * when an executed migration is absent from the list it is given).
 *
 * Migrations are provided in code (no folder scanning: it works the same from src/ under tsx and
 * from dist/), run in name order, and are frozen in time: a migration file is never edited once
 * merged; change the schema with a new file.
 *
 * Adding a set for a new service: create `migrations/<set>/0001-<what>.ts` (exporting
 * `up(db: Kysely<any>)` and optionally `down`) and `migrations/<set>/index.ts` exporting a
 * `MigrationSet` `{ name: "<set>", migrations: { "0001-<what>": m0001 } }`, put the table types
 * in `schema/<set>-database.ts`, and export both from `index.ts`. The service then calls
 * `store.migrate(theSet)` at start-up.
 */

import { type Kysely, type Migration, type MigrationResult, Migrator, sql } from "kysely";
import { StoreError, toStoreError } from "./store-error.js";

/** A named, ordered set of migrations owned by one service. */
export interface MigrationSet {
  /** Lowercase name, e.g. "hub" or "member-node": letters, digits and '-', at most 32 characters. */
  readonly name: string;
  /**
   * Migrations by name, `NNNN-what-it-does` (four digits, then kebab-case), applied in name order.
   * Each takes `Kysely<any>`: it must not depend on today's table types.
   */
  readonly migrations: Readonly<Record<string, Migration>>;
}

/** What one `migrate()` call did. */
export interface MigrationOutcome {
  /** The set that was migrated. */
  readonly set: string;
  /** Migrations applied by this call, in order; empty when the schema was already up to date. */
  readonly applied: readonly string[];
}

const SET_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const MIGRATION_NAME = /^[0-9]{4}-[a-z0-9]+(-[a-z0-9]+)*$/;

/** The kysely bookkeeping tables of a set, e.g. `lineage_migration_member_node`. */
export function migrationTableNames(setName: string): { migrations: string; lock: string } {
  const id = setName.replaceAll("-", "_");
  return { migrations: `lineage_migration_${id}`, lock: `lineage_migration_lock_${id}` };
}

/** Checks a set's name and its migrations' names; throws `invalid_argument` naming what is wrong. */
export function checkMigrationSet(set: MigrationSet): void {
  if (typeof set?.name !== "string" || !SET_NAME.test(set.name)) {
    throw new StoreError("invalid_argument", "migration set name must match /^[a-z][a-z0-9-]{0,31}$/");
  }
  const names = Object.keys(set.migrations ?? {});
  if (names.length === 0) {
    throw new StoreError("invalid_argument", `migration set "${set.name}" has no migrations`);
  }
  for (const name of names) {
    if (!MIGRATION_NAME.test(name)) {
      throw new StoreError(
        "invalid_argument",
        `migration "${set.name}/${name}" must be named NNNN-kebab-case (e.g. 0001-members)`,
      );
    }
    if (typeof set.migrations[name]?.up !== "function") {
      throw new StoreError("invalid_argument", `migration "${set.name}/${name}" has no up() function`);
    }
  }
}

/**
 * True when the bookkeeping table already lists exactly the set's migrations: one statement, where kysely's
 * Migrator spends a dozen (catalog introspection, lock table and row, a locked transaction) to find nothing to
 * do — most of a restart's migration check, 0.3 s of it on PGlite (bench:startup). kysely records a migration
 * in the transaction that applies it, so a complete list means every one was applied. Anything else — the
 * table missing or unreadable, a migration pending, a name the set does not know — is left to the Migrator,
 * which applies or refuses exactly as before.
 */
async function upToDate(
  db: Kysely<unknown>,
  schema: string,
  table: string,
  set: MigrationSet,
): Promise<boolean> {
  let rows: { name: string }[];
  try {
    rows = (await sql<{ name: string }>`select name from ${sql.table(`${schema}.${table}`)}`.execute(db))
      .rows;
  } catch {
    return false;
  }
  const names = new Set(Object.keys(set.migrations));
  return rows.length === names.size && rows.every((r) => names.has(r.name));
}

/**
 * Applies every pending migration of `set` inside `schema`, in one transaction (PostgreSQL has
 * transactional DDL), under kysely's migration lock. Running it again is a no-op.
 */
export async function runMigrations(
  db: Kysely<unknown>,
  schema: string,
  set: MigrationSet,
): Promise<MigrationOutcome> {
  checkMigrationSet(set);
  const tables = migrationTableNames(set.name);
  if (await upToDate(db, schema, tables.migrations, set)) return { set: set.name, applied: [] };
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...set.migrations }) },
    migrationTableName: tables.migrations,
    migrationLockTableName: tables.lock,
    // Always name the schema: kysely otherwise looks for its table in *any* schema of the
    // database, and would find another test's (or service's) bookkeeping table.
    migrationTableSchema: schema,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r: MigrationResult) => r.status === "Error")?.migrationName;
    const mapped = toStoreError(error);
    const where = failed === undefined ? `set "${set.name}"` : `"${set.name}/${failed}"`;
    // Errors without a SQLSTATE come from kysely's Migrator itself (e.g. "corrupted migrations:
    // previously executed migration ... is missing"): their text names migrations, never data.
    const why =
      mapped.sqlState === undefined && error instanceof Error && !(error instanceof StoreError)
        ? error.message
        : mapped.message;
    throw new StoreError(mapped.code, `migration ${where} failed: ${why}`, {
      cause: error,
      retryable: mapped.retryable,
      ...(mapped.sqlState === undefined ? {} : { sqlState: mapped.sqlState }),
      ...(mapped.constraint === undefined ? {} : { constraint: mapped.constraint }),
    });
  }
  return {
    set: set.name,
    applied: (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName),
  };
}
