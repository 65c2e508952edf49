/**
 * Sketch ingestion end to end (issue 10), on the embedded default (PGlite + in-process bus) and on real
 * Postgres + NATS JetStream: two hub ingestion workers share one durable consumer (JetStream's queue group)
 * and each sketch is indexed exactly once; a redelivery after a crash between commit and ack is a
 * duplicate, not a second row; forged, replayed, stale, stale-epoch, wrong-member, suspended-member and
 * oversized messages are rejected, counted, never indexed, and settled so they do not loop.
 * Unreachable Postgres/NATS: a visible SKIP outside CI, a failure in CI.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { type Bus, connectNatsBus, createInProcessBus } from "@lineage/bus";
import { Ed25519PrivateKey } from "@lineage/crypto";
import {
  type HubDatabase,
  hubMigrations,
  openStore,
  openTestStore,
  postgresTestTarget,
  type Store,
} from "@lineage/store";
import { EpochStore } from "../src/epochs/epoch-store.js";
import { HubError, isHubError } from "../src/ingest/hub-error.js";
import { startSketchConsumer } from "../src/ingest/sketch-consumer.js";
import { SketchIngestor } from "../src/ingest/sketch-ingestor.js";
import { MAX_SKETCH_MESSAGE_BYTES } from "../src/ingest/sketch-verifier.js";
import {
  announcement,
  EPOCH_ID,
  nonce,
  type SketchHub,
  sketchHub,
  suspend,
  syntheticSketch,
} from "./sketch-fixtures.js";

const natsUrl = process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const CI_FALSE = new Set(["", "0", "false", "no", "off"]);
const inCi = process.env.CI !== undefined && !CI_FALSE.has(process.env.CI.trim().toLowerCase());

async function natsMissing(): Promise<string | undefined> {
  try {
    const bus = await connectNatsBus({ servers: natsUrl, timeoutMs: 2000, maxReconnectAttempts: 0 });
    await bus.close();
    return undefined;
  } catch (err) {
    return `NATS with JetStream not reachable at ${natsUrl}: ${(err as Error).message}`;
  }
}

interface Backend {
  readonly name: string;
  readonly skip?: string;
  /** A migrated store, plus a function opening a second connection to the same database (a replica). */
  open(): Promise<{ store: Store<HubDatabase>; replica: () => Promise<Store<HubDatabase>> }>;
  bus(): Promise<Bus>;
}

async function backends(): Promise<Backend[]> {
  const shared = createInProcessBus();
  const out: Backend[] = [
    {
      name: "embedded (PGlite + in-process bus)",
      async open() {
        const store = await openTestStore<HubDatabase>("pglite-memory");
        await store.migrate(hubMigrations);
        return { store, replica: async () => store };
      },
      bus: async () => shared,
    },
  ];
  const pg = await postgresTestTarget();
  const nats = await natsMissing();
  const skip = pg.skip ?? nats;
  if (skip !== undefined && inCi) throw new Error(`${skip} (CI=${process.env.CI}: this test must run in CI)`);
  out.push({
    name: "Postgres + NATS JetStream",
    ...(skip === undefined ? {} : { skip }),
    async open() {
      const url = (pg as { url: string }).url;
      const store = await openTestStore<HubDatabase>("postgres", { url });
      await store.migrate(hubMigrations);
      return {
        store,
        replica: () => openStore<HubDatabase>({ kind: "postgres", url, schema: store.schema as string }),
      };
    },
    bus: () => connectNatsBus({ servers: natsUrl, name: "hub-sketch-ingest-test" }),
  });
  return out;
}

/** A fresh subject root per test, so concurrent tests (and other suites) never share a stream. */
function names() {
  const tag = randomBytes(4).toString("hex");
  return { root: `t${tag}`, stream: `SKT_${tag}`, durable: `hub_${tag}` };
}

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function count(store: Store<HubDatabase>): Promise<number> {
  const r = await store.db
    .selectFrom("sketches")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

function ingestorFor(hub: SketchHub, store: Store<HubDatabase>): SketchIngestor {
  return new SketchIngestor({ store, epochs: new EpochStore(store, hub.hubKey), members: hub.members });
}

for (const backend of await backends()) {
  test(`${backend.name}: two workers sharing the consumer index each sketch exactly once`, {
    skip: backend.skip ?? false,
  }, async () => {
    const { store, replica } = await backend.open();
    const store2 = await replica();
    const bus = await backend.bus();
    const { hub, members } = await sketchHub(store, ["acme", "globex"]);
    const n = names();
    const w1 = ingestorFor(hub, store);
    const w2 = ingestorFor(hub, store2);
    const opts = { stream: n.stream, durable: n.durable, subjects: `${n.root}.sketch.>`, concurrency: 32 };
    const c1 = await startSketchConsumer(bus, w1, opts);
    const c2 = await startSketchConsumer(bus, w2, opts);
    try {
      const total = 300;
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < total; i++) {
        const m = members.get(i % 2 === 0 ? "acme" : "globex");
        assert.ok(m);
        const data = announcement(m, syntheticSketch(EPOCH_ID, 4, i + 1), `model-${i}`);
        sends.push(
          bus.publish(`${n.root}.sketch.${m.id}.model-${i}`, data, { msgId: `${m.id}-${m.sequence}` }),
        );
      }
      await Promise.all(sends);
      await until(
        "all sketches indexed",
        async () => w1.metrics.snapshot().indexed + w2.metrics.snapshot().indexed >= total,
      );
      assert.equal(await count(store), total);
      const [a, b] = [w1.metrics.snapshot(), w2.metrics.snapshot()];
      assert.equal(a.indexed + b.indexed, total);
      assert.equal(a.rejectedTotal + b.rejectedTotal, 0);
      assert.equal(a.duplicates + b.duplicates, 0);
      if (bus.kind === "nats")
        assert.ok(a.indexed > 0 && b.indexed > 0, `both replicas took work (${a.indexed}/${b.indexed})`);
      const info = await bus.consumerInfo(n.stream, n.durable);
      assert.equal(info.numPending + info.numAckPending, 0);
    } finally {
      await c1.stop();
      await c2.stop();
      await bus.deleteStream(n.stream);
      if (bus.kind === "nats") await bus.close();
      await hub.log.close();
      if (store2 !== store) await store2.close();
      await store.close();
    }
  });

  test(`${backend.name}: a redelivery after commit is a duplicate; a replay is rejected`, {
    skip: backend.skip ?? false,
  }, async () => {
    const { store } = await backend.open();
    const bus = await backend.bus();
    const { hub, members } = await sketchHub(store, ["acme"]);
    const n = names();
    const acme = members.get("acme");
    assert.ok(acme);
    const w = ingestorFor(hub, store);
    // Crash between commit and ack: the first delivery commits, then fails retryably (nak): JetStream
    // redelivers it and the hub must not index it twice.
    let failedOnce = false;
    await bus.ensureStream({ name: n.stream, subjects: [`${n.root}.sketch.>`] });
    await bus.ensureConsumer(n.stream, { durable: n.durable, ackWaitMs: 2000 });
    const seen: number[] = [];
    const c = await bus.consume(
      n.stream,
      n.durable,
      async (msg) => {
        seen.push(msg.deliveryCount);
        await w.ingestAnnouncement(msg.data, msg.subject, msg.seq);
        if (!failedOnce) {
          failedOnce = true;
          throw new HubError("unavailable", "simulated crash before the ack");
        }
      },
      { retryDelayMs: 10 },
    );
    try {
      const data = announcement(acme, syntheticSketch(EPOCH_ID, 4, 7), "m");
      await bus.publish(`${n.root}.sketch.acme.m`, data, { msgId: "one" });
      await until("redelivery settled", () => w.metrics.snapshot().duplicates === 1);
      assert.deepEqual(seen, [1, 2]);
      assert.equal(w.metrics.snapshot().indexed, 1);
      assert.equal(await count(store), 1);
      // The same signed bytes stored again as a NEW stream message (another msg id): a replay.
      await bus.publish(`${n.root}.sketch.acme.m`, data, { msgId: "two" });
      await until("replay rejected", () => (w.metrics.snapshot().rejected.replay ?? 0) === 1);
      assert.equal(await count(store), 1);
      // Direct: the same header again with a new stream sequence, and a reused nonce with a new sequence.
      await assert.rejects(w.ingestAnnouncement(data, `${n.root}.sketch.acme.m`, 999), (e) =>
        isHubError(e, "replay"),
      );
      const reused = nonce();
      await w.ingestAnnouncement(
        announcement(acme, syntheticSketch(EPOCH_ID, 4, 8), "m2", { nonce: reused }),
        "x.sketch.acme.m2",
        1000,
      );
      await assert.rejects(
        w.ingestAnnouncement(
          announcement(acme, syntheticSketch(EPOCH_ID, 4, 9), "m3", { nonce: reused }),
          "x.sketch.acme.m3",
          1001,
        ),
        (e) => isHubError(e, "replay"),
      );
      assert.equal(await count(store), 2);
    } finally {
      await c.stop();
      await bus.deleteStream(n.stream);
      if (bus.kind === "nats") await bus.close();
      await hub.log.close();
      await store.close();
    }
  });

  test(`${backend.name}: forged, stale, wrong-member, suspended and oversized messages are rejected, counted, termed`, {
    skip: backend.skip ?? false,
  }, async () => {
    const { store } = await backend.open();
    const bus = await backend.bus();
    const { hub, members } = await sketchHub(store, ["acme", "globex", "initech"]);
    const n = names();
    const [acme, globex, initech] = ["acme", "globex", "initech"].map((id) => members.get(id));
    assert.ok(acme && globex && initech);
    const w = ingestorFor(hub, store);
    const c = await startSketchConsumer(bus, w, {
      stream: n.stream,
      durable: n.durable,
      subjects: `${n.root}.sketch.>`,
      concurrency: 8,
    });
    try {
      const sk = (seed: number, epoch = EPOCH_ID) => syntheticSketch(epoch, 4, seed);
      const stranger = Ed25519PrivateKey.generate();
      const tampered = announcement(acme, sk(1), "m1");
      tampered[tampered.length - 5] = (tampered[tampered.length - 5] as number) ^ 1; // inside the header signature
      await suspend(hub.log, "initech");
      const cases: [string, Uint8Array, string][] = [
        ["bad header signature", tampered, "bad_signature"],
        [
          "header by an unlogged key",
          announcement(acme, sk(2), "m2", { headerKey: stranger }),
          "unknown_key",
        ],
        [
          "envelope by an unlogged key",
          announcement(acme, sk(3), "m3", { envelopeKey: stranger }),
          "unknown_key",
        ],
        [
          "envelope by another member's key",
          announcement(acme, sk(4), "m4", { envelopeKey: globex.key }),
          "unknown_key",
        ],
        [
          "header naming another member",
          announcement(acme, sk(5), "m5", { headerMember: "globex" }),
          "unknown_key",
        ],
        [
          "stale header",
          announcement(acme, sk(6), "m6", { issuedAtMs: Date.now() - 3 * 86_400_000 }),
          "stale",
        ],
        [
          "header from the future",
          announcement(acme, sk(7), "m7", { issuedAtMs: Date.now() + 3_600_000 }),
          "stale",
        ],
        ["sketch of another epoch", announcement(acme, sk(8, "2026-11"), "m8"), "stale"],
        ["suspended member", announcement(initech, sk(9), "m9"), "permission_denied"],
        ["not a SketchAnnouncement", new Uint8Array([0xff, 0xff, 0xff]), "malformed"],
      ];
      for (const [what, data] of cases)
        await bus.publish(`${n.root}.sketch.acme.${what.replace(/\W/g, "-")}`, data);
      // globex speaking on acme's subject.
      await bus.publish(`${n.root}.sketch.acme.x`, announcement(globex, sk(10), "m10"));
      await until("all rejected", () => w.metrics.snapshot().rejectedTotal === cases.length + 1);
      const rejected = w.metrics.snapshot().rejected;
      const want: Record<string, number> = { permission_denied: 1 };
      for (const [, , code] of cases) want[code] = (want[code] ?? 0) + 1;
      assert.deepEqual(rejected, want);
      assert.equal(await count(store), 0);
      const info = await bus.consumerInfo(n.stream, n.durable);
      assert.equal(info.numPending + info.numAckPending, 0, "rejected messages are settled, not redelivered");
      // Oversized: refused before decoding (NATS's own max_payload would stop it earlier still).
      await assert.rejects(
        w.ingestAnnouncement(new Uint8Array(MAX_SKETCH_MESSAGE_BYTES + 1), "x.sketch.acme.big", 1),
        (e) => isHubError(e, "too_large"),
      );
      assert.equal(w.metrics.snapshot().rejected.too_large, 1);
      // A valid one still goes through afterwards.
      await bus.publish(`${n.root}.sketch.acme.ok`, announcement(acme, sk(11), "ok"));
      await until("valid indexed", () => w.metrics.snapshot().indexed === 1);
      assert.equal(await count(store), 1);
      assert.match(w.metrics.toPrometheus(), /lineage_hub_sketch_rejections_total\{code="stale"\} 3/);
    } finally {
      await c.stop();
      await bus.deleteStream(n.stream);
      if (bus.kind === "nats") await bus.close();
      await hub.log.close();
      await store.close();
    }
  });
}
