/**
 * The checks of one logged attestation, wherever its entries come from (DESIGN.md flow 8 and "The match
 * protocol"): `audit verify` takes them from a bundle (verify-bundle.ts), `audit log` from the log it walks
 * (log-walk.ts). Given the attestation's entry (already established to be in the log), the member keys and
 * statuses the log's membership records established up to it, and the hub's keys by purpose:
 *   1. signed by exactly one member key logged before it, and countersigned by the hub's countersign key valid
 *      at its position;
 *   2. that key valid at the statement's issued_at and not revoked before the attestation's position, the
 *      member not suspended or removed before it, issued_at within the skew of its integration;
 *   3. a version-2 statement (`legacy_statement` for version 1);
 *   4. the canary commitment it names, logged before it by the same member with the same id and root;
 *   5. every bound choice and the verdict re-derived from its counts (verify-bound-choices.ts).
 * Every entry is attacker-controlled.
 */
import {
  type AttestationStatement,
  AttestationStatementSchema,
  type CanaryCommitment,
  CanaryCommitmentSchema,
  LogEntryKind,
} from "@lineage/api";
import { bytesEqual, KeyRing } from "@lineage/crypto";
import { AuditError, type CheckList } from "./audit-error.js";
import type { HubKeyHistory } from "./hub-key-history.js";
import {
  type AuditedKey,
  keyValidity,
  MAX_STATED_SKEW_MS,
  PAYLOAD_TYPES,
  requiredMs,
  type StatusChange,
  statusAt,
} from "./log-records.js";
import {
  decodePayload,
  type IndexedLeaf,
  type OpenedEntry,
  openMemberLeaf,
  toIndex,
  verifySigs,
} from "./proven-entry.js";
import { type BoundEntrySource, type BoundVerification, verifyBoundChoices } from "./verify-bound-choices.js";

/** What the log established before the attestation, and where its bound entries come from. */
export interface AttestationContext {
  /** The hub's keys by purpose (hub-key-history.ts). */
  readonly hubKeys: HubKeyHistory;
  /** Member keys by key id, as the membership records up to the attestation (at least) established them. */
  readonly keys: ReadonlyMap<string, AuditedKey>;
  /** Each member's status changes, in log order. */
  readonly statuses: ReadonlyMap<string, readonly StatusChange[]>;
  readonly entries: BoundEntrySource;
}

/** A verified attestation. */
export interface AttestationVerification {
  readonly attestationIndex: number;
  /** When the log integrated the attestation (ms since the epoch, from its leaf). */
  readonly attestationIntegratedAtMs: number;
  readonly statement: AttestationStatement;
  /** The logged key that signed it. */
  readonly memberKey: AuditedKey;
  /** The canary commitment it relied on, verified; undefined when none. */
  readonly commitment?: OpenedEntry<CanaryCommitment>;
  /** The session, sighting, commitments and the re-derived verdict. */
  readonly bound: BoundVerification;
}

/** Runs the checks of the module header; throws {@link AuditError} (with the checks so far) on the first failure. */
export function verifyAttestationEntry(
  c: CheckList,
  att: IndexedLeaf,
  ctx: AttestationContext,
): AttestationVerification {
  const { hubKeys, keys } = ctx;
  const { statement, memberKey } = c.run("attestation.signatures", "bad_signature", () => {
    if (att.leaf.kind !== LogEntryKind.ATTESTATION)
      throw new AuditError("wrong_entry", "entry is not an attestation");
    const memberSigs = att.leaf.envelope.signatures.filter((s) => !hubKeys.isHubKeyId(s.keyid));
    if (memberSigs.length !== 1)
      throw new AuditError("malformed", "attestation must have exactly one member signature");
    const key = keys.get((memberSigs[0] as { keyid: string }).keyid);
    if (key === undefined) {
      throw new AuditError(
        "unknown_key",
        "the attestation's signing key is not established by the log's membership records",
      );
    }
    if (key.addedAtIndex >= att.index)
      throw new AuditError("unknown_key", "the signing key was logged after the attestation");
    verifySigs(att.leaf.envelope, new KeyRing([key.publicKey]), [key.keyId]);
    hubKeys.checkSigned(att.leaf.envelope, "countersign", att.index, "the attestation's countersignature");
    const st: AttestationStatement = decodePayload(
      AttestationStatementSchema,
      att.leaf.envelope.payload,
      "AttestationStatement",
    );
    return { statement: st, memberKey: key };
  });
  c.run("attestation.key_validity", "key_not_valid", () => {
    const issued = requiredMs(statement.issuedAt, "statement issued_at");
    // Validity by log position: the key's revocation (if any) must come after the attestation.
    const why = keyValidity(memberKey, issued, att.index);
    if (why !== undefined) throw new AuditError("key_not_valid", why);
    const status = statusAt(ctx.statuses.get(memberKey.memberId), att.index);
    if (status !== "active") {
      throw new AuditError(
        "key_not_valid",
        `member ${memberKey.memberId} was ${status} before the attestation`,
      );
    }
    if (!(Math.abs(att.leaf.integratedAtMs - issued) <= MAX_STATED_SKEW_MS)) {
      throw new AuditError(
        "stale",
        `the statement's issued_at is more than ${MAX_STATED_SKEW_MS} ms from its integration time`,
      );
    }
    if (statement.memberModel !== undefined && statement.memberModel.memberId !== memberKey.memberId) {
      throw new AuditError("wrong_entry", "the statement is about another member's model");
    }
  });

  c.run("statement.version", "legacy_statement", () => {
    if (statement.version === 1) {
      throw new AuditError(
        "legacy_statement",
        "legacy statement (version 1): no counts to re-derive a verdict from",
      );
    }
    if (statement.version !== 2) {
      throw new AuditError("malformed", `unknown statement version ${statement.version}`);
    }
  });

  let commitment: OpenedEntry<CanaryCommitment> | undefined;
  const ref = statement.canaryCommitment;
  if (ref !== undefined) {
    const com = openMemberLeaf(
      c,
      "commitment",
      ctx.entries.entry(c, "commitment", ref.logIndex),
      keys,
      memberKey.memberId,
      PAYLOAD_TYPES.canaryCommitment,
      CanaryCommitmentSchema,
      (b) => b.committedAt,
    );
    commitment = c.run("commitment.binding", "wrong_entry", () => {
      if (com.index !== toIndex(ref.logIndex, "commitment log_index")) {
        throw new AuditError("wrong_entry", "the commitment is not the entry the statement names");
      }
      if (com.index >= att.index)
        throw new AuditError("wrong_entry", "the commitment was logged after the attestation");
      if (com.body.memberId !== memberKey.memberId || com.body.commitmentId !== ref.commitmentId) {
        throw new AuditError("wrong_entry", "the commitment's member or id differs from the statement's");
      }
      if (!bytesEqual(com.body.merkleRoot, ref.merkleRoot)) {
        throw new AuditError("wrong_entry", "the commitment's root differs from the statement's");
      }
      return com;
    });
  }
  const bound = verifyBoundChoices(c, ctx.entries, {
    hubKeys,
    attestationIndex: att.index,
    statement,
    memberKey,
    keys,
    ...(commitment === undefined ? {} : { commitment }),
  });
  return {
    attestationIndex: att.index,
    attestationIntegratedAtMs: att.leaf.integratedAtMs,
    statement,
    memberKey,
    ...(commitment === undefined ? {} : { commitment }),
    bound,
  };
}
