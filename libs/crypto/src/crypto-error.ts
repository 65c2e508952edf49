/**
 * The one error type of `@lineage/crypto`. Callers and tests branch on `code`, never on the message,
 * and the message never carries secret material (keys, canary items): only what was wrong and where.
 */

/** Every failure `@lineage/crypto` reports, drawn from Lineage's canonical error codes. */
export type CryptoErrorCode =
  /** A signature did not verify against a key that was expected to have made it. */
  | "bad_signature"
  /** No trusted key matched (unknown key id, no signature by any trusted key). */
  | "unknown_key"
  /** Input does not follow the expected format (JSON shape, base64, note lines, lengths). */
  | "malformed"
  /** Input exceeds a size or count bound. */
  | "too_large"
  /** A caller passed an argument outside its domain (programming error, not attacker input). */
  | "invalid_argument"
  /** A signed message was already seen (same sequence or nonce). */
  | "replay"
  /** A signed message is outside the accepted time window. */
  | "stale"
  /** Two views of a log cannot both be true (consistency check failed). */
  | "inconsistent"
  /** A Merkle inclusion or consistency proof does not check out. */
  | "bad_proof"
  /** A bug or an environment failure inside this library. */
  | "internal";

/** Options for {@link CryptoError}. */
export interface CryptoErrorOptions {
  /** The underlying error, kept for logs (never sent over the wire). */
  readonly cause?: unknown;
  /** Whether retrying the same operation later may succeed; defaults to false for every code but `internal`. */
  readonly retryable?: boolean;
}

/** Error raised by every function of `@lineage/crypto`. */
export class CryptoError extends Error {
  override readonly name = "CryptoError";
  /** What went wrong, as a fixed code (see {@link CryptoErrorCode}). */
  readonly code: CryptoErrorCode;
  /**
   * Whether a retry can help. Verification failures never become valid by retrying, so only
   * `internal` defaults to true (a JetStream consumer naks it; everything else is terminated).
   */
  readonly retryable: boolean;

  constructor(code: CryptoErrorCode, message: string, options: CryptoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? code === "internal";
  }
}

/** True when `err` is a {@link CryptoError}, optionally with the given code. */
export function isCryptoError(err: unknown, code?: CryptoErrorCode): err is CryptoError {
  return err instanceof CryptoError && (code === undefined || err.code === code);
}
