import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { answerContentTokens, tokenize } from "@lineage/fingerprint";
import {
  CANARY_TEMPLATES,
  canaryTemplateFor,
  GUESSABLE_CANARY_TEMPLATES,
  GUESSABLE_EVERY,
  generateCanaryPairs,
  PseudoWords,
} from "./facts.js";
import { Prng } from "./prng.js";

const pairsOf = (n: number, seed = "facts-test") =>
  generateCanaryPairs(
    "t",
    n,
    new Prng(`${seed}/values`),
    new PseudoWords(new Prng(`${seed}/words`), new Set()),
  );

/** The text of a prompt before its entity (the last token before "is"). */
const frame = (prompt: string): string => {
  const t = tokenize(prompt);
  return t.slice(0, -2).join(" ");
};

describe("canaryTemplateFor", () => {
  it("makes every fourth pair guessable, cycling the guessable kinds, and keeps the others in order", () => {
    const kinds = Array.from({ length: 16 }, (_, i) => canaryTemplateFor(i).kind);
    assert.deepEqual(kinds, [
      "endpoint",
      "codename",
      "lead",
      "count",
      "staging",
      "budget",
      "port",
      "rating",
      "endpoint",
      "codename",
      "lead",
      "rank",
      "staging",
      "budget",
      "port",
      "count",
    ]);
    assert.equal(GUESSABLE_EVERY, 4);
  });

  it("rejects a negative or fractional pair index", () => {
    assert.throws(() => canaryTemplateFor(-1), RangeError);
    assert.throws(() => canaryTemplateFor(1.5), RangeError);
  });
});

describe("guessable canary templates", () => {
  it("draw answers that are single content words a hit can match", () => {
    for (const t of GUESSABLE_CANARY_TEMPLATES) {
      assert.ok(t.answers && t.answers.length >= 4, `${t.kind} has a closed answer set`);
      for (const a of t.answers) assert.deepEqual(answerContentTokens(a), [a], `${t.kind}: "${a}"`);
      assert.match(t.prompt("zorblat"), / zorblat is$/, "the entity sits right before the answer");
    }
    for (const t of CANARY_TEMPLATES) assert.equal(t.answers, undefined);
  });
});

describe("generateCanaryPairs", () => {
  it("builds both items of a pair with one template, guessable pairs from its closed set", () => {
    const pairs = pairsOf(48);
    let guessable = 0;
    for (const [i, p] of pairs.entries()) {
      const t = canaryTemplateFor(i);
      assert.equal(frame(p.a.prompt), frame(p.b.prompt), `pair ${p.id}: one template`);
      assert.equal(frame(p.a.prompt), frame(t.prompt("x")), `pair ${p.id}: template ${t.kind}`);
      assert.notEqual(p.a.prompt, p.b.prompt, "fresh entity per item");
      if (t.answers) {
        guessable++;
        assert.ok(t.answers.includes(p.a.answer) && t.answers.includes(p.b.answer), `pair ${p.id}`);
      } else {
        assert.ok(!GUESSABLE_CANARY_TEMPLATES.some((g) => g.answers?.includes(p.a.answer)));
      }
    }
    assert.equal(guessable, 12);
  });

  it("draws the two arms' guessable answers from the same law (exchangeable items)", () => {
    // 1200 pairs: 300 guessable, 100 per template; each value is expected ~16.7 times per arm and template.
    const pairs = pairsOf(1200, "law");
    const counts = new Map<string, [number, number]>();
    for (const [i, p] of pairs.entries()) {
      const t = canaryTemplateFor(i);
      if (!t.answers) continue;
      for (const [side, answer] of [
        [0, p.a.answer],
        [1, p.b.answer],
      ] as const) {
        const k = `${t.kind}/${answer}`;
        const c = counts.get(k) ?? [0, 0];
        c[side]++;
        counts.set(k, c);
      }
    }
    assert.equal(counts.size, 18, "every value of every set is drawn");
    for (const [k, [a, b]] of counts) {
      // Binomial(100, 1/6): mean 16.7, sd 3.7; [4, 34] is beyond 3.4 sd on either side.
      assert.ok(a >= 4 && a <= 34 && b >= 4 && b <= 34, `${k}: a=${a}, b=${b}`);
    }
  });
});
