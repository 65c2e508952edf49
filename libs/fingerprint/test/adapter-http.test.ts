/**
 * The HTTP adapter against real local node:http servers (bound to 127.0.0.1:0): a well-behaved
 * OpenAI-compatible server, one that never answers, one that returns garbage, one that 429s then
 * succeeds, and one whose fields have the wrong types.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { FingerprintError, type FingerprintErrorCode, HttpAdapter } from "@lineage/fingerprint";

async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const isCode = (code: FingerprintErrorCode) => (e: unknown) =>
  e instanceof FingerprintError && e.code === code;

test("chat and completion requests carry sampling controls; logprobs are parsed", async () => {
  const seen: Record<string, unknown>[] = [];
  await using srv = await serve((req, body, res) => {
    const b = JSON.parse(body) as Record<string, unknown>;
    seen.push({ path: req.url, ...b });
    res.setHeader("content-type", "application/json");
    if (req.url === "/v1/chat/completions") {
      res.end(
        JSON.stringify({
          choices: [
            {
              message: { role: "assistant", content: "hello there" },
              logprobs: {
                content: [
                  {
                    token: "hello",
                    logprob: -0.1,
                    top_logprobs: [
                      { token: "hello", logprob: -0.1 },
                      { token: "hi", logprob: -2.4 },
                    ],
                  },
                ],
              },
            },
          ],
        }),
      );
    } else {
      res.end(
        JSON.stringify({
          choices: [
            {
              text: " world",
              logprobs: {
                tokens: [" world"],
                token_logprobs: [-0.3],
                top_logprobs: [{ " world": -0.3, " there": -1.5 }],
              },
            },
          ],
        }),
      );
    }
  });
  const a = new HttpAdapter({ baseUrl: `${srv.url}/v1`, model: "m", apiKey: "secret" });
  const chat = await a.generate({ prompt: "hi", temperature: 0, seed: 3, topLogprobs: 2, maxTokens: 8 });
  assert.equal(chat.text, "hello there");
  assert.equal(chat.tokens?.[0]?.top[1]?.token, "hi");
  const comp = await a.generate({ prompt: "hello", mode: "completion", topLogprobs: 2 });
  assert.equal(comp.tokens?.[0]?.top[0]?.token, " world");
  assert.deepEqual(
    {
      t: seen[0]?.temperature,
      s: seen[0]?.seed,
      l: seen[0]?.logprobs,
      k: seen[0]?.top_logprobs,
      m: seen[0]?.max_tokens,
    },
    { t: 0, s: 3, l: true, k: 2, m: 8 },
  );
  assert.equal(seen[1]?.path, "/v1/completions");
  assert.equal(seen[1]?.logprobs, 2);
  const d = a.describe();
  assert.equal(d.logprobs, true);
  assert.ok(!JSON.stringify(d).includes("secret"));
});

test("an endpoint that never answers times out (retried, then HTTP_TIMEOUT)", async () => {
  let hits = 0;
  await using srv = await serve(() => {
    hits++;
  });
  const a = new HttpAdapter({ baseUrl: srv.url, model: "m", timeoutMs: 150, retries: 1, backoffBaseMs: 1 });
  await assert.rejects(a.generate({ prompt: "x" }), isCode("HTTP_TIMEOUT"));
  assert.equal(hits, 2);
});

test("garbage and wrong shapes are HTTP_BAD_RESPONSE, not retried", async () => {
  const bodies = [
    "<html>oops",
    '{"choices":[]}',
    '{"choices":[{"message":{"content":42}}]}',
    '{"choices":[{"message":{"content":"x"},"logprobs":{"content":[{"token":"x","logprob":"high"}]}}]}',
  ];
  let i = 0;
  let hits = 0;
  await using srv = await serve((_req, _b, res) => {
    hits++;
    res.end(bodies[i++ % bodies.length]);
  });
  const a = new HttpAdapter({ baseUrl: srv.url, model: "m", retries: 3, backoffBaseMs: 1 });
  for (let k = 0; k < bodies.length; k++)
    await assert.rejects(a.generate({ prompt: "x" }), isCode("HTTP_BAD_RESPONSE"));
  assert.equal(hits, bodies.length);
});

test("429 with Retry-After is honoured, then the request succeeds; 400 is not retried", async () => {
  let calls = 0;
  const times: number[] = [];
  await using srv = await serve((req, body, res) => {
    calls++;
    times.push(Date.now());
    if (JSON.parse(body).messages[0].content === "bad") {
      res.statusCode = 400;
      res.end("{}");
      return;
    }
    if (calls <= 2) {
      res.statusCode = 429;
      res.setHeader("retry-after", "0.2");
      res.end("slow down");
      return;
    }
    void req;
    res.end(JSON.stringify({ choices: [{ message: { content: "ok" } }] }));
  });
  const a = new HttpAdapter({ baseUrl: srv.url, model: "m", retries: 3, backoffBaseMs: 1 });
  assert.equal((await a.generate({ prompt: "x" })).text, "ok");
  assert.equal(calls, 3);
  assert.ok((times[1] ?? 0) - (times[0] ?? 0) >= 180, "Retry-After honoured");
  await assert.rejects(
    a.generate({ prompt: "bad" }),
    (e: unknown) => isCode("HTTP_STATUS")(e) && !(e as FingerprintError).retryable,
  );
});

test("concurrency and rate limits hold; a refused connection is HTTP_NETWORK", async () => {
  let active = 0;
  let peak = 0;
  await using srv = await serve((_req, _b, res) => {
    active++;
    peak = Math.max(peak, active);
    setTimeout(() => {
      active--;
      res.end(JSON.stringify({ choices: [{ message: { content: "ok" } }] }));
    }, 30);
  });
  const a = new HttpAdapter({ baseUrl: srv.url, model: "m", concurrency: 2, ratePerSecond: 50 });
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 8 }, () => a.generate({ prompt: "x" })));
  assert.ok(peak <= 2, `peak ${peak}`);
  assert.ok(Date.now() - t0 >= 7 * 20 - 5, "rate limit spaces request starts");
  const dead = new HttpAdapter({ baseUrl: "http://127.0.0.1:1", model: "m", retries: 0 });
  await assert.rejects(dead.generate({ prompt: "x" }), isCode("HTTP_NETWORK"));
  assert.throws(() => new HttpAdapter({ baseUrl: "ftp://x", model: "m" }), isCode("INVALID_ARGUMENT"));
});

test("oversized bodies are refused", async () => {
  await using srv = await serve((_req, _b, res) => {
    res.end(JSON.stringify({ choices: [{ message: { content: "x".repeat(5000) } }] }));
  });
  const a = new HttpAdapter({ baseUrl: srv.url, model: "m", maxResponseBytes: 1000 });
  await assert.rejects(a.generate({ prompt: "x" }), isCode("HTTP_OVERSIZE"));
});

test("echo: scored prompt positions are split from generated ones; a server refusing echo is asked without", async () => {
  const seen: Record<string, unknown>[] = [];
  await using srv = await serve((_req, body, res) => {
    const b = JSON.parse(body) as Record<string, unknown>;
    seen.push(b);
    if (b.echo === true && b.model === "no-echo") {
      res.statusCode = 400;
      res.end(JSON.stringify({ error: { message: "echo is not supported" } }));
      return;
    }
    const prompt = String(b.prompt);
    const echoed = b.echo === true;
    res.end(
      JSON.stringify({
        choices: [
          {
            text: echoed ? `${prompt} end` : " end",
            logprobs: {
              tokens: echoed ? ["ab", " cd", " end"] : [" end"],
              token_logprobs: echoed ? [null, -1, -0.5] : [-0.5],
              top_logprobs: echoed ? [null, { " cd": -1, " xy": -2 }, { " end": -0.5 }] : [{ " end": -0.5 }],
              text_offset: echoed ? [0, 2, 5] : [5],
            },
          },
        ],
      }),
    );
  });
  const a = new HttpAdapter({ baseUrl: srv.url, model: "m" });
  const r = await a.generate({ prompt: "ab cd", mode: "completion", topLogprobs: 2, echo: true });
  assert.equal(r.text, " end");
  assert.deepEqual(
    r.promptTokens?.map((t) => [t.token, t.offset, t.top.length]),
    [
      ["ab", 0, 0],
      [" cd", 2, 2],
    ],
  );
  assert.deepEqual(
    r.tokens?.map((t) => t.token),
    [" end"],
  );
  assert.equal(seen[0]?.echo, true);
  // Refused once with 400: asked again without echo, and not asked with echo again.
  const b = new HttpAdapter({ baseUrl: srv.url, model: "no-echo" });
  const first = await b.generate({ prompt: "ab cd", mode: "completion", topLogprobs: 2, echo: true });
  assert.equal(first.promptTokens, undefined);
  assert.equal(first.text, " end");
  const before = seen.length;
  await b.generate({ prompt: "ab cd", mode: "completion", topLogprobs: 2, echo: true });
  assert.equal(seen.length, before + 1);
  assert.equal(seen.at(-1)?.echo, undefined);
});

test("echo: an answer that does not start with the prompt or lacks offsets is HTTP_BAD_RESPONSE", async () => {
  const { parseCompletionResponse } = await import("@lineage/fingerprint");
  const body = (text: string, offsets?: number[]) => ({
    choices: [
      {
        text,
        logprobs: {
          tokens: ["a", " b"],
          token_logprobs: [null, -1],
          top_logprobs: [null, { " b": -1 }],
          ...(offsets ? { text_offset: offsets } : {}),
        },
      },
    ],
  });
  assert.throws(() => parseCompletionResponse(body("zz b", [0, 1]), "a"), isCode("HTTP_BAD_RESPONSE"));
  assert.throws(() => parseCompletionResponse(body("a b"), "a"), isCode("HTTP_BAD_RESPONSE"));
  assert.throws(() => parseCompletionResponse(body("a b", [0, 99]), "a"), isCode("HTTP_BAD_RESPONSE"));
  assert.throws(() => parseCompletionResponse(body("a b", [2, 0]), "a b"), isCode("HTTP_BAD_RESPONSE"));
  assert.equal(parseCompletionResponse(body("a b", [0, 1]), "a").promptTokens?.length, 1);
});

test("keepPositions drops log-probabilities after the first positions and keeps the whole text", async () => {
  const content = Array.from({ length: 10 }, (_, i) => ({
    token: ` t${i}`,
    logprob: -0.1,
    top_logprobs: [{ token: ` t${i}`, logprob: -0.1 }],
  }));
  await using srv = await serve((_req, _body, res) => {
    res.end(
      JSON.stringify({
        choices: [{ message: { content: content.map((c) => c.token).join("") }, logprobs: { content } }],
      }),
    );
  });
  const a = new HttpAdapter({ baseUrl: srv.url, model: "m" });
  const r = await a.generate({ prompt: "x", topLogprobs: 1, keepPositions: 3 });
  assert.equal(r.tokens?.length, 3);
  assert.equal(r.text.trim().split(" ").length, 10);
  assert.equal((await a.generate({ prompt: "x", topLogprobs: 1 })).tokens?.length, 10);
  await assert.rejects(
    a.generate({ prompt: "x", topLogprobs: 1, keepPositions: -1 }),
    isCode("INVALID_ARGUMENT"),
  );
});
