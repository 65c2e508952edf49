/**
 * The per-epoch sketch key at rest (issue 10): wrapped under the hub's root key in the database, readable
 * through an epoch store opened with that key only; plaintext keys of older rows are wrapped in place.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ProbeKind, ProbeSchema } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { EPOCH_KEY_BYTES, WRAPPED_EPOCH_KEY_BYTES } from "../src/epochs/epoch-key-wrap.js";
import { EpochStore } from "../src/epochs/epoch-store.js";
import { isHubError } from "../src/ingest/hub-error.js";

test("epoch keys: wrapped at rest, opened only with the hub key, legacy plaintext rows wrapped in place", async () => {
  const store = await openTestStore<HubDatabase>("pglite-memory");
  try {
    await store.migrate(hubMigrations);
    const hubKey = Ed25519PrivateKey.generate();
    const epochs = new EpochStore(store, hubKey);
    const probes = Array.from({ length: 4 }, (_, index) =>
      create(ProbeSchema, { index, kind: ProbeKind.OPEN_ENDED, prompt: `p ${index}`, maxTokens: 8 }),
    );
    const created = await epochs.create({ epochId: "e-1", probes, notAfterMs: Date.now() + 86_400_000 });
    assert.equal(created.epochKey.length, EPOCH_KEY_BYTES);
    const raw = async () =>
      (
        await store.db
          .selectFrom("epochs")
          .select("epoch_key")
          .where("epoch_id", "=", "e-1")
          .executeTakeFirstOrThrow()
      ).epoch_key;
    const stored = await raw();
    assert.equal(stored.length, WRAPPED_EPOCH_KEY_BYTES);
    assert.ok(!Buffer.from(stored).includes(Buffer.from(created.epochKey)), "the key is stored in plaintext");
    // Another store with the same hub key reads it; one without a key reads everything but the key.
    assert.deepEqual((await new EpochStore(store, hubKey).current())?.epochKey, created.epochKey);
    const keyless = await new EpochStore(store).current();
    assert.equal(keyless?.epochId, "e-1");
    assert.equal(keyless?.probeCount, 4);
    assert.throws(
      () => keyless?.epochKey,
      (e) => isHubError(e, "failed_precondition") && /wrapped under the hub key/.test(e.message),
    );
    // Another hub key cannot open it; a tampered blob does not open.
    await assert.rejects(
      async () => (await new EpochStore(store, Ed25519PrivateKey.generate()).get("e-1"))?.epochKey,
      (e) => isHubError(e, "failed_precondition") && /another hub root key/.test(e.message),
    );
    const tampered = new Uint8Array(stored);
    tampered[30] = (tampered[30] as number) ^ 1;
    await store.db.updateTable("epochs").set({ epoch_key: tampered }).where("epoch_id", "=", "e-1").execute();
    await assert.rejects(
      async () => (await new EpochStore(store, hubKey).get("e-1"))?.epochKey,
      (e) => isHubError(e, "internal") && /does not open/.test(e.message),
    );
    // A row from before migration 0011 (the plaintext key) is read as is, then wrapped in place.
    await store.db
      .updateTable("epochs")
      .set({ epoch_key: created.epochKey })
      .where("epoch_id", "=", "e-1")
      .execute();
    assert.deepEqual((await new EpochStore(store).get("e-1"))?.epochKey, created.epochKey);
    assert.deepEqual((await new EpochStore(store, hubKey).get("e-1"))?.epochKey, created.epochKey);
    assert.equal((await raw()).length, WRAPPED_EPOCH_KEY_BYTES);
    assert.deepEqual((await new EpochStore(store, hubKey).get("e-1"))?.epochKey, created.epochKey);
  } finally {
    await store.close();
  }
});
