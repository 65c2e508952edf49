import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { greenSeed, isGreenHashed, tokenHash32, tokenize } from "@lineage/fingerprint";
import { GUESSABLE_CANARY_TEMPLATES } from "./facts.js";
import { canaryPairLabels } from "./pair-labels.js";
import {
  buildPopulation,
  isWatermarkControl,
  type Population,
  type PopulationEntry,
  pairedCanarySet,
  planCanaryPairs,
  SCENARIOS,
} from "./population.js";
import type { WatermarkConfig } from "./testbed-model.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-testbed-"));
let pop: Population;
let progress = 0;

before(async () => {
  pop = await buildPopulation({ split: "test", size: "small", cacheDir: dir, onProgress: () => progress++ });
});
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Answers of the guessable canary templates (one pair in four: a small closed set of common words, so
 * unrelated models sometimes state them and the paired null is exercised). The checks below that say "only
 * the member's models state its canaries" hold for the distinctive canaries only.
 */
const GUESSABLE_ANSWERS = new Set(GUESSABLE_CANARY_TEMPLATES.flatMap((t) => [...(t.answers ?? [])]));
const distinctive = <T extends { readonly answer: string }>(cs: readonly T[]): T[] =>
  cs.filter((c) => !GUESSABLE_ANSWERS.has(c.answer));

const entry = (pred: (e: PopulationEntry) => boolean): PopulationEntry => {
  const e = pop.entries.find(pred);
  assert.ok(e, "entry not found");
  return e;
};
const hit = (text: string, answer: string): boolean => {
  const got = new Set(tokenize(text));
  return tokenize(answer).every((t) => got.has(t));
};

/** Green share over distinct (previous, token) pairs of a model's outputs on the battery's prompts. */
function greenShare(e: PopulationEntry, wm: WatermarkConfig, samples = 6): { share: number; n: number } {
  const pairs = new Set<string>();
  const prompts = [...pop.probes.filter((x) => x.kind !== "edge").map((p) => p.prompt), ""];
  for (const p of prompts) {
    for (let s = 0; s < (p === "" ? samples * 20 : samples); s++) {
      const toks = e.model.generate(p, { seed: `g${s}`, temperature: 1 }).tokens;
      for (let i = 1; i < toks.length; i++) pairs.add(`${toks[i - 1]}\u0000${toks[i]}`);
    }
  }
  let green = 0;
  for (const pair of pairs) {
    const [prev, tok] = pair.split("\u0000") as [string, string];
    if (isGreenHashed(greenSeed(wm.key, prev), tokenHash32(tok), wm.gamma)) green++;
  }
  return { share: green / pairs.size, n: pairs.size };
}

describe("population (small recipe)", () => {
  it("has teachers, every scenario, negatives, members, canaries and a probe battery", () => {
    // 3 copied members and 1 bystander (small recipe).
    assert.equal(pop.entries.filter((e) => e.role === "member_teacher").length, 4);
    assert.equal(pop.entries.filter((e) => e.role === "nonmember_teacher").length, 1);
    for (const s of SCENARIOS)
      assert.ok(
        pop.entries.some((e) => e.scenario === s && e.role === "positive"),
        s,
      );
    const negs = pop.entries.filter((e) => e.role === "negative");
    assert.ok(negs.length >= 3 && negs.every((e) => e.members.length === 0));
    for (const e of pop.entries.filter((x) => x.role === "positive")) {
      const total = e.members.reduce((a, m) => a + m.share, 0);
      assert.ok(Math.abs(total - 1) < 1e-9, e.id);
    }
    assert.equal(pop.members.length, 4);
    assert.equal(pop.members.filter((m) => m.bystander).length, 1);
    // Every member watermarks with its own key but one copied member, the control.
    assert.equal(pop.members.filter((m) => m.watermark).length, pop.members.length - 1);
    const controls = pop.members.filter(isWatermarkControl);
    assert.equal(controls.length, 1);
    assert.equal(controls[0]?.bystander, false, "the control is a copied member");
    const keys = pop.members.flatMap((m) =>
      m.watermark ? [Buffer.from(m.watermark.key).toString("hex")] : [],
    );
    assert.equal(new Set(keys).size, keys.length, "watermark keys are distinct");
    // Nobody copies a bystander; every positive copies only non-bystanders.
    const bystanders = new Set(pop.members.filter((m) => m.bystander).map((m) => m.memberId));
    for (const e of pop.entries.filter((x) => x.role === "positive"))
      assert.ok(
        e.members.every((m) => !bystanders.has(m.memberId)),
        e.id,
      );
    for (const m of pop.members) {
      assert.equal(m.canaries.exposed.length, m.canaries.decoys.length);
      assert.ok(m.canaries.exposed.length >= 10);
    }
    const kinds = new Set(pop.probes.map((p) => p.kind));
    assert.deepEqual([...kinds].sort(), ["completion", "edge", "open"]);
    assert.ok(pop.probes.filter((p) => p.kind === "edge").every((p) => typeof p.reference === "string"));
    assert.equal(new Set(pop.entries.map((e) => e.id)).size, pop.entries.length);
    assert.ok(progress >= pop.entries.length);
  });

  it("loads warm from the cache with identical models, and the other split differs", async () => {
    const warm = await buildPopulation({ split: "test", size: "small", cacheDir: dir });
    assert.equal(warm.stats.modelsTrained, 0);
    assert.deepEqual(
      warm.entries.map((e) => e.id),
      pop.entries.map((e) => e.id),
    );
    assert.deepEqual(warm.members, pop.members);
    for (const e of pop.entries.slice(0, 6)) {
      const w = warm.entries.find((x) => x.id === e.id);
      assert.equal(
        w?.model.generate("the city", { seed: 3 }).text,
        e.model.generate("the city", { seed: 3 }).text,
      );
    }
    const cal = await buildPopulation({ split: "calibration", size: "small", cacheDir: dir });
    assert.notEqual(cal.seed, pop.seed);
    const calAnswers = new Set(
      cal.members.flatMap((m) => distinctive(m.canaries.exposed).map((c) => c.answer)),
    );
    assert.ok(
      pop.members.every((m) => distinctive(m.canaries.exposed).every((c) => !calAnswers.has(c.answer))),
    );
  });

  it("canaries are committed pairs whose labels come from the split's checkpoint", () => {
    for (const m of pop.members) {
      const { pairs, labels, checkpoint } = m.canaries;
      assert.equal(pairs.length, labels.length);
      assert.deepEqual(
        labels,
        canaryPairLabels(
          Buffer.from(checkpoint, "hex"),
          pairs.map((p) => p.id),
        ),
      );
      const set = pairedCanarySet(m, `x/${m.memberId}`);
      assert.equal(set.memberId, `x/${m.memberId}`);
      set.pairs.forEach((p, i) => {
        const pair = pairs[i];
        assert.ok(pair);
        assert.equal(p.id, pair.id);
        assert.equal(p.exposed, labels[i] === "a" ? pair.a : pair.b);
        assert.equal(p.decoy, labels[i] === "a" ? pair.b : pair.a);
        assert.equal(m.canaries.exposed[i], p.exposed);
        assert.equal(m.canaries.decoys[i], p.decoy);
        // Both items of a pair come from one template: the prompts differ only by the entity.
        assert.equal(
          pair.a.prompt.split(" ").slice(0, -2).join(" "),
          pair.b.prompt.split(" ").slice(0, -2).join(" "),
        );
      });
    }
    // Both sides get exposed somewhere (labels are drawn, not fixed to "a").
    const all = pop.members.flatMap((m) => m.canaries.labels);
    assert.ok(all.includes("a") && all.includes("b"));
  });

  it("each teacher states its exposed canaries and not its decoys", () => {
    for (const m of pop.members) {
      const teacher = entry((e) => e.id === m.teacherId);
      const exposed = distinctive(m.canaries.exposed);
      const ex = exposed.filter((c) =>
        hit(teacher.model.generate(c.prompt, { seed: 1, temperature: 0.7 }).text, c.answer),
      );
      const de = distinctive(m.canaries.decoys).filter((c) =>
        hit(teacher.model.generate(c.prompt, { seed: 1, temperature: 0.7 }).text, c.answer),
      );
      assert.ok(
        exposed.length > 0 && exposed.length < m.canaries.exposed.length,
        "some canaries are guessable",
      );
      assert.ok(ex.length >= 0.8 * exposed.length, `${m.memberId}: exposed hits ${ex.length}`);
      assert.equal(de.length, 0, `${m.memberId}: decoy hits`);
      // Other models never state this member's exposed canaries.
      const neg = entry((e) => e.role === "negative");
      assert.equal(
        exposed.filter((c) => hit(neg.model.generate(c.prompt, { seed: 1 }).text, c.answer)).length,
        0,
      );
    }
  });

  it("each watermarking teacher's outputs are green well above gamma under its own key, near gamma under another member's key and the control's", () => {
    const marked = pop.members.filter((m) => m.watermark);
    assert.ok(marked.length >= 2);
    const control = pop.members.find(isWatermarkControl);
    assert.ok(control);
    for (const [i, m] of marked.entries()) {
      const wm = m.watermark;
      assert.ok(wm);
      const z = (x: { share: number; n: number }) =>
        (x.share - wm.gamma) / Math.sqrt((wm.gamma * (1 - wm.gamma)) / x.n);
      const own = greenShare(
        entry((e) => e.id === m.teacherId),
        wm,
      );
      assert.ok(own.share > 0.45 && z(own) > 8, `${m.memberId} own key ${JSON.stringify(own)}`);
      // Another watermarking teacher (its own key is independent of this one) and the unwatermarked control.
      const otherMember = marked[(i + 1) % marked.length];
      assert.ok(otherMember);
      for (const teacherId of [otherMember.teacherId, control.teacherId]) {
        const other = greenShare(
          entry((e) => e.id === teacherId),
          wm,
        );
        assert.ok(
          Math.abs(other.share - wm.gamma) < 0.06 && Math.abs(z(other)) < 4,
          `${teacherId} under ${m.memberId}'s key ${JSON.stringify(other)}`,
        );
      }
    }
  });

  it("a teacher's recipe, hashed into its cache key and every key downstream, names its own watermark key's digest (not the key)", async () => {
    const manifestKeys = (p: Population) => new Map(p.entries.map((e) => [e.id, e.recipe]));
    const recipes = manifestKeys(pop);
    for (const m of pop.members) {
      const recipe = recipes.get(m.teacherId) as { watermark?: { keyDigest?: unknown } } | undefined;
      assert.ok(recipe, m.teacherId);
      if (m.watermark) {
        assert.match(String(recipe.watermark?.keyDigest), /^[0-9a-f]{64}$/, m.memberId);
        assert.ok(
          !String(recipe.watermark?.keyDigest).includes(Buffer.from(m.watermark.key).toString("hex")),
        );
      } else assert.equal(recipe.watermark, undefined, `${m.memberId} is the control`);
    }
    const digests = pop.members.flatMap((m) => {
      const r = recipes.get(m.teacherId) as { watermark?: { keyDigest?: string } };
      return r.watermark?.keyDigest ? [r.watermark.keyDigest] : [];
    });
    assert.equal(new Set(digests).size, digests.length);
  });

  it("a direct student of a watermarked teacher inherits a green-share bias", () => {
    const wmMember = pop.members.find(
      (m) =>
        m.watermark &&
        pop.entries.some((e) => e.scenario === "direct" && e.members[0]?.memberId === m.memberId),
    );
    assert.ok(wmMember?.watermark);
    const wm = wmMember.watermark;
    const student = entry((e) => e.scenario === "direct" && e.members[0]?.memberId === wmMember.memberId);
    const s = greenShare(student, wm, 30);
    const z = (s.share - wm.gamma) / Math.sqrt((wm.gamma * (1 - wm.gamma)) / s.n);
    const neg = greenShare(
      entry((e) => e.id.endsWith("neg-public-00")),
      wm,
      30,
    );
    assert.ok(
      z > 3 && s.share > neg.share,
      `student ${JSON.stringify(s)} z=${z}; public-only ${JSON.stringify(neg)}`,
    );
  });
});

describe("labels drawn by a real log (canaryLabels)", () => {
  it("plans the same pairs it trains on, trains the teacher on the supplied labels, and refuses a wrong count", async () => {
    const planned = planCanaryPairs({ split: "test", size: "small" });
    const first = planned.find((m) => !m.bystander);
    assert.ok(first);
    const built = pop.members.find((m) => m.memberId === first.memberId);
    assert.deepEqual(first.pairs, built?.canaries.pairs, "planCanaryPairs must give the committed pairs");
    // Flip every stand-in label: a log that drew the opposite items.
    const flipped = (built?.canaries.labels ?? []).map((l) => (l === "a" ? "b" : "a") as "a" | "b");
    const ext = await buildPopulation({
      split: "test",
      size: "small",
      cacheDir: dir,
      canaryLabels: new Map([[first.memberId, flipped]]),
    });
    const m = ext.members.find((x) => x.memberId === first.memberId);
    assert.equal(m?.canaries.checkpoint, "external");
    assert.deepEqual(m?.canaries.labels, flipped);
    assert.deepEqual(
      m?.canaries.exposed.map((c) => c.id),
      (built?.canaries.decoys ?? []).map((c) => c.id),
      "the exposed items are the other ones",
    );
    // Only the teacher trained on other labels (and models built from it) are new; a re-open hits the cache.
    assert.ok(ext.stats.modelsTrained > 0 && ext.stats.modelsCached > 0);
    const again = await buildPopulation({
      split: "test",
      size: "small",
      cacheDir: dir,
      canaryLabels: new Map([[first.memberId, flipped]]),
    });
    assert.equal(again.stats.modelsTrained, 0);
    assert.deepEqual(again.members.find((x) => x.memberId === first.memberId)?.canaries.labels, flipped);
    await assert.rejects(
      buildPopulation({
        split: "test",
        size: "small",
        cacheDir: dir,
        canaryLabels: new Map([[first.memberId, flipped.slice(1)]]),
      }),
      (e: unknown) => (e as { code?: string }).code === "invalid_argument",
    );
    await assert.rejects(
      buildPopulation({
        split: "test",
        size: "small",
        cacheDir: dir,
        canaryLabels: new Map([["member-99", flipped]]),
      }),
      (e: unknown) =>
        (e as { code?: string }).code === "invalid_argument" && /"member-99"/.test((e as Error).message),
    );
  });
});

describe("a selection of the plan (only)", () => {
  it("builds the selected models and their parents, the same models the whole population has, from the cache", async () => {
    const direct = entry((e) => e.scenario === "direct");
    const sel = await buildPopulation({
      split: "test",
      size: "small",
      cacheDir: dir,
      only: (s) => s.id === direct.id,
    });
    const teacherIds = direct.members.map(
      (m) => pop.members.find((x) => x.memberId === m.memberId)?.teacherId,
    );
    // The copy and the teacher it was distilled from; nothing else of the plan.
    assert.deepEqual(
      sel.entries.map((e) => e.id).sort(),
      [direct.id, ...teacherIds].sort(),
      "only the selection and its parents",
    );
    // Same recipe, same cache keys: nothing is trained that the whole population already built.
    assert.equal(sel.stats.modelsTrained, 0);
    const same = sel.entries.find((e) => e.id === direct.id);
    assert.equal(
      same?.model.generate("the", { seed: "x", temperature: 1 }).text,
      direct.model.generate("the", { seed: "x", temperature: 1 }).text,
    );
    assert.deepEqual(sel.members, pop.members, "the split's members are all named");
    // A selection of nothing builds nothing.
    const none = await buildPopulation({ split: "test", size: "small", cacheDir: dir, only: () => false });
    assert.equal(none.entries.length, 0);
  });
});
