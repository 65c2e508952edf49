/**
 * The attack rows of bench:detection (issue 11): the adaptive distillers of libs/testbed attacks.ts, and every
 * scenario's and attack's positives served through the subword variant (libs/testbed subword-model.ts), each
 * compared with its member by compare() over HTTP like every other suspect, with the canary log-probability
 * rule on (the engine's default: 20 top alternatives at the first 3 positions) and off (canaryTopLogprobs 0).
 * The verdict is re-derived from compare()'s counts at the DEFAULT policy (the one the engine ships; nothing
 * here is tuned), with the member node's watermark queries step (lineage-watermark-queries/3) wherever the
 * member watermarks, bound and asked as a session does (watermark-step.ts): see attack-report.ts for the rows.
 *
 * Comparisons:
 *   positives   every attack student vs its member (canary_filter_ordinary: vs the member's variant with
 *               ordinary-looking canaries); the sibling attack's suspect twice: with the usual panel and with
 *               its published sibling in the panel's closest slot
 *   subword     every positive (scenarios and attacks) served as `<id>~bpe` vs each member it derives from
 *               (scenarios: subword rows only; their word row is the main by_scenario)
 *   nulls       every negative of the split vs each member variant with ordinary-looking canaries (a new
 *               canary generator must show it accuses no one), with the rule on (the engine's default)
 * Panels: the member's closest negatives (as the main plan), never the suspect.
 */
import {
  type Battery,
  type CompareResult,
  compare,
  deriveVerdict,
  type ModelAdapter,
  type VerdictEvidence,
  type VerdictPolicy,
} from "@lineage/fingerprint";
import { type MemberInfo, type Population, type PopulationEntry, pairedCanarySet } from "@lineage/testbed";
import type { AttackOutcome, LogprobRule, Tokenizer } from "./attack-report.js";
import { Progress, runPool } from "./progress.js";
import { type AnsweredStep, withWatermarkStep } from "./watermark-step.js";

/** Suffix of subword-served model ids (libs/testbed SUBWORD_SUFFIX). */
export const BPE = "~bpe";

/** What the run needs from the benchmark. */
export interface AttackRunDeps {
  readonly split: "calibration" | "test";
  readonly population: Population;
  readonly battery: Battery;
  /** A (memoizing) adapter per served model id (subword ids end in `~bpe`). */
  readonly adapter: (modelId: string) => ModelAdapter;
  /** Per member key (`<split>/<member id>`), this split's negatives closest-first to the member's reference. */
  readonly ranking: (memberKey: string) => readonly string[];
  readonly panelSize: number;
  /** Bonferroni factor of each verdict (the benchmark's members per suspect). */
  readonly comparisons: number;
  readonly policy: VerdictPolicy;
  readonly concurrency: number;
  /** Attacks whose rows run (population entries' `attack`). */
  readonly attacks: readonly string[];
  /** Scenarios whose positives get subword rows. */
  readonly scenarios: readonly string[];
  readonly seed: (s: string) => number;
  /**
   * The member node's watermark queries step asked of a served suspect (memoized by the caller: one answered
   * step per served model, scored under each member's key). Every comparison with a watermarking member binds
   * it, as a session does, and asks it only when undecided without it (watermark-step.ts).
   */
  readonly watermarkStep: (servedId: string) => Promise<AnsweredStep>;
}

interface Job {
  readonly row: string;
  readonly suspect: PopulationEntry;
  readonly servedId: string;
  readonly tokenizer: Tokenizer;
  readonly rule: LogprobRule;
  readonly member: MemberInfo;
  readonly memberKey: string;
  /** Ranking key for the panel (a variant member ranks like its base member). */
  readonly rankingKey: string;
  readonly derived: boolean;
  readonly panel?: "usual" | "with_sibling";
  readonly sibling?: string;
}

const RULES: readonly LogprobRule[] = ["logprob_rule_on", "logprob_rule_off"];

/** Runs the attack and subword comparisons of one split; returns their outcomes. */
export async function runAttackRows(d: AttackRunDeps): Promise<AttackOutcome[]> {
  const pop = d.population;
  const s = d.split;
  const byMemberId = new Map<string, MemberInfo>(
    [...pop.members, ...(pop.attackMembers ?? [])].map((m) => [m.memberId, m]),
  );
  const baseOf = (memberId: string) => memberId.replace(/-ordinary$/, "");
  const jobs: Job[] = [];
  const add = (
    j: Omit<Job, "servedId" | "tokenizer" | "rule">,
    tokenizers: readonly Tokenizer[],
    rules: readonly LogprobRule[] = RULES,
  ) => {
    for (const tokenizer of tokenizers)
      for (const rule of rules)
        jobs.push({
          ...j,
          tokenizer,
          rule,
          servedId: tokenizer === "subword" ? `${j.suspect.id}${BPE}` : j.suspect.id,
        });
  };
  for (const e of pop.entries) {
    if (e.role !== "positive") continue;
    const isAttack = e.attack !== undefined;
    if (isAttack && !d.attacks.includes(e.attack as string)) continue;
    if (!isAttack && !d.scenarios.includes(e.scenario as string)) continue;
    if (e.recipe.sibling === "published") continue;
    for (const ms of e.members) {
      const member = byMemberId.get(ms.memberId);
      if (!member) throw new Error(`no member ${ms.memberId} for ${e.id}`);
      const base = {
        row: (e.attack ?? e.scenario) as string,
        suspect: e,
        member,
        memberKey: `${s}/${member.memberId}`,
        rankingKey: `${s}/${baseOf(member.memberId)}`,
        derived: true,
      };
      // Scenario positives: subword rows only (their word row with the rule on is the main by_scenario);
      // attacks: both tokenizers.
      add(base, isAttack ? ["word", "subword"] : ["subword"]);
      if (e.attack === "sibling") {
        const published = pop.entries.find((x) => x.id === `${e.id}-published`);
        if (!published) throw new Error(`no published sibling of ${e.id}`);
        add({ ...base, panel: "with_sibling", sibling: published.id }, ["word"]);
      }
    }
  }
  if (d.attacks.includes("canary_filter_ordinary")) {
    for (const m of pop.attackMembers ?? []) {
      for (const e of pop.entries.filter((x) => x.role === "negative")) {
        add(
          {
            row: "canary_filter_ordinary",
            suspect: e,
            member: m,
            memberKey: `${s}/${m.memberId}`,
            rankingKey: `${s}/${baseOf(m.memberId)}`,
            derived: false,
          },
          ["word"],
          ["logprob_rule_on"],
        );
      }
    }
  }
  const progress = new Progress(`attack rows ${s} (comparisons)`, jobs.length);
  return runPool(
    jobs.map((j) => async (): Promise<AttackOutcome> => {
      const ranked = d.ranking(j.rankingKey).filter((id) => id !== j.suspect.id);
      const usual = ranked.slice(0, d.panelSize);
      const panel = j.sibling ? [j.sibling, ...usual.slice(0, d.panelSize - 1)] : usual;
      const result: CompareResult = await compare({
        suspect: d.adapter(j.servedId),
        reference: d.adapter(j.member.teacherId),
        panel: panel.map(d.adapter),
        battery: d.battery,
        canaries: pairedCanarySet(j.member, j.memberKey),
        ...(j.member.watermark
          ? { watermarkKey: j.member.watermark.key, watermarkGamma: j.member.watermark.gamma }
          : {}),
        policy: knobs(d.policy),
        comparisons: d.comparisons,
        canaryScoring: true,
        ...(j.rule === "logprob_rule_off" ? { canaryTopLogprobs: 0 } : {}),
        seed: d.seed(`${s}/${j.suspect.id}/${j.memberKey}`),
        concurrency: 2,
      });
      let evidence: VerdictEvidence = { ...result.evidence, comparisons: d.comparisons };
      let stepQueries = 0;
      const wm = j.member.watermark;
      if (wm && evidence.watermark) {
        let asked: AnsweredStep | undefined;
        const withStep = await withWatermarkStep(evidence, d.policy, async () => {
          asked = await d.watermarkStep(j.servedId);
          return asked.pairs.counts(wm.key, wm.gamma);
        });
        evidence = withStep.evidence;
        stepQueries = asked?.queries ?? 0;
      }
      const v = deriveVerdict(evidence, d.policy);
      return {
        row: j.row,
        split: s,
        tokenizer: j.tokenizer,
        rule: j.rule,
        suspectId: j.suspect.id,
        memberKey: j.memberKey,
        derived: j.derived,
        watermarking: j.member.watermark !== undefined,
        verdict: v.verdict,
        decidedBy: v.tests
          .filter((t) => t.available && t.adjusted_p <= d.policy.alpha && t.effect >= d.policy.min_effect)
          .map((t) => t.test),
        queries: result.queries.suspect + result.queries.canaries + stepQueries,
        ...(j.panel ? { panel: j.panel } : j.suspect.attack === "sibling" ? { panel: "usual" as const } : {}),
      };
    }),
    d.concurrency,
    () => progress.tick(),
  );
}

function knobs(p: VerdictPolicy): Partial<Omit<VerdictPolicy, "id">> {
  const { id: _id, ...rest } = p;
  return rest;
}
