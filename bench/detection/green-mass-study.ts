/**
 * Calibration-only study (issue 11, ensembles): does weighting each distinct (previous token, token) pair by
 * the suspect's own served probability of the token (its "green mass") find a small-share member better than
 * counting distinct pairs? It refuses the test split.
 *
 *   node --conditions=lineage-source --import tsx bench/detection/green-mass-study.ts [--queries N] [--nulls K]
 *
 * Null, for every variant: the weights are read off the suspect's answers (fixed before any key is read), so
 * each distinct pair is green with probability gamma independently over the key and S = sum w_i g_i has the
 * law of a weighted sum of independent Bernoulli(gamma); the p-value is the Chernoff bound
 * inf_l exp(-l S + sum log(1 - gamma + gamma e^(l w_i))), valid for any key-independent weights.
 *
 * What it showed (2026-12-06, calibration: 32 ensemble suspects and 12 negatives, 500 queries at temperature 1
 * with top-20 alternatives, 200 tokens; `--queries 500 --nulls 12`, 6.5 min). Per (suspect, watermarking member),
 * the watermark queries set alone, count at p <= 5e-7 (alpha/2, the two-set Bonferroni) and median p:
 *
 *   weights                      10% share        25% share            50% share           nulls (205) min p
 *   distinct pairs counted (/2)  0/10  4.7e-2     1/10  1.9e-5         17/17  2.5e-13      3.0e-4
 *   p, max over occurrences      0/10  2.2e-1     1/10  7.2e-5         17/17  4.0e-16      1.8e-1
 *   p x (1 - top p)              0/10  1.4e-1     4/10  1.5e-6         17/17  1.1e-21      1.6e-1
 *   sqrt p                       0/10  1.0e-1     7/10  1.4e-7         17/17  2.6e-23      2.2e-2
 *   p, own-model filter tau 1    0/10  4.0e-1     1/10  3.0e-2         10/17  1.6e-9       1.8e-1
 *   sqrt p, 16 levels (the lib)  0/10  8.9e-2     7/10  1.0e-7         17/17  6.6e-23      1.3e-2
 *
 * Members named by Holm under lineage-policy/3 (canary and battery watermark counts as the session has them):
 * /2 (counted) 25% share 1/10, 50% 17/17, 10% 0/10; /3 (green mass) 25% share 4/10, 50% 17/17, 10% 0/10; the
 * control member (no watermark) unchanged; nulls 0/224 under both. The effects stay small (0.014 at 25%), so the
 * watermark decides through canary_watermark, whose effect is the canary's: a lower min_effect for green mass
 * alone would need its own calibration against contamination, not done here. Chosen: sqrt p, 16 levels (/3).
 */
import {
  attributeMembers,
  binomialUpperTail,
  deriveVerdict,
  greenSeed,
  isGreenHashed,
  tokenHash32,
  tokenize,
  VERDICT_POLICY_3,
  type VerdictEvidence,
  WatermarkPairSet,
  watermarkTest,
  weightedBernoulliUpperTail,
} from "@lineage/fingerprint";
import { buildPopulation, type PopulationEntry } from "@lineage/testbed";
import { batteryResponses, calibrationStudyArgs, canaryCounts, toResponse } from "./study-kit.js";
import { ownModelFilter, watermarkQueryPrompts } from "./watermark-queries.js";

const opt = calibrationStudyArgs("green-mass-study");
const nQueries = Number(opt("--queries", "500"));
const nNulls = Number(opt("--nulls", "12"));
if (
  !(Number.isInteger(nQueries) && nQueries >= 1 && nQueries <= 5000) ||
  !(Number.isInteger(nNulls) && nNulls >= 0)
) {
  process.stderr.write(
    "green-mass-study: --queries must be an integer in 1..5000, --nulls a non-negative integer\n",
  );
  process.exit(2);
}

const pop = await buildPopulation({ split: "calibration", size: "full" });
const publicModel = (pop.entries.find((e) => e.id.endsWith("neg-public-00")) as PopulationEntry).model.lm;
const publicMemo = new Map<string, number>();
const prompts = watermarkQueryPrompts({ split: "calibration", count: nQueries, seed: pop.seed });

interface Occ {
  prev: string;
  token: string;
  p: number;
  spread: number;
  context: string[];
}

function occurrences(
  responses: readonly { prompt?: string; response: ReturnType<typeof toResponse> }[],
): Occ[] {
  const out: Occ[] = [];
  for (const r of responses) {
    if (!r.response.tokens) continue;
    const ctx = tokenize(r.prompt ?? "");
    for (const pos of r.response.tokens) {
      const prev = ctx.at(-1);
      const pmax = Math.max(0, ...pos.top.map((a) => Math.exp(a.logprob)));
      if (prev !== undefined) {
        for (const a of pos.top) {
          const t = tokenize(a.token);
          if (t.length !== 1) continue;
          out.push({
            prev,
            token: t[0] as string,
            p: Math.exp(a.logprob),
            spread: 1 - pmax,
            context: ctx.slice(-3),
          });
        }
      }
      const e = tokenize(pos.token);
      if (e.length === 1) ctx.push(e[0] as string);
      else ctx.length = 0;
    }
  }
  return out;
}

type Weigher = (o: Occ) => number;
interface Variant {
  name: string;
  weigh: Weigher;
  agg: "max" | "sum1" | "count";
  keep?: (m: string) => (o: Occ) => boolean;
}
const keepOwn = new Map<string, (c: readonly string[], t: string) => boolean>();
const ownFor = (memberId: string, tau: number) => {
  const k = `${memberId}/${tau}`;
  let f = keepOwn.get(k);
  if (!f) {
    const m = pop.members.find((x) => x.memberId === memberId);
    const teacher = (pop.entries.find((x) => x.id === m?.teacherId) as PopulationEntry).model.lm;
    f = ownModelFilter(teacher, publicModel, tau, publicMemo);
    keepOwn.set(k, f);
  }
  return f;
};
const variants: Variant[] = [
  { name: "count", weigh: () => 1, agg: "count" },
  { name: "p/max", weigh: (o) => o.p, agg: "max" },
  { name: "p/sum1", weigh: (o) => o.p, agg: "sum1" },
  { name: "p*spread", weigh: (o) => o.p * o.spread, agg: "max" },
  { name: "sqrt p", weigh: (o) => Math.sqrt(o.p), agg: "max" },
  {
    name: "p own>1",
    weigh: (o) => o.p,
    agg: "max",
    keep: (m) => (o) => (ownFor(m, 1) as (c: readonly string[], t: string) => boolean)(o.context, o.token),
  },
  {
    name: "p own>0",
    weigh: (o) => o.p,
    agg: "max",
    keep: (m) => (o) => (ownFor(m, 0) as (c: readonly string[], t: string) => boolean)(o.context, o.token),
  },
];

/** Weighted pairs of one variant for one member: key `prev\0token` -> weight. */
function weights(occ: readonly Occ[], v: Variant, memberId: string): Map<string, number> {
  const w = new Map<string, number>();
  const keep = v.keep?.(memberId);
  for (const o of occ) {
    if (keep && !keep(o)) continue;
    const k = `${o.prev}\u0000${o.token}`;
    const x = v.weigh(o);
    const old = w.get(k);
    if (v.agg === "count") w.set(k, 1);
    else if (v.agg === "max") w.set(k, Math.max(old ?? 0, x));
    else w.set(k, Math.min(1, (old ?? 0) + x));
  }
  return w;
}

function pValue(w: Map<string, number>, key: Uint8Array, gamma: number, v: Variant) {
  const seedOf = (prev: string) => greenSeed(key, prev);
  const seeds = new Map<string, number>();
  let s = 0;
  let sw = 0;
  let green = 0;
  const groups = new Map<number, number>();
  for (const [k, x] of w) {
    const i = k.indexOf("\u0000");
    const prev = k.slice(0, i);
    let seed = seeds.get(prev);
    if (seed === undefined) {
      seed = seedOf(prev);
      seeds.set(prev, seed);
    }
    // Quantize to 1/256 for the grouped Chernoff bound (key-independent).
    const q = Math.max(1, Math.round(x * 256)) / 256;
    groups.set(q, (groups.get(q) ?? 0) + 1);
    sw += q;
    if (isGreenHashed(seed, tokenHash32(k.slice(i + 1)), gamma)) {
      s += q;
      green++;
    }
  }
  const p =
    v.agg === "count"
      ? binomialUpperTail(green, w.size, gamma)
      : weightedBernoulliUpperTail(s, [...groups], gamma);
  return { p, effect: sw === 0 ? 0 : (s / sw - gamma) / (1 - gamma), n: w.size };
}

const suspects = pop.entries.filter((e) => e.role === "positive" && e.scenario?.startsWith("ensemble_"));
const nulls = pop.entries.filter((e) => e.role === "negative").slice(0, nNulls);
const rows: { share: string; variant: string; p: number; effect: number; n: number }[] = [];
/** Per suspect, per member: the evidence under the two protocols of the extra watermark queries step. */
const verdictRows: {
  suspect: PopulationEntry;
  memberId: string;
  watermarks: boolean;
  share: number;
  ev: Record<"/2" | "/3", VerdictEvidence>;
}[] = [];
const t0 = performance.now();
for (const [i, e] of [...suspects, ...nulls].entries()) {
  const battery = batteryResponses(pop.probes, e);
  const extra = prompts.map((prompt, j) => {
    const g = e.model.generate(prompt, { temperature: 1, seed: `wm/${j}`, maxTokens: 200, topLogprobs: 20 });
    return { prompt, response: toResponse(g, 1024) };
  });
  const occ = occurrences([...battery, ...extra]);
  const batterySet = WatermarkPairSet.fromResponses(battery);
  const countSet = WatermarkPairSet.fromResponses(extra);
  const massSet = WatermarkPairSet.fromResponses(extra, { mass: true });
  for (const m of pop.members) {
    const share = e.members.find((x) => x.memberId === m.memberId)?.share ?? 0;
    const canary = canaryCounts(e, m);
    const wmk = m.watermark;
    const base = { canary, comparisons: 1 };
    verdictRows.push({
      suspect: e,
      memberId: m.memberId,
      watermarks: wmk !== undefined,
      share,
      ev: {
        "/2": wmk
          ? {
              ...base,
              watermark: batterySet.counts(wmk.key, wmk.gamma),
              watermark_queries: countSet.counts(wmk.key, wmk.gamma),
            }
          : base,
        "/3": wmk
          ? {
              ...base,
              watermark: batterySet.counts(wmk.key, wmk.gamma),
              watermark_queries: massSet.counts(wmk.key, wmk.gamma),
            }
          : base,
      },
    });
    if (!wmk) continue;
    for (const v of variants) {
      const w = weights(occ, v, m.memberId);
      const r = pValue(w, wmk.key, wmk.gamma, v);
      rows.push({
        share: share === 0 ? (e.role === "negative" ? "null-neg" : "null-other") : `share ${share}`,
        variant: v.name,
        ...r,
      });
    }
    const q = watermarkTest(massSet.counts(wmk.key, wmk.gamma), VERDICT_POLICY_3);
    rows.push({
      share: share === 0 ? (e.role === "negative" ? "null-neg" : "null-other") : `share ${share}`,
      variant: "lib mass /3 (queries only)",
      p: q.p,
      effect: q.effect,
      n: massSet.size,
    });
  }
  process.stderr.write(
    `\r${i + 1}/${suspects.length + nulls.length} (${((performance.now() - t0) / 1000).toFixed(0)} s)   `,
  );
}
process.stderr.write("\n");

const alpha = 1e-6 / 2;
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
for (const name of [...variants.map((v) => v.name), "lib mass /3 (queries only)"]) {
  process.stdout.write(`\n${name}\n`);
  const by = new Map<string, typeof rows>();
  for (const r of rows.filter((x) => x.variant === name)) by.set(r.share, [...(by.get(r.share) ?? []), r]);
  for (const [k, rs] of [...by].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const hit = rs.filter((r) => r.p <= alpha).length;
    const le01 = rs.filter((r) => r.p <= 0.01).length;
    process.stdout.write(
      `  ${k.padEnd(12)} p<=a/2 ${hit}/${rs.length} p<=0.01 ${le01}  median p ${med(rs.map((r) => r.p)).toExponential(1)} eff ${med(rs.map((r) => r.effect)).toFixed(3)} n ${med(rs.map((r) => r.n))} min p ${Math.min(...rs.map((r) => r.p)).toExponential(1)}\n`,
    );
  }
}

// The verdicts as the member node derives them (policy 3, comparisons 1), Holm across each suspect's members.
for (const proto of ["/2", "/3"] as const) {
  process.stdout.write(`\nmembers named by Holm, lineage-watermark-queries${proto}\n`);
  const tally = new Map<string, { n: number; named: number; by: Record<string, number> }>();
  for (const e of [...suspects, ...nulls]) {
    const list = verdictRows.filter((r) => r.suspect === e);
    const named = attributeMembers(
      list.map((r) => ({ memberId: r.memberId, result: deriveVerdict(r.ev[proto], VERDICT_POLICY_3) })),
      VERDICT_POLICY_3,
    );
    for (const a of named) {
      const r = list.find((x) => x.memberId === a.memberId) as (typeof list)[number];
      const k =
        r.share === 0
          ? `null ${e.role === "negative" ? "negative" : "other-member"}`
          : `share ${r.share} ${r.watermarks ? "wm" : "control"}`;
      const t = tally.get(k) ?? { n: 0, named: 0, by: {} };
      t.n++;
      if (a.verdict === "LIKELY_DERIVED") {
        t.named++;
        if (a.test) t.by[a.test] = (t.by[a.test] ?? 0) + 1;
      }
      tally.set(k, t);
    }
  }
  for (const [k, t] of [...tally].sort(([a], [b]) => (a < b ? -1 : 1)))
    process.stdout.write(`  ${k.padEnd(24)} ${t.named} / ${t.n} ${JSON.stringify(t.by)}\n`);
}
