// In-process Bus for the embedded default (DESIGN.md "Running it": all roles in one process). It
// reproduces the JetStream semantics the contract suite (test/bus-contract.ts) checks against real NATS:
// subject capture and overlap rules, duplicate window, limits (max age / msgs / msg size), durable pull
// consumers with explicit ack, nak delay, ack-wait and backoff redelivery, term, max deliver, max ack
// pending, and core request-reply / fan-out with queue groups. State lives as long as the process.

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
import { replyOf, runServeHandler } from "./serve-reply.js";
import { checkName, checkPattern, checkSubject, patternsOverlap, subjectMatches } from "./subject.js";

/** Options of {@link createInProcessBus}. */
export interface InProcessBusOptions {
  /** Largest payload accepted, bytes. Default 1 MiB (NATS's default `max_payload`). */
  readonly maxPayloadBytes?: number;
  /**
   * Cap on messages kept by a stream that sets no `maxMsgs` (oldest dropped), so an unbounded stream
   * cannot exhaust the process's memory. Default 100 000.
   */
  readonly defaultMaxMsgs?: number;
}

interface StoredMsg {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly msgId: string | undefined;
  readonly time: number;
}

interface PendingEntry {
  deliveries: number;
  dueAt: number;
}

interface Waiter {
  resolve(m: BusMessage | undefined): void;
  reject(err: unknown): void;
}

interface CoreDelivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: BusHeaders;
  readonly reply: ((r: BusReply) => void) | undefined;
}

interface CoreSub {
  readonly pattern: string;
  readonly queue: string | undefined;
  closed: boolean;
  onMessage(d: CoreDelivery): void;
}

class MemStream {
  spec: NormalStreamSpec;
  readonly msgs = new Map<number, StoredMsg>();
  lastSeq = 0;
  /** msgId -> (seq, time), in insertion (= time) order. */
  readonly dedup = new Map<string, { seq: number; at: number }>();
  readonly consumers = new Map<string, MemConsumer>();

  constructor(spec: NormalStreamSpec) {
    this.spec = spec;
  }

  firstSeq(): number {
    for (const seq of this.msgs.keys()) return seq;
    return this.lastSeq === 0 ? 0 : this.lastSeq + 1;
  }

  /** Apply max age and the dedup window as of `now`. */
  prune(now: number): void {
    if (this.spec.maxAgeMs > 0) {
      const cutoff = now - this.spec.maxAgeMs;
      for (const [seq, m] of this.msgs) {
        if (m.time > cutoff) break;
        this.msgs.delete(seq);
      }
    }
    const dupCutoff = now - this.spec.duplicateWindowMs;
    for (const [id, d] of this.dedup) {
      if (d.at > dupCutoff) break;
      this.dedup.delete(id);
    }
  }

  trim(cap: number): void {
    for (const seq of this.msgs.keys()) {
      if (this.msgs.size <= cap) break;
      this.msgs.delete(seq);
    }
  }
}

class MemConsumer {
  spec: NormalConsumerSpec;
  readonly stream: MemStream;
  nextSeq: number;
  deliveredSeq = 0;
  readonly pending = new Map<number, PendingEntry>();
  readonly waiters: Waiter[] = [];
  deleted = false;
  #timer: NodeJS.Timeout | undefined;
  #kicked = false;

  constructor(stream: MemStream, spec: NormalConsumerSpec) {
    this.stream = stream;
    this.spec = spec;
    this.nextSeq = spec.deliverPolicy === "all" ? Math.max(1, stream.firstSeq()) : stream.lastSeq + 1;
  }

  ackWaitFor(deliveries: number): number {
    const b = this.spec.backoffMs;
    if (b.length === 0) return this.spec.ackWaitMs;
    return b[Math.min(deliveries - 1, b.length - 1)] ?? this.spec.ackWaitMs;
  }

  /** Drop pending entries whose message is gone or whose deliveries are exhausted and overdue. */
  sweep(now: number): void {
    for (const [seq, e] of this.pending) {
      if (e.dueAt > now) continue;
      const exhausted = this.spec.maxDeliver > 0 && e.deliveries >= this.spec.maxDeliver;
      if (exhausted || !this.stream.msgs.has(seq)) this.pending.delete(seq);
    }
  }

  /** Schedule a dispatch soon (coalesced), after a settlement or a publish. */
  kick(): void {
    if (this.#kicked || this.deleted) return;
    this.#kicked = true;
    queueMicrotask(() => {
      this.#kicked = false;
      this.dispatch();
    });
  }

  dispatch(): void {
    if (this.deleted) return;
    const now = Date.now();
    this.stream.prune(now);
    this.sweep(now);
    while (this.waiters.length > 0) {
      const m = this.#pick(now);
      if (m === undefined) break;
      this.waiters.shift()?.resolve(m);
    }
    this.#rearm(now);
  }

  #pick(now: number): BusMessage | undefined {
    let dueSeq = -1;
    for (const [seq, e] of this.pending) {
      if (e.dueAt <= now && (dueSeq === -1 || seq < dueSeq)) dueSeq = seq;
    }
    const due = this.pending.get(dueSeq);
    const dueMsg = this.stream.msgs.get(dueSeq);
    if (due !== undefined && dueMsg !== undefined) {
      due.deliveries++;
      due.dueAt = now + this.ackWaitFor(due.deliveries);
      return this.#wrap(dueMsg, due.deliveries);
    }
    if (this.pending.size >= this.spec.maxAckPending) return undefined;
    const first = this.stream.firstSeq();
    for (let seq = Math.max(this.nextSeq, first); seq <= this.stream.lastSeq; seq++) {
      const m = this.stream.msgs.get(seq);
      if (m === undefined) continue;
      if (this.spec.filterSubject !== "" && !subjectMatches(this.spec.filterSubject, m.subject)) continue;
      this.nextSeq = seq + 1;
      this.deliveredSeq = seq;
      this.pending.set(seq, { deliveries: 1, dueAt: now + this.ackWaitFor(1) });
      return this.#wrap(m, 1);
    }
    this.nextSeq = Math.max(this.nextSeq, this.stream.lastSeq + 1);
    return undefined;
  }

  #rearm(now: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.waiters.length === 0 || this.deleted) return;
    let minDue = Number.POSITIVE_INFINITY;
    for (const e of this.pending.values()) if (e.dueAt < minDue) minDue = e.dueAt;
    if (minDue === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.dispatch(), Math.max(1, minDue - now));
  }

  #wrap(m: StoredMsg, deliveries: number): BusMessage {
    const seq = m.seq;
    const current = (): PendingEntry | undefined => {
      const e = this.pending.get(seq);
      // nak/working from an older delivery of a redelivered message must not move the new one's timer.
      return e !== undefined && e.deliveries === deliveries ? e : undefined;
    };
    return new DeliveredMessage(
      {
        stream: this.stream.spec.name,
        subject: m.subject,
        data: m.data.slice(),
        headers: { ...m.headers },
        msgId: m.msgId,
        seq,
        deliveryCount: deliveries,
      },
      {
        ack: () => {
          if (this.pending.delete(seq)) this.kick();
        },
        nak: (delayMs) => {
          const e = current();
          if (e === undefined) return;
          e.dueAt = Date.now() + (delayMs ?? 0);
          this.kick();
        },
        term: () => {
          if (this.pending.delete(seq)) this.kick();
        },
        working: () => {
          const e = current();
          if (e !== undefined) e.dueAt = Date.now() + this.ackWaitFor(e.deliveries);
        },
      },
    );
  }

  /** End every waiter: `undefined` (orderly close) or an error (consumer deleted). */
  shutdown(err: BusError | undefined): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.waiters.splice(0)) {
      if (err === undefined) w.resolve(undefined);
      else w.reject(err);
    }
  }

  state(now: number): ConsumerState {
    this.stream.prune(now);
    this.sweep(now);
    let numPending = 0;
    for (let seq = Math.max(this.nextSeq, this.stream.firstSeq()); seq <= this.stream.lastSeq; seq++) {
      const m = this.stream.msgs.get(seq);
      if (
        m !== undefined &&
        (this.spec.filterSubject === "" || subjectMatches(this.spec.filterSubject, m.subject))
      ) {
        numPending++;
      }
    }
    let floor = this.deliveredSeq;
    for (const seq of this.pending.keys()) floor = Math.min(floor, seq - 1);
    return {
      stream: this.stream.spec.name,
      durable: this.spec.durable,
      numPending,
      numAckPending: this.pending.size,
      ackFloorSeq: floor,
      deliveredSeq: this.deliveredSeq,
    };
  }
}

class InProcessBus implements Bus {
  readonly kind = "in-process" as const;
  readonly maxPayloadBytes: number;
  readonly #defaultMaxMsgs: number;
  readonly #streams = new Map<string, MemStream>();
  #subs: CoreSub[] = [];
  /** Stop functions of live consumptions, streams and subscriptions (for close()). */
  readonly #live = new Set<() => Promise<void>>();
  #closed = false;

  constructor(opts: InProcessBusOptions) {
    this.maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.#defaultMaxMsgs = opts.defaultMaxMsgs ?? 100_000;
    if (
      !Number.isInteger(this.maxPayloadBytes) ||
      this.maxPayloadBytes < 1 ||
      this.maxPayloadBytes > 64 << 20
    ) {
      throw new BusError("invalid_argument", "maxPayloadBytes must be an integer in [1, 67108864]");
    }
    if (!Number.isInteger(this.#defaultMaxMsgs) || this.#defaultMaxMsgs < 1) {
      throw new BusError("invalid_argument", "defaultMaxMsgs must be a positive integer");
    }
  }

  #open(): void {
    if (this.#closed) throw new BusError("unavailable", "bus is closed");
  }

  #stream(name: string): MemStream {
    const s = this.#streams.get(checkName(name, "stream name"));
    if (s === undefined) throw new BusError("not_found", `stream ${name} not found`);
    return s;
  }

  #consumer(stream: string, durable: string): MemConsumer {
    const s = this.#stream(stream);
    const c = s.consumers.get(checkName(durable, "durable consumer name"));
    if (c === undefined) throw new BusError("not_found", `consumer ${durable} on stream ${stream} not found`);
    return c;
  }

  async ensureStream(spec: StreamSpec): Promise<EnsureStreamResult> {
    this.#open();
    const norm = normalizeStreamSpec(spec);
    const existing = this.#streams.get(norm.name);
    if (existing !== undefined && sameStreamSpec(existing.spec, norm))
      return { name: norm.name, action: "unchanged" };
    for (const other of this.#streams.values()) {
      if (other.spec.name === norm.name) continue;
      for (const a of norm.subjects) {
        for (const b of other.spec.subjects) {
          if (patternsOverlap(a, b)) {
            throw new BusError(
              "conflict",
              `stream ${norm.name}: subject ${a} overlaps ${b} of stream ${other.spec.name}`,
            );
          }
        }
      }
    }
    if (existing === undefined) {
      this.#streams.set(norm.name, new MemStream(norm));
      return { name: norm.name, action: "created" };
    }
    if (existing.spec.storage !== norm.storage) {
      throw new BusError("conflict", `stream ${norm.name}: storage cannot be changed`);
    }
    existing.spec = norm;
    existing.prune(Date.now());
    existing.trim(norm.maxMsgs === -1 ? this.#defaultMaxMsgs : norm.maxMsgs);
    return { name: norm.name, action: "updated" };
  }

  async streamInfo(name: string): Promise<StreamState> {
    this.#open();
    const s = this.#stream(name);
    s.prune(Date.now());
    return {
      name: s.spec.name,
      subjects: [...s.spec.subjects],
      messages: s.msgs.size,
      firstSeq: s.firstSeq(),
      lastSeq: s.lastSeq,
    };
  }

  async deleteStream(name: string): Promise<boolean> {
    this.#open();
    const s = this.#streams.get(checkName(name, "stream name"));
    if (s === undefined) return false;
    this.#streams.delete(name);
    for (const c of s.consumers.values()) {
      c.deleted = true;
      c.shutdown(new BusError("not_found", `stream ${name} was deleted`));
    }
    return true;
  }

  #streamFor(subject: string): MemStream | undefined {
    for (const s of this.#streams.values()) {
      if (s.spec.subjects.some((p) => subjectMatches(p, subject))) return s;
    }
    return undefined;
  }

  /** Store in `s` (the stream capturing `subject`), honouring dedup and limits. */
  #store(
    s: MemStream,
    subject: string,
    data: Uint8Array,
    headers: Record<string, string>,
    msgId: string | undefined,
  ): PublishAck {
    const now = Date.now();
    s.prune(now);
    if (msgId !== undefined) {
      const d = s.dedup.get(msgId);
      if (d !== undefined) return { stream: s.spec.name, seq: d.seq, duplicate: true };
    }
    const size = data.byteLength + headerBlockBytes(headers, msgId);
    if (s.spec.maxMsgSize >= 0 && size > s.spec.maxMsgSize) {
      throw new BusError(
        "too_large",
        `message of ${size} bytes exceeds stream ${s.spec.name}'s max of ${s.spec.maxMsgSize}`,
      );
    }
    const seq = ++s.lastSeq;
    s.msgs.set(seq, { seq, subject, data: data.slice(), headers, msgId, time: now });
    if (msgId !== undefined) s.dedup.set(msgId, { seq, at: now });
    s.trim(s.spec.maxMsgs === -1 ? this.#defaultMaxMsgs : s.spec.maxMsgs);
    for (const c of s.consumers.values()) c.kick();
    return { stream: s.spec.name, seq, duplicate: false };
  }

  async publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): Promise<PublishAck> {
    this.#open();
    checkSubject(subject);
    checkPayload(data, this.maxPayloadBytes, subject);
    const headers = checkHeaders(opts.headers);
    const msgId = opts.msgId === undefined ? undefined : checkMsgId(opts.msgId);
    const expected =
      opts.expectedStream === undefined ? undefined : checkName(opts.expectedStream, "expectedStream");
    checkTimeout("timeoutMs", opts.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS);
    if (opts.retryForMs !== undefined) checkRetryFor(opts.retryForMs);
    const s = this.#streamFor(subject);
    if (s === undefined) throw new BusError("not_found", `no stream captures subject ${subject}`);
    if (expected !== undefined && s.spec.name !== expected) {
      throw new BusError(
        "conflict",
        `subject ${subject} is captured by stream ${s.spec.name}, not ${expected}`,
      );
    }
    const ack = this.#store(s, subject, data, headers, msgId);
    // As on NATS, a JetStream publish is also a core message: subscribers see it, duplicate or not.
    this.#route(subject, data, headers, undefined);
    return ack;
  }

  async ensureConsumer(stream: string, spec: ConsumerSpec): Promise<void> {
    this.#open();
    const norm = normalizeConsumerSpec(spec);
    const s = this.#stream(stream);
    const existing = s.consumers.get(norm.durable);
    if (existing === undefined) {
      s.consumers.set(norm.durable, new MemConsumer(s, norm));
      return;
    }
    if (sameConsumerSpec(existing.spec, norm)) return;
    if (existing.spec.deliverPolicy !== norm.deliverPolicy) {
      throw new BusError("conflict", `consumer ${norm.durable}: deliverPolicy cannot be changed`);
    }
    existing.spec = norm;
    existing.kick();
  }

  async consumerInfo(stream: string, durable: string): Promise<ConsumerState> {
    this.#open();
    return this.#consumer(stream, durable).state(Date.now());
  }

  async deleteConsumer(stream: string, durable: string): Promise<boolean> {
    this.#open();
    const s = this.#stream(stream);
    const c = s.consumers.get(checkName(durable, "durable consumer name"));
    if (c === undefined) return false;
    s.consumers.delete(durable);
    c.deleted = true;
    c.shutdown(new BusError("not_found", `consumer ${durable} on stream ${stream} was deleted`));
    return true;
  }

  #source(c: MemConsumer): PullSource {
    let stopped = false;
    let current: Waiter | undefined;
    return {
      next: () => {
        if (stopped || this.#closed) return Promise.resolve(undefined);
        if (c.deleted)
          return Promise.reject(new BusError("not_found", `consumer ${c.spec.durable} was deleted`));
        return new Promise<BusMessage | undefined>((resolve, reject) => {
          current = { resolve, reject };
          c.waiters.push(current);
          c.dispatch();
        });
      },
      stop: async () => {
        stopped = true;
        const w = current;
        if (w === undefined) return;
        const i = c.waiters.indexOf(w);
        if (i >= 0) c.waiters.splice(i, 1);
        w.resolve(undefined);
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
    const c = this.#consumer(stream, durable);
    let stop: () => Promise<void> = async () => undefined;
    const consumption = runConsumption(this.#source(c), handler, o, () => this.#live.delete(stop));
    stop = consumption.stop;
    this.#live.add(stop);
    return consumption;
  }

  async messages(stream: string, durable: string, opts?: ConsumeOptions): Promise<MessageStream> {
    this.#open();
    normalizeConsumeOptions(opts, false);
    const c = this.#consumer(stream, durable);
    let stop: () => Promise<void> = async () => undefined;
    const ms = messageStreamOf(this.#source(c), () => this.#live.delete(stop));
    stop = ms.stop;
    this.#live.add(stop);
    return ms;
  }

  /** Core routing: every plain subscriber, one member per queue group. Returns the recipient count. */
  #route(
    subject: string,
    data: Uint8Array,
    headers: Readonly<Record<string, string>>,
    reply: ((r: BusReply) => void) | undefined,
  ): number {
    const targets: CoreSub[] = [];
    const groups = new Map<string, CoreSub[]>();
    for (const s of this.#subs) {
      if (s.closed || !subjectMatches(s.pattern, subject)) continue;
      if (s.queue === undefined) targets.push(s);
      else {
        const g = groups.get(s.queue);
        if (g === undefined) groups.set(s.queue, [s]);
        else g.push(s);
      }
    }
    for (const g of groups.values()) {
      const pick = g[Math.floor(Math.random() * g.length)];
      if (pick !== undefined) targets.push(pick);
    }
    for (const t of targets) {
      // Deliver asynchronously, as over a network: no re-entrancy into the sender's call stack.
      const d: CoreDelivery = { subject, data: data.slice(), headers: { ...headers }, reply };
      setImmediate(() => {
        if (!t.closed) t.onMessage(d);
      });
    }
    return targets.length;
  }

  #register(
    pattern: string,
    queue: string | undefined,
    onMessage: (d: CoreDelivery) => Promise<void> | undefined,
  ) {
    const inflight = new Set<Promise<void>>();
    const sub: CoreSub = {
      pattern,
      queue,
      closed: false,
      onMessage: (d) => {
        const p = onMessage(d);
        if (p === undefined) return;
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      },
    };
    this.#subs.push(sub);
    const stop = async (): Promise<void> => {
      if (!sub.closed) {
        sub.closed = true;
        this.#subs = this.#subs.filter((s) => s !== sub);
        this.#live.delete(stop);
      }
      await Promise.allSettled([...inflight]);
    };
    this.#live.add(stop);
    return { stop, inflight };
  }

  async request(subject: string, data: Uint8Array, opts: RequestOptions): Promise<BusReply> {
    this.#open();
    checkSubject(subject);
    checkPayload(data, this.maxPayloadBytes, subject);
    const timeoutMs = checkTimeout("timeoutMs", opts?.timeoutMs);
    const headers = checkHeaders(opts.headers);
    return new Promise<BusReply>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new BusError("timeout", `no reply on ${subject} within ${timeoutMs} ms`));
      }, timeoutMs);
      const n = this.#route(subject, data, headers, (r) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const code = r.headers[ERROR_HEADER];
        if (code === undefined) resolve(r);
        else
          reject(
            new BusError(
              isBusErrorCode(code) ? code : "internal",
              `request on ${subject} failed remotely (${code})`,
            ),
          );
      });
      if (n === 0) {
        settled = true;
        clearTimeout(timer);
        reject(new BusError("unavailable", `no responders for ${subject}`));
      }
    });
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
    const reg = this.#register(subject, queue, (d) => {
      const reply = d.reply;
      if (reply === undefined) return undefined; // a plain emit on a served subject has nobody to answer
      if (reg.inflight.size >= maxInFlight) {
        reply(replyOf.error("unavailable"));
        return undefined;
      }
      const req: BusRequest = { subject: d.subject, data: d.data, headers: d.headers };
      return runServeHandler(handler, req, this.maxPayloadBytes, opts.onError).then(reply);
    });
    return { stop: reg.stop, [Symbol.asyncDispose]: reg.stop };
  }

  async emit(subject: string, data: Uint8Array, opts: { readonly headers?: BusHeaders } = {}): Promise<void> {
    this.#open();
    checkSubject(subject);
    checkPayload(data, this.maxPayloadBytes, subject);
    const headers = checkHeaders(opts.headers);
    const s = this.#streamFor(subject);
    if (s !== undefined) {
      try {
        this.#store(s, subject, data, headers, undefined);
      } catch {
        // As on NATS, a core publish the stream rejects (e.g. too large for it) is dropped silently.
      }
    }
    this.#route(subject, data, headers, undefined);
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
    const reg = this.#register(subject, queue, (d) =>
      (async () => {
        try {
          await handler({ subject: d.subject, data: d.data, headers: d.headers });
        } catch (err) {
          opts.onError?.(err);
        }
      })(),
    );
    return { stop: reg.stop, [Symbol.asyncDispose]: reg.stop };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#streams.values()) for (const c of s.consumers.values()) c.shutdown(undefined);
    await Promise.allSettled([...this.#live].map((stop) => stop()));
    this.#live.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates an in-process {@link Bus}: JetStream semantics without a server, for the embedded default
 * (all roles in one process) and for tests. State is lost when the process exits.
 */
export function createInProcessBus(opts: InProcessBusOptions = {}): Bus {
  return new InProcessBus(opts);
}
