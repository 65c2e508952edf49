/**
 * What admission needs to know about the log so far, kept in memory and rebuilt from the entries when the
 * log is opened (TransparencyLog.open replays them through the same `apply*` functions admission stages
 * with, so a reopened log admits exactly what the running one would have): member commitments of the three
 * kinds, withdrawals, suspect sightings, sessions and which (member, session) pairs already have an
 * attestation. A batch stages on a child state and merges it into its parent only after the write commits.
 */
import { fromBinary } from "@bufbuild/protobuf";
import {
  AttestationStatementSchema,
  CanaryCommitmentSchema,
  CommitmentHashAlgorithm,
  EpochStatementSchema,
  HubKeyAction,
  HubKeyPurpose,
  HubKeyStatementSchema,
  LogEntryKind,
  MembershipRecordSchema,
  ReferenceFingerprintCommitmentSchema,
  type SessionOpened,
  SessionOpenedSchema,
  SketchSuppressionSchema,
  SuspectSightingSchema,
  WatermarkKeyCommitmentSchema,
} from "@lineage/api";
import type { DsseEnvelope } from "@lineage/crypto";
import { LogError } from "./log-error.js";
import { decodeLeaf, PAYLOAD_TYPES } from "./log-leaf.js";
import type { StoredEntry } from "./log-store.js";
import type { MemberRegistry } from "./member-registry.js";

/** A logged member commitment, as admission needs it. */
export type LoggedCommitment =
  | {
      readonly kind: "canary";
      readonly memberId: string;
      readonly commitmentId: string;
      readonly root: Uint8Array;
      readonly count: number;
      /** Commitment v2 (hash algorithm PAIRS): one leaf per canary pair. */
      readonly pairs: boolean;
    }
  | {
      readonly kind: "watermark";
      readonly memberId: string;
      readonly commitmentId: string;
      readonly keyDigest: Uint8Array;
      readonly gamma: number;
    }
  | {
      readonly kind: "reference";
      readonly memberId: string;
      readonly modelId: string;
      readonly modelVersion: string;
      readonly epochId: string;
      readonly hash: Uint8Array;
    };

/** A logged epoch (the hub's EpochStatement entry). */
export interface LoggedEpoch {
  readonly index: number;
  readonly epochId: string;
  readonly number: number;
}

/** A logged session (the hub's SessionOpened entry). */
export interface LoggedSession {
  readonly index: number;
  /** The member whose model the session compares (candidate.member_id). */
  readonly memberId: string;
  readonly opened: SessionOpened;
}

/** A hub key statement as the admission state keeps it: the key id ("" once retired), where, and the raw key. */
export interface LoggedHubKey {
  readonly keyId: string;
  readonly index: number;
  readonly publicKey?: Uint8Array;
}

/** Admission state; a child overlays its parent until merged. */
export class LogState {
  readonly #parent: LogState | undefined;
  readonly #commitments = new Map<number, LoggedCommitment>();
  readonly #commitmentIds = new Set<string>();
  readonly #withdrawn = new Set<number>();
  readonly #sightingOfSuspect = new Map<string, number>();
  readonly #suspectAt = new Map<number, string>();
  readonly #sessions = new Map<number, LoggedSession>();
  readonly #sessionIds = new Map<string, number>();
  readonly #attested = new Set<string>();
  /** Per hub key purpose, the key id delegated last ("" once retired) and where (hub-key-statement.ts). */
  readonly #hubKeys = new Map<string, LoggedHubKey>();
  readonly #hubKeyLog: Array<LoggedHubKey & { readonly purpose: string }> = [];
  /** Logged epochs (EpochStatement) by epoch id, and the highest epoch number logged (epoch-statement.ts). */
  readonly #epochs = new Map<string, LoggedEpoch>();
  #topEpochNumber = 0;
  /** Sketch ids suppressed in the log, and where. */
  readonly #suppressed = new Map<string, number>();

  constructor(parent?: LogState) {
    this.#parent = parent;
  }

  /** A child state for staging one batch. */
  child(): LogState {
    return new LogState(this);
  }

  commitment(index: number): LoggedCommitment | undefined {
    return this.#commitments.get(index) ?? this.#parent?.commitment(index);
  }

  hasCommitmentId(kind: LoggedCommitment["kind"], memberId: string, id: string): boolean {
    return (
      this.#commitmentIds.has(idKey(kind, memberId, id)) ||
      (this.#parent?.hasCommitmentId(kind, memberId, id) ?? false)
    );
  }

  isWithdrawn(index: number): boolean {
    return this.#withdrawn.has(index) || (this.#parent?.isWithdrawn(index) ?? false);
  }

  /** Index of the suspect's (first and only) sighting. */
  sightingOf(suspectId: string): number | undefined {
    return this.#sightingOfSuspect.get(suspectId) ?? this.#parent?.sightingOf(suspectId);
  }

  /** The suspect id of the sighting logged at `index`. */
  suspectSightedAt(index: number): string | undefined {
    return this.#suspectAt.get(index) ?? this.#parent?.suspectSightedAt(index);
  }

  session(index: number): LoggedSession | undefined {
    return this.#sessions.get(index) ?? this.#parent?.session(index);
  }

  sessionIndex(sessionId: string): number | undefined {
    return this.#sessionIds.get(sessionId) ?? this.#parent?.sessionIndex(sessionId);
  }

  isAttested(memberId: string, sessionIndex: number): boolean {
    const k = `${memberId}\0${sessionIndex}`;
    return this.#attested.has(k) || (this.#parent?.isAttested(memberId, sessionIndex) ?? false);
  }

  addCommitment(index: number, c: LoggedCommitment): void {
    this.#commitments.set(index, c);
    this.#commitmentIds.add(idKey(c.kind, c.memberId, commitmentKey(c)));
  }

  addWithdrawn(index: number): void {
    this.#withdrawn.add(index);
  }

  addSighting(index: number, suspectId: string): void {
    this.#sightingOfSuspect.set(suspectId, index);
    this.#suspectAt.set(index, suspectId);
  }

  addSession(s: LoggedSession): void {
    this.#sessions.set(s.index, s);
    this.#sessionIds.set(s.opened.sessionId, s.index);
  }

  addAttested(memberId: string, sessionIndex: number): void {
    this.#attested.add(`${memberId}\0${sessionIndex}`);
  }

  /** Moves everything staged here into the parent (after the batch is durable). */
  /** The key id delegated last for `purpose` ("" when retired), undefined when never delegated. */
  hubKeyOf(purpose: string): LoggedHubKey | undefined {
    return this.#hubKeys.get(purpose) ?? this.#parent?.hubKeyOf(purpose);
  }

  /** Whether a hub key statement ever named `keyId` (delegated or made root): a key serves one role, once. */
  wasHubKey(keyId: string): boolean {
    return this.#hubKeyLog.some((h) => h.keyId === keyId) || (this.#parent?.wasHubKey(keyId) ?? false);
  }

  /** Indexes of every hub key statement, in log order. */
  hubKeyIndexes(): number[] {
    return [...(this.#parent?.hubKeyIndexes() ?? []), ...this.#hubKeyLog.map((h) => h.index)];
  }

  /** Records a hub key statement at `index`: `keyId` now signs `purpose` ("" = retired). */
  setHubKey(purpose: string, keyId: string, index: number, publicKey?: Uint8Array): void {
    const k = { keyId, index, ...(publicKey === undefined ? {} : { publicKey }) };
    this.#hubKeys.set(purpose, k);
    this.#hubKeyLog.push({ purpose, ...k });
  }

  /** The logged epoch with this id. */
  epoch(epochId: string): LoggedEpoch | undefined {
    return this.#epochs.get(epochId) ?? this.#parent?.epoch(epochId);
  }

  /** The highest epoch number logged (0 when none). */
  topEpochNumber(): number {
    return Math.max(this.#topEpochNumber, this.#parent?.topEpochNumber() ?? 0);
  }

  addEpoch(e: LoggedEpoch): void {
    this.#epochs.set(e.epochId, e);
    if (e.number > this.#topEpochNumber) this.#topEpochNumber = e.number;
  }

  /** Index of the suppression of `sketchId`, if logged. */
  suppressionOf(sketchId: string): number | undefined {
    return this.#suppressed.get(sketchId) ?? this.#parent?.suppressionOf(sketchId);
  }

  addSuppression(sketchId: string, index: number): void {
    this.#suppressed.set(sketchId, index);
  }

  mergeIntoParent(): void {
    const p = this.#parent;
    if (p === undefined) throw new LogError("internal", "a root log state has no parent to merge into");
    for (const e of this.#epochs.values()) p.addEpoch(e);
    for (const [id, i] of this.#suppressed) p.addSuppression(id, i);
    for (const h of this.#hubKeyLog) p.setHubKey(h.purpose, h.keyId, h.index, h.publicKey);
    for (const [i, c] of this.#commitments) p.addCommitment(i, c);
    for (const i of this.#withdrawn) p.addWithdrawn(i);
    for (const [i, s] of this.#suspectAt) p.addSighting(i, s);
    for (const s of this.#sessions.values()) p.addSession(s);
    for (const k of this.#attested) p.#attested.add(k);
  }
}

/**
 * What makes a commitment the same one again: its id for canary and watermark commitments; for a reference
 * fingerprint (which has no id), the model, version, epoch and hash — a replay of the same signed reference
 * (to another hub replica, or after a restart, past the in-memory replay guard) is refused, not logged twice.
 */
export function commitmentKey(c: LoggedCommitment): string {
  return c.kind === "reference"
    ? `${c.modelId}\0${c.modelVersion}\0${c.epochId}\0${Buffer.from(c.hash).toString("hex")}`
    : c.commitmentId;
}

function idKey(kind: string, memberId: string, id: string): string {
  return `${kind}\0${memberId}\0${id}`;
}

/** The commitment a COMMITMENT entry's envelope holds (decoded by payload type; not re-checked). */
export function commitmentOfEnvelope(envelope: DsseEnvelope): LoggedCommitment {
  switch (envelope.payloadType) {
    case PAYLOAD_TYPES.commitment: {
      const c = fromBinary(CanaryCommitmentSchema, envelope.payload);
      return {
        kind: "canary",
        memberId: c.memberId,
        commitmentId: c.commitmentId,
        root: c.merkleRoot,
        count: Number(c.canaryCount),
        pairs: c.hashAlgorithm === CommitmentHashAlgorithm.SHA256_RFC6962_PAIRS,
      };
    }
    case PAYLOAD_TYPES.watermarkCommitment: {
      const w = fromBinary(WatermarkKeyCommitmentSchema, envelope.payload);
      return {
        kind: "watermark",
        memberId: w.memberId,
        commitmentId: w.commitmentId,
        keyDigest: w.keyDigest,
        gamma: w.gamma,
      };
    }
    case PAYLOAD_TYPES.referenceFingerprint: {
      const r = fromBinary(ReferenceFingerprintCommitmentSchema, envelope.payload);
      return {
        kind: "reference",
        memberId: r.memberId,
        modelId: r.modelId,
        modelVersion: r.modelVersion,
        epochId: r.epochId,
        hash: r.fingerprintHash,
      };
    }
    default:
      throw new LogError("malformed", "envelope is not a member commitment");
  }
}

/** Replays one logged entry's effect on the admission state (TransparencyLog.open). */
export function replayEntry(
  state: LogState,
  kind: "commitment" | "withdrawal" | "sighting" | "session" | "attestation" | "epoch" | "suppression",
  index: number,
  envelope: DsseEnvelope,
  refIndex: number | null,
  memberId: string | null,
): void {
  switch (kind) {
    case "commitment":
      state.addCommitment(index, commitmentOfEnvelope(envelope));
      return;
    case "withdrawal":
      if (refIndex !== null) state.addWithdrawn(refIndex);
      return;
    case "sighting": {
      const s = fromBinary(SuspectSightingSchema, envelope.payload);
      if (s.suspect !== undefined && state.sightingOf(s.suspect.suspectId) === undefined)
        state.addSighting(index, s.suspect.suspectId);
      return;
    }
    case "session": {
      const opened = fromBinary(SessionOpenedSchema, envelope.payload);
      state.addSession({ index, memberId: opened.candidate?.memberId ?? "", opened });
      return;
    }
    case "epoch": {
      const st = fromBinary(EpochStatementSchema, envelope.payload);
      if (st.epoch !== undefined)
        state.addEpoch({ index, epochId: st.epoch.epochId, number: Number(st.epoch.number) });
      return;
    }
    case "suppression":
      state.addSuppression(fromBinary(SketchSuppressionSchema, envelope.payload).sketchId, index);
      return;
    case "attestation": {
      // Version-1 statements logged before protocol v2 still decode; only v2 ones answer a session.
      const st = fromBinary(AttestationStatementSchema, envelope.payload);
      if (st.version === 2 && st.bound !== undefined && memberId !== null)
        state.addAttested(memberId, Number(st.bound.sessionIndex));
      return;
    }
  }
}

const REPLAYED = new Map<number, Parameters<typeof replayEntry>[1]>([
  [LogEntryKind.COMMITMENT, "commitment"],
  [LogEntryKind.WITHDRAWAL, "withdrawal"],
  [LogEntryKind.SUSPECT_SIGHTING, "sighting"],
  [LogEntryKind.SESSION, "session"],
  [LogEntryKind.ATTESTATION, "attestation"],
  [LogEntryKind.EPOCH, "epoch"],
  [LogEntryKind.SKETCH_SUPPRESSION, "suppression"],
]);

/**
 * Replays one stored (already verified) entry, in log order, into the member registry and the admission
 * state: what start-up does for every entry and what catching up on another writer's entries does for the
 * new ones. Returns the entry's integration time (ms).
 */
export function replayStoredEntry(registry: MemberRegistry, state: LogState, e: StoredEntry): number {
  const leaf = decodeLeaf(e.leaf);
  if (leaf.kind !== e.kind)
    throw new LogError("log_corrupt", `entry ${e.index}: kind column disagrees with its leaf`);
  if (e.kind === LogEntryKind.MEMBERSHIP) {
    registry.apply(fromBinary(MembershipRecordSchema, leaf.envelope.payload), e.index);
  } else if (e.kind === LogEntryKind.HUB_KEY) {
    const st = fromBinary(HubKeyStatementSchema, leaf.envelope.payload);
    const retired = st.action === HubKeyAction.RETIRE;
    state.setHubKey(
      HubKeyPurpose[st.purpose] ?? String(st.purpose),
      retired ? "" : st.keyId,
      e.index,
      retired ? undefined : st.publicKey,
    );
  } else {
    const name = REPLAYED.get(e.kind);
    if (name !== undefined) replayEntry(state, name, e.index, leaf.envelope, e.refIndex, e.memberId);
  }
  return leaf.integratedAtMs;
}
