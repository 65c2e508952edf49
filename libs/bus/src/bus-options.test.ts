import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BusError } from "./bus-error.js";
import {
  checkHeaders,
  checkMsgId,
  checkPayload,
  headerBlockBytes,
  normalizeConsumerSpec,
  normalizeStreamSpec,
  sameConsumerSpec,
  sameStreamSpec,
} from "./bus-options.js";

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof BusError ? err.code : "not a BusError";
  }
};

describe("stream specs", () => {
  it("fills JetStream defaults and compares ignoring subject order", () => {
    const a = normalizeStreamSpec({ name: "S", subjects: ["a.>", "b.*"] });
    assert.deepEqual(a, {
      name: "S",
      subjects: ["a.>", "b.*"],
      maxAgeMs: 0,
      duplicateWindowMs: 120_000,
      maxMsgSize: -1,
      maxMsgs: -1,
      replicas: 1,
      storage: "file",
    });
    assert.ok(sameStreamSpec(a, normalizeStreamSpec({ name: "S", subjects: ["b.*", "a.>"] })));
    assert.ok(!sameStreamSpec(a, normalizeStreamSpec({ name: "S", subjects: ["a.>"] })));
  });

  it("caps the default duplicate window by max age, as the server does", () => {
    assert.equal(normalizeStreamSpec({ name: "S", subjects: ["a"], maxAgeMs: 1000 }).duplicateWindowMs, 1000);
    assert.equal(
      code(() =>
        normalizeStreamSpec({ name: "S", subjects: ["a"], maxAgeMs: 1000, duplicateWindowMs: 2000 }),
      ),
      "invalid_argument",
    );
  });

  it("rejects bad limits and overlapping subjects within one stream", () => {
    const bad = [
      { name: "S", subjects: ["a.>", "a.b"] },
      { name: "S", subjects: ["a"], maxMsgs: 0 },
      { name: "S", subjects: ["a"], maxMsgSize: 1.5 },
      { name: "S", subjects: ["a"], replicas: 6 },
      { name: "S", subjects: ["a"], maxAgeMs: 50 },
      { name: "S", subjects: Array.from({ length: 65 }, (_, i) => `s${i}`) },
      { name: "S", subjects: ["a"], storage: "disk" as "file" },
    ];
    for (const s of bad)
      assert.equal(
        code(() => normalizeStreamSpec(s)),
        "invalid_argument",
        JSON.stringify(s).slice(0, 80),
      );
    assert.equal(normalizeStreamSpec({ name: "S", subjects: ["a"], maxMsgs: -1 }).maxMsgs, -1);
  });
});

describe("consumer specs", () => {
  it("fills defaults; backoff replaces the ack wait", () => {
    const c = normalizeConsumerSpec({ durable: "d" });
    assert.deepEqual(c, {
      durable: "d",
      filterSubject: "",
      ackWaitMs: 30_000,
      maxDeliver: -1,
      backoffMs: [],
      maxAckPending: 1000,
      deliverPolicy: "all",
    });
    const b = normalizeConsumerSpec({ durable: "d", backoffMs: [100, 1000], maxDeliver: 5 });
    assert.equal(b.ackWaitMs, 100);
    assert.ok(
      sameConsumerSpec(
        b,
        normalizeConsumerSpec({ durable: "d", backoffMs: [100, 1000], maxDeliver: 5, ackWaitMs: 100 }),
      ),
    );
    assert.ok(
      !sameConsumerSpec(b, normalizeConsumerSpec({ durable: "d", backoffMs: [100, 2000], maxDeliver: 5 })),
    );
  });

  it("rejects inconsistent or out-of-range settings", () => {
    const bad = [
      { durable: "d", backoffMs: [100], ackWaitMs: 200 },
      { durable: "d", backoffMs: [100, 200], maxDeliver: 2 },
      { durable: "d", backoffMs: [] },
      { durable: "d", backoffMs: [5] },
      { durable: "d", ackWaitMs: 0 },
      { durable: "d", maxDeliver: 0 },
      { durable: "d", maxAckPending: 0 },
      { durable: "d", filterSubject: "a.>.b" },
      { durable: "d", deliverPolicy: "last" as "all" },
      { durable: "d.e" },
    ];
    for (const s of bad)
      assert.equal(
        code(() => normalizeConsumerSpec(s)),
        "invalid_argument",
        JSON.stringify(s),
      );
  });
});

describe("message arguments", () => {
  it("checks headers: syntax, reserved prefixes, duplicates, bounds", () => {
    assert.deepEqual(checkHeaders({ "X-Trace": "abc", "Content-Type": "application/x-protobuf" }), {
      "X-Trace": "abc",
      "Content-Type": "application/x-protobuf",
    });
    const bad = [
      { "Nats-Expected-Stream": "S" },
      { "nats-msg-id": "x" },
      { "Lineage-Bus-Error": "internal" },
      { "Bad Key": "x" },
      { "Bad:Key": "x" },
      { "X-A": "line\nbreak" },
      { "X-A": "x".repeat(4097) },
      { "X-A": 1 as unknown as string },
      { "X-A": "1", "x-a": "2" },
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`H${i}`, "v"])),
    ];
    for (const h of bad)
      assert.equal(
        code(() => checkHeaders(h)),
        "invalid_argument",
        JSON.stringify(h).slice(0, 60),
      );
  });

  it("checks msgId and payload bounds", () => {
    assert.equal(checkMsgId("sketch:member-1:42"), "sketch:member-1:42");
    for (const bad of ["", "a b", "é", "x".repeat(257)])
      assert.equal(
        code(() => checkMsgId(bad)),
        "invalid_argument",
      );
    assert.equal(checkPayload(new Uint8Array(10), 10, "s").byteLength, 10);
    assert.equal(
      code(() => checkPayload(new Uint8Array(11), 10, "s")),
      "too_large",
    );
    assert.equal(
      code(() => checkPayload(Buffer.alloc(1).buffer, 10, "s")),
      "invalid_argument",
    );
  });

  it("sizes the NATS header block", () => {
    assert.equal(headerBlockBytes({}, undefined), 0);
    // "NATS/1.0\r\n" + "Nats-Msg-Id: abc\r\n" + "\r\n"
    assert.equal(headerBlockBytes({}, "abc"), 10 + 18 + 2);
  });
});
