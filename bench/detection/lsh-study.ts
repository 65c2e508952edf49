/**
 * How the first stage of retrieval was chosen (issue 11, "Retrieval"): the CALIBRATION split only, answered
 * in process with the engine's probe settings (as bench/lsh.ts section 4), every (suspect, member teacher)
 * pair of bench:detection's plan (planComparisons: every model but a member's own teacher vs every member).
 * It refuses the test split: no design decision looks at it.
 *
 *   node --conditions=lineage-source --import tsx bench/detection/lsh-study.ts [--size full|small]
 *        [--inputs FILE] [--json FILE]
 *
 * --inputs caches the answers (JSON; written when missing) so that variants iterate without regenerating them.
 *
 * Rules compared (recall over copy pairs, at/above the design similarity (exact coarse Jaccard >= 0.06), and
 * the false-candidate rate over the others):
 *   - coarse: LSH_V1 alone (>= 19 of 512 coarse bands);
 *   - coarse + fine: then PROBE_STAGE_V1 on the per-probe rows (libs/fingerprint probe-stage.ts) — CHOSEN;
 *   - weighted coarse bands, each agreeing band weighted by how common its (band, value) bucket is — the
 *     "public text counts less" idea — with the bucket frequency counted over the indexed teachers (what the
 *     index knows) or over the split's unrelated models (a background of scanned releases; leave-one-out):
 *     IDF weights log((N + 1) / df), or only buckets with df <= k. These have no threshold of their own, so
 *     each is shown at its best threshold in hindsight (the lowest score of a copy at the design similarity):
 *     an optimistic figure;
 *   - the exact coarse Jaccard >= the design similarity: what any rule that only estimates the coarse Jaccard
 *     can at best reach (noise-free, a 512-band signature or larger alike).
 *
 * What it showed (2026-12-06, calibration/full: 108 models, 310 probes, 7 member teachers indexed; 110 copy
 * pairs, 53 at/above the design similarity, 639 null pairs):
 *
 *   rule                                      recall   at/above design   false-candidate rate
 *   coarse (LSH_V1)                           76.4%    53/53             47.6%
 *   coarse + fine (PROBE_STAGE_V1), chosen    70.0%    53/53             34.7%
 *   IDF over indexed teachers, hindsight      69.1%    53/53             38.3%
 *   IDF over unrelated models, hindsight      88.2%    53/53             60.3%
 *   df <= 1 / <= 2 over indexed teachers, "   66.4% / 69.1%  53/53      39.6% / 34.4%
 *   df <= 2 / <= 5 over unrelated models, "   100% / 99.1%   53/53      100% / 94.4%
 *   exact coarse Jaccard >= 0.06 (floor)      48.2%    53/53             25.4%
 *
 * (The frequency cut at df <= 2 over the 7 indexed teachers matches the fine stage only with its threshold
 * picked in hindsight on these very pairs; the fine stage's threshold is fixed by the binomial model.)
 * Weighting by bucket frequency does not beat the plain count: the copies' overlap with their teachers is
 * itself mostly public text (a 25%-share ensemble at exact coarse Jaccard 0.092 with its member shares no
 * shingle that none of the 30 unrelated models also produces), and the copies of a teacher whose answers
 * are close to public text overlap it less than public models do. The target (<= 20% at 99% recall at the
 * design similarity) is out of reach of any rule on the coarse Jaccard (floor 25.4%); the per-probe rows
 * measure the overlap more precisely and take it from 47.6% to 34.7% at no loss at/above the design
 * similarity, at the price of copies below it.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import {
  buildSketch,
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  createSketchContext,
  LSH_V1,
  type Sketch,
  type SketchProbeInput,
} from "@lineage/fingerprint";
import { buildPopulation } from "@lineage/testbed";
import { coarseShingles, evaluateLsh, jaccard, type LshPair } from "./lsh-eval.js";
import { planComparisons } from "./plan.js";

const argv = process.argv.slice(2);
if (argv.includes("test")) {
  process.stderr.write("lsh-study: the test split is never studied (issue 7, figures nobody tuned to)\n");
  process.exit(2);
}
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) {
    process.stderr.write(`lsh-study: ${name} needs a value\n`);
    process.exit(2);
  }
  return v;
};
const size = opt("--size") ?? "full";
if (size !== "full" && size !== "small") {
  process.stderr.write("lsh-study: --size must be full or small\n");
  process.exit(2);
}
const inputsFile = opt("--inputs");
const jsonFile = opt("--json");
const log = (msg: string) => process.stderr.write(`[lsh-study] ${msg}\n`);

const t0 = performance.now();
const pop = await buildPopulation({ split: "calibration", size });
const entries = pop.entries.filter((e) => e.attack === undefined);
log(`calibration/${size}: ${entries.length} models, ${pop.probes.length} probes`);

let fps: Map<string, SketchProbeInput[]>;
if (inputsFile !== undefined && existsSync(inputsFile)) {
  fps = new Map(JSON.parse(readFileSync(inputsFile, "utf8")) as [string, SketchProbeInput[]][]);
  if (!entries.every((e) => fps.has(e.id))) {
    process.stderr.write(`lsh-study: ${inputsFile} is not this population's answers; delete it\n`);
    process.exit(2);
  }
} else {
  fps = new Map();
  for (const e of entries) {
    fps.set(
      e.id,
      pop.probes.map((p) => {
        // The engine's probe settings (probe-run.ts probeRequest): greedy, seed 0, 200 tokens; completion
        // probes 16 tokens with the top 5 log-probabilities (they feed the SimHash).
        const completion = p.kind === "completion";
        const g = e.model.generate(p.prompt, {
          temperature: 0,
          seed: 0,
          maxTokens: completion ? 16 : 200,
          ...(completion ? { topLogprobs: 5 } : {}),
        });
        return {
          probeId: p.id,
          kind: p.kind,
          text: g.text,
          ...(p.reference !== undefined ? { reference: p.reference } : {}),
          ...(completion && g.logprobs ? { topLogprobs: g.logprobs.map((t) => t.topLogprobs) } : {}),
        };
      }),
    );
  }
  if (inputsFile !== undefined) writeFileSync(inputsFile, JSON.stringify([...fps]));
}
log(`answers ready (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

const plan = planComparisons({
  entries: entries.map((e) => ({
    id: e.id,
    role: e.role,
    ...(e.scenario !== undefined ? { scenario: e.scenario } : {}),
    members: e.members,
  })),
  members: pop.members.map((m) => ({
    key: `calibration/${m.memberId}`,
    memberId: m.memberId,
    teacherId: m.teacherId,
    home: true,
    bystander: m.bystander,
  })),
  panelSize: 1,
});
const pairs: LshPair[] = plan.map((c) => ({
  suspectId: c.suspectId,
  teacherId: c.member.teacherId,
  derived: c.derived,
}));
const ctx = createSketchContext(
  Uint8Array.from({ length: 32 }, (_, i) => (i * 73 + 9) & 0xff),
  "lsh-study-calibration",
);
const s = LSH_V1.designSimilarity;

interface Row {
  readonly rule: string;
  readonly recall: number | null;
  readonly at_or_above_design: string;
  readonly false_candidate_rate: number | null;
  readonly note?: string;
}
const rows: Row[] = [];
for (const [rule, probeStage] of [
  ["coarse (LSH_V1)", false],
  ["coarse + fine (PROBE_STAGE_V1)", undefined],
] as const) {
  const {
    candidates_by_suspect: _,
    missed: __,
    ...r
  } = evaluateLsh(fps, pairs, ctx, probeStage === false ? { probeStage } : {});
  rows.push({
    rule,
    recall: r.recall,
    at_or_above_design: `${Math.round((r.recall_at_or_above_design ?? 0) * r.positive_pairs_at_or_above_design)}/${r.positive_pairs_at_or_above_design}`,
    false_candidate_rate: r.false_candidate_rate,
  });
}

// Per-pair scores of the weighting variants (computed here from the sketches: they are not index rules).
const sketches = new Map<string, Sketch>();
const exact = new Map<string, number>();
const sets = new Map<string, Set<string>>();
for (const id of new Set(pairs.flatMap((p) => [p.suspectId, p.teacherId]))) {
  const inp = fps.get(id) as SketchProbeInput[];
  sketches.set(id, buildSketch(inp, ctx));
  sets.set(id, coarseShingles(inp));
}
for (const p of pairs)
  exact.set(
    `${p.suspectId}|${p.teacherId}`,
    jaccard(sets.get(p.suspectId) as Set<string>, sets.get(p.teacherId) as Set<string>),
  );
const bandKey = (c: Uint8Array, b: number) =>
  Buffer.from(c.subarray(b * COARSE_DIGEST_BYTES, (b + 1) * COARSE_DIGEST_BYTES)).toString("hex");
/** Per band, how many models of `ids` hold each value. */
function frequencies(ids: readonly string[]): Map<string, number>[] {
  const df = Array.from({ length: COARSE_BANDS }, () => new Map<string, number>());
  for (const id of ids) {
    const c = (sketches.get(id) as Sketch).coarse;
    if (c.length === 0) continue;
    for (let b = 0; b < COARSE_BANDS; b++) {
      const m = df[b] as Map<string, number>;
      const k = bandKey(c, b);
      m.set(k, (m.get(k) ?? 0) + 1);
    }
  }
  return df;
}
const teacherIds = [...new Set(pairs.map((p) => p.teacherId))];
const unrelatedIds = entries.filter((e) => e.role === "negative").map((e) => e.id);
const dfTeachers = frequencies(teacherIds);
const dfUnrelated = frequencies(unrelatedIds);

/** Agreeing coarse bands of a pair with the frequency of the shared value (the suspect left out). */
function agreeing(p: LshPair, df: Map<string, number>[], background: readonly string[]): number[] {
  const a = (sketches.get(p.suspectId) as Sketch).coarse;
  const b = (sketches.get(p.teacherId) as Sketch).coarse;
  const out: number[] = [];
  if (a.length === 0 || b.length === 0) return out;
  const self = background.includes(p.suspectId) ? 1 : 0;
  for (let band = 0; band < COARSE_BANDS; band++) {
    const k = bandKey(a, band);
    if (k === bandKey(b, band)) out.push(((df[band] as Map<string, number>).get(k) ?? 0) - self);
  }
  return out;
}

function hindsight(rule: string, score: (p: LshPair) => number): void {
  const scored = pairs.map((p) => ({ p, v: score(p), x: exact.get(`${p.suspectId}|${p.teacherId}`) ?? 0 }));
  const atDesign = scored.filter((r) => r.p.derived && r.x >= s);
  const th = Math.min(...atDesign.map((r) => r.v));
  const pos = scored.filter((r) => r.p.derived);
  const neg = scored.filter((r) => !r.p.derived);
  const rate = (xs: typeof scored) => Number((xs.filter((r) => r.v >= th).length / xs.length).toFixed(4));
  rows.push({
    rule,
    recall: rate(pos),
    at_or_above_design: `${atDesign.length}/${atDesign.length}`,
    false_candidate_rate: rate(neg),
    note: `best threshold in hindsight ${Number(th.toFixed(3))}`,
  });
}
const nT = teacherIds.length;
const nU = unrelatedIds.length;
hindsight("IDF over indexed teachers", (p) =>
  agreeing(p, dfTeachers, teacherIds).reduce((a, d) => a + Math.log((nT + 1) / Math.max(1, d)), 0),
);
hindsight("IDF over unrelated models", (p) =>
  agreeing(p, dfUnrelated, unrelatedIds).reduce((a, d) => a + Math.log((nU + 1) / (1 + d)), 0),
);
for (const k of [1, 2]) {
  hindsight(
    `df <= ${k} over indexed teachers`,
    (p) => agreeing(p, dfTeachers, teacherIds).filter((d) => d <= k).length,
  );
}
for (const k of [2, 5]) {
  hindsight(
    `df <= ${k} over unrelated models`,
    (p) => agreeing(p, dfUnrelated, unrelatedIds).filter((d) => d <= k).length,
  );
}
{
  const pos = pairs.filter((p) => p.derived);
  const neg = pairs.filter((p) => !p.derived);
  const at = (p: LshPair) => (exact.get(`${p.suspectId}|${p.teacherId}`) ?? 0) >= s;
  const n = pos.filter(at).length;
  rows.push({
    rule: `exact coarse Jaccard >= ${s} (floor)`,
    recall: Number((n / pos.length).toFixed(4)),
    at_or_above_design: `${n}/${n}`,
    false_candidate_rate: Number((neg.filter(at).length / neg.length).toFixed(4)),
  });
}

const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
console.log(
  `calibration/${size}: ${pairs.filter((p) => p.derived).length} copy pairs, ${pairs.filter((p) => !p.derived).length} null pairs, ${nT} member teachers indexed, ${nU} unrelated models`,
);
console.log("  rule                                     recall   at/above design   false-candidate rate");
for (const r of rows) {
  console.log(
    `  ${r.rule.padEnd(40)} ${pct(r.recall).padStart(6)}   ${r.at_or_above_design.padStart(15)}   ${pct(r.false_candidate_rate).padStart(20)}${r.note ? `  (${r.note})` : ""}`,
  );
}
if (jsonFile !== undefined) {
  writeFileSync(jsonFile, `${JSON.stringify({ split: "calibration", size, rules: rows }, null, 2)}\n`);
  log(`wrote ${jsonFile}`);
}
