/**
 * Log leaves (proto/lineage/v1/transparency_log.proto, LogLeaf): the bytes hashed into the RFC 6962
 * tree are the protobuf encoding of {kind, envelope, integrated_at}, stored and served exactly as
 * hashed. Also the payload types of each entry kind and the DSSE conversions proto <-> crypto.
 */
import { create, type DescMessage, fromBinary, type Message, type MessageShape } from "@bufbuild/protobuf";
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
  /** Root-signed HubKeyStatement (hub_key.proto): a hub key delegation, retirement or root rotation. */
  hubKey: "application/vnd.lineage.hub-key.v1+proto",
  /** Hub-signed EpochStatement (epoch.proto): an epoch created or rotated to, logged before it is handed out. */
  epoch: "application/vnd.lineage.epoch.v1+proto",
  /** Hub-signed SketchSuppression (sketch.proto): the secretariat took a sketch out of retrieval. */
  sketchSuppression: "application/vnd.lineage.sketch-suppression.v1+proto",
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
    case PAYLOAD_TYPES.hubKey:
      return LogEntryKind.HUB_KEY;
    case PAYLOAD_TYPES.epoch:
      return LogEntryKind.EPOCH;
    case PAYLOAD_TYPES.sketchSuppression:
      return LogEntryKind.SKETCH_SUPPRESSION;
    default:
      throw new LogError("malformed", "envelope payloadType is not a type the log accepts");
  }
}

/** A payload type the log accepts. */
export type LogPayloadType = (typeof PAYLOAD_TYPES)[keyof typeof PAYLOAD_TYPES];

const KiB = 1024;

/**
 * Largest DSSE payload of each entry kind, in bytes (issue 8: a ~1 MiB attestation padded with junk was
 * accepted). Each is several times the largest well-formed payload its checks allow — a statement or
 * session names at most 64 panel models, commitments carry roots and hashes, not the committed items —
 * and small enough that a page of entries stays small:
 *
 *   attestation 64 KiB · review decision 64 KiB · session 32 KiB · membership 16 KiB ·
 *   canary / watermark / reference-fingerprint commitment 16 KiB · sighting 8 KiB · withdrawal 8 KiB ·
 *   hub key 8 KiB · epoch 8 KiB (ids, a window, two 32-byte digests, nine small integers: under 300 bytes) ·
 *   sketch suppression 8 KiB (a 1,024-char reason and ids: under 1.5 KiB; 4,096 bytes if all 4-byte UTF-8)
 */
export const MAX_PAYLOAD_BYTES: Readonly<Record<LogPayloadType, number>> = Object.freeze({
  [PAYLOAD_TYPES.attestation]: 64 * KiB,
  [PAYLOAD_TYPES.reviewDecision]: 64 * KiB,
  [PAYLOAD_TYPES.session]: 32 * KiB,
  [PAYLOAD_TYPES.membership]: 16 * KiB,
  [PAYLOAD_TYPES.commitment]: 16 * KiB,
  [PAYLOAD_TYPES.watermarkCommitment]: 16 * KiB,
  [PAYLOAD_TYPES.referenceFingerprint]: 16 * KiB,
  [PAYLOAD_TYPES.sighting]: 8 * KiB,
  [PAYLOAD_TYPES.withdrawal]: 8 * KiB,
  [PAYLOAD_TYPES.hubKey]: 8 * KiB,
  [PAYLOAD_TYPES.epoch]: 8 * KiB,
  [PAYLOAD_TYPES.sketchSuppression]: 8 * KiB,
});

/** The largest per-kind payload cap: the bound every envelope meets whatever its kind. */
export const MAX_ENTRY_PAYLOAD_BYTES = Math.max(...Object.values(MAX_PAYLOAD_BYTES));

/**
 * Envelope bounds the log verifies every signed envelope under: payload at most the largest per-kind cap
 * (64 KiB), 8 signatures, 128-byte type. Verification refuses anything larger with `too_large`, so this
 * bound holds for every append path even before the kind is known.
 */
export const LOG_DSSE_LIMITS: DsseLimits = Object.freeze({
  maxPayloadBytes: MAX_ENTRY_PAYLOAD_BYTES,
  maxSignatures: 8,
  maxPayloadTypeBytes: 128,
});

/**
 * Largest encoded leaf the log writes: the payload cap plus envelope framing (8 signatures of a 64-char
 * key id and 64 bytes, the type, the timestamp: under 2 KiB; 16 KiB leaves room). Reads page by it.
 */
export const MAX_LEAF_BYTES = MAX_ENTRY_PAYLOAD_BYTES + 16 * KiB;

/**
 * Path of the first unknown field in a decoded message (protobuf-es keeps them in `$unknown`), searching
 * nested messages, lists and maps; undefined when there is none. Unknown fields are refused in log entries:
 * they would be signed, hashed and served, but no verifier reads them — room for padding, covert data or a
 * second meaning only some readers see.
 */
export function findUnknownField(
  schema: DescMessage,
  message: Message,
  path = schema.name,
): string | undefined {
  const unknown = (message as { $unknown?: readonly { no: number }[] }).$unknown;
  if (unknown !== undefined && unknown.length > 0) return `${path} field ${unknown[0]?.no}`;
  const record = message as unknown as Record<string, unknown>;
  for (const f of schema.fields) {
    const value =
      f.oneof !== undefined
        ? (record[f.oneof.localName] as { case?: string; value?: unknown } | undefined)?.case === f.localName
          ? (record[f.oneof.localName] as { value: unknown }).value
          : undefined
        : record[f.localName];
    if (value === undefined || value === null) continue;
    const at = `${path}.${f.name}`;
    if (f.fieldKind === "message") {
      const hit = findUnknownField(f.message, value as Message, at);
      if (hit !== undefined) return hit;
    } else if (f.fieldKind === "list" && f.listKind === "message") {
      for (const [i, item] of (value as Message[]).entries()) {
        const hit = findUnknownField(f.message, item, `${at}[${i}]`);
        if (hit !== undefined) return hit;
      }
    } else if (f.fieldKind === "map" && f.mapKind === "message") {
      for (const [k, item] of Object.entries(value as Record<string, Message>)) {
        const hit = findUnknownField(f.message, item, `${at}[${k}]`);
        if (hit !== undefined) return hit;
      }
    }
  }
  return undefined;
}

/**
 * Decodes the payload of an untrusted envelope as `schema`, strictly: the payload type must be one the log
 * accepts, the payload within that kind's cap ({@link MAX_PAYLOAD_BYTES}), the bytes a valid encoding, and
 * no field unknown to `schema` anywhere in the message. The log's append paths decode every payload with it.
 * @throws LogError `too_large` over the cap; `malformed` for an unknown type, bad bytes or unknown fields
 */
export function decodeEntryPayload<Desc extends DescMessage>(
  schema: Desc,
  envelope: Pick<DsseEnvelope, "payloadType" | "payload">,
  what: string = schema.name,
): MessageShape<Desc> {
  kindOfPayloadType(envelope.payloadType); // throws malformed for a type the log does not accept
  const cap = MAX_PAYLOAD_BYTES[envelope.payloadType as LogPayloadType];
  if (envelope.payload.length > cap) {
    throw new LogError("too_large", `${what} payload is ${envelope.payload.length} bytes; at most ${cap}`);
  }
  let message: MessageShape<Desc>;
  try {
    message = fromBinary(schema, envelope.payload);
  } catch (cause) {
    throw new LogError("malformed", `envelope payload is not an encoded ${what}`, { cause });
  }
  const unknown = findUnknownField(schema, message as Message);
  if (unknown !== undefined) {
    throw new LogError("malformed", `${what} carries a field the log does not know (${unknown})`);
  }
  return message;
}

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
