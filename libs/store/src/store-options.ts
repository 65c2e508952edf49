/**
 * Options of `openStore()` and their checks. Options arrive from CLI flags, environment variables
 * and config files, so they are untrusted input: every field is type-checked and bounded here,
 * before a URL reaches pg or a path reaches PGlite, and a bad one fails with `invalid_argument`
 * naming the field.
 */

import { PGlite } from "@electric-sql/pglite";
import { StoreError } from "./store-error.js";

/** A PostgreSQL server reached through a `pg.Pool`. */
export interface PostgresStoreOptions {
  readonly kind: "postgres";
  /** `postgres://` or `postgresql://` connection URL. */
  readonly url: string;
  /**
   * Schema that holds every table of this store; created if missing and put alone on each pooled
   * connection's `search_path`. Lowercase letters, digits and `_`, starting with a letter or `_`.
   * Default: the server's default search_path (normally `public`).
   */
  readonly schema?: string;
  /**
   * Role every pooled connection assumes at connect (the `role` startup parameter, i.e. SET ROLE): its
   * statements run with that role's privileges and the objects they create belong to it. For migrations:
   * an administrator's login runs them as the migration role, which then owns the log tables
   * (deploy/postgres/README.md). The hub's service should instead LOG IN as its service role (the URL's
   * user), because a session can always RESET ROLE back to its login. Same spelling rules as `schema`.
   */
  readonly role?: string;
  /** Most pooled connections (1..100, default 10). */
  readonly poolMax?: number;
  /** Server-side `statement_timeout` in ms for every statement (1..86_400_000; default none). */
  readonly statementTimeoutMs?: number;
  /** How long to wait for a connection before failing with `unavailable` (1..600_000 ms, default 10_000). */
  readonly connectTimeoutMs?: number;
}

/** An embedded PGlite database, in memory or in a directory on disk. */
export interface PGliteStoreOptions {
  readonly kind: "pglite";
  /** Directory of the database files; absent (or `memory://`) = in memory, gone on close. */
  readonly dataDir?: string;
  /**
   * Schema holding this store's tables, created if missing (same rules as for Postgres). Default:
   * PostgreSQL's default search_path (`public`). Lets several stores share one PGlite instance.
   */
  readonly schema?: string;
  /**
   * An open PGlite instance to use instead of creating one (then `dataDir` must be absent). The
   * store does not close it. Every store on one instance shares one lock, and each gets its own
   * `search_path` back whenever it takes the connection, so stores in different schemas can share
   * it (e.g. all roles of the embedded default in one data directory).
   */
  readonly pglite?: PGlite;
}

/** What `openStore()` accepts. */
export type StoreOptions = PostgresStoreOptions | PGliteStoreOptions;

/** Which backend a store runs on. */
export type StoreKind = StoreOptions["kind"];

/** Options after checks, with defaults filled in. */
export type CheckedStoreOptions =
  | {
      readonly kind: "postgres";
      readonly url: string;
      readonly schema: string | undefined;
      readonly role: string | undefined;
      readonly poolMax: number;
      readonly statementTimeoutMs: number | undefined;
      readonly connectTimeoutMs: number;
    }
  | {
      readonly kind: "pglite";
      readonly dataDir: string | undefined;
      readonly schema: string | undefined;
      readonly pglite: PGlite | undefined;
    };

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MAX_URL_LENGTH = 2048;
const MAX_PATH_LENGTH = 4096;

/** Validates untrusted store options; throws `invalid_argument` naming the offending field. */
export function checkStoreOptions(input: unknown): CheckedStoreOptions {
  if (typeof input !== "object" || input === null) {
    throw bad("options", "must be an object");
  }
  const o = input as Record<string, unknown>;
  if (o.kind === "postgres") {
    return {
      kind: "postgres",
      url: checkUrl(o.url),
      schema: checkSchema(o.schema),
      role: checkRole(o.role),
      poolMax: checkInt("poolMax", o.poolMax, 1, 100) ?? 10,
      statementTimeoutMs: checkInt("statementTimeoutMs", o.statementTimeoutMs, 1, 86_400_000),
      connectTimeoutMs: checkInt("connectTimeoutMs", o.connectTimeoutMs, 1, 600_000) ?? 10_000,
    };
  }
  if (o.kind === "pglite") {
    const pglite = checkPGlite(o.pglite);
    const dataDir = checkDataDir(o.dataDir);
    if (pglite !== undefined && o.dataDir !== undefined) {
      throw bad("dataDir", 'must be absent when "pglite" (an open instance) is given');
    }
    return { kind: "pglite", dataDir, schema: checkSchema(o.schema), pglite };
  }
  throw bad("kind", 'must be "postgres" or "pglite"');
}

function checkUrl(v: unknown): string {
  if (typeof v !== "string" || v.length === 0) throw bad("url", "must be a non-empty string");
  if (v.length > MAX_URL_LENGTH) throw bad("url", `must be at most ${MAX_URL_LENGTH} characters`);
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw bad("url", "is not a valid URL");
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw bad("url", 'must use the "postgres:" or "postgresql:" scheme');
  }
  if (parsed.hostname === "" && !parsed.searchParams.has("host")) {
    throw bad("url", "has no host");
  }
  return v;
}

function checkSchema(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !SCHEMA_NAME.test(v)) {
    throw bad("schema", "must be 1-63 lowercase letters, digits or '_', not starting with a digit");
  }
  if (v.startsWith("pg_")) throw bad("schema", 'must not start with "pg_" (reserved by PostgreSQL)');
  return v;
}

function checkRole(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !SCHEMA_NAME.test(v)) {
    throw bad("role", "must be 1-63 lowercase letters, digits or '_', not starting with a digit");
  }
  if (v.startsWith("pg_")) throw bad("role", 'must not start with "pg_" (reserved by PostgreSQL)');
  return v;
}

function checkDataDir(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length === 0) throw bad("dataDir", "must be a non-empty string");
  if (v.length > MAX_PATH_LENGTH) throw bad("dataDir", `must be at most ${MAX_PATH_LENGTH} characters`);
  if (v.includes("\0")) throw bad("dataDir", "must not contain NUL");
  if (v.includes("://") && v !== "memory://") {
    throw bad("dataDir", 'must be a directory path or "memory://"');
  }
  return v === "memory://" ? undefined : v;
}

function checkPGlite(v: unknown): PGlite | undefined {
  if (v === undefined) return undefined;
  if (!(v instanceof PGlite)) throw bad("pglite", "must be a PGlite instance");
  if (v.closed) throw bad("pglite", "is closed");
  return v;
}

function checkInt(field: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw bad(field, `must be an integer from ${min} to ${max}`);
  }
  return v;
}

function bad(field: string, why: string): StoreError {
  return new StoreError("invalid_argument", `store option "${field}" ${why}`, { retryable: false });
}
