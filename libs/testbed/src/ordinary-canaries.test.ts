import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateOrdinaryCanaryPairs, ordinaryLexicon } from "./ordinary-canaries.js";
import { Prng } from "./prng.js";

const sentences = [
  ["the", "harbour", "is", "wide", "."],
  ["a", "kettle", "was", "hot", "."],
  ["the", "orchard", "and", "the", "meadow", "."],
];
const counts = new Map<string, number>([
  ["harbour", 5],
  ["kettle", 5],
  ["orchard", 5],
  ["meadow", 50],
  ["pillows", 4],
  ["saddlery", 3],
  ["blankets", 7],
  ["cartwheels", 9],
  ["rare", 1],
  ["golden", 30],
  ["quiet", 30],
  ["lantern", 30],
  ["garden", 30],
]);

describe("ordinaryLexicon", () => {
  const lex = ordinaryLexicon(sentences, counts);

  it("keeps only entities that never precede is/was, in the frequency band", () => {
    // harbour and kettle precede a copula; meadow is too frequent; rare too rare; orchard is an answer word.
    assert.deepEqual(lex.entities, ["blankets", "cartwheels", "pillows", "saddlery"]);
  });

  it("keeps answer words the dictionary has", () => {
    assert.deepEqual(lex.adjectives, ["golden", "quiet"]);
    assert.deepEqual(lex.nouns, ["lantern", "garden", "meadow", "orchard", "kettle"]);
  });
});

describe("generateOrdinaryCanaryPairs", () => {
  const lex = {
    entities: ["ea", "eb", "ec", "ed", "ee", "ef"],
    adjectives: ["golden", "quiet"],
    nouns: ["lantern", "garden"],
  };

  it("is deterministic given the seed, and uses every entity once", () => {
    const a = generateOrdinaryCanaryPairs("m", 3, new Prng("s"), lex);
    const b = generateOrdinaryCanaryPairs("m", 3, new Prng("s"), lex);
    assert.deepEqual(a, b);
    const entities = a.flatMap((p) => [p.a, p.b]).map((c) => c.prompt.split(" ").at(-2));
    assert.equal(new Set(entities).size, 6);
    for (const p of a) {
      assert.ok(p.a.prompt.endsWith(" is") && p.b.prompt.endsWith(" is"));
      assert.match(p.a.answer, /^(golden|quiet) (lantern|garden)$/);
      // Both items of a pair from one template.
      assert.equal(p.a.prompt.replace(/\S+ is$/, ""), p.b.prompt.replace(/\S+ is$/, ""));
    }
    assert.notDeepEqual(generateOrdinaryCanaryPairs("m", 3, new Prng("t"), lex), a);
  });

  it("throws when the lexicon runs out of entities", () => {
    assert.throws(() => generateOrdinaryCanaryPairs("m", 4, new Prng("s"), lex), /entities/);
  });
});
