/**
 * The member node's watermark queries step (services/member-node watermark-queries.ts, protocol
 * lineage-watermark-queries/3) as bench:detection runs it, for the main rows and the attack rows alike: asked of
 * the suspect exactly as a session asks it (the plan from a per-suspect seed, temperature 1, the node's bounds on
 * every answer), its pairs collected once per suspect with their green-mass levels, then scored under each
 * watermarking member's key. A session binds the step whenever the member watermarks and asks it only when the
 * comparison is not decided without it (then its counts are empty, and stay in the family).
 */
import { createHash } from "node:crypto";
import {
  type Battery,
  decidedWithoutWatermarkQueries,
  type ModelAdapter,
  unscoredWatermarkCounts,
  type VerdictEvidence,
  type VerdictPolicy,
  type WatermarkCounts,
  WatermarkPairSet,
  type WatermarkResponse,
} from "@lineage/fingerprint";
import {
  boundedAnswer,
  WATERMARK_QUERY_COUNT,
  WATERMARK_QUERY_MAX_TOKENS,
  WATERMARK_QUERY_TOP,
  watermarkQueryPlan,
} from "@lineage/member-node";

/** A suspect's answered step: its pairs (green-mass levels read off its answers) and the queries asked. */
export interface AnsweredStep {
  readonly pairs: WatermarkPairSet;
  readonly queries: number;
}

/**
 * Asks `model` the step's queries, planned from SHA-256 of `seedLabel` (one seed per served suspect, shared by
 * the members it is compared with), as the node asks them.
 */
export async function askWatermarkStep(
  model: ModelAdapter,
  seedLabel: string,
  battery: Battery,
): Promise<AnsweredStep> {
  const plan = watermarkQueryPlan(
    createHash("sha256").update(`bench-detection/step-seed/${seedLabel}`).digest(),
    battery,
    WATERMARK_QUERY_COUNT,
  );
  const answers = await Promise.all(
    plan.map(async (q): Promise<WatermarkResponse> => {
      const r = await model.generate({
        prompt: q.prompt,
        temperature: 1,
        seed: q.seed,
        maxTokens: WATERMARK_QUERY_MAX_TOKENS,
        topLogprobs: WATERMARK_QUERY_TOP,
      });
      return boundedAnswer(q.prompt, r);
    }),
  );
  return { pairs: WatermarkPairSet.fromResponses(answers, { mass: true }), queries: plan.length };
}

/**
 * A comparison's evidence with the step as a session records it. `evidence.watermark` must be present (the
 * member watermarks). When the comparison is decided without the step, the step is bound but not asked: its
 * counts are empty and `counts` is never called. Otherwise `counts` gives the step's counts under the member's
 * key. `asked` says which.
 */
export async function withWatermarkStep(
  evidence: VerdictEvidence,
  policy: VerdictPolicy,
  counts: () => WatermarkCounts | Promise<WatermarkCounts>,
): Promise<{ evidence: VerdictEvidence; asked: boolean }> {
  const battery = evidence.watermark;
  if (battery === undefined) throw new Error("withWatermarkStep: the comparison has no watermark counts");
  if (decidedWithoutWatermarkQueries(evidence, policy)) {
    return {
      evidence: { ...evidence, watermark_queries: unscoredWatermarkCounts(battery.gamma, { mass: true }) },
      asked: false,
    };
  }
  return { evidence: { ...evidence, watermark_queries: await counts() }, asked: true };
}
