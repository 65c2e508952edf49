import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tokenize } from "@lineage/fingerprint";
import { NgramCounts } from "./kneser-ney.js";
import { SubwordTestbedModel } from "./subword-model.js";
import { BpeTokenizer } from "./subword-tokenizer.js";
import { TestbedModel } from "./testbed-model.js";

const TEXT = [
  "the river runs by the old town and the river is wide .",
  "the town is old and the people of the town are kind .",
  "the codename of the project is vreikorth .",
  "the river and the town are old .",
];
const counts = new Map<string, number>();
for (const s of TEXT) for (const t of tokenize(s)) counts.set(t, (counts.get(t) ?? 0) + 1);

describe("BpeTokenizer", () => {
  it("learns the same merges from the same counts, and pieces rebuild the word", () => {
    const a = BpeTokenizer.train(counts, 40);
    const b = BpeTokenizer.train(new Map([...counts.entries()].reverse()), 40);
    assert.deepEqual(a.merges, b.merges);
    assert.ok(a.merges.length <= 40);
    for (const w of ["river", "vreikorth", "people", "zzqx", ".", "a"]) assert.equal(a.encode(w).join(""), w);
  });

  it("keeps frequent words whole and cuts rare ones", () => {
    const bpe = BpeTokenizer.train(counts, 20);
    assert.deepEqual(bpe.encode("the"), ["the"]);
    assert.deepEqual(bpe.encode("river"), ["river"]);
    assert.ok(bpe.encode("vreikorth").length > 1);
    assert.deepEqual(BpeTokenizer.train(counts, 0).encode("the"), ["t", "h", "e"]);
  });

  it("refuses a bad merge count", () => {
    assert.throws(() => BpeTokenizer.train(counts, -1), RangeError);
    assert.throws(() => BpeTokenizer.train(counts, 1.5), RangeError);
  });
});

describe("SubwordTestbedModel", () => {
  const c = new NgramCounts(3);
  for (const s of TEXT) c.addSequence(tokenize(s), 3);
  const base = new TestbedModel("m", c.compile());
  const bpe = BpeTokenizer.train(counts, 30);
  const sub = new SubwordTestbedModel(base, bpe);

  it("serves the same text as its word model, in pieces that rebuild it", () => {
    for (let seed = 0; seed < 5; seed++) {
      const w = base.generate("the codename of the project is", { seed, maxTokens: 12 });
      const s = sub.generate("the codename of the project is", { seed, maxTokens: 12, topLogprobs: 5 });
      assert.equal(s.text, w.text);
      assert.equal(s.tokens.join(""), s.text);
      assert.equal(s.logprobs?.length, s.tokens.length);
      assert.ok(s.tokens.length >= w.tokens.length);
      assert.equal(sub.id, "m~bpe");
    }
  });

  it("marginalises the word distribution onto pieces", () => {
    const s = sub.generate("the codename of the project is", {
      temperature: 0,
      maxTokens: 1,
      topLogprobs: 20,
    });
    assert.deepEqual(s.tokens.join(""), "vreikorth");
    const pieces = bpe.encode("vreikorth");
    assert.equal(s.tokens.length, pieces.length);
    // The word model's probability of the word is the product of its pieces' conditional probabilities.
    const word = base.logprob("the codename of the project is", "vreikorth");
    const sum = (s.logprobs ?? []).reduce((a, t) => a + t.logprob, 0);
    assert.ok(Math.abs(sum - word) < 1e-9, `${sum} vs ${word}`);
    for (const t of s.logprobs ?? []) {
      assert.ok(t.logprob <= 0);
      const mass = t.topLogprobs.reduce((a, x) => a + Math.exp(x.logprob), 0);
      assert.ok(mass <= 1 + 1e-9);
      assert.ok(t.topLogprobs.some((x) => x.token === t.token));
    }
    // The first piece is not the whole made-up word: the log-probability rule cannot see it there.
    assert.notEqual(s.tokens[0], "vreikorth");
  });

  it("carries the space before a word on its first piece", () => {
    const s = sub.generate("the river", { seed: 3, maxTokens: 8, topLogprobs: 0 });
    const spaced = s.tokens.filter((t) => t.startsWith(" "));
    assert.equal(spaced.length, s.text.split(" ").length - 1);
  });
});
