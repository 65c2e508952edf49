import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import { describe, it } from "node:test";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { FingerprintError } from "../fingerprint-error.js";
import {
  checkEpochId,
  createSketchContext,
  fmix32,
  murmur3x86_32,
  murmur3x86_32String,
  utf8,
} from "./sketch-keys.js";

const bad = (f: () => unknown) =>
  assert.throws(f, (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT");

describe("sketch keyed hashing", () => {
  it("murmur3 x86_32 matches the reference implementation's published values", () => {
    // Values from Appleby's SMHasher MurmurHash3_x86_32 (widely reproduced test vectors).
    assert.equal(murmur3x86_32(utf8(""), 0), 0);
    assert.equal(murmur3x86_32(utf8(""), 1), 0x514e28b7);
    assert.equal(murmur3x86_32(utf8(""), 0xffffffff), 0x81f16f39);
    assert.equal(murmur3x86_32(new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0), 0xf55b516b);
    assert.equal(murmur3x86_32(new Uint8Array([0x21, 0x43, 0x65]), 0), 0x7e4a8634);
    assert.equal(murmur3x86_32(new Uint8Array([0x21, 0x43]), 0), 0xa0f7b07a);
    assert.equal(murmur3x86_32(new Uint8Array([0x21]), 0), 0x72661cf4);
    assert.equal(murmur3x86_32(utf8("The quick brown fox jumps over the lazy dog"), 0x9747b28c), 0x2fa826cd);
  });

  it("fmix32 is MurmurHash3's finalizer", () => {
    assert.equal(fmix32(0), 0);
    assert.equal(fmix32(1), 0x514e28b7);
  });

  it("version 1 digests are truncated HMAC-SHA256 under the derived key, repeatable across calls", () => {
    const key = new Uint8Array(32).map((_, i) => i);
    const ctx = createSketchContext(key, "e1", 1);
    assert.equal(ctx.blocks, null);
    const digestKey = hmac(sha256, key, utf8("lineage-sketch-v1\0digest\0e1"));
    for (const m of [new Uint8Array(0), utf8("abc"), new Uint8Array(200).fill(9)]) {
      const want = hmac(sha256, digestKey, m).slice(0, 8);
      assert.deepEqual(ctx.digest(m, 8), want);
      assert.deepEqual(ctx.digest(m, 8), want);
    }
  });

  it("version 2 block digests are AES-128-ECB under HMAC(epochKey, 'lineage-sketch-v2\\0block\\0' || epochId)[0..16]", () => {
    const key = new Uint8Array(32).map((_, i) => i);
    const ctx = createSketchContext(key, "e1");
    assert.equal(ctx.version, 2);
    const blockKey = hmac(sha256, key, utf8("lineage-sketch-v2\0block\0e1")).slice(0, 16);
    const blocks = Uint8Array.from({ length: 64 }, (_, i) => (i * 7) & 0xff);
    const cipher = createCipheriv("aes-128-ecb", blockKey, null).setAutoPadding(false);
    const want = new Uint8Array(Buffer.concat([cipher.update(blocks), cipher.final()]));
    assert.deepEqual(ctx.blocks?.encrypt(blocks), want);
    assert.deepEqual(ctx.blocks?.encrypt(blocks), want); // the reused cipher keeps no state
    const out = new Uint8Array(2 + 4 * 3);
    ctx.blocks?.digestInto(blocks, 3, out, 2);
    assert.deepEqual(
      out.subarray(2),
      Uint8Array.from([0, 1, 2, 3].flatMap((i) => [...want.subarray(16 * i, 16 * i + 3)])),
    );
    bad(() => ctx.blocks?.encrypt(new Uint8Array(15)));
    bad(() => ctx.blocks?.digestInto(blocks, 17, new Uint8Array(100), 0));
    bad(() => ctx.blocks?.digestInto(blocks, 4, new Uint8Array(15), 0));
    // Version 2 keeps version 1's seeds: the same row values, so the same retrieval.
    assert.deepEqual(ctx.seeds, createSketchContext(key, "e1", 1).seeds);
    bad(() => createSketchContext(key, "e1", 3 as 2));
  });

  it("seeds depend on the key and the epoch", () => {
    const k1 = new Uint8Array(32).fill(1);
    const k2 = new Uint8Array(32).fill(2);
    const a = createSketchContext(k1, "e1").seeds;
    assert.notDeepEqual(a, createSketchContext(k2, "e1").seeds);
    assert.notDeepEqual(a, createSketchContext(k1, "e2").seeds);
    assert.deepEqual(a, createSketchContext(k1, "e1").seeds);
  });

  it("rejects a bad key or epoch id with INVALID_ARGUMENT", () => {
    bad(() => createSketchContext(new Uint8Array(31), "e1"));
    bad(() => createSketchContext(new Uint8Array(32), ""));
    bad(() => createSketchContext(new Uint8Array(32), "has space"));
    bad(() => checkEpochId("x".repeat(65)));
    assert.equal(checkEpochId("2025-06.epoch:3_a"), "2025-06.epoch:3_a");
  });
});

it("murmur3x86_32String equals murmur3x86_32 over the UTF-8 bytes, ASCII or not", () => {
  const alphabet = [..."aZ09 -'.\u0000\u007fé€𝄞\ud800"];
  let x = 12345;
  for (let i = 0; i < 5000; i++) {
    let s = "";
    const len = i % 23;
    for (let j = 0; j < len; j++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      s += alphabet[x % (i % 2 === 0 ? 6 : alphabet.length)];
    }
    const seed = Math.imul(i, 0x9e3779b1) >>> 0;
    assert.equal(murmur3x86_32String(s, seed), murmur3x86_32(utf8(s), seed), JSON.stringify(s));
  }
});
