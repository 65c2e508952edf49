/**
 * The extra watermark queries as a step of a match session (watermark/watermark-queries.ts says what they are
 * and why the null holds): run after the engine's comparison whenever the session binds a watermark key, their
 * pairs' counts go beside the comparison's battery counts (`evidence.watermark_queries`; `evidence.watermark`
 * stays the battery's) and the verdict is derived again from both under the session's policy — the same
 * `deriveVerdict` the hub and the auditor run on the attestation, which reads the two sets with Bonferroni 2
 * and lets a set decide only with its own effect (a watermarked copy's concentrated battery effect is kept).
 * The step's record (counts only) goes into the attestation statement (`watermark_queries`).
 *
 * Bound before the evidence: the step is BOUND whenever the session binds a watermark key (so the verdict reads
 * the two sets with Bonferroni 2 from the start); its prompts and seeds come from the session's seed and
 * battery. It is ASKED only when the comparison is not already LIKELY_DERIVED with the step bound and unasked
 * (empty counts): each query costs the member money and the suspect's operator sees it, and a comparison the
 * canaries or the battery decided gains nothing from it (decidedWithoutWatermarkQueries says why that keeps
 * the level). The record then says queries_planned 0, and the counts are empty.
 */
import { create } from "@bufbuild/protobuf";
import {
  type AttestationStatement,
  AttestationStatementSchema,
  WatermarkQueriesStepSchema,
} from "@lineage/api";
import {
  type Battery,
  type CompareResult,
  decidedWithoutWatermarkQueries,
  deriveVerdict,
  type ModelAdapter,
  type ReportedSignal,
  watermarkSetsTest,
} from "@lineage/fingerprint";
import { MemberNodeError } from "../member-node-error.js";
import {
  runWatermarkQueries,
  WATERMARK_QUERY_COUNT,
  type WatermarkQueriesRecord,
  watermarkQueryPlan,
} from "../watermark/watermark-queries.js";

const records = new WeakMap<CompareResult, WatermarkQueriesRecord>();

/** The step's record of a comparison it produced, if any. */
export function watermarkQueriesOf(result: CompareResult): WatermarkQueriesRecord | undefined {
  return records.get(result);
}

/** Inputs of {@link watermarkQueryStep}. */
export interface WatermarkQueryStepInput {
  readonly result: CompareResult;
  /** The session's logged 32-byte seed. */
  readonly seed: Uint8Array;
  /** The epoch battery the session names (the prompts are prefixes of its prompts). */
  readonly battery: Battery;
  /** The suspect as the session reaches it (its query budget enforced by the caller's adapter). */
  readonly suspect: ModelAdapter;
  readonly key: Uint8Array;
  readonly gamma: number;
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Runs the step and returns the comparison with the step's counts beside the battery's and the verdict derived
 * again from both. Throws `invalid_argument` on a comparison without battery watermark counts (no key bound).
 */
export async function watermarkQueryStep(o: WatermarkQueryStepInput): Promise<CompareResult> {
  const r = o.result;
  const battery = r.evidence.watermark;
  if (battery === undefined)
    throw new MemberNodeError(
      "invalid_argument",
      "the watermark queries step needs the comparison's watermark counts",
    );
  const plan = decidedWithoutWatermarkQueries(r.evidence, r.policy)
    ? []
    : watermarkQueryPlan(o.seed, o.battery, WATERMARK_QUERY_COUNT);
  const { counts, record } = await runWatermarkQueries({
    suspect: o.suspect,
    plan,
    key: o.key,
    gamma: o.gamma,
    ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
    ...(o.signal === undefined ? {} : { signal: o.signal }),
    ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
  });
  const evidence = { ...r.evidence, watermark: battery, watermark_queries: counts };
  const v = deriveVerdict(evidence, r.policy);
  // Which set the watermark test reports (for the readable signal; the verdict is deriveVerdict's).
  const decided = watermarkSetsTest(battery, counts, r.policy).set;
  const shown = decided === "queries" ? counts : battery;
  const { mass: _batteryMass, ...batteryCounts } = battery;
  const signals: ReportedSignal[] = r.signals.map((s) => {
    if (s.role !== "accusing") return s;
    const t = v.tests.find((x) => x.test === s.name);
    if (t === undefined) return s;
    const detail =
      s.name === "watermark"
        ? {
            ...s.detail,
            ...batteryCounts,
            ...(counts.mass === undefined
              ? {}
              : {
                  queries_mass_scored: counts.mass.scored.join(","),
                  queries_mass_green: counts.mass.green.join(","),
                }),
            queries_selected_scored: counts.selected_scored,
            queries_selected_green: counts.selected_green,
            queries_all_scored: counts.all_scored,
            queries_all_green: counts.all_green,
            step: record.protocol,
            queries: record.queriesAnswered,
            ...(decided === null ? {} : { reported_set: decided }),
          }
        : s.detail;
    if (!t.available)
      return {
        name: s.name,
        role: s.role,
        available: false,
        p_value: null,
        statistic: null,
        effect: null,
        reason: t.reason ?? "did not run",
        detail,
      };
    return {
      ...s,
      available: true,
      p_value: t.p_value,
      adjusted_p: t.adjusted_p,
      effect: t.effect,
      ...(s.name === "watermark" ? { statistic: shown.selected_green } : {}),
      detail,
    };
  });
  const asked = record.queriesPlanned;
  const out: CompareResult = {
    ...r,
    verdict: v.verdict,
    decision: v.verdict,
    p_value: v.p_value,
    effect_size: v.effect,
    backed_by: v.backed_by,
    explanation: v.explanation,
    lead_rank: v.lead,
    evidence,
    tests: v.tests,
    signals,
    queries: { ...r.queries, suspect: r.queries.suspect + asked, total: r.queries.total + asked },
  };
  records.set(out, record);
  return out;
}

/** The statement with the step's record of `result` (unchanged when the step did not run). */
export function withWatermarkQueries(
  statement: AttestationStatement,
  result: CompareResult,
): AttestationStatement {
  const rec = records.get(result);
  if (rec === undefined) return statement;
  return create(AttestationStatementSchema, {
    ...statement,
    watermarkQueries: create(WatermarkQueriesStepSchema, {
      protocol: rec.protocol,
      queriesPlanned: rec.queriesPlanned,
      queriesAnswered: rec.queriesAnswered,
      pairsScored: rec.pairsScored,
    }),
  });
}
