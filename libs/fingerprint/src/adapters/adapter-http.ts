/**
 * OpenAI-compatible HTTP adapter (`/v1/chat/completions`, `/v1/completions`), as served by vLLM,
 * llama.cpp, Ollama and the Lineage testbed. Every response body is untrusted: it is size-bounded, parsed
 * defensively and checked field by field, and a violation is a FingerprintError HTTP_BAD_RESPONSE naming
 * the field. Transient failures (429, 5xx, network errors, timeouts) are retried with exponential backoff
 * and full jitter, honouring Retry-After; concurrency and request rate are limited per adapter.
 * Uses only the global `fetch` (no node:net), so the package stays pure.
 */

import { FingerprintError } from "../fingerprint-error.js";
import type { ModelResponse, TokenLogprobs, TopLogprob } from "../probe/probe-types.js";
import type { AdapterDescription, GenerateRequest, ModelAdapter } from "./adapter-types.js";

/** Options of the HTTP adapter. */
export interface HttpAdapterOptions {
  /** Base URL, e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted). */
  readonly baseUrl: string;
  readonly model: string;
  /** Sent as a Bearer token; never reported by describe() or in errors. */
  readonly apiKey?: string;
  /** Per-attempt timeout (default 30 s). */
  readonly timeoutMs?: number;
  /** Retries after the first attempt (default 3). */
  readonly retries?: number;
  /** First backoff (default 250 ms), doubled each retry up to `backoffMaxMs` (default 8 s). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Upper bound on an honoured Retry-After (default 60 s). */
  readonly retryAfterMaxMs?: number;
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number;
  /** Request starts per second (default unlimited). */
  readonly ratePerSecond?: number;
  /** Largest accepted body (default 4 MiB). */
  readonly maxResponseBytes?: number;
  /** Random source for jitter (tests pin it). */
  readonly random?: () => number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new FingerprintError("ABORTED", "generation aborted"));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new FingerprintError("ABORTED", "generation aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** Parses a Retry-After header (delta-seconds or HTTP date) into milliseconds, or null. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

function badResponse(what: string): FingerprintError {
  return new FingerprintError("HTTP_BAD_RESPONSE", `endpoint response: ${what}`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkLogprob(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v > 1e-9)
    throw badResponse(`${where} must be a finite number <= 0`);
  return Math.min(0, v);
}

/** Validates a chat-completions body (untrusted) into a ModelResponse. */
export function parseChatResponse(body: unknown): ModelResponse {
  if (!isObj(body)) throw badResponse("body must be a JSON object");
  const choices = body.choices;
  if (!Array.isArray(choices) || choices.length === 0)
    throw badResponse('"choices" must be a non-empty array');
  const c = choices[0];
  if (!isObj(c)) throw badResponse('"choices[0]" must be an object');
  if (!isObj(c.message)) throw badResponse('"choices[0].message" must be an object');
  const content = c.message.content;
  if (typeof content !== "string") throw badResponse('"choices[0].message.content" must be a string');
  if (c.logprobs === undefined || c.logprobs === null) return { text: content };
  if (!isObj(c.logprobs) || !Array.isArray(c.logprobs.content)) {
    throw badResponse('"choices[0].logprobs.content" must be an array');
  }
  const tokens: TokenLogprobs[] = c.logprobs.content.map((e: unknown, i: number) => {
    const w = `"logprobs.content[${i}]"`;
    if (!isObj(e) || typeof e.token !== "string") throw badResponse(`${w}.token must be a string`);
    const lp = checkLogprob(e.logprob, `${w}.logprob`);
    const tl = e.top_logprobs ?? [];
    if (!Array.isArray(tl)) throw badResponse(`${w}.top_logprobs must be an array`);
    const top: TopLogprob[] = tl.map((t: unknown, k: number) => {
      if (!isObj(t) || typeof t.token !== "string")
        throw badResponse(`${w}.top_logprobs[${k}].token must be a string`);
      return { token: t.token, logprob: checkLogprob(t.logprob, `${w}.top_logprobs[${k}].logprob`) };
    });
    return { token: e.token, logprob: lp, top };
  });
  return { text: content, tokens };
}

/**
 * Validates a legacy completions body (untrusted) into a ModelResponse. With `echoedPrompt` (the request
 * asked for echo) the text must start with the prompt; positions whose text_offset falls inside the prompt
 * become `promptTokens` (the first, which has no context, carries no alternatives) and the rest `tokens`.
 */
export function parseCompletionResponse(body: unknown, echoedPrompt?: string): ModelResponse {
  if (!isObj(body)) throw badResponse("body must be a JSON object");
  const choices = body.choices;
  if (!Array.isArray(choices) || choices.length === 0)
    throw badResponse('"choices" must be a non-empty array');
  const c = choices[0];
  if (!isObj(c)) throw badResponse('"choices[0]" must be an object');
  if (typeof c.text !== "string") throw badResponse('"choices[0].text" must be a string');
  let text = c.text;
  if (echoedPrompt !== undefined) {
    if (!text.startsWith(echoedPrompt))
      throw badResponse('"choices[0].text" must start with the prompt when echo was asked');
    text = text.slice(echoedPrompt.length);
  }
  if (c.logprobs === undefined || c.logprobs === null) return { text };
  const lp = c.logprobs;
  if (!isObj(lp) || !Array.isArray(lp.tokens))
    throw badResponse('"choices[0].logprobs.tokens" must be an array');
  const tokLps = Array.isArray(lp.token_logprobs) ? lp.token_logprobs : [];
  const tops = Array.isArray(lp.top_logprobs) ? lp.top_logprobs : [];
  const offsets: unknown[] | null = Array.isArray(lp.text_offset) ? lp.text_offset : null;
  if (echoedPrompt !== undefined && (offsets === null || offsets.length !== lp.tokens.length))
    throw badResponse('"logprobs.text_offset" must give one offset per token when echo was asked');
  const all: TokenLogprobs[] = lp.tokens.map((t: unknown, i: number) => {
    if (typeof t !== "string") throw badResponse(`"logprobs.tokens[${i}]" must be a string`);
    const topRaw = tops[i];
    const top: TopLogprob[] = [];
    if (topRaw !== undefined && topRaw !== null) {
      if (!isObj(topRaw)) throw badResponse(`"logprobs.top_logprobs[${i}]" must be an object`);
      for (const [tok, v] of Object.entries(topRaw)) {
        top.push({ token: tok, logprob: checkLogprob(v, `"logprobs.top_logprobs[${i}]"`) });
      }
      top.sort((a, b) => b.logprob - a.logprob);
    }
    const own = tokLps[i];
    let offset: number | undefined;
    if (echoedPrompt !== undefined) {
      const o = offsets?.[i];
      if (typeof o !== "number" || !Number.isInteger(o) || o < 0 || o > (c.text as string).length)
        throw badResponse(`"logprobs.text_offset[${i}]" must be an offset into the text`);
      offset = o;
    }
    const base =
      own === undefined || own === null
        ? { token: t, top }
        : { token: t, logprob: checkLogprob(own, `"logprobs.token_logprobs[${i}]"`), top };
    return offset === undefined ? base : { ...base, offset };
  });
  if (echoedPrompt === undefined) return { text, tokens: all };
  const promptTokens = all.filter((t) => (t.offset ?? 0) < echoedPrompt.length);
  for (let i = 1; i < promptTokens.length; i++) {
    if ((promptTokens[i]?.offset ?? 0) < (promptTokens[i - 1]?.offset ?? 0))
      throw badResponse('"logprobs.text_offset" must not decrease');
  }
  const tokens = all
    .filter((t) => (t.offset ?? 0) >= echoedPrompt.length)
    .map(({ offset: _o, ...rest }) => rest);
  return { text, tokens, promptTokens };
}

/** Reads a body with a byte bound (the server is untrusted and may stream forever). */
async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw new FingerprintError("HTTP_OVERSIZE", `endpoint body larger than ${max} bytes`);
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new FingerprintError("HTTP_OVERSIZE", `endpoint body larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  return new TextDecoder("utf-8", { fatal: false }).decode(all);
}

/** The OpenAI-compatible HTTP adapter. */
export class HttpAdapter implements ModelAdapter {
  private readonly base: string;
  private readonly o: Required<Omit<HttpAdapterOptions, "apiKey" | "ratePerSecond">> & {
    apiKey?: string;
    ratePerSecond?: number;
  };
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  private nextStart = 0;
  private sawLogprobs = false;
  /** Set once the endpoint refused a request with echo: later requests do not ask for it. */
  private echoRefused = false;
  /** HTTP attempts made (including retries): the queries this adapter spent. */
  attempts = 0;

  constructor(options: HttpAdapterOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch (cause) {
      throw new FingerprintError("INVALID_ARGUMENT", "baseUrl is not a valid URL", { cause });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new FingerprintError("INVALID_ARGUMENT", "baseUrl must be http or https");
    }
    if (typeof options.model !== "string" || options.model.length === 0) {
      throw new FingerprintError("INVALID_ARGUMENT", "model must be a non-empty string");
    }
    this.base = url.href.replace(/\/+$/, "").replace(/\/v1$/, "");
    const positive = (name: string, v: number | undefined, dflt: number, allowZero = false) => {
      const x = v ?? dflt;
      if (!Number.isFinite(x) || x < 0 || (!allowZero && x === 0)) {
        throw new FingerprintError("INVALID_ARGUMENT", `${name} must be a positive number`);
      }
      return x;
    };
    this.o = {
      baseUrl: this.base,
      model: options.model,
      timeoutMs: positive("timeoutMs", options.timeoutMs, 30_000),
      retries: Math.floor(positive("retries", options.retries, 3, true)),
      backoffBaseMs: positive("backoffBaseMs", options.backoffBaseMs, 250, true),
      backoffMaxMs: positive("backoffMaxMs", options.backoffMaxMs, 8_000, true),
      retryAfterMaxMs: positive("retryAfterMaxMs", options.retryAfterMaxMs, 60_000, true),
      concurrency: Math.floor(positive("concurrency", options.concurrency, 4)),
      maxResponseBytes: positive("maxResponseBytes", options.maxResponseBytes, 4 << 20),
      random: options.random ?? Math.random,
      ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
      ...(options.ratePerSecond !== undefined
        ? { ratePerSecond: positive("ratePerSecond", options.ratePerSecond, 1) }
        : {}),
    };
  }

  describe(): AdapterDescription {
    return {
      kind: "http",
      target: new URL(this.base).origin,
      model: this.o.model,
      logprobs: this.sawLogprobs,
    };
  }

  private async acquire(): Promise<void> {
    if (this.active < this.o.concurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }

  private async pace(signal?: AbortSignal): Promise<void> {
    if (!this.o.ratePerSecond) return;
    const now = Date.now();
    const start = Math.max(now, this.nextStart);
    this.nextStart = start + 1000 / this.o.ratePerSecond;
    if (start > now) await sleep(start - now, signal);
  }

  async generate(request: GenerateRequest): Promise<ModelResponse> {
    if (typeof request.prompt !== "string")
      throw new FingerprintError("INVALID_ARGUMENT", "prompt must be a string");
    const keep = request.keepPositions;
    if (keep !== undefined && !(Number.isInteger(keep) && keep >= 0))
      throw new FingerprintError("INVALID_ARGUMENT", "keepPositions must be a non-negative integer");
    const mode = request.mode ?? "chat";
    const body: Record<string, unknown> = { model: this.o.model, max_tokens: request.maxTokens ?? 256 };
    if (mode === "chat") body.messages = [{ role: "user", content: request.prompt }];
    else body.prompt = request.prompt;
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.seed !== undefined) body.seed = request.seed;
    const logprobs = request.topLogprobs !== undefined && request.topLogprobs > 0;
    if (logprobs) {
      if (mode === "chat") {
        body.logprobs = true;
        body.top_logprobs = request.topLogprobs;
      } else body.logprobs = request.topLogprobs;
    }
    if (request.echo === true && mode === "completion" && logprobs && !this.echoRefused) {
      try {
        return await this.send(
          "completion",
          { ...body, echo: true },
          request.signal,
          request.keepPositions,
          request.prompt,
        );
      } catch (e) {
        // A server that does not score prompts says so with a 400: remember it and ask without echo.
        if (!(e instanceof FingerprintError && e.code === "HTTP_STATUS" && e.status === 400)) throw e;
        this.echoRefused = true;
      }
    }
    return this.send(mode, body, request.signal, request.keepPositions);
  }

  private async send(
    mode: "chat" | "completion",
    body: Record<string, unknown>,
    signal: AbortSignal | undefined,
    keep: number | undefined,
    echoedPrompt?: string,
  ): Promise<ModelResponse> {
    const url = `${this.base}/v1/${mode === "chat" ? "chat/completions" : "completions"}`;
    const json = JSON.stringify(body);
    await this.acquire();
    try {
      let attempt = 0;
      for (;;) {
        let retryAfter: number | null = null;
        let error: FingerprintError;
        try {
          await this.pace(signal);
          const res = await this.attempt(url, json, signal);
          const parsed =
            mode === "chat" ? parseChatResponse(res) : parseCompletionResponse(res, echoedPrompt);
          if (parsed.tokens && parsed.tokens.length > 0) this.sawLogprobs = true;
          return keep !== undefined && parsed.tokens && parsed.tokens.length > keep
            ? { ...parsed, tokens: parsed.tokens.slice(0, keep) }
            : parsed;
        } catch (e) {
          if (!(e instanceof FingerprintError)) throw e;
          error = e;
          retryAfter = (e as FingerprintError & { retryAfterMs?: number }).retryAfterMs ?? null;
        }
        if (!error.retryable || attempt >= this.o.retries) throw error;
        const exp = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** attempt);
        const wait =
          retryAfter !== null ? Math.min(retryAfter, this.o.retryAfterMaxMs) : this.o.random() * exp;
        attempt++;
        await sleep(wait, signal);
      }
    } finally {
      this.release();
    }
  }

  private async attempt(url: string, json: string, outer?: AbortSignal): Promise<unknown> {
    if (outer?.aborted) throw new FingerprintError("ABORTED", "generation aborted");
    this.attempts++;
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method: "POST", headers, body: json, signal });
      if (res.status === 429 || res.status >= 500) {
        await res.body?.cancel();
        const err = new FingerprintError("HTTP_STATUS", `endpoint answered HTTP ${res.status}`, {
          retryable: true,
          status: res.status,
        });
        const ra = parseRetryAfter(res.headers.get("retry-after"));
        if (ra !== null) Object.assign(err, { retryAfterMs: ra });
        throw err;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new FingerprintError("HTTP_STATUS", `endpoint answered HTTP ${res.status}`, {
          status: res.status,
        });
      }
      text = await readBounded(res, this.o.maxResponseBytes);
    } catch (e) {
      if (e instanceof FingerprintError) throw e;
      if (outer?.aborted) throw new FingerprintError("ABORTED", "generation aborted", { cause: e });
      if (timeout.aborted) {
        throw new FingerprintError("HTTP_TIMEOUT", `no answer within ${this.o.timeoutMs} ms`, {
          cause: e,
          retryable: true,
        });
      }
      throw new FingerprintError("HTTP_NETWORK", "connection to the endpoint failed", {
        cause: e,
        retryable: true,
      });
    }
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new FingerprintError("HTTP_BAD_RESPONSE", "endpoint response: body is not valid JSON", { cause });
    }
  }
}
