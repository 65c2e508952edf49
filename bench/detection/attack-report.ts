/**
 * The `by_attack` rows of bench:detection (issue 11, "An adaptive distiller" and "Real tokenizers"): per
 * attack (or scenario, for the subword rows), split, tokenizer and canary log-probability rule, how many
 * derived (suspect, member) comparisons reached LIKELY_DERIVED at the default policy, with an exact 95%
 * Clopper–Pearson interval, which accusing test decided, how many were only SIMILAR leads, and the
 * watermarking / control members apart (an attack on the watermark cannot hurt the control member's copies).
 * Pure: the run (attack-run.ts) hands in the outcomes.
 */
import { clopperPearsonInterval, median } from "./stats.js";

/** How the suspect was served and scored. */
export type Tokenizer = "word" | "subword";
export type LogprobRule = "logprob_rule_on" | "logprob_rule_off";

/** One comparison's outcome, as the run derives it. */
export interface AttackOutcome {
  /** Attack name, or the scenario name for scenario rows. */
  readonly row: string;
  readonly split: string;
  readonly tokenizer: Tokenizer;
  readonly rule: LogprobRule;
  readonly suspectId: string;
  readonly memberKey: string;
  readonly derived: boolean;
  /** Whether the member's teacher watermarks. */
  readonly watermarking: boolean;
  readonly verdict: "LIKELY_DERIVED" | "SIMILAR" | "INCONCLUSIVE";
  /** Accusing tests that met the policy on their own (adjusted p <= alpha, effect >= min effect). */
  readonly decidedBy: readonly string[];
  readonly queries: number;
  /** Panel variant (the sibling attack): "usual" or "with_sibling". */
  readonly panel?: "usual" | "with_sibling";
}

/** A row of the table. */
export interface AttackRow {
  readonly n: number;
  readonly detected: number;
  readonly tpr: number | null;
  readonly tpr_ci95: readonly [number, number] | null;
  readonly similar_leads: number;
  readonly decided_by: Readonly<Record<string, number>>;
  readonly watermarking: { readonly n: number; readonly detected: number };
  readonly control: { readonly n: number; readonly detected: number };
  readonly median_queries: number | null;
}

const round = (x: number) => Number(x.toFixed(4));

/** The row of a set of derived outcomes. */
export function attackRow(outcomes: readonly AttackOutcome[]): AttackRow {
  const n = outcomes.length;
  const det = outcomes.filter((o) => o.verdict === "LIKELY_DERIVED");
  const decided: Record<string, number> = {};
  for (const o of det) for (const t of o.decidedBy) decided[t] = (decided[t] ?? 0) + 1;
  const part = (w: boolean) => {
    const xs = outcomes.filter((o) => o.watermarking === w);
    return { n: xs.length, detected: xs.filter((o) => o.verdict === "LIKELY_DERIVED").length };
  };
  return {
    n,
    detected: det.length,
    tpr: n === 0 ? null : round(det.length / n),
    tpr_ci95: n === 0 ? null : (clopperPearsonInterval(det.length, n).map(round) as [number, number]),
    similar_leads: outcomes.filter((o) => o.verdict === "SIMILAR").length,
    decided_by: decided,
    watermarking: part(true),
    control: part(false),
    median_queries: median(outcomes.map((o) => o.queries)),
  };
}

type Nested = Record<string, Record<string, Record<string, Record<string, AttackRow>>>>;

/**
 * Rows keyed row -> split -> tokenizer -> rule, over the DERIVED outcomes (nulls are reported by
 * {@link attackNulls}). Sibling outcomes with the sibling in the panel are keyed `sibling_in_panel`.
 */
export function byAttack(outcomes: readonly AttackOutcome[]): Nested {
  const groups = new Map<string, AttackOutcome[]>();
  for (const o of outcomes) {
    if (!o.derived) continue;
    const row = o.panel === "with_sibling" ? `${o.row}_in_panel` : o.row;
    const key = JSON.stringify([row, o.split, o.tokenizer, o.rule]);
    let g = groups.get(key);
    if (!g) {
      g = [];
      groups.set(key, g);
    }
    g.push(o);
  }
  const out: Nested = {};
  for (const [key, g] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [row, split, tok, rule] = JSON.parse(key) as [string, string, string, string];
    out[row] ??= {};
    const r = out[row] as Record<string, Record<string, Record<string, AttackRow>>>;
    r[split] ??= {};
    const s = r[split] as Record<string, Record<string, AttackRow>>;
    s[tok] ??= {};
    (s[tok] as Record<string, AttackRow>)[rule] = attackRow(g);
  }
  return out;
}

/** False LIKELY_DERIVED over the null outcomes, by row, split and rule, with a 95% upper bound. */
export function attackNulls(outcomes: readonly AttackOutcome[]): Record<
  string,
  {
    readonly comparisons: number;
    readonly false_likely_derived: number;
    readonly upper95: number | null;
    readonly similar_leads: number;
  }
> {
  const out: Record<
    string,
    { comparisons: number; false_likely_derived: number; upper95: number | null; similar_leads: number }
  > = {};
  for (const o of outcomes) {
    if (o.derived) continue;
    const key = `${o.row}/${o.split}/${o.tokenizer}/${o.rule}`;
    const g = out[key] ?? { comparisons: 0, false_likely_derived: 0, upper95: null, similar_leads: 0 };
    out[key] = g;
    g.comparisons++;
    if (o.verdict === "LIKELY_DERIVED") g.false_likely_derived++;
    if (o.verdict === "SIMILAR") g.similar_leads++;
  }
  for (const g of Object.values(out))
    g.upper95 = round(clopperPearsonInterval(g.false_likely_derived, g.comparisons)[1]);
  return out;
}

/** The one-line text of a row: "12/20 60.0% [36.1%, 80.9%]". */
export function formatAttackRow(r: AttackRow): string {
  if (r.tpr === null || r.tpr_ci95 === null) return "-";
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `${r.detected}/${r.n} ${pct(r.tpr)} [${pct(r.tpr_ci95[0])}, ${pct(r.tpr_ci95[1])}]`;
}
