/**
 * Sketch version 2's published digests (docs/specs/sketch.md): digest = AES-128(blockKey, block)[0..w] for
 * one 16-byte block per digest, the AES of FIPS 197 in ECB mode — each block enciphered on its own, which is
 * what a per-digest pseudorandom permutation is (ECB's "equal blocks give equal ciphertexts" is the point
 * here: equal (probe, band, row) must give equal digests, and blocks that differ in any bit are unrelated).
 * Truncated to w <= 8 bytes, the output is a pseudorandom function of the block to anyone without the key
 * (PRP/PRF switching: the gap is count^2 / 2^129, nil for a sketch's ~33k blocks).
 *
 * Why AES and not HMAC: version 1 computed ~33k truncated HMAC-SHA256 per 1,000-probe sketch in pure JS
 * (two SHA-256 compressions each, ~15 ms: half the sketch). node:crypto reaches OpenSSL's AES (AES-NI where
 * the CPU has it) with one call for all of a sketch's blocks: ~0.3 ms. (One HMAC call per digest through
 * node:crypto would cost more than the pure-JS HMAC: ~1 us of call overhead each.)
 */
import { createCipheriv } from "node:crypto";
import { FingerprintError } from "../fingerprint-error.js";

/** Bytes of one block. */
export const BLOCK_BYTES = 16;

/** AES-128 block digests under one key. */
export class BlockDigest {
  // ECB keeps no state between blocks; every input handed to update() is whole blocks and final() is
  // never called, so one cipher object serves every call (a new one costs a key schedule, ~2 us).
  readonly #cipher: ReturnType<typeof createCipheriv>;

  /** @param key - the 16-byte AES-128 key (blockKey, sketch-keys.ts). */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== 16) {
      throw new FingerprintError("INVALID_ARGUMENT", "BlockDigest key must be a Uint8Array of 16 bytes");
    }
    this.#cipher = createCipheriv("aes-128-ecb", key, null);
    this.#cipher.setAutoPadding(false);
  }

  /** AES-128 of each 16-byte block of `blocks` (its length a multiple of 16): the ciphertexts, in order. */
  encrypt(blocks: Uint8Array): Uint8Array {
    if (!(blocks instanceof Uint8Array) || blocks.length % BLOCK_BYTES !== 0) {
      throw new FingerprintError("INVALID_ARGUMENT", "blocks must be a Uint8Array of whole 16-byte blocks");
    }
    if (blocks.length === 0) return new Uint8Array(0);
    const out = this.#cipher.update(blocks);
    if (out.length !== blocks.length) {
      // Cannot happen with whole blocks and no padding; a short answer would silently shift digests.
      throw new Error("AES-128-ECB returned a partial output");
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.length); // a Uint8Array, not a Buffer
  }

  /**
   * The digest of each block of `blocks` — the first `width` (1..16) bytes of its ciphertext — written
   * consecutively into `out` from `offset`.
   */
  digestInto(blocks: Uint8Array, width: number, out: Uint8Array, offset: number): void {
    if (!(Number.isInteger(width) && width >= 1 && width <= BLOCK_BYTES)) {
      throw new FingerprintError("INVALID_ARGUMENT", "digest width must be 1..16 bytes");
    }
    const n = blocks.length / BLOCK_BYTES;
    if (!(Number.isInteger(offset) && offset >= 0 && offset + n * width <= out.length)) {
      throw new FingerprintError("INVALID_ARGUMENT", "digest output does not fit");
    }
    const c = this.encrypt(blocks);
    for (let i = 0; i < n; i++) {
      const s = i * BLOCK_BYTES;
      const o = offset + i * width;
      for (let k = 0; k < width; k++) out[o + k] = c[s + k] as number;
    }
  }
}
