/**
 * The runtime's canary/session wiring (sessions/node-match.ts) when the hub is down at start: the node serves,
 * canary and session calls fail UNAVAILABLE (retryable), and once the hub answers (its log trust learned in
 * the background from the configured hub key) they work.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { test } from "node:test";
import { Hub } from "@lineage/api";
import { Ed25519PrivateKey, KeyRing } from "@lineage/crypto";
import { startHubServer, TransparencyLog } from "@lineage/hub";
import { createClient, insecureChannelCredentials, insecureServerCredentials } from "@lineage/rpc";
import {
  type HubDatabase,
  hubMigrations,
  type MemberNodeDatabase,
  memberNodeMigrations,
  openTestStore,
} from "@lineage/store";
import { parseCanaryPairsJsonl } from "../src/canaries/canary-file.js";
import { isMemberNodeError } from "../src/member-node-error.js";
import { staticBatterySource } from "../src/protect/battery-source.js";
import {
  HUB_TRUST_RETRY_FIRST_MS,
  HUB_TRUST_RETRY_MAX_MS,
  hubTrustRetryDelay,
  startNodeMatch,
} from "../src/sessions/node-match.js";
import { battery, enrol, memberDeps, memberKey, SAMPLE_PAIRS } from "./match-world.js";

test("a node started while the hub is down answers UNAVAILABLE, then works once the hub is up", {
  timeout: 120_000,
}, async () => {
  await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
  await hubStore.migrate(hubMigrations);
  const hubKey = Ed25519PrivateKey.generate();
  await using log = await TransparencyLog.open({
    store: hubStore,
    origin: "lineage.test/late-hub",
    hubKey,
    checkpointIntervalMs: 3_600_000,
    checkpointEvery: 1_000_000,
  });
  // A free port, then nobody listening on it.
  const probe = await startHubServer({
    log,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
  });
  const address = probe.address;
  await probe.close();

  await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
  await store.migrate(memberNodeMigrations);
  const { key } = memberKey();
  const hubClient = createClient(Hub, address, insecureChannelCredentials(), { defaultTimeoutMs: 2000 });
  const lines: string[] = [];
  const deps = {
    ...memberDeps(
      store,
      key,
      { log, hubKey, client: hubClient, trust: undefined as never, [Symbol.asyncDispose]: async () => {} },
      lines,
    ),
    hubKeys: new KeyRing([hubKey.publicKey]),
  };
  const b = await battery();
  const match = await startNodeMatch(
    deps,
    { batteries: staticBatterySource(b, new Uint8Array(32).fill(1)), adapters: {}, env: {} },
    { hubTrustRetryMs: 100 },
  );
  try {
    const pairs = parseCanaryPairsJsonl("sample", await readFile(SAMPLE_PAIRS, "utf8"));
    await match.services.canaries.import("pairs-1", pairs);
    await assert.rejects(match.services.canaries.commit("pairs-1"), (e) =>
      isMemberNodeError(e, "unavailable"),
    );
    assert.throws(
      () => match.services.hubLog.origin,
      (e) => isMemberNodeError(e, "unavailable"),
    );

    await enrol(log, key);
    await log.checkpoint();
    await using _hub = await startHubServer({
      log,
      listen: address,
      credentials: insecureServerCredentials(),
    });
    let origin = "";
    for (let i = 0; i < 200 && origin === ""; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        origin = match.services.hubLog.origin;
      } catch {
        // not learned yet
      }
    }
    assert.equal(origin, "lineage.test/late-hub");
    const { ref } = await match.services.canaries.commit("pairs-1");
    assert.equal((await match.services.canaries.learnLabels("pairs-1")).length, 32);
    assert.ok(ref.logIndex > 0n);
    assert.ok(
      lines.some((l) => l.includes("sessions.hub_trust_unavailable")),
      "the wait was logged",
    );
  } finally {
    await match.stop();
    hubClient.close();
    await deps.bus[Symbol.asyncDispose]();
  }
});

test("a node started before its hub retries with bounded exponential backoff, saying what it waits for", {
  timeout: 60_000,
}, async () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 50].map((n) =>
      hubTrustRetryDelay(n, HUB_TRUST_RETRY_FIRST_MS, HUB_TRUST_RETRY_MAX_MS),
    ),
    [500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000],
  );
  // A hub address nobody listens on (a port just freed).
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
  await hubStore.migrate(hubMigrations);
  const hubKey = Ed25519PrivateKey.generate();
  await using log = await TransparencyLog.open({ store: hubStore, origin: "lineage.test/backoff", hubKey });
  await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
  await store.migrate(memberNodeMigrations);
  const { key } = memberKey();
  const hubClient = createClient(Hub, `127.0.0.1:${port}`, insecureChannelCredentials(), {
    defaultTimeoutMs: 2000,
  });
  const lines: string[] = [];
  const deps = {
    ...memberDeps(
      store,
      key,
      { log, hubKey, client: hubClient, trust: undefined as never, [Symbol.asyncDispose]: async () => {} },
      lines,
    ),
    hubKeys: new KeyRing([hubKey.publicKey]),
  };
  const started = Date.now();
  const match = await startNodeMatch(deps, {
    batteries: staticBatterySource(await battery(), new Uint8Array(32).fill(1)),
    adapters: {},
    env: {},
  });
  try {
    // With the default schedule (0.5 s, 1 s, 2 s, ...) the fourth attempt comes ~3.5 s after start; a fixed
    // 15 s interval would have made one.
    const waits = () =>
      lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.event === "sessions.hub_trust_unavailable");
    while (waits().length < 4 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 100));
    const w = waits();
    assert.ok(w.length >= 4, `${w.length} attempts in ${Date.now() - started} ms`);
    assert.ok(Date.now() - started < 12_000, `four attempts took ${Date.now() - started} ms`);
    assert.deepEqual(
      w.slice(0, 4).map((l) => [l.attempt, l.retry_in_ms]),
      [
        [1, 500],
        [2, 1000],
        [3, 2000],
        [4, 4000],
      ],
    );
    for (const l of w) {
      assert.match(String(l.waiting_for), /hub's signed log checkpoint/);
      assert.equal(l.code, "unavailable");
    }
  } finally {
    await match.stop();
    hubClient.close();
    await deps.bus[Symbol.asyncDispose]();
  }
});
