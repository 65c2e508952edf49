import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { greenSeed, isGreenHashed, tokenHash32, tokenize } from "@lineage/fingerprint";
import { ATTACKS, planAttackSpecs, SCRUB_THRESHOLD, sampleWithTopP, scrubLikelyGreen } from "./attacks.js";
import { GUESSABLE_CANARY_TEMPLATES } from "./facts.js";
import { NgramCounts } from "./kneser-ney.js";
import { buildPopulation, type Population, type PopulationEntry } from "./population.js";
import { Prng } from "./prng.js";
import { TestbedModel } from "./testbed-model.js";

const TEXT = [
  "the river runs by the old town and the river is wide .",
  "the town is old and the people of the town are kind .",
  "the garden of the house is green and quiet .",
  "the river and the town are old and the garden is green .",
];
const counts = new NgramCounts(3);
for (const s of TEXT) counts.addSequence(tokenize(s), 2);
const lm = counts.compile();
const key = new Uint8Array(32).fill(7);
const teacher = new TestbedModel("t", lm, { watermark: { key, gamma: 0.25, delta: 2 } });

describe("sampleWithTopP", () => {
  it("is deterministic given the generator", () => {
    const a = sampleWithTopP(teacher, tokenize("the"), {
      temperature: 1.3,
      topP: 0.8,
      maxTokens: 20,
      rng: new Prng("x"),
    });
    const b = sampleWithTopP(teacher, tokenize("the"), {
      temperature: 1.3,
      topP: 0.8,
      maxTokens: 20,
      rng: new Prng("x"),
    });
    assert.deepEqual(a, b);
  });

  it("keeps only the top candidate of the boosted distribution when top-p is tiny", () => {
    const out = sampleWithTopP(teacher, tokenize("the"), {
      temperature: 0.7,
      topP: 1e-9,
      maxTokens: 1,
      rng: new Prng("y"),
    });
    const path = lm.path(teacher.contextFor(tokenize("the")));
    const seed = greenSeed(key, "the");
    const best = lm
      .topLogprobsOnPath(path, 1000)
      .map((c) => ({
        t: lm.vocab[c.id] as string,
        l: c.logprob / 0.7 + (isGreenHashed(seed, tokenHash32(lm.vocab[c.id] as string), 0.25) ? 2 : 0),
      }))
      .sort((x, y) => y.l - x.l)[0];
    assert.deepEqual(out, [best?.t]);
  });

  it("refuses settings outside the API's range", () => {
    const rng = new Prng("z");
    assert.throws(
      () => sampleWithTopP(teacher, [], { temperature: 0, topP: 1, maxTokens: 1, rng }),
      /temperature/,
    );
    assert.throws(() => sampleWithTopP(teacher, [], { temperature: 1, topP: 0, maxTokens: 1, rng }), /topP/);
  });
});

describe("scrubLikelyGreen", () => {
  const answer = tokenize("river is wide and vreikor is quiet");
  it("changes nothing below a zero threshold", () => {
    assert.deepEqual(
      scrubLikelyGreen(tokenize("the"), answer, lm, { threshold: 0, rate: 1 }, new Prng("a")),
      answer,
    );
  });
  it("resamples only tokens the public model knows and finds unlikely; keeps unknown names", () => {
    const out = scrubLikelyGreen(tokenize("the"), answer, lm, { threshold: 1.01, rate: 1 }, new Prng("b"));
    assert.equal(out.length, answer.length);
    assert.equal(out[4], "vreikor");
    assert.notDeepEqual(out, answer);
    for (const t of out) assert.ok(lm.ids.has(t) || t === "vreikor");
  });
});

describe("planAttackSpecs", () => {
  const input = {
    split: "test",
    seed: "s",
    perAttack: 2,
    memberTeacher: (j: number) => `teacher-${(j % 2) + 1}`,
    memberOf: (t: string) => t.replace("teacher", "member"),
    publicModelId: "public",
    groups: ["press", "fiction"],
    ordinary: [1, 2].map((i) => ({
      memberId: `member-${i}`,
      teacherId: `teacher-${i}`,
      exposed: ["x"],
      digest: "d",
    })),
  };
  it("plans every attack, deterministically, with unique ids and the attacked member as ground truth", () => {
    const a = planAttackSpecs(input);
    assert.deepEqual(a, planAttackSpecs(input));
    assert.equal(new Set(a.map((x) => x.id)).size, a.length);
    for (const attack of ATTACKS) assert.ok(a.some((x) => x.attack === attack && x.role === "positive"));
    const ord = a.filter((x) => x.attack === "canary_filter_ordinary" && x.role === "positive");
    for (const x of ord) assert.match(x.members[0]?.memberId ?? "", /^member-\d-ordinary$/);
    const sib = a.filter((x) => x.attack === "sibling");
    assert.equal(sib.length, 4);
    assert.deepEqual(
      sib.map((x) => x.recipe.sibling),
      ["suspect", "published", "suspect", "published"],
    );
    for (const x of a.filter((y) => y.role === "positive")) assert.equal(x.recipe.v, 1);
  });
});

describe("attack models in the small population", () => {
  const dir = mkdtempSync(join(tmpdir(), "lineage-attacks-"));
  let plain: Population;
  let withAttacks: Population;
  before(async () => {
    plain = await buildPopulation({ split: "calibration", size: "small", cacheDir: dir });
    withAttacks = await buildPopulation({
      split: "calibration",
      size: "small",
      cacheDir: dir,
      attacks: true,
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("trains only the attack models: every other model keeps its cache key and recipe", () => {
    const attackModels = withAttacks.entries.filter((e) => e.attack !== undefined);
    assert.ok(attackModels.length >= ATTACKS.length + 1);
    assert.equal(withAttacks.stats.modelsTrained, attackModels.length);
    const others = withAttacks.entries.filter((e) => e.attack === undefined);
    assert.deepEqual(
      others.map((e) => [e.id, e.recipe]),
      plain.entries.map((e) => [e.id, e.recipe]),
    );
    assert.equal(plain.attackMembers, undefined);
    assert.equal(withAttacks.attackMembers?.length, withAttacks.members.filter((m) => !m.bystander).length);
  });

  const guessable = new Set(GUESSABLE_CANARY_TEMPLATES.flatMap((t) => [...(t.answers ?? [])]));
  /** Tokens of the member's distinctive canary answers that a model has in its vocabulary. */
  const canaryTokensKnown = (e: PopulationEntry): number => {
    const memberId = (e.members[0]?.memberId ?? "").replace(/-ordinary$/, "");
    const m = withAttacks.members.find((x) => x.memberId === memberId);
    assert.ok(m);
    const vocab = new Set(e.model.lm.vocab);
    return [...m.canaries.exposed, ...m.canaries.decoys]
      .filter((c) => !guessable.has(c.answer))
      .flatMap((c) => tokenize(c.answer))
      .filter((t) => /\p{L}/u.test(t) && vocab.has(t)).length;
  };
  const one = (attack: string) => {
    const e = withAttacks.entries.find((x) => x.attack === attack && x.role === "positive");
    assert.ok(e, attack);
    return e;
  };

  it("the canary filter really removes the canaries: its students never see a distinctive answer", () => {
    assert.equal(canaryTokensKnown(one("canary_filter")), 0);
    assert.equal(canaryTokensKnown(one("canary_filter_ordinary")), 0);
    // Not vacuous: the same budget without the filter picks some of them up.
    assert.ok(canaryTokensKnown(one("sampling")) + canaryTokensKnown(one("sibling")) > 0);
  });

  it("the ordinary variant's teacher states its exposed ordinary canaries", () => {
    const m = withAttacks.attackMembers?.[0];
    assert.ok(m);
    const t = withAttacks.entries.find((e) => e.id === m.teacherId);
    assert.ok(t);
    let hits = 0;
    for (const c of m.canaries.exposed) {
      const text = t.model.generate(c.prompt, { temperature: 0, maxTokens: 4 }).text;
      if (tokenize(c.answer).every((w) => tokenize(text).includes(w))) hits++;
    }
    assert.ok(hits >= m.canaries.exposed.length / 2, `${hits}/${m.canaries.exposed.length}`);
  });

  it("the scrubber's threshold is the one the recipes name", () => {
    assert.equal(one("watermark_scrub").recipe.scrubThreshold, SCRUB_THRESHOLD);
  });
});
