// A durable consumer's position survives the NATS connection dropping and coming back: a private
// nats-server (JetStream, file store in a temp dir) is stopped mid-consumption and restarted on the
// same port and store. Needs the nats-server binary (LINEAGE_TEST_NATS_SERVER_BIN, default on PATH);
// without it the test fails in CI (any truthy CI) and shows as skipped with the reason otherwise.

import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connectNatsBus } from "../src/index.js";
import { planServerTest } from "./server-required.js";

const bin = process.env.LINEAGE_TEST_NATS_SERVER_BIN ?? "nats-server";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function missingBinary(): string | undefined {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return r.status === 0
    ? undefined
    : `nats-server binary not runnable (${bin}): ${r.error?.message ?? r.stderr}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === "object" && addr !== null ? resolve(addr.port) : reject(new Error("no port")),
      );
    });
  });
}

/** A private nats-server we can stop and restart on the same port and store; disposed with the test. */
async function privateServer(): Promise<
  AsyncDisposable & { url: string; start(): Promise<void>; stop(): Promise<void> }
> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "lineage-bus-nats-"));
  let proc: ChildProcess | undefined;
  const up = async (): Promise<boolean> =>
    new Promise((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(true)); // port taken: the server is listening
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(false)));
    });
  const server = {
    url: `nats://127.0.0.1:${port}`,
    async start() {
      proc = spawn(bin, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], { stdio: "ignore" });
      const deadline = Date.now() + 10_000;
      while (!(await up())) {
        if (Date.now() > deadline) throw new Error("private nats-server did not start");
        await sleep(50);
      }
      await sleep(200); // JetStream finishes recovering its store after the listener opens
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (p === undefined || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await exited;
    },
    async [Symbol.asyncDispose]() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

const plan = planServerTest(missingBinary());
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
