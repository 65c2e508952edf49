/**
 * Why the watermark queries step joined every session that binds a key (issue 7, paraphrased power): the
 * CALIBRATION split only, scored in process, every (suspect, member) pair of direct, paraphrased, weights-copy and
 * fine-tuned students and of the negatives, at the detection bench's 10 comparisons, under lineage-policy/3. It
 * refuses the test split: no design decision looks at it.
 *
 *   node --conditions=lineage-source --import tsx bench/detection/paraphrase-study.ts [--extra N]
 *
 * Per (suspect, member): the paired canary counts (hits and ranks, as canary-power-study.ts), the watermark
 * counts under the member's key over the battery answers (as compare() scores them), and over N extra watermark
 * queries (the member node's step: temperature 1, 64 tokens, top-20 alternatives, every pair scored).
 *
 * What it showed (2026-12-05, --extra 500; 100 and 200 gave the same rows):
 *
 *   group (students per member kind)     battery watermark    step watermark
 *   paraphrased, watermarking member     5/7                  7/7 (adjusted p 9e-10 or less even at 100 queries)
 *   paraphrased, control member          3/3                  3/3
 *   direct                               10/10                10/10
 *   weights / fine-tuned copies          10/10 each           10/10 each
 *   nulls (negatives x members)          0/210                0/210
 *
 * The canary rank test is at its information limit on the two misses: the student learned ~21 of 48 exposed
 * items, and a sign per pair can give at most 2^-21. The step's pairs add what the canaries cannot. Alone, the
 * step's effect is small (students 0.022-0.041 over 70k diluted pairs; a testbed weights copy samples without the
 * watermark, ~0), so it decides through canary_watermark; the battery set keeps a watermarked copy's large
 * effect (verdict.ts watermarkSetsTest).
 */
import {
  deriveVerdict,
  resolvePolicy,
  VERDICT_POLICY_3,
  type VerdictEvidence,
  WatermarkPairSet,
  type WatermarkResponse,
} from "@lineage/fingerprint";
import { buildPopulation, type PopulationEntry } from "@lineage/testbed";
import { batteryResponses, canaryCounts, toResponse } from "./study-kit.js";
import { watermarkQueryPrompts } from "./watermark-queries.js";

const argv = process.argv.slice(2);
if (argv.includes("test")) {
  process.stderr.write("paraphrase-study: the test split is never studied (issue 7)\n");
  process.exit(2);
}
const at = argv.indexOf("--extra");
const extraN = at >= 0 ? Number(argv[at + 1]) : 500;
const COMPARISONS = 10;

const pop = await buildPopulation({ split: "calibration", size: "full" });
const prompts = watermarkQueryPrompts({ split: "calibration", count: extraN, seed: pop.seed });

function extraResponses(e: PopulationEntry): WatermarkResponse[] {
  return prompts.map((prompt, i) => {
    const g = e.model.generate(prompt, { temperature: 1, seed: `wm/${i}`, maxTokens: 64, topLogprobs: 20 });
    return { prompt, response: toResponse(g, 1024) };
  });
}
const suspects = pop.entries.filter(
  (e) =>
    ["direct", "paraphrased", "weights_copy", "finetuned_copy"].includes(e.scenario ?? "") ||
    e.role === "negative",
);
type Rule = (ev: {
  canary: ReturnType<typeof canaryCounts>;
  wmB?: VerdictEvidence["watermark"];
  wmX?: VerdictEvidence["watermark"];
}) => { ok: boolean; p: number };
const P4 = resolvePolicy({ min_effect: 0.02 });
const verdictOf = (
  canary: ReturnType<typeof canaryCounts> | undefined,
  wm: VerdictEvidence["watermark"] | undefined,
  policy = VERDICT_POLICY_3,
) =>
  deriveVerdict(
    { ...(canary ? { canary } : {}), ...(wm ? { watermark: wm } : {}), comparisons: COMPARISONS },
    policy,
  );
const rules: Record<string, Rule> = {
  "policy 3, battery watermark (today)": ({ canary, wmB }) => {
    const v = verdictOf(canary, wmB);
    return { ok: v.verdict === "LIKELY_DERIVED", p: v.p_value };
  },
  "policy 3, step watermark": ({ canary, wmX }) => {
    const v = verdictOf(canary, wmX);
    return { ok: v.verdict === "LIKELY_DERIVED", p: v.p_value };
  },
  "min effect 0.02, step watermark": ({ canary, wmX }) => {
    const v = verdictOf(canary, wmX, P4);
    return { ok: v.verdict === "LIKELY_DERIVED", p: v.p_value };
  },
  "watermark alone (no canaries), policy 3, battery": ({ wmB }) => {
    const v = verdictOf(undefined, wmB);
    return { ok: v.verdict === "LIKELY_DERIVED", p: v.p_value };
  },
  "watermark alone (no canaries), policy 3, step": ({ wmX }) => {
    const v = verdictOf(undefined, wmX);
    return { ok: v.verdict === "LIKELY_DERIVED", p: v.p_value };
  },
  "watermark alone (no canaries), min effect 0.02, step": ({ wmX }) => {
    const v = verdictOf(undefined, wmX, P4);
    return { ok: v.verdict === "LIKELY_DERIVED", p: v.p_value };
  },
};
const effects = new Map<string, number[]>();
const tally = new Map<string, Map<string, { n: number; ok: number; ps: string[] }>>();
const t0 = performance.now();
for (const [i, e] of suspects.entries()) {
  const battery = batteryResponses(pop.probes, e);
  const extra = extraN > 0 ? extraResponses(e) : [];
  const setB = WatermarkPairSet.fromResponses(battery);
  const setX = WatermarkPairSet.fromResponses(extra);
  for (const m of pop.members) {
    const derived = e.members.some((x) => x.memberId === m.memberId);
    const group = derived ? `${e.scenario} ${m.watermark ? "wm" : "control"}` : "null";
    if (e.role !== "negative" && !derived) continue;
    const canary = canaryCounts(e, m);
    const wmB = m.watermark ? setB.counts(m.watermark.key, m.watermark.gamma) : undefined;
    const wmX = m.watermark && extraN > 0 ? setX.counts(m.watermark.key, m.watermark.gamma) : undefined;
    if (wmX) {
      const k = group.startsWith("null") ? "null" : group;
      const l = effects.get(k) ?? [];
      l.push((wmX.selected_green / wmX.selected_scored - wmX.gamma) / (1 - wmX.gamma));
      effects.set(k, l);
    }
    for (const [name, rule] of Object.entries(rules)) {
      const r = rule({ canary, ...(wmB ? { wmB } : {}), ...(wmX ? { wmX } : {}) });
      const g = tally.get(name) ?? new Map();
      tally.set(name, g);
      const x = g.get(group) ?? { n: 0, ok: 0, ps: [] };
      g.set(group, x);
      x.n++;
      if (r.ok) x.ok++;
      x.ps.push(r.p.toExponential(0));
    }
  }
  process.stderr.write(`\r${i + 1}/${suspects.length} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
process.stderr.write("\n");
for (const [name, g] of tally) {
  process.stdout.write(`\n${name} (calibration, ${COMPARISONS} comparisons)\n`);
  for (const [group, x] of [...g].sort(([a], [b]) => (a < b ? -1 : 1)))
    process.stdout.write(
      `  ${group.padEnd(20)} ${String(x.ok).padStart(3)} / ${String(x.n).padEnd(4)} ${
        group === "null"
          ? `min adj p ${x.ps
              .map(Number)
              .sort((a, b) => a - b)[0]
              ?.toExponential(1)}`
          : x.ps.join(" ")
      }\n`,
    );
}
process.stdout.write(
  "\nstep watermark effect (selected green share - gamma)/(1 - gamma): min / median / max\n",
);
for (const [k, l] of [...effects].sort()) {
  const s = [...l].sort((a, b) => a - b);
  process.stdout.write(
    `  ${k.padEnd(22)} ${s[0]?.toFixed(3)} / ${s[Math.floor(s.length / 2)]?.toFixed(3)} / ${s.at(-1)?.toFixed(3)} (n ${s.length})\n`,
  );
}
