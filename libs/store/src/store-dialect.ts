/**
 * Wraps a kysely Dialect so that both backends fail the same way: every driver error becomes a
 * {@link StoreError}, a closed store says `unavailable`, and using `store.db` from inside
 * `store.transaction()` fails fast instead of escaping the transaction (Postgres) or waiting
 * forever on the connection the transaction holds (PGlite).
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from "kysely";
import { StoreError, toStoreError } from "./store-error.js";

/** What `store.transaction()` records for the code running inside it. */
export interface TransactionFrame {
  /** The store that opened the transaction (a different store may be used freely). */
  readonly owner: object;
  /** Nesting depth: 0 for the outer transaction, n for the n-th nested savepoint. */
  readonly depth: number;
  /**
   * Whether the transaction is still open. Async work started inside the callback keeps the
   * frame after the transaction ends; once it has ended, that work is outside any transaction.
   */
  readonly isOpen: () => boolean;
}

/** The transaction, if any, that the current async call chain runs inside. */
export const transactionContext: AsyncLocalStorage<TransactionFrame> = new AsyncLocalStorage();

/** Mutable lifecycle flag shared by a store and its driver. */
export interface StoreLifecycle {
  closed: boolean;
}

/** A Dialect whose driver maps errors and guards misuse; see the module comment. */
export class StoreDialect implements Dialect {
  readonly #inner: Dialect;
  readonly #owner: object;
  readonly #lifecycle: StoreLifecycle;
  #driver: StoreDriver | undefined;

  constructor(inner: Dialect, owner: object, lifecycle: StoreLifecycle) {
    this.#inner = inner;
    this.#owner = owner;
    this.#lifecycle = lifecycle;
  }

  createDriver(): Driver {
    this.#driver = new StoreDriver(this.#inner.createDriver(), this.#owner, this.#lifecycle);
    return this.#driver;
  }

  /**
   * Destroys the driver directly rather than through `Kysely.destroy()`: kysely then keeps
   * forwarding calls to our driver, which answers `unavailable`, instead of throwing its own
   * untyped "driver has already been destroyed".
   */
  async destroyDriver(): Promise<void> {
    await this.#driver?.destroy();
  }

  createQueryCompiler(): QueryCompiler {
    return this.#inner.createQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return this.#inner.createAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return this.#inner.createIntrospector(db);
  }
}

class StoreDriver implements Driver {
  readonly #inner: Driver;
  readonly #owner: object;
  readonly #lifecycle: StoreLifecycle;

  constructor(inner: Driver, owner: object, lifecycle: StoreLifecycle) {
    this.#inner = inner;
    this.#owner = owner;
    this.#lifecycle = lifecycle;
  }

  async init(): Promise<void> {
    try {
      await this.#inner.init();
    } catch (err) {
      throw toStoreError(err, "connect");
    }
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#lifecycle.closed) {
      throw new StoreError("unavailable", "store is closed", { retryable: false });
    }
    const frame = transactionContext.getStore();
    if (frame !== undefined && frame.owner === this.#owner && frame.isOpen()) {
      throw new StoreError(
        "internal",
        "store.db used inside store.transaction(): use the transaction handle passed to the callback",
        { retryable: false },
      );
    }
    let inner: DatabaseConnection;
    try {
      inner = await this.#inner.acquireConnection();
    } catch (err) {
      throw toStoreError(err, "connect");
    }
    return new StoreConnection(inner);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await mapped(() => this.#inner.beginTransaction(unwrap(connection), settings));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await mapped(() => this.#inner.commitTransaction(unwrap(connection)));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await mapped(() => this.#inner.rollbackTransaction(unwrap(connection)));
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    const inner = this.#inner;
    if (inner.savepoint === undefined) throw new StoreError("internal", "driver has no savepoints");
    await mapped(() => inner.savepoint?.(unwrap(connection), name, compile));
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    const inner = this.#inner;
    if (inner.rollbackToSavepoint === undefined) throw new StoreError("internal", "driver has no savepoints");
    await mapped(() => inner.rollbackToSavepoint?.(unwrap(connection), name, compile));
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    const inner = this.#inner;
    if (inner.releaseSavepoint === undefined) throw new StoreError("internal", "driver has no savepoints");
    await mapped(() => inner.releaseSavepoint?.(unwrap(connection), name, compile));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await this.#inner.releaseConnection(unwrap(connection));
  }

  async destroy(): Promise<void> {
    await this.#inner.destroy();
  }
}

class StoreConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;

  constructor(inner: DatabaseConnection) {
    this.inner = inner;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(compiledQuery);
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize);
    } catch (err) {
      throw toStoreError(err);
    }
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof StoreConnection ? connection.inner : connection;
}

async function mapped(fn: () => Promise<void> | undefined): Promise<void> {
  try {
    await fn();
  } catch (err) {
    throw toStoreError(err);
  }
}
