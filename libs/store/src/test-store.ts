/**
 * Test fixtures with explicit lifecycles, for this package's contract suite and for every other
 * package whose tests need a database: each call gets its own fresh `t_<random>` schema (on the
 * test Postgres, or on a PGlite shared by the test process) and drops it on dispose.
 *
 * Test Postgres comes from `LINEAGE_TEST_PG_URL` (default
 * postgres://postgres:postgres@127.0.0.1:5432/lineage_test). When it is unreachable, tests show as
 * skipped with the reason, except in CI (any truthy `CI`, see {@link isCi}) where
 * {@link postgresTestTarget} fails: a CI run that silently skipped its database tests would pass
 * having tested nothing.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "kysely";
import { embeddedWasm } from "./pglite-wasm.js";
import { openStore, type Store } from "./store.js";
import { StoreError, toStoreError } from "./store-error.js";

/** Default URL of the test Postgres when `LINEAGE_TEST_PG_URL` is not set. */
export const DEFAULT_TEST_PG_URL = "postgres://postgres:postgres@127.0.0.1:5432/lineage_test";

/** `CI` values that mean "not CI" (compared trimmed and lower-cased); anything else set means CI. */
const CI_FALSE = new Set(["", "0", "false", "no", "off"]);

/**
 * Whether the environment is a CI run, where a test server that cannot be reached is a failure rather
 * than a skip. Any truthy `CI` counts (`true`, `1`, `yes`, as CI services set it variously); unset,
 * empty, `0`, `false`, `no` and `off` do not. The one place this package decides it (test-store.test.ts).
 */
export function isCi(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const v = env.CI;
  return v !== undefined && !CI_FALSE.has(v.trim().toLowerCase());
}

/** Where tests find Postgres: a URL to use, or why the Postgres tests are skipped. */
export type PostgresTestTarget =
  | { readonly url: string; readonly skip?: undefined }
  | { readonly skip: string };

/**
 * Finds the test Postgres and checks it answers. Returns `{ skip }` with a reason when it does not
 * (pass it to node:test as `{ skip }` so the test shows as skipped, never as passed), unless
 * {@link isCi}, where an unreachable server is a failure (rejects with `unavailable`).
 */
export async function postgresTestTarget(env: NodeJS.ProcessEnv = process.env): Promise<PostgresTestTarget> {
  const url = env.LINEAGE_TEST_PG_URL || DEFAULT_TEST_PG_URL;
  // A refused or unresolvable server fails at once; the timeout only bounds a silent one. It is generous
  // because its timer runs on the test process's event loop, which CPU-heavy tests of the same file can hold
  // for seconds on a loaded machine — 3 s turned a reachable server into a skip (a failure under CI).
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 20_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return { url };
  } catch (err) {
    const mapped = toStoreError(err, "connect");
    const reason = `test Postgres at ${redact(url)} is unreachable (${mapped.message}); set LINEAGE_TEST_PG_URL`;
    if (isCi(env)) {
      throw new StoreError("unavailable", `${reason} (CI=${env.CI}: Postgres tests must run)`, {
        cause: err,
      });
    }
    return { skip: reason };
  } finally {
    await client.end().catch(() => {});
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "<unparsable URL>";
  }
}

/** The backends a test store can run on. */
export type TestBackend = "pglite-memory" | "pglite-disk" | "postgres";

/** Options of {@link openTestStore}. */
export interface TestStoreOptions {
  /** Postgres URL (required for the "postgres" backend; see {@link postgresTestTarget}). */
  readonly url?: string;
  /** Passed to the Postgres store. */
  readonly statementTimeoutMs?: number;
  /** Passed to the Postgres store. */
  readonly poolMax?: number;
}

/** A random schema name for one test: `t_` and 16 hex digits. */
export function randomTestSchema(): string {
  return `t_${randomBytes(8).toString("hex")}`;
}

/**
 * Opens an isolated store for one test: a fresh `t_<random>` schema, dropped CASCADE on
 * close/dispose. Postgres: on the server at `options.url`. PGlite: on one instance per process and
 * backend (creating a PGlite costs about a second of CPU, a schema a few milliseconds), in memory
 * or in a temp directory removed when the process exits.
 */
export async function openTestStore<DB>(
  backend: TestBackend,
  options: TestStoreOptions = {},
): Promise<Store<DB>> {
  const schema = randomTestSchema();
  let store: Store<DB>;
  if (backend === "postgres") {
    if (options.url === undefined) {
      throw new StoreError("invalid_argument", 'openTestStore("postgres") needs options.url');
    }
    store = await openStore<DB>({
      kind: "postgres",
      url: options.url,
      schema,
      ...(options.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: options.statementTimeoutMs }),
      ...(options.poolMax === undefined ? {} : { poolMax: options.poolMax }),
    });
  } else {
    store = await openStore<DB>({ kind: "pglite", schema, pglite: await sharedPGlite(backend) });
  }
  return withCleanup(store, async () => {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db);
  });
}

const shared = new Map<string, Promise<PGlite>>();

/** The process-wide PGlite of a test backend, created on first use. */
function sharedPGlite(backend: "pglite-memory" | "pglite-disk"): Promise<PGlite> {
  let p = shared.get(backend);
  if (p === undefined) {
    p = (async () => {
      const wasmModule = embeddedWasm().module;
      if (backend === "pglite-memory") return PGlite.create({ wasmModule });
      const dir = mkdtempSync(join(tmpdir(), "lineage-store-"));
      // The instance lives as long as the process; its files go with it.
      process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
      return PGlite.create({ dataDir: dir, wasmModule });
    })();
    shared.set(backend, p);
  }
  return p;
}

/** Delegates to `store`, running `beforeClose` while it is still open. */
function withCleanup<DB>(store: Store<DB>, beforeClose: () => Promise<void>): Store<DB> {
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        await beforeClose();
      } finally {
        await store.close();
      }
    })();
    return closing;
  };
  return {
    kind: store.kind,
    schema: store.schema,
    db: store.db,
    transaction: (fn, opts) => store.transaction(fn, opts),
    migrate: (set) => store.migrate(set),
    close,
    [Symbol.asyncDispose]: close,
  };
}
