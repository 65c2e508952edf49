/**
 * The member's side of flow 5 (DESIGN.md "Confirm"): turns the engine's comparison into a signed
 * attestation statement. Only the evidence summary leaves the node — test kinds, counts, effect sizes,
 * p-values and the policy — never a canary, a response or a key: the statement is built from
 * `CompareResult` fields that hold numbers only, and the per-signal `detail` maps are not copied.
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type AttestationStatement,
  AttestationStatementSchema,
  Correction,
  type SuspectRefSchema,
  TestKind,
  Verdict,
} from "@lineage/api";
import { type DsseEnvelope, type Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import type { CompareResult } from "@lineage/fingerprint";

/** DSSE payload type of attestation statements (dsse.proto). */
export const ATTESTATION_PAYLOAD_TYPE = "application/vnd.lineage.attestation.v1+proto";

const TEST_KINDS: Readonly<Record<string, TestKind>> = {
  canary_reproduction: TestKind.CANARY,
  watermark: TestKind.WATERMARK,
  output_similarity: TestKind.PROBE_SIMILARITY,
  shared_wrong_answers: TestKind.WRONG_ANSWER,
  token_distribution: TestKind.TOKEN_DISTRIBUTION,
};

/** What the member attests about, besides the engine's result. */
export interface AttestationSubject {
  readonly memberId: string;
  readonly model: { readonly modelId: string; readonly modelVersion: string };
  readonly suspect: MessageInitShape<typeof SuspectRefSchema>;
  readonly sessionId: string;
  /** The hub's session nonce, echoed so the statement cannot be replayed into another session. */
  readonly sessionNonce: Uint8Array;
  readonly epochId: string;
  readonly issuedAtMs: number;
  /** The logged canary commitment the canary test relied on, when it ran. */
  readonly canaryCommitment?: { readonly id: string; readonly root: Uint8Array; readonly logIndex: number };
  /** Identifies the policy version the decision applied. */
  readonly policyId?: string;
}

function count(detail: Readonly<Record<string, number | string | boolean>>, ...keys: string[]): number {
  let total = 0;
  for (const key of keys) {
    const v = detail[key];
    if (typeof v === "number" && Number.isFinite(v) && v >= 0) total += Math.floor(v);
  }
  return total;
}

/** Trials and hits of each signal, read from the counts the engine reports (see the signal-* modules). */
function trialsAndHits(name: string, detail: Readonly<Record<string, number | string | boolean>>) {
  switch (name) {
    case "canary_reproduction":
      return { trials: count(detail, "exposed_asked", "decoys_asked"), hits: count(detail, "exposed_hits") };
    case "watermark":
      return { trials: count(detail, "pairs"), hits: count(detail, "green") };
    case "shared_wrong_answers":
      return { trials: count(detail, "reference_wrong"), hits: 0 };
    default:
      return { trials: count(detail, "probes"), hits: 0 };
  }
}

/** Builds the attestation statement for one comparison. Available signals become test results. */
export function attestationStatement(
  subject: AttestationSubject,
  result: CompareResult,
): AttestationStatement {
  if (subject.sessionNonce.length < 16)
    throw new RangeError("attestationStatement: sessionNonce must be >= 16 bytes");
  const tests = result.signals
    .filter((s) => s.available && TEST_KINDS[s.name] !== undefined)
    .map((s) => ({
      kind: TEST_KINDS[s.name] ?? TestKind.UNSPECIFIED,
      queries: s.name === "canary_reproduction" ? result.queries.canaries : result.probes_used,
      ...trialsAndHits(s.name, s.detail),
      statistic: Number.isFinite(s.statistic) ? s.statistic : 0,
      effectSize: s.effect,
      pValue: s.p_value,
    }));
  return create(AttestationStatementSchema, {
    version: 1,
    sessionId: subject.sessionId,
    sessionNonce: subject.sessionNonce,
    suspect: subject.suspect,
    memberModel: { memberId: subject.memberId, ...subject.model },
    verdict: result.decision === "LIKELY_DERIVED" ? Verdict.LIKELY_DERIVED : Verdict.INCONCLUSIVE,
    evidence: {
      tests,
      combinedPValue: result.p_value,
      combinedEffectSize: result.effect_size,
      policy: {
        policyId: subject.policyId ?? "lineage-default-v1",
        alpha: result.policy.alpha,
        minEffectSize: result.policy.min_effect,
        combination: "min-p",
        correction: Correction.BONFERRONI,
        comparisons: result.policy.corrections.comparisons,
        stoppedEarly: result.stopped_early,
      },
      canariesSpent: result.queries.canaries,
      totalQueries: result.queries.total,
    },
    epochId: subject.epochId,
    issuedAt: timestampFromMs(subject.issuedAtMs),
    ...(subject.canaryCommitment
      ? {
          canaryCommitment: {
            commitmentId: subject.canaryCommitment.id,
            merkleRoot: subject.canaryCommitment.root,
            logIndex: BigInt(subject.canaryCommitment.logIndex),
          },
        }
      : {}),
  });
}

/** Signs a statement with the member key: the DSSE envelope the hub countersigns and logs. */
export function signAttestation(statement: AttestationStatement, key: Ed25519PrivateKey): DsseEnvelope {
  return signEnvelope(ATTESTATION_PAYLOAD_TYPE, toBinary(AttestationStatementSchema, statement), key);
}
