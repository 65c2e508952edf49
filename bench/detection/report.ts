/**
 * Aggregation of per-comparison outcomes into the detection benchmark's report (issue 3, "The
 * benchmark"): detection rate per scenario with exact confidence intervals and median queries to a
 * decision, false accusations and the calibration of null p-values, and per-member attribution.
 * Pure: takes outcomes, returns the JSON sections and a printable table.
 */
import type { Verdict } from "@lineage/fingerprint";
import { type Comparison, type NullKind, ORDINARY_NULL_KINDS } from "./plan.js";
import {
  clopperPearsonInterval,
  fractionAtOrBelow,
  ksUniform,
  ksUniformUpper,
  median,
  wilsonInterval,
} from "./stats.js";

/**
 * The engine's three verdicts (libs/fingerprint verdict.ts). Only LIKELY_DERIVED counts as a detection or
 * a false accusation; SIMILAR is a lead (on a null: a false lead), never an accusation.
 */
export type Decision = Verdict;

/** Every verdict, in report order. */
export const DECISIONS: readonly Decision[] = ["LIKELY_DERIVED", "SIMILAR", "INCONCLUSIVE"];

/** One signal's part of an outcome (never raw text). */
export interface SignalOutcome {
  readonly name: string;
  readonly available: boolean;
  readonly p_value: number;
  readonly effect: number;
  /** A randomized p-value, when the signal's null distribution is discrete and known (see stats.ts). */
  readonly randomized_p?: number;
  /** The signal's numeric counts (never text). */
  readonly detail?: Readonly<Record<string, number>>;
}

/** The engine's verdict on one planned comparison. */
export interface Outcome {
  readonly split: "calibration" | "test";
  readonly comparison: Comparison;
  readonly decision: Decision;
  /** The combined, corrected p-value the policy compared with alpha. */
  readonly p_value: number;
  readonly effect: number;
  /** Queries sent to the suspect until the decision was settled (sequential testing). */
  readonly queries: number;
  readonly signals: readonly SignalOutcome[];
}

/** One scenario's row of the report. */
export interface ScenarioRow {
  readonly positives: number;
  readonly detected: number;
  readonly tpr: number;
  /** Clopper–Pearson exact 95% interval. */
  readonly tpr_ci95: readonly [number, number];
  /** Wilson score 95% interval, for comparison. */
  readonly tpr_wilson95: readonly [number, number];
  /** Median over the scenario's positives of queries to the decision (detected or not). */
  readonly median_queries: number | null;
  /** Median over detected positives only. */
  readonly median_queries_detected: number | null;
}

const round = (x: number, d = 4): number => Number(x.toFixed(d));

/** A detection-rate row from (suspect, member) outcomes that are all positives. */
export function scenarioRow(outcomes: readonly Outcome[]): ScenarioRow {
  const n = outcomes.length;
  const det = outcomes.filter((o) => o.decision === "LIKELY_DERIVED");
  const cp = clopperPearsonInterval(det.length, n);
  const w = wilsonInterval(det.length, n);
  return {
    positives: n,
    detected: det.length,
    tpr: n === 0 ? 0 : round(det.length / n),
    tpr_ci95: [round(cp[0]), round(cp[1])],
    tpr_wilson95: [round(w[0]), round(w[1])],
    median_queries: median(outcomes.map((o) => o.queries)),
    median_queries_detected: median(det.map((o) => o.queries)),
  };
}

/**
 * Rows per scenario over derived comparisons: every (suspect, member) pair the suspect derives from counts
 * as one positive (an ensemble of two members gives two). Extra rows: `ensemble_share_ge_25` (ensemble
 * members with a share >= 25%, the ensemble target) and `ensemble_share_10` (10% members).
 */
export function byScenario(
  outcomes: readonly Outcome[],
  scenarios: readonly string[],
): Record<string, ScenarioRow> {
  const pos = outcomes.filter((o) => o.comparison.derived);
  const out: Record<string, ScenarioRow> = {};
  for (const s of scenarios) out[s] = scenarioRow(pos.filter((o) => o.comparison.scenario === s));
  const ens = pos.filter((o) => o.comparison.scenario?.startsWith("ensemble_"));
  out.ensemble_share_ge_25 = scenarioRow(ens.filter((o) => o.comparison.share >= 0.25 - 1e-9));
  out.ensemble_share_10 = scenarioRow(ens.filter((o) => o.comparison.share < 0.25 - 1e-9));
  return out;
}

/** Calibration of a set of null p-values. */
export interface PValueCalibration {
  readonly n: number;
  /** Two-sided KS against U(0,1). */
  readonly ks_uniform_p: number | null;
  /** One-sided KS (Birnbaum–Tingey) of "p-values are not too small": the validity check. */
  readonly ks_validity_p: number | null;
  /** Fraction of p-values <= 0.001, 0.01, 0.05, 0.1, 0.5. */
  readonly fraction_at_or_below: Readonly<Record<string, number>>;
  /** Fraction exactly 1 (p-values capped at 1 or untested). */
  readonly at_one: number;
  readonly min: number | null;
}

const LEVELS = [0.001, 0.01, 0.05, 0.1, 0.5];

/** KS tests and a level table for p-values that should be uniform (or super-uniform) under the null. */
export function calibrate(ps: readonly number[]): PValueCalibration {
  if (ps.length === 0) {
    return {
      n: 0,
      ks_uniform_p: null,
      ks_validity_p: null,
      fraction_at_or_below: {},
      at_one: 0,
      min: null,
    };
  }
  const fr = fractionAtOrBelow(ps, LEVELS);
  return {
    n: ps.length,
    ks_uniform_p: round(ksUniform(ps).p_value, 6),
    ks_validity_p: round(ksUniformUpper(ps).p_value, 6),
    fraction_at_or_below: Object.fromEntries(LEVELS.map((l, i) => [String(l), round(fr[i] ?? 0)])),
    at_one: round(ps.filter((p) => p >= 1).length / ps.length),
    min: Math.min(...ps),
  };
}

/** The null section: counts, false accusations, and p-value calibration overall and per signal. */
export function nullSection(outcomes: readonly Outcome[]) {
  const nulls = outcomes.filter((o) => !o.comparison.derived);
  const accused = nulls.filter((o) => o.decision === "LIKELY_DERIVED");
  const byKind: Record<string, number> = {};
  const bySplit: Record<string, number> = {};
  for (const o of nulls) {
    const k = o.comparison.nullKind ?? "negative";
    byKind[k] = (byKind[k] ?? 0) + 1;
    bySplit[o.split] = (bySplit[o.split] ?? 0) + 1;
  }
  const combined = calibrate(nulls.map((o) => o.p_value));
  const names = [...new Set(nulls.flatMap((o) => o.signals.map((s) => s.name)))].sort();
  const perSignal: Record<string, PValueCalibration & { randomized?: PValueCalibration }> = {};
  for (const name of names) {
    const sig = nulls.flatMap((o) => o.signals.filter((s) => s.name === name && s.available));
    const rnd = sig.filter((s) => s.randomized_p !== undefined).map((s) => s.randomized_p as number);
    perSignal[name] = {
      ...calibrate(sig.map((s) => s.p_value)),
      ...(rnd.length > 0 ? { randomized: calibrate(rnd) } : {}),
    };
  }
  return {
    comparisons: nulls.length,
    false_accusations: accused.length,
    false_accusation_ci95: clopperPearsonInterval(accused.length, nulls.length).map((x) => round(x, 6)),
    ks_uniform_p: combined.ks_uniform_p,
    ks_validity_p: combined.ks_validity_p,
    by_kind: byKind,
    by_split: bySplit,
    combined,
    per_signal: perSignal,
    accused: accused.map((o) => ({
      split: o.split,
      suspect: o.comparison.suspectId,
      member: o.comparison.member.key,
      kind: o.comparison.nullKind,
      p_value: o.p_value,
      effect: o.effect,
    })),
  };
}

/**
 * Attribution over positive suspects: the members named (LIKELY_DERIVED) vs the members the suspect truly
 * derives from. Precision = correct names / names; recall = correct names / true members. Every member a
 * suspect was compared with counts (a foreign member named is a wrong name).
 */
export function attribution(outcomes: readonly Outcome[], filter: (o: Outcome) => boolean = () => true) {
  const bySuspect = new Map<string, Outcome[]>();
  for (const o of outcomes) {
    if (o.comparison.suspectRole !== "positive" || !filter(o)) continue;
    const k = `${o.split}/${o.comparison.suspectId}`;
    const list = bySuspect.get(k) ?? [];
    list.push(o);
    bySuspect.set(k, list);
  }
  let named = 0;
  let correct = 0;
  let truth = 0;
  let exact = 0;
  for (const list of bySuspect.values()) {
    const n = list.filter((o) => o.decision === "LIKELY_DERIVED");
    const c = n.filter((o) => o.comparison.derived);
    const t = list.filter((o) => o.comparison.derived);
    named += n.length;
    correct += c.length;
    truth += t.length;
    if (c.length === t.length && n.length === t.length) exact++;
  }
  return {
    suspects: bySuspect.size,
    named,
    correct,
    true_members: truth,
    precision: named === 0 ? null : round(correct / named),
    recall: truth === 0 ? null : round(correct / truth),
    exact_sets: exact,
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** A fixed-width text table (first column left-aligned, the rest right-aligned). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** The per-scenario table with targets. */
export function scenarioTable(
  rows: Readonly<Record<string, ScenarioRow>>,
  targets: Readonly<Record<string, number>>,
): string {
  return formatTable(
    ["scenario", "positives", "detected", "TPR", "95% CI (exact)", "target", "median q"],
    Object.entries(rows).map(([name, r]) => [
      name,
      String(r.positives),
      String(r.detected),
      r.positives === 0 ? "-" : pct(r.tpr),
      r.positives === 0 ? "-" : `${pct(r.tpr_ci95[0])}–${pct(r.tpr_ci95[1])}`,
      targets[name] === undefined ? "" : `>= ${pct(targets[name] as number)}`,
      r.median_queries === null ? "-" : String(r.median_queries),
    ]),
  );
}

/**
 * Per group (scenario for positives, null kind for nulls) and signal: how often it was available and the
 * medians of its p-value, effect and numeric details — what explains a miss.
 */
export function signalBreakdown(outcomes: readonly Outcome[]) {
  const groups = new Map<string, Outcome[]>();
  for (const o of outcomes) {
    const g = o.comparison.derived
      ? (o.comparison.scenario ?? "member_teacher")
      : `null:${o.comparison.nullKind}`;
    const l = groups.get(g) ?? [];
    l.push(o);
    groups.set(g, l);
  }
  const out: Record<string, Record<string, Record<string, number | null>>> = {};
  for (const [g, list] of groups) {
    const names = [...new Set(list.flatMap((o) => o.signals.map((x) => x.name)))].sort();
    const row: Record<string, Record<string, number | null>> = {};
    for (const name of names) {
      const sig = list.flatMap((o) => o.signals.filter((x) => x.name === name && x.available));
      const cell: Record<string, number | null> = {
        available: sig.length,
        of: list.length,
        median_p: median(sig.map((x) => x.p_value)),
        min_p: sig.length === 0 ? null : Math.min(...sig.map((x) => x.p_value)),
        median_effect: median(sig.map((x) => x.effect)),
      };
      const keys = [...new Set(sig.flatMap((x) => Object.keys(x.detail ?? {})))].sort();
      for (const k of keys)
        cell[`median_${k}`] = median(
          sig.flatMap((x) => (x.detail?.[k] !== undefined ? [x.detail[k] as number] : [])),
        );
      row[name] = cell;
    }
    out[g] = row;
  }
  return out;
}

/** Counts of each verdict. */
export type VerdictCounts = Readonly<Record<Decision, number>>;

function countVerdicts(outcomes: readonly Outcome[]): VerdictCounts {
  const out: Record<Decision, number> = { LIKELY_DERIVED: 0, SIMILAR: 0, INCONCLUSIVE: 0 };
  for (const o of outcomes) out[o.decision]++;
  return out;
}

/**
 * `by_verdict`: counts of LIKELY_DERIVED / SIMILAR / INCONCLUSIVE per scenario (positive (suspect, member)
 * pairs, as in byScenario), for the nulls of each kind, and for all nulls. Call it once per split.
 */
export function byVerdict(outcomes: readonly Outcome[], scenarios: readonly string[]) {
  const pos = outcomes.filter((o) => o.comparison.derived);
  const nulls = outcomes.filter((o) => !o.comparison.derived);
  const scen: Record<string, VerdictCounts> = {};
  for (const s of scenarios) scen[s] = countVerdicts(pos.filter((o) => o.comparison.scenario === s));
  const kinds: Record<string, VerdictCounts> = {};
  for (const k of [...new Set(nulls.map((o) => o.comparison.nullKind ?? "negative"))].sort())
    kinds[k] = countVerdicts(nulls.filter((o) => (o.comparison.nullKind ?? "negative") === k));
  return {
    scenarios: scen,
    positives: countVerdicts(pos),
    nulls: countVerdicts(nulls),
    nulls_ordinary: countVerdicts(nulls.filter((o) => isOrdinary(o.comparison.nullKind))),
    nulls_by_kind: kinds,
  };
}

export function isOrdinary(kind: NullKind | undefined): boolean {
  return (ORDINARY_NULL_KINDS as readonly (NullKind | undefined)[]).includes(kind ?? "negative");
}

/** One group of nulls: false LIKELY_DERIVED with its exact upper bound, and false leads. */
export interface NullGroup {
  readonly comparisons: number;
  readonly false_likely_derived: number;
  /**
   * Upper end of the two-sided 95% Clopper–Pearson interval of the false-accusation rate (one-sided 97.5%
   * bound): with 0 in n it is 1 - 0.025^(1/n).
   */
  readonly false_accusation_upper95: number | null;
  readonly false_leads: number;
  readonly false_lead_rate: number | null;
}

function nullGroup(list: readonly Outcome[]): NullGroup {
  const n = list.length;
  const fa = list.filter((o) => o.decision === "LIKELY_DERIVED").length;
  const fl = list.filter((o) => o.decision === "SIMILAR").length;
  return {
    comparisons: n,
    false_likely_derived: fa,
    false_accusation_upper95: n === 0 ? null : round(clopperPearsonInterval(fa, n)[1], 6),
    false_leads: fl,
    false_lead_rate: n === 0 ? null : round(fl / n),
  };
}

/**
 * Nulls reported by kind (issue 7, "Figures nobody tuned to"): pass the TEST split's outcomes only. Groups:
 * `ordinary` (same-split nulls: every kind but foreign_member), `foreign_member` (the other split's members:
 * nothing shared but the public corpus; only their guessable canaries can hit; reported apart), each kind, and
 * the ordinary nulls by the suspect's recipe kind (public-only negatives share the whole public portion
 * with the members' teachers; genre negatives add other private text; students of non-members ...).
 */
export function nullsByKind(outcomes: readonly Outcome[]) {
  const nulls = outcomes.filter((o) => !o.comparison.derived);
  const ordinary = nulls.filter((o) => isOrdinary(o.comparison.nullKind));
  const kinds: Record<string, NullGroup> = {};
  for (const k of [...new Set(nulls.map((o) => o.comparison.nullKind ?? "negative"))].sort())
    kinds[k] = nullGroup(nulls.filter((o) => (o.comparison.nullKind ?? "negative") === k));
  const recipes: Record<string, NullGroup> = {};
  for (const r of [
    ...new Set(ordinary.map((o) => o.comparison.recipeKind ?? o.comparison.suspectRole)),
  ].sort())
    recipes[r] = nullGroup(
      ordinary.filter((o) => (o.comparison.recipeKind ?? o.comparison.suspectRole) === r),
    );
  return {
    all: nullGroup(nulls),
    ordinary: nullGroup(ordinary),
    foreign: nullGroup(nulls.filter((o) => !isOrdinary(o.comparison.nullKind))),
    by_kind: kinds,
    ordinary_by_suspect_recipe: recipes,
  };
}
