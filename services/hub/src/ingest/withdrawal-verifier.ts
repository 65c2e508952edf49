/**
 * Checks a member's SketchWithdrawal (proto/lineage/v1/sketch.proto; NATS subject
 * lineage.sketch.<member>.<model token>.withdrawn) before anything is changed: size, decoding, the header
 * signature under a logged key of the member it names, the subject's member token, freshness, and that
 * the withdrawn model is the signer's own. A suspended member may still withdraw (it only shrinks what the
 * hub holds about it).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type SketchWithdrawal, SketchWithdrawalSchema } from "@lineage/api";
import { sha256, toHex } from "@lineage/crypto";
import { checkEpochId } from "../epochs/epoch-battery.js";
import { HubError } from "./hub-error.js";
import type { MemberDirectory } from "./member-directory.js";
import { verifyMemberHeader } from "./signed-header.js";
import { checkModelRef, type ModelRef } from "./sketch-proto.js";
import { DEFAULT_MAX_QUEUED_AGE_MS, DEFAULT_MAX_SKEW_MS } from "./sketch-verifier.js";

/** Largest withdrawal message (it carries no sketch data). */
export const MAX_WITHDRAWAL_BYTES = 8 * 1024;

/** A withdrawal whose signature and fields checked out. */
export interface VerifiedWithdrawal {
  readonly memberId: string;
  readonly sequence: bigint;
  readonly nonce: Uint8Array;
  readonly messageDigest: Uint8Array;
  /** Hex SHA-256 of the withdrawn Sketch payload (the hub's sketch id). */
  readonly sketchId: string;
  readonly model: ModelRef;
  readonly epochId: string;
  readonly reason: string;
}

/** Verifies a SketchWithdrawal delivered on `subject` (untrusted bytes). */
export async function verifyWithdrawal(
  data: Uint8Array,
  subject: string,
  members: MemberDirectory,
  nowMs: number,
): Promise<VerifiedWithdrawal> {
  if (data.length > MAX_WITHDRAWAL_BYTES)
    throw new HubError("too_large", `withdrawal exceeds ${MAX_WITHDRAWAL_BYTES} bytes`);
  let w: SketchWithdrawal;
  try {
    w = fromBinary(SketchWithdrawalSchema, data);
  } catch (cause) {
    throw new HubError("malformed", "message is not an encoded SketchWithdrawal", { cause });
  }
  const body = toBinary(SketchWithdrawalSchema, create(SketchWithdrawalSchema, { ...w, header: undefined }));
  if (
    w.header !== undefined &&
    /^[0-9a-f]{64}$/.test(w.header.keyId) &&
    members.memberKey(w.header.keyId) === undefined
  ) {
    await members.refresh();
  }
  const { header: h } = await verifyMemberHeader(
    SketchWithdrawalSchema.typeName,
    w.header,
    body,
    members,
    nowMs,
    MAX_WITHDRAWAL_BYTES,
    "withdrawal",
  );
  if (subject.split(".")[2] !== h.memberId) {
    throw new HubError(
      "permission_denied",
      `withdrawal from member ${h.memberId} arrived on another member's subject`,
    );
  }
  if (h.issuedAtMs > nowMs + DEFAULT_MAX_SKEW_MS || h.issuedAtMs < nowMs - DEFAULT_MAX_QUEUED_AGE_MS) {
    throw new HubError("stale", "withdrawal issued_at is outside the hub's window");
  }
  if (w.model === undefined) throw new HubError("malformed", "withdrawal: model is missing");
  const model = checkModelRef(w.model, "withdrawal.model");
  if (model.memberId !== h.memberId)
    throw new HubError("permission_denied", `member ${h.memberId} may not withdraw another member's model`);
  try {
    checkEpochId(w.epochId, "withdrawal.epoch_id");
  } catch (cause) {
    throw new HubError("malformed", "withdrawal: epoch_id is not an epoch id", { cause });
  }
  if (w.sketchSha256.length !== 32)
    throw new HubError("malformed", "withdrawal: sketch_sha256 must be 32 bytes");
  if (w.reason.length > 1024) throw new HubError("malformed", "withdrawal: reason exceeds 1024 characters");
  return {
    memberId: h.memberId,
    sequence: h.sequence,
    nonce: h.nonce,
    messageDigest: sha256(data),
    sketchId: toHex(w.sketchSha256),
    model,
    epochId: w.epochId,
    reason: w.reason === "" ? "withdrawn by the member" : w.reason,
  };
}
