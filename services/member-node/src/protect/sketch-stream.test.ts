import assert from "node:assert/strict";
import { test } from "node:test";
import { createInProcessBus, isBusError } from "@lineage/bus";
import { ensureSketchStream } from "./sketch-publisher.js";

test("ensureSketchStream: creates the member's stream alone, publishes into a hub's stream that already captures its subjects, throws other refusals", async () => {
  const alone = createInProcessBus();
  try {
    assert.equal(await ensureSketchStream(alone, "acme"), true);
    assert.equal(await ensureSketchStream(alone, "acme"), true, "idempotent");
  } finally {
    await alone.close();
  }
  const shared = createInProcessBus();
  try {
    await shared.ensureStream({ name: "LINEAGE_SKETCHES", subjects: ["lineage.sketch.>"] });
    assert.equal(
      await ensureSketchStream(shared, "acme"),
      false,
      "the hub's stream captures lineage.sketch.acme.>",
    );
    const ack = await shared.publish("lineage.sketch.acme.m1", new Uint8Array([1]), { msgId: "x" });
    assert.equal(ack.stream, "LINEAGE_SKETCHES");
  } finally {
    await shared.close();
  }
  const closed = createInProcessBus();
  await closed.close();
  await assert.rejects(
    ensureSketchStream(closed, "acme"),
    (e: unknown) => isBusError(e) && !/overlap/i.test(e.message),
  );
});
