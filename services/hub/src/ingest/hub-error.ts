/**
 * The error of the hub's epoch, ingestion and index modules (issue 10). `code` is a domain code of
 * @lineage/rpc's one table, so a gRPC handler's throw travels as the right status (bad signature ->
 * UNAUTHENTICATED, replay -> ALREADY_EXISTS, stale -> FAILED_PRECONDITION, ...), and `retryable` is the
 * decision a JetStream consumer reads to nak (retry later) or term (poison) a message (dispositionFor).
 */

/** Codes of {@link HubError}; each is a @lineage/rpc domain code. */
export type HubErrorCode =
  | "invalid_argument"
  | "malformed"
  | "too_large"
  | "bad_signature"
  | "unknown_key"
  | "unknown_member"
  | "replay"
  | "stale"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "unauthenticated"
  | "failed_precondition"
  | "unavailable"
  | "internal";

/** A rejected input or a failed operation of the hub's epoch/ingest/index modules. */
export class HubError extends Error {
  override readonly name = "HubError";
  readonly code: HubErrorCode;
  /** Whether the same input can succeed later (only `unavailable`: the database or bus hiccuped). */
  readonly retryable: boolean;

  constructor(code: HubErrorCode, message: string, options: { readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = code === "unavailable";
  }
}

/** True when `err` is a {@link HubError} (optionally with the given code). */
export function isHubError(err: unknown, code?: HubErrorCode): err is HubError {
  return err instanceof HubError && (code === undefined || err.code === code);
}
