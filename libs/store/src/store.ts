/**
 * `openStore()`: one kysely handle over either PostgreSQL (pg, pooled) or embedded PGlite, with the
 * same types on both (int8 -> bigint, bytea -> Uint8Array, timestamptz -> Date, numeric -> string),
 * the same errors ({@link StoreError}), transactions with nested savepoints, and named migration sets.
 * The same contract suite (libs/store/test/store-contract.ts) runs on every backend.
 */

import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import {
  type ControlledTransaction,
  type IsolationLevel,
  Kysely,
  PostgresDialect,
  sql,
  type Transaction,
} from "kysely";
import type pg from "pg";
import { type DataDirLock, lockDataDir } from "./data-dir-lock.js";
import { type MigrationOutcome, type MigrationSet, runMigrations } from "./migration-set.js";
import { Mutex } from "./mutex.js";
import { PGliteDialect } from "./pglite-dialect.js";
import { embeddedWasm } from "./pglite-wasm.js";
import {
  StoreDialect,
  type StoreLifecycle,
  type TransactionFrame,
  transactionContext,
} from "./store-dialect.js";
import { isStoreError, StoreError, toStoreError } from "./store-error.js";
import {
  type CheckedStoreOptions,
  checkStoreOptions,
  type StoreKind,
  type StoreOptions,
} from "./store-options.js";

/** Options of {@link Store.transaction}. */
export interface TransactionOptions {
  /** Isolation level of an outer transaction (a nested call cannot change it). Default: read committed. */
  readonly isolationLevel?: IsolationLevel;
}

/** A database handle on one backend; see the module comment for what both backends guarantee. */
export interface Store<DB> extends AsyncDisposable {
  /** Which backend this is. */
  readonly kind: StoreKind;
  /** The schema holding this store's tables: the `schema` option, else the server's default (`public`). */
  readonly schema: string;
  /**
   * The kysely handle. Outside a transaction each statement runs on its own (autocommit). Do not
   * use it inside {@link Store.transaction}'s callback: that fails with code `internal`.
   */
  readonly db: Kysely<DB>;
  /**
   * Runs `fn` in a transaction: committed when `fn` resolves, rolled back when it throws (the
   * error is rethrown as it was). Called again inside `fn` (same async call chain), it becomes a
   * savepoint of the outer transaction, rolled back alone if the inner `fn` throws; sibling nested
   * calls run one after another. On PGlite, concurrent transactions run one after another.
   */
  transaction<T>(fn: (trx: Transaction<DB>) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Applies the pending migrations of `set` in this store's schema; a no-op when up to date. */
  migrate(set: MigrationSet): Promise<MigrationOutcome>;
  /**
   * Closes the pool, or the PGlite instance if the store created it (a shared instance stays
   * open); idempotent. Later calls fail with `unavailable`.
   */
  close(): Promise<void>;
}

/**
 * Opens a store and checks it can talk to the database (for Postgres: connects, creates the schema
 * if asked and missing). Fails with `invalid_argument` for bad options and `unavailable` when the
 * database cannot be reached.
 */
export async function openStore<DB>(options: StoreOptions): Promise<Store<DB>> {
  const checked = checkStoreOptions(options);
  return checked.kind === "postgres" ? openPostgres<DB>(checked) : openPGlite<DB>(checked);
}

type PostgresChecked = Extract<CheckedStoreOptions, { kind: "postgres" }>;
type PGliteChecked = Extract<CheckedStoreOptions, { kind: "pglite" }>;

const INT8_OID = 20;
const BYTEA_OID = 17;
const INT8_ARRAY_OID = 1016;
const BYTEA_ARRAY_OID = 1001;

/**
 * Per-pool type parsers (pg's global `pg.types` is left alone, so other pg users in the process are
 * unaffected). int8 becomes bigint so values above 2^53 survive; numeric stays a string; bytea
 * becomes a plain Uint8Array rather than a Buffer, to match PGlite.
 */
function pgTypeParser(types: typeof pg.types, oid: number, format?: string): (value: string) => unknown {
  const fallback = (types.getTypeParser as (oid: number, format?: string) => (v: string) => unknown)(
    oid,
    format,
  );
  if (format === "binary") return fallback;
  switch (oid) {
    case INT8_OID:
      return (v) => BigInt(v);
    case INT8_ARRAY_OID:
      return (v) => (fallback(v) as (string | null)[]).map((x) => (x === null ? null : BigInt(x)));
    case BYTEA_OID:
      return (v) => plainBytes(fallback(v) as Buffer);
    case BYTEA_ARRAY_OID:
      return (v) => (fallback(v) as (Buffer | null)[]).map((x) => (x === null ? null : plainBytes(x)));
    default:
      return fallback;
  }
}

function plainBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

async function openPostgres<DB>(o: PostgresChecked): Promise<Store<DB>> {
  // Loaded here, not at the top: pg's module initialisation (~50 ms, it loads Node's fetch to sniff for
  // Cloudflare) is paid only by processes that reach a Postgres server, not by `lineage --help` or an embedded
  // service's start.
  const { default: pg } = await import("pg");
  // Startup parameters apply to every pooled connection without an extra round trip, and
  // survive the pool replacing a dropped connection. Schema names were checked to [a-z0-9_].
  const startup: string[] = [];
  if (o.schema !== undefined) startup.push(`-c search_path=${o.schema}`);
  if (o.role !== undefined) startup.push(`-c role=${o.role}`);
  if (o.statementTimeoutMs !== undefined) startup.push(`-c statement_timeout=${o.statementTimeoutMs}`);
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.poolMax,
    connectionTimeoutMillis: o.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: "lineage",
    ...(startup.length > 0 ? { options: startup.join(" ") } : {}),
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        pgTypeParser(pg.types, oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle pooled connection that dies emits 'error' on the pool; pg then drops that connection
  // and the next checkout opens a fresh one. Without a listener Node would crash the process.
  pool.on("error", () => {});
  // kysely ends the pool when its driver is destroyed, but only if the driver was ever initialized.
  const store = new KyselyStore<DB>("postgres", new PostgresDialect({ pool }), async () => {
    if (!pool.ended) await pool.end();
  });
  try {
    if (o.schema !== undefined) {
      // Look before creating: CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege on the database
      // before it checks existence, and a least-privilege service role has no such privilege.
      const found = await sql<{
        one: number;
      }>`select 1 as one from pg_namespace where nspname = ${o.schema}`.execute(store.db);
      if (found.rows.length === 0) {
        try {
          await sql`create schema if not exists ${sql.id(o.schema)}`.execute(store.db);
        } catch (err) {
          // Two processes creating the same schema at once race on pg_namespace's unique index.
          if (!isStoreError(err, "conflict")) throw err;
        }
      }
    }
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw toStoreError(err, "connect");
  }
  return store;
}

async function openPGlite<DB>(o: PGliteChecked): Promise<Store<DB>> {
  let pglite = o.pglite;
  const owns = pglite === undefined;
  // One process owns a data folder (data-dir-lock.ts): taken before PGlite reads a byte of it, released
  // after the instance is closed. A shared instance (`pglite` option) is its creator's to lock.
  let lock: DataDirLock | undefined;
  if (pglite === undefined) {
    if (o.dataDir !== undefined) {
      try {
        mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new StoreError(
          "unavailable",
          `cannot create the data folder ${o.dataDir}: ${(err as NodeJS.ErrnoException).code ?? err}`,
          { cause: err, retryable: false },
        );
      }
      lock = lockDataDir(o.dataDir);
    }
    try {
      // Type parsers are passed per query by the dialect, so shared instances get them too.
      const wasmModule = embeddedWasm().module;
      pglite = await PGlite.create(
        o.dataDir === undefined ? { wasmModule } : { dataDir: o.dataDir, wasmModule },
      );
    } catch (err) {
      lock?.release();
      throw toStoreError(err, "connect");
    }
  }
  const dialect = new PGliteDialect({
    pglite,
    ownsInstance: owns,
    ...(o.schema === undefined ? {} : { schema: o.schema }),
  });
  const store = new KyselyStore<DB>("pglite", dialect, async () => lock?.release());
  try {
    if (o.schema !== undefined) {
      await sql`create schema if not exists ${sql.id(o.schema)}`.execute(store.db);
    }
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw toStoreError(err, "connect");
  }
  return store;
}

interface Frame extends TransactionFrame {
  // biome-ignore lint/suspicious/noExplicitAny: the frame is shared by stores of every DB type.
  readonly trx: ControlledTransaction<any>;
  /** Serializes nested calls made directly under this level, so savepoints stay a stack. */
  readonly children: Mutex;
}

// biome-ignore lint/suspicious/noExplicitAny: works for transactions of every DB type.
function isOpen(trx: ControlledTransaction<any>): boolean {
  return !trx.isCommitted && !trx.isRolledBack;
}

/**
 * Waits until nested calls started under `frame` (and maybe still queued) have finished, so none
 * of them runs after its transaction has committed or rolled back.
 */
async function settle(frame: Frame): Promise<void> {
  (await frame.children.lock())();
}

class KyselyStore<DB> implements Store<DB> {
  readonly kind: StoreKind;
  readonly db: Kysely<DB>;
  #schema = "";
  readonly #lifecycle: StoreLifecycle = { closed: false };
  #closing: Promise<void> | undefined;

  readonly #dialect: StoreDialect;
  readonly #afterClose: () => Promise<void>;

  constructor(
    kind: StoreKind,
    dialect: PostgresDialect | PGliteDialect,
    afterClose: () => Promise<void> = async () => {},
  ) {
    this.kind = kind;
    this.#dialect = new StoreDialect(dialect, this, this.#lifecycle);
    this.#afterClose = afterClose;
    this.db = new Kysely<DB>({ dialect: this.#dialect });
  }

  get schema(): string {
    return this.#schema;
  }

  /** First round trip: proves the connection works and learns which schema tables land in. */
  async init(): Promise<void> {
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(this.db);
    const schema = rows[0]?.schema;
    if (typeof schema !== "string") {
      throw new StoreError("invalid_argument", "no schema of the search_path exists in this database");
    }
    this.#schema = schema;
  }

  async transaction<T>(
    fn: (trx: Transaction<DB>) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const outer = transactionContext.getStore() as Frame | undefined;
    if (outer !== undefined && outer.owner === this && outer.isOpen()) {
      if (options.isolationLevel !== undefined) {
        throw new StoreError("invalid_argument", "a nested transaction cannot set its isolation level");
      }
      return this.#nested(outer, fn);
    }
    let builder = this.db.startTransaction();
    if (options.isolationLevel !== undefined) builder = builder.setIsolationLevel(options.isolationLevel);
    const trx = await builder.execute();
    const frame: Frame = { owner: this, depth: 0, trx, children: new Mutex(), isOpen: () => isOpen(trx) };
    try {
      const result = await transactionContext.run(frame, () => fn(trx)).finally(() => settle(frame));
      await trx.commit().execute();
      return result;
    } catch (err) {
      if (!trx.isCommitted && !trx.isRolledBack) {
        // A failed rollback (dead connection) still releases the connection; the original error
        // says more than the rollback's.
        await trx
          .rollback()
          .execute()
          .catch(() => {});
      }
      throw err;
    }
  }

  async #nested<T>(parent: Frame, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    const release = await parent.children.lock();
    try {
      const depth = parent.depth + 1;
      const name = `lineage_sp_${depth}`;
      const trx = parent.trx;
      await trx.savepoint(name).execute();
      const frame: Frame = { owner: this, depth, trx, children: new Mutex(), isOpen: () => isOpen(trx) };
      let result: T;
      try {
        result = await transactionContext
          .run(frame, () => fn(trx as unknown as Transaction<DB>))
          .finally(() => settle(frame));
      } catch (err) {
        // kysely tracks savepoint names in the type; ours are dynamic, hence `as never`.
        await trx
          .rollbackToSavepoint(name as never)
          .execute()
          .then(() => trx.releaseSavepoint(name as never).execute())
          .catch(() => {});
        throw err;
      }
      await trx.releaseSavepoint(name as never).execute();
      return result;
    } finally {
      release();
    }
  }

  migrate(set: MigrationSet): Promise<MigrationOutcome> {
    return runMigrations(this.db as Kysely<unknown>, this.#schema, set);
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      // Refuse new work at once; statements and transactions already holding a connection finish
      // (PGlite's destroy waits for the current holder, pg's pool.end for checked-out clients).
      this.#lifecycle.closed = true;
      this.#closing = this.#dialect.destroyDriver().finally(() => this.#afterClose());
    }
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
