/**
 * The per-epoch sketch key at rest (issue 10): the hub database holds it wrapped — AES-256-GCM under a
 * key-encryption key derived from the hub's root signing key (HKDF-SHA256, info "lineage/epoch-key-wrap/v1"),
 * the epoch id as associated data — so a copy of the database (a backup, a replica's dump, a read-only SQL
 * role) does not hand out the keyed sketch recipe of the epoch; the key file in the hub's key folder does.
 * Layout: 0x01 || kid (8 bytes: SHA-256 of the KEK, truncated: which hub key wrapped it) || nonce (12) ||
 * ciphertext (32) || tag (16) = 69 bytes. Rows written before migration 0011 hold the 32-byte key itself;
 * the store wraps them in place the first time it opens with the hub key.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import type { Ed25519PrivateKey } from "@lineage/crypto";
import { HubError } from "../ingest/hub-error.js";

/** Length of a wrapped epoch key. */
export const WRAPPED_EPOCH_KEY_BYTES = 69;
/** Length of an epoch key. */
export const EPOCH_KEY_BYTES = 32;
const VERSION = 0x01;

/** The key-encryption key of a hub root key, with its id. */
export interface EpochKek {
  readonly key: Uint8Array;
  readonly kid: Uint8Array;
}

/** Derives the KEK from the hub's root signing key. */
export function epochKek(hubKey: Ed25519PrivateKey): EpochKek {
  const key = new Uint8Array(
    hkdfSync("sha256", hubKey.seed(), new Uint8Array(0), "lineage/epoch-key-wrap/v1", 32),
  );
  return { key, kid: new Uint8Array(createHash("sha256").update(key).digest().subarray(0, 8)) };
}

/** Wraps a 32-byte epoch key for `epochId`. */
export function wrapEpochKey(kek: EpochKek, epochId: string, epochKey: Uint8Array): Uint8Array {
  if (epochKey.length !== EPOCH_KEY_BYTES) throw new HubError("invalid_argument", "an epoch key is 32 bytes");
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", kek.key, nonce);
  c.setAAD(Buffer.from(epochId, "utf8"));
  const ct = Buffer.concat([c.update(epochKey), c.final()]);
  const out = new Uint8Array(WRAPPED_EPOCH_KEY_BYTES);
  out[0] = VERSION;
  out.set(kek.kid, 1);
  out.set(nonce, 9);
  out.set(ct, 21);
  out.set(c.getAuthTag(), 53);
  return out;
}

/** Unwraps a stored epoch key (a legacy 32-byte plaintext key is returned as is). */
export function unwrapEpochKey(kek: EpochKek | undefined, epochId: string, stored: Uint8Array): Uint8Array {
  if (stored.length === EPOCH_KEY_BYTES) return stored;
  if (stored.length !== WRAPPED_EPOCH_KEY_BYTES || stored[0] !== VERSION)
    throw new HubError("internal", `the stored key of epoch ${epochId} is neither wrapped nor a key`);
  if (kek === undefined) {
    throw new HubError(
      "failed_precondition",
      `the key of epoch ${epochId} is wrapped under the hub key: open the epoch store with it`,
    );
  }
  if (!Buffer.from(stored.subarray(1, 9)).equals(Buffer.from(kek.kid))) {
    throw new HubError(
      "failed_precondition",
      `the key of epoch ${epochId} was wrapped under another hub root key than this one`,
    );
  }
  try {
    const d = createDecipheriv("aes-256-gcm", kek.key, stored.subarray(9, 21));
    d.setAAD(Buffer.from(epochId, "utf8"));
    d.setAuthTag(stored.subarray(53, 69));
    return new Uint8Array(Buffer.concat([d.update(stored.subarray(21, 53)), d.final()]));
  } catch (cause) {
    throw new HubError("internal", `the wrapped key of epoch ${epochId} does not open (altered?)`, { cause });
  }
}
