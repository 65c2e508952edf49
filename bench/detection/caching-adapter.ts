/**
 * A memoizing wrapper around the engine's model adapter, for the benchmark only. Every comparison of the
 * benchmark calls compare(), which probes the suspect, the member's reference and the panel on the
 * battery; the same deterministic request (temperature 0, fixed seed) to the same model always gets the
 * same answer, so the first answer is kept and handed out again instead of sending thousands of identical
 * HTTP requests. compare() still counts every logical query it makes (its `queries`), which is what a
 * member would spend; `sent` counts the HTTP requests actually made.
 */
import type { AdapterDescription, GenerateRequest, ModelAdapter, ModelResponse } from "@lineage/fingerprint";

function keyOf(r: GenerateRequest): string {
  return JSON.stringify([
    r.mode ?? "chat",
    r.prompt,
    r.maxTokens ?? null,
    r.temperature ?? null,
    r.seed ?? null,
    r.topLogprobs ?? 0,
    r.echo === true,
    r.keepPositions ?? null,
  ]);
}

/** See the module comment. Only deterministic requests (temperature 0) are cached. */
export class CachingAdapter implements ModelAdapter {
  readonly #inner: ModelAdapter;
  readonly #cache = new Map<string, Promise<ModelResponse>>();
  /** Requests forwarded to the inner adapter. */
  sent = 0;
  /** Requests answered (cached or not). */
  answered = 0;

  constructor(inner: ModelAdapter) {
    this.#inner = inner;
  }

  generate(request: GenerateRequest): Promise<ModelResponse> {
    this.answered++;
    if (request.temperature !== 0) {
      this.sent++;
      return this.#inner.generate(request);
    }
    const k = keyOf(request);
    let p = this.#cache.get(k);
    if (p === undefined) {
      this.sent++;
      const { signal: _signal, ...rest } = request;
      p = this.#inner.generate(rest);
      // A failure is not cached: the next caller retries.
      p.catch(() => this.#cache.delete(k));
      this.#cache.set(k, p);
    }
    return p;
  }

  describe(): AdapterDescription {
    return this.#inner.describe();
  }
}
