/**
 * Attribution across members (DESIGN.md, "The match protocol": per-member attribution across an ensemble is
 * Holm-corrected before a shared violation is raised). A suspect distilled from several members' models is
 * compared with each of them; each comparison's verdict (verdict.ts) is valid for one member, but naming
 * several at once tests several hypotheses. Holm's step-down (Holm 1979) over the members' best accusing
 * p-values controls the family-wise error over all members at the policy's alpha under any dependence, and
 * is uniformly more powerful than Bonferroni, so several members can be named in one shared violation
 * without inflating false attributions.
 *
 * Each member's p is its best ADJUSTED accusing p-value among tests that ran with effect >= min_effect (its
 * VerdictResult already corrects for its own test family and its `comparisons`); a member with no such test
 * contributes p = 1, and counts in the Holm family anyway — the members compared are fixed before the
 * answers, so the family must not shrink with them. Similarity never enters: it cannot accuse.
 *
 * Pass results derived with `comparisons` = the models compared per member, not the number of members:
 * the correction across members is this module's job, and counting it twice only loses power.
 */
import { FingerprintError } from "../fingerprint-error.js";
import { holm } from "../stats/stats-multiple.js";
import type { Verdict, VerdictResult } from "./verdict.js";
import type { AccusingTest, VerdictPolicy } from "./verdict-policy.js";
import { checkVerdictPolicy, samePolicyNumbers } from "./verdict-policy.js";

/** One member's comparison against the suspect. */
export interface MemberVerdict {
  readonly memberId: string;
  readonly result: VerdictResult;
}

/** One member's attribution. */
export interface MemberAttribution {
  readonly memberId: string;
  /**
   * LIKELY_DERIVED only when the member's Holm-adjusted p-value is at most alpha; otherwise SIMILAR when the
   * member's own comparison raised a similarity lead, else INCONCLUSIVE.
   */
  readonly verdict: Verdict;
  /** Holm-adjusted across the members (1 when no accusing test met the minimum effect). */
  readonly p_value: number;
  /** The member's best adjusted accusing p-value before the correction across members. */
  readonly member_p: number;
  /** Effect of that test (0 when none). */
  readonly effect: number;
  /** The accusing test behind `member_p`, or null. */
  readonly test: AccusingTest | null;
}

/** Most members attributed at once (bounds the work on an untrusted request). */
export const MAX_ATTRIBUTION_MEMBERS = 10_000;

/**
 * Holm attribution across members (see the module comment). Throws FingerprintError INVALID_ARGUMENT on an
 * empty or oversized list, a repeated member id, or a result derived under other policy numbers than
 * `policy` (members decided under different rules cannot be corrected together).
 */
export function attributeMembers(
  perMember: readonly MemberVerdict[],
  policy: VerdictPolicy,
): MemberAttribution[] {
  checkVerdictPolicy(policy);
  if (perMember.length === 0) throw new FingerprintError("INVALID_ARGUMENT", "attribution needs members");
  if (perMember.length > MAX_ATTRIBUTION_MEMBERS)
    throw new FingerprintError("INVALID_ARGUMENT", `more than ${MAX_ATTRIBUTION_MEMBERS} members`);
  const seen = new Set<string>();
  const best = perMember.map(({ memberId, result }) => {
    if (seen.has(memberId))
      throw new FingerprintError("INVALID_ARGUMENT", `member "${memberId.slice(0, 64)}" appears twice`);
    seen.add(memberId);
    if (!samePolicyNumbers(result.policy, policy)) {
      throw new FingerprintError(
        "INVALID_ARGUMENT",
        `member "${memberId.slice(0, 64)}" was decided under policy "${result.policy.id}", not "${policy.id}"`,
      );
    }
    let top: { p: number; effect: number; test: AccusingTest } | null = null;
    for (const t of result.tests) {
      if (!t.available || t.effect < policy.min_effect) continue;
      if (top === null || t.adjusted_p < top.p) top = { p: t.adjusted_p, effect: t.effect, test: t.test };
    }
    return { memberId, top, lead: result.lead?.is_lead === true };
  });
  const adjusted = holm(best.map((b) => b.top?.p ?? 1));
  return best.map((b, i) => {
    const p = adjusted[i] ?? 1;
    const derived = b.top !== null && p <= policy.alpha;
    return {
      memberId: b.memberId,
      verdict: derived ? "LIKELY_DERIVED" : b.lead ? "SIMILAR" : "INCONCLUSIVE",
      p_value: p,
      member_p: b.top?.p ?? 1,
      effect: b.top?.effect ?? 0,
      test: b.top?.test ?? null,
    };
  });
}
