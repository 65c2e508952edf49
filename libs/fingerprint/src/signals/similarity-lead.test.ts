import assert from "node:assert/strict";
import test from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import type { ModelResponse, Probe } from "../probe/probe-types.js";
import { rankLead } from "../verdict/verdict.js";
import { STYLE_BASIS_GROUPS, STYLE_DELTA_SHARE, similarityLead, styleScore } from "./similarity-lead.js";

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCAB = Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}`);
const OPENERS = ["Sure!", "Certainly.", "Here is", "Well,", "In short,", "Great question.", "Okay:", "So"];
const N_PROBES = 60;
const probes: Probe[] = Array.from({ length: N_PROBES }, (_, i) => ({
  id: `p${i}`,
  kind: "open" as const,
  prompt: `prompt ${i}`,
}));

/**
 * A synthetic model: per probe it writes topic words (shared by every model on that probe) mixed with its
 * own favourite words and opener. A student copies its teacher's answer with probability `copy`.
 */
function model(seed: number, teacher?: readonly ModelResponse[], copy = 0.7): ModelResponse[] {
  const r = rng(seed);
  const fav = Array.from({ length: 30 }, () => VOCAB[Math.floor(r() * VOCAB.length)] ?? "w");
  const opener = OPENERS[seed % OPENERS.length] ?? "So";
  return probes.map((_, i) => {
    const t = teacher?.[i];
    if (t && r() < copy) return { text: t.text };
    const topic = rng(1000 + i);
    const words = [opener];
    for (let w = 0; w < 40; w++) {
      words.push(
        r() < 0.5 ? (VOCAB[Math.floor(topic() * 50)] ?? "t") : (fav[Math.floor(r() * fav.length)] ?? "f"),
      );
    }
    return { text: `${words.join(" ")}.` };
  });
}

test("a suspect identical to the reference leads, and its rank p-value is exactly 1/(N+1), never below", () => {
  const reference = model(1);
  const panel = [2, 3, 4, 5, 6].map((s) => model(s));
  const lead = similarityLead({
    probes,
    suspect: reference.map((x) => ({ text: x.text })),
    reference,
    panel,
  });
  assert.ok(lead.evidence, lead.reason);
  assert.equal(lead.evidence.null_size, 25); // k^2 ordered unrelated pairs
  assert.equal(lead.evidence.null_at_least, 0);
  assert.equal(lead.evidence.population, "panel");
  const ranked = rankLead(lead.evidence);
  assert.equal(ranked.p_value, 1 / 26);
  assert.ok(ranked.is_lead);
  for (const s of lead.signals.filter((x) => x.available)) {
    assert.ok(s.p_value >= 1 / 26, `${s.name} p ${s.p_value}`);
    assert.ok(s.effect >= -1 && s.effect <= 1);
    assert.equal(s.detail.level, "model");
  }
});

test("a student that copies most answers leads; an unrelated model does not", () => {
  const reference = model(11);
  const panel = [12, 13, 14, 15, 16, 17].map((s) => model(s));
  const student = model(18, reference, 0.5);
  const s = similarityLead({ probes, suspect: student, reference, panel });
  assert.ok(s.evidence && rankLead(s.evidence).is_lead);
  // Seed 25: an opener of its own (seed % 8 picks it), not the reference's.
  const other = similarityLead({ probes, suspect: model(25), reference, panel });
  assert.ok(other.evidence && !rankLead(other.evidence).is_lead);
  assert.ok(s.evidence.score > other.evidence.score);
});

test("leave-one-out: each population model scored as the suspect against the others is uniform-ish", () => {
  // 9 unrelated models; each in turn is the suspect, model 0 the reference, the other 7 the panel.
  const models = Array.from({ length: 9 }, (_, i) => model(100 + i));
  const ps: number[] = [];
  for (let s = 1; s < models.length; s++) {
    for (let r = 0; r < models.length; r++) {
      if (r === s) continue;
      const panel = models.filter((_, i) => i !== s && i !== r);
      const lead = similarityLead({
        probes,
        suspect: models[s] ?? [],
        reference: models[r] ?? [],
        panel,
      });
      assert.ok(lead.evidence);
      ps.push(rankLead(lead.evidence).p_value);
    }
  }
  const mean = ps.reduce((a, b) => a + b, 0) / ps.length;
  const small = ps.filter((p) => p <= 0.05).length / ps.length;
  // Under exchangeability the rank p-value is uniform on {1..N+1}/(N+1): mean ~0.5, ~5% at or below 0.05.
  assert.ok(mean > 0.35 && mean < 0.65, `mean ${mean}`);
  assert.ok(small <= 0.15, `share at or below 0.05: ${small}`);
});

test("mismatched lengths and oversize input throw INVALID_ARGUMENT", () => {
  const reference = model(21);
  const panel = [22, 23].map((s) => model(s));
  const isInvalid = (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT";
  assert.throws(() => similarityLead({ probes, suspect: reference.slice(1), reference, panel }), isInvalid);
  assert.throws(
    () =>
      similarityLead({ probes, suspect: reference, reference, panel: [panel[0] ?? [], reference.slice(2)] }),
    isInvalid,
  );
  assert.throws(
    () => similarityLead({ probes, suspect: reference, reference, panel: Array(65).fill(reference) }),
    isInvalid,
  );
});

test("too small a panel or too few answered probes: no evidence, with a reason", () => {
  const reference = model(31);
  const one = similarityLead({ probes, suspect: model(32), reference, panel: [model(33)] });
  assert.equal(one.evidence, null);
  assert.match(one.reason ?? "", /panel/);
  const sparse = model(34).map((r, i) => (i < 50 ? undefined : r));
  const few = similarityLead({ probes, suspect: sparse, reference, panel: [model(35), model(36)] });
  assert.equal(few.evidence, null);
  assert.ok(few.signals.every((s) => !s.available));
});

test("styleScore on the lead's style agreements reproduces the lead score (only the style part weighs here)", () => {
  const reference = model(41);
  const panel = [42, 43, 44, 45].map((s) => model(s));
  const lead = similarityLead({ probes, suspect: model(46, reference, 0.4), reference, panel });
  assert.ok(lead.evidence && lead.style_groups);
  assert.equal(lead.style_groups.length, 1 + panel.length ** 2);
  assert.equal(lead.style_groups[0]?.length, STYLE_BASIS_GROUPS.length);
  assert.ok(Math.abs(styleScore(lead.style_groups, STYLE_DELTA_SHARE) - lead.evidence.score) < 1e-9);
  // Another share moves the score (the delta and the habits disagree somewhere), and a share outside [0, 1]
  // is refused.
  assert.notEqual(styleScore(lead.style_groups, 0), styleScore(lead.style_groups, 1));
  assert.throws(() => styleScore(lead.style_groups ?? [], 1.5), RangeError);
  const detail = lead.signals.find((s) => s.name === "output_similarity")?.detail;
  assert.equal(detail?.style_delta_share, STYLE_DELTA_SHARE);
  assert.equal(typeof detail?.style_delta_value, "number");
});
