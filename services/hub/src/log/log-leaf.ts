/**
 * Log leaves (proto/lineage/v1/transparency_log.proto, LogLeaf): the bytes hashed into the RFC 6962
 * tree are the protobuf encoding of {kind, envelope, integrated_at}, stored and served exactly as
 * hashed. Also the payload types of each entry kind and the DSSE conversions proto <-> crypto.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  DsseEnvelopeSchema,
  LogEntryKind,
  LogLeafSchema,
  type DsseEnvelope as ProtoEnvelope,
} from "@lineage/api";
import type { DsseEnvelope, DsseLimits } from "@lineage/crypto";
import { LogError } from "./log-error.js";

/** DSSE payload types of log entries (proto/lineage/v1/dsse.proto). */
export const PAYLOAD_TYPES = {
  attestation: "application/vnd.lineage.attestation.v1+proto",
  commitment: "application/vnd.lineage.canary-commitment.v1+proto",
  membership: "application/vnd.lineage.membership.v1+proto",
  reviewDecision: "application/vnd.lineage.review-decision.v1+proto",
  withdrawal: "application/vnd.lineage.withdrawal.v1+proto",
  /** Hub-signed SessionOpened (match_session.proto), logged before the member queries the suspect. */
  session: "application/vnd.lineage.session.v1+proto",
  /** Hub-signed SuspectSighting (match_session.proto): when the hub first saw a suspect. */
  sighting: "application/vnd.lineage.suspect-sighting.v1+proto",
  /** Member-signed WatermarkKeyCommitment (canary_commitment.proto), logged as a COMMITMENT. */
  watermarkCommitment: "application/vnd.lineage.watermark-commitment.v1+proto",
  /** Member-signed ReferenceFingerprintCommitment (canary_commitment.proto), logged as a COMMITMENT. */
  referenceFingerprint: "application/vnd.lineage.reference-fingerprint.v1+proto",
} as const;

/** The entry kind each payload type is logged as. */
export function kindOfPayloadType(payloadType: string): LogEntryKind {
  switch (payloadType) {
    case PAYLOAD_TYPES.attestation:
      return LogEntryKind.ATTESTATION;
    case PAYLOAD_TYPES.commitment:
    case PAYLOAD_TYPES.watermarkCommitment:
    case PAYLOAD_TYPES.referenceFingerprint:
      return LogEntryKind.COMMITMENT;
    case PAYLOAD_TYPES.session:
      return LogEntryKind.SESSION;
    case PAYLOAD_TYPES.sighting:
      return LogEntryKind.SUSPECT_SIGHTING;
    case PAYLOAD_TYPES.membership:
      return LogEntryKind.MEMBERSHIP;
    case PAYLOAD_TYPES.reviewDecision:
      return LogEntryKind.REVIEW_DECISION;
    case PAYLOAD_TYPES.withdrawal:
      return LogEntryKind.WITHDRAWAL;
    default:
      throw new LogError("malformed", "envelope payloadType is not a type the log accepts");
  }
}

/** Envelope bounds of the API (dsse.proto): 1 MiB payload, 8 signatures, 128-byte type. */
export const LOG_DSSE_LIMITS: DsseLimits = Object.freeze({
  maxPayloadBytes: 1 << 20,
  maxSignatures: 8,
  maxPayloadTypeBytes: 128,
});

/** Largest encoded leaf (envelope + framing), as stored and served. */
export const MAX_LEAF_BYTES = (1 << 20) + 16 * 1024;

/** A decoded leaf. */
export interface DecodedLeaf {
  readonly kind: LogEntryKind;
  readonly envelope: DsseEnvelope;
  /** When the hub appended it (ms since the epoch). */
  readonly integratedAtMs: number;
}

/** Proto envelope -> crypto envelope (shape only; callers verify). */
export function envelopeFromProto(env: ProtoEnvelope): DsseEnvelope {
  return {
    payloadType: env.payloadType,
    payload: env.payload,
    signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  };
}

/** Crypto envelope -> proto init shape. */
export function envelopeToProto(env: DsseEnvelope): ProtoEnvelope {
  return create(DsseEnvelopeSchema, {
    payloadType: env.payloadType,
    payload: env.payload,
    signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  });
}

/** Bytes a varint of the non-negative safe integer `n` takes. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

const textEncoder = new TextEncoder();

/**
 * Encodes a leaf: these exact bytes are hashed and stored. Hand-written (it runs once per append)
 * but byte-for-byte the protobuf-es encoding of LogLeaf {kind, envelope, integrated_at} — fields in
 * number order, proto3 defaults omitted — which log-leaf.test.ts checks against `toBinary` on
 * random leaves, so any reader decodes it with the generated schema.
 */
export function encodeLeaf(kind: LogEntryKind, envelope: DsseEnvelope, integratedAtMs: number): Uint8Array {
  if (!Number.isSafeInteger(integratedAtMs) || integratedAtMs < 0) {
    throw new LogError("invalid_argument", "integratedAtMs must be a non-negative integer");
  }
  const type = textEncoder.encode(envelope.payloadType);
  const payload = envelope.payload;
  const sigs = envelope.signatures.map((s) => {
    const keyid = textEncoder.encode(s.keyid);
    const body =
      (keyid.length > 0 ? 1 + varintSize(keyid.length) + keyid.length : 0) +
      (s.sig.length > 0 ? 1 + varintSize(s.sig.length) + s.sig.length : 0);
    return { keyid, sig: s.sig, body };
  });
  let envLen =
    (type.length > 0 ? 1 + varintSize(type.length) + type.length : 0) +
    (payload.length > 0 ? 1 + varintSize(payload.length) + payload.length : 0);
  for (const s of sigs) envLen += 1 + varintSize(s.body) + s.body;
  const seconds = Math.floor(integratedAtMs / 1000);
  const nanos = (integratedAtMs % 1000) * 1_000_000;
  const tsLen = (seconds > 0 ? 1 + varintSize(seconds) : 0) + (nanos > 0 ? 1 + varintSize(nanos) : 0);
  const total =
    (kind !== 0 ? 1 + varintSize(kind) : 0) + 1 + varintSize(envLen) + envLen + 1 + varintSize(tsLen) + tsLen;
  const out = new Uint8Array(total);
  let o = 0;
  if (kind !== 0) {
    out[o++] = 0x08; // field 1, varint
    o = writeVarint(out, o, kind);
  }
  out[o++] = 0x12; // field 2, length-delimited: DsseEnvelope
  o = writeVarint(out, o, envLen);
  if (type.length > 0) {
    out[o++] = 0x0a;
    o = writeVarint(out, o, type.length);
    out.set(type, o);
    o += type.length;
  }
  if (payload.length > 0) {
    out[o++] = 0x12;
    o = writeVarint(out, o, payload.length);
    out.set(payload, o);
    o += payload.length;
  }
  for (const s of sigs) {
    out[o++] = 0x1a; // DsseEnvelope.signatures
    o = writeVarint(out, o, s.body);
    if (s.keyid.length > 0) {
      out[o++] = 0x0a;
      o = writeVarint(out, o, s.keyid.length);
      out.set(s.keyid, o);
      o += s.keyid.length;
    }
    if (s.sig.length > 0) {
      out[o++] = 0x12;
      o = writeVarint(out, o, s.sig.length);
      out.set(s.sig, o);
      o += s.sig.length;
    }
  }
  out[o++] = 0x1a; // field 3, length-delimited: Timestamp
  o = writeVarint(out, o, tsLen);
  if (seconds > 0) {
    out[o++] = 0x08;
    o = writeVarint(out, o, seconds);
  }
  if (nanos > 0) {
    out[o++] = 0x10;
    o = writeVarint(out, o, nanos);
  }
  if (o !== total) throw new LogError("internal", "leaf encoding length mismatch");
  return out;
}

/**
 * Decodes a leaf. `bytes` may come from an untrusted peer (an auditor decodes what the hub served):
 * size bounded, every field required, kind must agree with the payload type.
 */
export function decodeLeaf(bytes: Uint8Array): DecodedLeaf {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new LogError("malformed", "leaf is empty");
  if (bytes.length > MAX_LEAF_BYTES) throw new LogError("too_large", `leaf exceeds ${MAX_LEAF_BYTES} bytes`);
  let leaf: ReturnType<typeof fromBinary<typeof LogLeafSchema>>;
  try {
    leaf = fromBinary(LogLeafSchema, bytes);
  } catch (cause) {
    throw new LogError("malformed", "leaf is not an encoded LogLeaf", { cause });
  }
  if (leaf.envelope === undefined) throw new LogError("malformed", "leaf has no envelope");
  if (leaf.integratedAt === undefined) throw new LogError("malformed", "leaf has no integrated_at");
  const envelope = envelopeFromProto(leaf.envelope);
  if (kindOfPayloadType(envelope.payloadType) !== leaf.kind) {
    throw new LogError("malformed", "leaf kind does not match its payload type");
  }
  return { kind: leaf.kind, envelope, integratedAtMs: Number(timestampMs(leaf.integratedAt)) };
}
