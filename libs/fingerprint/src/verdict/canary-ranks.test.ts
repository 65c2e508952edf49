/**
 * The paired canary rank test (`canary_ranks`, lineage-policy/3): the exact signed-rank tail, the counts
 * scoreCanaryPairs produces from item scores, the test's exactness over every labelling of a fixed set of
 * scores, and its place in the verdict (policy 3 only; policy 2 unchanged).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import type { CanarySet, ModelResponse } from "../probe/probe-types.js";
import {
  canaryAnswerScore,
  canaryScoringPrompt,
  rankSigns,
  scoreCanaryPairs,
} from "../signals/signal-canary.js";
import { MAX_SIGNED_RANK_PAIRS, signedRankUpperTail } from "../stats/stats-exact.js";
import { type CanaryPairCounts, canaryRanksTest, checkCanaryCounts, deriveVerdict } from "./verdict.js";
import {
  checkBoundPolicy,
  DEFAULT_VERDICT_POLICY,
  isRegisteredPolicy,
  registeredPolicy,
  resolvePolicy,
  VERDICT_POLICIES,
  VERDICT_POLICY_2,
  VERDICT_POLICY_3,
} from "./verdict-policy.js";

const invalid = (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT";

/** P(W+ >= w) by listing all 2^n sign vectors. */
function bruteTail(w: number, n: number): number {
  let k = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let s = 0;
    for (let r = 1; r <= n; r++) if (mask & (1 << (r - 1))) s += r;
    if (s >= w) k++;
  }
  return k / 2 ** n;
}

test("signed-rank tail equals enumeration of every sign vector (n <= 12) and known extremes", () => {
  for (const n of [0, 1, 2, 3, 7, 12]) {
    const max = (n * (n + 1)) / 2;
    for (let w = -1; w <= max + 1; w++) {
      const exp = bruteTail(w, n);
      const got = signedRankUpperTail(w, n);
      assert.ok(Math.abs(got - exp) <= 1e-12 * Math.max(exp, 1e-300), `n=${n} w=${w}: ${got} vs ${exp}`);
    }
  }
  // All 48 signs "exposed": 2^-48; tiny tails keep their value.
  assert.equal(signedRankUpperTail(1176, 48), 2 ** -48);
  assert.equal(signedRankUpperTail(1177, 48), 0);
  assert.throws(() => signedRankUpperTail(1, MAX_SIGNED_RANK_PAIRS + 1), invalid);
  assert.throws(() => signedRankUpperTail(1, -1), invalid);
  assert.throws(() => signedRankUpperTail(Number.NaN, 3), invalid);
});

test("rank signs: ordered by |difference|, ties in commitment order, zero differences drop out", () => {
  assert.equal(rankSigns([0.5, -0.1, 0, 2, -0.5]), "DEDE");
  assert.equal(rankSigns([]), "");
  assert.equal(rankSigns([0, 0]), "");
});

/** A response to a scoring query whose answer tokens carry the given log-probabilities. */
function scored(c: { prompt: string; answer: string }, lps: readonly number[]): ModelResponse {
  const { answerStart } = canaryScoringPrompt(c);
  return {
    text: "",
    promptTokens: [
      { token: "q", top: [], offset: 0 },
      ...lps.map((lp, i) => ({ token: `a${i}`, logprob: lp, top: [], offset: answerStart + i })),
    ],
  };
}

test("an item's score is the mean log-probability of its answer's tokens; unscored when absent", () => {
  const c = { prompt: "Who keeps the ledger?", answer: "Marta Quill" };
  assert.equal(canaryScoringPrompt(c).prompt, "Who keeps the ledger? Marta Quill");
  assert.equal(canaryAnswerScore(c, scored(c, [-1, -3])), -2);
  assert.equal(canaryAnswerScore(c, { text: "x" }), null);
  assert.equal(canaryAnswerScore(c, scored(c, [Number.NEGATIVE_INFINITY])), null);
});

const set: CanarySet = {
  memberId: "m",
  pairs: Array.from({ length: 10 }, (_, i) => ({
    id: `p${i}`,
    exposed: { id: `e${i}`, prompt: `exposed prompt ${i}?`, answer: `alpha${i}` },
    decoy: { id: `d${i}`, prompt: `decoy prompt ${i}?`, answer: `beta${i}` },
  })),
};

test("scoreCanaryPairs with scores: rank counts over scored pairs, answered or not; refuses a sequential order", () => {
  const responses = new Map<string, string>();
  for (const p of set.pairs) {
    responses.set(p.exposed.id, "no idea");
    responses.set(p.decoy.id, "no idea");
  }
  responses.delete("d9"); // pair 9 incomplete, but both items scored: it counts for the rank test
  const scores = new Map<string, number>();
  for (const [i, p] of set.pairs.entries()) {
    scores.set(p.exposed.id, -1 - i * 0.1);
    scores.set(p.decoy.id, i === 3 ? -1 - i * 0.1 : -2 - i * 0.1); // pair 3: a tie
  }
  scores.delete("e8"); // pair 8 completed but unscored
  const { counts } = scoreCanaryPairs(set, responses, { scores });
  assert.equal(counts.pairs_completed, 9);
  assert.equal(counts.scored_pairs, 9);
  assert.equal(counts.rank_signs, "EEEEEEEE");
  // No generation at all (the look after the scoring queries): the same rank counts, nothing completed.
  const scoredOnly = scoreCanaryPairs(set, new Map(), { scores }).counts;
  assert.equal(scoredOnly.pairs_completed, 0);
  assert.equal(scoredOnly.scored_pairs, 9);
  assert.equal(scoredOnly.rank_signs, "EEEEEEEE");
  assert.doesNotThrow(() => checkCanaryCounts(scoredOnly));
  assert.doesNotThrow(() => checkCanaryCounts(counts));
  assert.equal(scoreCanaryPairs(set, responses).counts.rank_signs, undefined);
  assert.throws(() => scoreCanaryPairs(set, responses, { scores, askedOrder: ["e0"] }), invalid);
});

test("exactness: over all 2^n labellings of fixed item scores, P(p <= a) <= a at every level", () => {
  // Scores depend on the item only (the null): for each labelling, relabel and recompute the counts.
  const n = 10;
  const itemScore = (i: number, side: "a" | "b") => Math.sin(7 * i + (side === "a" ? 1 : 2)) * (1 + i);
  const ps: number[] = [];
  for (let mask = 0; mask < 1 << n; mask++) {
    const pairs = Array.from({ length: n }, (_, i) => {
      const a = { id: `a${i}`, prompt: `pa${i}`, answer: `xa${i}` };
      const b = { id: `b${i}`, prompt: `pb${i}`, answer: `xb${i}` };
      return mask & (1 << i) ? { id: `p${i}`, exposed: a, decoy: b } : { id: `p${i}`, exposed: b, decoy: a };
    });
    const responses = new Map<string, string>();
    const scores = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      for (const side of ["a", "b"] as const) {
        responses.set(`${side}${i}`, "-");
        scores.set(`${side}${i}`, itemScore(i, side));
      }
    }
    const { counts } = scoreCanaryPairs({ memberId: "m", pairs }, responses, { scores });
    ps.push(canaryRanksTest(counts, VERDICT_POLICY_3).p);
  }
  for (const a of [1 / 1024, 0.01, 0.05, 0.1, 0.5]) {
    const rate = ps.filter((p) => p <= a).length / ps.length;
    assert.ok(rate <= a + 1e-12, `P(p <= ${a}) = ${rate}`);
  }
  // And the smallest p-value is attained by exactly one labelling (all signs "exposed").
  assert.equal(Math.min(...ps), 2 ** -n);
  assert.equal(ps.filter((p) => p === 2 ** -n).length, 1);
});

const counts = (over: Partial<CanaryPairCounts> = {}): CanaryPairCounts => ({
  pairs_committed: 48,
  pairs_completed: 48,
  exposed_hits: 20,
  decoy_hits: 2,
  exposed_only: 19,
  decoy_only: 1,
  scored_pairs: 48,
  rank_signs: `DD${"E".repeat(44)}`,
  ...over,
});

test("rank test: exact p from the signs, rank-biserial effect; unavailable when unscored or too few pairs", () => {
  const t = canaryRanksTest(counts(), VERDICT_POLICY_3);
  assert.equal(t.available, true);
  const n = 46;
  const w = (n * (n + 1)) / 2 - 3;
  assert.equal(t.p, signedRankUpperTail(w, n));
  assert.ok(Math.abs(t.effect - (2 * w - (n * (n + 1)) / 2) / ((n * (n + 1)) / 2)) < 1e-12);
  const { scored_pairs: _s, rank_signs: _r, ...plain } = counts();
  assert.match(canaryRanksTest(plain, VERDICT_POLICY_3).reason ?? "", /not scored/);
  assert.equal(
    canaryRanksTest(counts({ scored_pairs: 7, rank_signs: "EEEEEEE" }), VERDICT_POLICY_3).available,
    false,
  );
});

test("scored pairs need no generation: a look after the scoring queries alone decides on the rank test", () => {
  // Every item scored, no generation asked yet: 48 scored pairs, 0 completed (at most pairs_committed).
  const scoredOnly = counts({
    pairs_completed: 0,
    exposed_hits: 0,
    decoy_hits: 0,
    exposed_only: 0,
    decoy_only: 0,
    rank_signs: "E".repeat(48),
  });
  checkCanaryCounts(scoredOnly);
  const v = deriveVerdict({ canary: scoredOnly, comparisons: 3 }, VERDICT_POLICY_3);
  assert.equal(v.verdict, "LIKELY_DERIVED");
  assert.equal(v.backed_by, "canary_ranks");
  // The paired test stays in the family (its weight counted) though it has no pair yet.
  const paired = v.tests.find((t) => t.test === "canary_pairs");
  assert.ok(paired !== undefined, "canary_pairs is in the family");
  const ranks = v.tests.find((t) => t.test === "canary_ranks");
  assert.ok(ranks !== undefined && ranks.adjusted_p > ranks.p_value * 3, "Bonferroni over the whole family");
  // Beyond the committed pairs is still refused.
  assert.throws(() => checkCanaryCounts({ ...scoredOnly, scored_pairs: 49 }), invalid);
});

test("inconsistent rank counts are refused", () => {
  for (const bad of [
    counts({ scored_pairs: 49 }),
    counts({ rank_signs: "EEX" }),
    counts({ scored_pairs: 2, rank_signs: "EEE" }),
    { ...counts(), rank_signs: undefined } as unknown as CanaryPairCounts,
    { ...counts(), scored_pairs: undefined } as unknown as CanaryPairCounts,
    counts({ scored_pairs: 1.5 }),
  ]) {
    assert.throws(() => checkCanaryCounts(bad), invalid, JSON.stringify(bad));
    assert.throws(() => deriveVerdict({ canary: bad, comparisons: 1 }, VERDICT_POLICY_3), invalid);
  }
});

test("policy 3 is the default, registered beside policy 2 (whose numbers never change); only policy 3 weighs the rank test", () => {
  assert.equal(DEFAULT_VERDICT_POLICY, VERDICT_POLICY_3);
  assert.deepEqual([...VERDICT_POLICIES.keys()], ["lineage-policy/2", "lineage-policy/3"]);
  assert.equal(VERDICT_POLICIES.get("lineage-policy/2"), VERDICT_POLICY_2);
  assert.equal(VERDICT_POLICIES.get("lineage-policy/3"), VERDICT_POLICY_3);
  // Pinned: sessions and attestations logged under these ids keep meaning these numbers.
  assert.deepEqual(
    { ...VERDICT_POLICY_2, weights: { ...VERDICT_POLICY_2.weights } },
    {
      id: "lineage-policy/2",
      alpha: 1e-6,
      min_effect: 0.1,
      weights: { canary_pairs: 4, canary_watermark: 2, watermark: 1 },
      min_canary_pairs: 8,
      min_watermark_pairs: 50,
      lead_alpha: 0.05,
      min_lead_null: 19,
    },
  );
  assert.deepEqual(
    { ...VERDICT_POLICY_3, weights: { ...VERDICT_POLICY_3.weights } },
    {
      id: "lineage-policy/3",
      alpha: 1e-6,
      min_effect: 0.1,
      weights: { canary_pairs: 1, canary_ranks: 6, canary_watermark: 2, watermark: 1 },
      min_canary_pairs: 8,
      min_watermark_pairs: 50,
      lead_alpha: 0.05,
      min_lead_null: 19,
    },
  );
  const { id: _id, ...knobs } = VERDICT_POLICY_3;
  assert.equal(resolvePolicy(knobs).id, "lineage-policy/3");
  assert.equal(resolvePolicy({}).id, "lineage-policy/3");
  // Knobs over policy 2 that restate policy 2 resolve to it; one moved knob is custom, on policy 2's weights.
  assert.equal(resolvePolicy({ alpha: 1e-6 }, VERDICT_POLICY_2), VERDICT_POLICY_2);
  const custom = resolvePolicy({ alpha: 1e-3 }, VERDICT_POLICY_2);
  assert.equal(custom.id, "custom");
  assert.deepEqual(custom.weights, VERDICT_POLICY_2.weights);
  assert.equal(isRegisteredPolicy(custom), false);
  assert.equal(isRegisteredPolicy(VERDICT_POLICY_2), true);
  assert.equal(isRegisteredPolicy({ ...VERDICT_POLICY_2, alpha: 1e-3 }), false);
  assert.equal(registeredPolicy("lineage-policy/2"), VERDICT_POLICY_2);
  assert.throws(
    () => registeredPolicy("lineage-policy/1"),
    (e: unknown) =>
      invalid(e) && /registered: lineage-policy\/2, lineage-policy\/3/.test((e as Error).message),
  );
  assert.equal(checkBoundPolicy(VERDICT_POLICY_3).ok, true);
  assert.equal(
    checkBoundPolicy({ ...VERDICT_POLICY_3, weights: { ...VERDICT_POLICY_3.weights, canary_ranks: 5 } }).ok,
    false,
  );
  // Policy 2 on the same counts: the family is unchanged (no rank test), McNemar decides or not as before.
  const c = counts({ exposed_hits: 10, decoy_hits: 2, exposed_only: 9, decoy_only: 1 });
  const v2 = deriveVerdict({ canary: c, comparisons: 10 }, VERDICT_POLICY_2);
  assert.deepEqual(
    v2.tests.map((t) => t.test),
    ["canary_pairs"],
  );
  assert.equal(v2.verdict, "INCONCLUSIVE");
  // Policy 3: the rank test joins the family (weights 1 + 6 without a key: factor 7/6 x 10) and decides.
  const v3 = deriveVerdict({ canary: c, comparisons: 10 }, VERDICT_POLICY_3);
  assert.deepEqual(
    v3.tests.map((t) => t.test),
    ["canary_pairs", "canary_ranks"],
  );
  const ranks = v3.tests.find((t) => t.test === "canary_ranks");
  assert.ok(ranks && Math.abs(ranks.factor - (7 / 6) * 10) < 1e-9);
  assert.equal(v3.verdict, "LIKELY_DERIVED");
  assert.equal(v3.backed_by, "canary_ranks");
  // With a watermark key bound, the family grows (1 + 6 + 2 + 1) and the rank test pays 10/6.
  const wm = { gamma: 0.25, selected_scored: 0, selected_green: 0, all_scored: 0, all_green: 0 };
  const v3w = deriveVerdict({ canary: c, watermark: wm, comparisons: 1 }, VERDICT_POLICY_3);
  assert.ok(Math.abs((v3w.tests.find((t) => t.test === "canary_ranks")?.factor ?? 0) - 10 / 6) < 1e-9);
  // Scores below the minimum effect never decide (a balanced sign string: effect 0).
  const flat = counts({
    exposed_hits: 0,
    decoy_hits: 0,
    exposed_only: 0,
    decoy_only: 0,
    rank_signs: "ED".repeat(24),
  });
  assert.equal(deriveVerdict({ canary: flat, comparisons: 1 }, VERDICT_POLICY_3).verdict, "INCONCLUSIVE");
});

test("vectors: p, W+, effect and adjusted p pinned by scripts/vectors/lineage_vectors.py (exact rationals)", () => {
  // python3 scripts/vectors/lineage_vectors.py | grep ranks
  const vectors: [string, string, boolean, number, number, number, number, number][] = [
    [
      "a",
      `DD${"E".repeat(44)}`,
      false,
      10,
      7.105427357601002e-14,
      1078,
      0.9944495837187789,
      8.289665250534503e-13,
    ],
    ["b", "EDEDDEEEEEEE", false, 1, 0.013427734375, 67, 0.717948717948718, 0.015665690104166668],
    ["c", "ED".repeat(24), true, 10, 0.5505371286866634, 576, -0.02040816326530612, 1],
    [
      "d",
      `${"D".repeat(5)}${"E".repeat(30)}D${"E".repeat(12)}`,
      true,
      3,
      1.2673950777752907e-10,
      1125,
      0.9132653061224489,
      6.336975388876454e-10,
    ],
  ];
  const close = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) <= 1e-12 * Math.abs(b), `${what}: ${a} vs ${b}`);
  for (const [name, signs, keyBound, m, p, w, effect, adjusted] of vectors) {
    const c = counts({ scored_pairs: 48, rank_signs: signs });
    const wm = { gamma: 0.25, selected_scored: 0, selected_green: 0, all_scored: 0, all_green: 0 };
    const v = deriveVerdict(
      { canary: c, ...(keyBound ? { watermark: wm } : {}), comparisons: m },
      VERDICT_POLICY_3,
    );
    const t = v.tests.find((x) => x.test === "canary_ranks");
    assert.ok(t?.available, name);
    close(t.p_value, p, `${name}.p`);
    close(t.effect, effect, `${name}.effect`);
    close(t.adjusted_p, adjusted, `${name}.adjusted`);
    let wp = 0;
    for (let i = 0; i < signs.length; i++) if (signs[i] === "E") wp += i + 1;
    assert.equal(wp, w, `${name}.w`);
  }
});
