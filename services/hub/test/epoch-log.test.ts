/**
 * Epochs and sketch suppressions in the transparency log (issue 10), on PGlite and real Postgres: each epoch is
 * logged (EpochStatement, kind 9) before it is stored or handed out — battery digest, probe count, sketch
 * parameters and a commitment to the key, never the key — and GetEpochBattery carries that entry; each
 * suppression (SketchSuppression, kind 10) names who, which sketch and why. Forged, malformed, oversized,
 * padded and replayed statements are refused with their codes, and a reopened log keeps refusing them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EpochAction,
  EpochStatementSchema,
  GetEpochBatteryRequestSchema,
  Hub,
  LogEntryKind,
  LogLeafSchema,
  SketchSuppressionSchema,
  SuppressSketchRequestSchema,
} from "@lineage/api";
import { Ed25519PrivateKey, signEnvelope, toHex } from "@lineage/crypto";
import { createClient, insecureChannelCredentials, insecureServerCredentials, RpcError } from "@lineage/rpc";
import { EpochStore } from "../src/epochs/epoch-store.js";
import { startHubServer } from "../src/hub-server.js";
import { openHubIndex } from "../src/index/hub-index.js";
import { isHubError } from "../src/ingest/hub-error.js";
import { currentSketchParameters, epochKeyCommitment } from "../src/log/epoch-statement.js";
import { isLogError } from "../src/log/log-error.js";
import { PAYLOAD_TYPES } from "../src/log/log-leaf.js";
import { TransparencyLog } from "../src/log/transparency-log.js";
import { SECRETARIAT, signRequest } from "../src/membership/request-header.js";
import { backends, DAY } from "./log-fixtures.js";
import { battery, EPOCH_ID, sketchHub, submitRequest, syntheticSketch } from "./sketch-fixtures.js";

const ORIGIN = "lineage.test/epoch-log";

function statementAt(leaf: Uint8Array) {
  const l = fromBinary(LogLeafSchema, leaf);
  assert.equal(l.kind, LogEntryKind.EPOCH);
  assert.equal(l.envelope?.payloadType, PAYLOAD_TYPES.epoch);
  return fromBinary(EpochStatementSchema, l.envelope?.payload ?? new Uint8Array());
}

async function logRejects(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => isLogError(e) && e.code === code && (re?.test(e.message) ?? true));
}

for (const b of await backends()) {
  test(`epochs are logged before they are stored (${b.name})`, { skip: b.skip ?? false }, async () => {
    await using store = await b.open();
    const hubKey = Ed25519PrivateKey.generate();
    let log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
    const now = Date.now();
    const epochs = new EpochStore(store, hubKey, { log });
    const first = await epochs.create({ epochId: "e-1", probes: battery(9), notAfterMs: now + 30 * DAY });
    const at1 = log.epochEntryOf("e-1");
    assert.equal(typeof at1, "number");
    const e1 = await log.entry(at1 as number);
    assert.ok(e1);
    const st1 = statementAt(e1.leaf);
    assert.equal(st1.action, EpochAction.CREATE);
    assert.equal(st1.epoch?.epochId, "e-1");
    assert.equal(st1.epoch?.number, 1n);
    assert.equal(st1.probeCount, 9);
    assert.deepEqual(st1.epoch?.batteryDigest, first.batteryDigest);
    assert.deepEqual(st1.sketchParameters, currentSketchParameters());
    assert.deepEqual(st1.epochKeyCommitment, epochKeyCommitment("e-1", first.epochKey));
    // Never the key: its bytes appear nowhere in the leaf.
    assert.equal(Buffer.from(e1.leaf).indexOf(Buffer.from(first.epochKey)), -1);

    const second = await epochs.rotate({ epochId: "e-2", probes: battery(5), notAfterMs: now + 30 * DAY });
    const st2 = statementAt((await log.entry(log.epochEntryOf("e-2") as number))?.leaf as Uint8Array);
    assert.equal(st2.action, EpochAction.ROTATE);
    assert.equal(st2.epoch?.previousEpochId, "e-1");
    assert.equal(st2.epoch?.number, 2n);
    assert.deepEqual(st2.epochKeyCommitment, epochKeyCommitment("e-2", second.epochKey));

    // Replays: the same id again, a number not above the last; a bad statement; nothing stored for them.
    const again = { ...st2, issuedAt: timestampFromMs(Date.now()) };
    await logRejects(log.appendEpoch(again), "already_exists", /e-2 was logged at index/);
    const lower = { ...st2, epoch: { ...st2.epoch, epochId: "e-0", number: 1n } };
    await logRejects(log.appendEpoch(lower), "failed_precondition", /not above the last logged epoch's 2/);
    await logRejects(
      log.appendEpoch({ ...st2, epochKeyCommitment: new Uint8Array(31) }),
      "invalid_argument",
      /epoch_key_commitment/,
    );
    await logRejects(
      log.appendEpoch({ ...st2, action: EpochAction.UNSPECIFIED }),
      "invalid_argument",
      /action/,
    );
    await logRejects(
      log.appendEpoch({ ...st2, action: EpochAction.CREATE }),
      "invalid_argument",
      /previous_epoch_id/,
    );
    await logRejects(log.appendEpoch({ ...st2, probeCount: 0 }), "invalid_argument", /probe_count/);

    // Envelopes signed elsewhere (another replica's, or forged) through append(): the hub's signature, strict
    // decoding, the size cap.
    const fresh = create(EpochStatementSchema, {
      ...st2,
      epoch: { ...st2.epoch, epochId: "e-3", number: 3n, previousEpochId: "e-2" },
    });
    const forged = signEnvelope(
      PAYLOAD_TYPES.epoch,
      toBinary(EpochStatementSchema, fresh),
      Ed25519PrivateKey.generate(),
    );
    await assert.rejects(
      log.append(forged),
      (e: unknown) => isLogError(e) && ["bad_signature", "unknown_key"].includes(e.code),
    );
    const padded = new Uint8Array([...toBinary(EpochStatementSchema, fresh), 0xf8, 0x07, 0x01]); // field 127 = 1
    await logRejects(
      log.append(signEnvelope(PAYLOAD_TYPES.epoch, padded, hubKey)),
      "malformed",
      /field the log does not know/,
    );
    const huge = new Uint8Array([
      ...toBinary(EpochStatementSchema, fresh),
      0xfa,
      0x07,
      0x80,
      0x40,
      ...new Uint8Array(8192),
    ]);
    await logRejects(log.append(signEnvelope(PAYLOAD_TYPES.epoch, huge, hubKey)), "too_large");
    const good = await log.append(
      signEnvelope(PAYLOAD_TYPES.epoch, toBinary(EpochStatementSchema, fresh), hubKey),
    );
    assert.equal(good.kind, LogEntryKind.EPOCH);

    // A store whose log refuses (an epoch id already logged) stores nothing.
    await assert.rejects(
      epochs.rotate({ epochId: "e-3", probes: battery(5), notAfterMs: now + 30 * DAY }),
      (e: unknown) => isHubError(e, "already_exists") && /epoch e-3 was logged at index/.test(e.message),
    );
    assert.equal(await epochs.get("e-3"), undefined);

    // Reopened: the state is rebuilt from the entries and still refuses.
    await log.close();
    log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
    assert.equal(log.epochEntryOf("e-1"), at1);
    await logRejects(log.appendEpoch(again), "already_exists");
    await log.close();
  });

  test(`GetEpochBattery hands out an epoch only with its logged statement; SuppressSketch is logged (${b.name})`, {
    skip: b.skip ?? false,
  }, async () => {
    await using store = await b.open();
    // sketchHub stores its epoch without the log (as a process without it would): the hub logs it first.
    const { hub, members } = await sketchHub(store, ["acme"], 12);
    const acme = members.get("acme");
    assert.ok(acme);
    assert.equal(hub.log.epochEntryOf(EPOCH_ID), undefined);
    await using index = await openHubIndex({ store, log: hub.log, hubKey: hub.hubKey, refreshIntervalMs: 0 });
    await using server = await startHubServer({
      log: hub.log,
      listen: "127.0.0.1:0",
      credentials: insecureServerCredentials(),
      index,
    });
    using client = createClient(Hub, server.address, insecureChannelCredentials());
    const res = await client.getEpochBattery(
      signRequest(GetEpochBatteryRequestSchema, create(GetEpochBatteryRequestSchema, {}), {
        memberId: acme.id,
        key: acme.key,
      }),
    );
    const at = hub.log.epochEntryOf(EPOCH_ID);
    assert.equal(res.epochEntry?.index, BigInt(at ?? -1));
    const st = statementAt(res.epochEntry?.leaf ?? new Uint8Array());
    assert.equal(toHex(st.epochKeyCommitment), toHex(epochKeyCommitment(EPOCH_ID, res.epochKey)));
    assert.equal(
      toHex(st.epoch?.batteryDigest ?? new Uint8Array()),
      toHex(res.battery?.epoch?.batteryDigest ?? new Uint8Array(1)),
    );
    assert.equal(st.probeCount, res.battery?.probes.length);
    // Asked again: the same entry, not a second one.
    const res2 = await client.getEpochBattery(
      signRequest(GetEpochBatteryRequestSchema, create(GetEpochBatteryRequestSchema, {}), {
        memberId: acme.id,
        key: acme.key,
      }),
    );
    assert.equal(res2.epochEntry?.index, res.epochEntry?.index);

    // Suppression: logged with who, which sketch and why; the response names the entry.
    const sketch = syntheticSketch(EPOCH_ID, 12, 3);
    const { sketchId } = await client.submitSketch(submitRequest(acme, sketch, "m1"));
    const suppress = () =>
      client.suppressSketch(
        signRequest(
          SuppressSketchRequestSchema,
          create(SuppressSketchRequestSchema, {
            sketchId,
            reason: "source of false leads",
            reviewer: "r.jones",
          }),
          { memberId: SECRETARIAT, key: hub.hubKey },
        ),
      );
    const sizeBefore = hub.log.size;
    const out = await suppress();
    const ref = out.logEntry;
    assert.ok(ref);
    assert.equal(hub.log.suppressionEntryOf(sketchId), Number(ref.index));
    const entry = await hub.log.entry(Number(ref.index));
    assert.ok(entry);
    assert.equal(toHex(entry.leafHash), toHex(ref.leafHash));
    const leaf = fromBinary(LogLeafSchema, entry.leaf);
    assert.equal(leaf.kind, LogEntryKind.SKETCH_SUPPRESSION);
    const sup = fromBinary(SketchSuppressionSchema, leaf.envelope?.payload ?? new Uint8Array());
    assert.deepEqual(
      {
        id: sup.sketchId,
        member: sup.model?.memberId,
        model: sup.model?.modelId,
        epoch: sup.epochId,
        why: sup.reason,
        who: sup.reviewer,
      },
      {
        id: sketchId,
        member: "acme",
        model: "m1",
        epoch: EPOCH_ID,
        why: "source of false leads",
        who: "r.jones",
      },
    );
    // A second suppression is refused by the store and logs nothing; the log refuses a replayed one too.
    await assert.rejects(
      suppress(),
      (e: unknown) => e instanceof RpcError && e.code === "failed_precondition",
    );
    assert.equal(hub.log.size, sizeBefore + 1);
    await logRejects(
      hub.log.appendSketchSuppression({ ...sup, suppressedAt: timestampFromMs(Date.now()) }),
      "already_exists",
    );
    await logRejects(
      hub.log.appendSketchSuppression({ ...sup, sketchId: "zz" }),
      "invalid_argument",
      /sketch_id/,
    );
    await logRejects(
      hub.log.appendSketchSuppression({ ...sup, sketchId: "1".repeat(64), reason: "" }),
      "invalid_argument",
      /reason/,
    );
    await hub.log.close();
  });
}
