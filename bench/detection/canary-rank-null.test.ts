import assert from "node:assert/strict";
import { test } from "node:test";
import { signedRankUpperTail } from "@lineage/fingerprint";
import {
  memberPooledCheck,
  randomizedSignedRank,
  rankNullCheck,
  signedRankLevel,
  signedRankTails,
  wPlus,
} from "./canary-rank-null.js";

test("the bench's signed-rank law agrees with the engine's and with enumeration", () => {
  for (const n of [0, 1, 4, 9, 30]) {
    const t = signedRankTails(n);
    for (let w = 0; w <= (n * (n + 1)) / 2; w++) {
      const e = signedRankUpperTail(w, n);
      assert.ok(Math.abs((t[w] as number) - e) <= 1e-12 * Math.max(e, 1e-300), `n=${n} w=${w}`);
    }
  }
  // n = 3: W+ takes 0,1,2,3,3,4,5,6 over the 8 sign vectors.
  assert.deepEqual([...signedRankTails(3)].slice(0, 7), [1, 7 / 8, 6 / 8, 5 / 8, 3 / 8, 2 / 8, 1 / 8]);
  assert.equal(wPlus("DEE"), 5);
  assert.throws(() => wPlus("EX"), RangeError);
  assert.throws(() => signedRankTails(-1), RangeError);
  assert.equal(signedRankLevel(3, 0.125), 0.125);
  assert.equal(signedRankLevel(3, 0.1), 0);
});

test("randomized signed-rank p-values are uniform under random signs; the level table matches", () => {
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const items = Array.from({ length: 4000 }, () => {
    const n = 1 + Math.floor(rnd() * 12);
    let signs = "";
    for (let i = 0; i < n; i++) signs += rnd() < 0.5 ? "E" : "D";
    return { signs, u: rnd() };
  });
  const check = rankNullCheck(items);
  assert.equal(check.with_ranked, 4000);
  assert.ok((check.randomized.ks_uniform_p ?? 0) > 0.001, `KS p ${check.randomized.ks_uniform_p}`);
  for (const l of check.levels) {
    const sd = Math.sqrt(Math.max(l.expected, 1));
    assert.ok(Math.abs(l.observed - l.expected) < 4 * sd, `${l.level}: ${l.observed} vs ${l.expected}`);
  }
  // Biased signs (exposed wins 80%) are not uniform: the check can fail.
  const biased = items.map((x) => ({
    signs: x.signs.replace(/D/g, () => (rnd() < 0.6 ? "E" : "D")),
    u: x.u,
  }));
  assert.ok((rankNullCheck(biased).randomized.ks_uniform_p ?? 1) < 1e-6);
  assert.equal(randomizedSignedRank("", 0.3), 0.3);
});

test("member pooling: exact law of sum_j e_j |a_j|, one p-value per member", () => {
  // Two suspects against member A: pair outcomes sum to a = (2, 0, -1): T = 1, magnitudes {2, 1}.
  // S = sum of "+" magnitudes takes 0, 1, 2, 3 each w.p. 1/4; T = 2S - 3 = 1 <=> S = 2: P(T > 1) = 1/4, P(T = 1) = 1/4.
  const r = memberPooledCheck(
    [
      { member: "A", outcomes: [1, 0, -1] },
      { member: "A", outcomes: [1, 1, 0] },
      { member: "A", outcomes: [0, -1, 0] },
      { member: "B", outcomes: [0, 0] },
    ],
    (m) => (m === "A" ? 0.5 : 0.25),
  );
  assert.equal(r.members, 2);
  const a = r.per_member.find((x) => x.member === "A");
  assert.equal(a?.t, 1);
  assert.equal(a?.comparisons, 3);
  assert.equal(a?.p, 0.25 + 0.5 * 0.25);
  // A member with no informative pair: T = 0 surely, p = u.
  assert.equal(r.per_member.find((x) => x.member === "B")?.p, 0.25);
  assert.throws(() => memberPooledCheck([{ member: "A", outcomes: [2] }], () => 0.5), RangeError);
  assert.throws(
    () =>
      memberPooledCheck(
        [
          { member: "A", outcomes: [1] },
          { member: "A", outcomes: [1, 0] },
        ],
        () => 0.5,
      ),
    RangeError,
  );
});
