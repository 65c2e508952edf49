/**
 * Real-data benchmark of the verdicts (issue 7): runs compare() — what users run — on replay files of 34
 * real LLMs (../shared/realdata, read in place, never copied). Replay files carry no canaries and no
 * watermark, so nothing here can be LIKELY_DERIVED; what is measured is the similarity LEAD
 * (signals/similarity-lead.ts), ranked at the model level against the panel's unrelated pairs.
 *
 * Families (davinci003, gpt35): every labelled candidate against the family's first teacher, the panel =
 * the family's other label-0 non-weak models (candidate left out). Per family: students' AUC by
 * `lead_score` (without and with the weak negatives), leads and false leads at the policy's lead_alpha.
 *
 * Guaranteed nulls (a false lead on them is counted by kind):
 *   label-0   every label-0 candidate of a family against its teacher
 *   sibling   every ordered pair of same-vendor (OpenAI) models
 *   predates  ordered pairs (suspect, reference) with the suspect released strictly before the reference
 *             (release_dates.csv), across all 34 models: a deterministic sample of --null-pairs of them
 *             (all when the flag is 0); the panel of each = every non-weak model unrelated to both (not
 *             same vendor, not teacher/student or students of one vendor, not a derived pair)
 * A pair with no panel large enough for the policy (min_lead_null) is reported as not rankable.
 *
 * Figures are DEVELOPMENT figures: the style features (equal group weights), the lexical Cosine Delta
 * (style-features.ts cosineDelta, 1,000 most frequent words: the textbook setting, not tuned), the format
 * habits compared by Cosine Delta and the punctuation group (style-features.ts STYLE_GROUP_MEASURE, `punct`)
 * were designed looking at both families (each raised the students' d' on both; per-group AUCs are printed); the per-probe `content` part weighs 0 in the lead (the same whichever single
 * family it is chosen on; the per-part AUCs printed show it). The one weight set from these numbers, the
 * style part's delta share (similarity-lead.ts STYLE_DELTA_SHARE), is reported three ways: at its default
 * (0.5, chosen looking at both families: development), refitted on both families by the students' d'
 * (development), and refitted on one family alone by d' and reported on the other (LEAVE-ONE-FAMILY-OUT);
 * with the students' AUC at every share of the grid, so any other choice of criterion can be read off.
 *
 *   npm run bench:realdata [-- --json FILE] [--dir PATH] [--null-pairs N]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import {
  type Battery,
  type CompareResult,
  compare,
  DEFAULT_VERDICT_POLICY,
  FingerprintError,
  type ModelAdapter,
  type ModelResponse,
  ReplayAdapter,
  STYLE_BASIS_GROUPS,
  STYLE_DELTA_SHARE,
  seededShuffle,
  similarityLead,
  styleScore,
} from "@lineage/fingerprint";

/** Minimal CSV reader (quoted fields, CRLF); cells trimmed. */
export function readCsv(path: string): Record<string, string>[] {
  const lines = readFileSync(path, "utf8").trim().split(/\r?\n/);
  const split = (l: string) => {
    const out: string[] = [];
    let cur = "";
    let q = false;
    for (const ch of l) {
      if (ch === '"') q = !q;
      else if (ch === "," && !q) {
        out.push(cur);
        cur = "";
      } else cur += ch;
    }
    out.push(cur);
    return out;
  };
  const head = split(lines[0] ?? "").map((h) => h.trim());
  return lines.slice(1).map((l) => {
    const cells = split(l);
    return Object.fromEntries(head.map((h, i) => [h, (cells[i] ?? "").trim()]));
  });
}

/** The data set as the bench uses it. */
export interface RealData {
  readonly battery: Battery;
  /** Every model with a release date (the 34). */
  readonly models: readonly string[];
  readonly released: ReadonlyMap<string, string>;
  readonly pairs: readonly Record<string, string>[];
  readonly adapter: (model: string) => ModelAdapter;
  /** Whether two models are related (same vendor, teacher and student, students of one teacher, derived). */
  readonly related: (a: string, b: string) => boolean;
  /** Models whose label-0 evidence is weak (undisclosed data: may be unlabelled students). */
  readonly weak: ReadonlySet<string>;
}

const OPENAI = new Set([
  "text_davinci_003",
  "text_davinci_001",
  "gpt35_turbo_instruct",
  "gpt-3.5-turbo-0301",
  "gpt-3.5-turbo-0613",
  "gpt-3.5-turbo-1106",
]);

/** Whether two models are same-vendor siblings (the OpenAI models of the set). */
export function sameVendor(a: string, b: string): boolean {
  return a !== b && OPENAI.has(a) && OPENAI.has(b);
}

/** Loads the data set from `dir`. */
export function loadRealData(dir: string): RealData {
  const prompts = readFileSync(`${dir}/prompts.jsonl`, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { prompt_id: string; instruction: string });
  const battery: Battery = {
    epoch: "realdata-dev",
    probes: prompts.map((p) => ({ id: p.prompt_id, kind: "open" as const, prompt: p.instruction })),
  };
  const dates = readCsv(`${dir}/release_dates.csv`);
  const released = new Map(dates.map((r) => [r.model ?? "", r.released ?? ""]));
  const pairs = readCsv(`${dir}/pairs.csv`);
  const lineage = readCsv(`${dir}/lineage.csv`);
  const derived = readCsv(`${dir}/derived_pairs.csv`);
  // Tags: two models sharing a tag are related.
  const tags = new Map<string, Set<string>>();
  const tag = (m: string, t: string) => {
    let s = tags.get(m);
    if (!s) {
      s = new Set();
      tags.set(m, s);
    }
    s.add(t);
  };
  // OpenAI's models and every student of one of them share a tag: siblings, teacher and student, or
  // students of one vendor's teachers are never each other's unrelated panel.
  for (const m of OPENAI) tag(m, "openai");
  for (const r of lineage)
    if (/davinci|gpt-3\.5|gpt-4/.test(r.distilled_from ?? "")) tag(r.model ?? "", "openai");
  derived.forEach((r, i) => {
    tag(r.model_a ?? "", `derived:${i}`);
    tag(r.model_b ?? "", `derived:${i}`);
  });
  const related = (a: string, b: string) => {
    if (a === b) return true;
    const ta = tags.get(a) ?? new Set<string>();
    const tb = tags.get(b) ?? new Set<string>();
    for (const t of ta) if (tb.has(t)) return true;
    return false;
  };
  const weak = new Set(pairs.filter((r) => r.evidence === "weak").map((r) => r.candidate ?? ""));
  const adapters = new Map<string, ModelAdapter>();
  const adapter = (model: string): ModelAdapter => {
    let a = adapters.get(model);
    if (!a) {
      const text = gunzipSync(readFileSync(`${dir}/replay/${model}.jsonl.gz`)).toString("utf8");
      a = ReplayAdapter.fromJsonl(text, model);
      adapters.set(model, a);
    }
    return a;
  };
  return { battery, models: dates.map((r) => r.model ?? ""), released, pairs, adapter, related, weak };
}

/** AUC (Mann–Whitney) of positive scores over negative scores; ties count half. */
export function auc(pos: readonly number[], neg: readonly number[]): number | null {
  if (pos.length === 0 || neg.length === 0) return null;
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

const { values } = parseArgs({
  options: { json: { type: "string" }, dir: { type: "string" }, "null-pairs": { type: "string" } },
  strict: true,
});
const dir = resolve(values.dir ?? resolve(import.meta.dirname, "../../shared/realdata"));
const nullPairsRaw = values["null-pairs"] ?? "120";
// Digits only: Number("") is 0, which would silently mean "every predating pair".
if (!/^\d{1,9}$/.test(nullPairsRaw)) throw new Error(`--null-pairs: an integer >= 0, got "${nullPairsRaw}"`);
const nullPairsWanted = Number(nullPairsRaw);
const data = loadRealData(dir);
const policy = DEFAULT_VERDICT_POLICY;
const t0 = Date.now();

interface Row {
  suspect: string;
  reference: string;
  label: 0 | 1 | null;
  evidence: string;
  kinds: string[];
  verdict: string;
  lead_score: number | null;
  lead_p: number | null;
  lead_rank: number | null;
  null_size: number | null;
  is_lead: boolean;
  panel_size: number;
  /** Component signals' model-level rank p-values, and each part's value (diagnostics). */
  components: Record<string, number | null>;
  parts: Record<string, number>;
}

async function run(suspect: string, reference: string, panel: readonly string[]): Promise<CompareResult> {
  return compare({
    suspect: data.adapter(suspect),
    reference: data.adapter(reference),
    panel: panel.map(data.adapter),
    battery: data.battery,
    sequential: false,
  });
}

function row(
  res: CompareResult,
  suspect: string,
  reference: string,
  panel: readonly string[],
  extra: Pick<Row, "label" | "evidence" | "kinds">,
): Row {
  const components: Record<string, number | null> = {};
  const parts: Record<string, number> = {};
  for (const s of res.signals.filter((x) => x.role === "lead")) {
    components[s.name] = s.available ? s.p_value : null;
    // Each part's standardised score as the lead ranks it (`<part>_z`).
    for (const [k, v] of Object.entries(s.detail)) {
      const m = /^(\w+)_z$/.exec(k);
      if (m?.[1] && typeof v === "number") parts[m[1]] = v;
    }
  }
  return {
    suspect,
    reference,
    ...extra,
    verdict: res.verdict,
    lead_score: res.lead_score,
    lead_p: res.lead_rank?.p_value ?? null,
    lead_rank: res.lead_rank?.rank ?? null,
    null_size: res.lead_rank?.null_size ?? null,
    is_lead: res.lead_rank?.is_lead === true,
    panel_size: panel.length,
    components,
    parts,
  };
}

/** A model's answers aligned with the battery (undefined: not answered), as compare() collects them. */
const answers = new Map<string, (ModelResponse | undefined)[]>();
async function aligned(model: string): Promise<(ModelResponse | undefined)[]> {
  let a = answers.get(model);
  if (!a) {
    const ad = data.adapter(model);
    a = [];
    for (const p of data.battery.probes) {
      try {
        a.push(await ad.generate({ prompt: p.prompt, id: p.id }));
      } catch (e) {
        if (e instanceof FingerprintError && e.code === "REPLAY_NOT_FOUND") a.push(undefined);
        else throw e;
      }
    }
    answers.set(model, a);
  }
  return a;
}

/** Every pair's style agreements of one comparison (similarityLead's `style_groups`), for refitting. */
async function styleGroups(suspect: string, reference: string, panel: readonly string[]) {
  const lead = similarityLead({
    probes: data.battery.probes,
    suspect: await aligned(suspect),
    reference: await aligned(reference),
    panel: await Promise.all(panel.map(aligned)),
  });
  return lead.style_groups ?? null;
}

/** The grid the delta share is fitted on (similarity-lead.ts STYLE_DELTA_SHARE). */
const SHARE_GRID = Array.from({ length: 11 }, (_, i) => i / 10);

/** Students' separation d' by a score: (mean students - mean negatives) / pooled sd. */
function dPrime(pos: readonly number[], neg: readonly number[]): number {
  const m = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = (xs: readonly number[]) => {
    const mu = m(xs);
    return xs.reduce((a, b) => a + (b - mu) ** 2, 0) / xs.length;
  };
  return (m(pos) - m(neg)) / Math.sqrt(Math.max(1e-12, (v(pos) + v(neg)) / 2));
}

const fmt = (n: number | null | undefined, d = 3) => (n === null || n === undefined ? "  -  " : n.toFixed(d));
const score = (r: Row) => r.lead_score ?? Number.NEGATIVE_INFINITY;

// 1. Teacher families, as the data set's README says.
const families: Record<string, unknown> = {};
const allRows: Row[] = [];
const groupsByRow = new Map<Row, readonly (readonly number[])[] | null>();
/** Per family, students and non-weak negatives (and weak), for the refit below. */
const famSets = new Map<string, { students: Row[]; negatives: Row[]; weak: Row[] }>();
for (const family of ["davinci003", "gpt35"]) {
  const rows = data.pairs.filter((r) => r.teacher_family === family && (r.label === "0" || r.label === "1"));
  const reference = (rows[0]?.teacher_models_in_set ?? "").split(";")[0] ?? "";
  const panelAll = rows.filter((r) => r.label === "0" && r.evidence !== "weak").map((r) => r.candidate ?? "");
  const results: Row[] = [];
  for (const r of rows) {
    const cand = r.candidate ?? "";
    const panel = panelAll.filter((m) => m !== cand);
    const label = r.label === "1" ? 1 : 0;
    const res = await run(cand, reference, panel);
    const x = row(res, cand, reference, panel, {
      label,
      evidence: r.evidence ?? "",
      kinds: label === 0 ? ["label-0"] : [],
    });
    results.push(x);
    groupsByRow.set(x, await styleGroups(cand, reference, panel));
    process.stderr.write(
      `${family} ${cand.padEnd(30)} label=${label} ${x.evidence.padEnd(10)} ${x.verdict.padEnd(12)} lead=${fmt(x.lead_score)} rank p=${fmt(x.lead_p)}\n`,
    );
  }
  allRows.push(...results);
  const students = results.filter((x) => x.label === 1);
  const negatives = results.filter((x) => x.label === 0 && x.evidence !== "weak");
  const weak = results.filter((x) => x.label === 0 && x.evidence === "weak");
  famSets.set(family, { students, negatives, weak });
  const partAuc = (p: string) => {
    const f = (x: Row) => x.parts[p] ?? Number.NEGATIVE_INFINITY;
    return {
      auc: auc(students.map(f), negatives.map(f)),
      auc_with_weak: auc(students.map(f), [...negatives, ...weak].map(f)),
    };
  };
  // Each style group alone (its agreement standardised by the null pairs), as a diagnostic of what carries
  // the style part: STYLE_BASIS_GROUPS order, `delta` the lexical Cosine Delta.
  const groupAt = (x: Row, gi: number) => {
    const g = groupsByRow.get(x);
    if (!g) return Number.NEGATIVE_INFINITY;
    const col = g.map((v) => v[gi] ?? 0);
    const nulls = col.slice(1);
    const mu = nulls.reduce((a, b) => a + b, 0) / nulls.length;
    const sd = Math.sqrt(nulls.reduce((a, b) => a + (b - mu) ** 2, 0) / Math.max(1, nulls.length - 1));
    return ((col[0] ?? 0) - mu) / Math.max(sd, 1e-6);
  };
  const styleGroupAuc = Object.fromEntries(
    STYLE_BASIS_GROUPS.map((name, gi) => [
      name,
      {
        auc: auc(
          students.map((x) => groupAt(x, gi)),
          negatives.map((x) => groupAt(x, gi)),
        ),
        auc_with_weak: auc(
          students.map((x) => groupAt(x, gi)),
          [...negatives, ...weak].map((x) => groupAt(x, gi)),
        ),
      },
    ]),
  );
  families[family] = {
    figures: "development",
    style_group_auc: styleGroupAuc,
    reference,
    panel_size: panelAll.length,
    students: students.length,
    negatives: negatives.length,
    weak_negatives: weak.length,
    auc: auc(students.map(score), negatives.map(score)),
    auc_with_weak: auc(students.map(score), [...negatives, ...weak].map(score)),
    part_auc: Object.fromEntries(["content", "style", "tokens", "wrong"].map((p) => [p, partAuc(p)])),
    student_leads: students.filter((x) => x.is_lead).length,
    false_leads: negatives.filter((x) => x.is_lead).map((x) => x.suspect),
    false_leads_weak: weak.filter((x) => x.is_lead).map((x) => x.suspect),
    false_likely_derived: results.filter((x) => x.label === 0 && x.verdict === "LIKELY_DERIVED").length,
    likely_derived_any: results.filter((x) => x.verdict === "LIKELY_DERIVED").length,
    rows: results,
  };
}

// 1b. The one fitted weight, the style part's delta share: development (fitted on both families) and
// leave-one-family-out (fitted on the other family alone, reported on this one). Scores are recomputed from
// each comparison's style agreements (styleScore), which at the default share is compare()'s lead_score
// whenever only the style part runs (as here: replay files carry no log-probabilities and no edge probes).
const styleAt = (x: Row, share: number) => {
  const g = groupsByRow.get(x);
  return g ? styleScore(g, share) : Number.NEGATIVE_INFINITY;
};
let consistent = 0;
for (const x of groupsByRow.keys()) {
  if (x.lead_score !== null && Math.abs(styleAt(x, STYLE_DELTA_SHARE) - x.lead_score) < 1e-9) consistent++;
}
const fitOn = (fams: readonly string[]) => {
  let best = { share: SHARE_GRID[0] ?? 0, d: Number.NEGATIVE_INFINITY };
  for (const share of SHARE_GRID) {
    const d =
      fams.reduce((a, f) => {
        const set = famSets.get(f);
        if (!set) return a;
        return (
          a +
          dPrime(
            set.students.map((x) => styleAt(x, share)),
            set.negatives.map((x) => styleAt(x, share)),
          )
        );
      }, 0) / fams.length;
    if (d > best.d + 1e-12) best = { share, d };
  }
  return best;
};
const famNames = [...famSets.keys()];
const devFit = fitOn(famNames);
const refit: Record<string, unknown> = {};
for (const f of famNames) {
  const set = famSets.get(f);
  if (!set) continue;
  const other = famNames.filter((g) => g !== f);
  const lofo = fitOn(other);
  const aucAt = (share: number, withWeak: boolean) =>
    auc(
      set.students.map((x) => styleAt(x, share)),
      [...set.negatives, ...(withWeak ? set.weak : [])].map((x) => styleAt(x, share)),
    );
  refit[f] = {
    dev_share: devFit.share,
    dev_auc: aucAt(devFit.share, false),
    dev_auc_with_weak: aucAt(devFit.share, true),
    lofo_fitted_on: other,
    lofo_share: lofo.share,
    lofo_auc: aucAt(lofo.share, false),
    lofo_auc_with_weak: aucAt(lofo.share, true),
    auc_by_share: Object.fromEntries(SHARE_GRID.map((sh) => [sh.toFixed(1), aucAt(sh, false)])),
  };
}

// 2. Guaranteed nulls across the 34 models: siblings (all) and a sample of predating pairs.
const ordered: [string, string][] = [];
for (const s of data.models) for (const r of data.models) if (s !== r) ordered.push([s, r]);
const predates = (s: string, r: string) => (data.released.get(s) ?? "") < (data.released.get(r) ?? "");
const siblingPairs = ordered.filter(([s, r]) => sameVendor(s, r));
const predatePairs = ordered.filter(([s, r]) => predates(s, r) && !sameVendor(s, r));
const sampled =
  nullPairsWanted === 0 ? predatePairs : seededShuffle(predatePairs, 7).slice(0, nullPairsWanted);
const nullRows: Row[] = [];
let unrankable = 0;
for (const [s, r] of [...siblingPairs, ...sampled]) {
  const panel = data.models.filter(
    (m) => m !== s && m !== r && !data.weak.has(m) && !data.related(m, s) && !data.related(m, r),
  );
  if (panel.length * panel.length < policy.min_lead_null) {
    unrankable++;
    continue;
  }
  const kinds = [...(sameVendor(s, r) ? ["sibling"] : []), ...(predates(s, r) ? ["predates"] : [])];
  const x = row(await run(s, r, panel), s, r, panel, { label: null, evidence: "", kinds });
  nullRows.push(x);
  if (x.is_lead)
    process.stderr.write(
      `false lead (${kinds.join("+")}): ${s} -> ${r} rank p=${fmt(x.lead_p)} panel ${panel.length}\n`,
    );
}

const nulls = [...allRows.filter((x) => x.label === 0), ...nullRows];
const byKind = Object.fromEntries(
  ["label-0", "sibling", "predates"].map((k) => {
    const xs = nulls.filter((x) => x.kinds.includes(k));
    const leads = xs.filter((x) => x.is_lead);
    return [
      k,
      {
        nulls: xs.length,
        false_leads: leads.length,
        false_lead_rate: xs.length === 0 ? null : leads.length / xs.length,
        models: leads.map((x) => `${x.suspect} -> ${x.reference}`),
      },
    ];
  }),
);
const falseLikely = nulls.filter((x) => x.verdict === "LIKELY_DERIVED").length;
const report = {
  policy: policy.id,
  lead_alpha: policy.lead_alpha,
  min_lead_null: policy.min_lead_null,
  score: "lead_score of compare(): similarity lead, standardised against the panel's unrelated pairs",
  figures:
    "development (features designed looking at both families; the delta share's default 0.5 chosen looking at both); leave-one-family-out: delta_share.by_family.*.lofo_auc (share fitted by d' on the other family); the content weight 0 is chosen alike on either family alone (see part_auc)",
  families,
  delta_share: {
    default: STYLE_DELTA_SHARE,
    grid: SHARE_GRID,
    fitted_by:
      "students' d' (mean difference over pooled sd) by lead_score, averaged over the families fitted on",
    dev_fit: devFit,
    default_is_dev_fit: Math.abs(devFit.share - STYLE_DELTA_SHARE) < 1e-9,
    style_score_matches_lead_score: `${consistent} of ${groupsByRow.size}`,
    by_family: refit,
  },
  nulls: {
    by_kind: byKind,
    total: nulls.length,
    false_leads: nulls.filter((x) => x.is_lead).length,
    false_lead_rate: nulls.filter((x) => x.is_lead).length / Math.max(1, nulls.length),
    sibling_pairs: siblingPairs.length,
    predate_pairs_total: predatePairs.length,
    predate_pairs_run: sampled.length,
    unrankable_pairs: unrankable,
    rows: nullRows,
  },
  false_likely_derived: falseLikely,
  seconds: Math.round((Date.now() - t0) / 100) / 10,
};

console.log(`policy ${policy.id}: lead at rank p <= ${policy.lead_alpha}; figures: DEVELOPMENT`);
console.log(
  "family      students  negatives  AUC    AUC+weak  student_leads  false_leads  false_leads_weak  false_LD",
);
for (const [f, v] of Object.entries(families)) {
  const x = v as { students: number; negatives: number; auc: number | null; auc_with_weak: number | null };
  const y = v as {
    student_leads: number;
    false_leads: string[];
    false_leads_weak: string[];
    false_likely_derived: number;
  };
  console.log(
    `${f.padEnd(11)} ${String(x.students).padStart(8)}  ${String(x.negatives).padStart(9)}  ${fmt(x.auc)}  ${fmt(x.auc_with_weak)}     ${String(y.student_leads).padStart(10)}  ${String(y.false_leads.length).padStart(11)}  ${String(y.false_leads_weak.length).padStart(16)}  ${String(y.false_likely_derived).padStart(8)}`,
  );
}
console.log("nulls by kind (false leads at the default rank threshold):");
for (const [k, v] of Object.entries(byKind)) {
  console.log(
    `  ${k.padEnd(9)} ${v.false_leads}/${v.nulls} = ${fmt(v.false_lead_rate)}  ${v.models.join(", ")}`,
  );
}
console.log(
  `predating pairs run: ${sampled.length} of ${predatePairs.length}; sibling pairs ${siblingPairs.length}; not rankable (panel too small) ${unrankable}`,
);
console.log(`false LIKELY_DERIVED: ${falseLikely} (must be 0); ${report.seconds} s`);
console.log("per-part AUC (diagnostic), without / with weak negatives:");
for (const [f, v] of Object.entries(families)) {
  const pa = (v as { part_auc: Record<string, { auc: number | null; auc_with_weak: number | null }> })
    .part_auc;
  console.log(
    `  ${f.padEnd(11)} ${Object.entries(pa)
      .map(([k, a]) => `${k} ${fmt(a.auc)}/${fmt(a.auc_with_weak)}`)
      .join("  ")}`,
  );
}
console.log("per-style-group AUC (diagnostic: each group alone), without / with weak negatives:");
for (const [f, v] of Object.entries(families)) {
  const ga = (v as { style_group_auc: Record<string, { auc: number | null; auc_with_weak: number | null }> })
    .style_group_auc;
  console.log(
    `  ${f.padEnd(11)} ${Object.entries(ga)
      .map(([k, a]) => `${k} ${fmt(a.auc)}/${fmt(a.auc_with_weak)}`)
      .join("  ")}`,
  );
}
console.log(
  `style delta share: default ${STYLE_DELTA_SHARE}, fitted on both families ${devFit.share} (d' ${fmt(devFit.d, 2)}); styleScore = lead_score in ${consistent} of ${groupsByRow.size} comparisons`,
);
console.log(
  "students' AUC, DEVELOPMENT (share fitted on both) vs LEAVE-ONE-FAMILY-OUT (share fitted on the other):",
);
for (const [f, v] of Object.entries(refit)) {
  const x = v as Record<string, number>;
  console.log(
    `  ${f.padEnd(11)} dev ${fmt(x.dev_auc)} (+weak ${fmt(x.dev_auc_with_weak)})  LOFO ${fmt(x.lofo_auc)} (+weak ${fmt(x.lofo_auc_with_weak)}) at share ${x.lofo_share}`,
  );
}
for (const [f, v] of Object.entries(refit)) {
  const x = v as { auc_by_share: Record<string, number | null> };
  console.log(
    `  ${f.padEnd(11)} AUC by share ${Object.entries(x.auc_by_share)
      .map(([k, a]) => `${k}:${fmt(a)}`)
      .join(" ")}`,
  );
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
