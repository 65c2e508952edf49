/**
 * Epoch batteries and sketch submission over the hub's real gRPC server (issue 10), on PGlite: the battery
 * and epoch key go to active members only (no header: UNAUTHENTICATED; a stranger's key: UNAUTHENTICATED;
 * a suspended member or the secretariat asking: PERMISSION_DENIED), the response is hub-signed, rotation is
 * the secretariat's and its battery is checked; SubmitSketch/UploadSketches index signed sketches, flag a
 * duplicate, and refuse replayed, forged, stale-epoch and malformed ones with the right status.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  GetEpochBatteryRequestSchema,
  GetEpochBatteryResponseSchema,
  Hub,
  ProbeKind,
  RotateEpochRequestSchema,
  UploadSketchesRequestSchema,
} from "@lineage/api";
import { Ed25519PrivateKey, KeyRing, verifyMessage } from "@lineage/crypto";
import { createClient, insecureChannelCredentials, insecureServerCredentials, RpcError } from "@lineage/rpc";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { verifyEpochSignature } from "../src/epochs/epoch-battery.js";
import { epochMessage } from "../src/epochs/epoch-store.js";
import { startHubServer } from "../src/hub-server.js";
import { openHubIndex } from "../src/index/hub-index.js";
import { SECRETARIAT, signRequest } from "../src/membership/request-header.js";
import { battery, EPOCH_ID, sketchHub, submitRequest, suspend, syntheticSketch } from "./sketch-fixtures.js";

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof RpcError && e.code === code);
}

test("GetEpochBattery, RotateEpoch, SubmitSketch and UploadSketches over gRPC", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const { hub, members } = await sketchHub(store, ["acme", "globex"], 12);
  const acme = members.get("acme");
  const globex = members.get("globex");
  assert.ok(acme && globex);
  await using index = await openHubIndex({ store, log: hub.log, hubKey: hub.hubKey, refreshIntervalMs: 0 });
  await using server = await startHubServer({
    log: hub.log,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
    index,
  });
  using client = createClient(Hub, server.address, insecureChannelCredentials());
  const asMember = (m: { id: string; key: Ed25519PrivateKey }) => ({ memberId: m.id, key: m.key });

  // The battery and key, to a member; the response is hub-signed and the epoch hub-signed too.
  const res = await client.getEpochBattery(
    signRequest(GetEpochBatteryRequestSchema, create(GetEpochBatteryRequestSchema, {}), asMember(acme)),
  );
  assert.equal(res.battery?.epoch?.epochId, EPOCH_ID);
  assert.equal(res.battery?.probes.length, 12);
  assert.equal(res.epochKey.length, 32);
  const h = res.header;
  assert.ok(h);
  const bare = create(GetEpochBatteryResponseSchema, {
    battery: res.battery,
    epochKey: res.epochKey,
    epochEntry: res.epochEntry,
  });
  verifyMessage(
    GetEpochBatteryResponseSchema.typeName,
    {
      header: {
        memberId: h.memberId,
        sequence: h.sequence,
        nonce: h.nonce,
        issuedAtMs: Number(h.issuedAtMs),
      },
      payload: toBinary(GetEpochBatteryResponseSchema, bare),
      keyId: h.keyId,
      signature: h.signature,
    },
    () => new KeyRing([hub.hubKey.publicKey]),
  );
  const stored = await index.epochs.get(EPOCH_ID);
  assert.ok(stored && verifyEpochSignature(epochMessage(stored), stored.hubSignature, hub.hubKey.publicKey));

  // Refusals: unsigned, a stranger, the secretariat, a replayed request, an unknown epoch, a suspended member.
  await rejectsWith(client.getEpochBattery({}), "unauthenticated");
  await rejectsWith(
    client.getEpochBattery(
      signRequest(GetEpochBatteryRequestSchema, create(GetEpochBatteryRequestSchema, {}), {
        memberId: "acme",
        key: Ed25519PrivateKey.generate(),
      }),
    ),
    "unknown_key",
  );
  await rejectsWith(
    client.getEpochBattery(
      signRequest(GetEpochBatteryRequestSchema, create(GetEpochBatteryRequestSchema, {}), {
        memberId: SECRETARIAT,
        key: hub.hubKey,
      }),
    ),
    "permission_denied",
  );
  const once = signRequest(
    GetEpochBatteryRequestSchema,
    create(GetEpochBatteryRequestSchema, {}),
    asMember(acme),
  );
  await client.getEpochBattery(once);
  await rejectsWith(client.getEpochBattery(once), "replay");
  await rejectsWith(
    client.getEpochBattery(
      signRequest(
        GetEpochBatteryRequestSchema,
        create(GetEpochBatteryRequestSchema, { epochId: "nope" }),
        asMember(acme),
      ),
    ),
    "not_found",
  );

  // Sketches over gRPC.
  const sk = syntheticSketch(EPOCH_ID, 6, 31);
  const first = await client.submitSketch(submitRequest(acme, sk, "m1"));
  assert.equal(first.duplicate, false);
  assert.match(first.sketchId, /^[0-9a-f]{64}$/);
  assert.equal(index.retriever.size, 1);
  const again = submitRequest(acme, sk, "m1");
  assert.deepEqual(
    { ...(await client.submitSketch(again)) },
    { ...first, duplicate: true, $typeName: first.$typeName },
  );
  await rejectsWith(client.submitSketch(again), "replay");
  await rejectsWith(
    client.submitSketch(submitRequest(acme, sk, "m2", { envelopeKey: globex.key })),
    "unknown_key",
  );
  await rejectsWith(
    client.submitSketch(submitRequest(acme, syntheticSketch("2026-11", 6, 32), "m3")),
    "stale",
  );
  await rejectsWith(
    client.submitSketch(submitRequest(acme, syntheticSketch(EPOCH_ID, 13, 33), "m4")),
    "malformed",
  );
  const forged = submitRequest(acme, syntheticSketch(EPOCH_ID, 6, 34), "m5");
  (forged.header as { signature: Uint8Array }).signature = new Uint8Array(64);
  await rejectsWith(client.submitSketch(forged), "bad_signature");
  const upload = await client.uploadSketches(
    (async function* () {
      for (let i = 0; i < 5; i++) {
        const r = submitRequest(acme, syntheticSketch(EPOCH_ID, 6, 100 + i), `up-${i}`);
        const u = create(UploadSketchesRequestSchema, { sketch: r.sketch });
        // Each message of the stream is signed under its own message name.
        yield signRequest(UploadSketchesRequestSchema, u, asMember(acme));
      }
    })(),
  );
  assert.equal(upload.accepted, 5);
  assert.equal(upload.sketchIds.length, 5);
  assert.equal(index.retriever.size, 6);
  assert.equal(index.metrics.snapshot().indexed, 6);
  assert.ok(index.metrics.snapshot().rejectedTotal >= 5);

  // Rotation: the secretariat only; the battery is checked; sketches of the old epoch become stale.
  const rotate = (
    signer: { memberId: string; key: Ed25519PrivateKey },
    epochId: string,
    probes = battery(8),
  ) =>
    client.rotateEpoch(
      signRequest(
        RotateEpochRequestSchema,
        create(RotateEpochRequestSchema, {
          epochId,
          probes,
          notAfter: timestampFromMs(Date.now() + 86_400_000),
        }),
        signer,
      ),
    );
  await rejectsWith(rotate(asMember(acme), "2027-01"), "permission_denied");
  const badProbes = battery(3);
  (badProbes[1] as { kind: ProbeKind }).kind = ProbeKind.UNSPECIFIED;
  await rejectsWith(
    rotate({ memberId: SECRETARIAT, key: hub.hubKey }, "2027-01", badProbes),
    "invalid_argument",
  );
  await rejectsWith(rotate({ memberId: SECRETARIAT, key: hub.hubKey }, "bad id!"), "invalid_argument");
  const rotated = await rotate({ memberId: SECRETARIAT, key: hub.hubKey }, "2027-01");
  assert.equal(rotated.epoch?.number, 2n);
  assert.equal(rotated.epoch?.previousEpochId, EPOCH_ID);
  await rejectsWith(rotate({ memberId: SECRETARIAT, key: hub.hubKey }, "2027-01"), "already_exists");
  await rejectsWith(
    client.submitSketch(submitRequest(acme, syntheticSketch(EPOCH_ID, 6, 35), "m6")),
    "stale",
  );
  await index.retriever.refresh();
  assert.equal(index.retriever.epochId, "2027-01");
  assert.equal(index.retriever.size, 0);

  await suspend(hub.log, "globex");
  await rejectsWith(
    client.getEpochBattery(
      signRequest(GetEpochBatteryRequestSchema, create(GetEpochBatteryRequestSchema, {}), asMember(globex)),
    ),
    "permission_denied",
  );
  await hub.log.close();
});
