import assert from "node:assert/strict";
import test from "node:test";
import { styleAgreement, styleCounts, styleProfile, sumProfiles } from "./style-features.js";

const topics = Array.from({ length: 40 }, (_, i) => `topic${i} matters because of reason${i}`);
const writer = (open: string, close: string, list: boolean) =>
  styleProfile(
    topics.map((t) =>
      styleCounts(`${open} ${t}.${list ? "\n1. First point\n2. Second point" : " It is so."} ${close}`),
    ),
  );

test("a model sharing the reference's habits agrees more than one that does not, relative to the population", () => {
  const reference = writer("Certainly! Here is", "I hope this helps!", true);
  const student = writer("Certainly! Here is", "I hope this helps!", false);
  const other = writer("Well,", "That is all.", false);
  const population = [
    writer("So", "Done.", false),
    writer("In short,", "Bye.", true),
    writer("Okay:", "End.", false),
  ];
  const sum = sumProfiles(population);
  const s = styleAgreement(student, reference, sum, population.length);
  const o = styleAgreement(other, reference, sum, population.length);
  assert.ok(s.value > o.value + 0.2, `${s.value} vs ${o.value}`);
  assert.ok(s.value <= 1 && o.value >= -1);
  assert.ok(s.groups.first > o.groups.first);
});

test("an empty population gives 0, not a division by zero", () => {
  const a = writer("A", "B.", false);
  assert.equal(styleAgreement(a, a, sumProfiles([]), 0).value, 0);
});
