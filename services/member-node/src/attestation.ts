/**
 * The member's side of flow 5 (DESIGN.md "Confirm"; "The match protocol", step 3): turns the engine's
 * comparison and the logged session it answers into a version-2 attestation statement. The statement
 * carries the COUNTS the verdict rests on (VerdictEvidence) and the choices the session bound before the
 * evidence (panel, seed, reference fingerprint hash, policy, commitments), copied from the hub's
 * SessionOpened entry; the hub and the auditor re-derive the verdict from them with `deriveVerdict`. The
 * EvidenceSummary stays filled for readers, but verifiers ignore its p-values.
 *
 * Only numbers leave the node: no canary, response, probe text or key is read into the statement (the
 * engine's per-signal `detail` maps are not copied).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type AttestationStatement,
  AttestationStatementSchema,
  Correction,
  type SessionOpened,
} from "@lineage/api";
import { type DsseEnvelope, type Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import { type CompareResult, checkBoundPolicy, deriveVerdict, samePolicyNumbers } from "@lineage/fingerprint";
import { MemberNodeError } from "./member-node-error.js";
import { evidenceToProto, policyFromProto, testResultsToProto, verdictToProto } from "./verdict-proto.js";

/** DSSE payload type of attestation statements (dsse.proto). */
export const ATTESTATION_PAYLOAD_TYPE = "application/vnd.lineage.attestation.v1+proto";

/** Statement format version this node writes. */
export const ATTESTATION_STATEMENT_VERSION = 2;

/** The logged session a statement answers: the hub's SessionOpened and its log index. */
export interface LoggedSessionRef {
  readonly index: number;
  readonly opened: SessionOpened;
}

/** What the member adds besides the engine's result and the session. */
export interface AttestationSubject {
  readonly memberId: string;
  readonly issuedAtMs: number;
}

function mismatch(what: string): never {
  throw new MemberNodeError("session_mismatch", `the comparison does not match the session: ${what}`);
}

/**
 * Builds the version-2 statement answering `session` from `result`. Refuses (before anything is signed) a
 * result that could not be admitted: compared under another policy than the session's registered one
 * (`policy_mismatch`), with counts missing or extra for what the session binds, other comparisons, or a
 * verdict its own counts do not give (`session_mismatch`).
 */
export function attestationStatement(
  subject: AttestationSubject,
  result: CompareResult,
  session: LoggedSessionRef,
): AttestationStatement {
  const o = session.opened;
  if (!Number.isSafeInteger(session.index) || session.index < 0)
    throw new MemberNodeError("invalid_argument", "session.index must be a non-negative integer");
  if (o.candidate === undefined || o.candidate.memberId !== subject.memberId)
    throw new MemberNodeError("permission_denied", "the session compares another member's model");
  if (o.policy === undefined) throw new MemberNodeError("malformed", "the session states no policy");
  const bound = checkBoundPolicy(policyFromProto(o.policy));
  if (!bound.ok) throw new MemberNodeError("policy_mismatch", bound.message);
  if (result.policy.id !== bound.policy.id || !samePolicyNumbers(result.policy, bound.policy))
    throw new MemberNodeError(
      "policy_mismatch",
      `the comparison ran under ${result.policy.id}, the session binds ${bound.policy.id}`,
    );
  const e = result.evidence;
  if ((e.canary !== undefined) !== (o.canaryCommitment !== undefined))
    mismatch("canary counts must be present exactly when the session binds a canary commitment");
  if ((e.watermark !== undefined) !== (o.watermarkCommitment !== undefined))
    mismatch("watermark counts must be present exactly when the session binds a watermark key");
  if (e.watermark_queries !== undefined && e.watermark === undefined)
    mismatch("watermark queries counts need the battery's watermark counts");
  if (e.comparisons !== o.comparisons) mismatch(`comparisons ${e.comparisons}, session ${o.comparisons}`);
  const derived = deriveVerdict(e, bound.policy);
  if (derived.verdict !== result.verdict || derived.backed_by !== result.backed_by)
    mismatch(`the result says ${result.verdict}, its counts give ${derived.verdict}`);
  return create(AttestationStatementSchema, {
    version: ATTESTATION_STATEMENT_VERSION,
    sessionId: o.sessionId,
    sessionNonce: o.nonce,
    ...(o.suspect === undefined ? {} : { suspect: o.suspect }),
    memberModel: o.candidate,
    verdict: verdictToProto(derived.verdict),
    evidence: {
      tests: testResultsToProto(derived.tests, derived.lead, e, result.queries.canaries, bound.policy),
      combinedPValue: derived.p_value,
      combinedEffectSize: derived.effect,
      policy: {
        policyId: bound.policy.id,
        alpha: bound.policy.alpha,
        minEffectSize: bound.policy.min_effect,
        combination: "weighted-bonferroni",
        correction: Correction.BONFERRONI,
        comparisons: e.comparisons,
        stoppedEarly: result.stopped_early,
      },
      canariesSpent: result.queries.canaries,
      totalQueries: result.queries.total,
    },
    ...(o.canaryCommitment === undefined ? {} : { canaryCommitment: o.canaryCommitment }),
    ...(o.watermarkCommitment === undefined ? {} : { watermarkCommitment: o.watermarkCommitment }),
    epochId: o.epochId,
    issuedAt: timestampFromMs(subject.issuedAtMs),
    counts: evidenceToProto(e),
    bound: {
      sessionIndex: BigInt(session.index),
      panel: [...o.panel],
      seed: o.seed,
      referenceFingerprintHash: o.referenceFingerprintHash,
      // Copied as logged (not re-encoded): verifiers compare it with the session's field by field.
      policy: o.policy,
    },
    backedBy: derived.backed_by ?? "",
  });
}

/** Signs a statement with the member key: the DSSE envelope the hub countersigns and logs. */
export function signAttestation(statement: AttestationStatement, key: Ed25519PrivateKey): DsseEnvelope {
  return signEnvelope(ATTESTATION_PAYLOAD_TYPE, toBinary(AttestationStatementSchema, statement), key);
}
