/**
 * Table types of a member node's database, as of the latest migration in
 * `../migrations/member-node/`. Update them with each new migration.
 *
 * Tables of other concepts (canary sets, match sessions) live in their own schema files as interfaces
 * that {@link MemberNodeDatabase} extends, so each concept's tables are declared once, beside nothing else.
 */

import type { Insertable, Selectable } from "kysely";
import type { CreatedAt, Timestamp, UpdatedAt } from "./column-types.js";
import type { MemberNodeCanaryDatabase } from "./member-node-canaries.js";

/** `node_meta`: the node's small key/value settings. */
export interface NodeMetaTable {
  /** 1..128 characters. */
  key: string;
  /** At most 64 KiB. */
  value: string;
  updated_at: UpdatedAt;
}

/** `protected_models`: a model the node protects (0002). */
export interface ProtectedModelsTable {
  /** Member-chosen model id, 1..128 characters. */
  model_id: string;
  /** Member-chosen version label, at most 64 characters. */
  model_version: string;
  /** Name of the adapter (configured endpoint) it is probed through, 1..128 characters. */
  adapter: string;
  /** JSON of the endpoint without secrets: base URL, model name, name of the API-key variable. */
  endpoint: string;
  created_at: CreatedAt;
  /** Set when the member withdrew the model's sketches. */
  withdrawn_at: Timestamp | null;
}

/** `probe_runs`: one probing of a model on an epoch's battery (0002). */
export interface ProbeRunsTable {
  run_id: string;
  model_id: string;
  epoch_id: string;
  /** SHA-256 of the battery's canonical JSON (a resumed run must see the same battery). */
  battery_sha256: Uint8Array;
  probes_total: number;
  state: "probing" | "done";
  /** Salt of the reference fingerprint hash, 32 bytes (private). */
  reference_salt: Uint8Array;
  /** referenceFingerprintHash(salt, responses), once every probe answered. */
  reference_hash: Uint8Array | null;
  /** SHA-256 of the published Sketch payload. */
  sketch_sha256: Uint8Array | null;
  created_at: CreatedAt;
  finished_at: Timestamp | null;
}

/** `probe_results`: one answered probe, written as it arrives (0002). Private: never leaves the node. */
export interface ProbeResultsTable {
  run_id: string;
  probe_index: number;
  probe_id: string;
  /** JSON of the ModelResponse (text and served log-probabilities). */
  response: string;
  created_at: CreatedAt;
}

/** `published_sketches`: the announcement of (model, epoch) on the bus (0002). */
export interface PublishedSketchesTable {
  model_id: string;
  epoch_id: string;
  run_id: string;
  /** Sequence of the member-signed header it carried. */
  header_sequence: bigint;
  /** Nats-Msg-Id: a re-publish of the same sketch is deduplicated by the stream. */
  msg_id: string;
  subject: string;
  sketch_sha256: Uint8Array;
  /** Stream sequence the bus acknowledged. */
  stream_seq: bigint | null;
  published_at: UpdatedAt;
}

/** `sketch_withdrawals`: a signed withdrawal of (model, epoch) announced on the bus (0002). */
export interface SketchWithdrawalsTable {
  model_id: string;
  epoch_id: string;
  header_sequence: bigint;
  msg_id: string;
  reason: string;
  withdrawn_at: CreatedAt;
}

/** `header_sequence`: the single row holding the last sequence of a member-signed header (0002). */
export interface HeaderSequenceTable {
  id: number;
  last: bigint;
}

/** `seen_nonces`: nonces of accepted signed requests, kept until the request would be stale (0006). */
export interface SeenNoncesTable {
  /** 'hub-header' (session requests) or 'admin' (signed admin requests). */
  scope: "hub-header" | "admin";
  nonce: Uint8Array;
  /** Node clock, ms since the epoch. */
  expires_at_ms: bigint;
}

/** The tables of the protect flow (0001-0002). */
export interface MemberNodeCoreDatabase {
  node_meta: NodeMetaTable;
  protected_models: ProtectedModelsTable;
  probe_runs: ProbeRunsTable;
  probe_results: ProbeResultsTable;
  published_sketches: PublishedSketchesTable;
  sketch_withdrawals: SketchWithdrawalsTable;
  header_sequence: HeaderSequenceTable;
  seen_nonces: SeenNoncesTable;
}

/**
 * A member node's tables. `Store<MemberNodeDatabase>` is what a member node opens. Another concept's
 * tables join by adding its interface here: `extends MemberNodeCoreDatabase, MemberNodeCanaryDatabase`.
 */
export interface MemberNodeDatabase extends MemberNodeCoreDatabase, MemberNodeCanaryDatabase {}

export type NodeMeta = Selectable<NodeMetaTable>;
export type NewNodeMeta = Insertable<NodeMetaTable>;
export type ProtectedModel = Selectable<ProtectedModelsTable>;
export type NewProtectedModel = Insertable<ProtectedModelsTable>;
export type ProbeRun = Selectable<ProbeRunsTable>;
export type ProbeResult = Selectable<ProbeResultsTable>;
export type PublishedSketch = Selectable<PublishedSketchesTable>;
