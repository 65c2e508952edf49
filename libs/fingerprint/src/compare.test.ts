import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplayAdapter } from "./adapters/adapter-replay.js";
import type { ModelAdapter } from "./adapters/adapter-types.js";
import { compare } from "./compare.js";
import { FingerprintError } from "./fingerprint-error.js";
import type { Battery, CanarySet } from "./probe/probe-types.js";
import { CANARY_TOP_LOGPROBS, canaryAskOrder, canaryScoringPrompt } from "./signals/signal-canary.js";
import { greenSeed, isGreenHashed, tokenHash32 } from "./signals/watermark-green-list.js";
import { fisherCombine } from "./stats/stats-multiple.js";
import { deriveVerdict } from "./verdict/verdict.js";
import { DEFAULT_VERDICT_POLICY, VERDICT_POLICY_2, VERDICT_POLICY_3 } from "./verdict/verdict-policy.js";

const WORDS =
  "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split(
    " ",
  );
function text(seed: number, len = 30): string {
  let s = seed >>> 0;
  const out: string[] = [];
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(WORDS[s % WORDS.length] ?? "x");
  }
  return out.join(" ");
}

const battery: Battery = {
  epoch: "t",
  probes: Array.from({ length: 200 }, (_, i) => ({
    id: `p${i}`,
    kind: "open" as const,
    prompt: `prompt ${i}`,
  })),
};
const canaries: CanarySet = {
  memberId: "m1",
  pairs: Array.from({ length: 40 }, (_, i) => ({
    id: `pair${i}`,
    exposed: { id: `e${i}`, prompt: `secret e${i}?`, answer: `code-e${i}-zz` },
    decoy: { id: `d${i}`, prompt: `secret d${i}?`, answer: `code-d${i}-zz` },
  })),
};
const items = canaries.pairs.flatMap((p) => [p.exposed, p.decoy]);
/** compare()'s canary order for a seed (it asks in canaryAskOrder(set, seed ^ 0x5bd1e995)). */
const CANARY_SEED_MIX = 0x5bd1e995;

function replay(
  out: (i: number) => string,
  canary?: (id: string, answer: string) => string,
  label = "replay",
): ReplayAdapter {
  const lines = battery.probes.map((p, i) => ({ id: p.id, prompt: p.prompt, output: out(i) }));
  if (canary) {
    for (const c of items) lines.push({ id: `c-${c.id}`, prompt: c.prompt, output: canary(c.id, c.answer) });
  }
  return new ReplayAdapter(
    lines.map((l) => ({ id: l.id, prompt: l.prompt, response: { text: l.output } })),
    label,
  );
}
const invalidArg = (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT";

test("sequential canary test: LIKELY_DERIVED on completed pairs only, stopping early with fewer items asked", async () => {
  const reference = replay((i) => text(i), undefined, "ref.jsonl");
  const panel = [replay((i) => text(1000 + i)), replay((i) => text(2000 + i))];
  // Outputs unrelated to the reference, but the exposed facts leaked (and 1 in 4 decoys guessed).
  const suspect = replay(
    (i) => text(3000 + i),
    (id, answer) => (id.startsWith("e") || Number(id.slice(1)) % 4 === 0 ? `It is ${answer}.` : "No idea."),
    "suspect.jsonl",
  );
  const r = await compare({
    suspect,
    reference,
    panel,
    battery,
    canaries,
    sequential: { batchSize: 15 },
    canaryTest: "sequential",
    seed: 3,
  });
  assert.equal(r.verdict, "LIKELY_DERIVED");
  assert.equal(r.decision, r.verdict);
  assert.equal(r.backed_by, "canary_pairs");
  assert.equal(r.stopped_early, true);
  assert.ok(r.queries.canaries < 80, `canary items spent ${r.queries.canaries}`);
  // Only pairs whose two items were both asked count, in the order they completed.
  const asked = new Set(
    canaryAskOrder(canaries, 3 ^ CANARY_SEED_MIX)
      .slice(0, r.queries.canaries)
      .map((c) => c.id),
  );
  const completed = canaries.pairs.filter((p) => asked.has(p.exposed.id) && asked.has(p.decoy.id));
  const touched = canaries.pairs.filter((p) => asked.has(p.exposed.id) || asked.has(p.decoy.id));
  assert.ok(touched.length > completed.length, "the stop left a half-asked pair (the case under test)");
  const c = r.evidence.canary;
  assert.ok(c);
  assert.equal(c.pairs_completed, completed.length);
  assert.equal(c.pairs_committed, 40);
  const decoyGuessed = completed.filter((p) => Number(p.id.slice(4)) % 4 === 0).length;
  assert.equal(c.exposed_only, completed.length - decoyGuessed);
  assert.equal(c.decoy_only, 0);
  assert.equal(c.sequence, "E".repeat(c.exposed_only));
  // The verdict is re-derived from the evidence alone (what the hub and the auditor do).
  assert.equal(deriveVerdict(r.evidence, r.policy).verdict, "LIKELY_DERIVED");
  assert.equal(r.p_value, deriveVerdict(r.evidence, r.policy).p_value);
  assert.deepEqual(r.bound, {
    seed: 3,
    suspect: "suspect.jsonl",
    reference: "ref.jsonl",
    panel: ["replay", "replay"],
  });
});

test("fixed canary test: every item asked before the battery, the exact McNemar tail, settled before any battery probe", async () => {
  const reference = replay((i) => text(i));
  const panel = [replay((i) => text(1000 + i)), replay((i) => text(2000 + i))];
  // 25 of 40 exposed stated, no decoy: b = 25, c = 0, P(Bin(25, 1/2) >= 25) = 2^-25.
  const suspect = replay(
    (i) => text(3000 + i),
    (id, answer) => (id.startsWith("e") && Number(id.slice(1)) < 25 ? `It is ${answer}.` : "No idea."),
  );
  // Policy 2 by id: McNemar alone in the family, so its arithmetic is read off directly.
  const r = await compare({
    suspect,
    reference,
    panel,
    battery,
    canaries,
    sequential: { batchSize: 20 },
    policyId: VERDICT_POLICY_2.id,
  });
  assert.equal(r.policy, VERDICT_POLICY_2);
  assert.equal(r.policy_registered, true);
  assert.equal(r.policy_is_default, false);
  const canary = r.signals.find((s) => s.name === "canary_pairs");
  assert.equal(canary?.role, "accusing");
  assert.equal(canary?.detail.sequential, false);
  assert.equal(canary?.detail.exposed_only, 25);
  assert.ok(Math.abs((canary?.p_value ?? 0) / 2 ** -25 - 1) < 1e-9, `${canary?.p_value}`);
  // Family: canary_pairs alone (no key), one comparison: adjusted = raw.
  assert.equal(r.tests.length, 1);
  assert.equal(canary?.adjusted_p, canary?.p_value);
  assert.equal(r.evidence.canary?.sequence, undefined);
  assert.equal(r.queries.canaries, 80);
  assert.equal(r.verdict, "LIKELY_DERIVED");
  assert.equal(r.stopped_early, true);
  // Decided by the canaries alone: the battery was never sent, to the suspect or anyone.
  assert.equal(r.probes_used, 0);
  assert.equal(r.queries.suspect, 0);
  assert.equal(r.queries.reference, 0);
  assert.equal(r.queries.panel, 0);
  // Three comparisons in the session triple the correction.
  const r3 = await compare({
    suspect,
    reference,
    panel,
    battery,
    canaries,
    sequential: false,
    comparisons: 3,
    policyId: VERDICT_POLICY_2.id,
  });
  assert.ok(Math.abs(r3.p_value / (3 * 2 ** -25) - 1) < 1e-9);
  await assert.rejects(
    compare({ suspect, reference, panel, battery, canaries, canaryTopLogprobs: 21 }),
    invalidArg,
  );
});

test("overwhelming similarity with no canaries or watermark is never LIKELY_DERIVED: a lead at most", async () => {
  const reference = replay((i) => text(i));
  // Five unrelated panel models: 25 unrelated ordered pairs, enough for a lead under the default policy.
  const panel = [1, 2, 3, 4, 5].map((k) => replay((i) => text(1000 * k + i)));
  const copy = await compare({
    suspect: replay((i) => text(i)),
    reference,
    panel,
    battery,
    sequential: false,
  });
  assert.equal(copy.verdict, "SIMILAR");
  assert.equal(copy.backed_by, "similarity_lead");
  assert.equal(copy.p_value, 1);
  assert.equal(copy.tests.length, 0);
  assert.ok(copy.lead_score !== null && copy.lead_rank?.is_lead === true);
  assert.ok((copy.lead_rank?.p_value ?? 0) >= 1 / 26, "a similarity p-value never goes below 1/(N+1)");
  // Accusing signals did not run: unavailable, p_value null (not 1), with a reason; similarity is a lead.
  for (const name of ["canary_pairs", "watermark", "canary_watermark"]) {
    const s = copy.signals.find((x) => x.name === name);
    assert.equal(s?.available, false, name);
    assert.equal(s?.p_value, null, name);
    assert.equal(s?.role, "accusing");
    assert.ok(s?.reason && s.reason.length > 0);
  }
  const leads = copy.signals.filter((s) => s.role === "lead");
  assert.ok(leads.length >= 1);
  for (const s of leads) if (!s.available) assert.equal(s.p_value, null);
  // Under any policy knob: similarity has no weight to give.
  const loose = await compare({
    suspect: replay((i) => text(i)),
    reference,
    panel,
    battery,
    sequential: false,
    policy: { alpha: 0.5, min_effect: 0 },
  });
  assert.notEqual(loose.verdict, "LIKELY_DERIVED");
  // An unrelated suspect over the whole budget: INCONCLUSIVE, with its lead score still reported.
  const unrelated = await compare({ suspect: replay((i) => text(9000 + i)), reference, panel, battery });
  assert.equal(unrelated.verdict, "INCONCLUSIVE");
  assert.equal(unrelated.probes_used, 200);
  assert.equal(unrelated.stopped_early, false);
  assert.equal(typeof unrelated.lead_score, "number");
});

test("a custom policy is marked; the default is named; bad knobs are refused", async () => {
  const reference = replay((i) => text(i));
  const panel = [replay((i) => text(1000 + i)), replay((i) => text(2000 + i))];
  const suspect = replay((i) => text(3000 + i));
  const d = await compare({ suspect, reference, panel, battery, sequential: false });
  assert.equal(d.policy.id, DEFAULT_VERDICT_POLICY.id);
  assert.equal(d.policy_is_default, true);
  const same = await compare({
    suspect,
    reference,
    panel,
    battery,
    sequential: false,
    policy: { alpha: 1e-6 },
  });
  assert.equal(same.policy_is_default, true);
  const custom = await compare({
    suspect,
    reference,
    panel,
    battery,
    sequential: false,
    policy: { alpha: 1e-3 },
  });
  assert.equal(custom.policy.id, "custom");
  assert.equal(custom.policy_is_default, false);
  assert.match(custom.explanation, /custom/);
  await assert.rejects(compare({ suspect, reference, panel, battery, policy: { alpha: 0 } }), invalidArg);
  await assert.rejects(compare({ suspect, reference, panel, battery, comparisons: 0 }), invalidArg);
});

test("a panel that includes the suspect or the reference, a repeated panel model or an empty battery is refused before any query", async () => {
  let queries = 0;
  const counting = (a: ModelAdapter): ModelAdapter => ({
    describe: () => a.describe(),
    generate: (req) => {
      queries++;
      return a.generate(req);
    },
  });
  const suspect = counting(replay((i) => text(3000 + i), undefined, "suspect.jsonl"));
  const reference = counting(replay((i) => text(i), undefined, "ref.jsonl"));
  const other = counting(replay((i) => text(1000 + i), undefined, "other.jsonl"));
  const refused = async (panel: ModelAdapter[], b: Battery, what: RegExp) => {
    await assert.rejects(compare({ suspect, reference, panel, battery: b }), (e: unknown) => {
      assert.ok(invalidArg(e));
      assert.match((e as Error).message, what);
      return true;
    });
  };
  await refused([other, suspect], battery, /panel\[1\] is the suspect adapter "suspect\.jsonl"/);
  await refused([reference, other], battery, /panel\[0\] is the reference adapter "ref\.jsonl"/);
  await refused([other, other], battery, /panel\[1\] repeats panel\[0\]/);
  await refused([other], { epoch: "t", probes: [] }, /battery has no probes/);
  for (const sequential of [{ batchSize: Number.NaN }, { batchSize: 0 }, { maxProbes: Number.NaN }]) {
    await assert.rejects(
      compare({ suspect, reference, panel: [other], battery, sequential }),
      (e: unknown) => invalidArg(e) && /sequential\.(batchSize|maxProbes)/.test((e as Error).message),
    );
  }
  await assert.rejects(
    compare({ suspect, reference, panel: [other], battery, canaries: { memberId: "m", pairs: [] } }),
    invalidArg,
  );
  const dup = canaries.pairs[0];
  assert.ok(dup);
  await assert.rejects(
    compare({
      suspect,
      reference,
      panel: [other],
      battery,
      canaries: { memberId: "m", pairs: [dup, { ...dup, id: "other" }] },
    }),
    (e: unknown) => invalidArg(e) && /repeats item id "e0"/.test((e as Error).message),
  );
  assert.equal(queries, 0);
});

/**
 * A suspect that scores prompts (echo): each canary item's answer at log-probability `score(item id)`; every
 * other request goes to `inner`. `kinds` records what was asked, in order: score, canary or probe.
 */
function scoringSuspect(inner: ModelAdapter, score: (id: string) => number, kinds: string[]): ModelAdapter {
  const byScoringPrompt = new Map(items.map((c) => [canaryScoringPrompt(c).prompt, c]));
  return {
    describe: () => inner.describe(),
    generate: async (req) => {
      const c = req.echo === true ? byScoringPrompt.get(req.prompt) : undefined;
      if (c !== undefined) {
        kinds.push("score");
        const offset = canaryScoringPrompt(c).answerStart;
        return { text: "", promptTokens: [{ token: c.answer, offset, logprob: score(c.id), top: [] }] };
      }
      kinds.push(req.id === undefined ? "canary" : "probe");
      return inner.generate(req);
    },
  };
}

/** A reference, a panel of two and an unrelated suspect that states no canary answer (replays). */
function unrelatedModels() {
  return {
    reference: replay((i) => text(i)),
    panel: [replay((i) => text(1000 + i)), replay((i) => text(2000 + i))],
    inner: replay(
      (i) => text(3000 + i),
      () => "No idea.",
    ),
  };
}

test("policy 3, fixed canary tests: every item scored first; a rank test that decides there stops before any generation or battery probe", async () => {
  const { reference, panel, inner } = unrelatedModels();
  // The suspect learned the exposed answers: each scores higher than its pair's decoy (40 of 40 pairs).
  const kinds: string[] = [];
  const learned = scoringSuspect(
    inner,
    (id) => (id.startsWith("e") ? -1 - Number(id.slice(1)) / 100 : -3),
    kinds,
  );
  const r = await compare({ suspect: learned, reference, panel, battery, canaries, comparisons: 3 });
  assert.equal(r.verdict, "LIKELY_DERIVED");
  assert.equal(r.backed_by, "canary_ranks");
  assert.equal(r.stopped_early, true);
  assert.deepEqual(kinds, Array(80).fill("score"), "80 scoring queries and nothing else");
  assert.equal(r.queries.canaries, 80);
  assert.equal(r.queries.total, 80, "no battery probe to anyone");
  assert.equal(r.evidence.canary?.pairs_completed, 0);
  assert.equal(r.evidence.canary?.scored_pairs, 40);
  assert.deepEqual(deriveVerdict(r.evidence, VERDICT_POLICY_3).tests, r.tests, "the auditor re-derives it");
  // A suspect whose scores do not depend on the label: the look after the scores does not decide, the
  // generations follow (each item scored before it is asked), then the battery.
  kinds.length = 0;
  const unrelated = scoringSuspect(inner, (id) => -2 - (Number(id.slice(1)) % 7) / 10, kinds);
  const u = await compare({ suspect: unrelated, reference, panel, battery, canaries, comparisons: 3 });
  assert.notEqual(u.verdict, "LIKELY_DERIVED");
  assert.deepEqual(kinds.slice(0, 80), Array(80).fill("score"));
  assert.deepEqual(kinds.slice(80, 160), Array(80).fill("canary"));
  assert.ok(kinds.slice(160).length > 0 && kinds.slice(160).every((k) => k === "probe"));
  assert.equal(u.evidence.canary?.pairs_completed, 40);
  assert.equal(u.evidence.canary?.scored_pairs, 40);
});

test("an endpoint that answers a scoring query without prompt log-probabilities is asked no more of them", async () => {
  const { reference, panel, inner } = unrelatedModels();
  const kinds: string[] = [];
  const noEcho: ModelAdapter = {
    describe: () => inner.describe(),
    generate: async (req) => {
      if (req.echo === true) {
        kinds.push("score");
        return { text: "x" }; // a completion, but no scored prompt tokens
      }
      kinds.push(req.id === undefined ? "canary" : "probe");
      return inner.generate(req);
    },
  };
  const r = await compare({ suspect: noEcho, reference, panel, battery, canaries });
  assert.equal(kinds.filter((k) => k === "score").length, 1, "one scoring query, then none");
  assert.equal(kinds.filter((k) => k === "canary").length, 80);
  assert.equal(r.queries.canaries, 81);
  const ranks = r.tests.find((t) => t.test === "canary_ranks");
  assert.equal(ranks?.available, false, "the rank test stays in the family, unavailable");
});

test("canaries are asked with the top CANARY_TOP_LOGPROBS alternatives by default; 0 asks for text only", async () => {
  const asked: (number | undefined)[] = [];
  let scoring = 0;
  const spy = (inner: ModelAdapter): ModelAdapter => ({
    describe: () => inner.describe(),
    generate: (req) => {
      if (req.id === undefined && req.echo === true) scoring++;
      else if (req.id === undefined) asked.push(req.topLogprobs);
      return inner.generate(req);
    },
  });
  const suspect = spy(
    replay(
      (i) => `s ${i}`,
      () => "no idea",
    ),
  );
  const reference = replay((i) => `r ${i}`);
  const panel = [replay((i) => `p ${i}`)];
  await compare({ suspect, reference, panel, battery, canaries, sequential: false });
  assert.equal(asked.length, 80);
  assert.ok(asked.every((k) => k === CANARY_TOP_LOGPROBS));
  // The default policy weighs the rank test, so each item is also asked as its scoring query (echo).
  assert.equal(scoring, 80);
  asked.length = 0;
  scoring = 0;
  await compare({ suspect, reference, panel, battery, canaries, sequential: false, canaryTopLogprobs: 0 });
  assert.ok(asked.every((k) => k === undefined));
});

test("watermarking member: canary and watermark combine (Fisher); the panel cannot move the watermark counts", async () => {
  const key = new Uint8Array(32).fill(9);
  const vocab = Array.from({ length: 500 }, (_, i) => `t${i}`);
  let st = 7;
  const rnd = () => {
    st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
    return st / 2 ** 32;
  };
  // Mildly green-biased text: one retry towards green per token (green share ~0.44 vs gamma 0.25).
  const biased = (len: number) => {
    const out = ["t0"];
    for (let i = 1; i < len; i++) {
      const seed = greenSeed(key, out[i - 1] ?? "");
      let t = vocab[Math.floor(rnd() * vocab.length)] ?? "";
      if (!isGreenHashed(seed, tokenHash32(t), 0.25)) t = vocab[Math.floor(rnd() * vocab.length)] ?? "";
      out.push(t);
    }
    return out.join(" ");
  };
  const suspectTexts = battery.probes.map(() => biased(6));
  const reference = replay((i) => text(i));
  const suspect = replay(
    (i) => suspectTexts[i] ?? "",
    (id, answer) => (id.startsWith("e") && Number(id.slice(1)) < 14 ? `It is ${answer}.` : "No idea."),
  );
  const panel = [replay((i) => text(1000 + i)), replay((i) => text(2000 + i))];
  const r = await compare({
    suspect,
    reference,
    panel,
    battery,
    canaries,
    watermarkKey: key,
    sequential: false,
  });
  const get = (n: string) => r.signals.find((s) => s.name === n);
  const c = get("canary_pairs");
  const w = get("watermark");
  const cw = get("canary_watermark");
  assert.ok(c?.available && w?.available && cw?.available);
  assert.ok(Math.abs((cw?.p_value ?? 1) / fisherCombine([c?.p_value ?? 1, w?.p_value ?? 1]) - 1) < 1e-12);
  assert.ok((cw?.p_value ?? 1) < Math.min(c?.p_value ?? 1, w?.p_value ?? 1));
  // The default policy (3) keeps the rank test in the family, unavailable (the replay scores no prompts).
  assert.deepEqual(r.tests.map((t) => t.test).sort(), [
    "canary_pairs",
    "canary_ranks",
    "canary_watermark",
    "watermark",
  ]);
  assert.ok((r.evidence.watermark?.selected_scored ?? 0) >= 50);
  // A panel written with the key (all green pairs) changes nothing: the watermark never reads the panel.
  const framing = [replay(() => biased(40)), replay(() => biased(40))];
  const r2 = await compare({
    suspect,
    reference,
    panel: framing,
    battery,
    canaries,
    watermarkKey: key,
    sequential: false,
  });
  assert.deepEqual(r2.evidence.watermark, r.evidence.watermark);
  // Without the key the combination is not in the family and is reported unavailable.
  const nokey = await compare({ suspect, reference, panel, battery, canaries, sequential: false });
  assert.equal(nokey.signals.find((s) => s.name === "canary_watermark")?.available, false);
  assert.deepEqual(
    nokey.tests.map((t) => t.test),
    ["canary_pairs", "canary_ranks"],
  );
});

test("the default policy is lineage-policy/3: a suspect that scores no prompts leaves the rank test unavailable and McNemar pays W / 1; another registered policy by id; an unknown id is refused", async () => {
  assert.equal(DEFAULT_VERDICT_POLICY, VERDICT_POLICY_3);
  const reference = replay((i) => text(i));
  const panel = [replay((i) => text(1000 + i)), replay((i) => text(2000 + i))];
  // 25 of 40 exposed stated, no decoy: b = 25, c = 0; the replay has no scoring answers (no echo).
  const suspect = replay(
    (i) => text(3000 + i),
    (id, answer) => (id.startsWith("e") && Number(id.slice(1)) < 25 ? `It is ${answer}.` : "No idea."),
  );
  const base = { suspect, reference, panel, battery, canaries, sequential: false as const };
  const d = await compare(base);
  assert.equal(d.policy, VERDICT_POLICY_3);
  assert.equal(d.policy_registered, true);
  assert.equal(d.policy_is_default, true);
  assert.equal(d.queries.canaries, 160, "80 canary queries and 80 scoring queries");
  const ranks = d.tests.find((t) => t.test === "canary_ranks");
  assert.equal(ranks?.available, false);
  assert.match(ranks?.reason ?? "", /not scored/);
  const mcnemar = d.tests.find((t) => t.test === "canary_pairs");
  // Family weight 1 + 6 = 7 over canary_pairs' 1: seven times policy 2's correction (which is 1 here).
  assert.equal(mcnemar?.factor, 7);
  assert.ok(Math.abs((mcnemar?.adjusted_p ?? 0) / (7 * 2 ** -25) - 1) < 1e-9);
  assert.equal(d.verdict, "LIKELY_DERIVED");
  assert.deepEqual(deriveVerdict(d.evidence, VERDICT_POLICY_3).tests, d.tests);
  // canaryScoring: false saves the queries; the rank test stays in the family (the correction never shrinks).
  const noScoring = await compare({ ...base, canaryScoring: false });
  assert.equal(noScoring.queries.canaries, 80);
  assert.equal(noScoring.tests.find((t) => t.test === "canary_pairs")?.factor, 7);
  // Policy 2 by id: no scoring queries, McNemar alone.
  const p2 = await compare({ ...base, policyId: "lineage-policy/2" });
  assert.equal(p2.policy, VERDICT_POLICY_2);
  assert.equal(p2.queries.canaries, 80);
  assert.deepEqual(
    p2.tests.map((t) => [t.test, t.factor]),
    [["canary_pairs", 1]],
  );
  // Knobs over policy 2 that match no registered policy are custom, not "policy 2".
  const c2 = await compare({ ...base, policyId: "lineage-policy/2", policy: { alpha: 1e-3 } });
  assert.equal(c2.policy.id, "custom");
  assert.equal(c2.policy.weights, VERDICT_POLICY_2.weights);
  assert.equal(c2.policy_registered, false);
  await assert.rejects(
    compare({ ...base, policyId: "lineage-policy/9" }),
    (e: unknown) =>
      invalidArg(e) &&
      /not registered; registered: lineage-policy\/2, lineage-policy\/3/.test((e as Error).message),
  );
});
