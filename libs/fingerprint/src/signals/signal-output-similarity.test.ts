import assert from "node:assert/strict";
import test from "node:test";
import {
  featureSimilarity,
  OPENING_CHARS,
  outputSimilaritySignal,
  responseFeatures,
  SIMILARITY_FEATURES,
} from "./signal-output-similarity.js";

const F = (name: (typeof SIMILARITY_FEATURES)[number]) => SIMILARITY_FEATURES.indexOf(name);

/** Deterministic PRNG (mulberry32) so the simulated nulls are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("blend stays at index 4 and is the mean of the six other features", () => {
  assert.equal(SIMILARITY_FEATURES[4], "blend");
  const a = responseFeatures("Sure! Here are three tips:\n1. Sleep well.\n2. Eat greens.\n3. Walk daily.");
  const b = responseFeatures("Three tips: sleep eight hours, eat vegetables, and walk every day.");
  const v = featureSimilarity(a, b);
  assert.equal(v.length, SIMILARITY_FEATURES.length);
  const others = v.filter((_, i) => i !== F("blend"));
  const mean = others.reduce((s, x) => s + x, 0) / others.length;
  assert.ok(Math.abs((v[F("blend")] ?? -1) - mean) < 1e-12);
  for (const x of v) assert.ok(x >= 0 && x <= 1 + 1e-12, `${v}`);
});

test("opening: answers that begin alike score high whatever follows; different beginnings score low", () => {
  const head = "Sure! Here is a short explanation of how photosynthesis works in green plants and algae.";
  assert.ok(head.length < OPENING_CHARS);
  const ref = responseFeatures(`${head} Light energy splits water and fixes carbon dioxide into sugars.`);
  const same = responseFeatures(`${head} It happens in the chloroplasts, mostly in the leaves.`);
  const other = responseFeatures(
    "Photosynthesis: chloroplasts use light to turn water and CO2 into glucose.",
  );
  const o = F("opening");
  // The shared head fills most of the first OPENING_CHARS characters; the rest differs.
  assert.ok((featureSimilarity(same, ref)[o] ?? 0) > 0.7);
  assert.ok((featureSimilarity(other, ref)[o] ?? 1) < 0.35);
  // The whole-answer character cosine sees the shared head diluted by the rest.
  assert.ok((featureSimilarity(same, ref)[o] ?? 0) > (featureSimilarity(same, ref)[F("char")] ?? 1));
  // Only the beginning counts: text past OPENING_CHARS does not change the feature.
  const long = responseFeatures(
    `${head.padEnd(OPENING_CHARS, " x")} totally different tail ${"z ".repeat(500)}`,
  );
  const long2 = responseFeatures(`${head.padEnd(OPENING_CHARS, " x")} another tail entirely`);
  assert.ok(Math.abs((featureSimilarity(long, long2)[o] ?? 0) - 1) < 1e-9);
});

test("contain: a short answer made of the reference's words scores 1 against a long reference", () => {
  const ref = responseFeatures(
    "The capital of France is Paris. Paris is also the largest city in France, known for the Eiffel " +
      "Tower, the Louvre museum, its cafes, and the river Seine that runs through the city centre.",
  );
  const short = responseFeatures("The capital of France is Paris.");
  const unrelated = responseFeatures("Madrid hosts Spain's government.");
  const c = F("contain");
  assert.equal(featureSimilarity(short, ref)[c], 1);
  assert.ok((featureSimilarity(unrelated, ref)[c] ?? 1) < 0.3);
  // Asymmetric by design: the long reference's words are mostly absent from the short answer.
  assert.ok((featureSimilarity(ref, short)[c] ?? 1) < 0.5);
  // The word cosine punishes the length gap that `contain` ignores.
  assert.ok((featureSimilarity(short, ref)[F("word")] ?? 1) < 0.7);
});

test("empty responses: two empties are identical, one empty shares no content", () => {
  const e = responseFeatures("");
  const x = responseFeatures("Hello there, how are you?");
  assert.deepEqual(
    featureSimilarity(e, e),
    SIMILARITY_FEATURES.map(() => 1),
  );
  const v = featureSimilarity(e, x);
  for (const f of ["word", "char", "style", "opening", "contain"] as const) assert.equal(v[F(f)], 0);
});

test("huge responses are bounded (features look at MAX_FEATURE_CHARS at most)", () => {
  const huge = responseFeatures("word ".repeat(200_000));
  assert.ok(huge.types.size === 1 && huge.words.size <= 2);
});

test("null: a suspect exchangeable with the panel gives p-values no smaller than uniform", () => {
  const r = rng(7);
  const n = 120;
  const sims = 400;
  let below05 = 0;
  let below01 = 0;
  for (let s = 0; s < sims; s++) {
    const row = () => {
      const v = SIMILARITY_FEATURES.map(() => r());
      return v;
    };
    const suspect = Array.from({ length: n }, row);
    const panel = [Array.from({ length: n }, row), Array.from({ length: n }, row)];
    const sig = outputSimilaritySignal(suspect, panel);
    assert.equal(sig.available, true);
    if (sig.p_value <= 0.05) below05++;
    if (sig.p_value <= 0.01) below01++;
  }
  // With two panel models the max-over-panel test is conservative; allow binomial noise around the level.
  assert.ok(below05 / sims <= 0.05 + 3 * Math.sqrt((0.05 * 0.95) / sims), `${below05}/${sims}`);
  assert.ok(below01 / sims <= 0.01 + 3 * Math.sqrt((0.01 * 0.99) / sims), `${below01}/${sims}`);
});

test("a brief student that reuses its teacher's opening and words beats long unrelated panel answers", () => {
  const r = rng(11);
  const vocab = Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}`);
  const pick = (k: number) =>
    Array.from({ length: k }, () => vocab[Math.floor(r() * vocab.length)]).join(" ");
  const refs: string[] = [];
  const students: string[] = [];
  const panelA: string[] = [];
  const panelB: string[] = [];
  for (let i = 0; i < 60; i++) {
    const opening = `Answer ${i}: ${pick(8)}.`;
    const body = pick(40);
    refs.push(`${opening} ${body}.`);
    // The student keeps the teacher's opening and a few of its words, and stops early.
    students.push(`${opening} ${body.split(" ").slice(0, 6).join(" ")}.`);
    panelA.push(`Certainly! ${pick(120)}.\n- ${pick(20)}\n- ${pick(20)}`);
    panelB.push(`Here is what I think. ${pick(90)}.`);
  }
  const feats = (xs: string[]) => xs.map((x) => responseFeatures(x));
  const ref = feats(refs);
  const rows = (xs: string[]) => feats(xs).map((f, i) => featureSimilarity(f, ref[i] ?? f));
  const sig = outputSimilaritySignal(rows(students), [rows(panelA), rows(panelB)]);
  assert.ok(sig.p_value < 1e-12 && sig.effect > 0.9, `${sig.p_value} ${sig.effect}`);
  // The reverse comparison (a panel model as suspect, the student in the panel) finds nothing.
  const rev = outputSimilaritySignal(rows(panelA), [rows(students), rows(panelB)]);
  assert.ok(rev.p_value > 0.5, `${rev.p_value}`);
});
