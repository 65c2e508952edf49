/**
 * The hub's gRPC server. This build serves the transparency log's public, self-checking reads
 * (GetCheckpoint, GetLogEntries, GetInclusionProof, GetConsistencyProof, GetAttestationBundle) and the
 * member-signed membership and commitment writes with GetMember/ListMembers (membership/); every other
 * method of the Hub contract answers UNIMPLEMENTED naming itself until its issue lands.
 */
import type { ServerCredentials } from "@grpc/grpc-js";
import { Hub } from "@lineage/api";
import { addService, createServer, type RpcLogger, withUnimplemented } from "@lineage/rpc";
import type { HubIndex } from "./index/hub-index.js";
import { type LogServiceOptions, logServiceHandlers } from "./log/log-service.js";
import type { TransparencyLog } from "./log/transparency-log.js";
import { membershipHandlers } from "./membership/membership-service.js";
import { RequestAuthenticator } from "./membership/request-header.js";
import type { HubSessions } from "./sessions/hub-sessions.js";

export interface HubServerOptions {
  readonly log: TransparencyLog;
  /** host:port to bind, e.g. "127.0.0.1:7443" (port 0 = any free port). */
  readonly listen: string;
  readonly credentials: ServerCredentials;
  readonly logger?: RpcLogger;
  /** Per-client limits of the log's streaming reads (default: stream-limits.ts). */
  readonly logReads?: LogServiceOptions;
  /** Signed-header verification of the write RPCs (default: one over `log`; tests inject a clock). */
  readonly auth?: RequestAuthenticator;
  /** Epoch batteries and sketch ingestion (index/hub-index.ts); absent: those methods are UNIMPLEMENTED. */
  readonly index?: HubIndex;
  /** Cases and alerts (sessions/hub-sessions.ts); absent: GetCase/ListCases/SubmitReviewDecision/WatchAlerts are UNIMPLEMENTED. */
  readonly sessions?: HubSessions;
}

export interface HubServer extends AsyncDisposable {
  readonly port: number;
  /** host:port clients dial. */
  readonly address: string;
  close(): Promise<void>;
}

/** Starts the hub's gRPC server; resolves once it listens. */
export async function startHubServer(options: HubServerOptions): Promise<HubServer> {
  const server = createServer(options.logger ? { logger: options.logger } : {});
  // The Hub contract, composed from one handler object per concern (each its own module).
  const auth = options.auth ?? new RequestAuthenticator({ log: options.log });
  const handlers = {
    ...logServiceHandlers(options.log, options.logReads),
    ...membershipHandlers({ log: options.log, auth }),
    ...(options.index ? options.index.handlers(auth) : {}),
    ...(options.sessions ? options.sessions.handlers(auth) : {}),
  };
  addService(server, Hub, withUnimplemented(Hub, handlers));
  const port = await server.listen(options.listen, options.credentials);
  // An index opened with build "background" is built now that the port answers (issue 12): the log's reads
  // and writes and ingestion serve meanwhile; retrieval waits for it (sketch-retriever.ts). A failure is
  // retried by the index's catch-up tick.
  options.index?.load().catch(() => undefined);
  const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
  const close = () => server.shutdown(2000);
  return { port, address: `${host}:${port}`, close, [Symbol.asyncDispose]: close };
}
