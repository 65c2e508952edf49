// The bus package's one error type, and the nak-or-term decision a JetStream consumer makes from an
// error (CONVENTIONS.md practice 9: "put the retry decision on the error").

/**
 * Canonical error codes of `@lineage/bus`. Callers and tests branch on these, never on message text.
 * `timeout` and `unavailable` are retryable; the others are not. `permission_denied`: the server refused
 * this connection's user the subject (its publish or subscribe permissions); the message names both.
 */
export type BusErrorCode =
  | "invalid_argument"
  | "too_large"
  | "timeout"
  | "unavailable"
  | "conflict"
  | "not_found"
  | "permission_denied"
  | "internal";

const RETRYABLE: ReadonlySet<BusErrorCode> = new Set<BusErrorCode>(["timeout", "unavailable"]);

/** All codes, for exhaustive checks and for validating a code that arrived over the wire. */
export const BUS_ERROR_CODES: readonly BusErrorCode[] = [
  "invalid_argument",
  "too_large",
  "timeout",
  "unavailable",
  "conflict",
  "not_found",
  "permission_denied",
  "internal",
];

/** True when `code` is one of {@link BusErrorCode}. */
export function isBusErrorCode(code: unknown): code is BusErrorCode {
  return typeof code === "string" && (BUS_ERROR_CODES as readonly string[]).includes(code);
}

/** True for the codes where trying the same operation again later can succeed. */
export function isRetryableCode(code: BusErrorCode): boolean {
  return RETRYABLE.has(code);
}

/**
 * Error raised by every `Bus` operation. `code` is the stable classifier, `retryable` follows from it
 * (`timeout` and `unavailable`), and `cause` keeps the underlying client or server error for logs.
 */
export class BusError extends Error {
  override readonly name = "BusError";
  readonly code: BusErrorCode;
  readonly retryable: boolean;

  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = isRetryableCode(code);
  }
}

/** True when `err` is a {@link BusError} (optionally with the given code). */
export function isBusError(err: unknown, code?: BusErrorCode): err is BusError {
  return err instanceof BusError && (code === undefined || err.code === code);
}

/** Node system error codes that mean "the network or a peer hiccuped": worth retrying. */
const TRANSIENT_SYSTEM_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
]);

const MAX_CAUSE_DEPTH = 8;

/**
 * Decides what a JetStream consumer does with a message whose handler threw `err`:
 * `"nak"` (redeliver later) when the failure is transient, `"term"` (poison, never redeliver) otherwise.
 *
 * The decision reads, in order along the `cause` chain (at most 8 deep): a boolean `retryable`
 * property (set by `BusError` and by the other Lineage packages' error classes), then a Node system
 * error code such as `ECONNRESET`. Anything unclassified is treated as poison: an error nobody marked
 * retryable (a bug, a malformed or forged message) will fail the same way on every redelivery.
 */
export function dispositionFor(err: unknown): "nak" | "term" {
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== null && typeof current === "object"; depth++) {
    const rec = current as { retryable?: unknown; code?: unknown; cause?: unknown };
    if (typeof rec.retryable === "boolean") return rec.retryable ? "nak" : "term";
    if (typeof rec.code === "string" && TRANSIENT_SYSTEM_CODES.has(rec.code)) return "nak";
    current = rec.cause;
  }
  return "term";
}
