/**
 * Versioned verdict policies (DESIGN.md "The match protocol", step 2: the policy version is logged with the
 * session before the member queries the suspect). A policy is named by its id; the numbers behind an id
 * never change, so the hub, the member node and the auditor that read the same id apply the same rule, and
 * an attestation whose numbers disagree with its id's definition is refused (`checkBoundPolicy`).
 *
 * Accusing tests are only those whose null comes from randomness nobody could choose after seeing the
 * suspect: the paired canary test (pair labels drawn from the log) and the watermark test (key committed
 * before the suspect was first seen), plus their Fisher combination. Similarity never accuses; it is a lead,
 * ranked against a model-level null (see verdict.ts).
 */
import { FingerprintError } from "../fingerprint-error.js";

/** Tests that may back LIKELY_DERIVED. */
export type AccusingTest = "canary_pairs" | "watermark" | "canary_watermark" | "canary_ranks";

/** Every accusing test, in report order (tests added later are appended, so earlier orders stay). */
export const ACCUSING_TESTS: readonly AccusingTest[] = Object.freeze([
  "canary_pairs",
  "watermark",
  "canary_watermark",
  "canary_ranks",
]);

/** A verdict policy; the registered ones are VERDICT_POLICY_2 and VERDICT_POLICY_3 (the default). */
export interface VerdictPolicy {
  /** Policy id, `lineage-policy/<n>` for the registered ones; at most 64 characters. */
  readonly id: string;
  /** Family-wise level of a LIKELY_DERIVED verdict over the accusing tests and the session's comparisons. */
  readonly alpha: number;
  /** Least effect (a difference of rates in [0, 1]) a deciding test must show. */
  readonly min_effect: number;
  /** Weighted-Bonferroni weights of the accusing tests (a test absent here never decides). */
  readonly weights: Readonly<Partial<Record<AccusingTest, number>>>;
  /** Least completed canary pairs for the canary test to run at all. */
  readonly min_canary_pairs: number;
  /** Least scored (previous token, token) pairs for the watermark test to run at all. */
  readonly min_watermark_pairs: number;
  /** A similarity lead is raised when its model-level rank p-value is at most this. */
  readonly lead_alpha: number;
  /** Least known-unrelated pairs in the reference population for a lead to be ranked at all. */
  readonly min_lead_null: number;
}

/**
 * `lineage-policy/2`, registered and never changed (the default until policy 3 replaced it; sessions and
 * attestations that name it keep meaning these numbers). Chosen on the testbed's calibration split only:
 * alpha 1e-6 (a false accusation is as costly as a missed copy, and the alliance runs many sessions);
 * minimum effect 0.1; canary test weighted 4, canary x watermark 2, watermark 1 (the canary test carries
 * most of the power on distilled students); leads at rank p <= 0.05 against at least 19 unrelated pairs
 * (so a lead needs the suspect closer to the reference than every one of 19 unrelated pairs, at least).
 */
export const VERDICT_POLICY_2: VerdictPolicy = Object.freeze({
  id: "lineage-policy/2",
  alpha: 1e-6,
  min_effect: 0.1,
  weights: Object.freeze({ canary_pairs: 4, canary_watermark: 2, watermark: 1 }),
  min_canary_pairs: 8,
  min_watermark_pairs: 50,
  lead_alpha: 0.05,
  min_lead_null: 19,
});

/**
 * `lineage-policy/3`, the default: policy 2 plus the paired canary rank test (`canary_ranks`, verdict.ts), which
 * uses the same committed pairs and drawn labels but grades each item by the suspect's log-probability of its
 * answer, so pairs hit on both items or on neither still count. Chosen on the testbed's calibration split only
 * (bench/detection: the study of direct and paraphrased students' pairs, never the test split): at policy
 * 2's alpha and minimum effect, with 10 comparisons, the rank test alone detected 10/10 direct and 9/10
 * paraphrased calibration students against 4/10 and 1/10 for McNemar, and no calibration null came near.
 * Weights: canary_ranks 6 (most of the power where the suspect serves prompt log-probabilities), canary_pairs
 * 1 (kept for endpoints that serve no log-probabilities: it then pays a larger correction than under policy
 * 2), canary_watermark 2, watermark 1 (as in policy 2). Everything else equals policy 2.
 * Measured afterwards on the fresh test split (bench:detection, looked at once): direct 18/20 and paraphrased
 * 18/20 students detected with 0 false LIKELY_DERIVED in 1,653 nulls, against 14/20 and 11/20 under policy 2.
 */
export const VERDICT_POLICY_3: VerdictPolicy = Object.freeze({
  id: "lineage-policy/3",
  alpha: 1e-6,
  min_effect: 0.1,
  weights: Object.freeze({ canary_pairs: 1, canary_ranks: 6, canary_watermark: 2, watermark: 1 }),
  min_canary_pairs: 8,
  min_watermark_pairs: 50,
  lead_alpha: 0.05,
  min_lead_null: 19,
});

/**
 * The policy taken wherever none is named: `lineage-policy/3` (the hub's sessions, the member node's
 * comparisons, `lineage compare`, the demo). What each number means: see `VerdictPolicy`.
 */
export const DEFAULT_VERDICT_POLICY: VerdictPolicy = VERDICT_POLICY_3;

/** The registered policies by id: what an id in a logged session or an attestation means. */
export const VERDICT_POLICIES: ReadonlyMap<string, VerdictPolicy> = new Map([
  [VERDICT_POLICY_2.id, VERDICT_POLICY_2],
  [VERDICT_POLICY_3.id, VERDICT_POLICY_3],
]);

/** Id a policy gets when it differs from every registered one (forensic `compare` knobs). */
export const CUSTOM_POLICY_ID = "custom";

/** Validates a policy (untrusted when it comes from a flag, a request or an attestation). */
export function checkVerdictPolicy(policy: VerdictPolicy): VerdictPolicy {
  const bad = (what: string): never => {
    throw new FingerprintError("INVALID_ARGUMENT", `policy ${what}`);
  };
  if (typeof policy.id !== "string" || policy.id.length === 0 || policy.id.length > 64)
    bad("id must be 1..64 chars");
  if (!(policy.alpha > 0 && policy.alpha < 1)) bad("alpha must be in (0, 1)");
  if (!(policy.min_effect >= 0 && policy.min_effect <= 1)) bad("min_effect must be in [0, 1]");
  if (!(policy.lead_alpha > 0 && policy.lead_alpha < 1)) bad("lead_alpha must be in (0, 1)");
  for (const [k, v] of [
    ["min_canary_pairs", policy.min_canary_pairs],
    ["min_watermark_pairs", policy.min_watermark_pairs],
    ["min_lead_null", policy.min_lead_null],
  ] as const) {
    if (!(Number.isInteger(v) && v >= 1 && v <= 1_000_000)) bad(`${k} must be an integer in 1..1000000`);
  }
  if (typeof policy.weights !== "object" || policy.weights === null) bad("weights must be an object");
  let total = 0;
  for (const [name, w] of Object.entries(policy.weights)) {
    if (!(ACCUSING_TESTS as readonly string[]).includes(name)) bad(`weights name an unknown test "${name}"`);
    if (!(typeof w === "number" && Number.isFinite(w) && w > 0 && w <= 1e6))
      bad(`weight of ${name} must be in (0, 1e6]`);
    total += w as number;
  }
  if (total === 0) bad("weights are empty: no test could ever decide");
  return policy;
}

/** Whether two policies say the same thing (ids aside). */
export function samePolicyNumbers(a: VerdictPolicy, b: VerdictPolicy): boolean {
  const wa = Object.entries(a.weights).sort(([x], [y]) => x.localeCompare(y));
  const wb = Object.entries(b.weights).sort(([x], [y]) => x.localeCompare(y));
  return (
    a.alpha === b.alpha &&
    a.min_effect === b.min_effect &&
    a.min_canary_pairs === b.min_canary_pairs &&
    a.min_watermark_pairs === b.min_watermark_pairs &&
    a.lead_alpha === b.lead_alpha &&
    a.min_lead_null === b.min_lead_null &&
    wa.length === wb.length &&
    wa.every(([n, w], i) => wb[i]?.[0] === n && wb[i]?.[1] === w)
  );
}

/**
 * Resolves the policy a verdict is bound to: `base` (a registered policy, default DEFAULT_VERDICT_POLICY) with
 * `overrides` on top; numbers that equal a registered policy give that policy; numbers that match no
 * registered policy are `custom` (forensic use only — `compare` marks it, the hub refuses it in sessions).
 */
export function resolvePolicy(
  overrides: Partial<Omit<VerdictPolicy, "id">> = {},
  base: VerdictPolicy = DEFAULT_VERDICT_POLICY,
): VerdictPolicy {
  const merged = { ...base, ...overrides, id: base.id };
  checkVerdictPolicy(merged);
  for (const p of VERDICT_POLICIES.values()) if (samePolicyNumbers(p, merged)) return p;
  return Object.freeze({ ...merged, id: CUSTOM_POLICY_ID });
}

/** The registered policy of an id; throws INVALID_ARGUMENT naming the registered ids when there is none. */
export function registeredPolicy(id: string): VerdictPolicy {
  const p = typeof id === "string" ? VERDICT_POLICIES.get(id) : undefined;
  if (!p)
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      `policy "${String(id).slice(0, 64)}" is not registered; registered: ${[...VERDICT_POLICIES.keys()].join(", ")}`,
    );
  return p;
}

/** Whether a policy is registered under its id with exactly its numbers (custom knobs are not). */
export function isRegisteredPolicy(policy: VerdictPolicy): boolean {
  const p = VERDICT_POLICIES.get(policy.id);
  return p !== undefined && samePolicyNumbers(p, policy);
}

/**
 * Checks that a policy as stated (in an attestation or a session) is the registered policy of its id, and
 * returns the registered one. `unknown` when the id is not registered; `mismatch` when the numbers differ.
 */
export function checkBoundPolicy(
  stated: VerdictPolicy,
):
  | { readonly ok: true; readonly policy: VerdictPolicy }
  | { readonly ok: false; readonly reason: "unknown" | "mismatch"; readonly message: string } {
  const registered = VERDICT_POLICIES.get(stated.id);
  if (!registered)
    return { ok: false, reason: "unknown", message: `policy "${stated.id}" is not a registered policy` };
  if (!samePolicyNumbers(registered, stated)) {
    return {
      ok: false,
      reason: "mismatch",
      message: `the numbers stated for policy "${stated.id}" are not its registered numbers`,
    };
  }
  return { ok: true, policy: registered };
}
