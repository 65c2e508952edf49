/**
 * `lineage audit verify`: checks an attestation bundle (attestation_bundle.proto) trusting only the
 * hub's verifier key (DESIGN.md flow 8):
 *   1. the checkpoint is signed by the hub;
 *   2. every membership record is hub-signed and included in that checkpoint; they establish the
 *      signing key (logged before the attestation) and any revocation of it;
 *   3. the attestation is included in the checkpoint, signed by that member key and countersigned
 *      by the hub; the key was valid at the statement's issued_at;
 *   4. the canary commitment it relied on (if any) is logged before it, by the same member, with
 *      the same id and root, and included in the checkpoint.
 * The bundle is attacker-controlled: every field is bounded and checked.
 */
import { fromBinary } from "@bufbuild/protobuf";
import {
  type AttestationBundle,
  type AttestationStatement,
  AttestationStatementSchema,
  type CanaryCommitment,
  CanaryCommitmentSchema,
  LogEntryKind,
  MembershipRecordSchema,
  type ProvenEntry,
} from "@lineage/api";
import { type Checkpoint, hashLeaf, KeyRing, toHex, verifyEnvelope, verifyInclusion } from "@lineage/crypto";
import { type AuditCheck, AuditError, CheckList } from "./audit-error.js";
import {
  AUDIT_DSSE_LIMITS,
  type AuditedKey,
  type AuditedLeaf,
  applyKeyRecord,
  decodeAuditedLeaf,
  keyValidity,
  openHubCheckpoint,
  requiredMs,
} from "./log-records.js";
import type { TrustRoot } from "./trust-root.js";

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
  /** The commitment it relied on, verified; undefined when none. */
  readonly commitment?: { readonly index: number; readonly body: CanaryCommitment };
}

function toIndex(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new AuditError("malformed", `${what} is too large`);
  return Number(v);
}

/** Checks that a proven entry is in the checkpoint; returns its decoded leaf and index. */
function checkProven(
  c: CheckList,
  name: string,
  pe: ProvenEntry | undefined,
  cp: Checkpoint,
): { index: number; leaf: AuditedLeaf } {
  return c.run(`${name}.inclusion`, "bad_proof", () => {
    if (pe?.entry === undefined || pe.inclusionProof === undefined) {
      throw new AuditError("malformed", "entry or inclusion proof is missing");
    }
    const index = toIndex(pe.entry.index, "entry index");
    const proof = pe.inclusionProof;
    if (toIndex(proof.leafIndex, "proof leaf_index") !== index) {
      throw new AuditError("wrong_entry", "the proof is for another index than the entry");
    }
    if (toIndex(proof.treeSize, "proof tree_size") !== cp.size) {
      throw new AuditError("wrong_entry", "the proof is not against the bundle's checkpoint");
    }
    if (proof.hashes.length > 64)
      throw new AuditError("too_large", "inclusion proof has more than 64 hashes");
    const leaf = decodeAuditedLeaf(pe.entry.leaf, `${name} leaf`);
    try {
      verifyInclusion(hashLeaf(pe.entry.leaf), index, cp.size, proof.hashes, cp.rootHash);
    } catch (cause) {
      throw new AuditError("bad_proof", "the entry is not in the signed checkpoint's tree", { cause });
    }
    return { index, leaf };
  });
}

function verifySigs(env: AuditedLeaf["envelope"], ring: KeyRing, required: string[]): void {
  try {
    verifyEnvelope(env, { keys: ring, requiredKeyIds: required, limits: AUDIT_DSSE_LIMITS });
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    throw new AuditError(
      code === "unknown_key"
        ? "unknown_key"
        : code === "malformed" || code === "too_large"
          ? code
          : "bad_signature",
      (cause as Error).message,
      { cause },
    );
  }
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
      let rec: ReturnType<typeof fromBinary<typeof MembershipRecordSchema>>;
      try {
        rec = fromBinary(MembershipRecordSchema, r.leaf.envelope.payload);
      } catch (cause) {
        throw new AuditError("malformed", "payload is not a MembershipRecord", { cause });
      }
      applyKeyRecord(keys, rec, r.index);
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
    let st: AttestationStatement;
    try {
      st = fromBinary(AttestationStatementSchema, att.leaf.envelope.payload);
    } catch (cause) {
      throw new AuditError("malformed", "payload is not an AttestationStatement", { cause });
    }
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

  let commitment: BundleVerification["commitment"];
  const ref = statement.canaryCommitment;
  if (ref !== undefined) {
    const com = checkProven(c, "commitment", bundle.commitment, cp);
    commitment = c.run("commitment.binding", "wrong_entry", () => {
      if (com.leaf.kind !== LogEntryKind.COMMITMENT)
        throw new AuditError("wrong_entry", "entry is not a commitment");
      if (com.index !== toIndex(ref.logIndex, "commitment log_index")) {
        throw new AuditError("wrong_entry", "the commitment is not the entry the statement names");
      }
      if (com.index >= att.index)
        throw new AuditError("wrong_entry", "the commitment was logged after the attestation");
      const sig = com.leaf.envelope.signatures.find(
        (s) => keys.get(s.keyid)?.memberId === memberKey.memberId,
      );
      const key = sig === undefined ? undefined : keys.get(sig.keyid);
      if (key === undefined)
        throw new AuditError("unknown_key", "the commitment is not signed by a logged key of the member");
      verifySigs(com.leaf.envelope, new KeyRing([key.publicKey]), [key.keyId]);
      let body: CanaryCommitment;
      try {
        body = fromBinary(CanaryCommitmentSchema, com.leaf.envelope.payload);
      } catch (cause) {
        throw new AuditError("malformed", "payload is not a CanaryCommitment", { cause });
      }
      if (body.memberId !== memberKey.memberId || body.commitmentId !== ref.commitmentId) {
        throw new AuditError("wrong_entry", "the commitment's member or id differs from the statement's");
      }
      if (toHex(body.merkleRoot) !== toHex(ref.merkleRoot)) {
        throw new AuditError("wrong_entry", "the commitment's root differs from the statement's");
      }
      const why = keyValidity(key, requiredMs(body.committedAt, "commitment committed_at"));
      if (why !== undefined) throw new AuditError("key_not_valid", `commitment: ${why}`);
      return { index: com.index, body };
    });
  }
  return {
    checks: c.checks,
    checkpoint: cp,
    attestationIndex: att.index,
    statement,
    memberKey,
    ...(commitment === undefined ? {} : { commitment }),
  };
}
