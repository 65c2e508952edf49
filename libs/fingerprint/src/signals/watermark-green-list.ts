/**
 * Keyed green-list watermark rule (after Kirchenbauer et al., "A Watermark for Large Language Models",
 * 2023), defined over Lineage tokens (see tokenize.ts). A member that watermarks boosts "green" tokens
 * when sampling; a model distilled from its outputs inherits the bias ("radioactivity"), which the
 * detector tests with a z-test over (previous token, token) pairs.
 *
 * Definition (version 1), identical in the sampler and the detector:
 *   seed(prev)      = first 4 bytes, big-endian, of HMAC-SHA256(key, "lineage-wm-v1\0" || utf8(prev))
 *   h(token)        = FNV-1a 32-bit over utf8(token)
 *   green(prev, t)  = fmix32(seed(prev) XOR imul(h(t), 0x9e3779b1)) < floor(gamma * 2^32)
 * One HMAC per context and an integer mix per candidate keeps sampling over a whole vocabulary cheap,
 * while the key keeps the partition secret. fmix32 is MurmurHash3's finalizer.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

export const WATERMARK_VERSION = 1;
const DOMAIN = new TextEncoder().encode("lineage-wm-v1\0");
const enc = new TextEncoder();

/** The keyed seed of a context token; compute once per sampling step. */
export function greenSeed(key: Uint8Array, prev: string): number {
  if (key.length < 16) throw new RangeError("greenSeed: key must be at least 16 bytes");
  const p = enc.encode(prev);
  const msg = new Uint8Array(DOMAIN.length + p.length);
  msg.set(DOMAIN, 0);
  msg.set(p, DOMAIN.length);
  const mac = hmac(sha256, key, msg);
  return (((mac[0] ?? 0) << 24) | ((mac[1] ?? 0) << 16) | ((mac[2] ?? 0) << 8) | (mac[3] ?? 0)) >>> 0;
}

/**
 * `greenSeed` for one key, many contexts: the HMAC's keyed state is computed once and cloned per context
 * (about 4x faster than one-shot HMACs), for scoring a suspect's pairs under one key — or under the hundreds
 * of keys a validity benchmark draws. Same values as `greenSeed` (tested).
 */
export function greenSeeder(key: Uint8Array): (prev: string) => number {
  if (key.length < 16) throw new RangeError("greenSeeder: key must be at least 16 bytes");
  const keyed = hmac.create(sha256, key);
  return (prev: string) => {
    const mac = keyed.clone().update(DOMAIN).update(enc.encode(prev)).digest();
    return (((mac[0] ?? 0) << 24) | ((mac[1] ?? 0) << 16) | ((mac[2] ?? 0) << 8) | (mac[3] ?? 0)) >>> 0;
  };
}

/** FNV-1a 32-bit hash of a token's UTF-8 bytes; precompute once per vocabulary entry. */
export function tokenHash32(token: string): number {
  let h = 0x811c9dc5;
  for (const b of enc.encode(token)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Whether a token (by its hash) is green after a context (by its seed), for green share `gamma`. */
export function isGreenHashed(seed: number, tokenHash: number, gamma: number): boolean {
  if (!(gamma > 0 && gamma < 1)) throw new RangeError("isGreenHashed: gamma must be in (0, 1)");
  return fmix32((seed ^ Math.imul(tokenHash, 0x9e3779b1)) >>> 0) < Math.floor(gamma * 2 ** 32);
}

/** Convenience form of the rule for one (prev, token) pair. */
export function isGreen(key: Uint8Array, prev: string, token: string, gamma: number): boolean {
  return isGreenHashed(greenSeed(key, prev), tokenHash32(token), gamma);
}
