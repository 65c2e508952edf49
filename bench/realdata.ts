/**
 * Real-data benchmark of the black-box engine (issue 3, "Real outputs"): runs compare() on replay files of
 * 34 real LLMs (../shared/realdata, read in place, never copied) and scores it as the data set's README
 * says. Per teacher family (davinci003, gpt35): every labelled candidate is compared with the family's
 * first teacher; the panel is the family's other label-0 models with evidence documented/likely/assumed
 * (the candidate left out). Prints AUC of students vs those negatives, AUC with the `weak` negatives
 * added, and false accusations (LIKELY_DERIVED on a label-0 model) at the default level; writes JSON with
 * --json FILE.
 *
 *   npm run bench:realdata [-- --json FILE] [--dir PATH]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import {
  type Battery,
  type CompareResult,
  compare,
  DEFAULT_POLICY,
  type ModelAdapter,
  ReplayAdapter,
  SIMILARITY_FEATURES,
} from "@lineage/fingerprint";

const { values } = parseArgs({
  options: { json: { type: "string" }, dir: { type: "string" } },
  strict: true,
});
const dir = resolve(values.dir ?? resolve(import.meta.dirname, "../../shared/realdata"));

/** Minimal CSV reader (quoted fields, CRLF). */
function readCsv(path: string): Record<string, string>[] {
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
  const head = split(lines[0] ?? "");
  return lines.slice(1).map((l) => {
    const cells = split(l);
    return Object.fromEntries(head.map((h, i) => [h, (cells[i] ?? "").trim()]));
  });
}

const prompts = readFileSync(`${dir}/prompts.jsonl`, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as { prompt_id: string; instruction: string });
const battery: Battery = {
  epoch: "realdata-dev",
  probes: prompts.map((p) => ({ id: p.prompt_id, kind: "open" as const, prompt: p.instruction })),
};

/**
 * Replay adapters answer every battery probe; a model lacking a prompt answers it with an empty output
 * (so the comparison still runs; the empty answer counts as dissimilar).
 */
const adapters = new Map<string, ModelAdapter>();
function adapter(model: string): ModelAdapter {
  let a = adapters.get(model);
  if (!a) {
    const text = gunzipSync(readFileSync(`${dir}/replay/${model}.jsonl.gz`)).toString("utf8");
    const replay = ReplayAdapter.fromJsonl(text, model);
    const missing = battery.probes.filter((p) => !replay.has(p.id));
    a =
      missing.length === 0
        ? replay
        : ReplayAdapter.fromJsonl(
            `${text}\n${missing.map((p) => JSON.stringify({ id: p.id, prompt: p.prompt, output: "" })).join("\n")}`,
            model,
          );
    adapters.set(model, a);
  }
  return a;
}

/** AUC (Mann–Whitney) of positive scores over negative scores; ties count half. */
function auc(pos: readonly number[], neg: readonly number[]): number | null {
  if (pos.length === 0 || neg.length === 0) return null;
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

interface Row {
  candidate: string;
  label: 0 | 1;
  evidence: string;
  decision: string;
  p_value: number;
  effect: number;
  panel_size: number;
  /** The panel model the suspect was least ahead of on the tested feature (the one that binds p). */
  closest_panel: string;
  /** Per-feature effect (min over panel models), from the signal's detail: diagnostics only. */
  feature_effects: Record<string, number>;
}

const pairs = readCsv(`${dir}/pairs.csv`).filter((r) => r.label === "0" || r.label === "1");
const out: Record<string, unknown> = {};
let totalFalse = 0;
let totalFalseWeak = 0;
const t0 = Date.now();
for (const family of ["davinci003", "gpt35"]) {
  const rows = pairs.filter((r) => r.teacher_family === family);
  const reference = (rows[0]?.teacher_models_in_set ?? "").split(";")[0] ?? "";
  const panelAll = rows.filter((r) => r.label === "0" && r.evidence !== "weak").map((r) => r.candidate ?? "");
  const results: Row[] = [];
  for (const r of rows) {
    const cand = r.candidate ?? "";
    const panel = panelAll.filter((m) => m !== cand);
    const res: CompareResult = await compare({
      suspect: adapter(cand),
      reference: adapter(reference),
      panel: panel.map(adapter),
      battery,
      sequential: false,
    });
    const sim = res.signals.find((s) => s.name === "output_similarity");
    const detail = sim?.detail ?? {};
    const closestIdx = detail.closest_panel_index;
    const featureEffects: Record<string, number> = {};
    for (const f of SIMILARITY_FEATURES) {
      const v = detail[`effect_${f}`];
      if (typeof v === "number") featureEffects[f] = v;
    }
    const row: Row = {
      candidate: cand,
      label: r.label === "1" ? 1 : 0,
      evidence: r.evidence ?? "",
      decision: res.decision,
      p_value: res.p_value,
      effect: sim?.effect ?? 0,
      panel_size: panel.length,
      closest_panel: typeof closestIdx === "number" ? (panel[closestIdx] ?? "") : "",
      feature_effects: featureEffects,
    };
    results.push(row);
    process.stderr.write(
      `${family} ${cand.padEnd(30)} label=${row.label} ${row.evidence.padEnd(10)} ${row.decision.padEnd(14)} p=${row.p_value.toExponential(2)} effect=${row.effect.toFixed(3)} closest=${row.closest_panel}\n`,
    );
  }
  const score = (x: Row) => x.effect;
  const students = results.filter((x) => x.label === 1);
  const negatives = results.filter((x) => x.label === 0 && x.evidence !== "weak");
  const weak = results.filter((x) => x.label === 0 && x.evidence === "weak");
  const fa = negatives.filter((x) => x.decision === "LIKELY_DERIVED").map((x) => x.candidate);
  const faWeak = weak.filter((x) => x.decision === "LIKELY_DERIVED").map((x) => x.candidate);
  totalFalse += fa.length;
  totalFalseWeak += faWeak.length;
  out[family] = {
    reference,
    panel_size: panelAll.length,
    students: students.length,
    negatives: negatives.length,
    weak_negatives: weak.length,
    auc: auc(students.map(score), negatives.map(score)),
    auc_with_weak: auc(students.map(score), [...negatives, ...weak].map(score)),
    // Diagnostics: the AUC each feature would give alone (the test uses only the fixed blend), so that
    // a change to the blend can be developed on one family and checked on the other.
    feature_auc: Object.fromEntries(
      SIMILARITY_FEATURES.map((f) => {
        const fs = (x: Row) => x.feature_effects[f] ?? 0;
        return [
          f,
          {
            auc: auc(students.map(fs), negatives.map(fs)),
            auc_with_weak: auc(students.map(fs), [...negatives, ...weak].map(fs)),
          },
        ];
      }),
    ),
    detected_students: students.filter((x) => x.decision === "LIKELY_DERIVED").length,
    // Calibration on real negatives: the share of label-0 comparisons with p at or below common levels
    // (a valid, conservative test keeps each share at or below its level).
    negative_p_at_or_below: Object.fromEntries(
      [0.05, 0.01, 0.001].map((a) => [
        String(a),
        negatives.filter((x) => x.p_value <= a).length / Math.max(1, negatives.length),
      ]),
    ),
    false_accusations: fa.length,
    false_accusation_models: fa,
    false_accusations_weak: faWeak.length,
    false_accusation_models_weak: faWeak,
    rows: results,
  };
}
const report = {
  policy_alpha: DEFAULT_POLICY.alpha,
  policy_min_effect: DEFAULT_POLICY.min_effect,
  score: "output_similarity effect (min over panel models of (wins - losses) / discordant probes)",
  families: out,
  false_accusations: totalFalse,
  false_accusations_weak: totalFalseWeak,
  seconds: Math.round((Date.now() - t0) / 100) / 10,
};
console.log("family      students  negatives  AUC    AUC+weak  detected  false_acc  false_acc_weak");
for (const [f, v] of Object.entries(out)) {
  const x = v as Record<string, number | null>;
  const fmt = (n: number | null | undefined) => (n === null || n === undefined ? "  -  " : n.toFixed(3));
  console.log(
    `${f.padEnd(11)} ${String(x.students).padStart(8)}  ${String(x.negatives).padStart(9)}  ${fmt(x.auc)}  ${fmt(x.auc_with_weak)}     ${String(x.detected_students).padStart(5)}  ${String(x.false_accusations).padStart(9)}  ${String(x.false_accusations_weak).padStart(14)}`,
  );
}
console.log(
  `false accusations at alpha=${DEFAULT_POLICY.alpha}: ${totalFalse} (weak negatives: ${totalFalseWeak}); ${report.seconds} s`,
);
console.log("per-feature AUC (diagnostic; the test uses the blend only), without / with weak negatives:");
for (const [f, v] of Object.entries(out)) {
  const fa = (v as { feature_auc: Record<string, { auc: number | null; auc_with_weak: number | null }> })
    .feature_auc;
  console.log(
    `  ${f.padEnd(11)} ${Object.entries(fa)
      .map(([k, a]) => `${k} ${a.auc?.toFixed(3) ?? "-"}/${a.auc_with_weak?.toFixed(3) ?? "-"}`)
      .join("  ")}`,
  );
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
