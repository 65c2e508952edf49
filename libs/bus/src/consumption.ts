// The iterator and handler forms of consuming a durable pull consumer, built once over a minimal
// pull source so both Bus implementations get the same ack-on-success / nak-or-term-on-failure rules.

import type { BusMessage, ConsumeOptions, Consumption, MessageHandler, MessageStream } from "./bus.js";
import { BusError, dispositionFor } from "./bus-error.js";

/** What an implementation provides: one message at a time, `undefined` once stopped. */
export interface PullSource {
  /** Next delivered message; `undefined` after `stop()` or bus close; rejects with a `BusError` on failure. */
  next(): Promise<BusMessage | undefined>;
  /** Stop pulling; a pending `next()` resolves `undefined`. Idempotent. */
  stop(): Promise<void>;
}

const MAX_CONCURRENCY = 256;
const MAX_PREFETCH = 1000;

/** Validated consume options. */
export interface NormalConsumeOptions {
  readonly concurrency: number;
  readonly prefetch: number;
  readonly retryDelay: (deliveryCount: number) => number;
  readonly onError: ((err: unknown, msg: BusMessage, disposition: "nak" | "term") => void) | undefined;
}

/** Default nak delay after a retryable failure: 250 ms doubling per delivery, capped at 30 s. */
export function defaultRetryDelayMs(deliveryCount: number): number {
  return Math.min(250 * 2 ** Math.max(0, Math.min(deliveryCount - 1, 20)), 30_000);
}

function intOpt(what: string, v: number | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new BusError("invalid_argument", `${what} must be an integer in [1, ${max}]`);
  }
  return v;
}

/** Checks {@link ConsumeOptions}; `handlerForm` picks the prefetch default. */
export function normalizeConsumeOptions(
  opts: ConsumeOptions | undefined,
  handlerForm: boolean,
): NormalConsumeOptions {
  const o = opts ?? {};
  const concurrency = intOpt("concurrency", o.concurrency, 1, MAX_CONCURRENCY);
  const prefetch = intOpt("prefetch", o.prefetch, handlerForm ? concurrency : 1, MAX_PREFETCH);
  const rd = o.retryDelayMs;
  let retryDelay: (n: number) => number;
  if (rd === undefined) retryDelay = defaultRetryDelayMs;
  else if (typeof rd === "function") retryDelay = rd;
  else if (Number.isInteger(rd) && rd >= 0 && rd <= 86_400_000) retryDelay = () => rd;
  else
    throw new BusError("invalid_argument", "retryDelayMs must be an integer in [0, 86400000] or a function");
  return { concurrency, prefetch, retryDelay, onError: o.onError };
}

/** Wraps a pull source as an async iterable; breaking out of `for await` stops it. */
export function messageStreamOf(source: PullSource, onStop: () => void): MessageStream {
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      onStop();
    }
    await source.stop();
  };
  return {
    [Symbol.asyncIterator](): AsyncIterator<BusMessage> {
      return {
        async next(): Promise<IteratorResult<BusMessage>> {
          const m = stopped ? undefined : await source.next();
          return m === undefined ? { done: true, value: undefined } : { done: false, value: m };
        },
        async return(): Promise<IteratorResult<BusMessage>> {
          await stop();
          return { done: true, value: undefined };
        },
      };
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Runs `handler` over `source` with at most `concurrency` in flight. A handler that resolves acks an
 * unsettled message; one that throws settles it by {@link dispositionFor}.
 */
export function runConsumption(
  source: PullSource,
  handler: MessageHandler,
  opts: NormalConsumeOptions,
  onStop: () => void,
): Consumption {
  const inflight = new Set<Promise<void>>();
  let stopping = false;

  const handle = async (msg: BusMessage): Promise<void> => {
    try {
      await handler(msg);
      if (!msg.settled) msg.ack();
    } catch (err) {
      const disposition = dispositionFor(err);
      if (!msg.settled) {
        if (disposition === "nak") {
          let delay = 0;
          try {
            delay = opts.retryDelay(msg.deliveryCount);
          } catch {
            delay = defaultRetryDelayMs(msg.deliveryCount);
          }
          msg.nak(
            Number.isInteger(delay) && delay >= 0 && delay <= 86_400_000
              ? delay
              : defaultRetryDelayMs(msg.deliveryCount),
          );
        } else {
          // Only the error code goes to the server, never the message text (it may hold private data).
          const code = (err as { code?: unknown } | null)?.code;
          msg.term(typeof code === "string" ? code : "handler failed");
        }
      }
      try {
        opts.onError?.(err, msg, disposition);
      } catch {
        // A failing error reporter must not kill the consumption.
      }
    }
  };

  const loop = async (): Promise<void> => {
    try {
      while (!stopping) {
        while (inflight.size >= opts.concurrency) await Promise.race(inflight);
        const msg = await source.next();
        if (msg === undefined) break;
        const p: Promise<void> = handle(msg).finally(() => inflight.delete(p));
        inflight.add(p);
      }
    } finally {
      await Promise.allSettled([...inflight]);
    }
  };

  const done = loop();
  // `done` may reject; the caller observes it, but an unobserved rejection must not crash the process.
  done.catch(() => undefined);
  const stop = async (): Promise<void> => {
    if (!stopping) {
      stopping = true;
      onStop();
    }
    await source.stop();
    await done.catch(() => undefined);
  };
  return { stop, done, [Symbol.asyncDispose]: stop };
}
