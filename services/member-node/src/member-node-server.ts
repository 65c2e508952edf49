/**
 * The member node's gRPC server (`MemberNode`, proto member_node_service.proto). Handlers come from one
 * module per concept, each a `...Handlers(deps)` factory over the shared {@link MemberNodeDeps}; a method no
 * module serves yet answers UNIMPLEMENTED naming itself (withUnimplemented).
 *
 * Transport (issue 8): plaintext only on loopback; off loopback TLS, and mutual TLS when the hub must reach
 * RunMatchSession (checkListenSecurity refuses anything weaker before binding).
 */
import type { ServerCredentials } from "@grpc/grpc-js";
import { MemberNode } from "@lineage/api";
import {
  addService,
  checkListenSecurity,
  createServer,
  type RpcLogger,
  type TransportSecurity,
  withUnimplemented,
} from "@lineage/rpc";
import type { MemberNodeDeps } from "./member-node-deps.js";
import { nodeInfoHandlers } from "./node-info-handlers.js";
import type { ProtectOptions } from "./protect/protect-flow.js";
import { protectHandlers } from "./protect/protect-handlers.js";
import { type MatchServices, matchHandlers } from "./sessions/session-handlers.js";

export type { MemberNodeDeps } from "./member-node-deps.js";

/** Options of {@link startMemberNodeServer}. */
export interface MemberNodeServerOptions {
  readonly deps: MemberNodeDeps;
  /** Battery source and endpoints of the protect flow. */
  readonly protect: ProtectOptions;
  /** Canary sets and match sessions (sessions/session-handlers.ts); without it those RPCs are UNIMPLEMENTED. */
  readonly match?: MatchServices;
  /** host:port to bind, e.g. "127.0.0.1:7450" (port 0 = any free port). */
  readonly listen: string;
  readonly credentials: ServerCredentials;
  /** What `credentials` provide; checked against the address before binding. */
  readonly security: TransportSecurity;
  /** Where handler failures go (default: stderr, name and code only). */
  readonly rpcLogger?: RpcLogger;
  /** Largest request message (bytes); default libs/rpc's. */
  readonly maxReceiveMessageBytes?: number;
}

/** A running member-node server. */
export interface MemberNodeServer extends AsyncDisposable {
  readonly port: number;
  /** host:port clients dial. */
  readonly address: string;
  /** Stops accepting calls and lets running ones finish (up to `graceMs`, default 2000). */
  close(graceMs?: number): Promise<void>;
}

/** Every handler of the service, composed from the concept modules. */
export function memberNodeHandlers(deps: MemberNodeDeps, protect: ProtectOptions, match?: MatchServices) {
  return withUnimplemented(MemberNode, {
    ...nodeInfoHandlers(deps),
    ...protectHandlers(deps, protect),
    ...(match === undefined ? {} : matchHandlers(deps, match)),
  });
}

/** Starts the gRPC server; resolves once it listens. */
export async function startMemberNodeServer(options: MemberNodeServerOptions): Promise<MemberNodeServer> {
  // Off loopback the hub reaches RunMatchSession here, so clients must present certificates (mutual TLS).
  checkListenSecurity(options.listen, options.security, { requireClientCerts: true });
  const server = createServer({
    ...(options.rpcLogger ? { logger: options.rpcLogger } : {}),
    ...(options.maxReceiveMessageBytes !== undefined
      ? { maxReceiveMessageBytes: options.maxReceiveMessageBytes }
      : {}),
  });
  addService(server, MemberNode, memberNodeHandlers(options.deps, options.protect, options.match));
  const port = await server.listen(options.listen, options.credentials);
  const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
  const close = (graceMs = 2000) => server.shutdown(graceMs);
  return { port, address: `${host}:${port}`, close, [Symbol.asyncDispose]: () => close() };
}
