/**
 * The scanner asks each battery probe with the max_tokens the epoch's battery states for it (0: the engine's
 * default), against a testbed n-gram model served over HTTP (the OpenAI-compatible server honours it).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { HttpAdapter, type Probe } from "@lineage/fingerprint";
import { loadCorpus, NgramCounts, serveTestbed, TestbedModel } from "@lineage/testbed";
import { probeHonouringMaxTokens } from "../src/scan/release-scanner.js";

test("scanner: each probe is asked with its own max_tokens; 0 keeps the engine's default", async () => {
  const corpus = loadCorpus();
  const counts = new NgramCounts(4);
  for (const s of corpus.public.slice(0, 800)) counts.addSequence(corpus.tokens(s));
  const server = await serveTestbed({ models: [new TestbedModel("m", counts.compile())] });
  try {
    const probes: Probe[] = corpus.public.slice(5000, 5008).map((s, i) => ({
      id: String(i),
      kind: "open" as const,
      prompt: corpus.tokens(s).slice(0, 5).join(" "),
    }));
    const stated = probes.map((_, i) => ({ maxTokens: i % 2 === 0 ? 2 : 0 }));
    const seen: number[] = [];
    const fp = await probeHonouringMaxTokens(
      new HttpAdapter({ baseUrl: `${server.url}/v1`, model: "m", concurrency: 2 }),
      { epoch: "e", probes },
      stated,
      2,
      (done, total) => {
        assert.equal(total, probes.length);
        seen.push(done);
      },
    );
    assert.deepEqual(Object.keys(fp.responses).sort(), probes.map((p) => p.id).sort());
    assert.equal(fp.queries, probes.length);
    assert.equal(Math.max(...seen), probes.length);
    const words = (id: string) => (fp.responses[id]?.text ?? "").trim().split(/\s+/).filter(Boolean).length;
    for (const p of probes.filter((_, i) => i % 2 === 0))
      assert.ok(words(p.id) <= 2, `probe ${p.id}: ${words(p.id)} words`);
    // Default-length answers run past two tokens (the model continues a corpus sentence).
    assert.ok(
      probes.filter((_, i) => i % 2 === 1).some((p) => words(p.id) > 2),
      "no default-length answer was longer than the capped ones",
    );
  } finally {
    await server.close();
  }
});
