/**
 * One logged membership record replayed onto the member keys and statuses known so far (member.proto,
 * docs/specs/hub-keys.md): the hub's signature must be by its membership key valid at the record's position,
 * and the record signed by whom it must be (applyMembershipRecord, log-records.ts). Shared by `audit verify`
 * (a bundle's records, or the log's read by member-history.ts) and `audit log` (every record as the walk meets
 * it), so both judge a key's history the same way. Attacker-controlled leaf.
 */
import { LogEntryKind, MembershipRecordSchema } from "@lineage/api";
import { AuditError } from "./audit-error.js";
import type { HubKeyHistory } from "./hub-key-history.js";
import { type AuditedKey, applyMembershipRecord, type StatusChange } from "./log-records.js";
import { decodePayload, type IndexedLeaf } from "./proven-entry.js";

/**
 * Applies the membership record `r` to `keys` and `statuses` (records must be replayed in log order).
 * @throws AuditError `wrong_entry` (not a membership record), what HubKeyHistory.checkSigned and
 * applyMembershipRecord throw; a record that fails changes nothing.
 */
export function replayMembership(
  keys: Map<string, AuditedKey>,
  statuses: Map<string, StatusChange[]>,
  hubKeys: HubKeyHistory,
  r: IndexedLeaf,
): void {
  if (r.leaf.kind !== LogEntryKind.MEMBERSHIP)
    throw new AuditError("wrong_entry", "entry is not a membership record");
  const registrar = hubKeys.checkSigned(r.leaf.envelope, "membership", r.index, "membership record");
  applyMembershipRecord(
    keys,
    statuses,
    decodePayload(MembershipRecordSchema, r.leaf.envelope.payload, "MembershipRecord"),
    r.index,
    r.leaf.envelope,
    registrar,
    r.leaf.integratedAtMs,
  );
}
