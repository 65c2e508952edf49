import assert from "node:assert/strict";
import test from "node:test";
import {
  cosineDelta,
  STYLE_GROUPS,
  styleAgreement,
  styleCounts,
  stylePopulation,
  styleProfile,
} from "./style-features.js";

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
  const pop = stylePopulation(population);
  const s = styleAgreement(student, reference, pop);
  const o = styleAgreement(other, reference, pop);
  assert.ok(s.value > o.value + 0.2, `${s.value} vs ${o.value}`);
  assert.ok(s.value <= 1 && o.value >= -1);
  assert.ok(s.groups.first > o.groups.first);
});

test("an empty population gives 0, not a division by zero", () => {
  const a = writer("A", "B.", false);
  assert.equal(styleAgreement(a, a, stylePopulation([])).value, 0);
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

test("punct: every non-letter, non-digit, non-space character as written, astral ones whole", () => {
  const bucketsOf = (t: string) => Array.from(styleCounts(t).buckets.punct);
  assert.deepEqual(bucketsOf("Hello world 42"), []);
  // The em dash and curly quotes are kept as written (no folding to '-' or "'"), each its own character.
  const dash = bucketsOf("a \u2014 b");
  const hyphen = bucketsOf("a - b");
  assert.equal(dash.length, 1);
  assert.equal(hyphen.length, 1);
  assert.notDeepEqual(dash, hyphen);
  assert.equal(bucketsOf("Wait\u2026 \u201cyes\u201d; no!").length, 5);
  // An emoji outside the BMP is one character, not two surrogates; letters of other scripts are not marks.
  assert.equal(bucketsOf("ok \u{1F600}").length, 1);
  assert.deepEqual(bucketsOf("\u00e9t\u00e9 \u4e2d\u6587 \u0661\u0662"), []);
  for (const b of bucketsOf("**bold**: [x](y) #1 ~`code`")) assert.ok(b >= 0 && b < STYLE_GROUPS.punct);
  assert.equal(bucketsOf("**bold**: [x](y) #1 ~`code`").length, 13);
});

test("format is compared by Cosine Delta: a rare habit shared with the reference counts as much as a common one", () => {
  // Two habits: paragraphs (common, rates vary widely across the population) and "As an AI" (rare, rates
  // vary little). The student shares the reference's rare habit; the other model its paragraph rate.
  const answers = (n: number, paragraphs: number, asAi: number) =>
    Array.from({ length: n }, (_, i) =>
      styleCounts(
        `${i < asAi ? "As an AI, I think" : "I think"} point ${i}.${i < paragraphs ? "\n\nMore." : ""}`,
      ),
    );
  const reference = styleProfile(answers(40, 36, 4));
  const student = styleProfile(answers(40, 10, 4));
  const other = styleProfile(answers(40, 36, 0));
  const population = [0, 10, 20, 30].map((p) => styleProfile(answers(40, p, p === 20 ? 1 : 0)));
  const pop = stylePopulation(population);
  const s = styleAgreement(student, reference, pop).groups.format;
  const o = styleAgreement(other, reference, pop).groups.format;
  assert.ok(s > o, `student ${s}, other ${o}`);
  // The raw cosine of deviations, which the large paragraph deviations dominate, ranks them the other way.
  const raw = (a: typeof reference) => {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < STYLE_GROUPS.format; i++) {
      const mu = (pop.sum.format[i] ?? 0) / pop.count;
      const da = (a.format[i] ?? 0) - mu;
      const db = (reference.format[i] ?? 0) - mu;
      dot += da * db;
      na += da * da;
      nb += db * db;
    }
    return dot / Math.sqrt(na * nb);
  };
  assert.ok(raw(other) > raw(student), `raw: student ${raw(student)}, other ${raw(other)}`);
  // Fewer than 2 population members: no spread to divide by, so the group says 0.
  assert.equal(styleAgreement(student, reference, stylePopulation(population.slice(0, 1))).groups.format, 0);
});
