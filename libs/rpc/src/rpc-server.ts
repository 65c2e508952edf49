/**
 * Typed grpc-js server for protobuf-es services: `createServer`, then `addService(server, Hub,
 * impl)` with handlers typed from the descriptor, then `listen`. Handler errors map to gRPC status
 * through the one table in rpc-error.ts; malformed requests answer INVALID_ARGUMENT; oversized
 * messages RESOURCE_EXHAUSTED (grpc-js, from the configured limits).
 */
import { once } from "node:events";
import { create, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  type ChannelOptions,
  type Deadline,
  type Metadata,
  Server,
  type ServerCredentials,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { errorToStatus } from "./error-status.js";
import { limitChannelOptions, type MessageLimits } from "./message-limits.js";
import { RpcError } from "./rpc-error.js";
import { type RpcLogger, stderrRpcLogger } from "./rpc-logger.js";
import { DecodeFailure, methodPath, serviceDefinition } from "./service-definition.js";
import type { CallContext, ServiceImpl } from "./service-types.js";

/** Server options. */
export interface ServerOptions extends MessageLimits {
  /** Receives handler failures with their causes (default: {@link stderrRpcLogger}). */
  readonly logger?: RpcLogger;
  /** Further grpc-js channel options (e.g. keepalive). */
  readonly channelOptions?: ChannelOptions;
}

/** A grpc-js server with Lineage's limits, logger and lifecycle. */
export interface RpcServer {
  /** The underlying grpc-js server. */
  readonly grpc: Server;
  /** Where handler failures are logged. */
  readonly logger: RpcLogger;
  /** Binds (default "127.0.0.1:0") and resolves to the bound port. */
  listen(address: string, credentials: ServerCredentials): Promise<number>;
  /** Stops accepting calls, lets running calls finish for `graceMs` (default 2000), then cancels them. */
  shutdown(graceMs?: number): Promise<void>;
  /** Same as shutdown(). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A new server; add services with {@link addService}, then `listen`. */
export function createServer(options: ServerOptions = {}): RpcServer {
  const server = new Server({ ...options.channelOptions, ...limitChannelOptions(options) });
  const logger = options.logger ?? stderrRpcLogger;
  let stopped: Promise<void> | undefined;
  const shutdown = (graceMs = 2000): Promise<void> => {
    stopped ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return stopped;
  };
  return {
    grpc: server,
    logger,
    listen(address, credentials) {
      return new Promise<number>((resolve, reject) => {
        server.bindAsync(address, credentials, (err, port) => {
          if (err)
            reject(new RpcError("unavailable", `cannot bind ${address}: ${err.message}`, { cause: err }));
          else resolve(port);
        });
      });
    },
    shutdown,
    [Symbol.asyncDispose]: () => shutdown(),
  };
}

type AnyCall =
  | ServerUnaryCall<unknown, unknown>
  | ServerWritableStream<unknown, unknown>
  | ServerReadableStream<unknown, unknown>
  | ServerDuplexStream<unknown, unknown>;

function deadlineDate(d: Deadline): Date | undefined {
  if (d instanceof Date) return d;
  return Number.isFinite(d) ? new Date(d) : undefined;
}

function contextOf(call: AnyCall, path: string): CallContext {
  const controller = new AbortController();
  const abort = () => controller.abort(new RpcError("cancelled", "the call was cancelled"));
  if (call.cancelled) abort();
  else (call as ServerUnaryCall<unknown, unknown>).once("cancelled", abort);
  return {
    method: path,
    deadline: deadlineDate(call.getDeadline()),
    peer: call.getPeer(),
    metadata: call.metadata as Metadata,
    auth: call.getAuthContext(),
    signal: controller.signal,
  };
}

/** Incoming messages of a client/bidi stream; a message that fails to decode throws `malformed`. */
async function* incoming(call: ServerReadableStream<unknown, unknown>, signal: AbortSignal) {
  // destroyOnReturn: false, or the end of the request stream would destroy a duplex call's
  // response side before the handler finishes writing (rpc-calls.test.ts, "bidi").
  const it = call.iterator({ destroyOnReturn: false });
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
  aborted.catch(() => {});
  while (true) {
    const next = (await Promise.race([it.next(), aborted])) as IteratorResult<unknown>;
    if (next.done) return;
    if (next.value instanceof DecodeFailure) throw new RpcError("malformed", next.value.message);
    yield next.value;
  }
}

async function writeAll(
  call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
  method: DescMethod,
  items: AsyncIterable<unknown>,
  signal: AbortSignal,
): Promise<void> {
  for await (const item of items) {
    if (signal.aborted) return;
    const msg = create(method.output, item as never);
    if (!call.write(msg)) {
      let onAbort = () => {};
      await Promise.race([
        once(call, "drain"),
        new Promise<void>((resolve) => {
          onAbort = resolve;
          signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

function handlerFor(
  method: DescMethod,
  fn: (input: unknown, ctx: CallContext) => unknown,
  logger: RpcLogger,
): UntypedHandleCall {
  const path = methodPath(method);
  const fail = (err: unknown) => errorToStatus(err, path, logger);
  const decodeError = (d: DecodeFailure) => new RpcError("malformed", d.message);
  switch (method.methodKind) {
    case "unary":
      return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const ctx = contextOf(call, path);
        if (call.request instanceof DecodeFailure) return callback(fail(decodeError(call.request)), null);
        Promise.resolve()
          .then(() => fn(call.request, ctx))
          .then((res) => create(method.output, res as never))
          .then(
            (res) => callback(null, res),
            (err) => {
              if (!ctx.signal.aborted) callback(fail(err), null);
            },
          );
      };
    case "server_streaming":
      return (call: ServerWritableStream<unknown, unknown>) => {
        const ctx = contextOf(call, path);
        if (call.request instanceof DecodeFailure) {
          call.emit("error", fail(decodeError(call.request)));
          return;
        }
        Promise.resolve()
          .then(() => writeAll(call, method, fn(call.request, ctx) as AsyncIterable<unknown>, ctx.signal))
          .then(
            () => {
              if (!ctx.signal.aborted) call.end();
            },
            (err) => {
              if (!ctx.signal.aborted) call.emit("error", fail(err));
            },
          );
      };
    case "client_streaming":
      return (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const ctx = contextOf(call, path);
        Promise.resolve()
          .then(() => fn(incoming(call, ctx.signal), ctx))
          .then((res) => create(method.output, res as never))
          .then(
            (res) => callback(null, res),
            (err) => {
              if (!ctx.signal.aborted) callback(fail(err), null);
            },
          );
      };
    case "bidi_streaming":
      return (call: ServerDuplexStream<unknown, unknown>) => {
        const ctx = contextOf(call, path);
        Promise.resolve()
          .then(() =>
            writeAll(
              call,
              method,
              fn(incoming(call as never, ctx.signal), ctx) as AsyncIterable<unknown>,
              ctx.signal,
            ),
          )
          .then(
            () => {
              if (!ctx.signal.aborted) call.end();
            },
            (err) => {
              if (!ctx.signal.aborted) call.emit("error", fail(err));
            },
          );
      };
  }
}

/**
 * Registers a service on a server. `impl` is checked against the descriptor: unary handlers return
 * a Promise of the response (a message or its init shape), streaming handlers take/return async
 * iterables.
 */
export function addService<S extends DescService>(server: RpcServer, service: S, impl: ServiceImpl<S>): void {
  const handlers: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const fn = (impl as Record<string, unknown>)[method.localName];
    if (typeof fn !== "function") {
      throw new RpcError("invalid_argument", `no handler for ${methodPath(method)} (${method.localName})`);
    }
    handlers[method.localName] = handlerFor(method, fn.bind(impl) as never, server.logger);
  }
  server.grpc.addService(serviceDefinition(service), handlers);
}
