/**
 * One hub ingestion replica for bench/hub.ts (run as its own process, as replicas are deployed): opens the
 * hub's Postgres schema and log, joins the shared JetStream consumer when told "go" on stdin, and on "stop"
 * prints what it indexed, the CPU it used and the batch commits it ran as one JSON line; meanwhile one {"indexed", "at"} line each time its
 * count grows. Configuration comes from BENCH_HUB_WORKER
 * (JSON: pgUrl, schema, natsUrl, origin, hubKeyPkcs8Hex, stream, durable, subjects).
 */
import { createInterface } from "node:readline";
import { connectNatsBus } from "@lineage/bus";
import { Ed25519PrivateKey, fromHex } from "@lineage/crypto";
import {
  EpochStore,
  logMemberDirectory,
  SketchIngestor,
  startSketchConsumer,
  TransparencyLog,
} from "@lineage/hub";
import { type HubDatabase, openStore } from "@lineage/store";

const cfg = JSON.parse(process.env.BENCH_HUB_WORKER ?? "{}") as Record<string, string>;
const store = await openStore<HubDatabase>({
  kind: "postgres",
  url: cfg.pgUrl as string,
  schema: cfg.schema as string,
  poolMax: 4,
});
const hubKey = Ed25519PrivateKey.fromPkcs8(fromHex(cfg.hubKeyPkcs8Hex as string));
const log = await TransparencyLog.open({ store, origin: cfg.origin as string, hubKey });
const bus = await connectNatsBus({ servers: cfg.natsUrl as string, name: "bench-hub-worker" });
const ingestor = new SketchIngestor({
  store,
  epochs: new EpochStore(store),
  members: logMemberDirectory(log),
  batch: { maxBatch: 500, maxDelayMs: 10, maxInFlight: 2 },
});
process.stdout.write("ready\n");
let consumption: Awaited<ReturnType<typeof startSketchConsumer>> | undefined;
let cpu0 = process.cpuUsage();
let progress: NodeJS.Timeout | undefined;
let reported = 0;
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "go") {
    cpu0 = process.cpuUsage();
    // Progress as the count grows, stamped when seen (within 5 ms of the commit that made it).
    progress = setInterval(() => {
      const n = ingestor.metrics.snapshot().indexed;
      if (n === reported) return;
      reported = n;
      process.stdout.write(
        `${JSON.stringify({ indexed: n, at: performance.timeOrigin + performance.now() })}\n`,
      );
    }, 5);
    consumption = await startSketchConsumer(bus, ingestor, {
      stream: cfg.stream as string,
      durable: cfg.durable as string,
      subjects: cfg.subjects as string,
      concurrency: 256,
    });
  } else if (line === "stop") {
    clearInterval(progress);
    await consumption?.stop();
    const cpu = process.cpuUsage(cpu0);
    const m = ingestor.metrics.snapshot();
    process.stdout.write(
      `${JSON.stringify({ indexed: m.indexed, rejected: m.rejectedTotal, cpuMs: (cpu.user + cpu.system) / 1000, commits: m.commits })}\n`,
    );
    break;
  }
}
await log.close();
await bus.close();
await store.close();
process.exit(0);
