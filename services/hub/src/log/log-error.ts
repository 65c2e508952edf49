/**
 * The one error type of the hub's transparency log. Codes are Lineage's canonical domain codes
 * (libs/rpc's table maps them to gRPC status), so handlers throw it as is and only its safe
 * message crosses the wire; `cause` stays in the server log.
 */

/** Every failure the log reports. */
export type LogErrorCode =
  /** A request or envelope field is missing, out of range or undecodable. */
  | "invalid_argument"
  /** An envelope or payload does not follow its format. */
  | "malformed"
  /** Input exceeds a size or count bound. */
  | "too_large"
  /** A signature did not verify against the key that should have made it. */
  | "bad_signature"
  /** The signing key is not a logged member key (or not the hub's). */
  | "unknown_key"
  /** The member named is not enrolled. */
  | "unknown_member"
  /** An index, session or entry does not exist (yet). */
  | "not_found"
  /** The same member, key or commitment id is already logged. */
  | "already_exists"
  /** The signer may not log this (e.g. a statement about another member's model). */
  | "permission_denied"
  /**
   * A stated time is further from the entry's integration time than the log's clock skew (a backdated
   * revocation, an old statement).
   */
  | "stale"
  /** The entry is not allowed in the log's current state (key outside validity, member suspended, ...). */
  | "failed_precondition"
  /**
   * Protocol v2 admission (docs/specs/verdict.md): an attestation's field disagrees with the logged
   * session it answers (nonce, suspect, candidate, panel, seed, reference fingerprint, policy, commitments,
   * counts present/absent, pairs committed, gamma, comparisons).
   */
  | "session_mismatch"
  /** A stated verdict policy is not a registered policy, or not the registered numbers of its id. */
  | "policy_mismatch"
  /** A statement's verdict or backed_by is not what `deriveVerdict` gives on its own counts and policy. */
  | "verdict_not_supported"
  /** A commitment a session binds was not logged before the suspect's first sighting. */
  | "commitment_after_sighting"
  /** The database could not be reached or the write failed; retry later. */
  | "unavailable"
  /** The log was closed. */
  | "cancelled"
  /**
   * The stored log does not verify against the hub's own signed checkpoints (a rewritten leaf, node or
   * checkpoint; found at start-up by log-integrity.ts): the hub refuses to serve it.
   */
  | "log_corrupt"
  /** A bug or a broken invariant (e.g. stored nodes disagree with the tree). */
  | "internal";

/** Options of {@link LogError}. */
export interface LogErrorOptions {
  readonly cause?: unknown;
  /** Whether a retry can help; defaults to true for `unavailable` only. */
  readonly retryable?: boolean;
  /** Suggested delay before a retry (e.g. until the next checkpoint). */
  readonly retryAfterMs?: number;
}

/** Error raised by the transparency log and its gRPC handlers. */
export class LogError extends Error {
  override readonly name = "LogError";
  readonly code: LogErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: LogErrorCode, message: string, options: LogErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? code === "unavailable";
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** True when `err` is a {@link LogError}, optionally with the given code. */
export function isLogError(err: unknown, code?: LogErrorCode): err is LogError {
  return err instanceof LogError && (code === undefined || err.code === code);
}
