/**
 * Hub.SuppressSketch over the hub's real gRPC server (issue 10), on PGlite: the secretariat takes one active
 * sketch out of retrieval (it stays stored, status suppressed with the reason and reviewer); a member may not;
 * an unknown, malformed or already suppressed sketch is refused naming why.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Hub, SuppressSketchRequestSchema } from "@lineage/api";
import type { Ed25519PrivateKey } from "@lineage/crypto";
import { createClient, insecureChannelCredentials, insecureServerCredentials, RpcError } from "@lineage/rpc";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { startHubServer } from "../src/hub-server.js";
import { openHubIndex } from "../src/index/hub-index.js";
import { SECRETARIAT, signRequest } from "../src/membership/request-header.js";
import { EPOCH_ID, sketchHub, submitRequest, syntheticSketch } from "./sketch-fixtures.js";

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(
    p,
    (e: unknown) => e instanceof RpcError && e.code === code && (re?.test(e.message) ?? true),
  );
}

test("SuppressSketch: the secretariat's, the sketch leaves retrieval and stays stored with its reason", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const { hub, members } = await sketchHub(store, ["acme"], 12);
  const acme = members.get("acme");
  assert.ok(acme);
  const reports: string[] = [];
  await using index = await openHubIndex({
    store,
    log: hub.log,
    hubKey: hub.hubKey,
    refreshIntervalMs: 0,
    report: (l) => reports.push(l),
  });
  await using server = await startHubServer({
    log: hub.log,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
    index,
  });
  using client = createClient(Hub, server.address, insecureChannelCredentials());
  const sketch = syntheticSketch(EPOCH_ID, 12, 7);
  const { sketchId } = await client.submitSketch(submitRequest(acme, sketch, "m1"));
  assert.equal(index.retriever.size, 1);
  const suppress = (
    signer: { memberId: string; key: Ed25519PrivateKey },
    id: string,
    reason = "false leads",
  ) =>
    client.suppressSketch(
      signRequest(
        SuppressSketchRequestSchema,
        create(SuppressSketchRequestSchema, { sketchId: id, reason, reviewer: "r.jones" }),
        signer,
      ),
    );
  const secretariat = { memberId: SECRETARIAT, key: hub.hubKey };
  await rejectsWith(client.suppressSketch({ sketchId, reason: "x", reviewer: "r" }), "unauthenticated");
  await rejectsWith(suppress({ memberId: acme.id, key: acme.key }, sketchId), "permission_denied");
  await rejectsWith(suppress(secretariat, "zz"), "invalid_argument", /64 lowercase hex/);
  await rejectsWith(suppress(secretariat, sketchId, ""), "invalid_argument", /reason/);
  await rejectsWith(suppress(secretariat, "0".repeat(64)), "not_found");
  assert.equal(index.retriever.size, 1);

  const res = await suppress(secretariat, sketchId);
  assert.deepEqual(
    { id: res.sketchId, member: res.memberId, model: res.modelId },
    { id: sketchId, member: "acme", model: "m1" },
  );
  assert.equal(index.retriever.size, 0);
  assert.deepEqual(await index.retriever.retrieveCandidates(sketch), []);
  const row = await store.db
    .selectFrom("sketches")
    .select(["status", "status_reason"])
    .where("sketch_id", "=", sketchId)
    .executeTakeFirstOrThrow();
  assert.deepEqual(row, { status: "suppressed", status_reason: "false leads (reviewer: r.jones)" });
  assert.match(reports.join("\n"), new RegExp(`suppressed sketch ${sketchId} of acme/m1`));
  await rejectsWith(suppress(secretariat, sketchId), "failed_precondition", /is suppressed, not active/);
  await hub.log.close();
});
