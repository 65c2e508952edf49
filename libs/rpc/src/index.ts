/** grpc-js glue for protobuf-es service descriptors, TLS, error <-> status. */
export { ERROR_DOMAIN, errorToStatus, STATUS_DETAILS_KEY, statusToRpcError } from "./error-status.js";
export type { MessageLimits } from "./message-limits.js";
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  limitChannelOptions,
  MAX_CONFIGURABLE_MESSAGE_BYTES,
} from "./message-limits.js";
export type { ClientOptions } from "./rpc-client.js";
export { createClient } from "./rpc-client.js";
export type { CodeMapping, DomainCode, RpcErrorOptions } from "./rpc-error.js";
export { CODE_TABLE, DOMAIN_CODES, domainCodeForStatus, isDomainCode, RpcError } from "./rpc-error.js";
export type { RpcLogger, RpcLogRecord } from "./rpc-logger.js";
export { silentRpcLogger, stderrRpcLogger } from "./rpc-logger.js";
export type { RpcServer, ServerOptions } from "./rpc-server.js";
export { addService, createServer } from "./rpc-server.js";
export { DecodeFailure, methodDefinition, methodPath, serviceDefinition } from "./service-definition.js";
export type {
  AuthContext,
  CallContext,
  CallOptions,
  MethodClient,
  MethodImpl,
  ServiceClient,
  ServiceImpl,
} from "./service-types.js";
export type { ClientTlsOptions, ServerTlsOptions } from "./tls-credentials.js";
export {
  insecureChannelCredentials,
  insecureServerCredentials,
  tlsChannelCredentials,
  tlsServerCredentials,
} from "./tls-credentials.js";
export type { ListenAddress, ListenSecurityOptions, TransportSecurity } from "./transport-policy.js";
export { checkListenSecurity, isLoopbackHost, parseListenAddress } from "./transport-policy.js";
export { withUnimplemented } from "./unimplemented.js";
export { captureSent, RPC_CAPTURE_ENV, RPC_CAPTURE_MARKER } from "./wire-capture.js";
