/**
 * Replay and freshness checks for signed messages — pure state, no I/O and no clock of its own, so
 * the hub and member nodes can persist a snapshot wherever they keep state.
 *
 * A header is accepted when (1) its issuedAtMs is within maxClockSkewMs of now (else `stale`);
 * (2) its nonce was not seen from that member within the retention window (else `replay`);
 * (3) its sequence is above the member's highest accepted sequence, or — when reorderWindow > 0 —
 * within reorderWindow below it and not accepted before (else `replay`). Nonces are kept while their
 * issuedAtMs is within maxClockSkewMs of now: older messages are rejected as `stale` anyway.
 */
import { checkInteger, toHex } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import type { MessageHeader } from "./signed-message.js";

/** Options of a {@link ReplayGuard}. */
export interface ReplayGuardOptions {
  /** Current time in ms since the epoch (inject a clock; e.g. `Date.now`). */
  readonly now: () => number;
  /** Largest accepted |issuedAtMs - now| (default 5 minutes). */
  readonly maxClockSkewMs?: number;
  /** How far below the highest sequence an unseen sequence is still accepted (default 0: strict). */
  readonly reorderWindow?: number;
  /** Nonces remembered per member (default 4096; the oldest are dropped beyond that). */
  readonly maxNoncesPerMember?: number;
  /** Members tracked at most (default 100,000); more is `too_large`. */
  readonly maxMembers?: number;
}

/** Serializable state of a {@link ReplayGuard}. */
export interface ReplayGuardState {
  readonly members: readonly {
    readonly memberId: string;
    /** Highest accepted sequence, decimal. */
    readonly highestSequence: string;
    /** Sequences accepted within the reorder window, decimal. */
    readonly recentSequences: readonly string[];
    readonly nonces: readonly { readonly nonceHex: string; readonly issuedAtMs: number }[];
  }[];
}

interface MemberState {
  highest: bigint;
  recent: Set<bigint>;
  nonces: Map<string, number>;
}

/** Rejection counts by reason. */
export interface ReplayRejections {
  readonly replay: number;
  readonly stale: number;
}

/** Per-member replay protection. */
export class ReplayGuard {
  readonly #now: () => number;
  readonly #skew: number;
  readonly #window: bigint;
  readonly #maxNonces: number;
  readonly #maxMembers: number;
  readonly #members = new Map<string, MemberState>();
  #replay = 0;
  #stale = 0;

  constructor(options: ReplayGuardOptions, state?: ReplayGuardState) {
    if (typeof options.now !== "function")
      throw new CryptoError("invalid_argument", "options.now must be a function");
    this.#now = options.now;
    this.#skew = checkInteger("maxClockSkewMs", options.maxClockSkewMs ?? 5 * 60_000);
    this.#window = BigInt(checkInteger("reorderWindow", options.reorderWindow ?? 0, 0, 1 << 16));
    this.#maxNonces = checkInteger("maxNoncesPerMember", options.maxNoncesPerMember ?? 4096, 1);
    this.#maxMembers = checkInteger("maxMembers", options.maxMembers ?? 100_000, 1);
    if (state !== undefined) this.#restore(state);
  }

  #restore(state: ReplayGuardState): void {
    for (const m of state.members) {
      const nonces = new Map<string, number>();
      for (const n of m.nonces) nonces.set(n.nonceHex, n.issuedAtMs);
      this.#members.set(m.memberId, {
        highest: BigInt(m.highestSequence),
        recent: new Set(m.recentSequences.map((s) => BigInt(s))),
        nonces,
      });
    }
  }

  /** Counts of rejected headers since construction. */
  get rejections(): ReplayRejections {
    return { replay: this.#replay, stale: this.#stale };
  }

  #reject(code: "replay" | "stale", message: string): never {
    if (code === "replay") this.#replay++;
    else this.#stale++;
    throw new CryptoError(code, message);
  }

  /**
   * Checks a verified header and records it if accepted. Call only after the signature verified, so
   * forged headers cannot poison the state. Throws `replay` or `stale` (counted), or `too_large`.
   */
  accept(header: MessageHeader): void {
    if (
      typeof header !== "object" ||
      header === null ||
      typeof header.memberId !== "string" ||
      typeof header.sequence !== "bigint" ||
      !(header.nonce instanceof Uint8Array) ||
      !Number.isSafeInteger(header.issuedAtMs)
    ) {
      throw new CryptoError(
        "malformed",
        "header must have memberId, bigint sequence, nonce bytes and integer issuedAtMs",
      );
    }
    const now = this.#now();
    if (Math.abs(header.issuedAtMs - now) > this.#skew) {
      this.#reject("stale", `message time is more than ${this.#skew} ms from now`);
    }
    const nonceHex = toHex(header.nonce);
    let m = this.#members.get(header.memberId);
    if (m !== undefined) {
      this.#prune(m, now);
      if (m.nonces.has(nonceHex)) this.#reject("replay", "nonce was already used");
      if (header.sequence <= m.highest) {
        if (header.sequence + this.#window <= m.highest || m.recent.has(header.sequence)) {
          this.#reject("replay", "sequence was already used or is too old");
        }
      }
    } else {
      if (this.#members.size >= this.#maxMembers)
        throw new CryptoError("too_large", "too many members tracked");
      m = { highest: -1n, recent: new Set(), nonces: new Map() };
      this.#members.set(header.memberId, m);
    }
    // Record.
    if (header.sequence > m.highest) m.highest = header.sequence;
    if (this.#window > 0n) {
      m.recent.add(header.sequence);
      for (const s of m.recent) if (s + this.#window <= m.highest) m.recent.delete(s);
    }
    m.nonces.set(nonceHex, header.issuedAtMs);
    while (m.nonces.size > this.#maxNonces) {
      const oldest = m.nonces.keys().next().value;
      if (oldest === undefined) break;
      m.nonces.delete(oldest);
    }
  }

  #prune(m: MemberState, now: number): void {
    for (const [n, t] of m.nonces) if (Math.abs(t - now) > this.#skew && t < now) m.nonces.delete(n);
  }

  /** Highest accepted sequence of a member (-1n if none). */
  highestSequence(memberId: string): bigint {
    return this.#members.get(memberId)?.highest ?? -1n;
  }

  /** A serializable snapshot of the state (persist it; pass it back to the constructor). */
  snapshot(): ReplayGuardState {
    const now = this.#now();
    return {
      members: [...this.#members].map(([memberId, m]) => {
        this.#prune(m, now);
        return {
          memberId,
          highestSequence: m.highest.toString(10),
          recentSequences: [...m.recent].map((s) => s.toString(10)),
          nonces: [...m.nonces].map(([nonceHex, issuedAtMs]) => ({ nonceHex, issuedAtMs })),
        };
      }),
    };
  }
}
