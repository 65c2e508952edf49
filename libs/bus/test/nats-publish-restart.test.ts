// A JetStream publish survives a NATS restart (issue 12's alliance test: the first sketch published after
// the server came back timed out). On a private nats-server we stop and start ourselves: a publish made just
// after the restart, before the client has reconnected, and one made while the server is still down, both
// succeed once it is back, and the stream holds each message once (the retries carry the same msg id). The
// retry window is bounded, and a permanent failure (no stream) is not retried.

import assert from "node:assert/strict";
import { test } from "node:test";
import { type Bus, connectNatsBus, isBusError } from "../src/index.js";
import { missingNatsServer, privateNatsServer } from "./private-nats-server.js";
import { planServerTest } from "./server-required.js";

const plan = planServerTest(missingNatsServer());
const skip = plan.action === "skip" ? plan.reason : false;
const bytes = (s: string) => new TextEncoder().encode(s);

async function storedIds(bus: Bus, stream: string): Promise<number> {
  return (await bus.streamInfo(stream)).messages;
}

test("a JetStream publish right after a NATS restart succeeds, once, without the caller retrying", {
  skip,
  timeout: 90_000,
}, async () => {
  if (plan.action === "fail") assert.fail(plan.reason);
  await using server = await privateNatsServer();
  await server.start();
  const bus = await connectNatsBus({ servers: server.url, timeoutMs: 2000 });
  try {
    await bus.ensureStream({
      name: "PUBR",
      subjects: ["pubr.>"],
      storage: "file",
      duplicateWindowMs: 600_000,
    });
    await bus.publish("pubr.x", bytes("before"), { msgId: "m-before" });

    // 1. Restarted: the publish comes right after the server is back, before the client has reconnected.
    await server.stop();
    await server.start();
    const t0 = Date.now();
    const first = await bus.publish("pubr.x", bytes("after"), { msgId: "m-after" });
    assert.equal(first.duplicate, false);
    assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);

    // 2. Published while the server is down; it comes back 1.5 s later.
    await server.stop();
    const pending = bus.publish("pubr.x", bytes("during"), { msgId: "m-during" });
    await new Promise((r) => setTimeout(r, 1500));
    await server.start();
    const during = await pending;
    assert.equal(during.duplicate, false);

    // Each message stored once; a re-publish of one of them is a duplicate, not a new message.
    assert.equal(await storedIds(bus, "PUBR"), 3);
    const again = await bus.publish("pubr.x", bytes("during"), { msgId: "m-during" });
    assert.equal(again.duplicate, true);
    assert.equal(again.seq, during.seq);
    assert.equal(await storedIds(bus, "PUBR"), 3);

    // 3. Bounded: while the server stays down, a publish fails `unavailable` after its retry window.
    await server.stop();
    // A core publish (emit) while the server is down is kept by the client for the reconnect (at most once, as
    // ever): it is not refused, and its permission check waits for a live connection.
    await bus.emit("core.x", bytes("while down"));
    const t1 = Date.now();
    await assert.rejects(
      bus.publish("pubr.x", bytes("lost"), { msgId: "m-lost", retryForMs: 1000 }),
      (e) => isBusError(e, "unavailable") && /did not come back within 1000 ms/.test(e.message),
    );
    assert.ok(Date.now() - t1 < 5000, `gave up after ${Date.now() - t1} ms`);
    await assert.rejects(bus.publish("pubr.x", bytes("lost"), { msgId: "m-lost", retryForMs: 0 }), (e) =>
      isBusError(e, "unavailable"),
    );
    await server.start();

    // 4. A permanent failure is not retried: no stream captures the subject.
    const t2 = Date.now();
    await assert.rejects(bus.publish("nostream.x", bytes("x"), { msgId: "n-1" }), (e) =>
      isBusError(e, "not_found"),
    );
    assert.ok(Date.now() - t2 < 10_000, `not_found after ${Date.now() - t2} ms`);

    // Bad retry windows are refused before anything is sent.
    for (const retryForMs of [-1, 1.5, 300_001])
      await assert.rejects(bus.publish("pubr.x", bytes("x"), { retryForMs }), (e) =>
        isBusError(e, "invalid_argument"),
      );
  } finally {
    await bus.close();
  }
});
