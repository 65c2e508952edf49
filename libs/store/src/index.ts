/**
 * `@lineage/store`: kysely over PostgreSQL (pg) or embedded PGlite, with the same types, errors and
 * transactions on both; named migration sets owned by each service; test fixtures that give every
 * test its own database.
 */

export { type DataDirLock, lockDataDir, lockPathOf } from "./data-dir-lock.js";
export type { MigrationOutcome, MigrationSet } from "./migration-set.js";
export { checkMigrationSet, migrationTableNames } from "./migration-set.js";
export { hubMigrations } from "./migrations/hub/index.js";
export { memberNodeMigrations } from "./migrations/member-node/index.js";
export { Mutex } from "./mutex.js";
export { PGliteDialect, type PGliteDialectConfig } from "./pglite-dialect.js";
export { EMBEDDED_SHARED_BUFFERS, type EmbeddedWasm, embeddedWasm } from "./pglite-wasm.js";
export type { CreatedAt, Timestamp, UpdatedAt } from "./schema/column-types.js";
export type {
  HubDatabase,
  LogCheckpointRow,
  LogCheckpointsTable,
  LogEntriesTable,
  LogEntryRow,
  LogNodeRow,
  LogNodesTable,
  Member,
  MemberKey,
  MemberKeysTable,
  MemberKeyUpdate,
  MembersTable,
  NewLogEntryRow,
  NewMember,
  NewMemberKey,
} from "./schema/hub-database.js";
export type {
  HeaderSequenceTable,
  MemberNodeCoreDatabase,
  MemberNodeDatabase,
  NewNodeMeta,
  NewProtectedModel,
  NodeMeta,
  NodeMetaTable,
  ProbeResult,
  ProbeResultsTable,
  ProbeRun,
  ProbeRunsTable,
  ProtectedModel,
  ProtectedModelsTable,
  PublishedSketch,
  PublishedSketchesTable,
  SketchWithdrawalsTable,
} from "./schema/member-node-database.js";
export { openStore, type Store, type TransactionOptions } from "./store.js";
export {
  type ErrorPhase,
  isStoreError,
  StoreError,
  type StoreErrorCode,
  type StoreErrorOptions,
  toStoreError,
} from "./store-error.js";
export {
  type CheckedStoreOptions,
  checkStoreOptions,
  type PGliteStoreOptions,
  type PostgresStoreOptions,
  type StoreKind,
  type StoreOptions,
} from "./store-options.js";
export {
  DEFAULT_TEST_PG_URL,
  openTestStore,
  type PostgresTestTarget,
  postgresTestTarget,
  randomTestSchema,
  type TestBackend,
  type TestStoreOptions,
} from "./test-store.js";
