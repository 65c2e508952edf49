/**
 * Population -> comparisons planning for the detection benchmark (issue 3, "The benchmark").
 *
 * A comparison is one (suspect, member) pair: does the suspect derive from this member's model? The
 * member's reference is its teacher; its private evidence is its canary set (and watermark key, if any).
 * Ground truth comes from the population: `derived` when the suspect's lineage names the member.
 *
 * Nulls (derived = false), by kind:
 *   negative             a negative model vs every member (independent models on the same public text,
 *                        other genre mixes, students of the non-member teacher or of independent models)
 *   nonmember_teacher    the non-member teacher vs every member
 *   other_member_teacher a member's teacher vs every other member
 *   other_member_copy    a copy of member A (direct, paraphrased, weights, fine-tuned, or an ensemble that
 *                        leaves member B out) vs member B
 *   bystander_member     any model of this split vs a bystander member (an alliance member of this split
 *                        nobody copied: same public data, same canary generator, its own pairs and labels)
 *   foreign_member       any model of this split vs a member of the OTHER split (its teacher probed on this
 *                        split's battery, its canaries asked to the suspect): unrelated by construction —
 *                        different seed, facts, canaries and keys — and only its guessable canary pairs
 *                        (libs/testbed facts.ts) can hit, as for any unrelated model (reported apart, never
 *                        pooled into the "ordinary" count)
 * Every kind but foreign_member is an ORDINARY null: same split, same public portion and public facts, same
 * canary templates; what a false accusation would look like in practice.
 * The member's own teacher is never compared with itself.
 *
 * Panels: each comparison gets `panelSize` unrelated reference models from this split's negatives, never
 * the suspect itself. With a ranking (the negatives ordered by closeness to the member's reference,
 * closest first — what a member knows about its own model and the alliance's unrelated models, nothing
 * about the suspect), the panel is the closest ones: the suspect must beat the hardest unrelated models.
 * Without one, a member-specific rotation.
 */
import { createHash } from "node:crypto";

/** The ground truth of one model, as the population states it. */
export interface PlanEntry {
  readonly id: string;
  readonly role: "member_teacher" | "nonmember_teacher" | "positive" | "negative";
  readonly scenario?: string;
  /** The recipe kind (e.g. "negative_public", "negative_genre"), for nulls reported by suspect kind. */
  readonly recipeKind?: string;
  readonly members: readonly { readonly memberId: string; readonly share: number }[];
}

/** A member that can be compared against: home (this split) or foreign (the other split). */
export interface PlanMember {
  /** Unique across splits, e.g. "test/member-1". */
  readonly key: string;
  readonly memberId: string;
  readonly teacherId: string;
  readonly home: boolean;
  /** A member nobody in its split copied (testbed MemberInfo.bystander). */
  readonly bystander?: boolean;
}

export type NullKind =
  | "negative"
  | "nonmember_teacher"
  | "other_member_teacher"
  | "other_member_copy"
  | "bystander_member"
  | "foreign_member";

/** Null kinds that are ordinary (same-split) nulls; see the module comment. */
export const ORDINARY_NULL_KINDS: readonly NullKind[] = [
  "negative",
  "nonmember_teacher",
  "other_member_teacher",
  "other_member_copy",
  "bystander_member",
];

/** One planned comparison. */
export interface Comparison {
  readonly suspectId: string;
  readonly member: PlanMember;
  readonly derived: boolean;
  /** The member's share of the suspect's lineage (0 when not derived). */
  readonly share: number;
  /** The suspect's scenario (positives only). */
  readonly scenario?: string;
  /** The suspect's recipe kind, when the population names it. */
  readonly recipeKind?: string;
  readonly suspectRole: PlanEntry["role"];
  /** Set when derived = false. */
  readonly nullKind?: NullKind;
  /** Ids of the panel models (unrelated references, never the suspect). */
  readonly panel: readonly string[];
}

/** Options of {@link planComparisons}. */
export interface PlanOptions {
  readonly entries: readonly PlanEntry[];
  readonly members: readonly PlanMember[];
  /** Panel models per comparison (bounded by the negatives available minus one). */
  readonly panelSize: number;
  /** Per member key, this split's negatives ordered closest-first to the member's reference. */
  readonly panelRanking?: (memberKey: string) => readonly string[];
}

function nullKindOf(e: PlanEntry, m: PlanMember): NullKind {
  if (!m.home) return "foreign_member";
  if (m.bystander === true) return "bystander_member";
  switch (e.role) {
    case "negative":
      return "negative";
    case "nonmember_teacher":
      return "nonmember_teacher";
    case "member_teacher":
      return "other_member_teacher";
    default:
      return "other_member_copy";
  }
}

/** A stable small hash of a string (FNV-1a), for member-specific panel rotations. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The panel of `member` for `suspectId`: the first `size` of `ranking` (closest-first) when given, else
 * `size` negatives in a member-specific rotation; the suspect is always skipped.
 */
export function panelFor(
  negatives: readonly string[],
  memberKey: string,
  suspectId: string,
  size: number,
  ranking?: readonly string[],
): string[] {
  const pool = negatives.filter((id) => id !== suspectId);
  if (!(Number.isInteger(size) && size >= 1)) throw new RangeError("panelSize must be a positive integer");
  if (pool.length < size) {
    throw new RangeError(`panel of ${size} needs more negatives than the ${pool.length} available`);
  }
  if (ranking) {
    const known = new Set(negatives);
    const ranked = ranking.filter((id) => id !== suspectId && known.has(id));
    if (ranked.length < size)
      throw new RangeError(`ranking for ${memberKey} holds fewer than ${size} negatives`);
    return ranked.slice(0, size);
  }
  const start = fnv1a(memberKey) % pool.length;
  return Array.from({ length: size }, (_, i) => pool[(start + i) % pool.length] as string);
}

/** Every (suspect, member) comparison of a split with its ground truth and panel. */
export function planComparisons(options: PlanOptions): Comparison[] {
  const { entries, members, panelSize } = options;
  const ids = new Set<string>();
  for (const e of entries) {
    if (ids.has(e.id)) throw new RangeError(`duplicate entry id ${e.id}`);
    ids.add(e.id);
  }
  const keys = new Set<string>();
  for (const m of members) {
    if (keys.has(m.key)) throw new RangeError(`duplicate member key ${m.key}`);
    keys.add(m.key);
    if (m.home && !ids.has(m.teacherId))
      throw new RangeError(`member ${m.key}: teacher ${m.teacherId} unknown`);
  }
  const negatives = entries.filter((e) => e.role === "negative").map((e) => e.id);
  const out: Comparison[] = [];
  for (const e of entries) {
    for (const m of members) {
      if (m.teacherId === e.id) continue;
      const share = m.home ? (e.members.find((x) => x.memberId === m.memberId)?.share ?? 0) : 0;
      const derived = share > 0;
      out.push({
        suspectId: e.id,
        member: m,
        derived,
        share,
        ...(e.scenario !== undefined ? { scenario: e.scenario } : {}),
        ...(e.recipeKind !== undefined ? { recipeKind: e.recipeKind } : {}),
        suspectRole: e.role,
        ...(derived ? {} : { nullKind: nullKindOf(e, m) }),
        panel: panelFor(negatives, m.key, e.id, panelSize, options.panelRanking?.(m.key)),
      });
    }
  }
  return out;
}

/** Counts of a plan for the report: positives per scenario and nulls per kind. */
export function summarizePlan(plan: readonly Comparison[]): {
  readonly positives: Readonly<Record<string, number>>;
  readonly nulls: Readonly<Record<string, number>>;
} {
  const positives: Record<string, number> = {};
  const nulls: Record<string, number> = {};
  for (const c of plan) {
    if (c.derived) {
      const k = c.scenario ?? "member_teacher";
      positives[k] = (positives[k] ?? 0) + 1;
    } else {
      const k = c.nullKind ?? "negative";
      nulls[k] = (nulls[k] ?? 0) + 1;
    }
  }
  return { positives, nulls };
}

/**
 * The order in which a member asks its canaries of one suspect: sorted by SHA-256 of (seed, canary id), a
 * uniformly random order fixed before any answer is seen and independent of which canaries are exposed
 * (ids name pairs, not sides) — what the sequential canary test needs (stats-sequential.ts).
 */
export function canaryOrder(ids: readonly string[], seed: string): string[] {
  const key = (id: string) => createHash("sha256").update(seed).update("\u0000").update(id).digest("hex");
  return ids
    .map((id) => ({ id, k: key(id) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.id);
}
