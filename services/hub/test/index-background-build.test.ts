/**
 * The sketch index built behind a serving hub (issue 12, "a service restart in under a second before it
 * serves"): the hub listens before its index is built, so (a) retrieval during the build refuses with
 * `unavailable` ("sketch index is loading: N of M") or waits for it, and succeeds after; (b) sketches
 * committed and retired while the build pages through the table end in the index exactly once, or not at all
 * — the build may read a row that also arrives through the ingestor's onIndexed. On PGlite (the embedded
 * default) and real Postgres (skipped visibly outside CI when unreachable, a failure in CI).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EpochStore } from "../src/epochs/epoch-store.js";
import { openHubIndex } from "../src/index/hub-index.js";
import { SketchRetriever } from "../src/index/sketch-retriever.js";
import { isHubError } from "../src/ingest/hub-error.js";
import { SketchIngestor } from "../src/ingest/sketch-ingestor.js";
import { type IndexedSketchRow, SketchStore } from "../src/ingest/sketch-store.js";
import { backends } from "./log-fixtures.js";
import {
  acmeGlobexHub,
  announcement,
  EPOCH_ID,
  sketchHub,
  syntheticSketch,
  withdrawalMessage,
} from "./sketch-fixtures.js";

/**
 * The real sketch table, with an index build's reading held twice: after its first slice of rows (until
 * release()) and after its last page, before the build swaps its index in (until finish()).
 */
class GatedSketchStore extends SketchStore {
  readonly held: Promise<void>;
  readonly drained: Promise<void>;
  readonly #gates: { reached: () => void; opened: Promise<void>; open: () => void }[] = [];

  constructor(...args: ConstructorParameters<typeof SketchStore>) {
    super(...args);
    for (let i = 0; i < 2; i++) {
      let reached = () => {};
      let open = () => {};
      const hit = new Promise<void>((r) => {
        reached = r;
      });
      const opened = new Promise<void>((r) => {
        open = r;
      });
      this.#gates.push({ reached, opened, open });
      if (i === 0) this.held = hit;
      else this.drained = hit;
    }
    this.held ??= Promise.resolve();
    this.drained ??= Promise.resolve();
  }

  release(): void {
    this.#gates[0]?.open();
  }

  finish(): void {
    this.#gates[1]?.open();
  }

  override async *activePages(
    ...args: Parameters<SketchStore["activePages"]>
  ): AsyncGenerator<IndexedSketchRow[], void, undefined> {
    let slices = 0;
    const [first, last] = this.#gates;
    for await (const page of super.activePages(...args)) {
      yield page;
      if (++slices === 1 && first !== undefined) {
        first.reached();
        await first.opened;
      }
    }
    if (last !== undefined) {
      last.reached();
      await last.opened;
    }
  }
}

/** Sketches stored before the restart: enough for several pages of a background build (50 rows each). */
const BEFORE = 400;

for (const backend of await backends()) {
  test(`${backend.name}: retrieval during a background index build refuses (unavailable) or waits, then finds the parent`, {
    skip: backend.skip ?? false,
  }, async () => {
    const store = await backend.open();
    const { hub, members } = await sketchHub(store, ["acme"]);
    try {
      const acme = members.get("acme");
      assert.ok(acme);
      const epochs = new EpochStore(store, hub.hubKey);
      const ingestor = new SketchIngestor({ store, epochs, members: hub.members });
      const parent = syntheticSketch(EPOCH_ID, 8, 4242, { common: 0.3 });
      for (let i = 0; i < BEFORE; i++) {
        const sk = i === 77 ? parent : syntheticSketch(EPOCH_ID, 8, 1000 + i, { common: 0.3 });
        await ingestor.ingestMessage(
          announcement(acme, sk, `model-${i}`),
          `lineage.sketch.acme.model-${i}`,
          10 + i,
        );
      }
      const suspect = syntheticSketch(EPOCH_ID, 8, 7, { parent, inherit: 0.25, common: 0.3 });

      // The restarted hub: an index not yet built answers nothing, whatever the wait allows.
      const retriever = new SketchRetriever(ingestor.sketches, epochs);
      assert.deepEqual(retriever.loadState, { ready: false, loaded: 0, total: undefined });
      await assert.rejects(retriever.retrieveCandidates(suspect, { readyWaitMs: 0 }), (e) => {
        assert.ok(isHubError(e, "unavailable"));
        assert.match((e as Error).message, /^sketch index is loading: 0 of \? sketches read/);
        return true;
      });
      const build = retriever.rebuild({ background: true });
      // During the build: an immediate refusal names its progress; a bounded wait that ends first refuses too.
      await new Promise((r) => setTimeout(r, 0));
      assert.equal(retriever.building, true);
      await assert.rejects(retriever.retrieveCandidates(suspect, { readyWaitMs: 0 }), (e) => {
        assert.ok(isHubError(e, "unavailable"));
        assert.match((e as Error).message, new RegExp(`^sketch index is loading: \\d+ of (\\?|${BEFORE})`));
        return true;
      });
      await assert.rejects(retriever.retrieveCandidates(suspect, { readyWaitMs: 1 }), (e) =>
        isHubError(e, "unavailable"),
      );
      // A retrieval with the default wait, issued during the build, answers once it ends.
      const waited = retriever.retrieveCandidates(suspect, { limit: 3 });
      assert.equal(retriever.loadState.ready, false, "the build must still be running for this test to hold");
      await build;
      const found = await waited;
      assert.deepEqual(found[0]?.model, { memberId: "acme", modelId: "model-77", modelVersion: "1" });
      assert.deepEqual(retriever.loadState, { ready: true, loaded: BEFORE, total: BEFORE });
      assert.deepEqual(
        (await retriever.retrieveCandidates(suspect, { limit: 3, readyWaitMs: 0 }))[0]?.model.modelId,
        "model-77",
      );

      // openHubIndex with build "background": open resolves unbuilt; load() builds once.
      const index = await openHubIndex({
        store,
        log: hub.log,
        hubKey: hub.hubKey,
        build: "background",
        refreshIntervalMs: 0,
      });
      try {
        assert.equal(index.retriever.loadState.ready, false);
        const a = index.load();
        assert.equal(index.load(), a, "one build, however often load() is called");
        await a;
        assert.equal(index.retriever.size, BEFORE);
        await index.load();
      } finally {
        await index.close();
      }
    } finally {
      await hub.log.close();
      await store.close();
    }
  });

  test(`${backend.name}: sketches committed and retired during a background build end in the index exactly once`, {
    skip: backend.skip ?? false,
  }, async () => {
    const { store, hub, acme, globex } = await acmeGlobexHub(backend);
    try {
      const epochs = new EpochStore(store, hub.hubKey);
      const seed = new SketchIngestor({ store, epochs, members: hub.members });
      const beforeIds: string[] = [];
      for (let i = 0; i < BEFORE; i++) {
        const r = await seed.ingestMessage(
          announcement(acme, syntheticSketch(EPOCH_ID, 8, 1000 + i, { common: 0.3 }), `old-${i}`),
          `lineage.sketch.acme.old-${i}`,
          10 + i,
        );
        beforeIds.push(r.sketchId);
      }
      // The restarted replica: its ingestor feeds the index as it commits (hub-index.ts wires it so).
      // The build is held after its first slice of rows and again after its last page (GatedSketchStore), so
      // the race runs on every backend however fast it reads: uploads committed during the first hold are
      // read by the build and also arrive through onIndexed; those committed during the second are not read
      // and must come from the queue; withdrawals hit sketches read and not yet read.
      const gated = new GatedSketchStore(store);
      const retriever = new SketchRetriever(gated, epochs);
      let duringBuild = 0;
      let retiredDuringBuild = 0;
      const ingestor = new SketchIngestor({
        store,
        epochs,
        members: hub.members,
        onIndexed: (row) => {
          if (retriever.building) duringBuild++;
          retriever.add(row);
        },
        onRetired: (id) => {
          if (retriever.building) retiredDuringBuild++;
          retriever.remove(id);
        },
      });
      const uploaded = new Map<string, ReturnType<typeof syntheticSketch>>();
      const newer = syntheticSketch(EPOCH_ID, 8, 77_777, { common: 0.3 });
      const withdrawn = new Set<string>();
      const wave = async (from: number) => {
        const w: Promise<unknown>[] = [];
        for (let m = from; m < from + 10; m++) {
          const sk = syntheticSketch(EPOCH_ID, 8, 50_000 + m, { common: 0.3 });
          w.push(
            ingestor
              .ingestMessage(
                announcement(globex, sk, `new-${m}`),
                `lineage.sketch.globex.new-${m}`,
                10_000 + m,
              )
              .then((r) => uploaded.set(r.sketchId, sk)),
          );
        }
        // old-0 (in the first slice), old-30, old-60, old-90 (read after the first hold).
        const o = from * 3;
        const old = beforeIds[o] as string;
        withdrawn.add(old);
        w.push(
          ingestor.ingestMessage(
            withdrawalMessage(acme, `old-${o}`, old),
            `lineage.sketch.acme.old-${o}.withdrawn`,
            20_000 + o,
          ),
        );
        await Promise.all(w);
      };
      const build = retriever.rebuild({ background: true });
      await gated.held;
      await wave(0);
      // old-3 was read in the first slice; its newer sketch will be read too (a later page).
      await ingestor
        .ingestMessage(announcement(acme, newer, "old-3"), "lineage.sketch.acme.old-3", 30_000)
        .then((r) => uploaded.set(r.sketchId, newer));
      await wave(10);
      gated.release();
      await gated.drained;
      await wave(20);
      await wave(30);
      assert.equal(retriever.loadState.ready, false);
      gated.finish();
      await build;
      assert.ok(duringBuild >= 41, `${duringBuild} uploads landed during the build: the race was not run`);
      assert.ok(retiredDuringBuild >= 4, "the withdrawals did not land during the build");
      // Exactly the active rows, each once: the index holds as many models as the table has active sketches
      // (a sketch indexed twice would count twice), and as many as a build run after everything settled.
      const active = await seed.sketches.activeCount(EPOCH_ID);
      assert.equal(active, BEFORE - withdrawn.size - 1 + uploaded.size);
      assert.equal(retriever.size, active);
      const fresh = new SketchRetriever(seed.sketches, epochs);
      await fresh.rebuild();
      assert.equal(fresh.size, active);
      // Each sketch uploaded during the build is found, first and once, by a copy of itself.
      for (const [id, sk] of uploaded) {
        const got = await retriever.retrieveCandidates(sk, { limit: 10, readyWaitMs: 0 });
        assert.equal(got[0]?.sketchId, id);
        assert.equal(got.filter((c) => c.sketchId === id).length, 1, `sketch ${id} indexed twice`);
      }
      // Withdrawn and superseded sketches are gone.
      const gone = new Set([...withdrawn, beforeIds[3] as string]);
      for (let i = 0; i < BEFORE; i++) {
        const id = beforeIds[i] as string;
        if (!gone.has(id)) continue;
        const got = await retriever.retrieveCandidates(
          syntheticSketch(EPOCH_ID, 8, 1000 + i, { common: 0.3 }),
          {
            limit: 10,
            readyWaitMs: 0,
          },
        );
        assert.ok(
          got.every((c) => c.sketchId !== id),
          `retired sketch ${id} still retrieved`,
        );
      }
    } finally {
      await hub.log.close();
      await store.close();
    }
  });
}
