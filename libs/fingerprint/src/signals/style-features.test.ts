import assert from "node:assert/strict";
import test from "node:test";
import { cosineDelta, styleAgreement, styleCounts, styleProfile, sumProfiles } from "./style-features.js";

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

test("Cosine Delta: a shared preference among rare words counts although a frequent word differs more", () => {
  // 40 features, most frequent first; a population of 6 with small, feature-sized variation.
  const n = 40;
  const base = Array.from({ length: n }, (_, i) => 1 / (i + 1));
  let seed = 7;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31 - 0.5;
  };
  const member = () => Float64Array.from(base, (x) => x * (1 + 0.1 * noise()));
  const pop = Array.from({ length: 6 }, member);
  const sum = new Float64Array(n);
  const sumSq = new Float64Array(n);
  for (const p of pop)
    for (let i = 0; i < n; i++) {
      sum[i] = (sum[i] ?? 0) + (p[i] ?? 0);
      sumSq[i] = (sumSq[i] ?? 0) + (p[i] ?? 0) ** 2;
    }
  const withHabit = (from: number, to: number, big: number) => {
    const v = Float64Array.from(base);
    for (let i = from; i < to; i++) v[i] = (v[i] ?? 0) * 1.5;
    v[0] = (v[0] ?? 0) * big;
    return v;
  };
  const reference = withHabit(30, 36, 1);
  const student = withHabit(30, 36, 1.3); // the reference's rare-word habit, and much more of word 0
  const other = withHabit(20, 26, 1); // a rare-word habit of its own
  const s = cosineDelta(student, reference, sum, sumSq, pop.length, n);
  const o = cosineDelta(other, reference, sum, sumSq, pop.length, n);
  assert.ok(s > 0.5 && s > o + 0.5, `student ${s}, other ${o}`);
  assert.ok(s <= 1 && o >= -1);
  // Only the `features` most frequent (by population mean) are compared: the habit at 30..35 is then unseen.
  assert.ok(cosineDelta(student, reference, sum, sumSq, pop.length, 20) < s);
  assert.equal(cosineDelta(student, reference, sum, sumSq, 1, n), 0);
  assert.throws(() => cosineDelta(student, reference.slice(1), sum, sumSq, pop.length), RangeError);
});
