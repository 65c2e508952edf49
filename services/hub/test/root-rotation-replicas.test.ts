/**
 * A root rotation seen by another hub process on the same Postgres log (docs/specs/hub-keys.md): the replica
 * that still holds the old root follows the rotation when it catches up (its reads verify the new root's
 * checkpoints) but signs nothing with the rotated-out root (`failed_precondition`), which auditors and witnesses
 * would refuse; restarted with the new root and the trust root, it writes again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SuspectSource } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import {
  type HubDatabase,
  hubMigrations,
  openStore,
  openTestStore,
  postgresTestTarget,
} from "@lineage/store";
import { TransparencyLog } from "../src/index.js";

const ORIGIN = "lineage.test/root-replicas";
const pg = await postgresTestTarget();

test("a replica holding the rotated-out root follows the chain but signs nothing with it", {
  skip: pg.skip ?? false,
}, async () => {
  const url = pg.skip === undefined ? pg.url : "";
  await using storeA = await openTestStore<HubDatabase>("postgres", { url });
  await storeA.migrate(hubMigrations);
  await using storeB = await openStore<HubDatabase>({
    kind: "postgres",
    url,
    schema: storeA.schema as string,
  });
  const r0 = Ed25519PrivateKey.generate();
  const r1 = Ed25519PrivateKey.generate();
  const opts = { origin: ORIGIN, checkpointEvery: 1_000_000, checkpointIntervalMs: 3_600_000 };
  await using a = await TransparencyLog.open({ store: storeA, hubKey: r0, ...opts });
  await using b = await TransparencyLog.open({ store: storeB, hubKey: r0, ...opts });
  await b.appendSighting({ suspect: { suspectId: "before" }, source: SuspectSource.FEED_ADAPTER });
  await b.checkpoint();
  const rotation = await a.rotateRoot(r1, "rotation on replica A");
  // B catches up: the new root's checkpoint verifies through the logged rotation.
  await b.refresh();
  assert.equal(b.size, a.size);
  assert.equal(b.latestCheckpoint?.treeSize, rotation.index + 1);
  // B's appends would need a checkpoint signed by the root it no longer holds: refused, nothing logged.
  const size = a.size;
  // (A sighting it signs with that root is refused at admission: after the rotation, the new root signs the
  // undelegated purposes.)
  const refused = (e: unknown) => (e as { code?: string }).code === "failed_precondition";
  await assert.rejects(
    b.appendSighting({ suspect: { suspectId: "after" }, source: SuspectSource.FEED_ADAPTER }),
    refused,
  );
  await a.refresh();
  assert.equal(a.size, size);
  assert.equal(a.latestCheckpoint?.treeSize, size, "no checkpoint by the old root was stored");
  // Restarted with the new root (and the trust root it follows the chain from), B writes again.
  await using b2 = await TransparencyLog.open({
    store: storeB,
    hubKey: r1,
    trustRoot: r0.publicKey,
    ...opts,
  });
  await b2.appendSighting({ suspect: { suspectId: "after-restart" }, source: SuspectSource.FEED_ADAPTER });
  const cp = await b2.checkpoint();
  assert.ok(cp.treeSize > size);
});
