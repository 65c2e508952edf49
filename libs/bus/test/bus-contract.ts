// The one contract suite every Bus implementation must pass (CONVENTIONS.md practice 13): run on the
// in-process bus (in-process-bus.test.ts) and on a real nats-server (nats-bus.test.ts). Timing asserts
// are lower bounds or generous deadlines only, so a loaded 2-core box cannot make them flaky.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it, test } from "node:test";
import { type Bus, BusError, type BusErrorCode, type BusMessage, type StreamSpec } from "../src/index.js";

/** Builds a fresh bus for one test. */
export type MakeBus = () => Promise<Bus>;

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);
const text = (b: Uint8Array): string => dec.decode(b);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until true; fails after `timeoutMs` with `what`. */
async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Polls async `cond` every 25 ms until true; fails after `timeoutMs` with `what`. */
async function eventually(what: string, cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Asserts `p` rejects with a BusError carrying `code`. */
async function rejectsWith(
  p: Promise<unknown> | (() => Promise<unknown>),
  code: BusErrorCode,
): Promise<BusError> {
  let caught: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BusError, `expected BusError(${code}), got ${String(caught)}`);
  assert.equal(caught.code, code, `expected code ${code}, got ${caught.code}: ${caught.message}`);
  assert.equal(caught.name, "BusError");
  assert.equal(caught.retryable, code === "timeout" || code === "unavailable");
  return caught;
}

interface Delivery {
  readonly seq: number;
  readonly count: number;
  readonly at: number;
  readonly data: string;
  readonly subject: string;
}

/** One test's bus plus unique names; deletes its streams and closes the bus on dispose. */
interface Fixture extends AsyncDisposable {
  readonly bus: Bus;
  /** Unique stream name for key `k`. */
  name(k: string): string;
  /** Unique subject under key `k`. */
  subj(k: string, ...rest: string[]): string;
  /** Creates a stream capturing `subj(k).>` (memory storage unless overridden), tracked for deletion. */
  stream(k: string, extra?: Partial<StreamSpec>): Promise<string>;
}

async function fixture(makeBus: MakeBus): Promise<Fixture> {
  const bus = await makeBus();
  const suffix = randomBytes(5).toString("hex");
  const streams = new Set<string>();
  const name = (k: string): string => `T_${k}_${suffix}`;
  const subj = (k: string, ...rest: string[]): string => ["t", suffix, k, ...rest].join(".");
  return {
    bus,
    name,
    subj,
    async stream(k, extra = {}) {
      const n = name(k);
      streams.add(n);
      await bus.ensureStream({ name: n, subjects: [subj(k, ">")], storage: "memory", ...extra });
      return n;
    },
    async [Symbol.asyncDispose]() {
      for (const s of streams) await bus.deleteStream(s).catch(() => undefined);
      await bus.close();
    },
  };
}

/**
 * Registers the Bus contract tests under `describe(name)`. `skip` (a reason) registers one visibly
 * skipped test in their place instead, so the run's summary counts it (a skipped `describe` counts as
 * no test at all and reads like a pass).
 */
export function busContract(name: string, makeBus: MakeBus, skip?: string): void {
  if (skip !== undefined) {
    test(`Bus contract: ${name}`, { skip }, () => {});
    return;
  }
  describe(`Bus contract: ${name}`, () => {
    it("ensureStream is idempotent, updates changed limits, and rejects overlapping subjects", async () => {
      await using f = await fixture(makeBus);
      const spec: StreamSpec = { name: f.name("idem"), subjects: [f.subj("idem", ">")], maxMsgs: 100 };
      await f.stream("idem", { maxMsgs: 100, storage: "file" });
      assert.deepEqual(await f.bus.ensureStream(spec), { name: spec.name, action: "unchanged" });
      assert.deepEqual(await f.bus.ensureStream({ ...spec, storage: "file" }), {
        name: spec.name,
        action: "unchanged",
      });
      assert.equal((await f.bus.ensureStream({ ...spec, maxMsgs: 200 })).action, "updated");
      assert.equal((await f.bus.ensureStream({ ...spec, maxMsgs: 200 })).action, "unchanged");
      // Another stream claiming an overlapping subject is a conflict, not a silent merge.
      await rejectsWith(
        f.bus.ensureStream({
          name: f.name("other"),
          subjects: [f.subj("idem", "x", "*")],
          storage: "memory",
        }),
        "conflict",
      );
      await rejectsWith(f.bus.ensureStream({ name: "bad.name", subjects: ["a.b"] }), "invalid_argument");
      await rejectsWith(f.bus.ensureStream({ name: f.name("x"), subjects: ["a.>.b"] }), "invalid_argument");
      await rejectsWith(f.bus.ensureStream({ name: f.name("x"), subjects: [] }), "invalid_argument");
      await rejectsWith(f.bus.ensureStream({ ...spec, storage: "memory" }), "conflict");
      await rejectsWith(f.bus.streamInfo(f.name("absent")), "not_found");
      assert.equal(await f.bus.deleteStream(f.name("absent")), false);
    });

    it("publishes and delivers in stream order with subject, data, headers and msgId intact", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("order");
      const n = 25;
      for (let i = 1; i <= n; i++) {
        const ack = await f.bus.publish(f.subj("order", i % 2 ? "odd" : "even"), bytes(`m${i}`), {
          msgId: `id-${i}`,
          headers: { "X-Index": String(i) },
          expectedStream: stream,
        });
        assert.deepEqual(ack, { stream, seq: i, duplicate: false });
      }
      await f.bus.ensureConsumer(stream, { durable: "all" });
      const got: BusMessage[] = [];
      const c = await f.bus.consume(stream, "all", (m) => {
        got.push(m);
      });
      await until("all messages", () => got.length >= n);
      await c.stop();
      await c.done;
      assert.deepEqual(
        got.map((m) => m.seq),
        Array.from({ length: n }, (_, i) => i + 1),
      );
      const m7 = got[6];
      assert.ok(m7);
      assert.equal(m7.stream, stream);
      assert.equal(m7.subject, f.subj("order", "odd"));
      assert.equal(text(m7.data), "m7");
      assert.deepEqual(m7.headers, { "X-Index": "7" });
      assert.equal(m7.msgId, "id-7");
      assert.equal(m7.deliveryCount, 1);
      assert.ok(
        got.every((m) => m.settled),
        "handler form acks on success",
      );
      // Acks are fire-and-forget on NATS: poll until the server has recorded them all.
      await eventually("all acked", async () => {
        const info = await f.bus.consumerInfo(stream, "all");
        return info.numPending === 0 && info.numAckPending === 0 && info.ackFloorSeq === n;
      });
    });

    it("acknowledges a repeated msgId inside the duplicate window as a duplicate and stores it once", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("dedup", { duplicateWindowMs: 60_000 });
      const s = f.subj("dedup", "a");
      const first = await f.bus.publish(s, bytes("one"), { msgId: "same" });
      const again = await f.bus.publish(s, bytes("one-again"), { msgId: "same" });
      const other = await f.bus.publish(s, bytes("two"), { msgId: "other" });
      assert.deepEqual(first, { stream, seq: 1, duplicate: false });
      assert.equal(again.duplicate, true);
      assert.equal(again.stream, stream);
      assert.deepEqual(other, { stream, seq: 2, duplicate: false });
      const info = await f.bus.streamInfo(stream);
      assert.equal(info.messages, 2);
      assert.equal(info.lastSeq, 2);
    });

    it("redelivers after nak, honouring the nak delay", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("nak");
      // Long ack wait: any redelivery here comes from the nak, not from ack-wait expiry.
      await f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 20_000 });
      await f.bus.publish(f.subj("nak", "x"), bytes("a"));
      await f.bus.publish(f.subj("nak", "y"), bytes("b"));
      const seen: Delivery[] = [];
      const c = await f.bus.consume(
        stream,
        "d",
        (m) => {
          seen.push({
            seq: m.seq,
            count: m.deliveryCount,
            at: Date.now(),
            data: text(m.data),
            subject: m.subject,
          });
          if (m.deliveryCount === 1) m.nak(m.seq === 1 ? 500 : undefined);
        },
        { concurrency: 2 },
      );
      await until("both redelivered", () => seen.filter((d) => d.count === 2).length === 2, 10_000);
      await c.stop();
      const first = seen.find((d) => d.seq === 1 && d.count === 1);
      const second = seen.find((d) => d.seq === 1 && d.count === 2);
      assert.ok(first && second);
      assert.ok(second.at - first.at >= 450, `nak delay honoured (${second.at - first.at} ms)`);
      assert.equal(seen.filter((d) => d.count > 2).length, 0);
    });

    it("redelivers an unacked message after the ack wait", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("ackwait");
      await f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 300 });
      await f.bus.publish(f.subj("ackwait", "x"), bytes("a"));
      const seen: Delivery[] = [];
      const ms = await f.bus.messages(stream, "d");
      for await (const m of ms) {
        seen.push({
          seq: m.seq,
          count: m.deliveryCount,
          at: Date.now(),
          data: text(m.data),
          subject: m.subject,
        });
        if (m.deliveryCount === 2) {
          m.ack();
          break;
        }
        // First delivery: neither ack nor nak; the server must redeliver after ack wait.
      }
      assert.equal(seen.length, 2);
      const [a, b] = seen;
      assert.ok(a && b);
      assert.equal(b.seq, a.seq);
      assert.ok(b.at - a.at >= 250, `redelivered after ack wait (${b.at - a.at} ms)`);
    });

    it("term stops redelivery", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("term");
      await f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 200 });
      await f.bus.publish(f.subj("term", "x"), bytes("poison"));
      await f.bus.publish(f.subj("term", "x"), bytes("fine"));
      const seen: Delivery[] = [];
      const c = await f.bus.consume(stream, "d", (m) => {
        seen.push({
          seq: m.seq,
          count: m.deliveryCount,
          at: Date.now(),
          data: text(m.data),
          subject: m.subject,
        });
        if (text(m.data) === "poison") m.term("poison message");
      });
      await until("both delivered", () => seen.length >= 2);
      await sleep(900); // several ack waits
      await c.stop();
      assert.deepEqual(
        seen.map((d) => [d.data, d.count]),
        [
          ["poison", 1],
          ["fine", 1],
        ],
      );
      await eventually(
        "no ack pending",
        async () => (await f.bus.consumerInfo(stream, "d")).numAckPending === 0,
      );
    });

    it("stops delivering after maxDeliver", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("maxdel");
      await f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 200, maxDeliver: 3 });
      await f.bus.publish(f.subj("maxdel", "x"), bytes("always fails"));
      const counts: number[] = [];
      const c = await f.bus.consume(stream, "d", (m) => {
        counts.push(m.deliveryCount);
        m.nak();
      });
      await until("three deliveries", () => counts.length >= 3);
      await sleep(800);
      await c.stop();
      assert.deepEqual(counts, [1, 2, 3]);
    });

    it("spaces ack-wait redeliveries by backoffMs", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("backoff");
      await f.bus.ensureConsumer(stream, { durable: "d", backoffMs: [150, 600], maxDeliver: 3 });
      await f.bus.ensureConsumer(stream, { durable: "d", backoffMs: [150, 600], maxDeliver: 3 }); // idempotent
      await f.bus.publish(f.subj("backoff", "x"), bytes("slow"));
      const at: number[] = [];
      const ms = await f.bus.messages(stream, "d");
      for await (const m of ms) {
        at.push(Date.now());
        if (m.deliveryCount === 3) break; // never settled: redelivery comes from the backoff schedule
      }
      const [t1, t2, t3] = at;
      assert.ok(t1 !== undefined && t2 !== undefined && t3 !== undefined);
      assert.ok(t2 - t1 >= 100, `first redelivery after backoff[0] (${t2 - t1} ms)`);
      assert.ok(t3 - t2 >= 500, `second redelivery after backoff[1] (${t3 - t2} ms)`);
    });

    it("keeps the durable position when a consumer is stopped and restarted", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("durable");
      await f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 300 });
      for (let i = 1; i <= 6; i++) await f.bus.publish(f.subj("durable", "x"), bytes(`m${i}`));
      const firstRun: number[] = [];
      const ms1 = await f.bus.messages(stream, "d");
      for await (const m of ms1) {
        firstRun.push(m.seq);
        m.ack();
        if (firstRun.length === 3) break;
      }
      assert.deepEqual(firstRun, [1, 2, 3]);
      const secondRun = new Set<number>();
      const all: number[] = [];
      const c = await f.bus.consume(stream, "d", (m) => {
        all.push(m.seq);
        secondRun.add(m.seq);
      });
      await until("remaining messages", () => secondRun.size >= 3, 10_000);
      await sleep(400); // an acked message reappearing would show up here
      await c.stop();
      assert.deepEqual(
        [...secondRun].sort((a, b) => a - b),
        [4, 5, 6],
      );
      assert.ok(
        all.every((s) => s > 3),
        "acked messages are not redelivered",
      );
      const info = await f.bus.consumerInfo(stream, "d");
      assert.equal(info.numPending, 0);
      assert.equal(info.deliveredSeq, 6);
    });

    it("delivers only messages matching the consumer's filterSubject", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("filter");
      await f.bus.ensureConsumer(stream, { durable: "d", filterSubject: f.subj("filter", "keep", "*") });
      for (const k of ["keep.1", "drop.1", "keep.2", "keep.2.deep", "drop.2"]) {
        await f.bus.publish(f.subj("filter", ...k.split(".")), bytes(k));
      }
      const got: string[] = [];
      const c = await f.bus.consume(stream, "d", (m) => {
        got.push(text(m.data));
      });
      await until("matching messages", () => got.length >= 2);
      await sleep(200);
      await c.stop();
      assert.deepEqual(got, ["keep.1", "keep.2"]);
    });

    it("handler form: retryable errors nak and redeliver, others term", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("disp");
      await f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 5000 });
      await f.bus.publish(f.subj("disp", "x"), bytes("transient"));
      await f.bus.publish(f.subj("disp", "x"), bytes("bad-input"));
      await f.bus.publish(f.subj("disp", "x"), bytes("bug"));
      const seen: string[] = [];
      const reported: string[] = [];
      const c = await f.bus.consume(
        stream,
        "d",
        (m) => {
          const d = text(m.data);
          seen.push(`${d}#${m.deliveryCount}`);
          if (d === "transient" && m.deliveryCount === 1) throw new BusError("unavailable", "try later");
          if (d === "bad-input") throw new BusError("invalid_argument", "malformed");
          if (d === "bug") throw new TypeError("oops");
        },
        { retryDelayMs: 50, onError: (_e, m, disp) => reported.push(`${text(m.data)}:${disp}`) },
      );
      await until("transient retried", () => seen.includes("transient#2"));
      await sleep(300);
      await c.stop();
      assert.deepEqual(seen.sort(), ["bad-input#1", "bug#1", "transient#1", "transient#2"]);
      assert.deepEqual(reported.sort(), ["bad-input:term", "bug:term", "transient:nak"]);
      await eventually(
        "no ack pending",
        async () => (await f.bus.consumerInfo(stream, "d")).numAckPending === 0,
      );
    });

    it("ensureConsumer is idempotent and reports missing streams and consumers", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("cons");
      await f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 1000, maxDeliver: 5 });
      await f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 1000, maxDeliver: 5 });
      await f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 2000, maxDeliver: 5 });
      await rejectsWith(
        f.bus.ensureConsumer(stream, { durable: "d", ackWaitMs: 2000, maxDeliver: 5, deliverPolicy: "new" }),
        "conflict",
      );
      await rejectsWith(f.bus.ensureConsumer(f.name("nostream"), { durable: "d" }), "not_found");
      await rejectsWith(
        f.bus.consume(stream, "missing", () => undefined),
        "not_found",
      );
      await rejectsWith(f.bus.messages(stream, "missing"), "not_found");
      await rejectsWith(f.bus.consumerInfo(stream, "missing"), "not_found");
      await rejectsWith(f.bus.ensureConsumer(stream, { durable: "bad name" }), "invalid_argument");
      await rejectsWith(
        f.bus.ensureConsumer(stream, { durable: "b", backoffMs: [100, 200], maxDeliver: 2 }),
        "invalid_argument",
      );
      assert.equal(await f.bus.deleteConsumer(stream, "d"), true);
      assert.equal(await f.bus.deleteConsumer(stream, "d"), false);
    });

    it("rejects publishes nobody stores, wrong expected streams, and malformed arguments", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("pub");
      await rejectsWith(f.bus.publish(f.subj("nostream", "x"), bytes("x")), "not_found");
      await rejectsWith(
        f.bus.publish(f.subj("pub", "x"), bytes("x"), { expectedStream: f.name("other") }),
        "conflict",
      );
      await rejectsWith(f.bus.publish(f.subj("pub", "*"), bytes("x")), "invalid_argument");
      await rejectsWith(f.bus.publish("bad subject", bytes("x")), "invalid_argument");
      await rejectsWith(
        f.bus.publish(f.subj("pub", "x"), bytes("x"), { msgId: "has space" }),
        "invalid_argument",
      );
      await rejectsWith(
        f.bus.publish(f.subj("pub", "x"), bytes("x"), { headers: { "Nats-Msg-Id": "forged" } }),
        "invalid_argument",
      );
      await rejectsWith(
        f.bus.publish(f.subj("pub", "x"), bytes("x"), { headers: { "X-A": "a\r\nb" } }),
        "invalid_argument",
      );
      await rejectsWith(
        f.bus.publish(f.subj("pub", "x"), "text" as unknown as Uint8Array),
        "invalid_argument",
      );
      assert.equal((await f.bus.streamInfo(stream)).messages, 0);
    });

    it("rejects oversize payloads before sending, and messages above a stream's maxMsgSize", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("size", { maxMsgSize: 1000 });
      const big = new Uint8Array(f.bus.maxPayloadBytes + 1);
      await rejectsWith(f.bus.publish(f.subj("size", "x"), big), "too_large");
      await rejectsWith(f.bus.request(f.subj("size", "rpc"), big, { timeoutMs: 1000 }), "too_large");
      await rejectsWith(f.bus.emit(f.subj("size", "evt"), big), "too_large");
      await rejectsWith(f.bus.publish(f.subj("size", "x"), new Uint8Array(2000)), "too_large");
      assert.equal((await f.bus.publish(f.subj("size", "x"), new Uint8Array(500))).seq, 1);
      assert.equal((await f.bus.streamInfo(stream)).messages, 1);
    });

    it("request-reply: replies, remote error codes, timeout, and no responders", async () => {
      await using f = await fixture(makeBus);
      const svc = await f.bus.serve(f.subj("rpc", "*"), async (req) => {
        const op = req.subject.split(".").at(-1);
        if (op === "echo")
          return { data: bytes(`echo:${text(req.data)}`), headers: { "X-Got": req.headers["X-Ask"] ?? "" } };
        if (op === "fail") throw new BusError("conflict", "secret detail that must not cross the wire");
        if (op === "crash") throw new Error("secret detail");
        if (op === "slow") await sleep(800);
        return new Uint8Array(0);
      });
      const r = await f.bus.request(f.subj("rpc", "echo"), bytes("hi"), {
        timeoutMs: 2000,
        headers: { "X-Ask": "q" },
      });
      assert.equal(text(r.data), "echo:hi");
      assert.equal(r.headers["X-Got"], "q");
      const remote = await rejectsWith(
        f.bus.request(f.subj("rpc", "fail"), bytes(""), { timeoutMs: 2000 }),
        "conflict",
      );
      assert.ok(!remote.message.includes("secret"), "only the code crosses the wire");
      const crash = await rejectsWith(
        f.bus.request(f.subj("rpc", "crash"), bytes(""), { timeoutMs: 2000 }),
        "internal",
      );
      assert.ok(!crash.message.includes("secret"));
      const t0 = Date.now();
      await rejectsWith(f.bus.request(f.subj("rpc", "slow"), bytes(""), { timeoutMs: 200 }), "timeout");
      assert.ok(Date.now() - t0 < 750, "timeout fires before the slow handler answers");
      await rejectsWith(
        f.bus.request(f.subj("nobody", "home"), bytes(""), { timeoutMs: 2000 }),
        "unavailable",
      );
      await rejectsWith(
        f.bus.request(f.subj("rpc", "echo"), bytes(""), { timeoutMs: 0 }),
        "invalid_argument",
      );
      await svc.stop();
      await rejectsWith(f.bus.request(f.subj("rpc", "echo"), bytes(""), { timeoutMs: 2000 }), "unavailable");
    });

    it("queue groups split requests between replicas; plain subscribers all see fan-out", async () => {
      await using f = await fixture(makeBus);
      const hits = { a: 0, b: 0 };
      const mk = (k: "a" | "b") =>
        f.bus.serve(
          f.subj("q", "work"),
          () => {
            hits[k]++;
            return bytes(k);
          },
          { queue: "workers" },
        );
      await using _a = await mk("a");
      await using _b = await mk("b");
      const n = 40;
      const replies = await Promise.all(
        Array.from({ length: n }, () =>
          f.bus.request(f.subj("q", "work"), bytes("job"), { timeoutMs: 5000 }),
        ),
      );
      assert.equal(replies.length, n);
      assert.equal(hits.a + hits.b, n, "each request handled by exactly one member");
      assert.ok(hits.a > 0 && hits.b > 0, `work is shared (${hits.a}/${hits.b})`);

      const seen: string[] = [];
      await using _s1 = await f.bus.subscribe(f.subj("alerts", ">"), (e) => {
        seen.push(`1:${text(e.data)}:${e.headers["X-Sev"]}`);
      });
      await using _s2 = await f.bus.subscribe(f.subj("alerts", "*"), (e) => {
        seen.push(`2:${text(e.data)}`);
      });
      await f.bus.emit(f.subj("alerts", "case"), bytes("hit"), { headers: { "X-Sev": "high" } });
      await until("both subscribers", () => seen.length >= 2);
      assert.deepEqual(seen.sort(), ["1:hit:high", "2:hit"]);
    });

    it("deleting the consumer ends a running consumption with not_found", async () => {
      await using f = await fixture(makeBus);
      const stream = await f.stream("del");
      await f.bus.ensureConsumer(stream, { durable: "d" });
      const c = await f.bus.consume(stream, "d", () => undefined);
      await sleep(100); // the pull is outstanding
      assert.equal(await f.bus.deleteConsumer(stream, "d"), true);
      const outcome = await Promise.race([
        c.done.then(
          () => "resolved",
          (err: unknown) => (err instanceof BusError ? err.code : String(err)),
        ),
        sleep(8000).then(() => "still running"),
      ]);
      assert.equal(outcome, "not_found");
    });

    it("close drains and makes later calls fail unavailable", async () => {
      const f = await fixture(makeBus);
      const stream = await f.stream("close");
      await f.bus.ensureConsumer(stream, { durable: "d" });
      const c = await f.bus.consume(stream, "d", () => undefined);
      const ms = await f.bus.messages(stream, "d");
      await f.bus.deleteStream(stream);
      await f.bus.close();
      await c.done.catch(() => undefined); // ended by close (or by the stream deletion)
      const it = ms[Symbol.asyncIterator]();
      assert.equal((await it.next().catch(() => ({ done: true }))).done, true);
      await rejectsWith(f.bus.publish(f.subj("close", "x"), bytes("x")), "unavailable");
      await f.bus.close(); // idempotent
      await f[Symbol.asyncDispose]();
    });
  });
}
