/**
 * The one error class of @lineage/fingerprint. Callers and tests branch on `code`, never on message text.
 * Messages name what is wrong (a field, a line number, a status) but never echo canary text, raw model
 * output or keys, so an error can be logged or forwarded safely.
 */

/** Every failure the package reports. */
export type FingerprintErrorCode =
  /** An argument is out of range or inconsistent (a programming error of the caller). */
  | "INVALID_ARGUMENT"
  /** A replay line is not valid JSON. */
  | "REPLAY_MALFORMED_JSON"
  /** A replay line lacks a field or has one of the wrong type/size. */
  | "REPLAY_INVALID_FIELD"
  /** Two replay lines share an id (or a prompt text, when answering by prompt). */
  | "REPLAY_DUPLICATE_ID"
  /** A replay line or file exceeds the size/count bounds. */
  | "REPLAY_OVERSIZE"
  /** The replay holds no answer for the prompt asked. */
  | "REPLAY_NOT_FOUND"
  /** The endpoint answered with a non-success HTTP status. */
  | "HTTP_STATUS"
  /** The endpoint did not answer within the timeout. */
  | "HTTP_TIMEOUT"
  /** The connection failed (refused, reset, DNS). */
  | "HTTP_NETWORK"
  /** The endpoint answered, but the body is not valid JSON or not the expected shape. */
  | "HTTP_BAD_RESPONSE"
  /** The endpoint body exceeds the size bound. */
  | "HTTP_OVERSIZE"
  /** The caller's AbortSignal fired. */
  | "ABORTED"
  /** A battery, canary set or fingerprint document is malformed. */
  | "INVALID_DOCUMENT"
  /** Inputs do not line up (e.g. a panel model lacks the battery's probes). */
  | "INSUFFICIENT_DATA";

/** Error raised by every part of the fingerprint engine; `retryable` says whether trying again may help. */
export class FingerprintError extends Error {
  override readonly name = "FingerprintError";
  readonly code: FingerprintErrorCode;
  readonly retryable: boolean;
  /** The HTTP status an endpoint answered, for HTTP_STATUS errors. */
  readonly status?: number;

  constructor(
    code: FingerprintErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; status?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.status !== undefined) this.status = options.status;
  }
}
