/**
 * Per-client limits of the log's streaming reads (issue 8: "per-client stream limits"). GetLogEntries is
 * public and anonymous, so one client could otherwise open many streams of 10,000 entries each and make
 * the hub read and send hundreds of MiB per call. Two bounds, both answered RESOURCE_EXHAUSTED with a
 * message that says what to do:
 *
 * - concurrent streams per peer (the client's address without its port: a client cannot get more by
 *   opening more connections from the same host) — `rate_limited`, retryable once a stream ends;
 * - bytes of leaves sent per call — `too_large`: the stream stops before the entry that would cross the
 *   bound, naming the index to continue from.
 *
 * (`rate_limited` is an RpcError: the log's own error codes have no rate limit.)
 *
 * Test: services/hub/src/log/stream-limits.test.ts and services/hub/test/log-read-limits.test.ts (gRPC).
 */
import { RpcError } from "@lineage/rpc";
import { LogError } from "./log-error.js";

/** Options of {@link PeerStreamLimiter}. */
export interface StreamLimits {
  /** Most GetLogEntries streams one peer host may have open at once (default 4). */
  readonly maxStreamsPerPeer?: number;
  /** Most leaf bytes one GetLogEntries call sends (default 32 MiB). */
  readonly maxBytesPerCall?: number;
  /** Most distinct peers tracked at once (default 10,000); beyond it new peers wait for a slot. */
  readonly maxPeers?: number;
}

export const DEFAULT_MAX_STREAMS_PER_PEER = 4;
export const DEFAULT_MAX_BYTES_PER_CALL = 32 * 1024 * 1024;
const DEFAULT_MAX_PEERS = 10_000;

function checkLimit(name: string, v: number | undefined, def: number, max: number): number {
  if (v === undefined) return def;
  if (!Number.isSafeInteger(v) || v < 1 || v > max)
    throw new LogError("invalid_argument", `${name} must be an integer in [1, ${max}]`);
  return v;
}

/**
 * The host part of a grpc-js peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/path"):
 * what one client is counted as. Untrusted only in the sense that it comes from the transport.
 */
export function peerHost(peer: string): string {
  const p = peer.slice(0, 300);
  const v6 = /^ipv6:\[([^\]]*)\](?::\d+)?$/.exec(p);
  if (v6) return `ipv6:${v6[1]}`;
  const v4 = /^(ipv4:[^:]*)(?::\d+)?$/.exec(p);
  if (v4) return v4[1] as string;
  return p;
}

/** A held stream slot; release it when the stream ends (idempotent). */
export type StreamSlot = { release(): void };

/** Counts open streams per peer host and the byte budget of each call. */
export class PeerStreamLimiter {
  readonly maxStreamsPerPeer: number;
  readonly maxBytesPerCall: number;
  readonly #maxPeers: number;
  readonly #open = new Map<string, number>();

  constructor(limits: StreamLimits = {}) {
    this.maxStreamsPerPeer = checkLimit(
      "maxStreamsPerPeer",
      limits.maxStreamsPerPeer,
      DEFAULT_MAX_STREAMS_PER_PEER,
      1024,
    );
    this.maxBytesPerCall = checkLimit(
      "maxBytesPerCall",
      limits.maxBytesPerCall,
      DEFAULT_MAX_BYTES_PER_CALL,
      1 << 30,
    );
    this.#maxPeers = checkLimit("maxPeers", limits.maxPeers, DEFAULT_MAX_PEERS, 10_000_000);
  }

  /** Takes a stream slot for `peer`, or throws `rate_limited` when it has too many open. */
  acquire(peer: string): StreamSlot {
    const host = peerHost(peer);
    const n = this.#open.get(host) ?? 0;
    if (n >= this.maxStreamsPerPeer) {
      throw new RpcError(
        "rate_limited",
        `at most ${this.maxStreamsPerPeer} concurrent GetLogEntries streams per client; wait for one to end`,
        { retryAfterMs: 1000 },
      );
    }
    if (n === 0 && this.#open.size >= this.#maxPeers) {
      throw new RpcError("rate_limited", "the hub is serving too many clients' log streams; retry later", {
        retryAfterMs: 1000,
      });
    }
    this.#open.set(host, n + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#open.get(host) ?? 1) - 1;
        if (left <= 0) this.#open.delete(host);
        else this.#open.set(host, left);
      },
    };
  }

  /** Open streams of a peer (tests, diagnostics). */
  openStreams(peer: string): number {
    return this.#open.get(peerHost(peer)) ?? 0;
  }
}
