/**
 * Who may sign what the hub ingests: the member keys and member states as the transparency log
 * establishes them (log/member-registry.ts), so a sketch is accepted only under a key an auditor would
 * also accept, from a member that is active when it arrives.
 */
import type { LoggedKey, LoggedMemberStatus } from "../log/member-registry.js";
import type { TransparencyLog } from "../log/transparency-log.js";

/** The logged keys and member states an ingesting hub checks signatures and membership against. */
export interface MemberDirectory {
  /** The logged key with this id (current or past), or undefined. */
  memberKey(keyId: string): LoggedKey | undefined;
  /** The state of the member owning a logged key. */
  statusOf(key: LoggedKey): Promise<LoggedMemberStatus>;
  /** Reads membership another hub process logged since (called before refusing an unknown key). */
  refresh(): Promise<void>;
}

/** A {@link MemberDirectory} over the hub's transparency log (shared by every replica through Postgres). */
export function logMemberDirectory(log: TransparencyLog): MemberDirectory {
  return {
    memberKey: (keyId) => log.memberKey(keyId),
    statusOf: async (key) => log.member(key.memberId)?.status ?? "removed",
    refresh: () => log.refresh(),
  };
}
