/**
 * How the ensemble design was chosen (issue 11): the CALIBRATION split only, scored in process, every
 * (suspect, member) pair of the split's home members. It refuses the test split: no design decision looks at it.
 *
 *   node --conditions=lineage-source --import tsx bench/detection/ensemble-study.ts [--extra N,N,...] [--top K]
 *
 * Per suspect: the battery answers as probeModel asks them (chat greedy up to 200 tokens; completion 16 tokens
 * with top-5 alternatives), plus N extra WATERMARK queries (watermark-queries.ts: held-out prefixes the hub
 * draws without any key, sampled at temperature 1 with top-K alternatives). Per (suspect, member): the paired
 * canary counts (hits and ranks, as canary-power-study.ts) and the watermark counts under the member's own key.
 * Every member's verdict at comparisons = 1, then Holm across the members (attributeMembers): TPR by the
 * member's share, by whether it watermarks, and false attributions to members not in the blend.
 *
 * What it showed (2026-12-04, calibration ensembles: 30 blends, 7 home members each; `--extra 0,200,500
 * --filter 0,1,2 --only ensemble`), members named by Holm under lineage-policy/3:
 *
 *   watermark pairs scored                     25% share (watermarking)   50% share    10% share
 *   battery answers only (~850 pairs)          0/10                       0/17         0/10
 *   + 500 queries, text only (~7,600)          0/10                       3/17         0/10
 *   + 500 queries, top-20 alternatives (~69k)  1/10                       17/17        0/10
 *   ... own-model filter tau 1 (~3,500)        2/10                       12/17        0/10
 *   ... own-model filter tau 2 (~600)          8/10                       17/17        0/10
 *
 * The unfiltered green excess is diluted by public-text pairs (effect 0.009 at a 25% share); the filter keeps
 * the continuations only the member's teacher makes (effect 0.175, median p 3e-10). A lower minimum effect
 * (0.02) or a larger watermark weight changed nothing above, so lineage-policy/3 stays. The 10% share stays
 * out of reach (median raw p 1e-2 at tau 2). The control member (no watermark): 0/5 at 25%, 1/8 at 50%.
 * No false attribution in 140 (suspect, member) nulls of the blends. Chosen: tau 2, 500 queries.
 */
import {
  attributeMembers,
  deriveVerdict,
  resolvePolicy,
  VERDICT_POLICY_3,
  type VerdictEvidence,
  type VerdictPolicy,
  WatermarkPairSet,
  type WatermarkResponse,
} from "@lineage/fingerprint";
import { buildPopulation, type MemberInfo, type PopulationEntry } from "@lineage/testbed";
import { batteryResponses, calibrationStudyArgs, canaryCounts, toResponse } from "./study-kit.js";
import { ownModelFilter, watermarkQueryPrompts } from "./watermark-queries.js";

const opt = calibrationStudyArgs("ensemble-study");
const extras = opt("--extra", "0,200,500,1000")
  .split(",")
  .map(Number)
  .sort((a, b) => a - b);
const topK = Number(opt("--top", "20"));
const only = opt("--only", "ensemble,direct,paraphrased,negative");
/** Thresholds tau of the member's own-model filter (keep a pair when log p_teacher - log p_public > tau). */
const filters = opt("--filter", "")
  .split(",")
  .filter((x) => x !== "")
  .map(Number);
if (!extras.every((n) => Number.isInteger(n) && n >= 0 && n <= 5000) || !(topK >= 0 && topK <= 20)) {
  process.stderr.write("ensemble-study: --extra N,... in 0..5000, --top in 0..20\n");
  process.exit(2);
}
const maxExtra = extras.at(-1) ?? 0;

const pop = await buildPopulation({ split: "calibration", size: "full" });
const members = pop.members;
// The public reference model of the own-model filter: the public-only model (no private text, no member's
// outputs). Its probabilities are key-independent, as are the member teacher's raw (unwatermarked) ones.
const publicModel = (pop.entries.find((e) => e.id.endsWith("neg-public-00")) as PopulationEntry).model.lm;
const publicMemo = new Map<string, number>();
const filterOf = new Map<string, ReturnType<typeof ownModelFilter>>();
const prompts = watermarkQueryPrompts({ split: "calibration", count: maxExtra, seed: pop.seed });

function extraResponses(e: PopulationEntry, n: number, withAlternatives: boolean): WatermarkResponse[] {
  return prompts.slice(0, n).map((prompt, i) => {
    const g = e.model.generate(prompt, {
      temperature: 1,
      seed: `wm/${i}`,
      maxTokens: 200,
      ...(withAlternatives && topK > 0 ? { topLogprobs: topK } : {}),
    });
    return { prompt, response: toResponse(g, 1024) };
  });
}

const groups = only.split(",");
const suspects = pop.entries.filter(
  (e) =>
    (e.role === "positive" &&
      groups.some((g) => (g === "ensemble" ? e.scenario?.startsWith("ensemble_") : e.scenario === g))) ||
    (e.role === "negative" && groups.includes("negative")),
);

interface Row {
  suspect: PopulationEntry;
  member: MemberInfo;
  share: number;
  canary: ReturnType<typeof canaryCounts>;
  /** Watermark counts per variant name. */
  wm: Map<string, VerdictEvidence["watermark"]>;
}
const rows: Row[] = [];
const t0 = performance.now();
for (const [i, e] of suspects.entries()) {
  const battery = batteryResponses(pop.probes, e);
  const sets = new Map<string, WatermarkPairSet>();
  sets.set("battery", WatermarkPairSet.fromResponses(battery));
  const sampledText = extraResponses(e, maxExtra, false);
  const sampledAlt = topK > 0 ? extraResponses(e, maxExtra, true) : [];
  for (const n of extras.filter((x) => x > 0)) {
    sets.set(`battery+${n}`, WatermarkPairSet.fromResponses([...battery, ...sampledText.slice(0, n)]));
    if (topK > 0)
      sets.set(`battery+${n}alt`, WatermarkPairSet.fromResponses([...battery, ...sampledAlt.slice(0, n)]));
  }
  const allResponses = [...battery, ...(topK > 0 ? sampledAlt : sampledText)];
  for (const m of members) {
    const share = e.members.find((x) => x.memberId === m.memberId)?.share ?? 0;
    const wm = new Map<string, VerdictEvidence["watermark"]>();
    if (m.watermark) for (const [k, s] of sets) wm.set(k, s.counts(m.watermark.key, m.watermark.gamma));
    const teacher = (pop.entries.find((x) => x.id === m.teacherId) as PopulationEntry).model.lm;
    for (const tau of filters) {
      if (!m.watermark) continue;
      const fk = `${m.memberId}/${tau}`;
      let keep = filterOf.get(fk);
      if (!keep) {
        keep = ownModelFilter(teacher, publicModel, tau, publicMemo);
        filterOf.set(fk, keep);
      }
      const set = WatermarkPairSet.fromResponses(allResponses, { keep });
      wm.set(`own>${tau}`, set.counts(m.watermark.key, m.watermark.gamma));
      if (i === 0) process.stderr.write(` own>${tau}:${set.size}`);
    }
    rows.push({ suspect: e, member: m, share, canary: canaryCounts(e, m), wm });
  }
  process.stderr.write(
    `\r${i + 1}/${suspects.length} suspects (${((performance.now() - t0) / 1000).toFixed(0)} s) pairs ${[...sets].map(([k, s]) => `${k}:${s.size}`).join(" ")}   `,
  );
}
process.stderr.write("\n");

const variants = [
  ...filters.map((t) => `own>${t}`),
  "battery",
  ...extras.filter((x) => x > 0).flatMap((n) => [`battery+${n}`, ...(topK > 0 ? [`battery+${n}alt`] : [])]),
];
const policies: VerdictPolicy[] = [
  VERDICT_POLICY_3,
  resolvePolicy({ min_effect: 0.02 }),
  resolvePolicy({
    min_effect: 0.02,
    weights: { canary_pairs: 1, canary_ranks: 6, canary_watermark: 2, watermark: 3 },
  }),
];
const label = (p: VerdictPolicy, i: number) =>
  `P${i}${p.id === "custom" ? "" : `(${p.id})`} me=${p.min_effect} w=${JSON.stringify(p.weights)}`;

for (const [pi, policy] of policies.entries()) {
  for (const variant of variants) {
    const bySuspect = new Map<string, Row[]>();
    for (const r of rows) {
      const l = bySuspect.get(r.suspect.id) ?? [];
      l.push(r);
      bySuspect.set(r.suspect.id, l);
    }
    const tally = new Map<string, { n: number; named: number; byTest: Record<string, number> }>();
    const bump = (k: string, named: boolean, test: string | null) => {
      const t = tally.get(k) ?? { n: 0, named: 0, byTest: {} };
      t.n++;
      if (named) {
        t.named++;
        if (test) t.byTest[test] = (t.byTest[test] ?? 0) + 1;
      }
      tally.set(k, t);
    };
    for (const list of bySuspect.values()) {
      const res = attributeMembers(
        list.map((r) => {
          const w = r.wm.get(variant);
          const ev: VerdictEvidence = { canary: r.canary, ...(w ? { watermark: w } : {}), comparisons: 1 };
          return { memberId: r.member.memberId, result: deriveVerdict(ev, policy) };
        }),
        policy,
      );
      for (const a of res) {
        const r = list.find((x) => x.member.memberId === a.memberId) as Row;
        const named = a.verdict === "LIKELY_DERIVED";
        const wmTag = r.member.watermark ? "wm" : "control";
        if (r.share === 0)
          bump(`null ${r.suspect.role === "negative" ? "negative" : "other-member"}`, named, a.test);
        else {
          const sc = r.suspect.scenario ?? "?";
          const key = sc.startsWith("ensemble_") ? `share ${r.share}` : sc;
          bump(`${key} ${wmTag}`, named, a.test);
        }
      }
    }
    process.stdout.write(`\n${label(policy, pi)} watermark=${variant}\n`);
    for (const [k, t] of [...tally].sort(([a], [b]) => (a < b ? -1 : 1)))
      process.stdout.write(
        `  ${k.padEnd(24)} ${String(t.named).padStart(3)} / ${String(t.n).padEnd(4)} ${JSON.stringify(t.byTest)}\n`,
      );
  }
}
// Raw watermark effect sizes, to see what the minimum effect would cut.
process.stdout.write(
  "\nwatermark effect (selected green share - gamma)/(1 - gamma), raw p, by share and variant (median)\n",
);
for (const variant of variants) {
  const byShare = new Map<string, { eff: number[]; p: number[] }>();
  for (const r of rows) {
    const w = r.wm.get(variant);
    if (!w) continue;
    const k = r.share === 0 ? "null" : `share ${r.share}`;
    const x = byShare.get(k) ?? { eff: [], p: [] };
    x.eff.push((w.selected_green / w.selected_scored - w.gamma) / (1 - w.gamma));
    const v = deriveVerdict({ watermark: w, comparisons: 1 }, VERDICT_POLICY_3).tests[0];
    x.p.push(v?.p_value ?? 1);
    byShare.set(k, x);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  process.stdout.write(
    `  ${variant.padEnd(16)} ${[...byShare]
      .sort()
      .map(
        ([k, x]) => `${k}: eff ${med(x.eff).toFixed(3)} p ${med(x.p).toExponential(1)} (n ${x.eff.length})`,
      )
      .join("; ")}\n`,
  );
}
