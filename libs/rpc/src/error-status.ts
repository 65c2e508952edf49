/**
 * Errors <-> gRPC status (gRPC richer error model: google.rpc.Status in the
 * `grpc-status-details-bin` trailer, with a google.rpc.ErrorInfo whose reason is the domain code).
 * Server side: only a safe message crosses the wire; causes go to the injected logger. Client
 * side: the trailer is attacker-controlled input, bounded and checked against the status code.
 */
import { randomUUID } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Any, anyIs, anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import { status as GrpcStatus, Metadata, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { ErrorInfoSchema, RetryInfoSchema, StatusSchema } from "@lineage/api";
import { CODE_TABLE, type DomainCode, domainCodeForStatus, isDomainCode, RpcError } from "./rpc-error.js";
import type { RpcLogger } from "./rpc-logger.js";

/** Trailer key of the serialized google.rpc.Status. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
/** ErrorInfo domain of Lineage errors. */
export const ERROR_DOMAIN = "lineage";
/** Longest message sent to a peer; longer messages are cut. */
export const MAX_ERROR_MESSAGE_CHARS = 1024;
/** Largest status-details trailer a client decodes. */
export const MAX_STATUS_DETAILS_BYTES = 16 * 1024;

/**
 * The status a handler error is sent as. Any error with a string `code` that is a domain code is
 * mapped through the table and keeps its message (Lineage packages promise those are safe); any
 * other error becomes "internal error" with a correlation id, and its cause is only logged.
 */
export function errorToStatus(err: unknown, method: string, logger: RpcLogger): StatusObject {
  const code = (err as { code?: unknown } | null)?.code;
  let domain: DomainCode;
  let message: string;
  let correlationId: string | undefined;
  let retryAfterMs: number | undefined;
  if (isDomainCode(code)) {
    domain = code;
    const raw = err instanceof Error ? err.message : String((err as { message?: unknown }).message ?? code);
    message = raw.length > MAX_ERROR_MESSAGE_CHARS ? `${raw.slice(0, MAX_ERROR_MESSAGE_CHARS)}...` : raw;
    const after = (err as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof after === "number" && Number.isFinite(after) && after >= 0) retryAfterMs = after;
    logger.warn({ method, code: domain, error: err });
  } else {
    domain = "internal";
    correlationId = randomUUID();
    message = `internal error (correlation id ${correlationId})`;
    logger.error({ method, code: domain, correlationId, error: err });
  }
  const grpcCode = CODE_TABLE[domain].status;
  const details: Any[] = [
    anyPack(
      ErrorInfoSchema,
      create(ErrorInfoSchema, {
        reason: domain.toUpperCase(),
        domain: ERROR_DOMAIN,
        metadata: correlationId === undefined ? {} : { correlation_id: correlationId },
      }),
    ),
  ];
  if (retryAfterMs !== undefined) {
    const seconds = BigInt(Math.floor(retryAfterMs / 1000));
    const nanos = Math.floor((retryAfterMs % 1000) * 1e6);
    details.push(anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: { seconds, nanos } })));
  }
  const metadata = new Metadata();
  metadata.set(
    STATUS_DETAILS_KEY,
    Buffer.from(toBinary(StatusSchema, create(StatusSchema, { code: grpcCode, message, details }))),
  );
  return { code: grpcCode, details: message, metadata };
}

/**
 * The RpcError for a failed call. The domain code comes from the server's ErrorInfo when it is a
 * Lineage code that the table maps to the status actually received (so a peer cannot, say, dress
 * an INTERNAL up as a retryable rate limit); otherwise from the status alone.
 */
export function statusToRpcError(err: ServiceError | StatusObject): RpcError {
  const grpcCode = err.code;
  let domain: DomainCode = domainCodeForStatus(grpcCode);
  let correlationId: string | undefined;
  let retryAfterMs: number | undefined;
  const raw = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (raw instanceof Uint8Array && raw.length <= MAX_STATUS_DETAILS_BYTES) {
    try {
      const st = fromBinary(StatusSchema, raw);
      for (const any of st.details.slice(0, 8)) {
        if (anyIs(any, ErrorInfoSchema)) {
          const info = anyUnpack(any, ErrorInfoSchema);
          const reason = info?.reason.toLowerCase();
          if (
            info?.domain === ERROR_DOMAIN &&
            isDomainCode(reason) &&
            CODE_TABLE[reason].status === grpcCode
          ) {
            domain = reason;
            const id = info.metadata.correlation_id;
            if (id !== undefined && id.length <= 64) correlationId = id;
          }
        } else if (anyIs(any, RetryInfoSchema)) {
          const d = anyUnpack(any, RetryInfoSchema)?.retryDelay;
          if (d !== undefined && d.seconds >= 0n && d.seconds < 86_400n) {
            retryAfterMs = Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
          }
        }
      }
    } catch {
      // An undecodable trailer is ignored: the status code alone decides.
    }
  }
  const details = "details" in err && typeof err.details === "string" ? err.details : "";
  const message =
    details.slice(0, MAX_ERROR_MESSAGE_CHARS) || `gRPC status ${GrpcStatus[grpcCode] ?? grpcCode}`;
  return new RpcError(domain, message, {
    cause: err,
    grpcStatus: grpcCode,
    retryable: CODE_TABLE[domain].retryable && CODE_TABLE[domain].status === grpcCode,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}
