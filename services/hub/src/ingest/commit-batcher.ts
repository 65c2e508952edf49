/**
 * Micro-batching of database commits: callers submit one item each and await its own outcome; items are
 * committed together when `maxBatch` are waiting or `maxDelayMs` after the first, with at most
 * `maxInFlight` commits running. So a consumer with many messages in flight writes Postgres in a few large
 * transactions instead of one per message, and each message is acked only after its batch committed.
 */

/** Options of {@link CommitBatcher}. */
export interface CommitBatcherOptions {
  /** Most items per commit. Default 256. */
  readonly maxBatch?: number;
  /** Longest wait for a batch to fill, ms. Default 5. */
  readonly maxDelayMs?: number;
  /** Commits running at once. Default 2. */
  readonly maxInFlight?: number;
}

interface Waiting<I, O> {
  readonly item: I;
  readonly resolve: (o: O) => void;
  readonly reject: (e: unknown) => void;
}

/** Batches items into `commit` calls; `commit` returns one outcome per item, in order. */
export class CommitBatcher<I, O> {
  readonly #commit: (items: I[]) => Promise<O[]>;
  readonly #maxBatch: number;
  readonly #maxDelayMs: number;
  readonly #maxInFlight: number;
  #queue: Waiting<I, O>[] = [];
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(commit: (items: I[]) => Promise<O[]>, options: CommitBatcherOptions = {}) {
    this.#commit = commit;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#maxDelayMs = options.maxDelayMs ?? 5;
    this.#maxInFlight = options.maxInFlight ?? 2;
    for (const [name, v, max] of [
      ["maxBatch", this.#maxBatch, 5000],
      ["maxDelayMs", this.#maxDelayMs, 60_000],
      ["maxInFlight", this.#maxInFlight, 64],
    ] as const) {
      if (!Number.isInteger(v) || v < (name === "maxDelayMs" ? 0 : 1) || v > max) {
        throw new RangeError(`${name} must be an integer up to ${max}`);
      }
    }
  }

  /** Queues `item`; resolves with its outcome once its batch committed (rejects if the batch failed). */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length >= this.#maxBatch && this.#inFlight < this.#maxInFlight) this.#flush();
    if (this.#queue.length > 0 && this.#timer === undefined && this.#inFlight < this.#maxInFlight) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight) this.#flush();
        else this.#pump();
      }, this.#maxDelayMs);
    }
  }

  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#inFlight++;
    this.#commit(batch.map((w) => w.item))
      .then(
        (outcomes) => {
          batch.forEach((w, i) => {
            if (i < outcomes.length) w.resolve(outcomes[i] as O);
            else w.reject(new Error("commit returned fewer outcomes than items"));
          });
        },
        (err) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        this.#inFlight--;
        this.#pump();
      });
  }
}
