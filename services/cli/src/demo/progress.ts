/**
 * The demo's progress display: a bar redrawn in place on a terminal, a plain line per step (and per tenth of
 * the work) otherwise, so a log file or a test reads the same facts. Also: an abortable wait, so Ctrl-C stops
 * a long step (training, scanning) and the demo closes its servers and databases.
 */

/** Thrown when the run was interrupted (Ctrl-C). */
export class DemoInterrupted extends Error {
  constructor() {
    super("interrupted");
    this.name = "DemoInterrupted";
  }
}

/** Resolves like `p`, or rejects with {@link DemoInterrupted} as soon as `signal` aborts. */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(new DemoInterrupted());
  return new Promise<T>((ok, fail) => {
    const onAbort = () => fail(new DemoInterrupted());
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        ok(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        fail(err);
      },
    );
  });
}

/** Throws {@link DemoInterrupted} when the run was interrupted. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DemoInterrupted();
}

/** A progress bar over `total` units of one step. */
export interface Bar {
  /** Sets the units done (and an optional note shown after the counts). */
  update(done: number, note?: string): void;
  /** Ends the bar (a final line). */
  end(note?: string): void;
}

export function progressBar(
  out: { write(s: string): unknown },
  tty: boolean,
  label: string,
  total: number,
  width = 28,
): Bar {
  let lastTenth = -1;
  let ended = false;
  const line = (done: number, note?: string) => {
    const filled = total === 0 ? width : Math.min(width, Math.round((done / total) * width));
    return `      ${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}${note ? ` ${note}` : ""}`;
  };
  return {
    update(done, note) {
      if (ended) return;
      if (tty) {
        out.write(`\r${line(done, note)}\x1b[K`);
        return;
      }
      const tenth = total === 0 ? 10 : Math.floor((done * 10) / total);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        out.write(`${line(done, note)}\n`);
      }
    },
    end(note) {
      if (ended) return;
      ended = true;
      out.write(tty ? `\r${line(total, note)}\x1b[K\n` : `${line(total, note)}\n`);
    },
  };
}
