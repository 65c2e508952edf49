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
 * Figures are DEVELOPMENT figures: the style features (equal group weights, nothing fitted) were designed
 * looking at both families. The one choice made from these numbers — the per-probe `content` part weighs 0
 * in the lead (similarity-lead.ts LEAD_WEIGHTS) — is the same whichever single family it is chosen on
 * (style alone beats style + content on each), so its effect on the other family is its leave-one-family-out
 * figure: the per-part AUCs printed show it. The style part's per-group standardisation (similarity-lead.ts
 * styleBasis) was chosen on gpt35 alone (style AUC 0.975 -> 1.000); davinci003 is its leave-one-family-out
 * figure (0.811 -> 0.833).
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
  type ModelAdapter,
  ReplayAdapter,
  seededShuffle,
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

const fmt = (n: number | null | undefined, d = 3) => (n === null || n === undefined ? "  -  " : n.toFixed(d));
const score = (r: Row) => r.lead_score ?? Number.NEGATIVE_INFINITY;

// 1. Teacher families, as the data set's README says.
const families: Record<string, unknown> = {};
const allRows: Row[] = [];
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
    process.stderr.write(
      `${family} ${cand.padEnd(30)} label=${label} ${x.evidence.padEnd(10)} ${x.verdict.padEnd(12)} lead=${fmt(x.lead_score)} rank p=${fmt(x.lead_p)}\n`,
    );
  }
  allRows.push(...results);
  const students = results.filter((x) => x.label === 1);
  const negatives = results.filter((x) => x.label === 0 && x.evidence !== "weak");
  const weak = results.filter((x) => x.label === 0 && x.evidence === "weak");
  const partAuc = (p: string) => {
    const f = (x: Row) => x.parts[p] ?? Number.NEGATIVE_INFINITY;
    return {
      auc: auc(students.map(f), negatives.map(f)),
      auc_with_weak: auc(students.map(f), [...negatives, ...weak].map(f)),
    };
  };
  families[family] = {
    figures: "development",
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
    "development (features designed looking at both families); the content weight 0 is chosen alike on either family alone (leave-one-family-out: see part_auc); the style part's per-group standardisation was chosen on gpt35, davinci003 is its leave-one-family-out figure",
  families,
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
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
