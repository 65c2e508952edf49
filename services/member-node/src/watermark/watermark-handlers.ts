/**
 * The gRPC handlers of watermark keys (member_node_service.proto): ImportWatermarkKey and
 * CommitWatermarkKey, local admin only. Requests are untrusted and checked in watermark-keys.ts; answers
 * carry ids, digests and log indices — never the key or its salt.
 */
import {
  CommitWatermarkKeyRequestSchema,
  ImportWatermarkKeyRequestSchema,
  type MemberNode,
} from "@lineage/api";
import type { ServiceImpl } from "@lineage/rpc";
import type { MemberNodeDeps } from "../member-node-deps.js";
import type { WatermarkKeys } from "./watermark-keys.js";

/** Handlers of ImportWatermarkKey and CommitWatermarkKey. */
export function watermarkHandlers(
  deps: MemberNodeDeps,
  keys: WatermarkKeys,
): Pick<ServiceImpl<typeof MemberNode>, "importWatermarkKey" | "commitWatermarkKey"> {
  return {
    async importWatermarkKey(req, ctx) {
      const who = await deps.admin.check(ctx, ImportWatermarkKeyRequestSchema, req);
      const info = await keys.importFile(req.keyPath, req.commitmentId, req.gamma);
      deps.logger.info("watermark_key_imported", { commitment_id: info.commitmentId, by: who });
      return { commitmentId: info.commitmentId, keyDigest: info.keyDigest, gamma: info.gamma };
    },
    async commitWatermarkKey(req, ctx) {
      const who = await deps.admin.check(ctx, CommitWatermarkKeyRequestSchema, req);
      const { ref, entry } = await keys.commit(req.commitmentId, ctx.signal);
      deps.logger.info("watermark_key_committed", {
        commitment_id: ref.commitmentId,
        log_index: Number(ref.logIndex),
        by: who,
      });
      return { commitment: ref, logEntry: entry };
    },
  };
}
