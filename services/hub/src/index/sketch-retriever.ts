/**
 * Candidate retrieval for release scanning (DESIGN.md flow 4 "Scan"): a suspect's sketch is matched
 * against the protected models of the current epoch in two stages —
 *   1. coarse: the in-memory band index (band-index.ts) counts, per model, the coarse LSH bands it shares
 *      with the suspect and keeps the models with >= minAgreeingBands (LSH_V1), the `limit x DETAIL_FACTOR`
 *      with most agreement;
 *   2. detail: only those few sketches are compared probe by probe (compareSketches: per-probe band
 *      agreement, SimHash, shared wrong answers), those whose per-probe rows fall clearly below the design
 *      similarity are dropped when the fine stage is asked for (PROBE_STAGE_V1, libs/fingerprint probe-stage.ts;
 *      off by default, DEFAULT_PROBE_STAGE) and the rest ranked by score —
 *      from the per-probe detail kept in memory (probe-detail.ts, within a byte budget), reading from
 *      Postgres only what it does not hold.
 * The index is rebuilt from Postgres on start, fed by this replica's ingestion as batches commit, and
 * caught up with other replicas' commits and retirements by {@link SketchRetriever.refresh}.
 *
 * Start-up (issue 12): the first build may run while the hub already serves and ingests. Until it ends,
 * retrieval waits for it (bounded: {@link RetrieveOptions.readyWaitMs}) and then refuses with `unavailable`
 * ("sketch index is loading: N of M") rather than answer from a partial index. Sketches committed or retired
 * while any build runs are queued and replayed, in order, on the built index: a row the build also read is
 * the same sketch id and is not added twice (test/index-background-build.test.ts forces the race).
 */
import {
  compareSketches,
  DEFAULT_PROBE_STAGE,
  LSH_V1,
  type ProbeStageParams,
  passesProbeStage,
  type Sketch,
  type SketchSimilarity,
} from "@lineage/fingerprint";
import type { EpochStore } from "../epochs/epoch-store.js";
import { HubError } from "../ingest/hub-error.js";
import type { ModelRef } from "../ingest/sketch-proto.js";
import type { IndexedSketchRow, SketchStore } from "../ingest/sketch-store.js";
import { BandIndex, type CoarseHit } from "./band-index.js";
import { coarseView, DEFAULT_DETAIL_BUDGET_BYTES, ProbeDetail } from "./probe-detail.js";

/** One retrieved protected model. */
export interface Candidate {
  readonly model: ModelRef;
  readonly sketchId: string;
  /** Coarse bands shared with the suspect. */
  readonly coarseAgreeingBands: number;
  /** The per-probe comparison (stage 2). */
  readonly similarity: SketchSimilarity;
  /** Ranking score (similarity.score). */
  readonly score: number;
}

/** Options of a retrieval. */
export interface RetrieveOptions {
  /** Candidates returned at most. Default 10, at most 1000. */
  readonly limit?: number;
  /** Coarse threshold; default LSH_V1.minAgreeingBands. */
  readonly minAgreeingBands?: number;
  /** Fine-stage rule on the per-probe rows (default DEFAULT_PROBE_STAGE: off; PROBE_STAGE_V1 drops coarse hits whose per-probe rows fall clearly below the design similarity). */
  readonly probeStage?: ProbeStageParams | false;
  /** Exclude this member's models (a member reporting its own model, say). */
  readonly excludeMember?: string;
  /**
   * How long to wait for the first index build (start-up) before refusing with `unavailable` (ms). Default
   * {@link DEFAULT_READY_WAIT_MS}; 0 refuses at once. A release scan has just spent seconds probing the
   * suspect: waiting for a load already under way serves it better than failing it.
   */
  readonly readyWaitMs?: number;
}

/** Default {@link RetrieveOptions.readyWaitMs}: far above a start-up build of 100,000 models (~15 s). */
export const DEFAULT_READY_WAIT_MS = 60_000;

/** Progress of the index's first build. */
export interface IndexLoadState {
  /** Whether the index answers retrievals (its first build ended). */
  readonly ready: boolean;
  /** Sketches read by the build under way (or the last one). */
  readonly loaded: number;
  /** Active sketches of the epoch the build reads (counted as it starts); undefined before that. */
  readonly total: number | undefined;
}

/** A change queued while a build runs, replayed on the built index. */
type QueuedChange = { readonly add: IndexedSketchRow } | { readonly remove: string };

/** Where one retrieval's time went. */
export interface LookupTimings {
  /** Stage 1 (band index), ms. */
  readonly coarseMs: number;
  /** Reading the coarse hits' sketches from Postgres (those not held in memory), ms. */
  readonly detailReadMs: number;
  /** Coarse hits whose detail came from memory. */
  readonly detailFromMemory: number;
  /** Per-probe comparison and ranking, ms. */
  readonly compareMs: number;
  /** Sketches read for stage 2. */
  readonly detailRead: number;
  /** Bands stage 1 left uncounted (band-index.ts: the posting budget). */
  readonly uncountedBands: number;
  readonly countedPostings: number;
}

/** Longest a sketch insert may stay uncommitted; rows older than this are settled (see #safeSeq). */
export const COMMIT_LAG_MS = 15_000;
/** Coarse hits read in detail per candidate returned. */
export const DETAIL_FACTOR = 4;
const PAGE = 5000;
/** Sketches per page of a rebuild (two pages are in memory: one decoded while the next is read). */
const REBUILD_PAGE = 2000;
/**
 * Sketches per page of a build behind a serving port ({@link RebuildOptions.background}), decoded
 * {@link BACKGROUND_SLICE} at a time with the event loop yielded between slices: the embedded database runs
 * each page's query on this thread, and a sketch's decoding costs ~0.5-1 ms, so calls that do not need the
 * index wait at most a slice (or one query) for their turn.
 */
const BACKGROUND_PAGE = 50;
/** Rows decoded between two yields of the event loop by a background build. */
const BACKGROUND_SLICE = 8;

/** Options of {@link SketchRetriever.rebuild}. */
export interface RebuildOptions {
  /** The hub serves meanwhile: small pages, and the event loop is yielded between them. */
  readonly background?: boolean;
}

interface Entry {
  readonly seq: bigint;
  readonly sketchId: string;
  readonly model: ModelRef;
}

/** The hub's sketch index for the current epoch. */
export class SketchRetriever {
  readonly #sketches: SketchStore;
  readonly #epochs: EpochStore;
  readonly #now: () => number;
  #epochId: string | undefined;
  #index = new BandIndex();
  #entries: Entry[] = [];
  readonly #bySketch = new Map<string, number>();
  /** Ordinal of each model's active sketch. */
  readonly #byModel = new Map<string, number>();
  /**
   * Every active sketch with seq <= this was read. Kept behind the newest rows: Postgres hands out seqs at
   * insert and transactions commit in any order, so a lower seq may become visible after a higher one.
   */
  #safeSeq = 0n;
  #lastRefreshMs = 0;
  #detail: ProbeDetail;
  readonly #keepDetail: boolean;
  readonly #detailBudgetBytes: number;
  readonly #coarseScratch: Uint8Array[] = [];
  /** Changes arriving while a build runs (undefined when none runs). */
  #queued: QueuedChange[] | undefined;
  #building: Promise<void> | undefined;
  #loaded = 0;
  #total: number | undefined;
  #ready = false;
  readonly #readyWaiters = new Set<() => void>();

  /**
   * @param detailBudgetBytes - memory for the per-probe detail of indexed sketches (probe-detail.ts; default
   *   512 MiB); 0 reads every stage-2 sketch from Postgres.
   */
  constructor(
    sketches: SketchStore,
    epochs: EpochStore,
    now: () => number = Date.now,
    detailBudgetBytes: number = DEFAULT_DETAIL_BUDGET_BYTES,
  ) {
    this.#sketches = sketches;
    this.#epochs = epochs;
    this.#now = now;
    this.#detail = new ProbeDetail(detailBudgetBytes);
    this.#keepDetail = detailBudgetBytes > 0;
    this.#detailBudgetBytes = detailBudgetBytes;
  }

  /** Models whose per-probe detail is held in memory, and its estimated bytes. */
  get detailHeld(): { readonly models: number; readonly bytes: number } {
    return { models: this.#detail.size, bytes: this.#detail.bytes };
  }

  /** Epoch indexed (undefined before the first rebuild or when none is current). */
  get epochId(): string | undefined {
    return this.#epochId;
  }

  /** Models retrievable now. */
  get size(): number {
    return this.#index.size;
  }

  /** Where the last retrieval's time went (benchmarks, operators). */
  get lastLookup(): LookupTimings | undefined {
    return this.#last;
  }

  #last: LookupTimings | undefined;

  /** Progress of the first build (and of any later rebuild's reading). */
  get loadState(): IndexLoadState {
    return { ready: this.#ready, loaded: this.#loaded, total: this.#total };
  }

  /** Whether a build is under way. */
  get building(): boolean {
    return this.#building !== undefined;
  }

  /**
   * Resolves once the first build ended (at once if it has), false if `timeoutMs` passed first. Does not
   * start a build.
   */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.#ready) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#readyWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.#readyWaiters.add(done);
    });
  }

  /**
   * Rebuilds the index from Postgres for the current epoch (start-up, epoch rotation). One build at a time: a
   * call while one runs waits for it and then builds again (the epoch may have changed meanwhile).
   */
  async rebuild(options: RebuildOptions = {}): Promise<void> {
    while (this.#building !== undefined) await this.#building.catch(() => undefined);
    const build = this.#build(options.background === true);
    this.#building = build;
    try {
      await build;
    } finally {
      this.#building = undefined;
    }
  }

  async #build(background: boolean): Promise<void> {
    this.#queued = [];
    try {
      await this.#buildQueued(background);
    } finally {
      // A failed build leaves the previous index and drops the queue: the changes are in Postgres, and the
      // next refresh (or rebuild) reads them.
      this.#queued = undefined;
    }
  }

  async #buildQueued(background: boolean): Promise<void> {
    const startedMs = this.#now();
    const epoch = await this.#epochs.current();
    const entries: Entry[] = [];
    const loader = BandIndex.loader();
    // The replaced index's detail is dropped now, as before (memory stays one index's worth): until the swap,
    // a retrieval reads its stage-2 sketches from Postgres.
    this.#detail.clear();
    const detail = new ProbeDetail(this.#detailBudgetBytes);
    this.#loaded = 0;
    this.#total = epoch === undefined ? 0 : await this.#sketches.activeCount(epoch.epochId);
    if (epoch !== undefined) {
      for await (const page of this.#sketches.activePages(
        epoch.epochId,
        0n,
        background ? BACKGROUND_PAGE : REBUILD_PAGE,
        this.#keepDetail,
        background ? BACKGROUND_SLICE : REBUILD_PAGE,
      )) {
        if (background) await new Promise<void>((resolve) => setImmediate(resolve));
        for (const r of page) {
          if (r.sketch !== undefined) detail.set(entries.length, r.sketch);
          entries.push({ seq: r.seq, sketchId: r.sketchId, model: r.model });
          loader.add(r.coarse);
        }
        this.#loaded = entries.length;
      }
    }
    const safeSeq = await this.#sketches.settledSeq(startedMs - COMMIT_LAG_MS);
    // From here to the end no await: the swap and the replay of queued changes are one step.
    this.#index = loader.build();
    this.#entries = entries;
    this.#detail = detail;
    this.#bySketch.clear();
    this.#byModel.clear();
    entries.forEach((e, i) => {
      // Pages are read at different moments: a model's sketch superseded while the build ran may have been
      // read with the sketch superseding it (a later page, higher seq). The later one stays.
      const mk = modelKey(e.model);
      const prev = this.#byModel.get(mk);
      if (prev !== undefined) {
        this.#bySketch.delete((entries[prev] as Entry).sketchId);
        this.#detail.delete(prev);
        this.#index.remove(prev);
      }
      this.#bySketch.set(e.sketchId, i);
      this.#byModel.set(mk, i);
    });
    this.#epochId = epoch?.epochId;
    this.#safeSeq = safeSeq;
    this.#lastRefreshMs = startedMs;
    const queued = this.#queued ?? [];
    this.#queued = undefined;
    // In arrival order: a sketch added then retired while the build ran ends retired.
    for (const c of queued) {
      if ("add" in c) this.add(c.add);
      else this.remove(c.remove);
    }
    if (!this.#ready) {
      this.#ready = true;
      for (const w of [...this.#readyWaiters]) w();
    }
  }

  /**
   * Adds a sketch committed by this replica (the ingestor's onIndexed). Sketches of another epoch are
   * ignored; a sketch superseding its model's previous one replaces it.
   */
  add(row: IndexedSketchRow): void {
    // A build under way may or may not read this row (it committed as the build pages through): queued, it is
    // added once the built index is in place, and skipped there if the build read it.
    this.#queued?.push({ add: row });
    if (row.epochId !== this.#epochId || this.#bySketch.has(row.sketchId)) return;
    const mk = modelKey(row.model);
    const prev = this.#byModel.get(mk);
    if (prev !== undefined) {
      const e = this.#entries[prev] as Entry;
      if (e.seq > row.seq) return; // an older sketch arriving late: the newer one stays
      this.remove(e.sketchId);
    }
    const ordinal = this.#index.add(row.coarse);
    if (row.sketch !== undefined && this.#keepDetail) this.#detail.set(ordinal, row.sketch);
    this.#entries[ordinal] = { seq: row.seq, sketchId: row.sketchId, model: row.model };
    this.#bySketch.set(row.sketchId, ordinal);
    this.#byModel.set(mk, ordinal);
  }

  /** Removes a sketch from retrieval (withdrawn, suppressed, superseded). */
  remove(sketchId: string): boolean {
    // Also replayed on the index a build under way is making (it may have read the sketch before it left).
    this.#queued?.push({ remove: sketchId });
    const ord = this.#bySketch.get(sketchId);
    if (ord === undefined) return false;
    this.#bySketch.delete(sketchId);
    const mk = modelKey((this.#entries[ord] as Entry).model);
    if (this.#byModel.get(mk) === ord) this.#byModel.delete(mk);
    this.#detail.delete(ord);
    return this.#index.remove(ord);
  }

  /**
   * Catches up with Postgres: sketches other replicas committed, and sketches that left retrieval. A new
   * current epoch rebuilds the index.
   */
  async refresh(): Promise<void> {
    // A build under way reads (or queues) everything this would; the next refresh catches up after it.
    if (this.#building !== undefined) return;
    if (!this.#ready) return this.rebuild(); // the first build has not run, or failed: (re)try it
    const epoch = await this.#epochs.current();
    if (epoch?.epochId !== this.#epochId) return this.rebuild();
    if (epoch === undefined) return;
    const startedMs = this.#now();
    // Retirements first (a clock-skew margin: applying one twice is harmless).
    for (const r of await this.#sketches.retiredSince(epoch.epochId, this.#lastRefreshMs - 5000))
      this.remove(r.sketchId);
    // Ids first (light), then the coarse signatures of the ones this replica does not hold yet.
    const settled = await this.#sketches.settledSeq(startedMs - COMMIT_LAG_MS);
    let after = this.#safeSeq;
    for (;;) {
      const ids = await this.#sketches.activeIdsAfter(epoch.epochId, after, PAGE);
      const unknown = ids.filter((r) => !this.#bySketch.has(r.sketchId)).map((r) => r.sketchId);
      for (let i = 0; i < unknown.length; i += 500) {
        for (const r of await this.#sketches.activeByIds(unknown.slice(i, i + 500), this.#keepDetail))
          this.add(r);
      }
      if (ids.length < PAGE) break;
      after = (ids[ids.length - 1] as { seq: bigint }).seq;
    }
    if (settled > this.#safeSeq) this.#safeSeq = settled;
    this.#lastRefreshMs = startedMs;
  }

  /**
   * The protected models most similar to a suspect's sketch (which must be of the indexed epoch), best
   * first: coarse LSH first, then per-probe comparison of the few coarse hits.
   */
  async retrieveCandidates(suspect: Sketch, options: RetrieveOptions = {}): Promise<Candidate[]> {
    const limit = options.limit ?? 10;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new HubError("invalid_argument", "limit must be 1..1000");
    if (!this.#ready && !(await this.whenReady(options.readyWaitMs ?? DEFAULT_READY_WAIT_MS))) {
      const { loaded, total } = this.loadState;
      throw new HubError(
        "unavailable",
        `sketch index is loading: ${loaded} of ${total ?? "?"} sketches read; retry shortly`,
      );
    }
    if (this.#epochId === undefined)
      throw new HubError("failed_precondition", "the sketch index has no current epoch");
    if (suspect.epochId !== this.#epochId) {
      throw new HubError(
        "invalid_argument",
        `suspect sketch is of epoch ${suspect.epochId}, the index of ${this.#epochId}`,
      );
    }
    const t0 = performance.now();
    const hits: CoarseHit[] = this.#index.query(
      suspect.coarse,
      options.minAgreeingBands ?? LSH_V1.minAgreeingBands,
      limit * DETAIL_FACTOR + (options.excludeMember === undefined ? 0 : limit * DETAIL_FACTOR),
    );
    const chosen = hits
      .filter(
        (h) =>
          options.excludeMember === undefined ||
          this.#entries[h.ordinal]?.model.memberId !== options.excludeMember,
      )
      .slice(0, limit * DETAIL_FACTOR);
    const t1 = performance.now();
    // Stage 2 from memory; only the hits whose detail is not held are read from Postgres.
    const held = new Map<number, Sketch>();
    const missing: bigint[] = [];
    chosen.forEach((h, i) => {
      let scratch = this.#coarseScratch[i];
      if (scratch?.length !== suspect.coarse.length) {
        scratch = new Uint8Array(suspect.coarse.length);
        this.#coarseScratch[i] = scratch;
      }
      const sk =
        suspect.coarse.length === 0
          ? undefined
          : this.#detail.sketchOf(
              h.ordinal,
              this.#epochId as string,
              coarseView(suspect.coarse, this.#index.keysOf(h.ordinal), scratch),
            );
      if (sk !== undefined) held.set(h.ordinal, sk);
      else missing.push((this.#entries[h.ordinal] as Entry).seq);
    });
    const detail = await this.#sketches.sketchesBySeq(missing);
    const t2 = performance.now();
    const stage = options.probeStage ?? DEFAULT_PROBE_STAGE;
    const out: Candidate[] = [];
    for (const h of chosen) {
      const e = this.#entries[h.ordinal] as Entry;
      const stored = held.get(h.ordinal) ?? detail.get(e.seq);
      if (stored === undefined) continue; // removed meanwhile
      if (stage !== false && !passesProbeStage(suspect, stored, stage)) continue;
      const similarity = compareSketches(suspect, stored);
      out.push({
        model: e.model,
        sketchId: e.sketchId,
        coarseAgreeingBands: h.agreeingBands,
        similarity,
        score: similarity.score,
      });
    }
    const st = this.#index.lastQueryStats;
    this.#last = {
      coarseMs: t1 - t0,
      detailReadMs: t2 - t1,
      compareMs: performance.now() - t2,
      detailRead: chosen.length,
      detailFromMemory: held.size,
      uncountedBands: st.uncountedBands,
      countedPostings: st.countedPostings,
    };
    out.sort(
      (a, b) =>
        b.score - a.score ||
        b.coarseAgreeingBands - a.coarseAgreeingBands ||
        (a.sketchId < b.sketchId ? -1 : 1),
    );
    return out.slice(0, limit);
  }
}

function modelKey(m: ModelRef): string {
  return `${m.memberId}\u0000${m.modelId}\u0000${m.modelVersion}`;
}

/** {@link SketchRetriever.retrieveCandidates}, as the function release scanning calls. */
export function retrieveCandidates(
  retriever: SketchRetriever,
  suspect: Sketch,
  options: RetrieveOptions = {},
): Promise<Candidate[]> {
  return retriever.retrieveCandidates(suspect, options);
}
