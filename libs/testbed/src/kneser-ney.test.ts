import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadCorpus } from "./corpus.js";
import { EOS, type KneserNeyModel, NgramCounts } from "./kneser-ney.js";
import { decodeModel, encodeModel } from "./model-codec.js";
import { Prng } from "./prng.js";
import { TestbedError } from "./testbed-error.js";
import { TestbedModel } from "./testbed-model.js";

const corpus = loadCorpus();
const train = (order: number, n = 1500): KneserNeyModel => {
  const c = new NgramCounts(order);
  for (const s of corpus.public.slice(0, n)) c.addSequence(corpus.tokens(s));
  return c.compile();
};
const models = new Map([2, 3, 4].map((o) => [o, train(o)]));

function sumOver(m: KneserNeyModel, context: string[]): number {
  const path = m.path(m.contextIds(context));
  let s = 0;
  for (let w = 1; w < m.vocab.length; w++) s += m.probOnPath(path, w);
  return s;
}

describe("interpolated modified Kneser–Ney", () => {
  it("sums to 1 over the vocabulary for seen, partly seen and unseen contexts, orders 2–4", () => {
    for (const [order, m] of models) {
      for (const ctx of [
        [],
        ["of", "the"],
        ["in", "the", "city"],
        ["zzqx", "the"],
        ["the", "zzqx"],
        ["zzqx", "yyqz"],
      ]) {
        const s = sumOver(m, ctx);
        assert.ok(Math.abs(s - 1) < 1e-9, `order ${order} context ${ctx.join(" ")}: sum ${s}`);
      }
    }
  });

  it("prefers seen continuations and uses longer contexts", () => {
    const m = models.get(3) as KneserNeyModel;
    assert.ok(m.prob(["of"], "the", false) > m.prob(["of"], "of", false));
    assert.ok(m.prob(["one", "of"], "the", false) > 0.1);
    assert.equal(m.prob([], "never-seen-token"), 0);
  });

  it("rebuilds identical models from its own counts and from the codec", () => {
    const m = models.get(4) as KneserNeyModel;
    const again = m.toCounts().compile();
    assert.deepEqual(again.arrays, m.arrays);
    const decoded = decodeModel(encodeModel(m, { hello: 1 }));
    assert.deepEqual(decoded.model.arrays, m.arrays);
    assert.deepEqual(decoded.meta, { hello: 1 });
  });

  it("rejects malformed model files with cache_corrupt", () => {
    const bytes = encodeModel(models.get(3) as KneserNeyModel);
    const cases = [bytes.subarray(0, 8), bytes.subarray(0, bytes.length - 4), Uint8Array.from(bytes)];
    (cases[2] as Uint8Array)[0] = 0; // bad magic
    const flipped = Uint8Array.from(bytes);
    flipped[flipped.length - 5] = 0xff; // an entry count becomes negative
    cases.push(flipped);
    for (const c of cases) {
      assert.throws(
        () => decodeModel(c),
        (e: unknown) => e instanceof TestbedError && e.code === "cache_corrupt",
      );
    }
  });

  it("samples exactly from the distribution at temperature 1", () => {
    const m = models.get(3) as KneserNeyModel;
    const path = m.path(m.contextIds(["in", "the"], false));
    const top = m.topLogprobsOnPath(path, 3);
    const rng = new Prng("exact-sampling");
    const n = 40_000;
    const hits = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const w = m.sampleExact(path, rng);
      hits.set(w, (hits.get(w) ?? 0) + 1);
    }
    for (const t of top) {
      const p = Math.exp(t.logprob);
      const sd = Math.sqrt((p * (1 - p)) / n);
      const got = (hits.get(t.id) ?? 0) / n;
      assert.ok(Math.abs(got - p) < 5 * sd, `token ${m.vocab[t.id]}: p=${p} sampled ${got}`);
    }
  });

  it("is deterministic from a seed and varies across seeds", () => {
    const m = new TestbedModel("m", models.get(3) as KneserNeyModel);
    const a = m.generate("the president said", { seed: 7, temperature: 0.8 });
    const b = m.generate("the president said", { seed: 7, temperature: 0.8 });
    assert.deepEqual(a, b);
    const outs = new Set(
      Array.from({ length: 8 }, (_, i) => m.generate("the president said", { seed: i }).text),
    );
    assert.ok(outs.size >= 4);
  });

  it("sharpens with lower temperature and is greedy at 0", () => {
    const m = new TestbedModel("m", models.get(3) as KneserNeyModel);
    const prompt = "one of the";
    const best = m.topLogprobs(prompt, 1)[0]?.token;
    for (let s = 0; s < 5; s++)
      assert.equal(m.generate(prompt, { temperature: 0, seed: s, maxTokens: 1 }).tokens[0], best);
    const share = (t: number) => {
      let k = 0;
      for (let s = 0; s < 600; s++)
        if (m.generate(prompt, { temperature: t, seed: `t${t}-${s}`, maxTokens: 1 }).tokens[0] === best) k++;
      return k / 600;
    };
    // T ≠ 1 samples on the top-k candidate set; T = 1 is exact: its share is P(best).
    const cold = share(0.3);
    const mid = share(0.7);
    const hot = share(1.8);
    assert.ok(cold > mid && mid > hot, `top-token share: T=0.3 ${cold}, T=0.7 ${mid}, T=1.8 ${hot}`);
    const p = Math.exp(m.topLogprobs(prompt, 1)[0]?.logprob ?? 0);
    assert.ok(Math.abs(share(1) - p) < 5 * Math.sqrt((p * (1 - p)) / 600) + 1e-3);
  });

  it("stops at the end-of-sentence token", () => {
    const m = new TestbedModel("m", models.get(3) as KneserNeyModel);
    let stopped = 0;
    for (let s = 0; s < 30; s++)
      if (m.generate("the city", { seed: s, maxTokens: 200 }).finishReason === "stop") stopped++;
    assert.ok(stopped >= 25);
    assert.ok(!m.generate("the", { seed: 1, maxTokens: 200 }).tokens.includes(EOS));
  });

  it("rejects bad arguments with invalid_argument", () => {
    const m = new TestbedModel("m", models.get(3) as KneserNeyModel);
    const isArg = (e: unknown) => e instanceof TestbedError && e.code === "invalid_argument";
    assert.throws(() => new NgramCounts(9), isArg);
    assert.throws(() => m.generate("x", { temperature: 3 }), isArg);
    assert.throws(() => m.generate("x", { maxTokens: 0 }), isArg);
    assert.throws(() => m.generate("x", { topLogprobs: 99 }), isArg);
  });
});
