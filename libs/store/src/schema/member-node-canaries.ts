/**
 * Table types of the member node's canary sets and match sessions (migrations 0003, 0004). Every row
 * here is private to the node: canaries, salts, the suspect's answers.
 */

import type { Generated, Insertable, Selectable } from "kysely";
import type { CreatedAt, Timestamp } from "./column-types.js";

/** `canary_sets`: one committed (or about to be committed) set of canary pairs. */
export interface CanarySetsTable {
  commitment_id: string;
  pair_count: number;
  /** The v2 Merkle root, 32 bytes. */
  merkle_root: Uint8Array;
  state: "imported" | "committed" | "labelled";
  /** Log index of the CanaryCommitment entry, once logged. */
  log_index: bigint | null;
  /** The first hub-signed checkpoint covering the commitment (decides the labels). */
  label_checkpoint_size: bigint | null;
  label_checkpoint_root: Uint8Array | null;
  created_at: CreatedAt;
}

/** `canary_pairs`: the pairs and salts that open a set's root. */
export interface CanaryPairsTable {
  commitment_id: string;
  pair_index: number;
  pair_id: string;
  salt: Uint8Array;
  prompt_a: string;
  expected_a: string;
  prompt_b: string;
  expected_b: string;
  /** 0: item a exposed, 1: item b; null until the log drew it. */
  exposed: number | null;
}

/** `canary_exposures`: a canary item sent to a suspect (spent). */
export interface CanaryExposuresTable {
  commitment_id: string;
  pair_index: number;
  item: number;
  suspect_id: string;
  session_id: string;
  exposed_at: CreatedAt;
}

/** `match_sessions`: a hub session as it advances on this node. */
export interface MatchSessionsTable {
  session_id: string;
  nonce: Uint8Array;
  session_index: bigint;
  suspect_id: string;
  commitment_id: string | null;
  /** The encoded MatchSessionRequest, as verified. */
  request: Uint8Array;
  state: "running" | "answered";
  /** The encoded MatchSessionAnswer, once signed. */
  answer: Uint8Array | null;
  attempts: Generated<number>;
  created_at: CreatedAt;
  answered_at: Timestamp | null;
}

/** `session_canary_answers`: the suspect's answer to one canary item in one session. */
export interface SessionCanaryAnswersTable {
  session_id: string;
  pair_index: number;
  item: number;
  response: string;
  /** JSON: [{ token, alternatives: string[] }] of the first positions. */
  first_positions: string;
}

/** `session_canary_scores`: the suspect's answer to one rank-test scoring query in one session (0005). */
export interface SessionCanaryScoresTable {
  session_id: string;
  pair_index: number;
  item: number;
  /** JSON: the scored prompt tokens [{ token, logprob?, top, offset? }] from the answer's start on. */
  prompt_tokens: string;
}

/** `watermark_keys`: the member's watermark keys (secret) and what opens their logged digest (0005). */
export interface WatermarkKeysTable {
  commitment_id: string;
  secret_key: Uint8Array;
  salt: Uint8Array;
  key_digest: Uint8Array;
  gamma: number;
  /** Index of the WatermarkKeyCommitment in the hub's log; null until logged (the key is unusable). */
  log_index: bigint | null;
  created_at: CreatedAt;
}

/** The tables of migrations 0003, 0004 and 0005; MemberNodeDatabase extends it. */
export interface MemberNodeCanaryDatabase {
  canary_sets: CanarySetsTable;
  canary_pairs: CanaryPairsTable;
  canary_exposures: CanaryExposuresTable;
  match_sessions: MatchSessionsTable;
  session_canary_answers: SessionCanaryAnswersTable;
  session_canary_scores: SessionCanaryScoresTable;
  watermark_keys: WatermarkKeysTable;
}

export type CanarySetRow = Selectable<CanarySetsTable>;
export type CanaryPairRow = Selectable<CanaryPairsTable>;
export type NewCanaryPairRow = Insertable<CanaryPairsTable>;
export type MatchSessionRow = Selectable<MatchSessionsTable>;
