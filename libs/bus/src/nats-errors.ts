// Mapping nats.js v3 client errors and JetStream API errors (err_code values from nats-server's
// server/errors.json) onto the bus's canonical codes, keeping the original as `cause`.

import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { errors as natsErrors, RequestError } from "@nats-io/nats-core";
import { BusError, type BusErrorCode } from "./bus-error.js";

/** JetStream API err_code values we classify explicitly. */
export const JS_ERR = {
  consumerNotFound: 10014,
  streamNotFound: 10059,
  streamNameInUse: 10058,
  streamSubjectOverlap: 10065,
  streamExpectedStreamMismatch: 10060,
  streamWrongLastSequence: 10071,
  consumerNameInUse: 10013,
  consumerAlreadyExists: 10148,
  messageTooLarge: 10054,
  replicasNotSupported: 10074,
} as const;

const CONFLICT_CODES = new Set<number>([
  JS_ERR.streamNameInUse,
  JS_ERR.streamSubjectOverlap,
  JS_ERR.streamExpectedStreamMismatch,
  JS_ERR.streamWrongLastSequence,
  JS_ERR.consumerNameInUse,
  JS_ERR.consumerAlreadyExists,
]);

function apiCode(err: JetStreamApiError): BusErrorCode {
  const c = err.code;
  if (c === JS_ERR.streamNotFound || c === JS_ERR.consumerNotFound) return "not_found";
  if (CONFLICT_CODES.has(c)) return "conflict";
  if (c === JS_ERR.messageTooLarge) return "too_large";
  switch (err.status) {
    case 400:
      return "invalid_argument";
    case 404:
      return "not_found";
    case 408:
      return "timeout";
    case 409:
      return "conflict";
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

/** The JetStream API err_code of `err`, if it is a JetStream API error. */
export function jsApiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

/**
 * The server's permissions violation as a clear `permission_denied`: which permission (publish or subscribe),
 * on which subject, and — for the connection's reply inbox — that it is the inbox (NatsBusOptions.inboxPrefix).
 */
export function permissionError(
  err: InstanceType<typeof natsErrors.PermissionViolationError>,
  context: string,
): BusError {
  const subject = err.subject.slice(0, 256);
  const what =
    err.operation === "subscription"
      ? /^_INBOX\b/.test(subject)
        ? `subscribe to its reply inbox "${subject}" (allow it in the user's subscribe permissions, or set the connection's inbox prefix to a subject it may subscribe to)`
        : `subscribe to "${subject}"${err.queue === undefined ? "" : ` in queue group "${err.queue.slice(0, 64)}"`}`
      : `publish to "${subject}"`;
  return new BusError(
    "permission_denied",
    `${context}: the NATS server refused this connection's user permission to ${what}`,
    { cause: err },
  );
}

/** The permissions violation in `err`'s cause chain, if any. */
function permissionViolationIn(
  err: unknown,
): InstanceType<typeof natsErrors.PermissionViolationError> | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== null && typeof e === "object"; depth++) {
    if (e instanceof natsErrors.PermissionViolationError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Classifies a nats.js error. `context` says what was being done (no payload contents). */
export function toBusError(err: unknown, context: string): BusError {
  if (err instanceof BusError) return err;
  const denied = permissionViolationIn(err);
  if (denied !== undefined) return permissionError(denied, context);
  const code = classify(err, 0);
  const detail = err instanceof Error ? err.message : String(err);
  return new BusError(code, `${context}: ${detail}`, { cause: err });
}

function classify(err: unknown, depth: number): BusErrorCode {
  if (err instanceof BusError) return err.code;
  if (err instanceof JetStreamApiError) return apiCode(err);
  if (err instanceof natsErrors.TimeoutError) return "timeout";
  if (err instanceof natsErrors.NoRespondersError) return "unavailable";
  if (err instanceof RequestError) {
    if (err.isNoResponders()) return "unavailable";
    return depth < 4 && err.cause !== undefined ? classify(err.cause, depth + 1) : "unavailable";
  }
  if (
    err instanceof natsErrors.ClosedConnectionError ||
    err instanceof natsErrors.DrainingConnectionError ||
    err instanceof natsErrors.ConnectionError
  ) {
    return "unavailable";
  }
  if (err instanceof natsErrors.InvalidSubjectError || err instanceof natsErrors.InvalidArgumentError) {
    return "invalid_argument";
  }
  if (err instanceof natsErrors.PermissionViolationError) return "permission_denied";
  if (err instanceof natsErrors.AuthorizationError) return "internal";
  const sys = (err as { code?: unknown } | null)?.code;
  if (
    typeof sys === "string" &&
    /^E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|AI_AGAIN|HOSTUNREACH|NETUNREACH)$/.test(sys)
  ) {
    return "unavailable";
  }
  if (err instanceof JetStreamError) return "internal";
  if (depth < 4 && err instanceof Error && err.cause !== undefined) return classify(err.cause, depth + 1);
  return "internal";
}
