// Bus over NATS JetStream through the maintained nats.js v3 modular client (@nats-io/transport-node,
// @nats-io/jetstream, @nats-io/nats-core). Streams and durable pull consumers (explicit ack) per
// https://docs.nats.io/nats-concepts/jetstream; request-reply and fan-out are core NATS.
// Everything arriving from the server (messages, replies, headers) is untrusted input: sizes are bounded
// by the server's max_payload, and headers are copied into bounded plain records here.

import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  type JsMsg,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import {
  type Authenticator,
  credsAuthenticator,
  type Msg,
  type MsgHdrs,
  millis,
  type NatsConnection,
  nanos,
  errors as natsErrors,
  headers as natsHeaders,
  nkeyAuthenticator,
  nkeys,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import type {
  Bus,
  BusEvent,
  BusHeaders,
  BusMessage,
  BusReply,
  BusRequest,
  BusSubscription,
  ConsumeOptions,
  ConsumerSpec,
  ConsumerState,
  Consumption,
  EnsureStreamResult,
  MessageHandler,
  MessageStream,
  PublishAck,
  PublishOptions,
  RequestOptions,
  ServeHandler,
  ServeOptions,
  StreamSpec,
  StreamState,
  SubscribeOptions,
} from "./bus.js";
import { BusError, isBusErrorCode } from "./bus-error.js";
import {
  checkHeaders,
  checkMsgId,
  checkPayload,
  checkQueue,
  checkRetryFor,
  checkTimeout,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_PUBLISH_RETRY_MS,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  ERROR_HEADER,
  headerBlockBytes,
  type NormalConsumerSpec,
  type NormalStreamSpec,
  normalizeConsumerSpec,
  normalizeStreamSpec,
  sameConsumerSpec,
  sameStreamSpec,
} from "./bus-options.js";
import { messageStreamOf, normalizeConsumeOptions, type PullSource, runConsumption } from "./consumption.js";
import { DeliveredMessage } from "./delivered-message.js";
import { JS_ERR, jsApiCode, permissionError, toBusError } from "./nats-errors.js";
import { replyOf, runServeHandler } from "./serve-reply.js";
import { checkName, checkPattern, checkSubject } from "./subject.js";

/** Options of {@link connectNatsBus}. */
export interface NatsBusOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | readonly string[];
  /** Connection name shown in server monitoring. */
  readonly name?: string;
  /**
   * Largest payload accepted (bytes). Default 1 MiB; never above the server's `max_payload`
   * (the effective bound is the smaller one).
   */
  readonly maxPayloadBytes?: number;
  /** Connect timeout and JetStream API timeout, ms. Default 5000. */
  readonly timeoutMs?: number;
  /** Reconnect attempts after a lost connection; -1 (default) retries forever. */
  readonly maxReconnectAttempts?: number;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** An nkey seed ("SU..."): the server's `nkey` users (instead of user/pass/token/creds). */
  readonly nkeySeed?: string;
  /** The contents of a .creds file (user JWT + nkey seed): operator-mode servers (instead of the others). */
  readonly creds?: string;
  /** TLS files (PEM paths) for mutual TLS to the server. */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /**
   * Prefix of this connection's reply subjects (default `_INBOX`), so a server can let a user subscribe to
   * its own replies only (deploy/nats/nats-server.conf gives member X `_INBOX.X.>`).
   */
  readonly inboxPrefix?: string;
}

/** Most headers copied from an incoming message; the rest are dropped (untrusted input). */
const MAX_INCOMING_HEADERS = 64;
/** Pull request lifetime; short so a stopped consumption's last pull does not linger server-side. */
const PULL_EXPIRES_MS = 5000;
/** Upper bound on buffered messages read off when stopping (prefetch is at most 1000). */
const MAX_PREFETCH_DRAIN = 1001;
/** Publish retry backoff: first wait, and the cap it doubles up to. */
const PUBLISH_BACKOFF_FIRST_MS = 100;
const PUBLISH_BACKOFF_MAX_MS = 2000;
/** Publish refusals remembered for `emit` (the server reports a refused core publish only as an -ERR). */
const MAX_REMEMBERED_DENIALS = 64;

/** One publish attempt's failure, and whether the message may have been stored all the same. */
class AttemptFailure extends Error {
  constructor(
    readonly error: BusError,
    readonly maybeStored: boolean,
  ) {
    super(error.message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function toNatsHeaders(h: Readonly<Record<string, string>>): MsgHdrs | undefined {
  const keys = Object.keys(h);
  if (keys.length === 0) return undefined;
  const out = natsHeaders();
  for (const k of keys) out.set(k, h[k] as string);
  return out;
}

/** Copies application headers out of a received message; `Nats-*` ones are the bus's own. */
function fromNatsHeaders(h: MsgHdrs | undefined): {
  headers: Record<string, string>;
  msgId: string | undefined;
} {
  const headers: Record<string, string> = {};
  let msgId: string | undefined;
  if (h === undefined) return { headers, msgId };
  let n = 0;
  for (const [k, values] of h) {
    const lower = k.toLowerCase();
    if (lower === "nats-msg-id") {
      msgId = values[0];
      continue;
    }
    if (lower.startsWith("nats-") || n >= MAX_INCOMING_HEADERS) continue;
    const v = values[0];
    if (v !== undefined) {
      headers[k] = v;
      n++;
    }
  }
  return { headers, msgId };
}

/** True when a "major.minor.patch" server version is at least major.minor. */
export function serverAtLeast(version: string | undefined, major: number, minor: number): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version ?? "");
  if (m === null) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

function toStreamConfig(s: NormalStreamSpec): Partial<StreamConfig> & { name: string } {
  return {
    name: s.name,
    subjects: [...s.subjects],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: s.storage === "memory" ? StorageType.Memory : StorageType.File,
    max_age: nanos(s.maxAgeMs),
    duplicate_window: nanos(s.duplicateWindowMs),
    max_msg_size: s.maxMsgSize,
    max_msgs: s.maxMsgs,
    num_replicas: s.replicas,
  };
}

function fromStreamConfig(c: StreamConfig): NormalStreamSpec {
  return {
    name: c.name,
    subjects: [...(c.subjects ?? [])],
    maxAgeMs: millis(c.max_age ?? 0),
    duplicateWindowMs: millis(c.duplicate_window ?? 0),
    maxMsgSize: c.max_msg_size ?? -1,
    maxMsgs: c.max_msgs ?? -1,
    replicas: c.num_replicas ?? 1,
    storage: c.storage === StorageType.Memory ? "memory" : "file",
  };
}

function fromConsumerConfig(c: ConsumerConfig): NormalConsumerSpec {
  return {
    durable: c.durable_name ?? c.name ?? "",
    filterSubject: c.filter_subject ?? "",
    ackWaitMs: millis(c.ack_wait ?? 0),
    maxDeliver: c.max_deliver ?? -1,
    backoffMs: (c.backoff ?? []).map((n) => millis(n)),
    maxAckPending: c.max_ack_pending ?? -1,
    deliverPolicy: c.deliver_policy === DeliverPolicy.New ? "new" : "all",
  };
}

function updatableConsumerConfig(s: NormalConsumerSpec): Partial<ConsumerConfig> {
  const cfg: Partial<ConsumerConfig> = {
    ack_wait: nanos(s.ackWaitMs),
    max_deliver: s.maxDeliver,
    max_ack_pending: s.maxAckPending,
  };
  if (s.backoffMs.length > 0) cfg.backoff = s.backoffMs.map((ms) => nanos(ms));
  if (s.filterSubject !== "") cfg.filter_subject = s.filterSubject;
  return cfg;
}

class NatsBus implements Bus {
  readonly kind = "nats" as const;
  readonly maxPayloadBytes: number;
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #live = new Set<() => Promise<void>>();
  #closing: Promise<void> | undefined;
  /** Whether the server understands a reason on term (nats-server 2.11+). */
  readonly #termReasons: boolean;
  /** Connection state from the client's status stream: false between a disconnect and the reconnect. */
  #up = true;
  /** Woken on reconnect and on close. */
  readonly #upWaiters = new Set<() => void>();
  /** Woken on a disconnect: a publish attempt in flight then lost its connection. */
  readonly #downWaiters = new Set<() => void>();
  /** Core publishes the server refused (permissions), newest last, numbered. */
  readonly #denials: { readonly seq: number; readonly subject: string }[] = [];
  #denialSeq = 0;

  constructor(nc: NatsConnection, jsm: JetStreamManager, maxPayloadBytes: number) {
    this.#nc = nc;
    this.#termReasons = serverAtLeast(nc.info?.version, 2, 11);
    this.#jsm = jsm;
    this.#js = jsm.jetstream();
    this.maxPayloadBytes = maxPayloadBytes;
    void this.#watchStatus();
  }

  async #watchStatus(): Promise<void> {
    try {
      for await (const s of this.#nc.status()) {
        if (s.type === "disconnect") {
          this.#up = false;
          for (const wake of [...this.#downWaiters]) wake();
        } else if (s.type === "reconnect") {
          this.#up = true;
          for (const wake of [...this.#upWaiters]) wake();
        } else if (
          s.type === "error" &&
          s.error instanceof natsErrors.PermissionViolationError &&
          s.error.operation === "publish"
        ) {
          this.#denials.push({ seq: ++this.#denialSeq, subject: s.error.subject });
          if (this.#denials.length > MAX_REMEMBERED_DENIALS) this.#denials.shift();
        }
      }
    } catch {
      // The status stream ends with the connection.
    } finally {
      this.#up = false;
      for (const wake of [...this.#upWaiters]) wake();
    }
  }

  /** Resolves true once the connection is up, false at `deadline` or when the connection closes. */
  #waitUp(deadline: number): Promise<boolean> {
    if (this.#up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#upWaiters.delete(done);
        resolve(this.#up);
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.#upWaiters.add(done);
    });
  }

  #open(): void {
    if (this.#closing !== undefined || this.#nc.isClosed())
      throw new BusError("unavailable", "bus is closed");
  }

  async ensureStream(spec: StreamSpec): Promise<EnsureStreamResult> {
    this.#open();
    const norm = normalizeStreamSpec(spec);
    const ctx = `ensureStream ${norm.name}`;
    let current: NormalStreamSpec | undefined = await this.#streamSpec(norm.name, ctx);
    if (current === undefined) {
      try {
        await this.#jsm.streams.add(toStreamConfig(norm));
        return { name: norm.name, action: "created" };
      } catch (err) {
        // Another replica created it between our info and add: fall through to compare/update.
        if (jsApiCode(err) !== JS_ERR.streamNameInUse) throw toBusError(err, ctx);
        current = await this.#streamSpec(norm.name, ctx);
        if (current === undefined) throw toBusError(err, ctx);
      }
    }
    if (sameStreamSpec(current, norm)) return { name: norm.name, action: "unchanged" };
    if (current.storage !== norm.storage)
      throw new BusError("conflict", `stream ${norm.name}: storage cannot be changed`);
    try {
      const { name: _name, retention: _r, storage: _s, ...update } = toStreamConfig(norm);
      await this.#jsm.streams.update(norm.name, update);
    } catch (err) {
      throw toBusError(err, ctx);
    }
    return { name: norm.name, action: "updated" };
  }

  async #streamSpec(name: string, ctx: string): Promise<NormalStreamSpec | undefined> {
    try {
      return fromStreamConfig((await this.#jsm.streams.info(name)).config);
    } catch (err) {
      if (jsApiCode(err) === JS_ERR.streamNotFound) return undefined;
      throw toBusError(err, ctx);
    }
  }

  async streamInfo(name: string): Promise<StreamState> {
    this.#open();
    checkName(name, "stream name");
    try {
      const si = await this.#jsm.streams.info(name);
      return {
        name: si.config.name,
        subjects: [...(si.config.subjects ?? [])],
        messages: si.state.messages,
        firstSeq: si.state.first_seq,
        lastSeq: si.state.last_seq,
      };
    } catch (err) {
      throw toBusError(err, `streamInfo ${name}`);
    }
  }

  async deleteStream(name: string): Promise<boolean> {
    this.#open();
    checkName(name, "stream name");
    try {
      return await this.#jsm.streams.delete(name);
    } catch (err) {
      if (jsApiCode(err) === JS_ERR.streamNotFound) return false;
      throw toBusError(err, `deleteStream ${name}`);
    }
  }

  /**
   * Publishes to JetStream, surviving a reconnect (a NATS restart): while the connection is down the publish
   * waits for it to come back; a retryable failure is retried with backoff (PUBLISH_BACKOFF_*) until
   * `retryForMs` has passed. A lost ack (timeout, or the connection dropped mid-attempt) is retried only when
   * the message has a msgId, which every attempt carries, so the stream stores it once; without one, only
   * failures that cannot have stored it (no responders, connection down before sending) are retried.
   */
  async publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): Promise<PublishAck> {
    this.#open();
    checkSubject(subject);
    checkPayload(data, this.maxPayloadBytes, subject);
    const headers = checkHeaders(opts.headers);
    const msgId = opts.msgId === undefined ? undefined : checkMsgId(opts.msgId);
    const expected =
      opts.expectedStream === undefined ? undefined : checkName(opts.expectedStream, "expectedStream");
    const timeout = checkTimeout("timeoutMs", opts.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS);
    const retryFor = checkRetryFor(opts.retryForMs ?? DEFAULT_PUBLISH_RETRY_MS);
    this.#checkWireSize(subject, data, headers, msgId);
    const po: Partial<JetStreamPublishOptions> = { timeout };
    const h = toNatsHeaders(headers);
    if (h !== undefined) po.headers = h;
    if (msgId !== undefined) po.msgID = msgId;
    if (expected !== undefined) po.expect = { streamName: expected };
    const started = Date.now();
    const deadline = started + retryFor;
    let backoff = PUBLISH_BACKOFF_FIRST_MS;
    for (let attempt = 1; ; attempt++) {
      if (!this.#up) {
        const up = await this.#waitUp(deadline);
        this.#open();
        if (!up)
          throw new BusError(
            "unavailable",
            `publish ${subject}: the NATS connection is down and did not come back within ${retryFor} ms`,
          );
      }
      let failure: AttemptFailure;
      try {
        return await this.#publishOnce(subject, data, po);
      } catch (err) {
        if (!(err instanceof AttemptFailure)) throw err;
        failure = err;
      }
      const e = failure.error;
      const retry =
        e.retryable && this.#closing === undefined && (!failure.maybeStored || msgId !== undefined);
      if (!retry || Date.now() + backoff > deadline) {
        if (attempt === 1) throw e;
        throw new BusError(e.code, `${e.message} (${attempt} attempts over ${Date.now() - started} ms)`, {
          cause: e,
        });
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, PUBLISH_BACKOFF_MAX_MS);
      this.#open();
    }
  }

  /** One publish attempt; it fails early (`unavailable`, maybe stored) when the connection drops meanwhile. */
  async #publishOnce(
    subject: string,
    data: Uint8Array,
    po: Partial<JetStreamPublishOptions>,
  ): Promise<PublishAck> {
    let onDown: () => void = () => {};
    const lost = new Promise<never>((_, reject) => {
      onDown = () =>
        reject(
          new AttemptFailure(
            new BusError("unavailable", `publish ${subject}: the NATS connection dropped before the ack`),
            true,
          ),
        );
    });
    lost.catch(() => undefined);
    this.#downWaiters.add(onDown);
    const sent = this.#js.publish(subject, data, po);
    sent.catch(() => undefined); // an outcome after a dropped connection is superseded by the retry
    try {
      const pa = await Promise.race([sent, lost]);
      return { stream: pa.stream, seq: pa.seq, duplicate: pa.duplicate };
    } catch (err) {
      if (err instanceof AttemptFailure) throw err;
      const mapped = toBusError(err, `publish ${subject}`);
      // No responders: nothing stored. A timeout: the server may have stored it and the ack got lost.
      if (mapped.code === "unavailable")
        throw new AttemptFailure(this.#up ? await this.#noStreamOr(subject, mapped) : mapped, false);
      throw new AttemptFailure(mapped, mapped.code === "timeout");
    } finally {
      this.#downWaiters.delete(onDown);
    }
  }

  /** The server counts headers too against max_payload; refuse before sending, as `too_large`. */
  #checkWireSize(subject: string, data: Uint8Array, headers: Record<string, string>, msgId?: string): void {
    const serverMax = this.#nc.info?.max_payload;
    const size = data.byteLength + headerBlockBytes(headers, msgId);
    if (serverMax !== undefined && size > serverMax) {
      throw new BusError(
        "too_large",
        `message for ${subject} is ${size} bytes, above the server's ${serverMax}`,
      );
    }
  }

  /**
   * No responders on a JetStream publish means either no stream captures the subject (a permanent
   * `not_found`) or JetStream is momentarily unavailable (retryable). Ask the server which.
   */
  async #noStreamOr(subject: string, unavailable: BusError): Promise<BusError> {
    try {
      await this.#jsm.streams.find(subject);
      return unavailable;
    } catch (err) {
      if (jsApiCode(err) === JS_ERR.streamNotFound) {
        return new BusError("not_found", `no stream captures subject ${subject}`, { cause: unavailable });
      }
      return unavailable;
    }
  }

  async ensureConsumer(stream: string, spec: ConsumerSpec): Promise<void> {
    this.#open();
    checkName(stream, "stream name");
    const norm = normalizeConsumerSpec(spec);
    const ctx = `ensureConsumer ${stream}/${norm.durable}`;
    let ci = await this.#consumerInfo(stream, norm.durable, ctx);
    if (ci === undefined) {
      try {
        await this.#jsm.consumers.add(stream, {
          ...updatableConsumerConfig(norm),
          durable_name: norm.durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: norm.deliverPolicy === "new" ? DeliverPolicy.New : DeliverPolicy.All,
        });
        return;
      } catch (err) {
        const c = jsApiCode(err);
        if (c !== JS_ERR.consumerNameInUse && c !== JS_ERR.consumerAlreadyExists) throw toBusError(err, ctx);
        ci = await this.#consumerInfo(stream, norm.durable, ctx);
        if (ci === undefined) throw toBusError(err, ctx);
      }
    }
    if (ci.config.deliver_subject !== undefined && ci.config.deliver_subject !== "") {
      throw new BusError("conflict", `consumer ${norm.durable} exists as a push consumer`);
    }
    const current = fromConsumerConfig(ci.config);
    if (sameConsumerSpec(current, norm)) return;
    if (current.deliverPolicy !== norm.deliverPolicy) {
      throw new BusError("conflict", `consumer ${norm.durable}: deliverPolicy cannot be changed`);
    }
    try {
      await this.#jsm.consumers.update(stream, norm.durable, updatableConsumerConfig(norm));
    } catch (err) {
      throw toBusError(err, ctx);
    }
  }

  /** Consumer info, `undefined` when the consumer is absent, `not_found` when the stream is. */
  async #consumerInfo(stream: string, durable: string, ctx: string): Promise<ConsumerInfo | undefined> {
    try {
      return await this.#jsm.consumers.info(stream, durable);
    } catch (err) {
      if (jsApiCode(err) === JS_ERR.consumerNotFound) return undefined;
      throw toBusError(err, ctx);
    }
  }

  async consumerInfo(stream: string, durable: string): Promise<ConsumerState> {
    this.#open();
    checkName(stream, "stream name");
    checkName(durable, "durable consumer name");
    try {
      const ci = await this.#jsm.consumers.info(stream, durable);
      return {
        stream,
        durable,
        numPending: ci.num_pending,
        numAckPending: ci.num_ack_pending,
        ackFloorSeq: ci.ack_floor.stream_seq,
        deliveredSeq: ci.delivered.stream_seq,
      };
    } catch (err) {
      throw toBusError(err, `consumerInfo ${stream}/${durable}`);
    }
  }

  async deleteConsumer(stream: string, durable: string): Promise<boolean> {
    this.#open();
    checkName(stream, "stream name");
    checkName(durable, "durable consumer name");
    try {
      return await this.#jsm.consumers.delete(stream, durable);
    } catch (err) {
      if (jsApiCode(err) === JS_ERR.consumerNotFound) return false;
      throw toBusError(err, `deleteConsumer ${stream}/${durable}`);
    }
  }

  async #source(stream: string, durable: string, prefetch: number): Promise<PullSource> {
    checkName(stream, "stream name");
    checkName(durable, "durable consumer name");
    const ctx = `consume ${stream}/${durable}`;
    let msgs: Awaited<ReturnType<Awaited<ReturnType<JetStreamClient["consumers"]["get"]>>["consume"]>>;
    try {
      const consumer = await this.#js.consumers.get(stream, durable);
      msgs = await consumer.consume({ max_messages: prefetch, expires: PULL_EXPIRES_MS });
    } catch (err) {
      throw toBusError(err, ctx);
    }
    let failure: BusError | undefined;
    let stopped = false;
    void (async () => {
      for await (const s of msgs.status()) {
        // The server says the consumer (or its stream) is gone: end the consumption with not_found.
        if (s.type === "consumer_deleted" || (s.type === "consumer_not_found" && s.count >= 3)) {
          failure = new BusError("not_found", `${ctx}: consumer was deleted`);
          msgs.stop();
          return;
        }
      }
    })().catch(() => undefined);
    const it = msgs[Symbol.asyncIterator]();
    const wrap = (m: JsMsg): BusMessage => {
      const { headers, msgId } = fromNatsHeaders(m.headers);
      return new DeliveredMessage(
        {
          stream: m.info.stream,
          subject: m.subject,
          data: m.data,
          headers,
          msgId,
          seq: m.seq,
          deliveryCount: m.info.deliveryCount,
        },
        {
          ack: () => m.ack(),
          nak: (delayMs) => m.nak(delayMs),
          // Servers before 2.11 do not parse "+TERM <reason>" and ignore it: the message would come back.
          term: (reason) => (this.#termReasons && reason !== undefined ? m.term(reason) : m.term()),
          working: () => m.working(),
        },
      );
    };
    return {
      next: async () => {
        if (stopped) return undefined;
        let r: IteratorResult<JsMsg>;
        try {
          r = await it.next();
        } catch (err) {
          throw failure ?? toBusError(err, ctx);
        }
        if (failure !== undefined) throw failure;
        if (r.done || stopped) return undefined;
        return wrap(r.value);
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        // `close()` only resolves once the iterator is read to its end, so stop it and drain what the
        // client had buffered ourselves: those messages stay unacked and are redelivered after ack wait.
        msgs.stop();
        const drain = (async () => {
          for (let i = 0; i <= MAX_PREFETCH_DRAIN; i++) if ((await it.next()).done) return;
        })().catch(() => undefined);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([drain, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
        clearTimeout(timer);
      },
    };
  }

  async consume(
    stream: string,
    durable: string,
    handler: MessageHandler,
    opts?: ConsumeOptions,
  ): Promise<Consumption> {
    this.#open();
    if (typeof handler !== "function") throw new BusError("invalid_argument", "handler must be a function");
    const o = normalizeConsumeOptions(opts, true);
    const source = await this.#source(stream, durable, o.prefetch);
    let stop: () => Promise<void> = async () => undefined;
    const c = runConsumption(source, handler, o, () => this.#live.delete(stop));
    stop = c.stop;
    this.#live.add(stop);
    return c;
  }

  async messages(stream: string, durable: string, opts?: ConsumeOptions): Promise<MessageStream> {
    this.#open();
    const o = normalizeConsumeOptions(opts, false);
    const source = await this.#source(stream, durable, o.prefetch);
    let stop: () => Promise<void> = async () => undefined;
    const ms = messageStreamOf(source, () => this.#live.delete(stop));
    stop = ms.stop;
    this.#live.add(stop);
    return ms;
  }

  async request(subject: string, data: Uint8Array, opts: RequestOptions): Promise<BusReply> {
    this.#open();
    checkSubject(subject);
    checkPayload(data, this.maxPayloadBytes, subject);
    const timeout = checkTimeout("timeoutMs", opts?.timeoutMs);
    const headers = checkHeaders(opts.headers);
    this.#checkWireSize(subject, data, headers);
    const h = toNatsHeaders(headers);
    let m: Msg;
    try {
      m = await this.#nc.request(subject, data, h === undefined ? { timeout } : { timeout, headers: h });
    } catch (err) {
      const mapped = toBusError(err, `request ${subject}`);
      if (mapped.code === "unavailable") {
        throw new BusError("unavailable", `no responders for ${subject}`, { cause: err });
      }
      if (mapped.code === "timeout")
        throw new BusError("timeout", `no reply on ${subject} within ${timeout} ms`, { cause: err });
      throw mapped;
    }
    // The reply is untrusted input: only its bounded headers and bytes are passed on.
    const reply = fromNatsHeaders(m.headers);
    const code = reply.headers[ERROR_HEADER];
    if (code !== undefined) {
      throw new BusError(
        isBusErrorCode(code) ? code : "internal",
        `request on ${subject} failed remotely (${code.slice(0, 32)})`,
      );
    }
    return { data: m.data, headers: reply.headers };
  }

  #register(
    subject: string,
    queue: string | undefined,
    onMessage: (m: Msg) => Promise<void> | undefined,
  ): { stop: () => Promise<void>; inflight: Set<Promise<void>>; refused: () => Error | undefined } {
    const inflight = new Set<Promise<void>>();
    // The server refusing the subscription (a permissions violation) arrives here as an error.
    let refused: Error | undefined;
    const sub = this.#nc.subscribe(subject, {
      ...(queue === undefined ? {} : { queue }),
      callback: (err, m) => {
        if (err !== null) {
          refused ??= err;
          return;
        }
        const p = onMessage(m);
        if (p === undefined) return;
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      },
    });
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        this.#live.delete(stop);
        try {
          await sub.drain();
        } catch {
          // Already closed with the connection.
        }
        await Promise.allSettled([...inflight]);
      })();
      return stopping;
    };
    this.#live.add(stop);
    return { stop, inflight, refused: () => refused };
  }

  /**
   * After the flush that follows a subscribe: the server answers a SUB it refuses before the PONG, so a
   * subscription the user may not make (deploy/nats permissions) fails here instead of never delivering.
   */
  async #checkRefused(reg: { stop: () => Promise<void>; refused: () => Error | undefined }, subject: string) {
    const err = reg.refused();
    if (err === undefined) return;
    await reg.stop();
    throw toBusError(err, `subscribe ${subject}`);
  }

  async serve(subject: string, handler: ServeHandler, opts: ServeOptions = {}): Promise<BusSubscription> {
    this.#open();
    checkPattern(subject);
    if (typeof handler !== "function") throw new BusError("invalid_argument", "handler must be a function");
    const queue = checkQueue(opts.queue);
    const maxInFlight = opts.maxInFlight ?? 64;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > 10_000) {
      throw new BusError("invalid_argument", "maxInFlight must be an integer in [1, 10000]");
    }
    const respond = (m: Msg, r: BusReply): void => {
      const h = toNatsHeaders(r.headers);
      m.respond(r.data, h === undefined ? undefined : { headers: h });
    };
    const reg = this.#register(subject, queue, (m) => {
      if (m.reply === undefined || m.reply === "") return undefined;
      if (reg.inflight.size >= maxInFlight) {
        respond(m, replyOf.error("unavailable"));
        return undefined;
      }
      // Untrusted request: bounded by the server's max_payload; headers copied into a bounded record.
      const req: BusRequest = {
        subject: m.subject,
        data: m.data,
        headers: fromNatsHeaders(m.headers).headers,
      };
      return runServeHandler(handler, req, this.maxPayloadBytes, opts.onError).then((r) => respond(m, r));
    });
    await this.#flush();
    await this.#checkRefused(reg, subject);
    return { stop: reg.stop, [Symbol.asyncDispose]: reg.stop };
  }

  async emit(subject: string, data: Uint8Array, opts: { readonly headers?: BusHeaders } = {}): Promise<void> {
    this.#open();
    checkSubject(subject);
    checkPayload(data, this.maxPayloadBytes, subject);
    const headers = checkHeaders(opts.headers);
    this.#checkWireSize(subject, data, headers);
    const h = toNatsHeaders(headers);
    const before = this.#denialSeq;
    try {
      this.#nc.publish(subject, data, h === undefined ? undefined : { headers: h });
    } catch (err) {
      throw toBusError(err, `emit ${subject}`);
    }
    // A core publish has no ack: the server answers a refused one with an -ERR only. It comes before the
    // PONG of this flush; one more turn lets the status stream record it. Never silent. While the connection
    // is down the client keeps the publish and sends it on reconnect (at most once, as before): no check then.
    if (!this.#up) return;
    try {
      await this.#nc.flush();
    } catch {
      return; // the connection dropped meanwhile: the publish goes out with the reconnect
    }
    await new Promise<void>((r) => setImmediate(r));
    if (this.#denials.some((d) => d.seq > before && d.subject === subject))
      throw permissionError(
        new natsErrors.PermissionViolationError(
          `Permissions Violation for Publish to "${subject}"`,
          "publish",
          subject,
        ),
        `emit ${subject}`,
      );
  }

  async subscribe(
    subject: string,
    handler: (event: BusEvent) => void | Promise<void>,
    opts: SubscribeOptions = {},
  ): Promise<BusSubscription> {
    this.#open();
    checkPattern(subject);
    if (typeof handler !== "function") throw new BusError("invalid_argument", "handler must be a function");
    const queue = checkQueue(opts.queue);
    const reg = this.#register(subject, queue, (m) =>
      (async () => {
        try {
          await handler({ subject: m.subject, data: m.data, headers: fromNatsHeaders(m.headers).headers });
        } catch (err) {
          opts.onError?.(err);
        }
      })(),
    );
    await this.#flush();
    await this.#checkRefused(reg, subject);
    return { stop: reg.stop, [Symbol.asyncDispose]: reg.stop };
  }

  /** Round trip to the server so a new subscription is registered before we return. */
  async #flush(): Promise<void> {
    try {
      await this.#nc.flush();
    } catch (err) {
      throw toBusError(err, "flush");
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#live].map((stop) => stop()));
      this.#live.clear();
      if (!this.#nc.isClosed()) {
        try {
          await this.#nc.drain();
        } catch {
          await this.#nc.close().catch(() => undefined);
        }
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The nkey or creds authenticator, checked: one way to authenticate, and a seed that parses. */
function authenticatorOf(opts: NatsBusOptions): Authenticator | undefined {
  const ways = [
    opts.user !== undefined || opts.pass !== undefined ? "user/pass" : undefined,
    opts.token !== undefined ? "token" : undefined,
    opts.nkeySeed !== undefined ? "nkeySeed" : undefined,
    opts.creds !== undefined ? "creds" : undefined,
  ].filter((w) => w !== undefined);
  if (ways.length > 1)
    throw new BusError("invalid_argument", `give one way to authenticate, not ${ways.join(" and ")}`);
  const enc = new TextEncoder();
  if (opts.nkeySeed !== undefined) {
    const seed = opts.nkeySeed.trim();
    try {
      if (!seed.startsWith("SU")) throw new Error("not a user seed");
      nkeys.fromSeed(enc.encode(seed));
    } catch {
      throw new BusError("invalid_argument", "nkeySeed is not an nkey user seed (SU...)");
    }
    return nkeyAuthenticator(enc.encode(seed));
  }
  if (opts.creds !== undefined) {
    const c = opts.creds;
    if (!/-----BEGIN NATS USER JWT-----\s*\S/.test(c) || !/-----BEGIN USER NKEY SEED-----\s*SU/.test(c))
      throw new BusError("invalid_argument", "creds is not a NATS .creds file (user JWT and nkey seed)");
    return credsAuthenticator(enc.encode(c));
  }
  return undefined;
}

/**
 * Connects to NATS and returns a JetStream-backed {@link Bus}. Fails `unavailable` when the server
 * cannot be reached or has JetStream disabled.
 */
export async function connectNatsBus(opts: NatsBusOptions): Promise<Bus> {
  if (opts === null || typeof opts !== "object") throw new BusError("invalid_argument", "options required");
  const servers = typeof opts.servers === "string" ? [opts.servers] : [...(opts.servers ?? [])];
  if (
    servers.length === 0 ||
    servers.length > 32 ||
    servers.some((s) => typeof s !== "string" || s.length === 0)
  ) {
    throw new BusError("invalid_argument", "servers must be 1-32 non-empty URLs");
  }
  const timeout = opts.timeoutMs ?? 5000;
  checkTimeout("timeoutMs", timeout);
  const wanted = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (!Number.isInteger(wanted) || wanted < 1) {
    throw new BusError("invalid_argument", "maxPayloadBytes must be a positive integer");
  }
  const auth = authenticatorOf(opts);
  if (opts.inboxPrefix !== undefined) checkSubject(opts.inboxPrefix, "inboxPrefix");
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      timeout,
      maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
      ...(opts.name === undefined ? {} : { name: opts.name }),
      ...(opts.user === undefined ? {} : { user: opts.user }),
      ...(opts.pass === undefined ? {} : { pass: opts.pass }),
      ...(opts.token === undefined ? {} : { token: opts.token }),
      ...(opts.tls === undefined ? {} : { tls: { ...opts.tls } }),
      ...(auth === undefined ? {} : { authenticator: auth }),
      ...(opts.inboxPrefix === undefined ? {} : { inboxPrefix: opts.inboxPrefix }),
    });
  } catch (err) {
    const e = toBusError(err, `connect ${servers.join(",")}`);
    throw e.code === "internal" ? new BusError("unavailable", e.message, { cause: err }) : e;
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout });
  } catch (err) {
    await nc.close().catch(() => undefined);
    // A user who may not subscribe to its reply inbox (or use the JetStream API) is refused, not "unavailable".
    const mapped = toBusError(err, `connect ${servers.join(",")}`);
    if (mapped.code === "permission_denied") throw mapped;
    throw new BusError("unavailable", `JetStream is not available on ${servers.join(",")}`, { cause: err });
  }
  const serverMax = nc.info?.max_payload ?? wanted;
  return new NatsBus(nc, jsm, Math.min(wanted, serverMax));
}
