/**
 * An OpenAI-compatible HTTP server (node:http) for testbed models, so the engine probes them exactly as it
 * would a vLLM, llama.cpp or Ollama server. Implements the subset of the OpenAI API reference
 * (https://platform.openai.com/docs/api-reference) that probing uses:
 *
 *   GET  /v1/models, /v1/models/{id}
 *   POST /v1/chat/completions  {model, messages, temperature?, seed?, max_tokens? | max_completion_tokens?,
 *                               logprobs?, top_logprobs?, stop?, n? (1), stream? (false)}
 *        -> choices[0].message.content, choices[0].logprobs.content[{token, logprob, bytes, top_logprobs}]
 *   POST /v1/completions       {model, prompt, temperature?, seed?, max_tokens?, logprobs? (k), stop?, echo? (false)}
 *        -> choices[0].text, legacy choices[0].logprobs {tokens, token_logprobs, top_logprobs, text_offset}
 *        With echo the text and the log-probabilities start with the prompt's own tokens, each scored given
 *        the tokens before it (the first has no context: null), as vLLM and the legacy OpenAI API do;
 *        `max_tokens: 0` with echo scores the prompt without generating. A token the model has never seen
 *        gets log-probability OOV_LOGPROB (JSON has no -Infinity).
 *
 * Bodies are untrusted: size-bounded while streaming, parsed, and every known field type- and
 * range-checked; unknown fields and unsupported options are rejected, not ignored. Errors are OpenAI-style
 * JSON `{"error": {"message", "type", "param", "code"}}` with a 4xx status; messages never echo prompt text.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tokenize } from "@lineage/fingerprint";
import {
  type BuildProgress,
  buildPopulation,
  type Population,
  type PopulationSize,
  type Split,
} from "./population.js";
import { TestbedError, type TestbedErrorCode } from "./testbed-error.js";
import { type Generation, MAX_GENERATION_TOKENS, type TestbedModel } from "./testbed-model.js";

/** Request bounds. */
export const MAX_BODY_BYTES = 256 * 1024;
export const MAX_PROMPT_TOKENS = 4096;
export const MAX_MESSAGES = 128;
export const MAX_TOP_LOGPROBS = 20;
const MAX_STOP = 4;

/** Options of {@link serveTestbed}. */
export interface ServeTestbedOptions {
  readonly models: ReadonlyMap<string, TestbedModel> | readonly TestbedModel[];
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (an ephemeral port). */
  readonly port?: number;
  /** Default {@link MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
}

/** A running server. */
export interface TestbedServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234` (append `/v1/...`). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The one table from error codes to HTTP status and OpenAI error type. */
const STATUS: Record<TestbedErrorCode, [number, string]> = {
  invalid_argument: [400, "invalid_request_error"],
  invalid_request: [400, "invalid_request_error"],
  too_many_tokens: [400, "invalid_request_error"],
  body_too_large: [413, "invalid_request_error"],
  model_not_found: [404, "invalid_request_error"],
  not_found: [404, "invalid_request_error"],
  method_not_allowed: [405, "invalid_request_error"],
  cache_corrupt: [500, "server_error"],
  corpus_unavailable: [500, "server_error"],
};

function bad(message: string, param?: string, code: TestbedErrorCode = "invalid_request"): TestbedError {
  return new TestbedError(code, message, param === undefined ? {} : { param });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": data.length });
  res.end(data);
}

function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof TestbedError) {
    const [status, type] = STATUS[err.code];
    const safe = status < 500 ? err.message : "internal error";
    const code = err.code === "too_many_tokens" ? "context_length_exceeded" : err.code;
    sendJson(res, status, { error: { message: safe, type, param: err.param ?? null, code } });
    return;
  }
  sendJson(res, 500, { error: { message: "internal error", type: "server_error", param: null, code: null } });
}

/** Reads a body up to `limit` bytes (untrusted: stops reading and fails past the bound). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      reject(bad(`request body exceeds ${limit} bytes`, undefined, "body_too_large"));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(bad(`request body exceeds ${limit} bytes`, undefined, "body_too_large"));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => {
      if (!failed) reject(bad("request body could not be read", undefined, "invalid_request"));
      failed = true;
      void e;
    });
  });
}

type Body = Record<string, unknown>;

function parseJsonObject(buf: Buffer): Body {
  let v: unknown;
  try {
    v = JSON.parse(buf.toString("utf8"));
  } catch {
    throw bad("request body is not valid JSON");
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw bad("request body must be a JSON object");
  return v as Body;
}

function checkKnown(body: Body, known: readonly string[]): void {
  for (const k of Object.keys(body))
    if (!known.includes(k)) throw bad(`unrecognized request argument: ${k}`, k);
}

function optNumber(body: Body, key: string, lo: number, hi: number, integer: boolean): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw bad(`${key} must be ${integer ? "an integer" : "a number"}`, key);
  }
  if (v < lo || v > hi) throw bad(`${key} must be in [${lo}, ${hi}]`, key);
  return v;
}

function optBoolean(body: Body, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw bad(`${key} must be a boolean`, key);
  return v;
}

function parseStop(body: Body): string[] {
  const v = body.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === "string" ? [v] : v;
  if (
    !Array.isArray(list) ||
    list.length > MAX_STOP ||
    !list.every((s) => typeof s === "string" && s.length > 0 && s.length <= 64)
  ) {
    throw bad(
      `stop must be a non-empty string or an array of at most ${MAX_STOP} such strings (≤ 64 chars)`,
      "stop",
    );
  }
  return list as string[];
}

interface Common {
  model: TestbedModel;
  temperature: number;
  seed: number | undefined;
  maxTokens: number;
  stop: string[];
}

function parseCommon(
  body: Body,
  models: ReadonlyMap<string, TestbedModel>,
  defaultMax: number,
  maxKey: string,
): Common {
  if (typeof body.model !== "string" || body.model.length === 0 || body.model.length > 256) {
    throw bad("model must be a non-empty string", "model");
  }
  const model = models.get(body.model);
  if (!model) throw bad(`the model ${JSON.stringify(body.model)} does not exist`, "model", "model_not_found");
  const n = optNumber(body, "n", 1, 1, true);
  void n;
  if (optBoolean(body, "stream") === true) throw bad("stream is not supported", "stream");
  const topP = optNumber(body, "top_p", 0, 1, false);
  if (topP !== undefined && topP !== 1) throw bad("top_p other than 1 is not supported", "top_p");
  for (const k of ["presence_penalty", "frequency_penalty"]) {
    const p = optNumber(body, k, -2, 2, false);
    if (p !== undefined && p !== 0) throw bad(`${k} other than 0 is not supported`, k);
  }
  if (body.user !== undefined && typeof body.user !== "string") throw bad("user must be a string", "user");
  const maxTokens = optNumber(body, maxKey, 1, Number.MAX_SAFE_INTEGER, true) ?? defaultMax;
  if (maxTokens > MAX_GENERATION_TOKENS) {
    throw bad(`${maxKey} must be at most ${MAX_GENERATION_TOKENS}`, maxKey, "too_many_tokens");
  }
  return {
    model,
    temperature: optNumber(body, "temperature", 0, 2, false) ?? 1,
    seed: optNumber(body, "seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true),
    maxTokens,
    stop: parseStop(body),
  };
}

/** Log-probability reported for a prompt token outside the model's vocabulary. */
export const OOV_LOGPROB = -100;

function promptTokens(text: string): string[] {
  const toks = tokenize(text);
  if (toks.length > MAX_PROMPT_TOKENS) {
    throw bad(
      `prompt has ${toks.length} tokens; the maximum is ${MAX_PROMPT_TOKENS}`,
      undefined,
      "too_many_tokens",
    );
  }
  return toks;
}

/** Cuts a generation at the first stop sequence (in text), keeping tokens whose text precedes it. */
function applyStop(
  gen: Generation,
  stop: readonly string[],
): { text: string; count: number; stopped: boolean } {
  let cut = -1;
  for (const s of stop) {
    const i = gen.text.indexOf(s);
    if (i >= 0 && (cut < 0 || i < cut)) cut = i;
  }
  if (cut < 0) return { text: gen.text, count: gen.tokens.length, stopped: gen.finishReason === "stop" };
  const text = gen.text.slice(0, cut);
  // Count tokens fully inside the kept text.
  let count = 0;
  let pos = 0;
  for (const t of gen.tokens) {
    const at = gen.text.indexOf(t, pos);
    if (at < 0 || at + t.length > cut) break;
    pos = at + t.length;
    count++;
  }
  return { text, count, stopped: true };
}

const bytesOf = (t: string): number[] => [...Buffer.from(t, "utf8")];

function chatCompletion(body: Body, models: ReadonlyMap<string, TestbedModel>): unknown {
  checkKnown(body, [
    "model",
    "messages",
    "temperature",
    "seed",
    "max_tokens",
    "max_completion_tokens",
    "logprobs",
    "top_logprobs",
    "stop",
    "n",
    "stream",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "user",
  ]);
  if (body.max_tokens !== undefined && body.max_completion_tokens !== undefined) {
    throw bad("give max_tokens or max_completion_tokens, not both", "max_completion_tokens");
  }
  const c = parseCommon(
    body,
    models,
    64,
    body.max_completion_tokens !== undefined ? "max_completion_tokens" : "max_tokens",
  );
  const msgs = body.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) throw bad("messages must be a non-empty array", "messages");
  if (msgs.length > MAX_MESSAGES) throw bad(`at most ${MAX_MESSAGES} messages`, "messages");
  const texts: string[] = [];
  for (const [i, m] of msgs.entries()) {
    const param = `messages[${i}]`;
    if (m === null || typeof m !== "object" || Array.isArray(m))
      throw bad(`${param} must be an object`, param);
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (role !== "system" && role !== "user" && role !== "assistant" && role !== "developer") {
      throw bad(`${param}.role must be system, developer, user or assistant`, `${param}.role`);
    }
    if (typeof content === "string") texts.push(content);
    else if (Array.isArray(content)) {
      for (const [j, part] of content.entries()) {
        const p = part as { type?: unknown; text?: unknown } | null;
        if (p === null || typeof p !== "object" || p.type !== "text" || typeof p.text !== "string") {
          throw bad(`${param}.content[${j}] must be a text part`, `${param}.content`);
        }
        texts.push(p.text);
      }
    } else throw bad(`${param}.content must be a string or an array of text parts`, `${param}.content`);
  }
  const logprobs = optBoolean(body, "logprobs") ?? false;
  const top = optNumber(body, "top_logprobs", 0, MAX_TOP_LOGPROBS, true);
  if (top !== undefined && !logprobs) throw bad("top_logprobs requires logprobs: true", "top_logprobs");
  const toks = promptTokens(texts.join("\n"));
  const gen = c.model.generateFromTokens(toks, {
    temperature: c.temperature,
    maxTokens: c.maxTokens,
    ...(c.seed !== undefined ? { seed: c.seed } : {}),
    ...(logprobs ? { topLogprobs: top ?? 0 } : {}),
  });
  const cut = applyStop(gen, c.stop);
  const content = (gen.logprobs ?? []).slice(0, cut.count).map((t) => ({
    token: t.token,
    logprob: t.logprob,
    bytes: bytesOf(t.token),
    top_logprobs: t.topLogprobs.map((a) => ({ token: a.token, logprob: a.logprob, bytes: bytesOf(a.token) })),
  }));
  return {
    id: `chatcmpl-${randomBytes(12).toString("hex")}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: c.model.id,
    system_fingerprint: "lineage-testbed-v1",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: cut.text },
        logprobs: logprobs ? { content } : null,
        finish_reason: cut.stopped ? "stop" : "length",
      },
    ],
    usage: {
      prompt_tokens: toks.length,
      completion_tokens: cut.count,
      total_tokens: toks.length + cut.count,
    },
  };
}

function completion(body: Body, models: ReadonlyMap<string, TestbedModel>): unknown {
  checkKnown(body, [
    "model",
    "prompt",
    "temperature",
    "seed",
    "max_tokens",
    "logprobs",
    "stop",
    "n",
    "stream",
    "echo",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "user",
  ]);
  const echo = optBoolean(body, "echo") ?? false;
  // Scoring with echo may ask for no new tokens (max_tokens 0), as the legacy API allowed.
  const scoreOnly = echo && body.max_tokens === 0;
  const c = parseCommon(scoreOnly ? { ...body, max_tokens: 1 } : body, models, 16, "max_tokens");
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1) prompt = prompt[0];
  if (typeof prompt !== "string") throw bad("prompt must be a string (or an array of one string)", "prompt");
  const k = optNumber(body, "logprobs", 0, MAX_TOP_LOGPROBS, true);
  const toks = promptTokens(prompt);
  const gen = scoreOnly
    ? null
    : c.model.generateFromTokens(toks, {
        temperature: c.temperature,
        maxTokens: c.maxTokens,
        ...(c.seed !== undefined ? { seed: c.seed } : {}),
        ...(k !== undefined ? { topLogprobs: k } : {}),
      });
  const cut = gen ? applyStop(gen, c.stop) : { text: "", count: 0, stopped: false };
  // Legacy completions append to the prompt: lead with a space unless the text starts with punctuation.
  const lead = cut.text !== "" && !/^[.,;:!?%)\]}]/.test(cut.text) ? " " : "";
  const generated = lead + cut.text;
  const text = echo ? prompt + generated : generated;
  let logprobs: unknown = null;
  if (k !== undefined) {
    const tokens: string[] = [];
    const tokenLogprobs: (number | null)[] = [];
    const tops: (Record<string, number> | null)[] = [];
    const offsets: number[] = [];
    if (echo) {
      // The prompt's own tokens, each scored given the tokens before it (the first has no context: null).
      let pos = 0;
      for (const [i, t] of toks.entries()) {
        const at = prompt.indexOf(t, pos);
        offsets.push(at < 0 ? pos : at);
        pos = at < 0 ? pos : at + t.length;
        tokens.push(t);
        if (i === 0) {
          tokenLogprobs.push(null);
          tops.push(null);
          continue;
        }
        const before = toks.slice(0, i);
        const lp = c.model.logprob(before, t);
        tokenLogprobs.push(Number.isFinite(lp) ? lp : OOV_LOGPROB);
        tops.push(
          k === 0 ? {} : Object.fromEntries(c.model.topLogprobs(before, k).map((a) => [a.token, a.logprob])),
        );
      }
    }
    const kept = gen?.logprobs?.slice(0, cut.count) ?? [];
    let pos = 0;
    for (const t of kept) {
      const at = generated.indexOf(t.token, pos);
      offsets.push(prompt.length + (at < 0 ? pos : at));
      pos = at < 0 ? pos : at + t.token.length;
      tokens.push(t.token);
      tokenLogprobs.push(t.logprob);
      tops.push(Object.fromEntries(t.topLogprobs.map((a) => [a.token, a.logprob])));
    }
    logprobs = { tokens, token_logprobs: tokenLogprobs, top_logprobs: tops, text_offset: offsets };
  }
  return {
    id: `cmpl-${randomBytes(12).toString("hex")}`,
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: c.model.id,
    system_fingerprint: "lineage-testbed-v1",
    choices: [{ index: 0, text, logprobs, finish_reason: cut.stopped || scoreOnly ? "stop" : "length" }],
    usage: {
      prompt_tokens: toks.length,
      completion_tokens: cut.count,
      total_tokens: toks.length + cut.count,
    },
  };
}

/** Starts an OpenAI-compatible server for the given models. */
export async function serveTestbed(options: ServeTestbedOptions): Promise<TestbedServer> {
  const models = new Map<string, TestbedModel>();
  const list =
    options.models instanceof Map
      ? [...options.models.entries()]
      : (options.models as readonly TestbedModel[]).map((m) => [m.id, m] as const);
  for (const [id, m] of list) {
    if (models.has(id)) throw new TestbedError("invalid_argument", `duplicate model id ${id}`);
    models.set(id, m);
  }
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TestbedError("invalid_argument", "port must be in [0, 65535]");
  const created = Math.floor(Date.now() / 1000);
  const modelObject = (id: string) => ({ id, object: "model", created, owned_by: "lineage-testbed" });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/v1/models") {
      if (req.method !== "GET") throw bad("use GET", undefined, "method_not_allowed");
      sendJson(res, 200, { object: "list", data: [...models.keys()].map(modelObject) });
      return;
    }
    if (path.startsWith("/v1/models/")) {
      if (req.method !== "GET") throw bad("use GET", undefined, "method_not_allowed");
      const id = decodeURIComponent(path.slice("/v1/models/".length));
      if (!models.has(id)) throw bad("the model does not exist", "model", "model_not_found");
      sendJson(res, 200, modelObject(id));
      return;
    }
    if (path === "/v1/chat/completions" || path === "/v1/completions") {
      if (req.method !== "POST") throw bad("use POST", undefined, "method_not_allowed");
      const body = parseJsonObject(await readBody(req, limit));
      sendJson(
        res,
        200,
        path === "/v1/completions" ? completion(body, models) : chatCompletion(body, models),
      );
      return;
    }
    throw bad(`no route ${req.method ?? ""} ${path}`, undefined, "not_found");
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };
  return {
    url: `http://${urlHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Options of {@link serveTestbedPopulation} (what `lineage testbed serve` passes). */
export interface ServePopulationOptions {
  readonly split: Split;
  readonly size?: PopulationSize;
  readonly host?: string;
  readonly port?: number;
  readonly cacheDir?: string | false;
  readonly onProgress?: (p: BuildProgress) => void;
}

/** Builds (or loads) a split's population and serves every model of it under its entry id. */
export async function serveTestbedPopulation(
  options: ServePopulationOptions,
): Promise<TestbedServer & { population: Population }> {
  const population = await buildPopulation({
    split: options.split,
    ...(options.size ? { size: options.size } : {}),
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const server = await serveTestbed({
    models: population.entries.map((e) => e.model),
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  return Object.assign(server, { population });
}
