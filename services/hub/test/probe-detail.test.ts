/**
 * Stage 2 of retrieval from the per-probe detail held in memory (probe-detail.ts): the same candidates and the
 * same scores as reading every coarse hit's sketch from Postgres, on PGlite; the coarse view counts exactly
 * the bands the stored signature agrees on; a byte budget keeps what fits and the rest is read as before;
 * removed sketches leave the detail.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { compareSketches } from "@lineage/fingerprint";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { EpochStore } from "../src/epochs/epoch-store.js";
import { BandIndex } from "../src/index/band-index.js";
import { coarseView, ProbeDetail } from "../src/index/probe-detail.js";
import { SketchRetriever } from "../src/index/sketch-retriever.js";
import { SketchIngestor } from "../src/ingest/sketch-ingestor.js";
import { announcement, EPOCH_ID, rng, sketchHub, syntheticSketch } from "./sketch-fixtures.js";

test("coarseView: comparing with it scores exactly as comparing with the stored sketch", () => {
  const parent = syntheticSketch(EPOCH_ID, 6, 1, { common: 0.3 });
  const models = [
    parent,
    ...Array.from({ length: 30 }, (_, i) =>
      syntheticSketch(
        EPOCH_ID,
        6,
        100 + i,
        i % 3 === 0 ? { parent, inherit: 0.3, common: 0.3 } : { common: 0.3 },
      ),
    ),
  ];
  const index = BandIndex.build(models.map((m) => m.coarse));
  const detail = new ProbeDetail();
  models.forEach((m, i) => {
    assert.equal(detail.set(i, m), true);
  });
  const suspect = syntheticSketch(EPOCH_ID, 6, 7, { parent, inherit: 0.25, common: 0.3 });
  models.forEach((m, i) => {
    const view = detail.sketchOf(i, EPOCH_ID, coarseView(suspect.coarse, index.keysOf(i)));
    assert.ok(view);
    assert.deepEqual(compareSketches(suspect, view), compareSketches(suspect, m), `model ${i}`);
  });
  assert.equal(detail.size, models.length);
  detail.delete(3);
  assert.equal(detail.sketchOf(3, EPOCH_ID, suspect.coarse), undefined);
  assert.throws(() => new ProbeDetail(-1));
});

test("retrieval from memory equals retrieval from Postgres; a budget keeps what fits", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const { hub, members } = await sketchHub(store, ["acme", "globex"]);
  const acme = members.get("acme");
  const globex = members.get("globex");
  assert.ok(acme && globex);
  const epochs = new EpochStore(store, hub.hubKey);
  const inMemory = new SketchRetriever(
    new SketchIngestor({ store, epochs, members: hub.members }).sketches,
    epochs,
  );
  await inMemory.rebuild();
  const ingestor = new SketchIngestor({
    store,
    epochs,
    members: hub.members,
    onIndexed: (row) => inMemory.add(row),
    onRetired: (id) => inMemory.remove(id),
  });
  const parents = [4242, 4343, 4444].map((seed) => syntheticSketch(EPOCH_ID, 8, seed, { common: 0.3 }));
  for (let i = 0; i < 150; i++) {
    const m = i % 2 === 0 ? acme : globex;
    const sk =
      i < 3
        ? (parents[i] as ReturnType<typeof syntheticSketch>)
        : syntheticSketch(
            EPOCH_ID,
            8,
            1000 + i,
            i % 5 === 0
              ? { parent: parents[i % 3] as ReturnType<typeof syntheticSketch>, inherit: 0.2, common: 0.3 }
              : { common: 0.3 },
          );
    await ingestor.ingestMessage(
      announcement(m, sk, `model-${i}`),
      `lineage.sketch.${m.id}.model-${i}`,
      10 + i,
    );
  }
  assert.equal(inMemory.detailHeld.models, 150, "sketches this replica indexed are held");
  const fromPg = new SketchRetriever(ingestor.sketches, epochs, Date.now, 0);
  await fromPg.rebuild();
  const rebuilt = new SketchRetriever(ingestor.sketches, epochs);
  await rebuilt.rebuild();
  assert.equal(rebuilt.detailHeld.models, 150, "a rebuild loads the detail");
  const oneModel = Math.ceil(rebuilt.detailHeld.bytes / 150);
  const partial = new SketchRetriever(ingestor.sketches, epochs, Date.now, oneModel * 60);
  await partial.rebuild();
  assert.ok(partial.detailHeld.models > 0 && partial.detailHeld.models < 150);
  const r = rng(5);
  for (let q = 0; q < 12; q++) {
    const suspect = syntheticSketch(
      EPOCH_ID,
      8,
      Math.floor(r() * 1e9),
      q % 2 === 0
        ? { parent: parents[q % 3] as ReturnType<typeof syntheticSketch>, inherit: 0.25, common: 0.3 }
        : { common: 0.3 },
    );
    const want = await fromPg.retrieveCandidates(suspect, { limit: 10 });
    assert.equal(fromPg.lastLookup?.detailFromMemory, 0);
    for (const [name, ret] of [
      ["incremental", inMemory],
      ["rebuilt", rebuilt],
      ["partial", partial],
    ] as const) {
      const got = await ret.retrieveCandidates(suspect, { limit: 10 });
      assert.deepEqual(
        got.map((c) => [c.sketchId, c.score, c.coarseAgreeingBands, c.similarity]),
        want.map((c) => [c.sketchId, c.score, c.coarseAgreeingBands, c.similarity]),
        `${name}, query ${q}`,
      );
    }
    assert.equal(rebuilt.lastLookup?.detailFromMemory, rebuilt.lastLookup?.detailRead);
    if (q % 2 === 0) assert.ok(want.length > 0, "a copy is retrieved");
  }
  // Removal drops the detail too.
  const first = (
    await fromPg.retrieveCandidates(parents[0] as ReturnType<typeof syntheticSketch>, { limit: 1 })
  )[0];
  assert.ok(first);
  assert.equal(rebuilt.remove(first.sketchId), true);
  assert.equal(rebuilt.detailHeld.models, 149);
  await hub.log.close();
});
