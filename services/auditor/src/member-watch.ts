/**
 * A member's monitor of the log (issue 8, `lineage member watch`): reads the entries logged since its
 * saved position and reports every entry in the member's name — a membership change, a commitment, an
 * attestation — that no key the member lists as its own signed. This is how a member learns that the
 * hub (or anyone holding a key the log attributes to it) acted in its name.
 *
 * The entries are proven: the saved state keeps the compact range of the tree at the saved position,
 * the new leaves are appended to it and the resulting root must be the root of the hub-signed checkpoint
 * the scan read up to (which proves both the entries and that the log only grew since). Everything the
 * hub sends is attacker-controlled.
 */
import { fromBinary } from "@bufbuild/protobuf";
import {
  AttestationStatementSchema,
  CanaryCommitmentSchema,
  LogEntryKind,
  MembershipAction,
  MembershipRecordSchema,
  ReferenceFingerprintCommitmentSchema,
  WatermarkKeyCommitmentSchema,
} from "@lineage/api";
import {
  bytesEqual,
  CompactRange,
  type DsseEnvelope,
  type Ed25519PublicKey,
  fromHex,
  hashLeaf,
  KeyRing,
  toHex,
  verifyEnvelope,
} from "@lineage/crypto";
import { AuditError } from "./audit-error.js";
import { AUDIT_DSSE_LIMITS, decodeAuditedLeaf, openHubCheckpoint, PAYLOAD_TYPES } from "./log-records.js";
import { HISTORY_PAGE_ENTRIES, type LogEntrySource, MAX_HISTORY_ENTRIES } from "./member-history.js";
import type { TrustRoot } from "./trust-root.js";
import type { CheckpointSource } from "./verify-consistency.js";

/** What a watcher remembers between runs: the tree it has read, as a compact range. */
export interface WatchState {
  readonly size: number;
  /** Hex hashes of the compact range of the first `size` leaves (CompactRange.hashes). */
  readonly range: readonly string[];
}

/** One entry in the member's name. */
export interface WatchedEntry {
  readonly index: number;
  readonly kind: "membership" | "commitment" | "attestation";
  /** Why it is reported, e.g. "ADD_KEY of key 3f2a…" or "canary commitment pairs-7". */
  readonly what: string;
  /** Key ids that signed it (as claimed by the envelope). */
  readonly signedBy: readonly string[];
  /** True when none of the member's own keys signed it. */
  readonly foreign: boolean;
  /** A hub decision (SUSPEND, REINSTATE, REMOVE): reported, not counted as foreign. */
  readonly hubDecision: boolean;
}

/** The outcome of one watch run. */
export interface WatchReport {
  readonly from: number;
  readonly to: number;
  readonly entries: readonly WatchedEntry[];
  readonly foreign: readonly WatchedEntry[];
  readonly state: WatchState;
}

function signedByOwn(envelope: DsseEnvelope, own: readonly Ed25519PublicKey[]): boolean {
  if (own.length === 0) return false;
  try {
    verifyEnvelope(envelope, { keys: new KeyRing(own), limits: AUDIT_DSSE_LIMITS });
    return true;
  } catch {
    return false;
  }
}

/** The member an entry speaks for, and what it is (undefined: not in anyone's name, or not decodable). */
function inNameOf(
  kind: LogEntryKind,
  envelope: DsseEnvelope,
): { memberId: string; kind: WatchedEntry["kind"]; what: string; hubDecision: boolean } | undefined {
  try {
    switch (kind) {
      case LogEntryKind.MEMBERSHIP: {
        const r = fromBinary(MembershipRecordSchema, envelope.payload);
        const hubDecision =
          r.action === MembershipAction.SUSPEND ||
          r.action === MembershipAction.REINSTATE ||
          r.action === MembershipAction.REMOVE;
        const key = r.key === undefined ? "" : ` of key ${r.key.keyId.slice(0, 16)}`;
        return {
          memberId: r.memberId,
          kind: "membership",
          what: `${MembershipAction[r.action]}${key}`,
          hubDecision,
        };
      }
      case LogEntryKind.COMMITMENT: {
        if (envelope.payloadType === PAYLOAD_TYPES.canaryCommitment) {
          const c = fromBinary(CanaryCommitmentSchema, envelope.payload);
          return {
            memberId: c.memberId,
            kind: "commitment",
            what: `canary commitment ${c.commitmentId.slice(0, 64)}`,
            hubDecision: false,
          };
        }
        if (envelope.payloadType === PAYLOAD_TYPES.watermarkCommitment) {
          const w = fromBinary(WatermarkKeyCommitmentSchema, envelope.payload);
          return {
            memberId: w.memberId,
            kind: "commitment",
            what: `watermark commitment ${w.commitmentId.slice(0, 64)}`,
            hubDecision: false,
          };
        }
        const f = fromBinary(ReferenceFingerprintCommitmentSchema, envelope.payload);
        return {
          memberId: f.memberId,
          kind: "commitment",
          what: `reference fingerprint of ${f.modelId.slice(0, 64)}`,
          hubDecision: false,
        };
      }
      case LogEntryKind.ATTESTATION: {
        const st = fromBinary(AttestationStatementSchema, envelope.payload);
        return {
          memberId: st.memberModel?.memberId ?? "",
          kind: "attestation",
          what: `attestation for session ${st.sessionId.slice(0, 64)}`,
          hubDecision: false,
        };
      }
      default:
        return undefined;
    }
  } catch {
    // An undecodable payload names no one; the hub's admission refuses those anyway.
    return undefined;
  }
}

/**
 * Reads the entries logged since `state` (undefined: from the start) up to the hub's latest checkpoint
 * and reports those in `memberId`'s name, each marked foreign unless one of `ownKeys` signed it. Fails
 * with `bad_proof` when the entries do not lead to the checkpoint's root from the saved range (the log
 * was rewritten, or the hub served other entries), `rollback` when the hub's tree is smaller than the
 * saved position. The caller saves `report.state` for the next run.
 */
export async function watchMember(
  checkpoints: CheckpointSource,
  entries: LogEntrySource,
  trust: TrustRoot,
  memberId: string,
  ownKeys: readonly Ed25519PublicKey[],
  state: WatchState | undefined,
): Promise<WatchReport> {
  const cp = openHubCheckpoint(await checkpoints.latestCheckpoint(), trust);
  const from = state?.size ?? 0;
  if (cp.size < from) {
    throw new AuditError(
      "rollback",
      `the hub's tree has ${cp.size} entries; this watcher already read ${from}`,
    );
  }
  if (cp.size > MAX_HISTORY_ENTRIES)
    throw new AuditError("too_large", "the log is beyond the watcher's bound");
  let range: CompactRange;
  try {
    range =
      state === undefined
        ? CompactRange.empty()
        : CompactRange.fromHashes(
            state.size,
            state.range.map((h) => fromHex(h)),
          );
  } catch (cause) {
    throw new AuditError("invalid_argument", "the saved watch state is not a compact range", { cause });
  }
  const found: WatchedEntry[] = [];
  for (let start = from; start < cp.size; start += HISTORY_PAGE_ENTRIES) {
    const end = Math.min(cp.size, start + HISTORY_PAGE_ENTRIES);
    const page = await entries.entries(start, end);
    if (page.length !== end - start) {
      throw new AuditError("malformed", `the hub sent ${page.length} entries for [${start}, ${end})`);
    }
    const hashes: Uint8Array[] = [];
    for (const [i, e] of page.entries()) {
      if (e.index !== start + i)
        throw new AuditError("malformed", `the hub sent entry ${e.index} out of order`);
      hashes.push(hashLeaf(e.leaf));
      const leaf = decodeAuditedLeaf(e.leaf, `log entry ${e.index}`);
      const who = inNameOf(leaf.kind, leaf.envelope);
      if (who === undefined || who.memberId !== memberId) continue;
      const own = signedByOwn(leaf.envelope, ownKeys);
      found.push({
        index: e.index,
        kind: who.kind,
        what: who.what,
        signedBy: leaf.envelope.signatures.map((s) => s.keyid.slice(0, 64)),
        foreign: !own && !who.hubDecision,
        hubDecision: who.hubDecision,
      });
    }
    range = range.append(hashes).range;
  }
  if (!bytesEqual(range.root(), cp.rootHash)) {
    throw new AuditError(
      "bad_proof",
      `entries [${from}, ${cp.size}) do not lead from the saved tree to the checkpoint's root: the log was rewritten or the hub served other entries`,
    );
  }
  return {
    from,
    to: cp.size,
    entries: found,
    foreign: found.filter((f) => f.foreign),
    state: { size: cp.size, range: range.hashes.map(toHex) },
  };
}
