/**
 * Handler and client types derived from a protobuf-es service descriptor, so that a Hub
 * implementation or client is checked against proto/lineage/v1 at compile time.
 */
import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { Metadata, ServerUnaryCall } from "@grpc/grpc-js";

/** TLS facts of a call (grpc-js AuthContext). */
export type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>["getAuthContext"]>;

/** What a handler knows about its call. */
export interface CallContext {
  /** Full method path, e.g. "/lineage.v1.Hub/SubmitSketch". */
  readonly method: string;
  /** Deadline the client set, or undefined for none. */
  readonly deadline: Date | undefined;
  /** Peer address ("ip:port"). */
  readonly peer: string;
  /** Request metadata (attacker-controlled). */
  readonly metadata: Metadata;
  /** TLS details; `sslPeerCertificate` is the verified client certificate under mutual TLS. */
  readonly auth: AuthContext;
  /** Aborted when the client cancels, the deadline passes or the server shuts down. */
  readonly signal: AbortSignal;
}

type Shapes<M> = M extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? { req: MessageShape<I>; init: MessageInitShape<I>; res: MessageShape<O>; resInit: MessageInitShape<O> }
  : never;

/** Server handler of one method. */
export type MethodImpl<M extends DescMethod> = M extends { methodKind: "unary" }
  ? (request: Shapes<M>["req"], ctx: CallContext) => Promise<Shapes<M>["resInit"]>
  : M extends { methodKind: "server_streaming" }
    ? (request: Shapes<M>["req"], ctx: CallContext) => AsyncIterable<Shapes<M>["resInit"]>
    : M extends { methodKind: "client_streaming" }
      ? (requests: AsyncIterable<Shapes<M>["req"]>, ctx: CallContext) => Promise<Shapes<M>["resInit"]>
      : M extends { methodKind: "bidi_streaming" }
        ? (requests: AsyncIterable<Shapes<M>["req"]>, ctx: CallContext) => AsyncIterable<Shapes<M>["resInit"]>
        : never;

/** Server implementation of a service: one handler per method. */
export type ServiceImpl<S extends DescService> = {
  [K in keyof S["method"]]: MethodImpl<S["method"][K]>;
};

/** Per-call client options. */
export interface CallOptions {
  /** Relative timeout in milliseconds; the call fails with code `timeout` after it. */
  readonly timeoutMs?: number;
  /** Absolute deadline (the earlier of this and timeoutMs wins). */
  readonly deadline?: Date;
  /** Cancels the call; it fails with code `cancelled`. */
  readonly signal?: AbortSignal;
  /** Request metadata (ASCII keys; "-bin" keys take Buffers). */
  readonly metadata?: Metadata;
}

/** Client stub of one method. */
export type MethodClient<M extends DescMethod> = M extends { methodKind: "unary" }
  ? (request: Shapes<M>["init"], options?: CallOptions) => Promise<Shapes<M>["res"]>
  : M extends { methodKind: "server_streaming" }
    ? (request: Shapes<M>["init"], options?: CallOptions) => AsyncIterable<Shapes<M>["res"]>
    : M extends { methodKind: "client_streaming" }
      ? (requests: AsyncIterable<Shapes<M>["init"]>, options?: CallOptions) => Promise<Shapes<M>["res"]>
      : M extends { methodKind: "bidi_streaming" }
        ? (
            requests: AsyncIterable<Shapes<M>["init"]>,
            options?: CallOptions,
          ) => AsyncIterable<Shapes<M>["res"]>
        : never;

/** Client of a service: one stub per method, plus lifecycle. */
export type ServiceClient<S extends DescService> = {
  readonly [K in keyof S["method"]]: MethodClient<S["method"][K]>;
} & {
  /** Closes the channel; in-flight calls fail with `cancelled` or `unavailable`. */
  close(): void;
  [Symbol.dispose](): void;
};
