/**
 * `lineage audit verify`: checks an attestation bundle (attestation_bundle.proto) trusting only the
 * hub's verifier key (DESIGN.md flow 8):
 *   1. the checkpoint is signed by the hub;
 *   2. every membership record is hub-signed and included in that checkpoint; they establish the
 *      signing key (logged before the attestation) and any revocation of it;
 *   3. the attestation is included in the checkpoint, signed by that member key and countersigned
 *      by the hub; the key was valid at the statement's issued_at;
 *   4. the statement is version 2 (a version-1 statement carries no counts: `legacy_statement`);
 *   5. the canary commitment it relied on (if any) is logged before it, by the same member, with
 *      the same id and root, and included in the checkpoint;
 *   6. every choice the verdict was bound to, and the verdict itself, re-derived from the logged
 *      session, sighting and commitments, and the session's seed recomputed from the hub-signed seed
 *      checkpoint the bundle carries (verify-bound-choices.ts).
 * The bundle is attacker-controlled: every field is bounded and checked.
 */
import {
  type AttestationBundle,
  type AttestationStatement,
  AttestationStatementSchema,
  type CanaryCommitment,
  CanaryCommitmentSchema,
  LogEntryKind,
  MembershipRecordSchema,
} from "@lineage/api";
import { type Checkpoint, KeyRing, toHex } from "@lineage/crypto";
import { type AuditCheck, AuditError, CheckList } from "./audit-error.js";
import {
  type AuditedKey,
  applyKeyRecord,
  keyValidity,
  openHubCheckpoint,
  PAYLOAD_TYPES,
  requiredMs,
} from "./log-records.js";
import {
  checkProven,
  decodePayload,
  type OpenedEntry,
  openMemberCommitment,
  toIndex,
  verifySigs,
} from "./proven-entry.js";
import type { TrustRoot } from "./trust-root.js";
import { type BoundVerification, verifyBoundChoices } from "./verify-bound-choices.js";

/** Most membership records a bundle may carry (proto bound). */
export const MAX_BUNDLE_MEMBERSHIP = 64;

/** A verified attestation. */
export interface BundleVerification {
  readonly checks: readonly AuditCheck[];
  readonly checkpoint: Checkpoint;
  readonly attestationIndex: number;
  readonly statement: AttestationStatement;
  /** The logged key that signed it. */
  readonly memberKey: AuditedKey;
  /** The canary commitment it relied on, verified; undefined when none. */
  readonly commitment?: OpenedEntry<CanaryCommitment>;
  /**
   * The session, sighting, commitments and the re-derived verdict (version-2 statements; a bundle
   * that verifies always has them).
   */
  readonly bound: BoundVerification;
}

/** Verifies a bundle; throws {@link AuditError} (with the checks so far) on the first failure. */
export function verifyBundle(bundle: AttestationBundle, trust: TrustRoot): BundleVerification {
  const c = new CheckList();
  const cp = c.run("checkpoint.signature", "bad_signature", () => {
    if (bundle.checkpoint === undefined) throw new AuditError("malformed", "bundle has no checkpoint");
    return openHubCheckpoint(bundle.checkpoint.signedNote, trust);
  });
  const hubRing = new KeyRing([trust.hubKey]);

  // Membership records establish the member keys; replayed in log order.
  if (bundle.membership.length > MAX_BUNDLE_MEMBERSHIP) {
    c.fail("membership.count", "too_large", `more than ${MAX_BUNDLE_MEMBERSHIP} membership records`);
  }
  const keys = new Map<string, AuditedKey>();
  const records = bundle.membership
    .map((pe, i) => {
      const { index, leaf } = checkProven(c, `membership[${i}]`, pe, cp);
      return { i, index, leaf };
    })
    .sort((a, b) => a.index - b.index);
  for (const r of records) {
    c.run(`membership[${r.i}].signature`, "bad_signature", () => {
      if (r.leaf.kind !== LogEntryKind.MEMBERSHIP)
        throw new AuditError("wrong_entry", "entry is not a membership record");
      verifySigs(r.leaf.envelope, hubRing, [trust.hubKey.keyId]);
      applyKeyRecord(
        keys,
        decodePayload(MembershipRecordSchema, r.leaf.envelope.payload, "MembershipRecord"),
        r.index,
      );
    });
  }

  const att = checkProven(c, "attestation", bundle.attestation, cp);
  const { statement, memberKey } = c.run("attestation.signatures", "bad_signature", () => {
    if (att.leaf.kind !== LogEntryKind.ATTESTATION)
      throw new AuditError("wrong_entry", "entry is not an attestation");
    const memberSigs = att.leaf.envelope.signatures.filter((s) => s.keyid !== trust.hubKey.keyId);
    if (memberSigs.length !== 1)
      throw new AuditError("malformed", "attestation must have exactly one member signature");
    const key = keys.get((memberSigs[0] as { keyid: string }).keyid);
    if (key === undefined) {
      throw new AuditError(
        "unknown_key",
        "the attestation's signing key is not established by the bundle's membership records",
      );
    }
    if (key.addedAtIndex >= att.index)
      throw new AuditError("unknown_key", "the signing key was logged after the attestation");
    verifySigs(att.leaf.envelope, new KeyRing([key.publicKey, trust.hubKey]), [
      key.keyId,
      trust.hubKey.keyId,
    ]);
    const st: AttestationStatement = decodePayload(
      AttestationStatementSchema,
      att.leaf.envelope.payload,
      "AttestationStatement",
    );
    return { statement: st, memberKey: key };
  });
  c.run("attestation.key_validity", "key_not_valid", () => {
    const issued = requiredMs(statement.issuedAt, "statement issued_at");
    const why = keyValidity(memberKey, issued);
    if (why !== undefined) throw new AuditError("key_not_valid", why);
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

  let commitment: BundleVerification["commitment"];
  const ref = statement.canaryCommitment;
  if (ref !== undefined) {
    const com = openMemberCommitment(
      c,
      "commitment",
      bundle.commitment,
      cp,
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
      if (toHex(com.body.merkleRoot) !== toHex(ref.merkleRoot)) {
        throw new AuditError("wrong_entry", "the commitment's root differs from the statement's");
      }
      return com;
    });
  }
  const bound = verifyBoundChoices(c, bundle, trust, {
    checkpoint: cp,
    attestationIndex: att.index,
    statement,
    memberKey,
    keys,
    ...(commitment === undefined ? {} : { commitment }),
  });
  return {
    checks: c.checks,
    checkpoint: cp,
    attestationIndex: att.index,
    statement,
    memberKey,
    ...(commitment === undefined ? {} : { commitment }),
    bound,
  };
}
