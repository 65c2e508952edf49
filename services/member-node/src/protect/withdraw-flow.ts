/**
 * Withdrawing a protected model: for every epoch whose sketch the node published and has not withdrawn,
 * a member-signed SketchWithdrawal goes out on the bus (sketch-publisher.ts) and is recorded; the model is
 * marked withdrawn. Withdrawing again is harmless: epochs already withdrawn are skipped, and a retried
 * publish carries the same message id.
 */
import type { MemberNodeDeps } from "../member-node-deps.js";
import { MemberNodeError } from "../member-node-error.js";
import { findModel } from "./probe-store.js";
import { publishWithdrawal } from "./sketch-publisher.js";

/** Longest withdrawal reason (proto bound). */
export const MAX_REASON_CHARS = 1024;

/**
 * Withdraws `modelId`'s sketches. @returns the epochs withdrawn by this call.
 * @throws MemberNodeError `not_found` (unknown model), `invalid_argument` (reason too long)
 */
export async function withdrawModel(
  deps: MemberNodeDeps,
  modelId: string,
  reason: string,
): Promise<string[]> {
  if (typeof reason !== "string" || reason.length > MAX_REASON_CHARS || /[\0]/.test(reason))
    throw new MemberNodeError("invalid_argument", `reason must be at most ${MAX_REASON_CHARS} characters`);
  const model = await findModel(deps.store, modelId);
  if (model === undefined)
    throw new MemberNodeError("not_found", `model ${modelId} is not protected by this node`);
  const published = await deps.store.db
    .selectFrom("published_sketches as p")
    .leftJoin("sketch_withdrawals as w", (j) =>
      j.onRef("w.model_id", "=", "p.model_id").onRef("w.epoch_id", "=", "p.epoch_id"),
    )
    .select(["p.epoch_id", "p.sketch_sha256"])
    .where("p.model_id", "=", modelId)
    .where("w.model_id", "is", null)
    .orderBy("p.epoch_id")
    .execute();
  const withdrawn: string[] = [];
  for (const row of published) {
    const sent = await publishWithdrawal(
      deps,
      { modelId, modelVersion: model.model_version },
      row.epoch_id,
      row.sketch_sha256,
      reason,
    );
    await deps.store.db
      .insertInto("sketch_withdrawals")
      .values({
        model_id: modelId,
        epoch_id: row.epoch_id,
        header_sequence: sent.headerSequence,
        msg_id: sent.msgId,
        reason,
      })
      .onConflict((oc) => oc.columns(["model_id", "epoch_id"]).doNothing())
      .execute();
    withdrawn.push(row.epoch_id);
  }
  await deps.store.db
    .updateTable("protected_models")
    .set({ withdrawn_at: new Date(deps.clock()) })
    .where("model_id", "=", modelId)
    .where("withdrawn_at", "is", null)
    .execute();
  deps.logger.info("protect.withdrawn", { model: modelId, epochs: withdrawn });
  return withdrawn;
}
