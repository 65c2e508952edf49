/**
 * Ensemble attribution rows of bench:detection (issue 11, "Ensembles"): every suspect is compared with every
 * member of the plan; each member's verdict comes from its own paired canary tests and its own watermark key
 * at comparisons = 1, and the engine's attributeMembers (Holm across the members compared, verdict/attribution.ts)
 * names the members; a shared violation is two or more members named for one suspect. Reported by the member's
 * share of the blend, by whether its teacher watermarks (the testbed keeps one copied member as a control that
 * does not), by the test that decided, and the nulls: every (suspect, member) pair where the member is not in
 * the suspect's lineage, with exact upper bounds.
 */
import {
  type AccusingTest,
  attributeMembers,
  type MemberAttribution,
  type VerdictPolicy,
  type VerdictResult,
} from "@lineage/fingerprint";
import type { Comparison } from "./plan.js";
import { isOrdinary, type NullGroup } from "./report.js";
import { clopperPearsonInterval } from "./stats.js";

/** One member's comparison with a suspect, its verdict derived at comparisons = 1. */
export interface EnsembleItem {
  readonly split: string;
  readonly comparison: Comparison;
  /** Whether the member's teacher watermarks (the control does not; foreign members as in their split). */
  readonly watermarks: boolean;
  readonly result: VerdictResult;
}

/** Detection among members with one share of their blends. */
export interface ShareRow {
  readonly members: number;
  readonly named: number;
  readonly tpr: number | null;
  /** Two-sided 95% Clopper–Pearson interval of the TPR. */
  readonly tpr_ci95: readonly [number, number] | null;
  /** Members named, by the accusing test behind the member's Holm p (attributeMembers' `test`). */
  readonly decided_by: Readonly<Partial<Record<AccusingTest, number>>>;
}

const round = (x: number, d = 4) => Number(x.toFixed(d));

function shareRow(list: readonly { named: boolean; test: AccusingTest | null }[]): ShareRow {
  const named = list.filter((x) => x.named);
  const by: Partial<Record<AccusingTest, number>> = {};
  for (const x of named) if (x.test) by[x.test] = (by[x.test] ?? 0) + 1;
  const ci = list.length === 0 ? null : clopperPearsonInterval(named.length, list.length);
  return {
    members: list.length,
    named: named.length,
    tpr: list.length === 0 ? null : round(named.length / list.length),
    tpr_ci95: ci === null ? null : [round(ci[0]), round(ci[1])],
    decided_by: by,
  };
}

function nullGroup(list: readonly { named: boolean }[]): NullGroup {
  const n = list.length;
  const fa = list.filter((x) => x.named).length;
  return {
    comparisons: n,
    false_likely_derived: fa,
    false_accusation_upper95: n === 0 ? null : round(clopperPearsonInterval(fa, n)[1], 6),
    false_leads: 0,
    false_lead_rate: null,
  };
}

/**
 * Holm attribution per suspect over the members it was compared with, and the rows of the report. Throws
 * (attributeMembers) when a suspect's items were decided under another policy.
 */
export function ensembleAttribution(items: readonly EnsembleItem[], policy: VerdictPolicy) {
  const bySuspect = new Map<string, EnsembleItem[]>();
  for (const it of items) {
    const k = `${it.split}/${it.comparison.suspectId}`;
    const l = bySuspect.get(k) ?? [];
    l.push(it);
    bySuspect.set(k, l);
  }
  const rows: { item: EnsembleItem; a: MemberAttribution; named: boolean; test: AccusingTest | null }[] = [];
  let shared = 0;
  let sharedCorrect = 0;
  let blends = 0;
  let blendsAllNamed = 0;
  for (const list of bySuspect.values()) {
    const res = attributeMembers(
      list.map((it) => ({ memberId: it.comparison.member.key, result: it.result })),
      policy,
    );
    const named: boolean[] = [];
    res.forEach((a, i) => {
      const item = list[i] as EnsembleItem;
      const isNamed = a.verdict === "LIKELY_DERIVED";
      named.push(isNamed);
      rows.push({ item, a, named: isNamed, test: a.test });
    });
    const namedItems = list.filter((_, i) => named[i]);
    if (namedItems.length >= 2) {
      shared++;
      if (namedItems.every((it) => it.comparison.derived)) sharedCorrect++;
    }
    const inBlend = list.filter((it) => it.comparison.derived);
    if (inBlend.length >= 2) {
      blends++;
      if (inBlend.every((it) => named[list.indexOf(it)])) blendsAllNamed++;
    }
  }
  const positives = rows.filter((r) => r.item.comparison.derived);
  const isEnsemble = (r: (typeof rows)[number]) =>
    r.item.comparison.scenario?.startsWith("ensemble_") === true;
  const shares = [...new Set(positives.filter(isEnsemble).map((r) => r.item.comparison.share))].sort(
    (a, b) => b - a,
  );
  const byShare: Record<string, ShareRow & { watermarking: ShareRow; control: ShareRow }> = {};
  for (const s of shares) {
    const xs = positives.filter((r) => isEnsemble(r) && r.item.comparison.share === s);
    byShare[String(s)] = {
      ...shareRow(xs),
      watermarking: shareRow(xs.filter((r) => r.item.watermarks)),
      control: shareRow(xs.filter((r) => !r.item.watermarks)),
    };
  }
  const byScenario: Record<string, ShareRow> = {};
  for (const sc of [...new Set(positives.map((r) => r.item.comparison.scenario ?? "?"))].sort())
    byScenario[sc] = shareRow(positives.filter((r) => (r.item.comparison.scenario ?? "?") === sc));
  const nulls = rows.filter((r) => !r.item.comparison.derived);
  const nullKinds: Record<string, NullGroup> = {};
  for (const k of [...new Set(nulls.map((r) => r.item.comparison.nullKind ?? "negative"))].sort())
    nullKinds[k] = nullGroup(nulls.filter((r) => (r.item.comparison.nullKind ?? "negative") === k));
  return {
    method:
      "per member: its paired canary tests and its own watermark key at comparisons = 1; Holm across the " +
      "members compared with the suspect (engine attributeMembers); a shared violation = >= 2 members named",
    by_share: byShare,
    by_scenario: byScenario,
    shared_violations: {
      raised: shared,
      all_named_in_blend: sharedCorrect,
      blends_with_2_plus_members: blends,
      blends_fully_named: blendsAllNamed,
    },
    nulls: {
      ...nullGroup(nulls),
      ordinary: nullGroup(nulls.filter((r) => isOrdinary(r.item.comparison.nullKind))),
      foreign: nullGroup(nulls.filter((r) => !isOrdinary(r.item.comparison.nullKind))),
      in_ensembles: nullGroup(nulls.filter(isEnsemble)),
      by_kind: nullKinds,
    },
    min_null_member_p: nulls.length === 0 ? null : Math.min(...nulls.map((r) => r.a.member_p)),
  };
}
