/**
 * Checkpoint gossip on a real nats-server (LINEAGE_TEST_NATS_URL, default nats://127.0.0.1:4222): the hub
 * publishes each cosigned checkpoint on `lineage.checkpoint.<origin token>`, and another connection — a
 * monitor, an auditor, another witness — receives the note with the witness's cosignature, which it verifies
 * itself. Unreachable server: a visible skip outside CI, a failure under any truthy CI.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SuspectSource } from "@lineage/api";
import { connectNatsBus } from "@lineage/bus";
import {
  Ed25519PrivateKey,
  openCheckpoint,
  parseCosignatureVerifierKey,
  parseVerifierKey,
} from "@lineage/crypto";
import { checkpointSubject, startWitnessing, TransparencyLog } from "@lineage/hub";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { startWitnessServer, Witness, WitnessState } from "../src/index.js";

const url = process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const CI_FALSE = new Set(["", "0", "false", "no", "off"]);
const inCi = process.env.CI !== undefined && !CI_FALSE.has(process.env.CI.trim().toLowerCase());

async function probe(): Promise<string | undefined> {
  try {
    const bus = await connectNatsBus({ servers: url, timeoutMs: 2000, maxReconnectAttempts: 0 });
    await bus.close();
    return undefined;
  } catch (err) {
    return `NATS not reachable at ${url}: ${(err as Error).message}`;
  }
}
const missing = await probe();
if (missing !== undefined && inCi) {
  test("NATS server is reachable (required in CI)", () => {
    throw new Error(missing);
  });
}

test("cosigned checkpoints are gossiped on NATS lineage.checkpoint.<origin token>", {
  skip: missing !== undefined && !inCi ? missing : false,
}, async () => {
  if (missing !== undefined) return;
  // A fresh origin per run: the subject is this test's alone.
  const origin = `lineage.test-${randomBytes(6).toString("hex")}/log`;
  const dir = await mkdtemp(join(tmpdir(), "lineage-gossip-"));
  const store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const log = await TransparencyLog.open({
    store,
    origin,
    hubKey: Ed25519PrivateKey.generate(),
    checkpointEvery: 1_000_000,
    checkpointIntervalMs: 3_600_000,
  });
  const witness = new Witness({
    name: "witness.example/w1",
    key: Ed25519PrivateKey.generate(),
    logs: new Map([[origin, log.verifierKey]]),
    state: new WitnessState(dir),
  });
  const server = await startWitnessServer({ witness });
  const publisher = await connectNatsBus({ servers: url, name: "lineage-gossip-hub" });
  const monitor = await connectNatsBus({ servers: url, name: "lineage-gossip-monitor" });
  const received: string[] = [];
  const sub = await monitor.subscribe(checkpointSubject(origin), (e) => {
    received.push(new TextDecoder().decode(e.data));
  });
  const witnessing = startWitnessing({
    log,
    witnesses: [{ url: server.url, verifierKey: witness.verifierKey }],
    gossip: publisher,
  });
  try {
    await log.appendSighting({ suspect: { suspectId: "gossiped" }, source: SuspectSource.FEED_ADAPTER });
    const cp = await log.checkpoint();
    await witnessing.settled();
    for (let i = 0; i < 200 && !received.some((n) => n.startsWith(`${origin}\n${cp.treeSize}\n`)); i++)
      await new Promise((r) => setTimeout(r, 10));
    const note = received.find((n) => n.startsWith(`${origin}\n${cp.treeSize}\n`));
    assert.ok(note !== undefined, "the monitor received the checkpoint");
    const opened = openCheckpoint(note, {
      log: parseVerifierKey(log.verifierKey),
      witnesses: [parseCosignatureVerifierKey(witness.verifierKey).verifier],
      witnessThreshold: 1,
    });
    assert.equal(opened.checkpoint.size, cp.treeSize);
  } finally {
    await witnessing.close();
    await sub.stop();
    await monitor.close();
    await publisher.close();
    await server.close();
    await log.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
