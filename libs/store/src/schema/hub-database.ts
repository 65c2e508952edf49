/**
 * Table types of the hub's database, as of the latest migration in `../migrations/hub/`.
 * Unlike migrations these types move with the schema: update them with each new migration.
 */

import type { Insertable, Selectable, Updateable } from "kysely";
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

/** The hub's tables. `Store<HubDatabase>` is what the hub opens. */
export interface HubDatabase {
  members: MembersTable;
  member_keys: MemberKeysTable;
  log_entries: LogEntriesTable;
  log_nodes: LogNodesTable;
  log_checkpoints: LogCheckpointsTable;
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
