/**
 * A FIFO async mutex. PGlite is one backend process behind one connection, so the embedded dialect
 * lends that connection to one holder at a time: a kysely transaction keeps it from BEGIN to
 * COMMIT/ROLLBACK, and nobody else's statement can land inside it.
 */

/** Releases a held {@link Mutex}; calling it again does nothing. */
export type Release = () => void;

/** First come, first served async lock. */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #held = 0;

  /** Waits for every earlier holder to release, then resolves with this holder's release function. */
  lock(): Promise<Release> {
    let open!: () => void;
    const mine = new Promise<void>((resolve) => {
      open = resolve;
    });
    const before = this.#tail;
    this.#tail = before.then(() => mine);
    return before.then(() => {
      this.#held++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.#held--;
        open();
      };
    });
  }

  /** Whether someone holds the lock right now (for tests and diagnostics). */
  get locked(): boolean {
    return this.#held > 0;
  }
}
