/**
 * The protect flow's rows (migration 0002): models, runs and each probe result, written as it arrives so a
 * run killed at any point resumes where it stopped. A result is inserted with ON CONFLICT DO NOTHING on
 * (run, probe index): a probe answered twice (a retry racing a restart) is still stored once.
 */
import { randomUUID } from "node:crypto";
import type { ModelResponse } from "@lineage/fingerprint";
import type { MemberNodeDatabase, ProbeRun, ProtectedModel, Store } from "@lineage/store";
import { MemberNodeError } from "../member-node-error.js";
import type { StoredEndpoint } from "./model-endpoint.js";

type Db = Store<MemberNodeDatabase>;

/** Registers (or re-registers) a model; a withdrawn model protected again is active again. */
export async function upsertModel(
  store: Db,
  model: { modelId: string; modelVersion: string; adapter: string; endpoint: StoredEndpoint },
): Promise<void> {
  const endpoint = JSON.stringify(model.endpoint);
  await store.db
    .insertInto("protected_models")
    .values({ model_id: model.modelId, model_version: model.modelVersion, adapter: model.adapter, endpoint })
    .onConflict((oc) =>
      oc.column("model_id").doUpdateSet({
        model_version: model.modelVersion,
        adapter: model.adapter,
        endpoint,
        withdrawn_at: null,
      }),
    )
    .execute();
}

/** A model by id, or undefined. */
export async function findModel(store: Db, modelId: string): Promise<ProtectedModel | undefined> {
  return store.db
    .selectFrom("protected_models")
    .selectAll()
    .where("model_id", "=", modelId)
    .executeTakeFirst();
}

/** Every model, ordered by id. */
export async function listModels(store: Db, limit: number): Promise<ProtectedModel[]> {
  return store.db.selectFrom("protected_models").selectAll().orderBy("model_id").limit(limit).execute();
}

/**
 * The run of (model, epoch): the existing one, or a new one. A run begun on a different battery for the
 * same epoch id cannot be resumed (its answers would mix two batteries): `failed_precondition`.
 */
export async function openRun(
  store: Db,
  modelId: string,
  epochId: string,
  batterySha256: Uint8Array,
  probesTotal: number,
  salt: Uint8Array,
): Promise<ProbeRun> {
  const found = await store.db
    .selectFrom("probe_runs")
    .selectAll()
    .where("model_id", "=", modelId)
    .where("epoch_id", "=", epochId)
    .executeTakeFirst();
  if (found !== undefined) {
    if (!Buffer.from(found.battery_sha256).equals(Buffer.from(batterySha256)))
      throw new MemberNodeError(
        "failed_precondition",
        `model ${modelId} was probed on a different battery for epoch ${epochId}; the battery changed under the same epoch id`,
      );
    return found;
  }
  await store.db
    .insertInto("probe_runs")
    .values({
      run_id: randomUUID(),
      model_id: modelId,
      epoch_id: epochId,
      battery_sha256: batterySha256,
      probes_total: probesTotal,
      state: "probing",
      reference_salt: salt,
    })
    .onConflict((oc) => oc.columns(["model_id", "epoch_id"]).doNothing())
    .execute();
  return store.db
    .selectFrom("probe_runs")
    .selectAll()
    .where("model_id", "=", modelId)
    .where("epoch_id", "=", epochId)
    .executeTakeFirstOrThrow();
}

/** Indexes of the probes a run has answered. */
export async function answeredIndexes(store: Db, runId: string): Promise<Set<number>> {
  const rows = await store.db
    .selectFrom("probe_results")
    .select("probe_index")
    .where("run_id", "=", runId)
    .execute();
  return new Set(rows.map((r) => r.probe_index));
}

/** One answered probe waiting for its batch. */
interface PendingResult {
  readonly probeIndex: number;
  readonly probeId: string;
  readonly response: ModelResponse;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Group commit of probe results: answers that arrive while a write is running are written together in the
 * next statement, so many requests in flight do not queue behind one insert each (the embedded database
 * has a single connection). `save` resolves only once its row is committed, so a probe counts as done —
 * and is reported — only when a restart would find it.
 */
export class ResultWriter {
  readonly #store: Db;
  readonly #runId: string;
  #pending: PendingResult[] = [];
  #writing: Promise<void> | undefined;

  constructor(store: Db, runId: string) {
    this.#store = store;
    this.#runId = runId;
  }

  /** Stores one answered probe (once); resolves when it is committed. */
  save(probeIndex: number, probeId: string, response: ModelResponse): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ probeIndex, probeId, response, resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, 256);
      try {
        await this.#store.db
          .insertInto("probe_results")
          .values(
            batch.map((r) => ({
              run_id: this.#runId,
              probe_index: r.probeIndex,
              probe_id: r.probeId,
              response: JSON.stringify(r.response),
            })),
          )
          .onConflict((oc) => oc.columns(["run_id", "probe_index"]).doNothing())
          .execute();
        for (const r of batch) r.resolve();
      } catch (err) {
        for (const r of batch) r.reject(err);
      }
    }
    this.#writing = undefined;
  }
}

/** Every stored response of a run, by probe id. Private: the raw fingerprint. */
export async function runResponses(store: Db, runId: string): Promise<Map<string, ModelResponse>> {
  const rows = await store.db
    .selectFrom("probe_results")
    .select(["probe_id", "response"])
    .where("run_id", "=", runId)
    .orderBy("probe_index")
    .execute();
  return new Map(rows.map((r) => [r.probe_id, JSON.parse(r.response) as ModelResponse]));
}

/** Marks a run done with its reference hash and sketch digest. */
export async function finishRun(
  store: Db,
  runId: string,
  referenceHash: Uint8Array,
  sketchSha256: Uint8Array,
  finishedAt: Date,
): Promise<void> {
  await store.db
    .updateTable("probe_runs")
    .set({
      state: "done",
      reference_hash: referenceHash,
      sketch_sha256: sketchSha256,
      finished_at: finishedAt,
    })
    .where("run_id", "=", runId)
    .execute();
}
