/**
 * What the auditor trusts up front (proto TrustRoot): the hub's C2SP note verifier key (it signs
 * checkpoints, membership and review records, and countersigns attestations) and optionally the
 * log origin. Member keys are never given: they are read from the log's membership entries.
 */
import { Ed25519PublicKey, fromBase64, type NoteVerifier, parseVerifierKey } from "@lineage/crypto";
import { AuditError } from "./audit-error.js";

/** The auditor's trust root. */
export interface TrustRoot {
  /** Checkpoint verifier of the hub. */
  readonly log: NoteVerifier;
  /** The hub's Ed25519 key (the verifier key's key). */
  readonly hubKey: Ed25519PublicKey;
  /** Expected checkpoint origin; when absent, the origin is not checked. */
  readonly origin?: string;
}

/**
 * Builds a trust root from a verifier key string `name+hex8+base64(0x01||key)` (as printed by the
 * hub). Throws `invalid_argument` for a malformed key.
 */
export function trustRootFromVerifierKey(vkey: string, origin?: string): TrustRoot {
  try {
    const log = parseVerifierKey(vkey);
    const b64 = vkey.slice(vkey.indexOf("+", vkey.indexOf("+") + 1) + 1);
    const hubKey = Ed25519PublicKey.fromRaw(fromBase64(b64, "verifier key").subarray(1));
    if (origin !== undefined && (origin.length === 0 || origin.length > 256)) {
      throw new AuditError("invalid_argument", "origin must be 1..256 characters");
    }
    return origin === undefined ? { log, hubKey } : { log, hubKey, origin };
  } catch (cause) {
    if (cause instanceof AuditError) throw cause;
    throw new AuditError("invalid_argument", "the hub verifier key is not a C2SP Ed25519 verifier key", {
      cause,
    });
  }
}
