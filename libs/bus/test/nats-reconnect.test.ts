// A durable consumer's position survives the NATS connection dropping and coming back: a private
// nats-server (JetStream, file store in a temp dir) is stopped mid-consumption and restarted on the
// same port and store. Needs the nats-server binary (LINEAGE_TEST_NATS_SERVER_BIN, default on PATH);
// without it the test fails in CI (any truthy CI) and shows as skipped with the reason otherwise.

import assert from "node:assert/strict";
import { test } from "node:test";
import { connectNatsBus } from "../src/index.js";
import { missingNatsServer, privateNatsServer as privateServer } from "./private-nats-server.js";
import { planServerTest } from "./server-required.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const plan = planServerTest(missingNatsServer());
const skip = plan.action === "skip" ? plan.reason : false;

test("durable consumer position survives a server restart and reconnect", {
  skip,
  timeout: 60_000,
}, async () => {
  if (plan.action === "fail") assert.fail(plan.reason);
  await using server = await privateServer();
  await server.start();
  const bus = await connectNatsBus({ servers: server.url, timeoutMs: 2000 });
  try {
    await bus.ensureStream({ name: "RECON", subjects: ["recon.>"], storage: "file" });
    await bus.ensureConsumer("RECON", { durable: "d", ackWaitMs: 500 });
    for (let i = 1; i <= 4; i++) await bus.publish("recon.x", new TextEncoder().encode(`m${i}`));
    const seen: number[] = [];
    const c = await bus.consume("RECON", "d", (m) => {
      seen.push(m.seq);
    });
    const until = async (what: string, cond: () => boolean, ms = 20_000) => {
      const deadline = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what} (seen ${seen.join(",")})`);
        await sleep(25);
      }
    };
    await until("first four", () => seen.length >= 4);
    await sleep(300); // let the acks reach the server before it goes away

    await server.stop();
    await server.start();

    // Same client, same consumption: after reconnect it continues from the durable position.
    let published = false;
    const deadline = Date.now() + 20_000;
    while (!published) {
      try {
        for (let i = 5; i <= 6; i++)
          await bus.publish("recon.x", new TextEncoder().encode(`m${i}`), { msgId: `m${i}` });
        published = true;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(200); // reconnecting: publish fails retryably until the client is back
      }
    }
    await until("messages after reconnect", () => seen.includes(5) && seen.includes(6));
    await c.stop();
    assert.deepEqual(
      [...new Set(seen)].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6],
    );
    assert.ok(
      seen.slice(4).every((s) => s >= 5),
      `acked messages are not redelivered after the restart (seen ${seen.join(",")})`,
    );
  } finally {
    await bus.close();
  }
});
