/**
 * Typed grpc-js client for protobuf-es services: one stub per method, derived from the
 * descriptor. Unary and client-streaming stubs return Promises; server-streaming and bidi stubs
 * return async iterables (breaking out of the loop cancels the call). Every failure is an
 * {@link RpcError} with a domain code and `retryable`.
 */
import { once } from "node:events";
import { create, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type ClientDuplexStream,
  type ClientWritableStream,
  type CallOptions as GrpcCallOptions,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { statusToRpcError } from "./error-status.js";
import { limitChannelOptions, type MessageLimits } from "./message-limits.js";
import { RpcError } from "./rpc-error.js";
import { methodDefinition } from "./service-definition.js";
import type { CallOptions, ServiceClient } from "./service-types.js";

/** Client options. */
export interface ClientOptions extends MessageLimits {
  /** Timeout applied to calls that set neither timeoutMs nor deadline (default: none). */
  readonly defaultTimeoutMs?: number;
  /** Name expected in the server certificate when it differs from the address host. */
  readonly serverNameOverride?: string;
  /** Further grpc-js channel options. */
  readonly channelOptions?: ChannelOptions;
}

function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const e = err as Partial<ServiceError> | null;
  if (e !== null && typeof e === "object" && typeof e.code === "number")
    return statusToRpcError(e as ServiceError);
  return new RpcError("internal", "client call failed", { cause: err });
}

function build(schema: DescMessage, init: unknown): unknown {
  try {
    return create(schema, init as never);
  } catch (err) {
    throw new RpcError("invalid_argument", `cannot build ${schema.typeName}`, { cause: err });
  }
}

function grpcOptions(
  options: CallOptions | undefined,
  defaultTimeoutMs: number | undefined,
): GrpcCallOptions {
  const candidates: number[] = [];
  if (options?.deadline !== undefined) candidates.push(options.deadline.getTime());
  if (options?.timeoutMs !== undefined) {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs < 0) {
      throw new RpcError(
        "invalid_argument",
        `timeoutMs must be a non-negative number, got ${options.timeoutMs}`,
      );
    }
    candidates.push(Date.now() + options.timeoutMs);
  }
  if (candidates.length === 0 && defaultTimeoutMs !== undefined)
    candidates.push(Date.now() + defaultTimeoutMs);
  return candidates.length === 0 ? {} : { deadline: new Date(Math.min(...candidates)) };
}

function checkNotAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RpcError("cancelled", "the call was cancelled before it started");
}

/** Writes every item of `items`, honouring back-pressure, then half-closes. */
async function pump(
  call: ClientWritableStream<unknown> | ClientDuplexStream<unknown, unknown>,
  schema: DescMessage,
  items: AsyncIterable<unknown>,
  isDone: () => boolean,
): Promise<void> {
  for await (const init of items) {
    if (isDone()) return;
    if (!call.write(build(schema, init))) await Promise.race([once(call, "drain"), once(call, "close")]);
  }
  if (!isDone()) call.end();
}

/**
 * A typed client of `service` at `address` ("host:port"). Close it (or `using` it) when done.
 */
export function createClient<S extends DescService>(
  service: S,
  address: string,
  credentials: ChannelCredentials,
  options: ClientOptions = {},
): ServiceClient<S> {
  const channelOptions: ChannelOptions = { ...options.channelOptions, ...limitChannelOptions(options) };
  if (options.serverNameOverride !== undefined) {
    channelOptions["grpc.ssl_target_name_override"] = options.serverNameOverride;
    channelOptions["grpc.default_authority"] = options.serverNameOverride;
  }
  const client = new Client(address, credentials, channelOptions);
  const stubs: Record<string, unknown> = {};
  for (const method of service.methods)
    stubs[method.localName] = stub(client, method, options.defaultTimeoutMs);
  const close = () => client.close();
  return Object.assign(stubs, { close, [Symbol.dispose]: close }) as unknown as ServiceClient<S>;
}

function stub(client: Client, method: DescMethod, defaultTimeoutMs: number | undefined): unknown {
  const def = methodDefinition(method);
  const ser = def.requestSerialize;
  const de = def.responseDeserialize;
  const path = def.path;
  const meta = (o: CallOptions | undefined) => o?.metadata ?? new Metadata();
  switch (method.methodKind) {
    case "unary":
      return (init: unknown, o?: CallOptions) =>
        new Promise((resolve, reject) => {
          checkNotAborted(o?.signal);
          const req = build(method.input, init);
          const call = client.makeUnaryRequest(
            path,
            ser,
            de,
            req,
            meta(o),
            grpcOptions(o, defaultTimeoutMs),
            (err, res) => {
              o?.signal?.removeEventListener("abort", cancel);
              if (err) reject(toRpcError(err));
              else resolve(res);
            },
          );
          const cancel = () => call.cancel();
          o?.signal?.addEventListener("abort", cancel, { once: true });
        });
    case "server_streaming":
      return (init: unknown, o?: CallOptions) =>
        (async function* () {
          checkNotAborted(o?.signal);
          const req = build(method.input, init);
          const call = client.makeServerStreamRequest(
            path,
            ser,
            de,
            req,
            meta(o),
            grpcOptions(o, defaultTimeoutMs),
          );
          const cancel = () => call.cancel();
          o?.signal?.addEventListener("abort", cancel, { once: true });
          let finished = false;
          try {
            for await (const msg of call) yield msg;
            finished = true;
          } catch (err) {
            finished = true;
            throw toRpcError(err);
          } finally {
            o?.signal?.removeEventListener("abort", cancel);
            if (!finished) call.cancel();
          }
        })();
    case "client_streaming":
      return (items: AsyncIterable<unknown>, o?: CallOptions) =>
        new Promise((resolve, reject) => {
          checkNotAborted(o?.signal);
          let done = false;
          const call = client.makeClientStreamRequest(
            path,
            ser,
            de,
            meta(o),
            grpcOptions(o, defaultTimeoutMs),
            (err, res) => {
              done = true;
              o?.signal?.removeEventListener("abort", cancel);
              if (err) reject(toRpcError(err));
              else resolve(res);
            },
          );
          const cancel = () => call.cancel();
          o?.signal?.addEventListener("abort", cancel, { once: true });
          pump(call, method.input, items, () => done).catch((err) => {
            done = true;
            call.cancel();
            reject(err);
          });
        });
    case "bidi_streaming":
      return (items: AsyncIterable<unknown>, o?: CallOptions) =>
        (async function* () {
          checkNotAborted(o?.signal);
          const call = client.makeBidiStreamRequest(path, ser, de, meta(o), grpcOptions(o, defaultTimeoutMs));
          const cancel = () => call.cancel();
          o?.signal?.addEventListener("abort", cancel, { once: true });
          let finished = false;
          let pumpError: unknown;
          pump(call, method.input, items, () => finished).catch((err) => {
            pumpError = err;
            call.cancel();
          });
          try {
            for await (const msg of call) yield msg;
            finished = true;
          } catch (err) {
            finished = true;
            throw pumpError ?? toRpcError(err);
          } finally {
            o?.signal?.removeEventListener("abort", cancel);
            if (!finished) {
              finished = true;
              call.cancel();
            }
          }
        })();
  }
}
