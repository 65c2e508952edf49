/**
 * The one error type of the member node. Codes are Lineage's domain codes where one fits (libs/rpc maps
 * them), plus the protocol-v2 codes the hub's log uses for the same failures, so a member learns before it
 * signs what the hub would refuse. Messages never carry canary text, responses or keys.
 */

/** Every failure the member node reports. */
export type MemberNodeErrorCode =
  /** A caller passed an argument outside its domain. */
  | "invalid_argument"
  /** An envelope or payload does not follow its format. */
  | "malformed"
  /** The hub's signature on a session does not verify. */
  | "bad_signature"
  /** A session request disagrees with the logged session, or a result with the session it answers. */
  | "session_mismatch"
  /** A policy is not the registered one (or not the session's). */
  | "policy_mismatch"
  /** A commitment the session binds was not logged before the suspect's first sighting. */
  | "commitment_after_sighting"
  /** The session's deadline has passed. */
  | "stale"
  /** The session names something that is not this member's (candidate member, commitment). */
  | "permission_denied"
  /** A write RPC without a valid caller identity (mTLS admin certificate or signed request). */
  | "unauthenticated"
  /** A model, run or session the node does not know. */
  | "not_found"
  /** The thing to create exists already (or a request was replayed). */
  | "already_exists"
  /** A request or message is larger than its bound. */
  | "too_large"
  /** The node's state does not allow the request (e.g. an endpoint or battery that cannot work). */
  | "failed_precondition"
  /** A dependency (database, bus, model endpoint, hub) cannot be reached; retrying may help. */
  | "unavailable";

/** Error raised by the member node. */
export class MemberNodeError extends Error {
  override readonly name = "MemberNodeError";
  readonly code: MemberNodeErrorCode;

  constructor(code: MemberNodeErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** True when `err` is a {@link MemberNodeError}, optionally with the given code. */
export function isMemberNodeError(err: unknown, code?: MemberNodeErrorCode): err is MemberNodeError {
  return err instanceof MemberNodeError && (code === undefined || err.code === code);
}
