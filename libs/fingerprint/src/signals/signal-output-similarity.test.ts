import assert from "node:assert/strict";
import test from "node:test";
import {
  featureSimilarity,
  OPENING_CHARS,
  responseFeatures,
  SIMILARITY_FEATURES,
} from "./signal-output-similarity.js";

const F = (name: (typeof SIMILARITY_FEATURES)[number]) => SIMILARITY_FEATURES.indexOf(name);

/** Deterministic PRNG (mulberry32) so the simulated nulls are reproducible. */
function _rng(seed: number): () => number {
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
