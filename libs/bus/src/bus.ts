// The `Bus` contract shared by the NATS JetStream implementation and the in-process one (DESIGN.md
// "Running it": a NATS cluster with JetStream in deployment, an in-process bus for the embedded default).
// Semantics follow JetStream's (https://docs.nats.io/nats-concepts/jetstream): streams capture subjects,
// durable pull consumers with explicit ack, redelivery after nak/ack-wait, dedup by message id inside
// a duplicate window; plus core NATS request-reply and fan-out. Payloads are opaque bytes.

/** Message headers: single-valued, ASCII keys. Keys starting with `Nats-` are reserved for the bus. */
export type BusHeaders = Readonly<Record<string, string>>;

/** Stream definition for {@link Bus.ensureStream}. Omitted limits mean "unlimited" (NATS defaults). */
export interface StreamSpec {
  /** Stream name, 1-64 of `[A-Za-z0-9_-]`. */
  readonly name: string;
  /** Subject patterns the stream captures (1-64). Must not overlap another stream's. */
  readonly subjects: readonly string[];
  /** Drop messages older than this. 0 or omitted: keep forever. */
  readonly maxAgeMs?: number;
  /** Window in which a repeated `msgId` is acknowledged as a duplicate. Default 120 000 (2 min). */
  readonly duplicateWindowMs?: number;
  /** Largest message (payload + headers) the stream stores, bytes. Omitted: no stream-specific bound. */
  readonly maxMsgSize?: number;
  /** Keep at most this many messages (oldest dropped). Omitted: unlimited on NATS; see in-process. */
  readonly maxMsgs?: number;
  /** Replica count on a NATS cluster, 1-5. Default 1. The in-process bus ignores it. */
  readonly replicas?: number;
  /** NATS storage backend. Default `"file"`. The in-process bus is always memory. */
  readonly storage?: "file" | "memory";
}

/** What {@link Bus.ensureStream} did. */
export interface EnsureStreamResult {
  readonly name: string;
  /** `"created"` a new stream, `"updated"` a differing one, `"unchanged"` when it already matched. */
  readonly action: "created" | "updated" | "unchanged";
}

/** Counters of a stream, from {@link Bus.streamInfo}. */
export interface StreamState {
  readonly name: string;
  readonly subjects: readonly string[];
  /** Messages currently stored. */
  readonly messages: number;
  /** Sequence of the oldest stored message (0 when empty and never written). */
  readonly firstSeq: number;
  /** Sequence of the newest message ever stored (0 when never written). */
  readonly lastSeq: number;
}

/** Options of {@link Bus.publish}. */
export interface PublishOptions {
  /** Deduplication id: a repeat inside the stream's duplicate window is acked `duplicate: true`. */
  readonly msgId?: string;
  readonly headers?: BusHeaders;
  /** Fail with `conflict` unless the subject is captured by this stream. */
  readonly expectedStream?: string;
  /** How long to wait for the stream's ack, per attempt. Default 5000. */
  readonly timeoutMs?: number;
  /**
   * NATS: how long a publish keeps retrying a retryable failure (connection down or reconnecting, server or
   * JetStream not ready yet, ack timed out) before it fails, in ms, 0..300000; 0 = one attempt. Default
   * 30000. Backoff 100 ms doubling to 2 s; while the connection is down it waits for the reconnect. A lost
   * ack is retried only with a `msgId` (the retry is then deduplicated by the stream); without one, only
   * failures where nothing can have been stored are retried. The in-process bus never needs to retry.
   */
  readonly retryForMs?: number;
}

/** The stream's acknowledgement of a published message. */
export interface PublishAck {
  readonly stream: string;
  /** Stream sequence of the stored message (of the original one for a duplicate). */
  readonly seq: number;
  /** True when `msgId` repeated one inside the duplicate window: nothing new was stored. */
  readonly duplicate: boolean;
}

/** Durable pull consumer definition for {@link Bus.ensureConsumer}. Acks are always explicit. */
export interface ConsumerSpec {
  /** Durable name, 1-64 of `[A-Za-z0-9_-]`. */
  readonly durable: string;
  /** Only deliver messages whose subject matches this pattern. */
  readonly filterSubject?: string;
  /** Redeliver a message not acked within this time. Default 30 000. */
  readonly ackWaitMs?: number;
  /** Deliver each message at most this many times (then drop it). -1 or omitted: unlimited. */
  readonly maxDeliver?: number;
  /**
   * Ack waits per delivery, replacing `ackWaitMs`: after the n-th delivery the message is redelivered
   * if not acked within `backoffMs[min(n-1, len-1)]` (JetStream semantics; the effective ack wait is
   * `backoffMs[0]`, so `ackWaitMs`, if given, must equal it). Requires `maxDeliver` > length when set.
   */
  readonly backoffMs?: readonly number[];
  /** Most delivered-but-unacked messages at once. Default 1000. */
  readonly maxAckPending?: number;
  /** Start with the first stored message (`"all"`, default) or only messages published after creation. */
  readonly deliverPolicy?: "all" | "new";
}

/** Delivery and ack counters of a durable consumer, from {@link Bus.consumerInfo}. */
export interface ConsumerState {
  readonly stream: string;
  readonly durable: string;
  /** Messages matching the filter not yet delivered. */
  readonly numPending: number;
  /** Delivered, not yet acked (nor termed nor exhausted). */
  readonly numAckPending: number;
  /** Stream sequence below which every message is settled. */
  readonly ackFloorSeq: number;
  /** Highest stream sequence delivered so far. */
  readonly deliveredSeq: number;
}

/**
 * A message delivered by a durable consumer. Settle it exactly once with `ack`, `nak` or `term`; later
 * calls are ignored. Unsettled messages are redelivered after the consumer's ack wait.
 */
export interface BusMessage {
  readonly stream: string;
  readonly subject: string;
  readonly data: Uint8Array;
  /** Application headers (the bus's own `Nats-*` headers are not included). */
  readonly headers: BusHeaders;
  /** The publisher's `msgId`, if any. */
  readonly msgId: string | undefined;
  /** Stream sequence. */
  readonly seq: number;
  /** 1 on first delivery, 2 on the first redelivery, ... */
  readonly deliveryCount: number;
  /** True once `ack`, `nak` or `term` was called. */
  readonly settled: boolean;
  /** Processed: never redeliver. */
  ack(): void;
  /** Failed, retry: redeliver after `delayMs` (default: at once). Counts toward `maxDeliver`. */
  nak(delayMs?: number): void;
  /** Poison: never redeliver. `reason` is sent to the server's advisory, so keep it free of secrets. */
  term(reason?: string): void;
  /** Still working: restart the ack-wait timer. */
  working(): void;
}

/**
 * Handler for {@link Bus.consume}. Resolving acks an unsettled message; throwing settles it by
 * {@link dispositionFor}: `nak` (with the retry delay) for retryable errors, `term` for the rest.
 */
export type MessageHandler = (msg: BusMessage) => void | Promise<void>;

/** Options of {@link Bus.consume} and {@link Bus.messages}. */
export interface ConsumeOptions {
  /** Handler form: messages processed at once (1 keeps stream order). Default 1, at most 256. */
  readonly concurrency?: number;
  /**
   * Messages the NATS client pulls ahead. Pulled messages are already "delivered" (their ack wait runs),
   * so keep it small. Default: `concurrency` (handler form) or 1 (iterator form), at most 1000. The
   * in-process bus hands out one message per pull and ignores it.
   */
  readonly prefetch?: number;
  /** Handler form: nak delay after a retryable failure. Default `min(250 * 2^(n-1), 30 000)` ms. */
  readonly retryDelayMs?: number | ((deliveryCount: number) => number);
  /** Handler form: called for each handler failure (after the disposition is chosen). */
  readonly onError?: (err: unknown, msg: BusMessage, disposition: "nak" | "term") => void;
}

/** A running handler-driven consumption. */
export interface Consumption extends AsyncDisposable {
  /** Stop pulling, wait for in-flight handlers to finish. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the consumption ends: resolves on stop/close, rejects with a `BusError` on failure. */
  readonly done: Promise<void>;
}

/** Iterator form of a consumption: settle each message yourself. Ends on `stop()` or bus close. */
export interface MessageStream extends AsyncIterable<BusMessage>, AsyncDisposable {
  stop(): Promise<void>;
}

/** A request as the serving side sees it. */
export interface BusRequest {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: BusHeaders;
}

/** A reply as the requester sees it. */
export interface BusReply {
  readonly data: Uint8Array;
  readonly headers: BusHeaders;
}

/** Options of {@link Bus.request}. */
export interface RequestOptions {
  /** Give up (code `timeout`) after this long. Required: a request must never hang. 1..300 000. */
  readonly timeoutMs: number;
  readonly headers?: BusHeaders;
}

/**
 * Serves requests. Throwing replies with an error the requester sees as a `BusError` whose `code` is
 * the thrown `BusError`'s code (`internal` for anything else). Only the code crosses the wire, never
 * the message: error text may hold private data.
 */
export type ServeHandler = (req: BusRequest) => ServeResult | Promise<ServeResult>;

/** What a {@link ServeHandler} returns: bare bytes, or bytes with headers. */
export type ServeResult = Uint8Array | { readonly data: Uint8Array; readonly headers?: BusHeaders };

/** Options of {@link Bus.serve}. */
export interface ServeOptions {
  /** Queue group: each request goes to one member of the group (how replicas share work). */
  readonly queue?: string;
  /** Requests handled at once; beyond it requests are refused with `unavailable`. Default 64. */
  readonly maxInFlight?: number;
  /** Called with each handler failure (the requester gets only the error code). */
  readonly onError?: (err: unknown) => void;
}

/** A core (non-JetStream) fan-out message, as {@link Bus.subscribe} sees it. */
export interface BusEvent {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: BusHeaders;
}

/** Options of {@link Bus.subscribe}. */
export interface SubscribeOptions {
  readonly queue?: string;
  /** Called with each handler failure; core messages are not redelivered. */
  readonly onError?: (err: unknown) => void;
}

/** A serve or subscribe registration. */
export interface BusSubscription extends AsyncDisposable {
  /** Stop receiving, wait for in-flight handlers. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The message bus: JetStream streams and durable consumers, core request-reply and fan-out.
 * Every method fails with a {@link BusError}.
 */
export interface Bus extends AsyncDisposable {
  /** `"nats"` or `"in-process"`. */
  readonly kind: "nats" | "in-process";
  /** Largest payload `publish`/`request`/`emit` accept (bytes); larger ones fail `too_large` unsent. */
  readonly maxPayloadBytes: number;

  /** Create or update a stream; a no-op when it already has this config. Overlapping subjects: `conflict`. */
  ensureStream(spec: StreamSpec): Promise<EnsureStreamResult>;
  /** Counters of a stream; `not_found` when absent. */
  streamInfo(name: string): Promise<StreamState>;
  /** Delete a stream and its consumers; false when it did not exist. */
  deleteStream(name: string): Promise<boolean>;

  /** Store a message in the stream capturing `subject` and wait for its ack. */
  publish(subject: string, data: Uint8Array, opts?: PublishOptions): Promise<PublishAck>;

  /** Create or update a durable pull consumer; a no-op when it already has this config. */
  ensureConsumer(stream: string, spec: ConsumerSpec): Promise<void>;
  /** Counters of a consumer; `not_found` when absent. */
  consumerInfo(stream: string, durable: string): Promise<ConsumerState>;
  /** Delete a consumer; false when it did not exist. */
  deleteConsumer(stream: string, durable: string): Promise<boolean>;
  /** Run `handler` over the durable consumer's messages until stopped. `not_found` if it is absent. */
  consume(
    stream: string,
    durable: string,
    handler: MessageHandler,
    opts?: ConsumeOptions,
  ): Promise<Consumption>;
  /** Iterate the durable consumer's messages, settling each yourself. `not_found` if it is absent. */
  messages(stream: string, durable: string, opts?: ConsumeOptions): Promise<MessageStream>;

  /** Core request-reply. `timeout` when no reply in time, `unavailable` when nobody serves `subject`. */
  request(subject: string, data: Uint8Array, opts: RequestOptions): Promise<BusReply>;
  /** Answer requests on `subject` (a pattern); with `queue`, share them across a group. */
  serve(subject: string, handler: ServeHandler, opts?: ServeOptions): Promise<BusSubscription>;

  /**
   * Core fire-and-forget publish for fan-out (at most once; a stream capturing `subject` stores it). NATS:
   * resolves after a round trip to the server, so a publish the server refuses fails `permission_denied`.
   */
  emit(subject: string, data: Uint8Array, opts?: { readonly headers?: BusHeaders }): Promise<void>;
  /** Receive core messages (and stream publishes) on a pattern. Handler errors are reported, not retried. */
  subscribe(
    subject: string,
    handler: (event: BusEvent) => void | Promise<void>,
    opts?: SubscribeOptions,
  ): Promise<BusSubscription>;

  /** Stop consumptions and subscriptions, wait for in-flight handlers, flush, disconnect. Idempotent. */
  close(): Promise<void>;
}
