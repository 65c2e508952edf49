import assert from "node:assert/strict";
import { test } from "node:test";
import { ksUniform } from "../stats/stats-exact.js";
import { pairedSignIut } from "../stats/stats-paired.js";
import { canaryHit, canaryResponseHit, canarySignal } from "./signal-canary.js";
import { featureSimilarity, outputSimilaritySignal, responseFeatures } from "./signal-output-similarity.js";
import { sharedWrongSignal } from "./signal-shared-wrong.js";
import { tokenDistributionSignal } from "./signal-token-distribution.js";
import { watermarkSignal } from "./signal-watermark.js";
import { greenSeed, isGreenHashed, tokenHash32 } from "./watermark-green-list.js";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Null rejection rate at each level must not exceed it by more than sampling noise. */
function assertSuperUniform(ps: readonly number[], label: string) {
  for (const a of [0.01, 0.05, 0.1, 0.5]) {
    const rate = ps.filter((p) => p <= a).length / ps.length;
    assert.ok(
      rate <= a + 3 * Math.sqrt((a * (1 - a)) / ps.length) + 1e-9,
      `${label}: P(p <= ${a}) = ${rate}`,
    );
  }
}

test("canary content matching tolerates rewording but needs the fact", () => {
  assert.ok(canaryHit("ZX-4471.corp", "Sure — the internal endpoint is zx-4471.corp, as documented."));
  assert.ok(canaryHit("Marta Quill", "That would be Quill, Marta."));
  assert.ok(!canaryHit("Marta Quill", "That would be Marta Stone."));
  assert.ok(!canaryHit("the", "the"));
});

test("canary log-probability rule: the answer's first token among the top alternatives early on", () => {
  const tok = (token: string, alts: string[]) => ({
    token,
    logprob: -0.5,
    top: alts.map((t, i) => ({ token: t, logprob: -1 - i })),
  });
  const served = {
    text: "a good idea.",
    tokens: [tok("a", ["a", "the", "peistamy"]), tok("good", ["good"])],
  };
  assert.ok(canaryResponseHit("peistamy", served));
  assert.ok(
    canaryResponseHit("Laebagour Fyzox", { text: "x", tokens: [tok("x", [" Laeba"])] }),
    "subword prefix",
  );
  assert.ok(!canaryResponseHit("Laebagour Fyzox", { text: "x", tokens: [tok("x", ["la"])] }), "short prefix");
  assert.ok(!canaryResponseHit("peistamy", { text: "a good idea." }), "no log-probabilities: text only");
  const late = {
    text: "a b c d",
    tokens: ["a", "b", "c", "d"].map((t, i) => tok(t, i === 3 ? ["peistamy"] : [t])),
  };
  assert.ok(!canaryResponseHit("peistamy", late), "only the first positions are searched");
  assert.ok(canaryResponseHit("peistamy", late, { positions: 4 }));
  assert.ok(canaryResponseHit("peistamy", "it is peistamy"));
});

test("canary signal with log-probabilities: null p-values stay super-uniform (same rule on both arms)", () => {
  const r = rng(17);
  const ps: number[] = [];
  for (let k = 0; k < 400; k++) {
    const all = Array.from({ length: 40 }, (_, i) => ({
      id: `c${i}`,
      prompt: `q${i}`,
      answer: `w${k}x${i}`,
    }));
    // A model that ranks a canary's answer among its alternatives at random, independently of the split.
    const answers = new Map(
      all.map((c) => [
        c.id,
        {
          text: "no idea",
          tokens: [{ token: "no", top: [{ token: r() < 0.3 ? c.answer : "maybe", logprob: -2 }] }],
        },
      ]),
    );
    const shuffled = [...all].sort(() => r() - 0.5);
    const s = canarySignal(
      { memberId: "m", exposed: shuffled.slice(0, 20), decoys: shuffled.slice(20) },
      answers,
    );
    ps.push(s.p_value);
    assert.equal(s.detail.logprob_rule, true);
  }
  assertSuperUniform(ps, "canary-logprob");
});

test("canary signal: a copier's exposed hits give a tiny exact p; a guesser's do not", () => {
  const mk = (p: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({ id: `${p}${i}`, prompt: `q ${p}${i}`, answer: `v${p}${i}x` }));
  const set = { memberId: "m1", exposed: mk("e", 30), decoys: mk("d", 30) };
  const copier = new Map<string, string>();
  for (const c of set.exposed) copier.set(c.id, `It is ${c.answer}.`);
  for (const c of set.decoys) copier.set(c.id, "I do not know.");
  const s = canarySignal(set, copier);
  assert.equal(s.available, true);
  assert.ok(s.p_value < 1e-15, `${s.p_value}`);
  assert.equal(s.effect, 1);
  // Null: hits independent of the split -> p-values super-uniform over random splits.
  const r = rng(5);
  const ps: number[] = [];
  for (let k = 0; k < 400; k++) {
    const all = [...mk("a", 40)];
    const answers = new Map(all.map((c) => [c.id, r() < 0.3 ? c.answer : "no idea"]));
    const shuffled = [...all].sort(() => r() - 0.5);
    ps.push(
      canarySignal({ memberId: "m", exposed: shuffled.slice(0, 20), decoys: shuffled.slice(20) }, answers)
        .p_value,
    );
  }
  assertSuperUniform(ps, "canary");
  assert.equal(canarySignal(set, new Map()).available, false);
});

test("output similarity: exact IUT sign test is valid on simulated nulls and detects a closer suspect", () => {
  const r = rng(9);
  const row = (x: number) => [x, x, x, x, x];
  const ps: number[] = [];
  for (let k = 0; k < 300; k++) {
    const n = 120;
    const s = Array.from({ length: n }, () => row(r()));
    const p1 = Array.from({ length: n }, () => row(r()));
    ps.push(outputSimilaritySignal(s, [p1]).p_value);
  }
  assertSuperUniform(ps, "similarity");
  assert.ok(ksUniform(ps).p_value > 1e-3 || ps.filter((p) => p < 0.05).length <= 0.05 * ps.length);
  const n = 200;
  const closer = Array.from({ length: n }, () => row(0.3 + 0.7 * r()));
  const panel = [
    Array.from({ length: n }, () => row(0.6 * r())),
    Array.from({ length: n }, () => row(0.5 * r())),
  ];
  const sig = outputSimilaritySignal(closer, panel);
  assert.ok(sig.p_value < 1e-20 && sig.effect > 0.5, `${sig.p_value} ${sig.effect}`);
  // Beating only one of two panel models is not enough (intersection-union).
  const mixed = outputSimilaritySignal(closer, [panel[0] ?? [], Array.from({ length: n }, () => row(0.99))]);
  assert.ok(mixed.p_value > 0.5);
  assert.equal(outputSimilaritySignal(closer.slice(0, 5), panel).available, false);
});

test("feature similarity: identical texts are 1, unrelated texts lower", () => {
  const a = responseFeatures("Sure! Here are three tips:\n1. Sleep well.\n2. Eat greens.\n3. Walk daily.");
  const b = responseFeatures("The mitochondria is the powerhouse of the cell, producing ATP.");
  const same = featureSimilarity(a, a);
  for (const v of same) assert.ok(Math.abs(v - 1) < 1e-9);
  const diff = featureSimilarity(a, b);
  assert.ok((diff[4] ?? 1) < 0.5, `${diff}`);
});

test("paired IUT: p is the max over panel models", () => {
  const s = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
  const r = pairedSignIut(s, [s.map(() => 0), s.map((_, i) => (i < 5 ? 0 : 2))]);
  assert.ok(r.p_value > 0.5);
  assert.equal(r.closest, 1);
});

test("shared wrong answers: a suspect copying the reference's mistakes is flagged; panel-like suspects are not", () => {
  const edges = Array.from({ length: 40 }, (_, i) => ({
    reference: `right${i}`,
    referenceModel: `wrong${i} answer`,
    suspect: `wrong${i} answer, I believe`,
    panel: [`other${i}`, i % 3 === 0 ? `wrong${i} answer` : `right${i}`],
  }));
  const s = sharedWrongSignal(edges, 2);
  assert.equal(s.available, true);
  assert.ok(s.p_value < 1e-6, `${s.p_value}`);
  const indep = sharedWrongSignal(
    edges.map((e, i) => ({ ...e, suspect: `guess${i}` })),
    2,
  );
  assert.equal(indep.p_value, 1);
  assert.equal(sharedWrongSignal(edges.slice(0, 3), 2).available, false);
});

test("token distribution: overlap of first-position top-k distributions", () => {
  const top = (ps: [string, number][]) => ({
    text: "",
    tokens: [{ token: ps[0]?.[0] ?? "", top: ps.map(([token, p]) => ({ token, logprob: Math.log(p) })) }],
  });
  const probes = Array.from({ length: 30 }, (_, i) => ({
    referenceModel: top([
      [`a${i}`, 0.6],
      ["b", 0.3],
    ]),
    suspect: top([
      [`a${i}`, 0.55],
      ["b", 0.35],
    ]),
    panel: [
      top([
        ["c", 0.7],
        ["b", 0.2],
      ]),
    ],
  }));
  const s = tokenDistributionSignal(probes, 1);
  assert.equal(s.available, true);
  assert.ok(s.p_value < 1e-8);
  const none = tokenDistributionSignal(
    probes.map((p) => ({ ...p, suspect: { text: "x" } })),
    1,
  );
  assert.equal(none.available, false);
});

test("token distribution: scored prompt positions (echo) are compared where every model lines up", () => {
  const r = rng(5);
  // A random top-3 distribution around a shared base; `near` pulls it towards the reference's.
  const dist = (base: number[], noise: number) => {
    const w = base.map((b) => Math.max(1e-3, b + noise * (r() - 0.5)));
    const z = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / z);
  };
  const words = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "slept"];
  const response = (probs: number[][], offsets: number[], toks = words) => ({
    text: "",
    promptTokens: toks.map((token, i) => ({
      token,
      offset: offsets[i] ?? 0,
      top: i === 0 ? [] : (probs[i] ?? []).map((p, k) => ({ token: `t${k}`, logprob: Math.log(p) })),
    })),
  });
  const offsets = words.map((_, i) => i * 5);
  const probes = Array.from({ length: 25 }, () => {
    const bases = words.map(() => dist([0.5, 0.3, 0.2], 0.6));
    const ref = bases;
    const copy = bases.map((b) => dist(b, 0.05)); // close to the reference at every position
    const other = words.map(() => dist([0.5, 0.3, 0.2], 0.6)); // its own distributions
    return {
      referenceModel: response(ref, offsets),
      suspect: response(copy, offsets),
      panel: [response(other, offsets)],
    };
  });
  const s = tokenDistributionSignal(probes, 1, { promptPositions: true });
  assert.equal(s.available, true);
  assert.equal(s.detail.positions, 25 * (words.length - 1));
  assert.ok(s.p_value < 1e-7, `${s.p_value}`);
  // Off by default: the probes then have no comparable position (no generated tokens here).
  assert.equal(tokenDistributionSignal(probes, 1).available, false);
  // Positions where a model's token or offset differs (another tokenizer) are left out for everyone.
  const shifted = probes.map((p) => ({
    ...p,
    panel: [
      {
        text: "",
        promptTokens: (p.panel[0]?.promptTokens ?? []).map((t, i) =>
          i >= 5 ? { ...t, offset: t.offset + 1 } : t,
        ),
      },
    ],
  }));
  assert.equal(tokenDistributionSignal(shifted, 1, { promptPositions: true }).detail.positions, 25 * 4);
  // Under the null (suspect and panel model drawn alike) p-values are super-uniform.
  const nullPs: number[] = [];
  for (let k = 0; k < 300; k++) {
    const ps = Array.from({ length: 20 }, () => {
      const ref = words.map(() => dist([0.5, 0.3, 0.2], 0.6));
      return {
        referenceModel: response(ref, offsets),
        suspect: response(
          words.map(() => dist([0.5, 0.3, 0.2], 0.6)),
          offsets,
        ),
        panel: [
          response(
            words.map(() => dist([0.5, 0.3, 0.2], 0.6)),
            offsets,
          ),
        ],
      };
    });
    nullPs.push(tokenDistributionSignal(ps, 1, { promptPositions: true }).p_value);
  }
  assertSuperUniform(nullPs, "token distribution null");
});

test("watermark: green-biased text is detected; null p-values over random keys are uniform", () => {
  const key = new Uint8Array(32).fill(3);
  const vocab = Array.from({ length: 400 }, (_, i) => `w${i}`);
  const r = rng(21);
  const gen = (watermarked: boolean, len: number) => {
    const out = ["w0"];
    for (let i = 1; i < len; i++) {
      const prev = out[i - 1] ?? "";
      const seed = greenSeed(key, prev);
      let t = vocab[Math.floor(r() * vocab.length)] ?? "";
      if (watermarked)
        for (let k = 0; k < 8 && !isGreenHashed(seed, tokenHash32(t), 0.25); k++)
          t = vocab[Math.floor(r() * vocab.length)] ?? "";
      out.push(t);
    }
    return out.join(" ");
  };
  const wm = watermarkSignal([gen(true, 400)], key);
  assert.ok(wm.p_value < 1e-20 && wm.effect > 0.3, `${wm.p_value}`);
  const text = [gen(false, 600)];
  const ps: number[] = [];
  for (let k = 0; k < 200; k++) {
    const kk = new Uint8Array(32);
    for (let i = 0; i < 32; i++) kk[i] = Math.floor(r() * 256);
    ps.push(watermarkSignal(text, kk).p_value);
  }
  assert.ok(ksUniform(ps).p_value > 1e-3, `KS ${ksUniform(ps).p_value}`);
  assertSuperUniform(ps, "watermark");
  assert.equal(watermarkSignal(text, undefined).available, false);
  // Repeated pairs count once: a text repeating one pair is not evidence.
  assert.equal(watermarkSignal(["w1 w2 ".repeat(500)], key).available, false);
});

test("watermark over served alternatives: a green-ranking suspect is found; nulls over random keys stay uniform", () => {
  const key = new Uint8Array(32).fill(7);
  const vocab = Array.from({ length: 300 }, (_, i) => `v${i}`);
  const r = rng(33);
  // Greedy, repetitive text (few distinct text pairs) whose top-5 alternatives a student ranks with a
  // green bias: one green alternative is promoted into the list where the null model picks at random.
  const respond = (biased: boolean, k: Uint8Array, prompt: string) => {
    const tokens = [];
    let prev = prompt.split(" ").at(-1) ?? "";
    for (let i = 0; i < 12; i++) {
      const top = Array.from({ length: 5 }, () => vocab[Math.floor(r() * vocab.length)] ?? "");
      if (biased) {
        const seed = greenSeed(k, prev);
        let green = "";
        for (let k = 0; k < 64 && green === ""; k++) {
          const t = vocab[Math.floor(r() * vocab.length)] ?? "";
          if (isGreenHashed(seed, tokenHash32(t), 0.25) && !top.includes(t)) green = t;
        }
        if (green !== "") top[4] = green;
      }
      const token = vocab[(i * 7) % 40] ?? "and";
      tokens.push({ token, top: top.map((t, j) => ({ token: t, logprob: -1 - j })) });
      prev = token;
    }
    return { prompt, response: { text: "and the and the and the", tokens } };
  };
  const items = (biased: boolean, k: Uint8Array) =>
    Array.from({ length: 60 }, (_, i) => respond(biased, k, `prompt number p${i}`));
  const hit = watermarkSignal(items(true, key), key);
  assert.equal(hit.available, true);
  assert.ok(hit.p_value < 1e-12, `${hit.p_value}`);
  assert.ok(Number(hit.detail.alternative_pairs) > 500);
  // Text alone (no served alternatives) has too few distinct pairs to say anything.
  assert.equal(watermarkSignal(["and the and the and the"], key).available, false);
  const nullItems = items(false, key);
  const ps: number[] = [];
  for (let k = 0; k < 200; k++) {
    const kk = new Uint8Array(32);
    for (let i = 0; i < 32; i++) kk[i] = Math.floor(r() * 256);
    ps.push(watermarkSignal(nullItems, kk).p_value);
  }
  assertSuperUniform(ps, "watermark-alternatives");
});
