/**
 * What the calibration studies (paraphrase-study.ts, ensemble-study.ts, canary-power-study.ts) share: a testbed
 * model's answers scored in process as the engine scores answers over HTTP — the battery as probeModel asks it,
 * and a member's paired canaries (hits, and the answer's mean log-probability for the rank rule).
 */
import {
  type CanaryPairCounts,
  type ModelResponse,
  type Probe,
  type SketchProbeInput,
  scoreCanaryPairs,
  tokenize,
  type WatermarkResponse,
} from "@lineage/fingerprint";
import { type MemberInfo, type PopulationEntry, pairedCanarySet } from "@lineage/testbed";

type Generated = ReturnType<PopulationEntry["model"]["generate"]>;

/**
 * The command line of a calibration-only study: it refuses the test split (no design decision looks at it,
 * issue 7: figures nobody tuned to) and returns `opt(flag, default)`, which exits 2 naming a flag given
 * without a value.
 */
export function calibrationStudyArgs(study: string): (flag: string, dflt: string) => string {
  const argv = process.argv.slice(2);
  if (argv.includes("test")) {
    process.stderr.write(`${study}: the test split is never studied (issue 7, figures nobody tuned to)\n`);
    process.exit(2);
  }
  return (flag, dflt) => {
    const i = argv.indexOf(flag);
    if (i < 0) return dflt;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) {
      process.stderr.write(`${study}: ${flag} needs a value\n`);
      process.exit(2);
    }
    return v;
  };
}

/** A generation as an adapter returns it, keeping the first `keep` tokens' log-probabilities. */
export function toResponse(g: Generated, keep: number): ModelResponse {
  return {
    text: g.text,
    ...(g.logprobs
      ? {
          tokens: g.logprobs.slice(0, keep).map((t) => ({
            token: t.token,
            logprob: t.logprob,
            top: t.topLogprobs.map((a) => ({ token: a.token, logprob: a.logprob })),
          })),
        }
      : {}),
  };
}

/**
 * A testbed model's answer to one probe with the engine's probe settings (probe-run.ts probeRequest): greedy,
 * seed 0, 200 tokens; completion probes 16 tokens with the top 5 log-probabilities.
 */
function probeGeneration(
  p: { readonly prompt: string; readonly kind: string },
  e: PopulationEntry,
): Generated {
  const completion = p.kind === "completion";
  return e.model.generate(p.prompt, {
    temperature: 0,
    seed: 0,
    maxTokens: completion ? 16 : 200,
    ...(completion ? { topLogprobs: 5 } : {}),
  });
}

/** The battery's answers as probeModel asks them (greedy; completions with the top 5 alternatives). */
export function batteryResponses(
  probes: readonly { readonly prompt: string; readonly kind: string }[],
  e: PopulationEntry,
): WatermarkResponse[] {
  return probes.map((p) => ({ prompt: p.prompt, response: toResponse(probeGeneration(p, e), 1024) }));
}

/** A testbed model's fingerprint as a sketch reads it (the battery's answers; completions' alternatives). */
export function sketchInputs(probes: readonly Probe[], e: PopulationEntry): SketchProbeInput[] {
  return probes.map((p) => {
    const g = probeGeneration(p, e);
    return {
      probeId: p.id,
      kind: p.kind,
      text: g.text,
      ...(p.reference !== undefined ? { reference: p.reference } : {}),
      ...(p.kind === "completion" && g.logprobs ? { topLogprobs: g.logprobs.map((t) => t.topLogprobs) } : {}),
    };
  });
}

/** Member `m`'s paired canaries asked of `e` and scored as a session scores them (hits, ranks, sequence). */
export function canaryCounts(e: PopulationEntry, m: MemberInfo): CanaryPairCounts {
  const set = pairedCanarySet(m, m.memberId);
  const responses = new Map<string, ModelResponse>();
  const scores = new Map<string, number>();
  for (const p of set.pairs) {
    for (const c of [p.exposed, p.decoy]) {
      const g = e.model.generateFromTokens(tokenize(c.prompt), {
        temperature: 0,
        seed: 0,
        maxTokens: 64,
        topLogprobs: 20,
      });
      responses.set(c.id, toResponse(g, 3));
      const ctx = tokenize(c.prompt);
      const ans = tokenize(c.answer);
      let sum = 0;
      for (const t of ans) {
        const lp = e.model.logprob(ctx, t);
        sum += Number.isFinite(lp) ? lp : -30;
        ctx.push(t);
      }
      scores.set(c.id, sum / ans.length);
    }
  }
  return scoreCanaryPairs(set, responses, { scores }).counts;
}
