import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FingerprintError } from "../fingerprint-error.js";
import type { CanarySet, ModelResponse } from "../probe/probe-types.js";
import { canaryPairsTest, watermarkTest } from "../verdict/verdict.js";
import { resolvePolicy } from "../verdict/verdict-policy.js";
import { canaryAskOrder, canaryHit, canaryResponseHit, scoreCanaryPairs } from "./signal-canary.js";
import { featureSimilarity, responseFeatures } from "./signal-output-similarity.js";
import { isSelectedPair, WatermarkPairSet, watermarkCountsFromResponses } from "./signal-watermark.js";
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

/** Policy that lets the canary test run on a handful of pairs (the default needs 8). */
const SMALL = resolvePolicy({ min_canary_pairs: 1 });

/**
 * n pairs with fixed items A_i, B_i and a fixed hit pattern; `labels` bit i set = A_i is the exposed item.
 * Hit items are answered with their answer, the others with "no idea".
 */
function pairedWorld(pattern: readonly (readonly [boolean, boolean])[]) {
  const items = pattern.map((_, i) => [
    { id: `a${i}`, prompt: `qa${i}`, answer: `ansa${i}x` },
    { id: `b${i}`, prompt: `qb${i}`, answer: `ansb${i}x` },
  ]);
  const responses = new Map<string, string>();
  pattern.forEach(([ha, hb], i) => {
    const [a, b] = items[i] ?? [];
    if (a) responses.set(a.id, ha ? `It is ${a.answer}.` : "no idea");
    if (b) responses.set(b.id, hb ? `It is ${b.answer}.` : "no idea");
  });
  const set = (labels: number): CanarySet => ({
    memberId: "m",
    pairs: items.map(([a, b], i) => {
      const [x, y] = (labels >> i) & 1 ? [a, b] : [b, a];
      return {
        id: `p${i}`,
        exposed: x ?? { id: "", prompt: "", answer: "" },
        decoy: y ?? { id: "", prompt: "", answer: "" },
      };
    }),
  });
  return { set, responses };
}

test("paired canary counts: completed pairs only, per-arm hits, discordant pairs, completion-order sequence", () => {
  const { set, responses } = pairedWorld([
    [true, false], // E
    [true, true], // both: generic, drops out
    [false, true], // D
    [false, false],
    [true, false], // E, but its decoy is unanswered below
  ]);
  const labelled = set(0b11111); // every A_i exposed
  const answers = new Map(responses);
  answers.delete("b4");
  const fixed = scoreCanaryPairs(labelled, answers);
  assert.deepEqual(fixed.counts, {
    pairs_committed: 5,
    pairs_completed: 4,
    exposed_hits: 2,
    decoy_hits: 2,
    exposed_only: 1,
    decoy_only: 1,
  });
  assert.equal(fixed.detail.items_answered, 9);
  assert.equal(fixed.detail.sequential, false);
  // Sequential: pairs enter when their second item was asked; p2 (D) completes before p0 (E).
  const order = ["a2", "b2", "a0", "a1", "b1", "a3", "b0", "b3", "a4"];
  const seq = scoreCanaryPairs(labelled, answers, { askedOrder: order });
  assert.equal(seq.counts.sequence, "DE");
  assert.equal(seq.detail.sequential, true);
  assert.throws(
    () => scoreCanaryPairs(labelled, answers, { askedOrder: order.slice(1) }),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
  assert.throws(
    () => scoreCanaryPairs(labelled, answers, { askedOrder: [...order, "a2"] }),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
});

test("generic hits on both items of every pair are no evidence at all (the issue's 24 generic hits)", () => {
  const { set, responses } = pairedWorld(Array.from({ length: 48 }, (_, i) => [i < 24, i < 24] as const));
  const counts = scoreCanaryPairs(set(0x5a5a5a), responses).counts;
  assert.equal(counts.exposed_hits, 24);
  assert.equal(counts.exposed_only + counts.decoy_only, 0);
  assert.equal(canaryPairsTest(counts).p, 1);
});

test("paired canary test: 37 of 48 discordant pairs has its true null probability (1.1e-4), not 5.7e-7", () => {
  let tail = 0n;
  let c = 1n; // C(48, k), k from 0
  for (let k = 0; k <= 48; k++) {
    if (k >= 37) tail += c;
    c = (c * BigInt(48 - k)) / BigInt(k + 1);
  }
  const exact = Number(tail) / 2 ** 48;
  const { p } = canaryPairsTest({
    pairs_committed: 96,
    pairs_completed: 96,
    exposed_hits: 37,
    decoy_hits: 11,
    exposed_only: 37,
    decoy_only: 11,
  });
  assert.ok(Math.abs(p / exact - 1) < 1e-9, `${p} vs ${exact}`);
  assert.ok(p > 1e-4 && p < 1.2e-4, `${p}`);
});

/**
 * For one hit pattern, the p-value of every one of the 2^n labellings (through scoreCanaryPairs and
 * canaryPairsTest, as compare() computes it), and each labelling's b.
 */
function enumerateLabels(pattern: readonly (readonly [boolean, boolean])[], askSeed?: number) {
  const w = pairedWorld(pattern);
  const out: { b: number; p: number }[] = [];
  for (let labels = 0; labels < 2 ** pattern.length; labels++) {
    const set = w.set(labels);
    const askedOrder = askSeed === undefined ? undefined : canaryAskOrder(set, askSeed).map((c) => c.id);
    const { counts } = scoreCanaryPairs(set, w.responses, askedOrder ? { askedOrder } : {});
    out.push({ b: counts.exposed_only, p: canaryPairsTest(counts, SMALL).p });
  }
  return out;
}

test("paired canary test: the exact tail equals the distribution of b over all 2^n labellings", () => {
  // 11 pairs: 7 discordant, 2 both hit, 2 neither.
  const pattern = [
    [true, false],
    [false, true],
    [true, true],
    [true, false],
    [false, false],
    [true, false],
    [false, true],
    [true, true],
    [true, false],
    [false, false],
    [false, true],
  ] as const;
  const all = enumerateLabels(pattern);
  assert.equal(all.length, 2048);
  for (const { b, p } of all) {
    const share = all.filter((x) => x.b >= b).length / all.length;
    assert.ok(Math.abs(p - share) < 1e-12, `b=${b}: p ${p} vs enumerated ${share}`);
  }
  // Hence exactly valid: P(p <= x) <= x at every attained x, with equality (no slack) at each.
  for (const x of new Set(all.map((a) => a.p))) {
    const rate = all.filter((a) => a.p <= x).length / all.length;
    assert.ok(Math.abs(rate - x) < 1e-12, `P(p <= ${x}) = ${rate}`);
  }
});

test("property: paired canary p-values (exact and sequential) are super-uniform under random labels", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 9 }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      (pattern, seed) => {
        for (const askSeed of [undefined, seed]) {
          const all = enumerateLabels(pattern, askSeed);
          for (const x of new Set(all.map((a) => a.p))) {
            const rate = all.filter((a) => a.p <= x).length / all.length;
            if (rate > x + 1e-12) return false;
          }
        }
        return true;
      },
    ),
    { numRuns: 40, seed: 20240607 },
  );
});

test("canary asking order depends on the seed and the item ids, never on the labels", () => {
  const { set } = pairedWorld(Array.from({ length: 12 }, () => [false, false] as const));
  const ids = (labels: number, seed: number) => canaryAskOrder(set(labels), seed).map((c) => c.id);
  assert.deepEqual(ids(0, 5), ids(0xfff, 5));
  assert.deepEqual(ids(0b1010, 5), ids(0b0101, 5));
  assert.notDeepEqual(ids(0, 5), ids(0, 6));
  assert.equal(new Set(ids(0, 5)).size, 24);
});

test("paired canaries with log-probabilities: a copier is found; the same rule on both arms keeps the null", () => {
  const r = rng(17);
  const served = (answer: string, ranked: boolean): ModelResponse => ({
    text: "no idea",
    tokens: [{ token: "no", top: [{ token: ranked ? answer : "maybe", logprob: -2 }] }],
  });
  const n = 40;
  const pairs = Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    exposed: { id: `e${i}`, prompt: `qe${i}`, answer: `zeta${i}q` },
    decoy: { id: `d${i}`, prompt: `qd${i}`, answer: `kappa${i}q` },
  }));
  const set = { memberId: "m", pairs };
  // Copier: ranks the exposed answers among its alternatives, decoys at a 20% base rate.
  const copier = new Map<string, ModelResponse>();
  for (const p of pairs) {
    copier.set(p.exposed.id, served(p.exposed.answer, r() < 0.8));
    copier.set(p.decoy.id, served(p.decoy.answer, r() < 0.2));
  }
  const hit = scoreCanaryPairs(set, copier);
  assert.equal(hit.detail.logprob_rule, true);
  assert.ok(canaryPairsTest(hit.counts).p < 1e-5, `${canaryPairsTest(hit.counts).p}`);
  // Null: each item ranked at 30% independently of the labels; random labels each time.
  const ps: number[] = [];
  for (let k = 0; k < 400; k++) {
    const answers = new Map<string, ModelResponse>();
    const flipped = pairs.map((p) => (r() < 0.5 ? p : { ...p, exposed: p.decoy, decoy: p.exposed }));
    for (const p of pairs) {
      answers.set(p.exposed.id, served(p.exposed.answer, r() < 0.3));
      answers.set(p.decoy.id, served(p.decoy.answer, r() < 0.3));
    }
    ps.push(canaryPairsTest(scoreCanaryPairs({ memberId: "m", pairs: flipped }, answers).counts).p);
  }
  assertSuperUniform(ps, "paired canary, log-probability rule");
});

test("feature similarity: identical texts are 1, unrelated texts lower", () => {
  const a = responseFeatures("Sure! Here are three tips:\n1. Sleep well.\n2. Eat greens.\n3. Walk daily.");
  const b = responseFeatures("The mitochondria is the powerhouse of the cell, producing ATP.");
  const same = featureSimilarity(a, a);
  for (const v of same) assert.ok(Math.abs(v - 1) < 1e-9);
  const diff = featureSimilarity(a, b);
  assert.ok((diff[4] ?? 1) < 0.5, `${diff}`);
});

/** Random 32-byte keys from a seeded generator. */
function keys(r: () => number, n: number): Uint8Array[] {
  return Array.from({ length: n }, () => Uint8Array.from({ length: 32 }, () => Math.floor(r() * 256)));
}
const wmP = (c: Parameters<typeof watermarkTest>[0]) => watermarkTest(c).p;

test("watermark v2: selection is a fixed public rule, the same under every key", () => {
  // of the | the cat | cat sat | sat on | on the | the mat | mat . | . of  -> 8 distinct pairs, 5 selected.
  const set = WatermarkPairSet.fromResponses(["Of the cat sat on the mat. Of the cat"]);
  assert.equal(set.size, 8);
  assert.equal(set.selectedSize, 5);
  assert.ok(!isSelectedPair("of", "the") && !isSelectedPair(".", "it's") && isSelectedPair("the", "mat"));
  const r = rng(3);
  for (const k of keys(r, 5)) {
    const c = set.counts(k);
    assert.equal(c.selected_scored, 5);
    assert.equal(c.all_scored, 8);
    assert.ok(c.selected_green <= c.all_green);
    assert.deepEqual(c, watermarkCountsFromResponses(["Of the cat sat on the mat. Of the cat"], k));
  }
  assert.throws(
    () => watermarkCountsFromResponses(["a b"], new Uint8Array(8)),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
  assert.throws(
    () => set.counts(new Uint8Array(32), 1),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
});

test("watermark pair filter: only kept pairs are scored, each once, with the context before the token", () => {
  const items = [{ prompt: "Where did it go", response: { text: "Of the cat sat on the mat. Of the cat" } }];
  const all = WatermarkPairSet.fromResponses(items);
  const everything = WatermarkPairSet.fromResponses(items, { keep: () => true });
  const k = keys(rng(5), 1)[0] as Uint8Array;
  assert.deepEqual(everything.counts(k), all.counts(k));
  // The context of each candidate: the prompt's tokens, then the response's before the token.
  const seen: string[] = [];
  WatermarkPairSet.fromResponses(items, {
    keep: (context, token) => {
      seen.push(`${context.join(" ")} | ${token}`);
      return true;
    },
  });
  assert.equal(seen[0], "where did it go of | the");
  assert.equal(seen[1], "where did it go of the | cat");
  // "the cat" is offered once: the second time it is a repeated pair, never asked again once kept.
  assert.equal(seen.filter((x) => x.endsWith("the | cat")).length, 1);
  // A rule that drops every pair whose token is "the": 8 distinct pairs minus "of the" and "on the".
  const some = WatermarkPairSet.fromResponses(items, { keep: (_c, t) => t !== "the" });
  assert.equal(some.size, 6);
  // A pair refused at its first occurrence is kept at a later one the rule accepts.
  const firstRefused = WatermarkPairSet.fromResponses(items, {
    keep: (c, t) => t !== "cat" || c.length >= 8,
  });
  assert.equal(firstRefused.size, all.size);
  const neverKept = WatermarkPairSet.fromResponses(items, { keep: (c, t) => t !== "cat" || c.length >= 99 });
  assert.equal(neverKept.size, all.size - 1);
});

test("watermark v2: green-biased text is detected; an independent text's p-values over 300 keys are valid", () => {
  const key = new Uint8Array(32).fill(3);
  const vocab = [
    ...Array.from({ length: 400 }, (_, i) => `w${i}`),
    ..."the of and to in is it that for on with as".split(" "),
  ];
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
  const hit = watermarkCountsFromResponses([gen(true, 400)], key);
  assert.ok(wmP(hit) < 1e-20, `${wmP(hit)}`);
  assert.ok(watermarkTest(hit).effect > 0.3);
  // The null is over the key: one fixed independent text, scored under many keys.
  const nullSet = WatermarkPairSet.fromResponses([gen(false, 700)]);
  const ps: number[] = [];
  const selectedOnly: number[] = [];
  for (const k of keys(r, 300)) {
    const c = nullSet.counts(k);
    ps.push(wmP(c));
    selectedOnly.push(binomialUpperTailOf(c.selected_green, c.selected_scored));
  }
  assertSuperUniform(ps, "watermark v2 (IUT)");
  assertSuperUniform(selectedOnly, "watermark v2 (selected pairs)");
  // Repeated pairs count once: a text repeating one pair is not evidence.
  assert.equal(watermarkTest(watermarkCountsFromResponses(["w1 w2 ".repeat(500)], key)).available, false);
});

test("watermark v2 over served alternatives: a green-ranking suspect is found; nulls over random keys stay valid", () => {
  const key = new Uint8Array(32).fill(7);
  const vocab = Array.from({ length: 300 }, (_, i) => `v${i}`);
  const r = rng(33);
  // Greedy, repetitive text (few distinct text pairs) whose top-5 alternatives a student ranks with a
  // green bias: one green alternative is promoted into the list where the null model picks at random.
  const respond = (biased: boolean, prompt: string) => {
    const tokens = [];
    let prev = prompt.split(" ").at(-1) ?? "";
    for (let i = 0; i < 12; i++) {
      const top = Array.from({ length: 5 }, () => vocab[Math.floor(r() * vocab.length)] ?? "");
      if (biased) {
        const seed = greenSeed(key, prev);
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
  const items = (biased: boolean) =>
    Array.from({ length: 60 }, (_, i) => respond(biased, `prompt number p${i}`));
  const hitSet = WatermarkPairSet.fromResponses(items(true));
  assert.ok(hitSet.alternativePairs > 500);
  assert.ok(wmP(hitSet.counts(key)) < 1e-12, `${wmP(hitSet.counts(key))}`);
  // Text alone (no served alternatives) has too few distinct pairs to say anything.
  assert.equal(
    watermarkTest(watermarkCountsFromResponses(["and the and the and the"], key)).available,
    false,
  );
  const nullSet = WatermarkPairSet.fromResponses(items(false));
  assertSuperUniform(
    keys(r, 200).map((k) => wmP(nullSet.counts(k))),
    "watermark v2 alternatives",
  );
});

function binomialUpperTailOf(k: number, n: number): number {
  return watermarkTest({ gamma: 0.25, selected_scored: n, selected_green: k, all_scored: n, all_green: k }).p;
}
