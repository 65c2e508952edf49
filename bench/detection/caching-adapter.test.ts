import assert from "node:assert/strict";
import { test } from "node:test";
import type { GenerateRequest, ModelAdapter, ModelResponse } from "@lineage/fingerprint";
import { CachingAdapter } from "./caching-adapter.js";

class Counting implements ModelAdapter {
  calls = 0;
  fail = false;
  async generate(r: GenerateRequest): Promise<ModelResponse> {
    this.calls++;
    if (this.fail) throw new Error("down");
    return { text: `${r.prompt}#${this.calls}` };
  }
  describe() {
    return { kind: "replay" as const, target: "t", logprobs: false };
  }
}

test("identical deterministic requests are sent once; sampled ones always", async () => {
  const inner = new Counting();
  const a = new CachingAdapter(inner);
  const r1 = await a.generate({ prompt: "p", temperature: 0, seed: 0 });
  const r2 = await a.generate({ prompt: "p", temperature: 0, seed: 0 });
  assert.equal(r1, r2);
  await a.generate({ prompt: "p", temperature: 0, seed: 0, maxTokens: 5 });
  await a.generate({ prompt: "p", temperature: 1 });
  await a.generate({ prompt: "p", temperature: 1 });
  assert.equal(inner.calls, 4);
  assert.equal(a.sent, 4);
  assert.equal(a.answered, 5);
});

test("failures are not cached", async () => {
  const inner = new Counting();
  const a = new CachingAdapter(inner);
  inner.fail = true;
  await assert.rejects(a.generate({ prompt: "q", temperature: 0 }));
  inner.fail = false;
  assert.match((await a.generate({ prompt: "q", temperature: 0 })).text, /^q#/);
});

test("a scoring request (echo) and a generation of the same prompt are different requests", async () => {
  const inner = new Counting();
  const a = new CachingAdapter(inner);
  const base = { prompt: "p", mode: "completion" as const, temperature: 0, seed: 0, topLogprobs: 1 };
  await a.generate(base);
  await a.generate({ ...base, echo: true });
  await a.generate({ ...base, keepPositions: 0 });
  await a.generate({ ...base, echo: true });
  assert.equal(inner.calls, 3);
});
