/**
 * A kysely Dialect over embedded PGlite (PostgreSQL compiled to WASM), written against PGlite
 * 0.3's `query`/`exec` API and kysely 0.28's Driver/DatabaseConnection contract. PostgreSQL SQL,
 * so the adapter, query compiler and introspector are kysely's Postgres ones.
 *
 * PGlite is a single session. The driver hands its one connection to one holder at a time
 * through a FIFO mutex shared by every dialect on the same instance: kysely acquires the
 * connection per statement, and keeps it from BEGIN to COMMIT/ROLLBACK for a transaction, so
 * concurrent transactions serialize instead of interleaving statements inside one another (see
 * the "concurrent transactions" contract test). Several stores may share one instance, each in
 * its own schema: the driver restores its search_path whenever it takes the connection.
 */

import { type PGlite, types } from "@electric-sql/pglite";
import {
  type CompiledQuery,
  createQueryId,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  IdentifierNode,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  CompiledQuery as Q,
  type QueryCompiler,
  type QueryResult,
  RawNode,
  type TransactionSettings,
} from "kysely";
import { Mutex, type Release } from "./mutex.js";

/** Configuration of {@link PGliteDialect}. */
export interface PGliteDialectConfig {
  /** A ready PGlite instance. */
  readonly pglite: PGlite;
  /**
   * Whether `destroy()` closes the instance (true when this dialect created it). A shared
   * instance is left open for the other stores using it.
   */
  readonly ownsInstance?: boolean;
  /**
   * The schema every statement of this dialect runs in. Absent: PostgreSQL's default search_path.
   * Must be a plain lowercase identifier (checked by `checkStoreOptions`).
   */
  readonly schema?: string;
}

/**
 * bytea in PostgreSQL's hex text form (`\x0a1b…`, the default bytea_output), decoded by Buffer in one call.
 * PGlite's own parser takes a substring and a parseInt per byte: ~1 µs a byte, 4 s of a hub's start-up to
 * read the sketches of a 2,000-model index (bench:startup). Returns a Uint8Array of its own (offset 0).
 */
function parseBytea(v: string): Uint8Array {
  if (!v.startsWith("\\x") || v.length % 2 !== 0)
    throw new Error("bytea value is not in hex output form (bytea_output = hex expected)");
  const out = new Uint8Array((v.length - 2) / 2);
  const written = Buffer.from(out.buffer).write(v.slice(2), "hex");
  if (written !== out.length) throw new Error("bytea value has a non-hex digit");
  return out;
}

/**
 * Result parsers passed with every query (per query, so an instance shared with other code is
 * not changed): int8 (oid 20) -> bigint, where PGlite alone gives number-or-bigint; int8[] uses
 * it per element. numeric stays a string, bytea is a Uint8Array, timestamptz a Date.
 */
const PARSERS = {
  [types.INT8]: (v: string) => BigInt(v),
  [types.BYTEA]: parseBytea,
  1016: (v: string) => types.arrayParser(v, (x: string) => BigInt(x), 1016),
};

const DEFAULT_SEARCH_PATH = '"$user", public';

/** What every dialect on one PGlite instance shares: the one lock, and the search_path now set. */
interface InstanceState {
  readonly mutex: Mutex;
  searchPath: string;
}

const instances = new WeakMap<PGlite, InstanceState>();

function instanceState(pglite: PGlite): InstanceState {
  let state = instances.get(pglite);
  if (state === undefined) {
    state = { mutex: new Mutex(), searchPath: DEFAULT_SEARCH_PATH };
    instances.set(pglite, state);
  }
  return state;
}

/** kysely dialect for an embedded PGlite database. */
export class PGliteDialect implements Dialect {
  readonly #config: PGliteDialectConfig;

  constructor(config: PGliteDialectConfig) {
    this.#config = config;
  }

  createDriver(): Driver {
    const { pglite, ownsInstance = true, schema } = this.#config;
    return new PGliteDriver(pglite, ownsInstance, schema === undefined ? DEFAULT_SEARCH_PATH : `"${schema}"`);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}

class PGliteDriver implements Driver {
  readonly #pglite: PGlite;
  readonly #state: InstanceState;
  readonly #owns: boolean;
  readonly #searchPath: string;
  #destroyed = false;

  constructor(pglite: PGlite, owns: boolean, searchPath: string) {
    this.#pglite = pglite;
    this.#state = instanceState(pglite);
    this.#owns = owns;
    this.#searchPath = searchPath;
  }

  async init(): Promise<void> {
    await this.#pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.#state.mutex.lock();
    try {
      if (this.#destroyed) throw new Error("PGlite driver has been destroyed");
      if (this.#pglite.closed) throw new Error("PGlite instance is closed");
      // Another store on the same instance may have left its own search_path; this runs outside
      // any transaction (we hold the lock, and every holder ends its transaction before releasing).
      if (this.#state.searchPath !== this.#searchPath) {
        await this.#pglite.exec(`set search_path to ${this.#searchPath}`);
        this.#state.searchPath = this.#searchPath;
      }
    } catch (err) {
      release();
      throw err;
    }
    return new PGliteConnection(this.#pglite, release);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let sql = "begin";
    if (settings.isolationLevel !== undefined || settings.accessMode !== undefined) {
      sql = "start transaction";
      if (settings.isolationLevel !== undefined) sql += ` isolation level ${settings.isolationLevel}`;
      if (settings.accessMode !== undefined) sql += ` ${settings.accessMode}`;
    }
    await connection.executeQuery(Q.raw(sql));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(Q.raw("commit"));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(Q.raw("rollback"));
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await connection.executeQuery(savepointCommand("savepoint", name, compile));
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await connection.executeQuery(savepointCommand("rollback to", name, compile));
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await connection.executeQuery(savepointCommand("release", name, compile));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PGliteConnection).release();
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    // Wait for the current holder (and everyone queued before us) so no statement is cut off.
    const release = await this.#state.mutex.lock();
    this.#destroyed = true;
    try {
      if (this.#owns && !this.#pglite.closed) await this.#pglite.close();
    } finally {
      release();
    }
  }
}

/** Same SQL as kysely's internal savepoint helper: the name goes through the compiler as an identifier. */
function savepointCommand(
  command: "savepoint" | "rollback to" | "release",
  name: string,
  compile: QueryCompiler["compileQuery"],
): CompiledQuery {
  const node = RawNode.createWithChildren([
    RawNode.createWithSql(`${command} `),
    IdentifierNode.create(name),
  ]);
  return compile(node, createQueryId());
}

class PGliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite;
  readonly #release: Release;

  constructor(pglite: PGlite, release: Release) {
    this.#pglite = pglite;
    this.#release = release;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const params = compiledQuery.parameters;
    if (params.length === 0) {
      // Without parameters, use the simple protocol like pg does: a migration may send several
      // statements in one string, and both backends then behave the same.
      const results = await this.#pglite.exec(compiledQuery.sql, { rowMode: "object", parsers: PARSERS });
      const last = results.at(-1);
      return toQueryResult<R>(last?.rows ?? [], last?.affectedRows, compiledQuery);
    }
    const res = await this.#pglite.query<R>(compiledQuery.sql, [...params], {
      rowMode: "object",
      parsers: PARSERS,
    });
    return toQueryResult<R>(res.rows, res.affectedRows, compiledQuery);
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize = 100,
  ): AsyncIterableIterator<QueryResult<R>> {
    // PGlite has no cursor API; the whole result is in WASM memory already, so hand it out in chunks.
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
      throw new Error("chunkSize must be a positive integer");
    }
    const { rows } = await this.executeQuery<R>(compiledQuery);
    for (let i = 0; i < rows.length; i += chunkSize) {
      yield { rows: rows.slice(i, i + chunkSize) };
    }
  }

  release(): void {
    this.#release();
  }
}

const DML_NODES = new Set(["InsertQueryNode", "UpdateQueryNode", "DeleteQueryNode", "MergeQueryNode"]);
const DML_SQL = /^\s*(insert|update|delete|merge)\b/i;

function toQueryResult<R>(
  rows: unknown[],
  affectedRows: number | undefined,
  query: CompiledQuery,
): QueryResult<R> {
  // PGlite reports affectedRows = 0 for SELECTs too; kysely expects it only for DML, like pg's
  // driver. Built queries say what they are; raw SQL is judged by its first word.
  const dml = query.query.kind === "RawNode" ? DML_SQL.test(query.sql) : DML_NODES.has(query.query.kind);
  if (affectedRows !== undefined && dml) {
    return { rows: rows as R[], numAffectedRows: BigInt(affectedRows) };
  }
  return { rows: rows as R[] };
}
