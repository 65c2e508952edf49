/**
 * Table types of the hub's database, as of the latest migration in `../migrations/hub/`.
 * Unlike migrations these types move with the schema: update them with each new migration.
 */

import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";
import type { CreatedAt, Timestamp } from "./column-types.js";

/** `members`: one row per alliance member. */
export interface MembersTable {
  /** Member id, 1..64 characters. */
  id: string;
  /** Human-readable name, 1..200 characters. */
  display_name: string;
  created_at: CreatedAt;
}

/** `member_keys`: every signing key a member has enrolled, current or past. */
export interface MemberKeysTable {
  /** Key id, 1..128 characters. */
  key_id: string;
  member_id: string;
  /** Raw public key bytes (Ed25519: 32), 1..256 bytes, unique across members. */
  public_key: Uint8Array;
  valid_from: Timestamp;
  valid_until: Timestamp | null;
  revoked_at: Timestamp | null;
}

/** `log_entries`: one row per transparency-log leaf (append-only: updates and deletes are rejected). */
export interface LogEntriesTable {
  /** 0-based leaf index, dense. */
  idx: bigint;
  /** LogEntryKind (1..5). */
  kind: number;
  /** The encoded LogLeaf exactly as hashed. */
  leaf: Uint8Array;
  /** SHA-256(0x00 || leaf), 32 bytes. */
  leaf_hash: Uint8Array;
  integrated_at: Timestamp;
  /** Member concerned (signer of an attestation/commitment, subject of a membership record). */
  member_id: string | null;
  /** Signing key concerned (the member key of an attestation/commitment, the key of a membership record). */
  key_id: string | null;
  /** Match session id of an attestation. */
  session_id: string | null;
  /** Index of the entry this one points at (a withdrawal's target), always lower than `idx`. */
  ref_idx: bigint | null;
}

/** `log_nodes`: perfect-subtree hashes of the log's Merkle tree (level 0 = leaf hashes). */
export interface LogNodesTable {
  level: number;
  idx: bigint;
  hash: Uint8Array;
}

/** `log_checkpoints`: every checkpoint the hub signed. */
export interface LogCheckpointsTable {
  tree_size: bigint;
  root_hash: Uint8Array;
  /** The C2SP signed note. */
  signed_note: string;
  created_at: CreatedAt;
}

/** `log_cosignatures` (migration 0008): witness cosignature lines of signed checkpoints, append-only. */
export interface LogCosignaturesTable {
  tree_size: bigint;
  /** The witness's key, `name+hex8(key id)`. */
  witness: string;
  /** The cosignature/v1 note signature line, without its newline. */
  line: string;
  created_at: CreatedAt;
}

// ---- Epochs and the sketch index (migrations 0004-0005; issue 10) -------------------------------------

/** `epochs`: one row per epoch battery; the battery and key are confidential to the alliance. */
export interface EpochsTable {
  /** Epoch id, 1..64 characters. */
  epoch_id: string;
  /** Monotonic epoch number, 1 for the first; a rotation adds one. */
  number: bigint;
  not_before: Timestamp;
  not_after: Timestamp;
  /** The EpochBattery protobuf (epoch + probes), as handed to members. */
  battery: Uint8Array;
  /** Probes in the battery, 1..4096. */
  probe_count: number;
  /** SHA-256 of the battery's canonical encoding (probes in index order), 32 bytes. */
  battery_digest: Uint8Array;
  /** The epoch's HMAC key of sketch digests, 32 bytes. Secret. */
  epoch_key: Uint8Array;
  previous_epoch_id: string | null;
  /** The hub's Ed25519 signature over the Epoch record (epoch-record.ts), 64 bytes. */
  hub_signature: Uint8Array;
  created_at: CreatedAt;
}

/** Lifecycle of an indexed sketch: only `active` sketches are retrieved. */
export type SketchStatus = "active" | "superseded" | "withdrawn" | "suppressed";

/** `sketches`: every accepted member sketch. */
export interface SketchesTable {
  /** Insertion order (bigserial); the index catches up on rows above the last one it read. */
  seq: Generated<bigint>;
  /** Lowercase hex SHA-256 of the DSSE payload (the protobuf Sketch), 64 characters. */
  sketch_id: string;
  epoch_id: string;
  member_id: string;
  model_id: string;
  model_version: string;
  /** Member key that signed the envelope. */
  key_id: string;
  /**
   * The member-signed DSSE envelope (protobuf DsseEnvelope), kept as evidence; its payload (the protobuf
   * Sketch) is the only copy of the sketch (migration 0013), which the index decodes.
   */
  envelope: Uint8Array;
  status: ColumnType<SketchStatus, SketchStatus | undefined, SketchStatus>;
  status_reason: string | null;
  received_at: CreatedAt;
  status_at: Timestamp | null;
}

/** `sketch_messages`: each accepted signed header of a sketch message (replay protection across replicas). */
export interface SketchMessagesTable {
  member_id: string;
  sequence: bigint;
  nonce: Uint8Array;
  /** SHA-256 of the whole signed message, 32 bytes. */
  message_digest: Uint8Array;
  /** JetStream stream sequence it was delivered with; null over gRPC. */
  stream_seq: bigint | null;
  sketch_id: string;
  received_at: CreatedAt;
}

// --- Sessions, the alpha ledger, cases and alerts (migration 0006; insert-only tables) ---

/** `hub_reference_models`: the alliance's reference population, from which the hub chooses panels. */
export interface HubReferenceModelsTable {
  model_id: string;
  population_id: string;
  base_url: string;
  model_name: string;
  added_at: CreatedAt;
}

/** `hub_alpha_ledger`: one row per session reserved for a member in an epoch, before it is logged. */
export interface HubAlphaLedgerTable {
  session_id: string;
  member_id: string;
  epoch_id: string;
  alpha: number;
  suspect_id: string;
  model_id: string;
  model_version: string;
  /** The planned SessionOpened (protobuf, without seed), logged as is after a restart. */
  planned: Uint8Array;
  reserved_at: CreatedAt;
}

/** `hub_sessions`: a session once logged. */
export interface HubSessionsTable {
  session_id: string;
  session_index: bigint;
  /** The MatchSessionRequest sent to the member (protobuf, without header). */
  request: Uint8Array;
  logged_at: CreatedAt;
}

/** `hub_session_outcomes`: how a session ended (one row per session). */
export interface HubSessionOutcomesTable {
  session_id: string;
  outcome: "attested" | "declined" | "failed";
  attestation_index: bigint | null;
  verdict: ColumnType<number, number | undefined, number>;
  decline_reason: ColumnType<number, number | undefined, number>;
  note: ColumnType<string, string | undefined, string>;
  decided_at: CreatedAt;
}

/** `hub_cases`: one case per suspect. */
export interface HubCasesTable {
  case_id: string;
  suspect_id: string;
  /** The SuspectRef (protobuf). */
  suspect: Uint8Array;
  opened_at: CreatedAt;
}

/** `hub_case_attestations`: the logged attestations about a case's suspect. */
export interface HubCaseAttestationsTable {
  log_index: bigint;
  case_id: string;
  session_id: string;
  member_id: string;
  model_id: string;
  model_version: string;
  verdict: number;
  combined_p: number;
  added_at: CreatedAt;
}

/** `hub_case_events`: a case's state history; the row with the highest `seq` is the current state. */
export interface HubCaseEventsTable {
  case_id: string;
  seq: number;
  /** CaseState (1..4). */
  state: number;
  shared_violation: boolean;
  /** JSON array of the members attributed LIKELY_DERIVED after Holm. */
  member_ids: string;
  /** JSON array of the members with a SIMILAR lead (never violations). */
  leads: string;
  dismissal_reason: ColumnType<number, number | undefined, number>;
  rationale: ColumnType<string, string | undefined, string>;
  reviewer: ColumnType<string, string | undefined, string>;
  decision_log_index: bigint | null;
  at: CreatedAt;
}

/** `hub_alerts`: every alert raised, by sequence. */
export interface HubAlertsTable {
  sequence: bigint;
  /** Unique per event (migration 0007). */
  alert_id: string;
  kind: number;
  /** JSON array of the members concerned. */
  member_ids: string;
  /** The Alert (protobuf). */
  alert: Uint8Array;
  raised_at: CreatedAt;
}

export type EpochRow = Selectable<EpochsTable>;
export type NewEpochRow = Insertable<EpochsTable>;
export type SketchRow = Selectable<SketchesTable>;
export type NewSketchRow = Insertable<SketchesTable>;
export type NewSketchMessageRow = Insertable<SketchMessagesTable>;

/** The hub's tables. `Store<HubDatabase>` is what the hub opens. */
export interface HubDatabase {
  members: MembersTable;
  member_keys: MemberKeysTable;
  log_entries: LogEntriesTable;
  log_nodes: LogNodesTable;
  log_checkpoints: LogCheckpointsTable;
  epochs: EpochsTable;
  sketches: SketchesTable;
  sketch_messages: SketchMessagesTable;
  hub_reference_models: HubReferenceModelsTable;
  hub_alpha_ledger: HubAlphaLedgerTable;
  hub_sessions: HubSessionsTable;
  hub_session_outcomes: HubSessionOutcomesTable;
  hub_cases: HubCasesTable;
  hub_case_attestations: HubCaseAttestationsTable;
  hub_case_events: HubCaseEventsTable;
  hub_alerts: HubAlertsTable;
  log_cosignatures: LogCosignaturesTable;
}

export type Member = Selectable<MembersTable>;
export type NewMember = Insertable<MembersTable>;
export type MemberKey = Selectable<MemberKeysTable>;
export type NewMemberKey = Insertable<MemberKeysTable>;
export type MemberKeyUpdate = Updateable<MemberKeysTable>;
export type LogEntryRow = Selectable<LogEntriesTable>;
export type NewLogEntryRow = Insertable<LogEntriesTable>;
export type LogNodeRow = Selectable<LogNodesTable>;
export type LogCheckpointRow = Selectable<LogCheckpointsTable>;
