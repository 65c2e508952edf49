import assert from "node:assert/strict";
import { test } from "node:test";
import {
  canaryOrder,
  ORDINARY_NULL_KINDS,
  type PlanEntry,
  type PlanMember,
  panelFor,
  planComparisons,
  summarizePlan,
} from "./plan.js";

const entries: PlanEntry[] = [
  { id: "t1", role: "member_teacher", members: [{ memberId: "m1", share: 1 }] },
  { id: "t2", role: "member_teacher", members: [{ memberId: "m2", share: 1 }] },
  { id: "tn", role: "nonmember_teacher", members: [] },
  { id: "d1", role: "positive", scenario: "direct", members: [{ memberId: "m1", share: 1 }] },
  {
    id: "e1",
    role: "positive",
    scenario: "ensemble_25",
    members: [
      { memberId: "m1", share: 0.75 },
      { memberId: "m2", share: 0.25 },
    ],
  },
  ...["n0", "n1", "n2", "n3"].map((id): PlanEntry => ({ id, role: "negative", members: [] })),
];
const home: PlanMember[] = [
  { key: "s/m1", memberId: "m1", teacherId: "t1", home: true },
  { key: "s/m2", memberId: "m2", teacherId: "t2", home: true },
];
const foreign: PlanMember = { key: "o/m1", memberId: "m1", teacherId: "o-t1", home: false };

test("every suspect meets every member but its own teacher; truth and shares follow the lineage", () => {
  const plan = planComparisons({ entries, members: [...home, foreign], panelSize: 2 });
  // 9 entries x 3 members, minus the two teachers vs themselves.
  assert.equal(plan.length, 9 * 3 - 2);
  const e1m2 = plan.find((c) => c.suspectId === "e1" && c.member.key === "s/m2");
  assert.equal(e1m2?.derived, true);
  assert.equal(e1m2?.share, 0.25);
  // A foreign member with the same local id is never "derived".
  const d1f = plan.find((c) => c.suspectId === "d1" && c.member.key === "o/m1");
  assert.equal(d1f?.derived, false);
  assert.equal(d1f?.nullKind, "foreign_member");
  assert.equal(
    plan.find((c) => c.suspectId === "d1" && c.member.key === "s/m2")?.nullKind,
    "other_member_copy",
  );
  assert.equal(
    plan.find((c) => c.suspectId === "t2" && c.member.key === "s/m1")?.nullKind,
    "other_member_teacher",
  );
  const s = summarizePlan(plan);
  assert.deepEqual(s.positives, { direct: 1, ensemble_25: 2 });
  assert.equal(
    Object.values(s.nulls).reduce((a, b) => a + b, 0),
    plan.length - 3,
  );
});

test("a panel never holds the suspect and rotates per member", () => {
  const plan = planComparisons({ entries, members: home, panelSize: 3 });
  for (const c of plan) {
    assert.equal(c.panel.length, 3);
    assert.ok(!c.panel.includes(c.suspectId));
    assert.equal(new Set(c.panel).size, 3);
  }
  const negs = ["n0", "n1", "n2", "n3"];
  assert.deepEqual(panelFor(negs, "s/m1", "x", 4).sort(), negs);
  assert.throws(() => panelFor(negs, "s/m1", "n0", 4), RangeError);
  assert.throws(() => panelFor(negs, "s/m1", "x", 0), RangeError);
});

test("bad plans are rejected", () => {
  assert.throws(() =>
    planComparisons({ entries: [...entries, entries[0] as PlanEntry], members: home, panelSize: 1 }),
  );
  assert.throws(() =>
    planComparisons({
      entries,
      members: [{ key: "s/m9", memberId: "m9", teacherId: "nope", home: true }],
      panelSize: 1,
    }),
  );
});

test("canary order is a seeded permutation that does not depend on the input order", () => {
  const ids = Array.from({ length: 40 }, (_, i) => `c${i}`);
  const a = canaryOrder(ids, "s1");
  assert.deepEqual([...a].sort(), [...ids].sort());
  assert.deepEqual(canaryOrder([...ids].reverse(), "s1"), a);
  assert.notDeepEqual(canaryOrder(ids, "s2"), a);
});

test("a ranked panel takes the closest negatives other than the suspect", () => {
  const negs = ["n0", "n1", "n2", "n3"];
  const ranking = ["n2", "n0", "n3", "n1"];
  assert.deepEqual(panelFor(negs, "s/m1", "x", 2, ranking), ["n2", "n0"]);
  assert.deepEqual(panelFor(negs, "s/m1", "n2", 2, ranking), ["n0", "n3"]);
  assert.throws(() => panelFor(negs, "s/m1", "x", 2, ["n2", "zz"]), RangeError);
  const plan = planComparisons({ entries, members: home, panelSize: 2, panelRanking: () => ranking });
  assert.deepEqual(plan.find((c) => c.suspectId === "n2")?.panel, ["n0", "n3"]);
});

test("comparisons against a bystander member are bystander nulls; only foreign ones are not ordinary", () => {
  const bystander: PlanMember = { key: "s/m3", memberId: "m3", teacherId: "t3", home: true, bystander: true };
  const withT3: PlanEntry[] = [
    ...entries,
    { id: "t3", role: "member_teacher", members: [{ memberId: "m3", share: 1 }], recipeKind: "teacher" },
  ];
  const plan = planComparisons({ entries: withT3, members: [...home, bystander, foreign], panelSize: 2 });
  const vsBystander = plan.filter((c) => c.member.key === "s/m3");
  assert.equal(vsBystander.length, withT3.length - 1);
  assert.ok(vsBystander.every((c) => !c.derived && c.nullKind === "bystander_member"));
  // The bystander's teacher is an ordinary other-member teacher for the copied members.
  assert.equal(
    plan.find((c) => c.suspectId === "t3" && c.member.key === "s/m1")?.nullKind,
    "other_member_teacher",
  );
  assert.equal(plan.find((c) => c.suspectId === "t3")?.recipeKind, "teacher");
  const kinds = new Set(plan.filter((c) => !c.derived).map((c) => c.nullKind));
  assert.deepEqual(
    [...kinds].filter((k) => k !== undefined && !ORDINARY_NULL_KINDS.includes(k)),
    ["foreign_member"],
  );
});
