/**
 * The runtime's canary/session wiring (sessions/node-match.ts) when the hub is down at start: the node serves,
 * canary and session calls fail UNAVAILABLE (retryable), and once the hub answers (its log trust learned in
 * the background from the configured hub key) they work.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
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
import { startNodeMatch } from "../src/sessions/node-match.js";
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
