/**
 * Digests a member logs BEFORE a session uses what they commit to (DESIGN.md "The match protocol", step 1;
 * proto canary_commitment.proto WatermarkKeyCommitment and ReferenceFingerprintCommitment):
 *
 *   watermark key digest        = SHA-256("lineage/watermark-key/v1" || 0x00 || salt(32) || key)
 *   reference fingerprint hash  = SHA-256("lineage/reference-fingerprint/v1" || 0x00 || salt(32) || canonical bytes)
 *
 * The 32-byte random salt keeps a guessable key or fingerprint from being confirmed by hashing guesses; the
 * member keeps it and opens the digest only to an auditor. The canonical fingerprint bytes are defined by the
 * member node (sorted probe ids, u32be-length-prefixed id and text). Vectors: commitment-digest.test.ts,
 * computed by scripts/vectors/lineage_vectors.py.
 */
import { checkBytes, sha256, utf8 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";

/** Domain separation of watermark key digests. */
export const WATERMARK_KEY_DOMAIN = "lineage/watermark-key/v1";
/** Domain separation of reference fingerprint hashes. */
export const REFERENCE_FINGERPRINT_DOMAIN = "lineage/reference-fingerprint/v1";
/** Salt size of both digests, in bytes. */
export const COMMITMENT_SALT_SIZE = 32;
/** Largest watermark key accepted. */
export const MAX_WATERMARK_KEY_BYTES = 64 * 1024;
/** Largest canonical fingerprint accepted (a battery of thousands of responses). */
export const MAX_FINGERPRINT_BYTES = 256 * 1024 * 1024;

const WATERMARK_PREFIX = utf8(`${WATERMARK_KEY_DOMAIN}\0`);
const FINGERPRINT_PREFIX = utf8(`${REFERENCE_FINGERPRINT_DOMAIN}\0`);

/** The committed digest of a watermark key (non-empty, at most 64 KiB). */
export function watermarkKeyDigest(salt: Uint8Array, key: Uint8Array): Uint8Array {
  checkBytes("salt", salt, COMMITMENT_SALT_SIZE);
  checkBytes("key", key);
  if (key.length === 0) throw new CryptoError("invalid_argument", "key is empty");
  if (key.length > MAX_WATERMARK_KEY_BYTES)
    throw new CryptoError("too_large", `key exceeds ${MAX_WATERMARK_KEY_BYTES} bytes`);
  return sha256(WATERMARK_PREFIX, salt, key);
}

/** The committed hash of a reference fingerprint's canonical bytes (non-empty). */
export function referenceFingerprintDigest(salt: Uint8Array, canonical: Uint8Array): Uint8Array {
  checkBytes("salt", salt, COMMITMENT_SALT_SIZE);
  checkBytes("canonical", canonical);
  if (canonical.length === 0)
    throw new CryptoError("invalid_argument", "canonical fingerprint bytes are empty");
  if (canonical.length > MAX_FINGERPRINT_BYTES)
    throw new CryptoError("too_large", `canonical fingerprint exceeds ${MAX_FINGERPRINT_BYTES} bytes`);
  return sha256(FINGERPRINT_PREFIX, salt, canonical);
}
