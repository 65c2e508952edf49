import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HttpAdapter, tokenize } from "@lineage/fingerprint";
import {
  loadCorpus,
  NgramCounts,
  OOV_LOGPROB,
  serveTestbed,
  TestbedModel,
  type TestbedServer,
} from "../src/index.js";

let server: TestbedServer;
let model: TestbedModel;

before(async () => {
  const corpus = loadCorpus();
  const counts = new NgramCounts(3);
  for (const s of corpus.public.slice(0, 800)) counts.addSequence(corpus.tokens(s));
  model = new TestbedModel("tb-small", counts.compile());
  const other = new TestbedModel("tb-watermarked", counts.compile(), {
    watermark: { key: new Uint8Array(32).fill(9), gamma: 0.25, delta: 2 },
  });
  server = await serveTestbed({
    models: [model, other],
    host: "127.0.0.1",
    port: 0,
    maxBodyBytes: 16 * 1024,
  });
});
after(async () => {
  await server.close();
});

const post = async (path: string, body: unknown, raw?: string) => {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ?? JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: responses are JSON checked field by field below
  return { status: res.status, json: (await res.json()) as Record<string, any> };
};

describe("OpenAI-compatible testbed server", () => {
  it("lists models", async () => {
    const res = await fetch(`${server.url}/v1/models`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { object: string; data: { id: string }[] };
    assert.equal(body.object, "list");
    assert.deepEqual(body.data.map((m) => m.id).sort(), ["tb-small", "tb-watermarked"]);
    assert.equal((await fetch(`${server.url}/v1/models/tb-small`)).status, 200);
    assert.equal((await fetch(`${server.url}/v1/models/nope`)).status, 404);
  });

  it("serves chat completions with logprobs, deterministic under a seed", async () => {
    const req = {
      model: "tb-small",
      messages: [{ role: "user", content: "the president said" }],
      temperature: 0.8,
      seed: 42,
      max_tokens: 12,
      logprobs: true,
      top_logprobs: 3,
    };
    const a = await post("/v1/chat/completions", req);
    assert.equal(a.status, 200);
    const choice = a.json.choices[0];
    assert.equal(a.json.object, "chat.completion");
    assert.equal(choice.message.role, "assistant");
    assert.equal(
      choice.message.content,
      model.generate("the president said", { seed: 42, temperature: 0.8, maxTokens: 12 }).text,
    );
    const content = choice.logprobs.content as {
      token: string;
      logprob: number;
      bytes: number[];
      top_logprobs: unknown[];
    }[];
    assert.equal(content.length, a.json.usage.completion_tokens);
    assert.ok(content.every((t) => t.logprob <= 0 && t.top_logprobs.length === 3 && Array.isArray(t.bytes)));
    assert.equal(a.json.usage.prompt_tokens, 3);
    assert.equal(a.json.usage.total_tokens, a.json.usage.prompt_tokens + a.json.usage.completion_tokens);
    assert.ok(["stop", "length"].includes(choice.finish_reason));
    const b = await post("/v1/chat/completions", req);
    assert.equal(b.json.choices[0].message.content, choice.message.content);
  });

  it("serves legacy completions with top logprobs that match the model", async () => {
    const r = await post("/v1/completions", {
      model: "tb-small",
      prompt: "one of the",
      max_tokens: 1,
      logprobs: 5,
      temperature: 0,
    });
    assert.equal(r.status, 200);
    const lp = r.json.choices[0].logprobs;
    assert.equal(lp.tokens.length, 1);
    const expected = model.topLogprobs("one of the", 5);
    assert.deepEqual(
      Object.keys(lp.top_logprobs[0]),
      expected.map((t) => t.token),
    );
    assert.equal(lp.tokens[0], expected[0]?.token);
    assert.ok(Math.abs(lp.token_logprobs[0] - (expected[0]?.logprob ?? 0)) < 1e-12);
    assert.equal(r.json.choices[0].text.trim(), expected[0]?.token);
    assert.equal(lp.text_offset[0] >= "one of the".length, true);
  });

  it("scores the prompt with echo: every prompt token given the ones before it, as vLLM does", async () => {
    const prompt = "one of the men said that the";
    const toks = tokenize(prompt);
    const r = await post("/v1/completions", {
      model: "tb-small",
      prompt,
      max_tokens: 0,
      echo: true,
      logprobs: 4,
    });
    assert.equal(r.status, 200);
    const choice = r.json.choices[0];
    assert.equal(choice.text, prompt);
    const lp = choice.logprobs;
    assert.deepEqual(lp.tokens, toks);
    assert.equal(lp.token_logprobs[0], null);
    assert.equal(lp.top_logprobs[0], null);
    for (let i = 1; i < toks.length; i++) {
      const expected = model.topLogprobs(toks.slice(0, i), 4);
      assert.deepEqual(
        Object.entries(lp.top_logprobs[i]),
        expected.map((t) => [t.token, t.logprob]),
      );
      assert.ok(Math.abs(lp.token_logprobs[i] - model.logprob(toks.slice(0, i), toks[i] as string)) < 1e-12);
      assert.equal(prompt.slice(lp.text_offset[i], lp.text_offset[i] + (toks[i] as string).length), toks[i]);
    }
    // Echo with generation: the prompt's positions, then the generated ones.
    const g = await post("/v1/completions", {
      model: "tb-small",
      prompt,
      max_tokens: 3,
      echo: true,
      logprobs: 2,
      temperature: 0,
    });
    assert.equal(g.status, 200);
    assert.ok(g.json.choices[0].text.startsWith(prompt));
    assert.ok(g.json.choices[0].logprobs.tokens.length > toks.length);
    assert.ok(g.json.choices[0].logprobs.text_offset.at(-1) >= prompt.length);
    // A word the model never saw is scored with a finite floor (JSON has no -Infinity).
    const oov = await post("/v1/completions", {
      model: "tb-small",
      prompt: "the zqxjkvw",
      max_tokens: 0,
      echo: true,
      logprobs: 1,
    });
    assert.equal(oov.json.choices[0].logprobs.token_logprobs[1], OOV_LOGPROB);
    // max_tokens 0 only makes sense when scoring.
    const zero = await post("/v1/completions", { model: "tb-small", prompt, max_tokens: 0 });
    assert.equal(zero.status, 400);
  });

  it("the engine's HTTP adapter reads the scored prompt positions the model computes", async () => {
    const prompt = "one of the men said that the";
    const toks = tokenize(prompt);
    const a = new HttpAdapter({ baseUrl: server.url, model: "tb-small" });
    const r = await a.generate({ prompt, mode: "completion", topLogprobs: 3, echo: true, maxTokens: 2 });
    assert.equal(r.promptTokens?.length, toks.length);
    for (let i = 1; i < toks.length; i++) {
      assert.deepEqual(
        r.promptTokens?.[i]?.top.map((t) => t.token),
        model.topLogprobs(toks.slice(0, i), 3).map((t) => t.token),
      );
    }
    assert.ok((r.tokens?.length ?? 0) >= 1);
    assert.equal(r.tokens?.[0]?.offset, undefined);
  });

  it("honours stop sequences", async () => {
    const r = await post("/v1/completions", {
      model: "tb-small",
      prompt: "the",
      max_tokens: 30,
      seed: 1,
      stop: ["the"],
    });
    assert.equal(r.status, 200);
    assert.ok(!r.json.choices[0].text.includes("the"));
  });

  it("rejects bad input with OpenAI-style errors", async () => {
    const cases: [unknown, number, string | null][] = [
      [{ model: "nope", messages: [{ role: "user", content: "x" }] }, 404, "model"],
      [{ model: 5, messages: [] }, 400, "model"],
      [{ model: "tb-small", messages: "hi" }, 400, "messages"],
      [{ model: "tb-small", messages: [{ role: "robot", content: "x" }] }, 400, "messages[0].role"],
      [{ model: "tb-small", messages: [{ role: "user", content: 7 }] }, 400, "messages[0].content"],
      [
        { model: "tb-small", messages: [{ role: "user", content: "x" }], temperature: "hot" },
        400,
        "temperature",
      ],
      [{ model: "tb-small", messages: [{ role: "user", content: "x" }], temperature: 9 }, 400, "temperature"],
      [{ model: "tb-small", messages: [{ role: "user", content: "x" }], seed: 1.5 }, 400, "seed"],
      [
        { model: "tb-small", messages: [{ role: "user", content: "x" }], max_tokens: 100000 },
        400,
        "max_tokens",
      ],
      [
        { model: "tb-small", messages: [{ role: "user", content: "x" }], top_logprobs: 2 },
        400,
        "top_logprobs",
      ],
      [
        { model: "tb-small", messages: [{ role: "user", content: "x" }], logprobs: true, top_logprobs: 50 },
        400,
        "top_logprobs",
      ],
      [{ model: "tb-small", messages: [{ role: "user", content: "x" }], stream: true }, 400, "stream"],
      [{ model: "tb-small", messages: [{ role: "user", content: "x" }], n: 2 }, 400, "n"],
      [{ model: "tb-small", messages: [{ role: "user", content: "x" }], surprise: 1 }, 400, "surprise"],
      [[1, 2], 400, null],
    ];
    for (const [body, status, param] of cases) {
      const r = await post("/v1/chat/completions", body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(typeof r.json.error.message, "string");
      assert.equal(r.json.error.param ?? null, param, JSON.stringify(body));
    }
    const badJson = await post("/v1/chat/completions", null, "{not json");
    assert.equal(badJson.status, 400);
    assert.equal(badJson.json.error.code, "invalid_request");
    const tooBig = await post("/v1/completions", { model: "tb-small", prompt: "word ".repeat(5000) });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.json.error.code, "body_too_large");
    const longPrompt = await post("/v1/completions", { model: "tb-small", prompt: "a , ".repeat(2100) });
    assert.equal(longPrompt.status, 400);
    assert.equal(longPrompt.json.error.code, "context_length_exceeded");
    const promptType = await post("/v1/completions", { model: "tb-small", prompt: { text: "x" } });
    assert.equal(promptType.status, 400);
    assert.equal(promptType.json.error.param, "prompt");
    const echo = await post("/v1/completions", { model: "tb-small", prompt: "x", echo: "yes" });
    assert.equal(echo.status, 400);
    assert.equal((await fetch(`${server.url}/v1/chat/completions`)).status, 405);
    const missing = await fetch(`${server.url}/v2/anything`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "not_found");
  });

  it("does not echo prompt text in errors", async () => {
    const secret = "zyxwv-secret-canary-4711";
    const r = await post("/v1/chat/completions", {
      model: "tb-small",
      messages: [{ role: "user", content: secret }],
      temperature: -1,
    });
    assert.equal(r.status, 400);
    assert.ok(!JSON.stringify(r.json).includes(secret));
  });
});
