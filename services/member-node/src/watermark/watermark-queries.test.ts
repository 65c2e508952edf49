/**
 * The extra watermark queries (watermark-queries.ts): the plan is the session's (derived from its seed and
 * battery, refused on a forged seed or an empty battery), answers are bounded before they are read (oversized
 * text, positions, alternatives), and on real testbed models served over HTTP the pairs are green under the
 * member's own key for a copy of its watermarking teacher, while under keys nobody used the counts stay
 * binomial; a refused query is counted, an abort stops the step; nothing but counts comes out.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type Battery, deriveVerdict, HttpAdapter, tokenize, VERDICT_POLICY_3 } from "@lineage/fingerprint";
import { buildPopulation, type Population, serveTestbed, type TestbedServer } from "@lineage/testbed";
import { isMemberNodeError } from "../member-node-error.js";
import {
  boundedAnswer,
  runWatermarkQueries,
  WATERMARK_QUERIES_PROTOCOL,
  watermarkQueryPlan,
} from "./watermark-queries.js";

const battery: Battery = {
  epoch: "e1",
  probes: [
    { id: "p1", kind: "open", prompt: "Tell me about the history of the old harbour town" },
    { id: "p2", kind: "completion", prompt: "The committee met on a cold morning and" },
    { id: "p3", kind: "edge", prompt: "Hi", reference: "x" },
  ],
};

describe("the plan: bound to the session's seed and battery", () => {
  it("is the same for the same seed, another for another seed, prefixes of the battery's prompts", () => {
    const seed = new Uint8Array(randomBytes(32));
    const a = watermarkQueryPlan(seed, battery, 50);
    assert.deepEqual(watermarkQueryPlan(seed, battery, 50), a);
    assert.deepEqual(watermarkQueryPlan(seed, battery, 20), a.slice(0, 20), "a shorter plan is a prefix");
    assert.notDeepEqual(watermarkQueryPlan(new Uint8Array(randomBytes(32)), battery, 50), a);
    assert.equal(a.length, 50);
    for (const q of a) {
      const toks = tokenize(q.prompt);
      assert.ok(
        toks.length >= 3 &&
          battery.probes.some((p) => tokenize(p.prompt).slice(0, toks.length).join(" ") === toks.join(" ")),
        "every prompt is a prefix of a battery prompt of 3+ tokens",
      );
      assert.ok(Number.isInteger(q.seed) && q.seed >= 0);
    }
    assert.ok(new Set(a.map((q) => q.seed)).size > 45, "sampling seeds differ");
  });

  it("refuses a forged seed, an empty battery and a count out of bounds, naming what is wrong", () => {
    const bad = (re: RegExp) => (e: unknown) =>
      isMemberNodeError(e, "invalid_argument") && re.test((e as Error).message);
    assert.throws(() => watermarkQueryPlan(new Uint8Array(31), battery), bad(/seed must be 32 bytes/));
    assert.throws(
      () => watermarkQueryPlan("x".repeat(32) as unknown as Uint8Array, battery),
      bad(/seed must be 32 bytes/),
    );
    assert.throws(
      () => watermarkQueryPlan(new Uint8Array(32), { epoch: "e", probes: [] }),
      bad(/battery has no prompt/),
    );
    assert.throws(() => watermarkQueryPlan(new Uint8Array(32), battery, 5001), bad(/count/));
    assert.throws(() => watermarkQueryPlan(new Uint8Array(32), battery, 1.5), bad(/count/));
  });
});

describe("answers are bounded before they are read (untrusted input)", () => {
  it("cuts an oversized text, too many positions and too many alternatives", () => {
    const huge = {
      text: "word ".repeat(100_000),
      tokens: Array.from({ length: 5000 }, (_, i) => ({
        token: `t${i}`.repeat(200),
        logprob: -1,
        top: Array.from({ length: 500 }, (_, k) => ({ token: `a${k}`, logprob: -2 })),
      })),
    };
    const b = boundedAnswer("a prompt", huge);
    assert.equal(b.prompt, "a prompt");
    assert.equal(b.response.text.length, 8192);
    assert.equal(b.response.tokens?.length, 256);
    assert.ok(b.response.tokens?.every((t) => t.top.length === 20 && t.token.length <= 256));
    // An answer without log-probabilities stays without them.
    assert.deepEqual(boundedAnswer("p", { text: "short" }), { prompt: "p", response: { text: "short" } });
  });
});

describe("on real testbed models served over HTTP", () => {
  let pop: Population;
  let server: TestbedServer;
  before(async () => {
    pop = await buildPopulation({ split: "test", size: "small" });
    server = await serveTestbed({ models: pop.entries.map((e) => e.model) });
  });
  after(async () => server?.close());

  const adapter = (id: string) => new HttpAdapter({ baseUrl: `${server.url}/v1`, model: id, concurrency: 8 });

  it("a copy of a watermarking teacher is green under its key; under keys nobody used the counts stay null", async () => {
    const watermarking = (id: string | undefined) =>
      pop.members.find((m) => m.memberId === id && m.watermark !== undefined);
    const copy = pop.entries.find((e) => e.scenario === "direct" && watermarking(e.members[0]?.memberId));
    const member = watermarking(copy?.members[0]?.memberId);
    assert.ok(copy && member?.watermark);
    const b: Battery = { epoch: "e", probes: pop.probes };
    const plan = watermarkQueryPlan(new Uint8Array(32).fill(7), b, 200);
    const asked: string[] = [];
    const suspect = adapter(copy.id);
    const recording = {
      describe: () => suspect.describe(),
      generate: async (r: Parameters<typeof suspect.generate>[0]) => {
        const res = await suspect.generate(r);
        asked.push(res.text);
        return res;
      },
    };
    const gamma = member.watermark.gamma;
    const { counts, record } = await runWatermarkQueries({
      suspect: recording,
      plan,
      key: member.watermark.key,
      gamma,
    });
    assert.equal(record.protocol, WATERMARK_QUERIES_PROTOCOL);
    assert.equal(record.queriesPlanned, 200);
    assert.equal(record.queriesAnswered, 200);
    assert.equal(record.pairsScored, counts.all_scored);
    assert.ok(counts.all_scored > 5000, `${counts.all_scored} pairs (answers and their alternatives)`);
    const own = deriveVerdict({ watermark: counts, comparisons: 1 }, VERDICT_POLICY_3);
    assert.ok(
      counts.all_green / counts.all_scored > gamma && (own.tests[0]?.p_value ?? 1) < 1e-3,
      `green ${counts.all_green}/${counts.all_scored}, p ${own.tests[0]?.p_value}`,
    );
    // Under keys nobody sampled with, the same answers' pairs are binomial: no accusation at the policy's alpha.
    const again = await runWatermarkQueries({ suspect, plan, key: new Uint8Array(32), gamma });
    assert.equal(again.counts.all_scored, counts.all_scored, "the same seeds give the same answers");
    for (let i = 0; i < 3; i++) {
      const other = await runWatermarkQueries({ suspect, plan, key: new Uint8Array(randomBytes(32)), gamma });
      const v = deriveVerdict({ watermark: other.counts, comparisons: 1 }, VERDICT_POLICY_3);
      assert.notEqual(v.verdict, "LIKELY_DERIVED");
    }
    // Only counts come out: no prompt and no answer in the record.
    const out = JSON.stringify({ counts, record });
    for (const q of plan) assert.ok(!out.includes(q.prompt), "a prompt leaked");
    for (const t of asked.filter((x) => x.length >= 12)) assert.ok(!out.includes(t), "an answer leaked");
  });

  it("a query the endpoint refuses is left out and counted; an aborted session stops the step", async () => {
    const plan = watermarkQueryPlan(new Uint8Array(32).fill(1), { epoch: "e", probes: pop.probes }, 20);
    // The server answers 404 for a model it does not serve: every query fails, none is scored.
    const none = await runWatermarkQueries({
      suspect: adapter("no-such-model"),
      plan,
      key: new Uint8Array(32),
    });
    assert.equal(none.record.queriesAnswered, 0);
    assert.equal(none.counts.all_scored, 0);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      runWatermarkQueries({
        suspect: adapter(pop.entries[0]?.id ?? ""),
        plan,
        key: new Uint8Array(32),
        signal: ac.signal,
      }),
      (e: unknown) => (e as Error).name === "AbortError",
    );
  });
});
