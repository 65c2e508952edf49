/**
 * Checks one signed sketch message as it arrives, before anything is stored (the CPU half of ingestion;
 * sketch-store.ts does the database half in batches). In order: size, decoding, the header signature under
 * a logged key of the member the header names, that member's right to speak on this channel (the NATS
 * subject's member token), freshness, active membership, the DSSE envelope signed by a logged key of the
 * same member, the sketch's subject (the same member), and its epoch (the current one). Every failure is
 * a non-retryable HubError naming what is wrong; none of them has touched any state.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { DsseEnvelopeSchema, type DsseEnvelope as ProtoEnvelope, type SignedHeader } from "@lineage/api";
import { KeyRing, sha256, toHex, verifyEnvelopeAsync } from "@lineage/crypto";
import type { Sketch } from "@lineage/fingerprint";
import type { EpochRecord } from "../epochs/epoch-store.js";
import { keyValidAt } from "../log/member-registry.js";
import { HubError } from "./hub-error.js";
import type { MemberDirectory } from "./member-directory.js";
import { verifyMemberHeader } from "./signed-header.js";
import { type ModelRef, SKETCH_PAYLOAD_TYPE } from "./sketch-proto.js";
import { decodeMemberSketch, onlyField } from "./sketch-wire.js";

/** Largest DSSE payload (a protobuf Sketch), bytes (hub_service.proto: at most 1 MiB). */
export const MAX_SKETCH_PAYLOAD_BYTES = 1 << 20;
/** Largest whole message (announcement or request): the payload plus header and signatures. */
export const MAX_SKETCH_MESSAGE_BYTES = MAX_SKETCH_PAYLOAD_BYTES + 16 * 1024;
/** Hub clock-skew window for headers (signed_header.proto: +/- 5 minutes). */
export const DEFAULT_MAX_SKEW_MS = 5 * 60_000;
/**
 * Oldest header accepted from JetStream: a stored message is delivered when the hub gets to it (after a
 * restart, say), so its age is bounded by how long the stream may hold it, not by the clock skew.
 */
export const DEFAULT_MAX_QUEUED_AGE_MS = 24 * 3_600_000;

/** A sketch message that passed every check that needs no database. */
export interface VerifiedSketch {
  readonly memberId: string;
  readonly keyId: string;
  readonly sequence: bigint;
  readonly nonce: Uint8Array;
  /** SHA-256 of the whole signed message as received. */
  readonly messageDigest: Uint8Array;
  /** Lowercase hex SHA-256 of the DSSE payload: the sketch's id. */
  readonly sketchId: string;
  readonly epochId: string;
  readonly model: ModelRef;
  readonly sketch: Sketch;
  /**
   * The member's envelope, protobuf-encoded (as received when it arrived in one piece): what the hub stores,
   * its payload the only copy of the sketch kept.
   */
  readonly envelope: Uint8Array;
}

/** Where a message came from: a JetStream subject (lineage.sketch.<member>.<model>) or a gRPC call. */
export type SketchChannel = { readonly kind: "nats"; readonly subject: string } | { readonly kind: "grpc" };

/** What the verifier checks against. */
export interface VerifyContext {
  readonly members: MemberDirectory;
  /** The current epoch, or undefined when none is. */
  readonly epoch: EpochRecord | undefined;
  readonly nowMs: number;
  readonly maxSkewMs?: number;
  readonly maxQueuedAgeMs?: number;
}

/**
 * Verifies a signed sketch message: `domain` and `body` are what the header signs (the enclosing message's
 * full name and its encoding with the header unset), `raw` the bytes as received (for the digest).
 */
export async function verifySketchMessage(
  domain: string,
  header: SignedHeader | undefined,
  envelope: ProtoEnvelope | undefined,
  body: Uint8Array,
  raw: Uint8Array,
  channel: SketchChannel,
  ctx: VerifyContext,
): Promise<VerifiedSketch> {
  if (raw.length > MAX_SKETCH_MESSAGE_BYTES) {
    throw new HubError(
      "too_large",
      `sketch message is ${raw.length} bytes, limit ${MAX_SKETCH_MESSAGE_BYTES}`,
    );
  }
  // A key this replica has not seen may have been logged by another hub process a moment ago.
  const wanted = [header?.keyId, envelope?.signatures[0]?.keyid];
  if (
    wanted.some(
      (k) => typeof k === "string" && /^[0-9a-f]{64}$/.test(k) && ctx.members.memberKey(k) === undefined,
    )
  ) {
    await ctx.members.refresh();
  }
  // Signatures are checked in libuv's thread pool (many messages in flight keep both cores busy).
  const { header: h, key } = await verifyMemberHeader(
    domain,
    header,
    body,
    ctx.members,
    ctx.nowMs,
    MAX_SKETCH_MESSAGE_BYTES,
    "sketch message",
  );
  if (channel.kind === "nats") {
    const token = channel.subject.split(".")[2];
    if (token !== h.memberId) {
      throw new HubError(
        "permission_denied",
        `sketch from member ${h.memberId} arrived on another member's subject`,
      );
    }
  }
  const skew = ctx.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const oldest = channel.kind === "nats" ? (ctx.maxQueuedAgeMs ?? DEFAULT_MAX_QUEUED_AGE_MS) : skew;
  if (h.issuedAtMs > ctx.nowMs + skew || h.issuedAtMs < ctx.nowMs - oldest) {
    throw new HubError(
      "stale",
      `sketch message issued_at is outside the hub's window (${oldest} ms back, ${skew} ms ahead)`,
    );
  }
  const status = await ctx.members.statusOf(key);
  if (status !== "active") throw new HubError("permission_denied", `member ${h.memberId} is ${status}`);
  // The envelope: one signature, by a logged key of the same member, over PAE(type, payload).
  if (envelope === undefined) throw new HubError("malformed", "sketch message has no envelope");
  if (envelope.payloadType !== SKETCH_PAYLOAD_TYPE) {
    throw new HubError("malformed", `envelope payload_type must be ${SKETCH_PAYLOAD_TYPE}`);
  }
  if (envelope.payload.length > MAX_SKETCH_PAYLOAD_BYTES) {
    throw new HubError("too_large", `sketch payload exceeds ${MAX_SKETCH_PAYLOAD_BYTES} bytes`);
  }
  if (envelope.signatures.length !== 1)
    throw new HubError("malformed", "sketch envelope must carry exactly one signature");
  const sig = envelope.signatures[0] as { keyid: string; sig: Uint8Array };
  const envKey = ctx.members.memberKey(sig.keyid);
  if (envKey === undefined || envKey.memberId !== h.memberId) {
    throw new HubError(
      "unknown_key",
      `sketch envelope is not signed by a logged key of member ${h.memberId}`,
    );
  }
  if (envKey.revokedAtIndex !== undefined || !keyValidAt(envKey, ctx.nowMs)) {
    throw new HubError("unknown_key", "sketch envelope key is revoked or outside its validity window");
  }
  try {
    await verifyEnvelopeAsync(
      {
        payloadType: envelope.payloadType,
        payload: envelope.payload,
        signatures: [{ keyid: sig.keyid, sig: sig.sig }],
      },
      { keys: new KeyRing([envKey.publicKey]), requiredKeyIds: [envKey.keyId] },
    );
  } catch (cause) {
    throw new HubError("bad_signature", "sketch envelope signature does not verify", { cause });
  }
  const epoch = ctx.epoch;
  if (epoch === undefined)
    throw new HubError("failed_precondition", "no epoch is current: the hub accepts no sketches");
  const member = decodeMemberSketch(envelope.payload, epoch.probeCount);
  if (member.sketch.epochId !== epoch.epochId) {
    throw new HubError(
      "stale",
      `sketch epoch ${member.sketch.epochId} is not the current epoch ${epoch.epochId}`,
    );
  }
  if (member.model.memberId !== h.memberId) {
    throw new HubError(
      "permission_denied",
      `member ${h.memberId} may not publish a sketch of ${member.model.memberId}'s model`,
    );
  }
  if (member.createdAtMs > ctx.nowMs + skew)
    throw new HubError("stale", "sketch created_at is in the future");
  return {
    memberId: h.memberId,
    keyId: key.keyId,
    sequence: h.sequence,
    nonce: h.nonce,
    messageDigest: sha256(raw),
    sketchId: toHex(sha256(envelope.payload)),
    epochId: epoch.epochId,
    model: member.model,
    sketch: member.sketch,
    // The envelope as the member sent it (field 2 of every sketch message), re-encoded only when the message
    // carried it in pieces that protobuf merged.
    envelope: onlyField(raw, 2) ?? toBinary(DsseEnvelopeSchema, create(DsseEnvelopeSchema, envelope)),
  };
}
