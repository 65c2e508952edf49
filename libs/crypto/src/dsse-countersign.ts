/**
 * Admission and countersignature of a DSSE envelope in one pass (DSSE protocol.md, PAE): verify
 * the signer's signature and, only once it verified, sign the same pre-authentication encoding
 * with the countersigner. The PAE is built once (not once per operation) and both Ed25519
 * operations run in libuv's thread pool — the hub's hot path (bench/log.ts).
 */
import { Buffer } from "node:buffer";
import { CryptoError } from "./crypto-error.js";
import {
  checkEnvelopeShape,
  DEFAULT_DSSE_LIMITS,
  type DsseEnvelope,
  type DsseLimits,
} from "./dsse-envelope.js";
import type { Ed25519PublicKey } from "./ed25519-key.js";

/**
 * `pae(payloadType, payload)` (same bytes, tested against it) written into one buffer without
 * intermediate arrays.
 */
export function paeBytes(payloadType: string, payload: Uint8Array): Uint8Array {
  const typeLen = Buffer.byteLength(payloadType, "utf8");
  const head = `DSSEv1 ${typeLen} `;
  const mid = ` ${payload.length} `;
  const out = Buffer.allocUnsafe(head.length + typeLen + mid.length + payload.length);
  let o = out.write(head, 0, "latin1");
  o += out.write(payloadType, o, "utf8");
  o += out.write(mid, o, "latin1");
  out.set(payload, o);
  return out;
}

/** What {@link verifyThenCountersign} needs. */
export interface CountersignOptions {
  /** The key whose signature must be on the envelope and verify (e.g. the member's logged key). */
  readonly key: Ed25519PublicKey;
  /** Key id of the countersigner; the envelope must not carry its signature yet. */
  readonly countersignerKeyId: string;
  /** Signs the PAE (e.g. node:crypto's callback `sign` in the thread pool); returns the signature. */
  readonly countersign: (message: Uint8Array) => Promise<Uint8Array>;
  readonly limits?: DsseLimits;
}

/**
 * Verifies `key`'s signature on `envelope` (attacker-controlled) with the rules of
 * verifyEnvelope(envelope, { keys: [key], requiredKeyIds: [key.keyId] }) — shape and size bounds,
 * `unknown_key` when `key` did not sign, `bad_signature` when its signature fails — then returns
 * the envelope with the countersignature appended. Throws `invalid_argument` if the countersigner
 * already signed it.
 */
export async function verifyThenCountersign(
  envelope: DsseEnvelope,
  options: CountersignOptions,
): Promise<DsseEnvelope> {
  checkEnvelopeShape(envelope, options.limits ?? DEFAULT_DSSE_LIMITS, "envelope");
  const { key, countersignerKeyId } = options;
  if (envelope.signatures.some((s) => s.keyid === countersignerKeyId)) {
    throw new CryptoError("invalid_argument", `envelope is already signed by key ${countersignerKeyId}`);
  }
  const own = envelope.signatures.find((s) => s.keyid === key.keyId);
  if (own === undefined) throw new CryptoError("unknown_key", "envelope has no signature from a trusted key");
  const message = paeBytes(envelope.payloadType, envelope.payload);
  if (!(await key.verifyAsync(message, own.sig))) {
    throw new CryptoError("bad_signature", `no valid signature from required key ${key.keyId}`);
  }
  const sig = await options.countersign(message);
  return {
    payloadType: envelope.payloadType,
    payload: envelope.payload,
    signatures: [...envelope.signatures, { keyid: countersignerKeyId, sig }],
  };
}
