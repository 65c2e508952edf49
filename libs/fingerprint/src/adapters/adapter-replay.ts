/**
 * Replay adapter: answers from recorded outputs, for forensic work on outputs collected elsewhere.
 * Format (JSONL, one object a line): {"id": string, "prompt": string, "output": string} with optional
 * "top_logprobs": per generated position either an object {token: logprob} (OpenAI legacy completions)
 * or an array of {"token", "logprob"} (chat completions). The text is untrusted: every line is checked
 * where it is read, sizes and counts are bounded, and errors name the line and the problem (never the
 * recorded text).
 */

import { FingerprintError } from "../fingerprint-error.js";
import type { ModelResponse, TokenLogprobs, TopLogprob } from "../probe/probe-types.js";
import type { AdapterDescription, GenerateRequest, ModelAdapter } from "./adapter-types.js";

/** Bounds on replay input. */
export interface ReplayLimits {
  readonly maxLineBytes: number;
  readonly maxLines: number;
  readonly maxIdLength: number;
  readonly maxPositions: number;
  readonly maxTop: number;
}

/** Default bounds: 1 MiB a line, 100k lines, ids up to 256 chars, 4096 positions of 20 alternatives. */
export const DEFAULT_REPLAY_LIMITS: ReplayLimits = {
  maxLineBytes: 1 << 20,
  maxLines: 100_000,
  maxIdLength: 256,
  maxPositions: 4096,
  maxTop: 20,
};

/** One parsed replay record. */
export interface ReplayRecord {
  readonly id: string;
  readonly prompt: string;
  readonly response: ModelResponse;
}

const utf8 = new TextEncoder();

function bad(line: number, what: string): FingerprintError {
  return new FingerprintError("REPLAY_INVALID_FIELD", `replay line ${line}: ${what}`);
}

function parseTop(v: unknown, line: number, limits: ReplayLimits): TokenLogprobs[] {
  if (!Array.isArray(v)) throw bad(line, '"top_logprobs" must be an array');
  if (v.length > limits.maxPositions) {
    throw new FingerprintError(
      "REPLAY_OVERSIZE",
      `replay line ${line}: more than ${limits.maxPositions} positions`,
    );
  }
  return v.map((pos, i) => {
    const top: TopLogprob[] = [];
    const push = (token: unknown, logprob: unknown) => {
      if (
        typeof token !== "string" ||
        typeof logprob !== "number" ||
        !Number.isFinite(logprob) ||
        logprob > 0
      ) {
        throw bad(line, `"top_logprobs"[${i}] needs string tokens with finite logprobs <= 0`);
      }
      top.push({ token, logprob });
    };
    if (Array.isArray(pos)) {
      for (const e of pos) {
        if (typeof e !== "object" || e === null)
          throw bad(line, `"top_logprobs"[${i}] entries must be objects`);
        push((e as Record<string, unknown>).token, (e as Record<string, unknown>).logprob);
      }
    } else if (typeof pos === "object" && pos !== null) {
      for (const [t, lp] of Object.entries(pos)) push(t, lp);
    } else throw bad(line, `"top_logprobs"[${i}] must be an object or an array`);
    if (top.length > limits.maxTop) {
      throw new FingerprintError(
        "REPLAY_OVERSIZE",
        `replay line ${line}: more than ${limits.maxTop} alternatives`,
      );
    }
    top.sort((a, b) => b.logprob - a.logprob);
    const best = top[0];
    return best ? { token: best.token, logprob: best.logprob, top } : { token: "", top };
  });
}

/**
 * Parses replay JSONL text (untrusted). Blank lines are skipped; line numbers in errors are 1-based.
 * Throws FingerprintError REPLAY_MALFORMED_JSON | REPLAY_INVALID_FIELD | REPLAY_DUPLICATE_ID |
 * REPLAY_OVERSIZE.
 */
export function parseReplay(text: string, limits: ReplayLimits = DEFAULT_REPLAY_LIMITS): ReplayRecord[] {
  const out: ReplayRecord[] = [];
  const ids = new Set<string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    const n = i + 1;
    if (raw.trim() === "") continue;
    // String length bounds UTF-16 units; *3 bounds the UTF-8 bytes without encoding every line.
    if (
      raw.length > limits.maxLineBytes ||
      (raw.length * 3 > limits.maxLineBytes && utf8.encode(raw).length > limits.maxLineBytes)
    ) {
      throw new FingerprintError(
        "REPLAY_OVERSIZE",
        `replay line ${n}: longer than ${limits.maxLineBytes} bytes`,
      );
    }
    if (out.length >= limits.maxLines) {
      throw new FingerprintError("REPLAY_OVERSIZE", `replay: more than ${limits.maxLines} records`);
    }
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (cause) {
      throw new FingerprintError("REPLAY_MALFORMED_JSON", `replay line ${n}: not valid JSON`, { cause });
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw bad(n, "must be a JSON object");
    const o = obj as Record<string, unknown>;
    for (const f of ["id", "prompt", "output"] as const) {
      if (!(f in o)) throw bad(n, `missing field "${f}"`);
      if (typeof o[f] !== "string") throw bad(n, `field "${f}" must be a string`);
    }
    const id = o.id as string;
    if (id.length === 0 || id.length > limits.maxIdLength) {
      throw bad(n, `field "id" must be 1..${limits.maxIdLength} characters`);
    }
    if (ids.has(id))
      throw new FingerprintError("REPLAY_DUPLICATE_ID", `replay line ${n}: duplicate id "${id}"`);
    ids.add(id);
    const response: ModelResponse =
      o.top_logprobs === undefined || o.top_logprobs === null
        ? { text: o.output as string }
        : { text: o.output as string, tokens: parseTop(o.top_logprobs, n, limits) };
    out.push({ id, prompt: o.prompt as string, response });
  }
  return out;
}

/**
 * Serves recorded responses: by request id first, else by exact prompt text. A prompt text recorded under
 * two ids with different outputs is ambiguous and can only be asked by id.
 */
export class ReplayAdapter implements ModelAdapter {
  private readonly byId = new Map<string, ReplayRecord>();
  private readonly byPrompt = new Map<string, ReplayRecord | null>();
  private readonly label: string;

  /** `label` names the replay in errors and descriptions (the CLI passes the file as given). */
  constructor(records: readonly ReplayRecord[], label = "replay") {
    for (const r of records) {
      if (this.byId.has(r.id))
        throw new FingerprintError("REPLAY_DUPLICATE_ID", `replay: duplicate id "${r.id}"`);
      this.byId.set(r.id, r);
      const prev = this.byPrompt.get(r.prompt);
      this.byPrompt.set(
        r.prompt,
        prev === undefined ? r : prev && prev.response.text === r.response.text ? prev : null,
      );
    }
    this.label = label;
  }

  /** Parses JSONL text and builds the adapter. */
  static fromJsonl(
    text: string,
    label = "replay",
    limits: ReplayLimits = DEFAULT_REPLAY_LIMITS,
  ): ReplayAdapter {
    return new ReplayAdapter(parseReplay(text, limits), label);
  }

  /** Number of recorded responses. */
  get size(): number {
    return this.byId.size;
  }

  /** The recorded records, in file order (e.g. to derive a battery from a reference's prompts). */
  records(): ReplayRecord[] {
    return [...this.byId.values()];
  }

  /** Whether a response is recorded for this id. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  async generate(request: GenerateRequest): Promise<ModelResponse> {
    if (request.signal?.aborted) throw new FingerprintError("ABORTED", "generation aborted");
    const rec =
      (request.id !== undefined ? this.byId.get(request.id) : undefined) ??
      this.byPrompt.get(request.prompt) ??
      undefined;
    if (!rec) {
      // Names the replay (its label: the file as given on the command line) and the prompt id, never the
      // prompt text: a canary asked of a replay suspect must not leak through the error.
      throw new FingerprintError(
        "REPLAY_NOT_FOUND",
        request.id !== undefined
          ? `replay ${this.label} has no response for prompt id ${JSON.stringify(request.id)}`
          : `replay ${this.label} has no response for this prompt (asked without an id)`,
      );
    }
    return rec.response;
  }

  describe(): AdapterDescription {
    let logprobs = false;
    for (const r of this.byId.values()) if (r.response.tokens) logprobs = true;
    return { kind: "replay", target: this.label, logprobs };
  }
}
