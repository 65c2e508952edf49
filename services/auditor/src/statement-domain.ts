/**
 * The auditor's one conversion between the protocol's messages (attestation.proto, generated in
 * @lineage/api) and the verdict module's domain types (@lineage/fingerprint verdict/): counts, policy,
 * verdict. The auditor re-derives every verdict with the same `deriveVerdict` the member node signed with
 * and the hub admitted with, so the three cannot disagree — but it converts on its own, without the hub's
 * code, because it checks the hub. Input is attacker-controlled (a bundle): these functions only map
 * fields; range and consistency checks are the verdict module's (`checkCanaryCounts`, ...), which throw.
 */
import {
  type CanaryPairCounts as ProtoCanaryPairCounts,
  type LeadEvidence as ProtoLeadEvidence,
  Verdict as ProtoVerdict,
  type VerdictEvidence as ProtoVerdictEvidence,
  type VerdictPolicy as ProtoVerdictPolicy,
  type WatermarkCounts as ProtoWatermarkCounts,
} from "@lineage/api";
import {
  ACCUSING_TESTS,
  type AccusingTest,
  type CanaryPairCounts,
  type LeadEvidence,
  type Verdict,
  type VerdictEvidence,
  type VerdictPolicy,
  type WatermarkCounts,
} from "@lineage/fingerprint";
import { AuditError } from "./audit-error.js";

/** Most weights a stated policy may carry (attestation.proto VerdictPolicy). */
export const MAX_POLICY_WEIGHTS = 8;

/** Paired canary counts as the verdict module reads them. */
export function canaryCountsFromProto(c: ProtoCanaryPairCounts): CanaryPairCounts {
  return {
    pairs_committed: c.pairsCommitted,
    pairs_completed: c.pairsCompleted,
    exposed_hits: c.exposedHits,
    decoy_hits: c.decoyHits,
    exposed_only: c.exposedOnly,
    decoy_only: c.decoyOnly,
    ...(c.sequence === undefined ? {} : { sequence: c.sequence }),
    ...(c.scoredPairs === undefined ? {} : { scored_pairs: c.scoredPairs }),
    ...(c.rankSigns === undefined ? {} : { rank_signs: c.rankSigns }),
  };
}

/** Watermark counts as the verdict module reads them. */
export function watermarkCountsFromProto(w: ProtoWatermarkCounts): WatermarkCounts {
  return {
    gamma: w.gamma,
    selected_scored: w.selectedScored,
    selected_green: w.selectedGreen,
    all_scored: w.allScored,
    all_green: w.allGreen,
    // Present iff either histogram is (lineage-watermark-queries/3); checkWatermarkCounts checks its shape.
    ...(w.massScored.length === 0 && w.massGreen.length === 0
      ? {}
      : { mass: { scored: [...w.massScored], green: [...w.massGreen] } }),
  };
}

/** A similarity lead as the verdict module reads it. */
export function leadFromProto(l: ProtoLeadEvidence): LeadEvidence {
  return { score: l.score, null_size: l.nullSize, null_at_least: l.nullAtLeast, population: l.population };
}

/** Everything a verdict is derived from. */
export function verdictEvidenceFromProto(e: ProtoVerdictEvidence): VerdictEvidence {
  return {
    ...(e.canary === undefined ? {} : { canary: canaryCountsFromProto(e.canary) }),
    ...(e.watermark === undefined ? {} : { watermark: watermarkCountsFromProto(e.watermark) }),
    // The extra watermark queries step's counts (lineage-watermark-queries/2): the verdict reads both sets.
    ...(e.watermarkQueries === undefined
      ? {}
      : { watermark_queries: watermarkCountsFromProto(e.watermarkQueries) }),
    ...(e.lead === undefined ? {} : { lead: leadFromProto(e.lead) }),
    comparisons: e.comparisons,
  };
}

/**
 * A stated policy. Weights must name accusing tests, each once: a repeated or unknown test name is
 * `policy_mismatch` (no registered policy states one), never silently merged.
 */
export function verdictPolicyFromProto(p: ProtoVerdictPolicy): VerdictPolicy {
  if (p.weights.length > MAX_POLICY_WEIGHTS) {
    throw new AuditError("too_large", `the policy states more than ${MAX_POLICY_WEIGHTS} weights`);
  }
  const weights: Partial<Record<AccusingTest, number>> = {};
  for (const w of p.weights) {
    if (!(ACCUSING_TESTS as readonly string[]).includes(w.test)) {
      throw new AuditError("policy_mismatch", `the policy weighs an unknown test "${w.test.slice(0, 64)}"`);
    }
    if (weights[w.test as AccusingTest] !== undefined) {
      throw new AuditError("policy_mismatch", `the policy weighs test "${w.test}" twice`);
    }
    weights[w.test as AccusingTest] = w.weight;
  }
  return {
    id: p.policyId,
    alpha: p.alpha,
    min_effect: p.minEffect,
    weights,
    min_canary_pairs: p.minCanaryPairs,
    min_watermark_pairs: p.minWatermarkPairs,
    lead_alpha: p.leadAlpha,
    min_lead_null: p.minLeadNull,
  };
}

/**
 * The domain verdict a stated one means; undefined for values no verifier accepts (UNSPECIFIED, and
 * NOT_DERIVED: Lineage has no "clean" verdict).
 */
export function verdictFromProto(v: ProtoVerdict): Verdict | undefined {
  switch (v) {
    case ProtoVerdict.LIKELY_DERIVED:
      return "LIKELY_DERIVED";
    case ProtoVerdict.SIMILAR:
      return "SIMILAR";
    case ProtoVerdict.INCONCLUSIVE:
      return "INCONCLUSIVE";
    default:
      return undefined;
  }
}
