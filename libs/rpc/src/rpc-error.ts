/**
 * The one wire error of Lineage: a domain code shared by every Lineage package's error class, and
 * the ONE table that maps it to a gRPC status (CONVENTIONS.md practice 8). Callers branch on
 * `code`, never on message text; `retryable` says whether trying again can help (practice 9).
 */
import { status as GrpcStatus } from "@grpc/grpc-js";

/** Canonical domain error codes; every Lineage package's error `code` union is a subset. */
export const DOMAIN_CODES = [
  "invalid_argument",
  "malformed",
  "too_large",
  "bad_signature",
  "unknown_key",
  "unknown_member",
  "replay",
  "stale",
  "not_found",
  "already_exists",
  "conflict",
  "permission_denied",
  "unauthenticated",
  "failed_precondition",
  "session_mismatch",
  "policy_mismatch",
  "verdict_not_supported",
  "commitment_after_sighting",
  "unavailable",
  "timeout",
  "rate_limited",
  "cancelled",
  "unimplemented",
  "internal",
] as const;

/** A canonical domain error code. */
export type DomainCode = (typeof DOMAIN_CODES)[number];

const domainCodeSet: ReadonlySet<string> = new Set(DOMAIN_CODES);

/** True when `value` is one of {@link DOMAIN_CODES}. */
export function isDomainCode(value: unknown): value is DomainCode {
  return typeof value === "string" && domainCodeSet.has(value);
}

/** How a domain code travels: its gRPC status and whether a retry can help. */
export interface CodeMapping {
  readonly status: GrpcStatus;
  readonly retryable: boolean;
}

/** THE table: domain code -> gRPC status and retryability. Nothing else maps codes. */
export const CODE_TABLE: Readonly<Record<DomainCode, CodeMapping>> = Object.freeze({
  invalid_argument: { status: GrpcStatus.INVALID_ARGUMENT, retryable: false },
  malformed: { status: GrpcStatus.INVALID_ARGUMENT, retryable: false },
  too_large: { status: GrpcStatus.RESOURCE_EXHAUSTED, retryable: false },
  bad_signature: { status: GrpcStatus.UNAUTHENTICATED, retryable: false },
  unknown_key: { status: GrpcStatus.UNAUTHENTICATED, retryable: false },
  unknown_member: { status: GrpcStatus.NOT_FOUND, retryable: false },
  replay: { status: GrpcStatus.ALREADY_EXISTS, retryable: false },
  stale: { status: GrpcStatus.FAILED_PRECONDITION, retryable: false },
  not_found: { status: GrpcStatus.NOT_FOUND, retryable: false },
  already_exists: { status: GrpcStatus.ALREADY_EXISTS, retryable: false },
  conflict: { status: GrpcStatus.ABORTED, retryable: false },
  permission_denied: { status: GrpcStatus.PERMISSION_DENIED, retryable: false },
  unauthenticated: { status: GrpcStatus.UNAUTHENTICATED, retryable: false },
  failed_precondition: { status: GrpcStatus.FAILED_PRECONDITION, retryable: false },
  // Protocol v2 admission (docs/specs/verdict.md): the statement contradicts its logged session, its policy
  // is not the registered one, its verdict is not what its own counts give, or it relies on a commitment
  // logged after the suspect was first seen. Retrying the same statement cannot help.
  session_mismatch: { status: GrpcStatus.FAILED_PRECONDITION, retryable: false },
  policy_mismatch: { status: GrpcStatus.FAILED_PRECONDITION, retryable: false },
  verdict_not_supported: { status: GrpcStatus.FAILED_PRECONDITION, retryable: false },
  commitment_after_sighting: { status: GrpcStatus.FAILED_PRECONDITION, retryable: false },
  unavailable: { status: GrpcStatus.UNAVAILABLE, retryable: true },
  timeout: { status: GrpcStatus.DEADLINE_EXCEEDED, retryable: true },
  rate_limited: { status: GrpcStatus.RESOURCE_EXHAUSTED, retryable: true },
  cancelled: { status: GrpcStatus.CANCELLED, retryable: false },
  unimplemented: { status: GrpcStatus.UNIMPLEMENTED, retryable: false },
  internal: { status: GrpcStatus.INTERNAL, retryable: false },
});

/**
 * Domain code for a gRPC status that arrived without a Lineage ErrorInfo detail (another stack, or
 * grpc-js itself, e.g. a deadline or a message-size limit): the generic code of that status, so a
 * bare UNAUTHENTICATED is `unauthenticated`, never a claimed `bad_signature`.
 */
export function domainCodeForStatus(code: GrpcStatus): DomainCode {
  switch (code) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.OUT_OF_RANGE:
      return "invalid_argument";
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return "too_large";
    case GrpcStatus.UNAUTHENTICATED:
      return "unauthenticated";
    case GrpcStatus.NOT_FOUND:
      return "not_found";
    case GrpcStatus.ALREADY_EXISTS:
      return "already_exists";
    case GrpcStatus.ABORTED:
      return "conflict";
    case GrpcStatus.PERMISSION_DENIED:
      return "permission_denied";
    case GrpcStatus.FAILED_PRECONDITION:
      return "failed_precondition";
    case GrpcStatus.UNAVAILABLE:
      return "unavailable";
    case GrpcStatus.DEADLINE_EXCEEDED:
      return "timeout";
    case GrpcStatus.CANCELLED:
      return "cancelled";
    case GrpcStatus.UNIMPLEMENTED:
      return "unimplemented";
    default:
      return "internal";
  }
}

/** Options of {@link RpcError}. */
export interface RpcErrorOptions {
  /** The underlying error; logged by servers, never sent. */
  readonly cause?: unknown;
  /** Overrides the table's retryability (e.g. a server's RetryInfo). */
  readonly retryable?: boolean;
  /** gRPC status; defaults to the table's. */
  readonly grpcStatus?: GrpcStatus;
  /** Correlation id of a logged server-side cause. */
  readonly correlationId?: string;
  /** Server's suggested delay before a retry, in milliseconds. */
  readonly retryAfterMs?: number;
}

/** An error that crosses (or came across) a gRPC boundary. */
export class RpcError extends Error {
  override readonly name = "RpcError";
  /** Domain code; branch on this. */
  readonly code: DomainCode;
  /** gRPC status it travels as. */
  readonly grpcStatus: GrpcStatus;
  /** Whether retrying the same call later can succeed. */
  readonly retryable: boolean;
  /** Correlation id of a cause logged on the server, when the server sent one. */
  readonly correlationId: string | undefined;
  /** Server's suggested delay before a retry, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(code: DomainCode, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!isDomainCode(code)) throw new TypeError(`RpcError: unknown domain code ${String(code)}`);
    this.code = code;
    this.grpcStatus = options.grpcStatus ?? CODE_TABLE[code].status;
    this.retryable = options.retryable ?? CODE_TABLE[code].retryable;
    this.correlationId = options.correlationId;
    this.retryAfterMs = options.retryAfterMs;
  }
}
