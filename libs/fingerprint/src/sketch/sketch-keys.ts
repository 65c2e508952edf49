/**
 * Keyed hashing for sketches (see sketch-types.ts; docs/specs/sketch.md): everything a sketch publishes is
 * keyed with the epoch key, so an outsider without it cannot compute, test or link digests.
 *
 * Derivation, V = the sketch version (1 or 2; all HMAC-SHA256, "\0" = a zero byte, epochId as UTF-8):
 *   digestKey = HMAC(epochKey, "lineage-sketch-vV\0digest\0" || epochId)   -> keys version 1's digests
 *   blockKey  = HMAC(epochKey, "lineage-sketch-v2\0block\0" || epochId)[0..16] -> AES-128 key, version 2
 *   seedBytes = HMAC(epochKey, "lineage-sketch-v1\0seeds\0" || epochId || u32be(i)) for i = 0, 1, ...
 *               read as big-endian u32 words: the seeds of the integer hash family below. Both versions
 *               use version 1's seeds, so a fingerprint has the same row values under both: version 2
 *               retrieves exactly what version 1 did (equal digests where v1's were equal), only faster.
 * HMAC per shingle per hash function would cost ~25 million HMACs per sketch, so the key enters once,
 * through the seeds, and shingles are hashed with fast integer mixing:
 *   tokenHash(t)  = (murmur3_32(utf8(t), seed0), murmur3_32(utf8(t), seed1))
 *   shingleHash   = fold over the shingle's tokens: h = fmix32(imul(h ^ tokA, 0x9e3779b1) + tokB) ...
 *   row i value   = fmix32(fmix32(shA ^ rowSeed[i]) + shB)                   (see minhash.ts)
 * Those values never leave the node: only keyed digests of them are published — version 1 a truncated
 * HMAC-SHA256 under digestKey per digest, version 2 a truncated AES-128 block under blockKey per digest
 * (block-digest.ts), a pseudorandom permutation evaluated by OpenSSL for all of a sketch's blocks at once.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { FingerprintError } from "../fingerprint-error.js";
import { BlockDigest } from "./block-digest.js";
import { HmacSha256 } from "./hmac-sha256.js";
import {
  EPOCH_KEY_BYTES,
  PROBE_ROWS,
  SKETCH_LIMITS,
  SKETCH_VERSION,
  SKETCH_VERSIONS,
  type SketchVersion,
} from "./sketch-types.js";

const enc = new TextEncoder();
const EPOCH_ID_RE = /^[A-Za-z0-9._:-]+$/;

/** Seeds of the keyed integer hash family: token hashing, per-probe rows, the coarse signature, SimHash. */
export interface SketchSeeds {
  readonly token0: number;
  readonly token1: number;
  /** PROBE_ROWS per-probe row seeds. */
  readonly probeRows: Uint32Array;
  readonly coarse0: number;
  readonly coarse1: number;
  readonly simhash0: number;
  readonly simhash1: number;
}

/**
 * What sketching under one epoch needs, derived once from the epoch key and reused for every model
 * (derivation costs a few HMACs; building it per sketch is wasteful but correct).
 */
export interface SketchContext {
  /** The sketch version this context builds (its keys are that version's). */
  readonly version: SketchVersion;
  readonly epochId: string;
  readonly seeds: SketchSeeds;
  /** Version 2's AES-128 block digests under blockKey (null in a version-1 context). */
  readonly blocks: BlockDigest | null;
  /** Truncated HMAC-SHA256 under the derived digest key (version 1's published digests). */
  digest(message: Uint8Array, bytes: number): Uint8Array;
  /** The same digest written into `out` at `offset` (no allocation). */
  digestInto(message: Uint8Array, bytes: number, out: Uint8Array, offset: number): void;
}

/** Checks an epoch id: 1..64 bytes of `[A-Za-z0-9._:-]` (it is hashed and serialized). */
export function checkEpochId(epochId: unknown, what = "epochId"): string {
  if (typeof epochId !== "string" || epochId.length === 0) {
    throw new FingerprintError("INVALID_ARGUMENT", `${what} must be a non-empty string`);
  }
  if (epochId.length > SKETCH_LIMITS.maxEpochIdBytes || !EPOCH_ID_RE.test(epochId)) {
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      `${what} must be at most ${SKETCH_LIMITS.maxEpochIdBytes} characters of [A-Za-z0-9._:-]`,
    );
  }
  return epochId;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Derives the sketch context of an epoch from its 32-byte key.
 * @param version - the sketch version to build: SKETCH_VERSION (2) unless a version-1 sketch must be
 *   reproduced (stored data, its golden vectors).
 */
export function createSketchContext(
  epochKey: Uint8Array,
  epochId: string,
  version: SketchVersion = SKETCH_VERSION,
): SketchContext {
  if (!SKETCH_VERSIONS.includes(version)) {
    throw new FingerprintError("INVALID_ARGUMENT", `version must be one of ${SKETCH_VERSIONS.join(", ")}`);
  }
  if (!(epochKey instanceof Uint8Array) || epochKey.length !== EPOCH_KEY_BYTES) {
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      `epochKey must be a Uint8Array of ${EPOCH_KEY_BYTES} bytes`,
    );
  }
  checkEpochId(epochId);
  const eid = enc.encode(epochId);
  const label = `lineage-sketch-v${version}\0`;
  const digestKey = hmac(sha256, epochKey, concat(enc.encode(`${label}digest\0`), eid));
  const seedPrefix = concat(enc.encode("lineage-sketch-v1\0seeds\0"), eid);
  const blocks =
    version === 1
      ? null
      : new BlockDigest(hmac(sha256, epochKey, concat(enc.encode(`${label}block\0`), eid)).subarray(0, 16));
  const need = 6 + PROBE_ROWS;
  const words: number[] = [];
  for (let block = 0; words.length < need; block++) {
    const ctr = new Uint8Array(4);
    new DataView(ctr.buffer).setUint32(0, block);
    const mac = hmac(sha256, epochKey, concat(seedPrefix, ctr));
    const dv = new DataView(mac.buffer, mac.byteOffset, mac.byteLength);
    for (let i = 0; i < 8; i++) words.push(dv.getUint32(i * 4));
  }
  const w = (i: number): number => words[i] ?? 0;
  const seeds: SketchSeeds = {
    token0: w(0),
    token1: w(1),
    coarse0: w(2),
    coarse1: w(3),
    simhash0: w(4),
    simhash1: w(5),
    probeRows: Uint32Array.from(words.slice(6, 6 + PROBE_ROWS)),
  };
  // The key pads are compressed once; a digest of a short message is then two SHA-256 compressions
  // (hmac-sha256.ts), ~3x faster than a cloned @noble/hashes HMAC (measured in bench/sketch.ts).
  const mac = new HmacSha256(digestKey);
  return {
    version,
    epochId,
    seeds,
    blocks,
    digest(message: Uint8Array, bytes: number): Uint8Array {
      return mac.mac(message, bytes);
    },
    digestInto(message: Uint8Array, bytes: number, out: Uint8Array, offset: number): void {
      mac.macInto(message, bytes, out, offset);
    },
  };
}

/** MurmurHash3's 32-bit finalizer: a bijection on u32 with full avalanche. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 of bytes with a seed (Appleby's reference algorithm). */
export function murmur3x86_32(data: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const n = data.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k =
      (data[i] ?? 0) | ((data[i + 1] ?? 0) << 8) | ((data[i + 2] ?? 0) << 16) | ((data[i + 3] ?? 0) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = n & 3;
  if (rest > 0) {
    // The reference algorithm's fall-through tail, unrolled.
    let k = 0;
    if (rest === 3) k ^= (data[blocks + 2] ?? 0) << 16;
    if (rest >= 2) k ^= (data[blocks + 1] ?? 0) << 8;
    k ^= data[blocks] ?? 0;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= n;
  return fmix32(h);
}

/**
 * murmur3x86_32(utf8(s), seed) without encoding when `s` is ASCII (its UTF-8 bytes are its char
 * codes); other strings are encoded first. Same value either way.
 */
export function murmur3x86_32String(s: string, seed: number): number {
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return murmur3x86_32(enc.encode(s), seed);
  return murmur3x86_32Ascii(s, 0, n, seed);
}

/**
 * murmur3x86_32 of the bytes s.charCodeAt(from .. end - 1): the UTF-8 of s.slice(from, end) when that
 * slice is ASCII (the caller's guarantee), hashed without making the slice.
 */
export function murmur3x86_32Ascii(s: string, from: number, end: number, seed: number): number {
  murmur3x86_32AsciiInto(s, from, end, seed, one, 0);
  return one[0] as number;
}
const one = new Uint32Array(1);

/** murmur3x86_32Ascii written into out[at] (no boxed return value on the hot path). */
export function murmur3x86_32AsciiInto(
  s: string,
  from: number,
  end: number,
  seed: number,
  out: Uint32Array,
  at: number,
): void {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const n = end - from;
  const blocks = from + (n & ~3);
  for (let i = from; i < blocks; i += 4) {
    let k =
      s.charCodeAt(i) |
      (s.charCodeAt(i + 1) << 8) |
      (s.charCodeAt(i + 2) << 16) |
      (s.charCodeAt(i + 3) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = n & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= s.charCodeAt(blocks + 2) << 16;
    if (rest >= 2) k ^= s.charCodeAt(blocks + 1) << 8;
    k ^= s.charCodeAt(blocks);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  out[at] = h ^ (h >>> 16);
}

/**
 * murmur3x86_32AsciiInto under two seeds in one pass over the characters: outA[at] under seedA,
 * outB[at] under seedB.
 */
export function murmur3x86_32AsciiPairInto(
  s: string,
  from: number,
  end: number,
  seedA: number,
  seedB: number,
  outA: Uint32Array,
  outB: Uint32Array,
  at: number,
): void {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seedA | 0;
  let g = seedB | 0;
  const n = end - from;
  const blocks = from + (n & ~3);
  for (let i = from; i < blocks; i += 4) {
    let k =
      s.charCodeAt(i) |
      (s.charCodeAt(i + 1) << 8) |
      (s.charCodeAt(i + 2) << 16) |
      (s.charCodeAt(i + 3) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    g ^= k;
    g = (g << 13) | (g >>> 19);
    g = (Math.imul(g, 5) + 0xe6546b64) | 0;
  }
  const rest = n & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= s.charCodeAt(blocks + 2) << 16;
    if (rest >= 2) k ^= s.charCodeAt(blocks + 1) << 8;
    k ^= s.charCodeAt(blocks);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    g ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  outA[at] = h ^ (h >>> 16);
  g ^= n;
  g ^= g >>> 16;
  g = Math.imul(g, 0x85ebca6b);
  g ^= g >>> 13;
  g = Math.imul(g, 0xc2b2ae35);
  outB[at] = g ^ (g >>> 16);
}

/** UTF-8 bytes of a string (shared encoder). */
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}
