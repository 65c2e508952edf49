/**
 * The member node's ONE conversion between `@lineage/fingerprint`'s verdict types and the protocol's proto
 * messages (attestation.proto VerdictPolicy, VerdictEvidence, Verdict, TestResult). Numbers are copied as
 * they are: the hub and the auditor re-derive the verdict from exactly these counts (docs/specs/verdict.md).
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import {
  type VerdictEvidence as ProtoVerdictEvidence,
  type VerdictPolicy as ProtoVerdictPolicy,
  TestKind,
  type TestResultSchema,
  Verdict,
  VerdictEvidenceSchema,
  VerdictPolicySchema,
} from "@lineage/api";
import {
  ACCUSING_TESTS,
  type AccusingTest,
  type Verdict as DomainVerdict,
  type LeadOutcome,
  type TestOutcome,
  type VerdictEvidence,
  type VerdictPolicy,
  type WatermarkCounts,
  watermarkSetsTest,
} from "@lineage/fingerprint";
import { MemberNodeError } from "./member-node-error.js";

/** Domain policy -> proto, weights in the verdict module's test order (ACCUSING_TESTS). */
export function policyToProto(p: VerdictPolicy): ProtoVerdictPolicy {
  return create(VerdictPolicySchema, {
    policyId: p.id,
    alpha: p.alpha,
    minEffect: p.min_effect,
    weights: ACCUSING_TESTS.filter((t) => p.weights[t] !== undefined).map((t) => ({
      test: t,
      weight: p.weights[t] as number,
    })),
    minCanaryPairs: p.min_canary_pairs,
    minWatermarkPairs: p.min_watermark_pairs,
    leadAlpha: p.lead_alpha,
    minLeadNull: p.min_lead_null,
  });
}

/**
 * Proto policy -> domain (a session's policy, before checkBoundPolicy). Weights must name accusing tests,
 * each once: an unknown name (even "__proto__", which a plain object would silently drop) is `malformed`.
 */
export function policyFromProto(p: ProtoVerdictPolicy): VerdictPolicy {
  const weights: Partial<Record<AccusingTest, number>> = {};
  if (p.weights.length > ACCUSING_TESTS.length)
    throw new MemberNodeError("malformed", `policy states more than ${ACCUSING_TESTS.length} weights`);
  for (const w of p.weights) {
    if (!(ACCUSING_TESTS as readonly string[]).includes(w.test))
      throw new MemberNodeError("malformed", `policy weighs an unknown test "${w.test.slice(0, 64)}"`);
    if (Object.hasOwn(weights, w.test))
      throw new MemberNodeError("malformed", `policy weights name "${w.test.slice(0, 64)}" twice`);
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

function watermarkToProto(w: WatermarkCounts) {
  return {
    gamma: w.gamma,
    selectedScored: w.selected_scored,
    selectedGreen: w.selected_green,
    allScored: w.all_scored,
    allGreen: w.all_green,
    ...(w.mass === undefined ? {} : { massScored: [...w.mass.scored], massGreen: [...w.mass.green] }),
  };
}

/** Domain counts -> proto: exactly the counts, nothing else. */
export function evidenceToProto(e: VerdictEvidence): ProtoVerdictEvidence {
  return create(VerdictEvidenceSchema, {
    ...(e.canary === undefined
      ? {}
      : {
          canary: {
            pairsCommitted: e.canary.pairs_committed,
            pairsCompleted: e.canary.pairs_completed,
            exposedHits: e.canary.exposed_hits,
            decoyHits: e.canary.decoy_hits,
            exposedOnly: e.canary.exposed_only,
            decoyOnly: e.canary.decoy_only,
            ...(e.canary.sequence === undefined ? {} : { sequence: e.canary.sequence }),
            ...(e.canary.scored_pairs === undefined ? {} : { scoredPairs: e.canary.scored_pairs }),
            ...(e.canary.rank_signs === undefined ? {} : { rankSigns: e.canary.rank_signs }),
          },
        }),
    ...(e.watermark === undefined ? {} : { watermark: watermarkToProto(e.watermark) }),
    // The extra watermark queries step's counts (lineage-watermark-queries/2), beside the battery's.
    ...(e.watermark_queries === undefined ? {} : { watermarkQueries: watermarkToProto(e.watermark_queries) }),
    ...(e.lead === undefined
      ? {}
      : {
          lead: {
            score: e.lead.score,
            nullSize: e.lead.null_size,
            nullAtLeast: e.lead.null_at_least,
            population: e.lead.population,
          },
        }),
    comparisons: e.comparisons,
  });
}

/** Domain verdict -> proto. */
export function verdictToProto(v: DomainVerdict): Verdict {
  switch (v) {
    case "LIKELY_DERIVED":
      return Verdict.LIKELY_DERIVED;
    case "SIMILAR":
      return Verdict.SIMILAR;
    default:
      return Verdict.INCONCLUSIVE;
  }
}

const TEST_KINDS: Readonly<Record<AccusingTest, TestKind>> = {
  canary_pairs: TestKind.CANARY_PAIRS,
  watermark: TestKind.WATERMARK,
  canary_watermark: TestKind.CANARY_WATERMARK,
  canary_ranks: TestKind.CANARY_RANKS,
};

/**
 * The readable test list of an EvidenceSummary: each accusing test that ran, and the lead. Verifiers ignore
 * these p-values (they re-derive from the counts); trials and hits come from the same counts — for the
 * watermark test with two sets (`watermark_queries`), those of the set the test reports under `policy`.
 */
export function testResultsToProto(
  tests: readonly TestOutcome[],
  lead: LeadOutcome | null,
  e: VerdictEvidence,
  canaryQueries: number,
  policy?: VerdictPolicy,
): MessageInitShape<typeof TestResultSchema>[] {
  const out: MessageInitShape<typeof TestResultSchema>[] = [];
  const wm =
    e.watermark !== undefined &&
    e.watermark_queries !== undefined &&
    policy !== undefined &&
    watermarkSetsTest(e.watermark, e.watermark_queries, policy).set === "queries"
      ? e.watermark_queries
      : e.watermark;
  for (const t of tests) {
    if (!t.available) continue;
    const signs = e.canary?.rank_signs ?? "";
    const trials =
      t.test === "watermark"
        ? (wm?.selected_scored ?? 0)
        : t.test === "canary_ranks"
          ? signs.length
          : (e.canary?.exposed_only ?? 0) + (e.canary?.decoy_only ?? 0);
    const hits =
      t.test === "watermark"
        ? (wm?.selected_green ?? 0)
        : t.test === "canary_ranks"
          ? [...signs].filter((x) => x === "E").length
          : (e.canary?.exposed_only ?? 0);
    out.push({
      kind: TEST_KINDS[t.test],
      queries: t.test === "watermark" ? 0 : canaryQueries,
      trials,
      hits,
      statistic: 0,
      effectSize: t.effect,
      pValue: t.adjusted_p,
    });
  }
  if (lead !== null) {
    out.push({
      kind: TestKind.SIMILARITY_LEAD,
      trials: lead.null_size,
      hits: lead.null_size - lead.rank,
      statistic: Number.isFinite(lead.score) ? lead.score : 0,
      effectSize: 0,
      pValue: lead.p_value,
      nullModels: lead.null_size,
    });
  }
  return out;
}
