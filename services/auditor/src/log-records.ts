/**
 * Independent decoding of what the hub serves (proto/lineage/v1/transparency_log.proto and
 * member.proto): log leaves, checkpoints, and member keys rebuilt from membership records. The
 * auditor re-implements these rather than importing the hub, so a hub bug cannot hide itself.
 * Everything here is attacker-controlled input, bounded before decoding.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  KeyAlgorithm,
  LogEntryKind,
  LogLeafSchema,
  MembershipAction,
  type MembershipRecord,
  type DsseEnvelope as ProtoEnvelope,
} from "@lineage/api";
import {
  type Checkpoint,
  type DsseEnvelope,
  type DsseLimits,
  Ed25519PublicKey,
  ed25519NoteVerifier,
  KeyRing,
  keyIdOf,
  openCheckpoint,
  sha256,
  toHex,
  verifyEnvelope,
} from "@lineage/crypto";
import { AuditError } from "./audit-error.js";
import type { TrustRoot } from "./trust-root.js";

/** Payload types of the DSSE envelopes the log holds (dsse.proto; protocol v2 adds the last four). */
export const PAYLOAD_TYPES = Object.freeze({
  attestation: "application/vnd.lineage.attestation.v1+proto",
  canaryCommitment: "application/vnd.lineage.canary-commitment.v1+proto",
  membership: "application/vnd.lineage.membership.v1+proto",
  reviewDecision: "application/vnd.lineage.review-decision.v1+proto",
  withdrawal: "application/vnd.lineage.withdrawal.v1+proto",
  session: "application/vnd.lineage.session.v1+proto",
  sighting: "application/vnd.lineage.suspect-sighting.v1+proto",
  watermarkCommitment: "application/vnd.lineage.watermark-commitment.v1+proto",
  referenceFingerprint: "application/vnd.lineage.reference-fingerprint.v1+proto",
  hubKey: "application/vnd.lineage.hub-key.v1+proto",
  epoch: "application/vnd.lineage.epoch.v1+proto",
  sketchSuppression: "application/vnd.lineage.sketch-suppression.v1+proto",
});

/**
 * Payload types each entry kind may carry. COMMITMENT holds the three member commitments (canary pairs,
 * watermark key, reference fingerprint); which one a leaf is, is read from its payload type.
 */
export const PAYLOAD_TYPES_OF_KIND: Readonly<Record<number, readonly string[]>> = {
  [LogEntryKind.ATTESTATION]: [PAYLOAD_TYPES.attestation],
  [LogEntryKind.COMMITMENT]: [
    PAYLOAD_TYPES.canaryCommitment,
    PAYLOAD_TYPES.watermarkCommitment,
    PAYLOAD_TYPES.referenceFingerprint,
  ],
  [LogEntryKind.MEMBERSHIP]: [PAYLOAD_TYPES.membership],
  [LogEntryKind.REVIEW_DECISION]: [PAYLOAD_TYPES.reviewDecision],
  [LogEntryKind.WITHDRAWAL]: [PAYLOAD_TYPES.withdrawal],
  [LogEntryKind.SESSION]: [PAYLOAD_TYPES.session],
  [LogEntryKind.SUSPECT_SIGHTING]: [PAYLOAD_TYPES.sighting],
  [LogEntryKind.HUB_KEY]: [PAYLOAD_TYPES.hubKey],
  // Hub epochs and sketch suppressions (issue 10): read and checked by epoch-records.ts.
  [LogEntryKind.EPOCH]: [PAYLOAD_TYPES.epoch],
  [LogEntryKind.SKETCH_SUPPRESSION]: [PAYLOAD_TYPES.sketchSuppression],
};

/** Envelope bounds of the API. */
export const AUDIT_DSSE_LIMITS: DsseLimits = Object.freeze({
  maxPayloadBytes: 1 << 20,
  maxSignatures: 8,
  maxPayloadTypeBytes: 128,
});

/** Largest leaf accepted. */
export const MAX_LEAF_BYTES = (1 << 20) + 16 * 1024;
/** Largest checkpoint note accepted (transparency_log.proto). */
export const MAX_CHECKPOINT_BYTES = 16 * 1024;

/** A decoded leaf. */
export interface AuditedLeaf {
  readonly kind: LogEntryKind;
  readonly envelope: DsseEnvelope;
  readonly integratedAtMs: number;
}

function envelopeFromProto(env: ProtoEnvelope): DsseEnvelope {
  return {
    payloadType: env.payloadType,
    payload: env.payload,
    signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  };
}

/** Milliseconds of a required timestamp. */
export function requiredMs(ts: Timestamp | undefined, what: string): number {
  if (ts === undefined) throw new AuditError("malformed", `${what} is missing`);
  return Number(timestampMs(ts));
}

/** Decodes a served leaf; its kind must agree with the payload type. */
export function decodeAuditedLeaf(leaf: Uint8Array, what: string): AuditedLeaf {
  if (leaf.length === 0) throw new AuditError("malformed", `${what} is empty`);
  if (leaf.length > MAX_LEAF_BYTES)
    throw new AuditError("too_large", `${what} exceeds ${MAX_LEAF_BYTES} bytes`);
  let decoded: ReturnType<typeof fromBinary<typeof LogLeafSchema>>;
  try {
    decoded = fromBinary(LogLeafSchema, leaf);
  } catch (cause) {
    throw new AuditError("malformed", `${what} is not an encoded LogLeaf`, { cause });
  }
  if (decoded.envelope === undefined) throw new AuditError("malformed", `${what} has no envelope`);
  const envelope = envelopeFromProto(decoded.envelope);
  if (!(PAYLOAD_TYPES_OF_KIND[decoded.kind] ?? []).includes(envelope.payloadType)) {
    throw new AuditError("malformed", `${what}'s kind does not match its payload type`);
  }
  return {
    kind: decoded.kind,
    envelope,
    integratedAtMs: requiredMs(decoded.integratedAt, `${what} integrated_at`),
  };
}

/**
 * Opens a hub checkpoint note (attacker-controlled) under the trust root: signed by its root key, or, when
 * the log rotated its root (trust.rotations, hub-key-history.ts), by the root whose rule covers the
 * checkpoint's size — a tree holding the rotation at index r (size > r) is signed by the new root only.
 * A checkpoint signed by a root outside its span fails with `hub_key_not_valid`.
 */
export function openHubCheckpoint(note: Uint8Array | string, trust: TrustRoot): Checkpoint {
  const bytes = typeof note === "string" ? new TextEncoder().encode(note) : note;
  if (bytes.length === 0) throw new AuditError("malformed", "checkpoint is empty");
  if (bytes.length > MAX_CHECKPOINT_BYTES) throw new AuditError("too_large", "checkpoint exceeds 16 KiB");
  const rotations = trust.rotations ?? [];
  const spans = [
    { log: trust.log, from: -1 },
    ...rotations.map((r) => ({ log: ed25519NoteVerifier(trust.log.name, r.key), from: r.index })),
  ];
  let first: unknown;
  for (const [i, span] of spans.entries()) {
    let cp: Checkpoint;
    try {
      cp = openCheckpoint(bytes, {
        log: span.log,
        ...(trust.origin === undefined ? {} : { origin: trust.origin }),
      }).checkpoint;
    } catch (cause) {
      first ??= cause;
      const code = (cause as { code?: string }).code;
      if (code === "unknown_key" && i + 1 < spans.length) continue;
      if (code === "unknown_key" && i > 0) break;
      throw checkpointError(first === cause ? cause : first);
    }
    const until = spans[i + 1]?.from;
    if (!(cp.size > span.from && (until === undefined || cp.size <= until))) {
      throw new AuditError(
        "hub_key_not_valid",
        i === 0
          ? `the checkpoint of size ${cp.size} is signed by the root key rotated away at index ${until}`
          : `the checkpoint of size ${cp.size} is signed by a root key valid only for sizes ${span.from + 1}..${until ?? "now"}`,
      );
    }
    return cp;
  }
  throw checkpointError(first);
}

function checkpointError(cause: unknown): AuditError {
  const code = (cause as { code?: string }).code;
  const mapped =
    code === "bad_signature" || code === "unknown_key" || code === "too_large"
      ? code
      : code === "inconsistent"
        ? "wrong_entry"
        : "malformed";
  return new AuditError(mapped, `checkpoint does not verify: ${(cause as Error).message}`, { cause });
}

/**
 * Largest distance allowed between a time an entry states (issued_at, effective_at, revoked_at) and
 * its integration time, as the hub's log enforces it (10 minutes, TransparencyLogOptions.maxClockSkewMs'
 * default): a revocation cannot be backdated further, a statement cannot be logged older.
 */
export const MAX_STATED_SKEW_MS = 10 * 60_000;

/** A member key and its logged validity. */
export interface AuditedKey {
  readonly memberId: string;
  readonly keyId: string;
  readonly publicKey: Ed25519PublicKey;
  readonly notBeforeMs: number;
  readonly notAfterMs: number | undefined;
  /** The revocation's stated time (informational: validity is judged by {@link revokedAtIndex}). */
  readonly revokedAtMs: number | undefined;
  /** Log index of the record that added it. */
  readonly addedAtIndex: number;
  /** Log index of the record that revoked it; undefined when not revoked in what was read. */
  readonly revokedAtIndex?: number;
}

/** A member's status changes (SUSPEND, REINSTATE, REMOVE), by log index. */
export interface StatusChange {
  readonly index: number;
  readonly status: "active" | "suspended" | "removed";
}

/**
 * The key fingerprint a secretariat confirms out of band (member.proto, confirmed_fingerprint): 16
 * dash-separated groups of 4 lowercase hex digits of SHA-256(raw public key). Re-implemented here.
 */
export function auditedKeyFingerprint(publicKey: Uint8Array): string {
  const hex = toHex(sha256(publicKey));
  return (hex.match(/.{4}/g) as string[]).join("-");
}

/**
 * Applies one membership record (at log `index`, integrated at `integratedAtMs`) to the keys and
 * statuses known so far, checking who signed it (member.proto, MembershipRecord): the hub always;
 * ENROL also the new key with a matching confirmed fingerprint; ADD_KEY also the new key and a key of
 * the member valid at `index`; REVOKE_KEY also a key of the member valid at `index` (or the revoked
 * key). A key record the hub signed alone fails with `membership_unauthorized`; a stated time further
 * than {@link MAX_STATED_SKEW_MS} from integration fails with `stale`; a record that contradicts earlier
 * ones with `wrong_entry`. `envelope` is attacker-controlled.
 */
export function applyMembershipRecord(
  keys: Map<string, AuditedKey>,
  statuses: Map<string, StatusChange[]>,
  rec: MembershipRecord,
  index: number,
  envelope: DsseEnvelope,
  hubKey: Ed25519PublicKey,
  integratedAtMs: number,
): void {
  const signedBy = (key: Ed25519PublicKey): boolean => {
    try {
      verifyEnvelope(envelope, {
        keys: new KeyRing([key]),
        requiredKeyIds: [key.keyId],
        limits: AUDIT_DSSE_LIMITS,
      });
      return true;
    } catch {
      return false;
    }
  };
  if (!signedBy(hubKey)) {
    throw new AuditError("bad_signature", `membership record ${index} is not signed by the hub`);
  }
  const skewed = (ms: number) => !(Math.abs(ms - integratedAtMs) <= MAX_STATED_SKEW_MS);
  // Key additions may be logged after the member signed them (only a future effective_at is wrong);
  // revocations and the hub's decisions take effect when logged (hub: member-registry.ts, the same rule).
  const addsKey = rec.action === MembershipAction.ENROL || rec.action === MembershipAction.ADD_KEY;
  const effectiveMs = rec.effectiveAt === undefined ? undefined : Number(timestampMs(rec.effectiveAt));
  if (
    effectiveMs !== undefined &&
    (addsKey ? effectiveMs - integratedAtMs > MAX_STATED_SKEW_MS : skewed(effectiveMs))
  ) {
    throw new AuditError(
      "stale",
      `membership record ${index}: effective_at is far from its integration time`,
    );
  }
  const authoriser = (allowSelf: boolean): void => {
    const by = keys.get(rec.authorizedByKeyId);
    const ok =
      by !== undefined &&
      by.memberId === rec.memberId &&
      by.addedAtIndex < index &&
      (by.revokedAtIndex === undefined || by.revokedAtIndex >= index) &&
      (allowSelf || by.keyId !== rec.key?.keyId) &&
      signedBy(by.publicKey);
    if (!ok) {
      throw new AuditError(
        "membership_unauthorized",
        `membership record ${index} (${MembershipAction[rec.action]} for ${rec.memberId}) is not signed by a key of the member valid at that position`,
      );
    }
  };
  if (rec.action === MembershipAction.ENROL || rec.action === MembershipAction.ADD_KEY) {
    const k = rec.key;
    if (k === undefined || k.algorithm !== KeyAlgorithm.ED25519) {
      throw new AuditError("malformed", `membership record ${index} has no Ed25519 key`);
    }
    if (k.keyId !== keyIdOf(k.publicKey)) {
      throw new AuditError("wrong_entry", `membership record ${index}: key_id is not SHA-256 of the key`);
    }
    if (keys.has(k.keyId)) throw new AuditError("wrong_entry", `membership record ${index} adds a key twice`);
    const publicKey = Ed25519PublicKey.fromRaw(k.publicKey);
    if (rec.action === MembershipAction.ADD_KEY) authoriser(false);
    if (!signedBy(publicKey)) {
      throw new AuditError(
        "membership_unauthorized",
        `membership record ${index} is not signed by the key it adds (no proof of possession)`,
      );
    }
    if (
      rec.action === MembershipAction.ENROL &&
      rec.confirmedFingerprint !== auditedKeyFingerprint(k.publicKey)
    ) {
      throw new AuditError(
        "membership_unauthorized",
        `membership record ${index}: the confirmed fingerprint is not the enrolled key's`,
      );
    }
    keys.set(k.keyId, {
      memberId: rec.memberId,
      keyId: k.keyId,
      publicKey,
      notBeforeMs: requiredMs(k.notBefore, "key not_before"),
      notAfterMs: k.notAfter === undefined ? undefined : Number(timestampMs(k.notAfter)),
      revokedAtMs: undefined,
      addedAtIndex: index,
    });
  } else if (rec.action === MembershipAction.REVOKE_KEY) {
    const prior = keys.get(rec.key?.keyId ?? "");
    if (prior === undefined || prior.memberId !== rec.memberId) {
      throw new AuditError("wrong_entry", `membership record ${index} revokes a key not logged before it`);
    }
    authoriser(true);
    const at = requiredMs(rec.key?.revokedAt, "key revoked_at");
    if (skewed(at)) {
      throw new AuditError("stale", `membership record ${index}: revoked_at is backdated beyond the skew`);
    }
    if (prior.revokedAtIndex === undefined) {
      keys.set(prior.keyId, { ...prior, revokedAtMs: at, revokedAtIndex: index });
    }
  } else if (
    rec.action === MembershipAction.SUSPEND ||
    rec.action === MembershipAction.REINSTATE ||
    rec.action === MembershipAction.REMOVE
  ) {
    const status =
      rec.action === MembershipAction.SUSPEND
        ? "suspended"
        : rec.action === MembershipAction.REINSTATE
          ? "active"
          : "removed";
    const list = statuses.get(rec.memberId) ?? [];
    list.push({ index, status });
    statuses.set(rec.memberId, list);
  }
}

/** The member's status at log position `index` (the last change before it), from `changes` in log order. */
export function statusAt(
  changes: readonly StatusChange[] | undefined,
  index: number,
): StatusChange["status"] {
  let status: StatusChange["status"] = "active";
  for (const c of changes ?? []) if (c.index < index) status = c.status;
  return status;
}

/**
 * Whether `key` accepted a signature for an entry at log position `atIndex` stating time `atMs`,
 * and if not, why. Revocation is judged by position (a revocation logged before the entry), never by
 * its stated time, so a revocation cannot reach back to what was already logged. Without `atIndex`
 * (callers that do not know the entry's position) the stated revocation time is used.
 */
export function keyValidity(key: AuditedKey, atMs: number, atIndex?: number): string | undefined {
  if (atMs < key.notBeforeMs) return "the statement predates the key's not_before";
  if (key.notAfterMs !== undefined && atMs >= key.notAfterMs) return "the key had expired (not_after)";
  if (atIndex !== undefined) {
    if (key.revokedAtIndex !== undefined && key.revokedAtIndex < atIndex)
      return `the key was revoked at log index ${key.revokedAtIndex}, before the entry at ${atIndex}`;
    return undefined;
  }
  if (key.revokedAtMs !== undefined && atMs >= key.revokedAtMs)
    return "the key was revoked before the statement";
  return undefined;
}
