// Throughput and latency of the Bus implementations: sequential publish (ack latency), pipelined
// publish, durable consumption, and request-reply round trips. Prints a table and one JSON line.
// Run: node --conditions=lineage-source --import tsx libs/bus/bench/bus-throughput.ts
// NATS is measured when LINEAGE_TEST_NATS_URL (default nats://127.0.0.1:4222) is reachable.

import { randomBytes } from "node:crypto";
import { type Bus, connectNatsBus, createInProcessBus } from "../src/index.js";

const N = Number(process.env.BUS_BENCH_N ?? 5000);
const PAYLOAD = 512;
const url = process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

async function measure(kind: string, bus: Bus): Promise<Record<string, number | string>> {
  const sfx = randomBytes(4).toString("hex");
  const stream = `BENCH_${sfx}`;
  const subj = `bench.${sfx}`;
  const data = randomBytes(PAYLOAD);
  await bus.ensureStream({ name: stream, subjects: [`${subj}.>`], storage: "memory" });
  try {
    const lat: number[] = [];
    let t = performance.now();
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await bus.publish(`${subj}.seq`, data, { msgId: `s${i}` });
      lat.push(performance.now() - t0);
    }
    const seqPerSec = N / ((performance.now() - t) / 1000);
    lat.sort((a, b) => a - b);

    t = performance.now();
    const window = 128;
    for (let i = 0; i < N; i += window) {
      const batch = [];
      for (let j = i; j < Math.min(N, i + window); j++)
        batch.push(bus.publish(`${subj}.pipe`, data, { msgId: `p${j}` }));
      await Promise.all(batch);
    }
    const pipePerSec = N / ((performance.now() - t) / 1000);

    await bus.ensureConsumer(stream, { durable: "bench", ackWaitMs: 30_000 });
    let got = 0;
    t = performance.now();
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    const c = await bus.consume(
      stream,
      "bench",
      () => {
        if (++got === 2 * N) resolveDone();
      },
      { concurrency: 16, prefetch: 64 },
    );
    await done;
    const consumePerSec = (2 * N) / ((performance.now() - t) / 1000);
    await c.stop();

    const svc = await bus.serve(`${subj}.rpc`, (req) => req.data);
    const rtt: number[] = [];
    for (let i = 0; i < Math.min(N, 2000); i++) {
      const t0 = performance.now();
      await bus.request(`${subj}.rpc`, data, { timeoutMs: 5000 });
      rtt.push(performance.now() - t0);
    }
    await svc.stop();
    rtt.sort((a, b) => a - b);
    return {
      kind,
      n: N,
      payloadBytes: PAYLOAD,
      publishSeqPerSec: Math.round(seqPerSec),
      publishAckP50Ms: +pct(lat, 0.5).toFixed(3),
      publishAckP99Ms: +pct(lat, 0.99).toFixed(3),
      publishPipelinedPerSec: Math.round(pipePerSec),
      consumePerSec: Math.round(consumePerSec),
      requestP50Ms: +pct(rtt, 0.5).toFixed(3),
      requestP99Ms: +pct(rtt, 0.99).toFixed(3),
    };
  } finally {
    await bus.deleteStream(stream).catch(() => undefined);
  }
}

const results: Record<string, number | string>[] = [];
{
  await using bus = createInProcessBus();
  results.push(await measure("in-process", bus));
}
try {
  await using bus = await connectNatsBus({
    servers: url,
    name: "lineage-bus-bench",
    maxReconnectAttempts: 0,
  });
  results.push(await measure("nats", bus));
} catch (err) {
  console.error(`nats skipped: ${(err as Error).message}`);
}
for (const r of results) {
  console.log(
    `${String(r.kind).padEnd(10)} publish ${r.publishSeqPerSec}/s seq (ack p50 ${r.publishAckP50Ms} ms, p99 ${r.publishAckP99Ms} ms), ` +
      `${r.publishPipelinedPerSec}/s pipelined; consume ${r.consumePerSec}/s; request p50 ${r.requestP50Ms} ms, p99 ${r.requestP99Ms} ms`,
  );
}
console.log(JSON.stringify({ bench: "bus-throughput", results }));
