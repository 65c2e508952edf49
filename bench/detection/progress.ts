/**
 * Progress on stderr for the detection benchmark: one updating line on a terminal, a line every ~10% (and
 * at the end) otherwise, so a CI log shows the run advancing without flooding.
 */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #t0 = performance.now();
  #done = 0;
  #lastPrint = 0;
  #lastDecile = -1;

  constructor(label: string, total: number) {
    this.#label = label;
    this.#total = Math.max(0, total);
    this.#print(true);
  }

  /** Records `n` more units done. */
  tick(n = 1): void {
    this.#done += n;
    this.#print(this.#done >= this.#total);
  }

  /** Seconds since start. */
  get seconds(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  #print(force: boolean): void {
    const now = performance.now();
    const tty = process.stderr.isTTY === true;
    const decile = this.#total === 0 ? 10 : Math.floor((10 * this.#done) / this.#total);
    if (!force && (tty ? now - this.#lastPrint < 200 : decile === this.#lastDecile)) return;
    this.#lastPrint = now;
    this.#lastDecile = decile;
    const s = `[bench:detection] ${this.#label}: ${this.#done}/${this.#total} (${this.seconds.toFixed(1)} s)`;
    if (tty) process.stderr.write(`\r${s}\x1b[K${this.#done >= this.#total ? "\n" : ""}`);
    else process.stderr.write(`${s}\n`);
  }
}

/** Runs `tasks` with at most `concurrency` in flight; the first failure rejects (others finish first). */
export async function runPool<T>(
  tasks: readonly (() => Promise<T>)[],
  concurrency: number,
  onDone?: () => void,
): Promise<T[]> {
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError("concurrency must be >= 1");
  const out = new Array<T>(tasks.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < tasks.length) {
      const i = next++;
      try {
        out[i] = await (tasks[i] as () => Promise<T>)();
        onDone?.();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
  return out;
}
