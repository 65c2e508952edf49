/** MemberNode.GetNodeInfo: who this node is (public; carries no secret). */
import type { MemberNode } from "@lineage/api";
import { SKETCH_VERSION } from "@lineage/fingerprint";
import type { ServiceImpl } from "@lineage/rpc";
import type { MemberNodeDeps } from "./member-node-deps.js";

/** Most models listed (proto bound). */
const MAX_LISTED_MODELS = 1024;

/** Handlers of the node-info part of the service. */
export function nodeInfoHandlers(deps: MemberNodeDeps): Pick<ServiceImpl<typeof MemberNode>, "getNodeInfo"> {
  return {
    async getNodeInfo() {
      const rows = await deps.store.db
        .selectFrom("protected_models")
        .select(["model_id", "model_version"])
        .where("withdrawn_at", "is", null)
        .orderBy("model_id")
        .limit(MAX_LISTED_MODELS)
        .execute();
      return {
        memberId: deps.memberId,
        keyIds: [deps.signingKey.keyId],
        models: rows.map((r) => ({
          memberId: deps.memberId,
          modelId: r.model_id,
          modelVersion: r.model_version,
        })),
        sketchVersions: [SKETCH_VERSION],
      };
    },
  };
}
