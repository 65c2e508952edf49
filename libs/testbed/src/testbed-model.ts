/**
 * A served testbed model: a Kneser–Ney model over Lineage tokens, optionally sampling with the keyed
 * green-list watermark of @lineage/fingerprint (Kirchenbauer et al. 2023): at each step the candidates
 * green after the previous token get `delta` added to their logits. The rule (greenSeed / tokenHash32 /
 * isGreenHashed) is the one the detector uses, bit for bit.
 *
 * Prompt handling: the prompt is tokenized with the Lineage tokenizer; the model conditions on its last
 * order−1 tokens (BOS-padded). A prompt that is empty or ends a sentence (".", "?", "!") gets an answer
 * that starts a new sentence. Generation stops at the end-of-sentence token (finish "stop") or at
 * `maxTokens` (finish "length"). Reported log-probabilities are the model's exact KN distribution
 * (temperature 1, no watermark boost), natural log, like an API's raw token log-probabilities.
 */
import { detokenize, greenSeed, isGreenHashed, tokenHash32, tokenize } from "@lineage/fingerprint";
import { BOS, BOS_ID, type KneserNeyModel, type LogitBias } from "./kneser-ney.js";
import { Prng } from "./prng.js";
import { TestbedError } from "./testbed-error.js";

/** A member's watermark: secret key (≥ 16 bytes), green share gamma, logit boost delta. */
export interface WatermarkConfig {
  readonly key: Uint8Array;
  readonly gamma: number;
  readonly delta: number;
}

/** Generation controls. */
export interface GenerateOptions {
  /** 0 (greedy) to 2; default 1. */
  readonly temperature?: number;
  /** Seed for the sampler; a fresh random seed when absent. */
  readonly seed?: number | string;
  /** Default 64. */
  readonly maxTokens?: number;
  /** When set (0–20), each generated token carries its log-probability and this many alternatives. */
  readonly topLogprobs?: number;
}

/** One alternative next token with its log-probability. */
export interface TokenLogprob {
  readonly token: string;
  readonly logprob: number;
}

/** A generated token with its log-probability and the top alternatives at that step. */
export interface GeneratedToken extends TokenLogprob {
  readonly topLogprobs: readonly TokenLogprob[];
}

/** A completion. */
export interface Generation {
  readonly text: string;
  readonly tokens: readonly string[];
  readonly finishReason: "stop" | "length";
  readonly promptTokens: number;
  readonly logprobs?: readonly GeneratedToken[];
}

const SENTENCE_END = new Set([".", "?", "!"]);
export const MAX_GENERATION_TOKENS = 1024;

/** A model with an id, ready to serve. */
export class TestbedModel {
  readonly id: string;
  #lm: KneserNeyModel | (() => KneserNeyModel);
  readonly watermark: WatermarkConfig | undefined;
  #hashes: Uint32Array | undefined;
  /** greenSeed per previous-token id (one HMAC per distinct context token, not per step). */
  readonly #seeds = new Map<number, number>();

  /**
   * @param lm the trained model, or a loader called on first use (a population loads lazily from its
   *   cache, so that a warm build takes milliseconds and only probed models occupy memory)
   */
  constructor(
    id: string,
    lm: KneserNeyModel | (() => KneserNeyModel),
    options: { watermark?: WatermarkConfig | undefined } = {},
  ) {
    this.id = id;
    this.#lm = lm;
    this.watermark = options.watermark;
    if (options.watermark) {
      const { key, gamma, delta } = options.watermark;
      if (key.length < 16)
        throw new TestbedError("invalid_argument", "watermark key must be at least 16 bytes");
      if (!(gamma > 0 && gamma < 1))
        throw new TestbedError("invalid_argument", "watermark gamma must be in (0, 1)");
      if (!(delta >= 0 && delta <= 20))
        throw new TestbedError("invalid_argument", "watermark delta must be in [0, 20]");
    }
  }

  /** The underlying Kneser–Ney model (loaded on first access when constructed with a loader). */
  get lm(): KneserNeyModel {
    if (typeof this.#lm === "function") this.#lm = this.#lm();
    return this.#lm;
  }

  /** Whether the underlying model is in memory. */
  get loaded(): boolean {
    return typeof this.#lm !== "function";
  }

  /** The n-gram order. */
  get order(): number {
    return this.lm.order;
  }

  /** Context ids for a tokenized prompt (see the module comment). */
  contextFor(promptTokens: readonly string[]): number[] {
    const last = promptTokens[promptTokens.length - 1];
    if (last === undefined || SENTENCE_END.has(last)) return this.lm.contextIds([]);
    return this.lm.contextIds(promptTokens);
  }

  #bias(): LogitBias | undefined {
    const wm = this.watermark;
    if (!wm) return undefined;
    if (!this.#hashes) this.#hashes = Uint32Array.from(this.lm.vocab, (t) => tokenHash32(t));
    const hashes = this.#hashes;
    const vocab = this.lm.vocab;
    const seeds = this.#seeds;
    return {
      maxBias: wm.delta,
      forContext: (prev: number) => {
        let seed = seeds.get(prev);
        if (seed === undefined) {
          seed = greenSeed(wm.key, prev >= 0 ? (vocab[prev] as string) : BOS);
          seeds.set(prev, seed);
        }
        return (id: number) => (isGreenHashed(seed, hashes[id] as number, wm.gamma) ? wm.delta : 0);
      },
    };
  }

  /** Generates a continuation of a text prompt. */
  generate(prompt: string, options: GenerateOptions = {}): Generation {
    return this.generateFromTokens(tokenize(prompt), options);
  }

  /** Generates a continuation of an already tokenized prompt. */
  generateFromTokens(promptTokens: readonly string[], options: GenerateOptions = {}): Generation {
    const temperature = options.temperature ?? 1;
    const maxTokens = options.maxTokens ?? 64;
    if (!(temperature >= 0 && temperature <= 2))
      throw new TestbedError("invalid_argument", "temperature must be in [0, 2]");
    if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_GENERATION_TOKENS) {
      throw new TestbedError(
        "invalid_argument",
        `maxTokens must be an integer in [1, ${MAX_GENERATION_TOKENS}]`,
      );
    }
    const k = options.topLogprobs;
    if (k !== undefined && (!Number.isInteger(k) || k < 0 || k > 20)) {
      throw new TestbedError("invalid_argument", "topLogprobs must be an integer in [0, 20]");
    }
    const rng = new Prng(
      options.seed === undefined
        ? `random:${Math.random()}:${process.hrtime.bigint()}`
        : `seed:${String(options.seed)}`,
    );
    const ctx = this.contextFor(promptTokens);
    const { ids, stopped } = this.lm.sampleIds(ctx, { temperature, maxTokens, rng, bias: this.#bias() });
    const tokens = ids.map((i) => this.lm.vocab[i] as string);
    const gen: Generation = {
      text: detokenize(tokens),
      tokens,
      finishReason: stopped ? "stop" : "length",
      promptTokens: promptTokens.length,
    };
    if (k === undefined) return gen;
    const logprobs: GeneratedToken[] = [];
    const c = ctx.slice();
    for (const id of ids) {
      const path = this.lm.path(c);
      logprobs.push({
        token: this.lm.vocab[id] as string,
        logprob: Math.log(this.lm.probOnPath(path, id)),
        topLogprobs: k === 0 ? [] : this.#top(path, k),
      });
      c.push(id);
      if (c.length > this.lm.order - 1) c.shift();
    }
    return { ...gen, logprobs };
  }

  #top(path: readonly number[], k: number): TokenLogprob[] {
    return this.lm
      .topLogprobsOnPath(path, k)
      .map((x) => ({ token: this.lm.vocab[x.id] as string, logprob: x.logprob }));
  }

  /** The k most probable next tokens after a prompt (text or tokens), exact log-probabilities. */
  topLogprobs(prompt: string | readonly string[], k: number): TokenLogprob[] {
    if (!Number.isInteger(k) || k < 1 || k > 100)
      throw new TestbedError("invalid_argument", "k must be in [1, 100]");
    const toks = typeof prompt === "string" ? tokenize(prompt) : prompt;
    return this.#top(this.lm.path(this.contextFor(toks)), k);
  }

  /** Exact log P(token | prompt). −Infinity for a token outside the model's vocabulary. */
  logprob(prompt: string | readonly string[], token: string): number {
    const toks = typeof prompt === "string" ? tokenize(prompt) : prompt;
    const id = this.lm.ids.get(token);
    if (id === undefined || id === BOS_ID) return Number.NEGATIVE_INFINITY;
    return Math.log(this.lm.probOnPath(this.lm.path(this.contextFor(toks)), id));
  }
}
