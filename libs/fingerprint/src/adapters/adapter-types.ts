/**
 * The model adapter contract: how the engine reaches a model (a served endpoint or recorded outputs).
 */
import type { ModelResponse } from "../probe/probe-types.js";

/** One generation request. */
export interface GenerateRequest {
  readonly prompt: string;
  /** The battery probe (or canary) id, when there is one: replay adapters answer by it. */
  readonly id?: string;
  /** `chat` (/v1/chat/completions, default) or `completion` (/v1/completions). */
  readonly mode?: "chat" | "completion";
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly seed?: number;
  /** Ask for this many top alternatives per position (0 or absent: no log-probabilities). */
  readonly topLogprobs?: number;
  /**
   * Completion mode with topLogprobs only: also score the prompt (legacy `echo`, as vLLM serves it), so
   * every prompt position carries the model's top alternatives (ModelResponse.promptTokens). An endpoint
   * that refuses echo is asked again without it.
   */
  readonly echo?: boolean;
  /**
   * Keep log-probabilities of at most this many generated positions (the rest of `tokens` is dropped
   * once parsed; the text is kept whole). For callers that read only the first positions, e.g. canary
   * hits: a served answer with top-20 alternatives at 64 positions is otherwise large to hold.
   */
  readonly keepPositions?: number;
  readonly signal?: AbortSignal;
}

/** What an adapter says about itself (never secrets: no API keys). */
export interface AdapterDescription {
  readonly kind: "http" | "replay";
  /** Model name, endpoint origin or replay label. */
  readonly target: string;
  readonly model?: string;
  readonly logprobs: boolean;
}

/** Generates one response for a prompt; implementations validate everything the model sends back. */
export interface ModelAdapter {
  generate(request: GenerateRequest): Promise<ModelResponse>;
  describe(): AdapterDescription;
}
