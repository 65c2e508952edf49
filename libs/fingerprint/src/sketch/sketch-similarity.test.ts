import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FingerprintError } from "../fingerprint-error.js";
import { buildSketch, normalizeAnswer, sketchInputsFromFingerprint } from "./sketch-build.js";
import { createSketchContext } from "./sketch-keys.js";
import { compareSketches, jaccardFromBandAgreement } from "./sketch-similarity.js";
import type { SketchProbeInput } from "./sketch-types.js";

const ctx = createSketchContext(new Uint8Array(32).fill(5), "e1");
const ctx1 = createSketchContext(new Uint8Array(32).fill(5), "e1", 1);
const VOCAB = Array.from({ length: 400 }, (_, i) => `w${i}`);

const arbModel = fc.array(fc.array(fc.constantFrom(...VOCAB), { minLength: 0, maxLength: 60 }), {
  minLength: 8,
  maxLength: 8,
});
const inputsOf = (texts: string[][]): SketchProbeInput[] =>
  texts.map((t, i) => ({
    probeId: `p${i}`,
    kind: i < 2 ? "edge" : i < 4 ? "completion" : "open",
    text: t.join(" "),
    ...(i < 2 ? { reference: "w0" } : {}),
    ...(i >= 2 && i < 4 ? { topLogprobs: t.slice(0, 3).map((w) => [{ token: w, logprob: -0.5 }]) } : {}),
  }));

describe("sketch similarity", () => {
  it("is symmetric, in [0, 1], and 1 for identical fingerprints", () => {
    fc.assert(
      fc.property(arbModel, arbModel, (a, b) => {
        const x = buildSketch(inputsOf(a), ctx);
        const y = buildSketch(inputsOf(b), ctx);
        const xy = compareSketches(x, y);
        const yx = compareSketches(y, x);
        assert.deepEqual(xy, yx);
        for (const v of [
          xy.probeJaccard,
          xy.coarseJaccard,
          xy.score,
          xy.simhashSimilarity ?? 0,
          xy.wrongAnswerOverlap ?? 0,
        ]) {
          assert.ok(v >= 0 && v <= 1, String(v));
        }
        const xx = compareSketches(x, buildSketch(inputsOf(a), ctx));
        assert.equal(xx.score, 1);
        assert.equal(xx.probeJaccard, 1);
        assert.equal(xx.coarseJaccard, 1);
      }),
      { numRuns: 40 },
    );
  });

  it("counts near-copy probes: answers copied whole agree on most bands, unrelated ones on almost none", () => {
    const words = (tag: string) => Array.from({ length: 60 }, (_, i) => `${tag}${i}`).join(" ");
    const a = Array.from({ length: 40 }, (_, i) => ({
      probeId: `n${i}`,
      kind: "open" as const,
      text: words(`a${i}_`),
    }));
    // 10 answers copied verbatim, 30 unrelated.
    const b = a.map((p, i) => (i < 10 ? p : { ...p, text: words(`b${i}_`) }));
    const sim = compareSketches(buildSketch(a, ctx), buildSketch(b, ctx));
    assert.equal(sim.nearCopyProbes, 10);
    assert.equal(sim.nearCopyFraction, 0.25);
    assert.equal(compareSketches(buildSketch(a, ctx), buildSketch(a, ctx)).nearCopyFraction, 1);
  });

  it("tracks the true shingle Jaccard of controlled copies", () => {
    // Each probe: 200 distinct words; the copy keeps a prefix and replaces the rest.
    const base = Array.from({ length: 50 }, (_, p) => Array.from({ length: 200 }, (_, i) => `t${p}_${i}`));
    const copy = (keep: number) => base.map((ws, p) => ws.map((w, i) => (i < keep ? w : `c${p}_${i}`)));
    const mk = (texts: string[][]) =>
      buildSketch(
        texts.map((t, i) => ({ probeId: `q${i}`, kind: "open" as const, text: t.join(" ") })),
        ctx,
      );
    const a = mk(base);
    for (const keep of [40, 100, 160]) {
      // 2-shingles: keep-1 shared out of (199 + 199 - (keep-1)).
      const j = (keep - 1) / (398 - (keep - 1));
      const s = compareSketches(a, mk(copy(keep)));
      assert.ok(Math.abs(s.probeJaccard - j) < 0.05, `keep=${keep} J=${j} est=${s.probeJaccard}`);
      assert.ok(Math.abs(s.coarseJaccard - j) < 0.08, `keep=${keep} J=${j} est=${s.coarseJaccard}`);
    }
  });

  it("counts shared wrong answers on edge probes only, after normalisation (version 1)", () => {
    const m = (ans: string[], c = ctx1) =>
      buildSketch(
        ans.map((a, i) => ({ probeId: `e${i}`, kind: "edge" as const, text: a, reference: "Paris" })),
        c,
      );
    const x = m(["Lyon.", "paris", "Nice"]);
    const y = m(["lyon", "Marseille", "Nice!"]);
    assert.equal(x.wrongAnswers.length, 2); // "paris" is right
    const s = compareSketches(x, y);
    assert.equal(s.sharedWrongAnswers, 2);
    assert.equal(s.wrongAnswerOverlap, 1);
    assert.equal(normalizeAnswer("  The  Answer: 42! "), "the answer 42");
    // Open probes never produce wrong-answer digests.
    assert.equal(
      buildSketch([{ probeId: "o", kind: "open", text: "x", reference: "y" }], ctx1).wrongAnswers.length,
      0,
    );
    // Version 2 publishes none, and lists no edge probe: the overlap is absent, not zero, the score leaves
    // it out, and the only probe compared is the open one.
    const withOpen = (ans: string[]) =>
      buildSketch(
        [
          ...ans.map((a, i) => ({ probeId: `e${i}`, kind: "edge" as const, text: a, reference: "Paris" })),
          { probeId: "o", kind: "open" as const, text: "an open answer" },
        ],
        ctx,
      );
    const v2 = compareSketches(withOpen(["Lyon.", "paris"]), withOpen(["lyon", "Nice"]));
    assert.equal(v2.sharedWrongAnswers, 0);
    assert.equal(v2.wrongAnswerOverlap, null);
    assert.equal(v2.sharedProbes, 1);
    // Version 2 keeps version 1's row values: two models agree on exactly the same bands in both versions.
    const texts = (seed: number) =>
      Array.from({ length: 30 }, (_, i) => ({
        probeId: `q${i}`,
        kind: "open" as const,
        text: Array.from({ length: 40 }, (_, j) => `w${(i * 7 + j * (j % 3 === 0 ? seed : 1)) % 97}`).join(
          " ",
        ),
      }));
    const in1 = compareSketches(buildSketch(texts(1), ctx1), buildSketch(texts(2), ctx1));
    const in2 = compareSketches(buildSketch(texts(1), ctx), buildSketch(texts(2), ctx));
    assert.ok(in1.coarseAgreeingBands > 0 && in1.coarseAgreeingBands < 512);
    assert.ok(in1.probeAgreeingBands > 0 && in1.probeAgreeingBands < in1.probeComparedBands);
    assert.equal(in2.coarseAgreeingBands, in1.coarseAgreeingBands);
    assert.equal(in2.probeAgreeingBands, in1.probeAgreeingBands);
    // Sketches of two versions are keyed differently: comparing them is refused.
    assert.throws(
      () => compareSketches(withOpen(["Lyon"]), m(["Lyon"], ctx1)),
      (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
    );
  });

  it("builds a SimHash only from served top-logprobs", () => {
    const noLp = buildSketch([{ probeId: "c", kind: "completion", text: "a b" }], ctx);
    assert.equal(noLp.simhash, null);
    const lp = (p: number) =>
      buildSketch(
        [
          {
            probeId: "c",
            kind: "completion",
            text: "a b",
            topLogprobs: [
              [
                { token: "a", logprob: Math.log(p) },
                { token: "b", logprob: Math.log(1 - p) },
              ],
            ],
          },
        ],
        ctx,
      );
    assert.notEqual(lp(0.9).simhash, null);
    assert.equal(compareSketches(lp(0.9), lp(0.9)).simhashSimilarity, 1);
    assert.equal(compareSketches(lp(0.9), noLp).simhashSimilarity, null);
  });

  it("refuses sketches of different epochs; band inversion is f^(1/r)", () => {
    const x = buildSketch([{ probeId: "a", kind: "open", text: "x y" }], ctx);
    const y = buildSketch(
      [{ probeId: "a", kind: "open", text: "x y" }],
      createSketchContext(new Uint8Array(32).fill(5), "e2"),
    );
    assert.throws(
      () => compareSketches(x, y),
      (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
    );
    assert.equal(jaccardFromBandAgreement(4, 16, 2), 0.5);
  });

  it("keys everything: another epoch key gives unrelated digests for the same fingerprint", () => {
    const inputs = inputsOf([
      ["w1", "w2", "w3"],
      ["w4"],
      ["w5", "w6"],
      ["w7"],
      ["w8"],
      ["w9"],
      ["w10"],
      ["w11"],
    ]);
    const a = buildSketch(inputs, ctx);
    const b = buildSketch(inputs, createSketchContext(new Uint8Array(32).fill(6), "e1"));
    assert.ok(compareSketches(a, b).probeAgreeingBands < 3);
  });

  it("maps the engine's fingerprint documents to sketch input", () => {
    const inputs = sketchInputsFromFingerprint(
      {
        epoch: "e1",
        probes: [
          { id: "a", kind: "edge", prompt: "q", reference: "r" },
          { id: "b", kind: "completion", prompt: "q2" },
          { id: "z", kind: "open", prompt: "q3" },
        ],
      },
      {
        version: 1,
        epoch: "e1",
        model: "m",
        queries: 2,
        responses: {
          a: { text: "x" },
          b: { text: "y", tokens: [{ token: "y", top: [{ token: "y", logprob: -0.1 }] }] },
        },
      },
    );
    assert.deepEqual(inputs, [
      { probeId: "a", kind: "edge", text: "x", reference: "r" },
      { probeId: "b", kind: "completion", text: "y", topLogprobs: [[{ token: "y", logprob: -0.1 }]] },
    ]);
  });

  it("rejects malformed or oversized input with INVALID_ARGUMENT", () => {
    const bad = (inputs: unknown) =>
      assert.throws(
        () => buildSketch(inputs as SketchProbeInput[], ctx),
        (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
      );
    bad([]);
    bad([{ probeId: "", kind: "open", text: "" }]);
    bad([{ probeId: "a", kind: "weird", text: "" }]);
    bad([{ probeId: "a", kind: "open", text: 5 }]);
    bad([{ probeId: "a", kind: "open", text: "x".repeat(70_000) }]);
    bad([{ probeId: "x".repeat(129), kind: "open", text: "" }]);
    bad([{ probeId: "\uD800", kind: "open", text: "" }]);
    bad([
      { probeId: "a", kind: "open", text: "" },
      { probeId: "a", kind: "open", text: "" },
    ]);
    bad([{ probeId: "a", kind: "open", text: "", topLogprobs: [[{ token: "t", logprob: Number.NaN }]] }]);
    bad([{ probeId: "a", kind: "open", text: "", topLogprobs: [[{ token: "t", logprob: 0.5 }]] }]);
    bad(Array.from({ length: 4097 }, (_, i) => ({ probeId: `p${i}`, kind: "open", text: "" })));
  });
});
