/**
 * Who may sign what the hub ingests: the member keys and member states as the transparency log
 * establishes them (log/member-registry.ts), so a sketch is accepted only under a key an auditor would
 * also accept, from a member that is active when it arrives.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { MembershipAction, MembershipRecordSchema } from "@lineage/api";
import { decodeLeaf } from "../log/log-leaf.js";
import type { LoggedKey, LoggedMemberStatus } from "../log/member-registry.js";
import type { TransparencyLog } from "../log/transparency-log.js";

/** The logged keys and member states an ingesting hub checks signatures and membership against. */
export interface MemberDirectory {
  /** The logged key with this id (current or past), or undefined. */
  memberKey(keyId: string): LoggedKey | undefined;
  /** The state of the member owning a logged key (enrolled, since the key is logged). */
  statusOf(key: LoggedKey): Promise<LoggedMemberStatus>;
}

/** Most membership decisions read about one member (suspensions, reinstatements, removal). */
const MAX_DECISIONS = 10_000;

/**
 * A {@link MemberDirectory} over the hub's transparency log: keys from the log's registry; a member's
 * state from its last logged SUSPEND / REINSTATE / REMOVE decision, cached until the log grows.
 */
export function logMemberDirectory(log: TransparencyLog): MemberDirectory {
  const cache = new Map<string, { size: number; status: LoggedMemberStatus }>();
  return {
    memberKey: (keyId) => log.memberKey(keyId),
    async statusOf(key) {
      const size = log.size;
      const hit = cache.get(key.memberId);
      if (hit !== undefined && hit.size === size) return hit.status;
      const decisions = await log.membershipDecisionsOf(key.memberId, 0, size, MAX_DECISIONS);
      let status: LoggedMemberStatus = "active";
      for (const e of decisions) {
        const rec = fromBinary(MembershipRecordSchema, decodeLeaf(e.leaf).envelope.payload);
        if (rec.action === MembershipAction.SUSPEND) status = "suspended";
        else if (rec.action === MembershipAction.REINSTATE) status = "active";
        else if (rec.action === MembershipAction.REMOVE) status = "removed";
      }
      cache.set(key.memberId, { size, status });
      return status;
    },
  };
}
