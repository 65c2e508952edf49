/**
 * Checks the SignedHeader of a message that crossed a trust boundary (proto/lineage/v1/signed_header.proto):
 * the Ed25519 signature over signedMessageBytes(domain, header fields, payload) where `domain` is the fully
 * qualified name of the enclosing message and `payload` its protobuf encoding with the header unset.
 * Everything here is attacker-controlled until the signature verified; freshness and replay are checked
 * after that by the caller (replay state is per channel: ingestion keeps it in Postgres).
 */
import { create } from "@bufbuild/protobuf";
import { type SignedHeader, SignedHeaderSchema } from "@lineage/api";
import {
  type Ed25519PrivateKey,
  type Ed25519PublicKey,
  MAX_NONCE_BYTES,
  type MessageHeader,
  MIN_NONCE_BYTES,
  newNonce,
  signedMessageBytes,
  signMessage,
} from "@lineage/crypto";
import { keyValidAt, type LoggedKey } from "../log/member-registry.js";
import { HubError } from "./hub-error.js";
import type { MemberDirectory } from "./member-directory.js";

/** A member id as the proto defines it. */
export const MEMBER_ID_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const KEY_ID_RE = /^[0-9a-f]{64}$/;
/** Largest u64 the stores keep (Postgres bigint). */
const MAX_SEQUENCE = (1n << 63n) - 1n;

/** A header whose signature verified. */
export interface VerifiedHeader {
  readonly header: MessageHeader;
  readonly keyId: string;
}

/**
 * Shape checks of an untrusted header (before any key lookup): present, key id, nonce and signature sizes,
 * sequence and time in range. Shared by ingestion (verifyMemberHeader) and the gRPC request authenticator.
 */
export function checkHeaderShape(header: SignedHeader | undefined, what: string): MessageHeader {
  if (header === undefined) throw new HubError("unauthenticated", `${what}: header is missing (unsigned)`);
  if (!KEY_ID_RE.test(header.keyId))
    throw new HubError("malformed", `${what}: header.key_id must be 64 hex chars`);
  if (header.nonce.length < MIN_NONCE_BYTES || header.nonce.length > MAX_NONCE_BYTES) {
    throw new HubError(
      "malformed",
      `${what}: header.nonce must be ${MIN_NONCE_BYTES}..${MAX_NONCE_BYTES} bytes`,
    );
  }
  if (header.signature.length !== 64)
    throw new HubError("malformed", `${what}: header.signature must be 64 bytes`);
  if (header.sequence > MAX_SEQUENCE)
    throw new HubError("malformed", `${what}: header.sequence exceeds 2^63-1`);
  if (header.issuedAtMs > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new HubError("malformed", `${what}: header.issued_at_ms is out of range`);
  }
  return {
    memberId: header.memberId,
    sequence: header.sequence,
    nonce: header.nonce,
    issuedAtMs: Number(header.issuedAtMs),
  };
}

async function verifyUnder(
  domain: string,
  h: MessageHeader,
  header: SignedHeader,
  payload: Uint8Array,
  key: Ed25519PublicKey,
  maxPayloadBytes: number,
  what: string,
): Promise<void> {
  if (payload.length > maxPayloadBytes) {
    throw new HubError("too_large", `${what}: payload is ${payload.length} bytes, limit ${maxPayloadBytes}`);
  }
  let message: Uint8Array;
  try {
    message = signedMessageBytes(domain, h, payload);
  } catch (err) {
    throw new HubError("malformed", `${what}: header is malformed`, { cause: err });
  }
  // In libuv's thread pool: ingestion verifies two signatures per message, and this keeps both cores busy.
  if (!(await key.verifyAsync(message, header.signature))) {
    throw new HubError("bad_signature", `${what}: header signature does not verify`);
  }
}

/**
 * Verifies a member-signed header: the key is a logged key OF THE MEMBER THE HEADER NAMES (a key of
 * another member is `unknown_key`), valid at the stated time and now, and the signature verifies.
 * Returns the verified header and the logged key. Does not check membership state or replay.
 */
export async function verifyMemberHeader(
  domain: string,
  header: SignedHeader | undefined,
  payload: Uint8Array,
  members: MemberDirectory,
  nowMs: number,
  maxPayloadBytes: number,
  what = domain,
): Promise<{ readonly header: MessageHeader; readonly key: LoggedKey }> {
  const h = checkHeaderShape(header, what);
  const signed = header as SignedHeader;
  if (!MEMBER_ID_RE.test(h.memberId))
    throw new HubError("malformed", `${what}: header.member_id is not a member id`);
  const key = members.memberKey(signed.keyId);
  if (key === undefined)
    throw new HubError("unknown_key", `${what}: header key ${signed.keyId} is not a logged member key`);
  if (key.memberId !== h.memberId) {
    throw new HubError("unknown_key", `${what}: header key is not a key of member ${h.memberId}`);
  }
  await verifyUnder(domain, h, signed, payload, key.publicKey, maxPayloadBytes, what);
  if (key.revokedAtIndex !== undefined || !keyValidAt(key, nowMs) || !keyValidAt(key, h.issuedAtMs)) {
    throw new HubError("unknown_key", `${what}: header key is revoked or outside its validity window`);
  }
  return { header: h, key };
}

/**
 * A header signed by `key` for `payload` (the enclosing message's encoding with the header unset), as
 * the hub signs its responses and announcements. `sequence` must increase per sender.
 */
export function signHeader(
  domain: string,
  payload: Uint8Array,
  key: Ed25519PrivateKey,
  memberId: string,
  sequence: bigint,
  nowMs: number,
): SignedHeader {
  const h: MessageHeader = { memberId, sequence, nonce: newNonce(), issuedAtMs: nowMs };
  const signed = signMessage(domain, h, payload, key);
  return create(SignedHeaderSchema, {
    memberId,
    keyId: key.keyId,
    sequence,
    nonce: h.nonce,
    issuedAtMs: BigInt(nowMs),
    signature: signed.signature,
  });
}
