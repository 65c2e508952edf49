/**
 * The hub's ONE conversion between the verdict protocol's proto messages (attestation.proto
 * VerdictPolicy, VerdictEvidence, Verdict) and `@lineage/fingerprint`'s domain types, so that the log's
 * admission re-derives a statement's verdict with the same `deriveVerdict` the member node and the auditor
 * call (docs/specs/verdict.md). Proto messages here come from untrusted statements: conversions keep every
 * number as stated (the verdict module checks them) and never fill a missing field with a default that
 * could change a verdict.
 */
import {
  type CanaryPairCounts as ProtoCanaryPairCounts,
  type VerdictEvidence as ProtoVerdictEvidence,
  type VerdictPolicy as ProtoVerdictPolicy,
  type WatermarkCounts as ProtoWatermarkCounts,
  Verdict,
} from "@lineage/api";
import {
  ACCUSING_TESTS,
  type AccusingTest,
  type CanaryPairCounts,
  type Verdict as DomainVerdict,
  type VerdictEvidence,
  type VerdictPolicy,
  type WatermarkCounts,
} from "@lineage/fingerprint";
import { LogError } from "./log-error.js";

/**
 * A stated policy in domain form. Duplicate weights are refused (ambiguous), and so is a weight for a test that
 * is not an accusing test: a name such as "__proto__" would vanish from a plain object, so the policy checked
 * would not be the policy signed.
 */
export function policyFromProto(p: ProtoVerdictPolicy): VerdictPolicy {
  const weights: Partial<Record<AccusingTest, number>> = {};
  if (p.weights.length > 8) throw new LogError("invalid_argument", "policy weights: at most 8");
  for (const w of p.weights) {
    if (!(ACCUSING_TESTS as readonly string[]).includes(w.test))
      throw new LogError("invalid_argument", `policy weights name an unknown test "${w.test.slice(0, 64)}"`);
    if (Object.hasOwn(weights, w.test))
      throw new LogError("invalid_argument", `policy weights name "${w.test.slice(0, 64)}" twice`);
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

function canaryFromProto(c: ProtoCanaryPairCounts): CanaryPairCounts {
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

/** Watermark counts in domain form (the mass histogram iff the proto has one). */
export function watermarkFromProto(w: ProtoWatermarkCounts): WatermarkCounts {
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

/** Stated counts in domain form. */
export function evidenceFromProto(e: ProtoVerdictEvidence): VerdictEvidence {
  if (e.canary?.sequence !== undefined && e.canary.sequence.length > 100_000)
    throw new LogError("too_large", "counts.canary.sequence exceeds 100000 characters");
  if (e.canary?.rankSigns !== undefined && e.canary.rankSigns.length > 100_000)
    throw new LogError("too_large", "counts.canary.rank_signs exceeds 100000 characters");
  return {
    ...(e.canary === undefined ? {} : { canary: canaryFromProto(e.canary) }),
    ...(e.watermark === undefined ? {} : { watermark: watermarkFromProto(e.watermark) }),
    // The extra watermark queries step's counts (lineage-watermark-queries/2): the verdict reads both sets.
    ...(e.watermarkQueries === undefined
      ? {}
      : { watermark_queries: watermarkFromProto(e.watermarkQueries) }),
    ...(e.lead === undefined
      ? {}
      : {
          lead: {
            score: e.lead.score,
            null_size: e.lead.nullSize,
            null_at_least: e.lead.nullAtLeast,
            population: e.lead.population,
          },
        }),
    comparisons: e.comparisons,
  };
}

/** A stated verdict in domain form; undefined for values no verdict derivation produces. */
export function verdictFromProto(v: Verdict): DomainVerdict | undefined {
  switch (v) {
    case Verdict.LIKELY_DERIVED:
      return "LIKELY_DERIVED";
    case Verdict.SIMILAR:
      return "SIMILAR";
    case Verdict.INCONCLUSIVE:
      return "INCONCLUSIVE";
    default:
      return undefined;
  }
}
