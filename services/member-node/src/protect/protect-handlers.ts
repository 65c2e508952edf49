/**
 * MemberNode.ProtectModel, ListProtectedModels and WithdrawModel: the local operator's RPCs for protected
 * models. All three are admin RPCs (admin-auth.ts): without an admin identity they answer UNAUTHENTICATED
 * before reading anything else. Requests are checked where they arrive; progress carries counts and the
 * published sketch's digest only.
 */
import {
  ListProtectedModelsRequestSchema,
  type MemberNode,
  type ProtectModelRequest,
  ProtectModelRequestSchema,
  ProtectPhase,
  WithdrawModelRequestSchema,
} from "@lineage/api";
import type { CallContext, ServiceImpl } from "@lineage/rpc";
import type { MemberNodeDeps } from "../member-node-deps.js";
import { MemberNodeError } from "../member-node-error.js";
import { listModels } from "./probe-store.js";
import { type ProtectPhase as Phase, type ProtectOptions, protectModel } from "./protect-flow.js";
import { withdrawModel } from "./withdraw-flow.js";

const PHASES: Readonly<Record<Phase, ProtectPhase>> = {
  fetching_battery: ProtectPhase.FETCHING_BATTERY,
  probing: ProtectPhase.PROBING,
  sketching: ProtectPhase.SKETCHING,
  publishing: ProtectPhase.PUBLISHING,
  done: ProtectPhase.DONE,
};

/** Most models listed (proto bound). */
const MAX_MODELS = 1024;

function checkModelRef(
  deps: MemberNodeDeps,
  model: ProtectModelRequest["model"],
): { modelId: string; modelVersion: string } {
  if (model === undefined) throw new MemberNodeError("invalid_argument", "model is required");
  if (model.memberId !== deps.memberId)
    throw new MemberNodeError(
      "invalid_argument",
      `model.member_id must be this node's member id (${deps.memberId})`,
    );
  return { modelId: model.modelId, modelVersion: model.modelVersion };
}

/** Handlers of the protected-model part of the service. */
export function protectHandlers(
  deps: MemberNodeDeps,
  options: ProtectOptions,
): Pick<ServiceImpl<typeof MemberNode>, "protectModel" | "listProtectedModels" | "withdrawModel"> {
  return {
    async *protectModel(req, ctx: CallContext) {
      const caller = await deps.admin.check(ctx, ProtectModelRequestSchema, req);
      const { modelId, modelVersion } = checkModelRef(deps, req.model);
      deps.logger.info("rpc.protect_model", { caller, model: modelId });
      for await (const p of protectModel(
        deps,
        options,
        {
          modelId,
          modelVersion,
          adapter: req.adapter,
          ...(req.epochId !== "" ? { epochId: req.epochId } : {}),
        },
        ctx.signal,
      )) {
        yield {
          phase: PHASES[p.phase],
          probesDone: p.probesDone,
          probesTotal: p.probesTotal,
          ...(p.sketchSha256 ? { sketchSha256: p.sketchSha256 } : {}),
        };
      }
    },

    async listProtectedModels(req, ctx) {
      await deps.admin.check(ctx, ListProtectedModelsRequestSchema, req);
      const models = await listModels(deps.store, MAX_MODELS);
      const out = [];
      for (const m of models) {
        const run = await deps.store.db
          .selectFrom("probe_runs")
          .select(["run_id", "epoch_id", "probes_total"])
          .where("model_id", "=", m.model_id)
          .orderBy("created_at", "desc")
          .limit(1)
          .executeTakeFirst();
        let done = 0;
        let sketch: Uint8Array | undefined;
        if (run !== undefined) {
          const c = await deps.store.db
            .selectFrom("probe_results")
            .select((eb) => eb.fn.countAll<string | number | bigint>().as("n"))
            .where("run_id", "=", run.run_id)
            .executeTakeFirstOrThrow();
          done = Number(c.n);
          const pub = await deps.store.db
            .selectFrom("published_sketches")
            .select("sketch_sha256")
            .where("model_id", "=", m.model_id)
            .where("epoch_id", "=", run.epoch_id)
            .executeTakeFirst();
          sketch = pub?.sketch_sha256;
        }
        out.push({
          model: { memberId: deps.memberId, modelId: m.model_id, modelVersion: m.model_version },
          adapter: m.adapter,
          epochId: run?.epoch_id ?? "",
          probesDone: done,
          probesTotal: run?.probes_total ?? 0,
          ...(sketch ? { sketchSha256: sketch } : {}),
          withdrawn: m.withdrawn_at !== null,
        });
      }
      return { models: out };
    },

    async withdrawModel(req, ctx) {
      const caller = await deps.admin.check(ctx, WithdrawModelRequestSchema, req);
      const { modelId } = checkModelRef(deps, req.model);
      deps.logger.info("rpc.withdraw_model", { caller, model: modelId });
      return { epochIds: await withdrawModel(deps, modelId, req.reason) };
    },
  };
}
