/**
 * Re-publishing on epoch rotation (issue 9): sketches are keyed per epoch, so when the battery source's
 * current epoch changes, every protected model that is not withdrawn is probed on the new battery and its
 * new sketch published. A model already done for the epoch only re-announces its sketch (same message id,
 * deduplicated), and a run cut short resumes — so running this again after a crash is safe.
 */
import type { MemberNodeDeps } from "../member-node-deps.js";
import { errorFields } from "../node-logger.js";
import { type ProtectOptions, protectModel } from "./protect-flow.js";

/** Protects every active model on the current epoch; returns the ids protected (failures are logged). */
export async function protectAllOnCurrentEpoch(
  deps: MemberNodeDeps,
  options: ProtectOptions,
  signal?: AbortSignal,
): Promise<string[]> {
  const models = await deps.store.db
    .selectFrom("protected_models")
    .select(["model_id", "model_version", "adapter"])
    .where("withdrawn_at", "is", null)
    .orderBy("model_id")
    .execute();
  const ok: string[] = [];
  for (const m of models) {
    if (signal?.aborted) break;
    try {
      for await (const _ of protectModel(
        deps,
        options,
        { modelId: m.model_id, modelVersion: m.model_version, adapter: m.adapter },
        signal,
      )) {
        // progress is only for interactive callers
      }
      ok.push(m.model_id);
    } catch (err) {
      deps.logger.warn("epoch.republish_failed", { model: m.model_id, ...errorFields(err) });
    }
  }
  return ok;
}

/** A running epoch watcher. */
export interface EpochWatcher extends AsyncDisposable {
  /** The epoch last seen. */
  readonly epoch: string | undefined;
  /** Checks the source now (and re-publishes when the epoch changed); resolves when done. */
  check(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Polls the battery source every `intervalMs` (default 60 s). The first check only records the epoch;
 * each later change of epoch id re-publishes every active model's sketch.
 */
export function watchEpochs(
  deps: MemberNodeDeps,
  options: ProtectOptions,
  intervalMs = 60_000,
): EpochWatcher {
  const stopper = new AbortController();
  let epoch: string | undefined;
  let running: Promise<void> | undefined;
  const once = async () => {
    let current: string;
    try {
      current = (await options.batteries.get(undefined, stopper.signal)).battery.epoch;
    } catch (err) {
      deps.logger.warn("epoch.check_failed", errorFields(err));
      return;
    }
    if (epoch === undefined || current === epoch) {
      epoch = current;
      return;
    }
    deps.logger.info("epoch.rotated", { from: epoch, to: current });
    epoch = current;
    const done = await protectAllOnCurrentEpoch(deps, options, stopper.signal);
    deps.logger.info("epoch.republished", { epoch: current, models: done.length });
  };
  const check = () => {
    running ??= once().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  void check();
  const stop = async () => {
    clearInterval(timer);
    stopper.abort();
    await running?.catch(() => {});
  };
  return {
    get epoch() {
      return epoch;
    },
    check,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
