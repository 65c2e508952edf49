/**
 * What the auditor trusts up front (proto TrustRoot): the hub's C2SP note verifier key (its ROOT key: it
 * signs checkpoints and delegates the hub's other purposes — membership and review records, sessions,
 * countersignatures — to keys of their own by logged statements, docs/specs/hub-keys.md), optionally the log
 * origin, and the witnesses' cosignature/v1 verifier keys (docs/specs/witness.md) whose cosignatures
 * `audit verify` requires. Member keys are never given: they are read from the log's membership entries.
 */
import {
  Ed25519PublicKey,
  formatKeyId,
  fromBase64,
  type NoteVerifier,
  parseCosignatureVerifierKey,
  parseVerifierKey,
  toHex,
} from "@lineage/crypto";
import { AuditError } from "./audit-error.js";

/** The auditor's trust root. */
export interface TrustRoot {
  /** Checkpoint verifier of the hub. */
  readonly log: NoteVerifier;
  /** The hub's Ed25519 key (the verifier key's key). */
  readonly hubKey: Ed25519PublicKey;
  /** Expected checkpoint origin; when absent, the origin is not checked. */
  readonly origin?: string;
  /** Witnesses whose cosignatures count (cosignature/v1 verifiers); none when absent. */
  readonly witnesses?: readonly NoteVerifier[];
  /**
   * Root rotations the log established (hub-key-history.ts), in log order: each new root signs the
   * checkpoints of trees that hold its rotation statement. Read from the log or a bundle, never given.
   */
  readonly rotations?: readonly RootRotation[];
}

/** A rotation of the hub's root key, logged at `index` and signed by the root before it. */
export interface RootRotation {
  readonly index: number;
  readonly key: Ed25519PublicKey;
}

/** Most witness keys a trust root holds. */
export const MAX_TRUSTED_WITNESSES = 16;

/**
 * Adds witness verifier keys (`name+hex8+base64(0x04||key)`, as `lineage witness pubkey` prints) to a
 * trust root. Throws `invalid_argument` naming the bad key, a duplicate, or a clash with the log key.
 */
export function withWitnesses(trust: TrustRoot, witnessKeys: readonly string[]): TrustRoot {
  if (witnessKeys.length > MAX_TRUSTED_WITNESSES)
    throw new AuditError("invalid_argument", `at most ${MAX_TRUSTED_WITNESSES} witness keys`);
  const ids = new Set([`${trust.log.name}+${formatKeyId(trust.log.keyId)}`]);
  // The quorum counts distinct witnesses: one Ed25519 key under two names would count one party twice, and
  // the hub's own key as a witness would let the hub cosign its own checkpoints.
  const hubRaw = toHex(trust.hubKey.raw);
  const rawKeys = new Map<string, number>();
  const witnesses = witnessKeys.map((k, i) => {
    let v: NoteVerifier;
    try {
      const parsed = parseCosignatureVerifierKey(k);
      v = parsed.verifier;
      const raw = toHex(parsed.publicKey.raw);
      if (raw === hubRaw)
        throw new AuditError(
          "invalid_argument",
          `witness key ${i + 1} (${parsed.name}) is the hub's own key`,
        );
      const earlier = rawKeys.get(raw);
      if (earlier !== undefined)
        throw new AuditError(
          "invalid_argument",
          `witness key ${i + 1} (${parsed.name}) has the public key of witness key ${earlier}: one party would count twice toward the quorum`,
        );
      rawKeys.set(raw, i + 1);
    } catch (cause) {
      if (cause instanceof AuditError) throw cause;
      throw new AuditError(
        "invalid_argument",
        `witness key ${i + 1} ('${String(k).slice(0, 60)}') is not a cosignature/v1 verifier key: ${(cause as Error).message}`,
        { cause },
      );
    }
    const id = `${v.name}+${formatKeyId(v.keyId)}`;
    if (ids.has(id))
      throw new AuditError("invalid_argument", `witness key ${id} is given twice or is the log's key`);
    ids.add(id);
    return v;
  });
  return { ...trust, witnesses: [...(trust.witnesses ?? []), ...witnesses] };
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
