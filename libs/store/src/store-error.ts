/**
 * The one error type of `@lineage/store`, and the single place where driver errors (pg, PGlite,
 * Node sockets) are mapped to it. SQLSTATE classes follow PostgreSQL's "Appendix A. PostgreSQL
 * Error Codes". Callers and tests branch on `code`, never on the message.
 *
 * Privacy: the message names only the SQLSTATE and the constraint, never a row value. PostgreSQL
 * puts values in `detail` ("Key (x)=(...) already exists"); that stays inside `cause`, which is
 * for local logs only and must never be sent over the wire.
 */

/** Every failure `@lineage/store` reports, drawn from Lineage's canonical error codes. */
export type StoreErrorCode =
  /** A unique key already holds that value (23505), or a serialization failure/deadlock (40001, 40P01). */
  | "conflict"
  /** The database cannot be reached, refused the connection, or the store is closed. */
  | "unavailable"
  /** A statement or lock wait ran past its time limit (57014, 55P03). */
  | "timeout"
  /** Options or data the database rejected: bad option, not-null/check/foreign-key violation, bad value. */
  | "invalid_argument"
  /**
   * The database role may not do this (42501 insufficient_privilege, which also covers "must be owner"): e.g. the
   * hub's service role altering, updating, deleting, truncating or dropping the append-only log tables
   * (deploy/postgres/hub-roles.sql).
   */
  | "permission_denied"
  /**
   * Another process (or another store in this process) holds the embedded data folder; the message names the
   * folder and the holder's pid (data-dir-lock.ts).
   */
  | "locked"
  /** Anything else: a bug (SQL syntax, missing table) or an unexpected driver failure. */
  | "internal";

/** Options for {@link StoreError}. */
export interface StoreErrorOptions {
  /** The underlying error, kept for local logs (never sent over the wire). */
  readonly cause?: unknown;
  /** Whether retrying the same operation later may succeed; see {@link StoreError.retryable}. */
  readonly retryable?: boolean;
  /** The PostgreSQL SQLSTATE, when the database reported one. */
  readonly sqlState?: string;
  /** The constraint the database named (unique, check, foreign key), when it named one. */
  readonly constraint?: string;
}

/** Error raised by every function of `@lineage/store`. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  /** What went wrong, as a fixed code (see {@link StoreErrorCode}). */
  readonly code: StoreErrorCode;
  /**
   * Whether a retry can help: true for connection failures, timeouts and serialization
   * conflicts; false for unique violations, bad input and bugs. A JetStream consumer naks a
   * retryable failure and terminates the rest.
   */
  readonly retryable: boolean;
  /** The PostgreSQL SQLSTATE, when there was one (e.g. "23505"). */
  readonly sqlState: string | undefined;
  /** The constraint named by the database, e.g. "members_pkey", so callers can tell keys apart. */
  readonly constraint: string | undefined;

  constructor(code: StoreErrorCode, message: string, options: StoreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? (code === "unavailable" || code === "timeout");
    this.sqlState = options.sqlState;
    this.constraint = options.constraint;
  }
}

/** True when `err` is a {@link StoreError}, optionally with the given code. */
export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

/** Node socket/DNS error codes that mean "the server could not be reached" (retry may help). */
const NETWORK_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "EPIPE",
]);

/**
 * pg reports a dropped or timed-out connection as a plain Error without any code; these are its
 * messages (pg/lib/client.js, pg-pool/index.js). Matching them is the only way to classify them.
 */
const PG_CONNECTION_LOST =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/** Where a driver error happened: failing to get a connection at all means the server is unavailable. */
export type ErrorPhase = "connect" | "query";

/**
 * Maps any error thrown by pg, PGlite or the socket layer to a {@link StoreError}. A StoreError
 * passes through unchanged; anything the function cannot classify becomes `internal`.
 */
export function toStoreError(err: unknown, phase: ErrorPhase = "query"): StoreError {
  if (err instanceof StoreError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    code?: unknown;
    constraint?: unknown;
    message?: unknown;
    errors?: unknown;
  };
  const code = typeof e.code === "string" ? e.code : undefined;
  const constraint = typeof e.constraint === "string" && e.constraint !== "" ? e.constraint : undefined;
  const message = typeof e.message === "string" ? e.message : "";

  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    return fromSqlState(code, constraint, err, phase);
  }
  if (code !== undefined && NETWORK_ERRNOS.has(code)) {
    return new StoreError("unavailable", `database unreachable (${code})`, { cause: err });
  }
  // Node's net layer reports "connect to every resolved address failed" as an AggregateError
  // whose own code may be missing; its members carry the errno.
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    const inner = toStoreError(e.errors[0], phase);
    if (inner.code === "unavailable") {
      return new StoreError("unavailable", inner.message, { cause: err });
    }
  }
  if (PG_CONNECTION_LOST.test(message)) {
    return new StoreError("unavailable", "database connection lost or timed out", { cause: err });
  }
  if (phase === "connect") {
    return new StoreError("unavailable", "could not open a database connection", { cause: err });
  }
  return new StoreError("internal", "unexpected database driver failure", { cause: err });
}

function fromSqlState(
  sqlState: string,
  constraint: string | undefined,
  cause: unknown,
  phase: ErrorPhase,
): StoreError {
  const on = constraint === undefined ? "" : ` on constraint "${constraint}"`;
  const opts = (retryable?: boolean): StoreErrorOptions => ({
    cause,
    sqlState,
    ...(constraint === undefined ? {} : { constraint }),
    ...(retryable === undefined ? {} : { retryable }),
  });
  switch (sqlState) {
    case "23505":
      return new StoreError("conflict", `unique violation${on} (23505)`, opts(false));
    case "40001":
    case "40P01":
      return new StoreError("conflict", `transaction conflict, retry it (${sqlState})`, opts(true));
    case "57014":
      return new StoreError("timeout", "statement timed out or was cancelled (57014)", opts(true));
    case "55P03":
      return new StoreError("timeout", "lock wait timed out (55P03)", opts(true));
    case "57P01":
    case "57P02":
    case "57P03":
    case "53300":
      return new StoreError("unavailable", `database shutting down or full (${sqlState})`, opts(true));
    case "3D000":
      return new StoreError("unavailable", "database does not exist (3D000)", opts(false));
    case "42501":
      // At connect (e.g. no CONNECT on the database) it is the database being unavailable to us.
      if (phase === "query") {
        return new StoreError(
          "permission_denied",
          "the database role lacks the privilege (42501)",
          opts(false),
        );
      }
      break;
  }
  const cls = sqlState.slice(0, 2);
  switch (cls) {
    case "08":
      return new StoreError("unavailable", `connection failure (${sqlState})`, opts(true));
    case "28":
      // Bad credentials: retrying the same credentials will not help.
      return new StoreError("unavailable", `database refused the credentials (${sqlState})`, opts(false));
    case "22":
      return new StoreError("invalid_argument", `value rejected by the database (${sqlState})`, opts(false));
    case "23":
      return new StoreError("invalid_argument", `integrity violation${on} (${sqlState})`, opts(false));
  }
  if (phase === "connect") {
    return new StoreError("unavailable", `could not open a database connection (${sqlState})`, opts(false));
  }
  return new StoreError("internal", `database error (${sqlState})`, opts(false));
}
