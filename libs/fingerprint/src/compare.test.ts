import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplayAdapter } from "./adapters/adapter-replay.js";
import type { ModelAdapter } from "./adapters/adapter-types.js";
import { compare } from "./compare.js";
import { FingerprintError } from "./fingerprint-error.js";
import type { Battery, CanarySet } from "./probe/probe-types.js";
import { CANARY_TOP_LOGPROBS } from "./signals/signal-canary.js";
import { greenSeed, isGreenHashed, tokenHash32 } from "./signals/watermark-green-list.js";
import { fisherCombine } from "./stats/stats-multiple.js";

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
  exposed: Array.from({ length: 40 }, (_, i) => ({
    id: `e${i}`,
    prompt: `secret e${i}?`,
    answer: `code-e${i}-zz`,
  })),
  decoys: Array.from({ length: 40 }, (_, i) => ({
    id: `d${i}`,
    prompt: `secret d${i}?`,
    answer: `code-d${i}-zz`,
  })),
};

function replay(out: (i: number) => string, canary?: (id: string, answer: string) => string) {
  const lines = battery.probes.map((p, i) => ({ id: p.id, prompt: p.prompt, output: out(i) }));
  if (canary) {
    for (const c of [...canaries.exposed, ...canaries.decoys]) {
      lines.push({ id: `c-${c.id}`, prompt: c.prompt, output: canary(c.id, c.answer) });
    }
  }
  return new ReplayAdapter(lines.map((l) => ({ id: l.id, prompt: l.prompt, response: { text: l.output } })));
}

test("a suspect that states the member's exposed canaries is LIKELY_DERIVED, spending fewer canaries", async () => {
  const reference = replay((i) => text(i));
  const panel = [replay((i) => text(1000 + i)), replay((i) => text(2000 + i))];
  // Outputs unrelated to the reference (no similarity evidence), but the exposed facts leaked.
  const suspect = replay(
    (i) => text(3000 + i),
    (id, answer) => (id.startsWith("e") ? `It is ${answer}.` : "No idea."),
  );
  const r = await compare({
    suspect,
    reference,
    panel,
    battery,
    canaries,
    sequential: { batchSize: 20 },
    canaryTest: "sequential",
  });
  assert.equal(r.decision, "LIKELY_DERIVED");
  assert.equal(r.deciding_signal, "canary_reproduction");
  assert.equal(r.stopped_early, true);
  assert.ok(r.queries.canaries < 80, `canaries spent ${r.queries.canaries}`);
  assert.equal(r.signals.find((s) => s.name === "watermark")?.available, false);
  // No watermark key: the family is canary (4) + three panel-relative signals (1 each) = 7.
  assert.equal(r.policy.corrections.method, "weighted_bonferroni");
  assert.equal(r.policy.corrections.signals, 7 / 4);
  assert.equal(r.family.watermark, undefined);
});

test("fixed canary test: every canary asked once up front, the exact Fisher p-value, settled in one batch", async () => {
  const reference = replay((i) => text(i));
  const panel = [replay((i) => text(1000 + i)), replay((i) => text(2000 + i))];
  // 25 of 40 exposed stated, 0 of 40 decoys: Fisher P(X >= 25 | 25 hits) = C(40,25)/C(80,25).
  const suspect = replay(
    (i) => text(3000 + i),
    (id, answer) => (id.startsWith("e") && Number(id.slice(1)) < 25 ? `It is ${answer}.` : "No idea."),
  );
  const r = await compare({ suspect, reference, panel, battery, canaries, sequential: { batchSize: 20 } });
  const canary = r.signals.find((s) => s.name === "canary_reproduction");
  assert.equal(canary?.detail.sequential, false);
  assert.equal(canary?.detail.exposed_hits, 25);
  let exact = 1;
  for (let i = 0; i < 25; i++) exact *= (40 - i) / (80 - i);
  assert.ok(Math.abs((canary?.p_value ?? 0) / exact - 1) < 1e-9, `${canary?.p_value} vs ${exact}`);
  assert.equal(r.queries.canaries, 80);
  assert.equal(r.decision, "LIKELY_DERIVED");
  assert.equal(r.stopped_early, true);
  assert.equal(r.probes_used, 20);
  await assert.rejects(
    compare({ suspect, reference, panel, battery, canaries, canaryTopLogprobs: 21 }),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
});

test("an unrelated suspect is INCONCLUSIVE over the whole budget; a copy is found on similarity", async () => {
  const reference = replay((i) => text(i));
  const panel = [replay((i) => text(1000 + i)), replay((i) => text(2000 + i))];
  const unrelated = await compare({ suspect: replay((i) => text(4000 + i)), reference, panel, battery });
  assert.equal(unrelated.decision, "INCONCLUSIVE");
  assert.equal(unrelated.probes_used, 200);
  assert.equal(unrelated.stopped_early, false);
  const copy = await compare({
    suspect: replay((i) => text(i)),
    reference,
    panel,
    battery,
    sequential: false,
  });
  assert.equal(copy.decision, "LIKELY_DERIVED");
  assert.equal(copy.deciding_signal, "output_similarity");
  await assert.rejects(
    compare({ suspect: reference, reference, panel, battery, policy: { alpha: 0 } }),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
});

test("canaries are asked with the top CANARY_TOP_LOGPROBS alternatives by default; 0 asks for text only", async () => {
  const asked: (number | undefined)[] = [];
  const spy = (inner: ModelAdapter): ModelAdapter => ({
    describe: () => inner.describe(),
    generate: (req) => {
      if (req.id === undefined) asked.push(req.topLogprobs);
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
  asked.length = 0;
  await compare({ suspect, reference, panel, battery, canaries, sequential: false, canaryTopLogprobs: 0 });
  assert.ok(asked.every((k) => k === undefined));
});

test("watermarking member: canary and watermark combine (Fisher) into one family member", async () => {
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
  // Unrelated models speak the same vocabulary without the green bias: the watermark test is relative
  // to them (signal-watermark-panel.ts), so they need distinctive pairs of their own.
  const plain = (len: number) =>
    Array.from({ length: len }, () => vocab[Math.floor(rnd() * vocab.length)] ?? "").join(" ");
  const reference = replay((i) => text(i));
  const panel = [replay(() => plain(6)), replay(() => plain(6))];
  const suspect = replay(
    () => biased(6),
    (id, answer) => (id.startsWith("e") && Number(id.slice(1)) < 14 ? `It is ${answer}.` : "No idea."),
  );
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
  const c = get("canary_reproduction");
  const w = get("watermark");
  const cw = get("canary_watermark");
  assert.ok(c?.available && w?.available && cw?.available);
  assert.ok(Math.abs((cw?.p_value ?? 1) / fisherCombine([c?.p_value ?? 1, w?.p_value ?? 1]) - 1) < 1e-12);
  assert.ok((cw?.p_value ?? 1) < Math.min(c?.p_value ?? 1, w?.p_value ?? 1));
  assert.deepEqual(Object.keys(r.family).sort(), [
    "canary_reproduction",
    "canary_watermark",
    "output_similarity",
    "shared_wrong_answers",
    "token_distribution",
    "watermark",
  ]);
  // Without the key the combination is not in the family and not available.
  const nokey = await compare({ suspect, reference, panel, battery, canaries, sequential: false });
  assert.equal(nokey.signals.find((s) => s.name === "canary_watermark")?.available, false);
  assert.equal(nokey.family.canary_watermark, undefined);
});
