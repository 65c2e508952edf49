/**
 * Signed messages across trust boundaries (member <-> hub over gRPC and NATS). The signature covers a
 * domain-separated, length-prefixed encoding of the header and the payload:
 *
 *   "lineage/signed-message/v1" || 0x00 || lp(domain) || lp(memberId) || u64be(sequence) ||
 *   lp(nonce) || u64be(issuedAtMs) || lp(payload)          (lp(x) = u32be(len(x)) || x)
 *
 * `domain` names the message kind (e.g. "lineage.v1.SubmitAttestation"), so a signature made for one
 * kind of message can never be replayed as another. Replay and freshness are checked by ReplayGuard.
 */
import { randomBytes } from "node:crypto";
import { checkBytes, checkInteger, checkString, concatBytes, lengthPrefixed, u64be, utf8 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import type { Ed25519PrivateKey, KeyRing } from "./ed25519-key.js";

/** The authenticated header of a message. */
export interface MessageHeader {
  /** Sender's member id (or "hub"). */
  readonly memberId: string;
  /** Strictly increasing per sender (u64). */
  readonly sequence: bigint;
  /** Random, at least {@link MIN_NONCE_BYTES} bytes. */
  readonly nonce: Uint8Array;
  /** Sender's clock, milliseconds since the Unix epoch. */
  readonly issuedAtMs: number;
}

/** A message with its signature. */
export interface SignedMessage {
  readonly header: MessageHeader;
  readonly payload: Uint8Array;
  /** Key id of the signing key. */
  readonly keyId: string;
  readonly signature: Uint8Array;
}

export const MIN_NONCE_BYTES = 16;
export const MAX_NONCE_BYTES = 64;
export const MAX_MEMBER_ID_BYTES = 128;
/** Default payload bound for signed messages (4 MiB). */
export const MAX_MESSAGE_PAYLOAD_BYTES = 4 << 20;

const PREFIX = utf8("lineage/signed-message/v1\0");

function checkHeader(h: MessageHeader, code: "invalid_argument" | "malformed"): void {
  if (typeof h !== "object" || h === null) throw new CryptoError(code, "header must be an object");
  const memberId = typeof h.memberId === "string" ? utf8(h.memberId) : undefined;
  if (memberId === undefined || memberId.length === 0 || memberId.length > MAX_MEMBER_ID_BYTES) {
    throw new CryptoError(code, `header.memberId must be 1..${MAX_MEMBER_ID_BYTES} bytes`);
  }
  if (typeof h.sequence !== "bigint" || h.sequence < 0n || h.sequence > 0xffffffffffffffffn) {
    throw new CryptoError(code, "header.sequence must be a u64 bigint");
  }
  if (
    !(h.nonce instanceof Uint8Array) ||
    h.nonce.length < MIN_NONCE_BYTES ||
    h.nonce.length > MAX_NONCE_BYTES
  ) {
    throw new CryptoError(code, `header.nonce must be ${MIN_NONCE_BYTES}..${MAX_NONCE_BYTES} bytes`);
  }
  if (typeof h.issuedAtMs !== "number" || !Number.isSafeInteger(h.issuedAtMs) || h.issuedAtMs < 0) {
    throw new CryptoError(code, "header.issuedAtMs must be a non-negative integer");
  }
}

/** The exact bytes that are signed (see the module header). */
export function signedMessageBytes(domain: string, header: MessageHeader, payload: Uint8Array): Uint8Array {
  checkString("domain", domain);
  if (domain.length === 0 || domain.length > 256)
    throw new CryptoError("invalid_argument", "domain must be 1..256 characters");
  checkHeader(header, "invalid_argument");
  checkBytes("payload", payload);
  return concatBytes(
    PREFIX,
    lengthPrefixed(utf8(domain)),
    lengthPrefixed(utf8(header.memberId)),
    u64be(header.sequence),
    lengthPrefixed(header.nonce),
    u64be(header.issuedAtMs),
    lengthPrefixed(payload),
  );
}

/** A fresh 16-byte random nonce. */
export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(MIN_NONCE_BYTES));
}

/** Signs a message for `domain` with the sender's key. */
export function signMessage(
  domain: string,
  header: MessageHeader,
  payload: Uint8Array,
  key: Ed25519PrivateKey,
): SignedMessage {
  const signature = key.sign(signedMessageBytes(domain, header, payload));
  return { header: { ...header, nonce: header.nonce.slice() }, payload, keyId: key.keyId, signature };
}

/**
 * Resolves the keys a sender may sign with, from the *claimed* member id: a key that belongs to
 * another member must not verify a message claiming to be from this one. Return undefined for an
 * unknown member.
 */
export type MemberKeyResolver = (memberId: string) => KeyRing | undefined;

/**
 * Verifies a received message's signature (attacker-controlled input) against the keys registered
 * for the member the header names. Returns the verified header; freshness and replay are the
 * {@link ReplayGuard}'s job. Errors: `malformed`, `too_large`, `unknown_key` (unknown member, or key
 * id not among that member's keys), `bad_signature`.
 */
export function verifyMessage(
  domain: string,
  message: SignedMessage,
  keysFor: MemberKeyResolver,
  maxPayloadBytes = MAX_MESSAGE_PAYLOAD_BYTES,
): MessageHeader {
  checkInteger("maxPayloadBytes", maxPayloadBytes);
  checkHeader(message.header, "malformed");
  if (!(message.payload instanceof Uint8Array)) throw new CryptoError("malformed", "payload must be bytes");
  if (message.payload.length > maxPayloadBytes) {
    throw new CryptoError(
      "too_large",
      `payload is ${message.payload.length} bytes, limit ${maxPayloadBytes}`,
    );
  }
  if (!(message.signature instanceof Uint8Array))
    throw new CryptoError("malformed", "signature must be bytes");
  if (typeof keysFor !== "function") throw new CryptoError("invalid_argument", "keysFor must be a function");
  const keys = keysFor(message.header.memberId);
  if (keys === undefined) throw new CryptoError("unknown_key", "message names an unknown member");
  const key = typeof message.keyId === "string" ? keys.get(message.keyId) : undefined;
  if (key === undefined)
    throw new CryptoError("unknown_key", "message is not signed by a key of the member it names");
  if (!key.verify(signedMessageBytes(domain, message.header, message.payload), message.signature)) {
    throw new CryptoError("bad_signature", "message signature does not verify");
  }
  return message.header;
}
