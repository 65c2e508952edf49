import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { test } from "node:test";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { HmacSha256 } from "./hmac-sha256.js";

test("HmacSha256 matches RFC 4231 test case 2", () => {
  const h = new HmacSha256(new TextEncoder().encode("Jefe"));
  assert.equal(
    bytesToHex(h.mac(new TextEncoder().encode("what do ya want for nothing?"))),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
});

test("HmacSha256 equals node:crypto and @noble/hashes for every message length 0..300 and truncation", () => {
  for (const keyLen of [0, 1, 16, 32, 63, 64]) {
    const key = new Uint8Array(randomBytes(keyLen));
    const h = new HmacSha256(key);
    for (let n = 0; n <= 300; n++) {
      const msg = new Uint8Array(randomBytes(n));
      const want = new Uint8Array(createHmac("sha256", key).update(msg).digest());
      assert.deepEqual(h.mac(msg), want, `key ${keyLen} bytes, message ${n} bytes`);
      assert.deepEqual(hmac(sha256, key, msg), want);
      const bytes = 1 + (n % 32);
      const out = new Uint8Array(40).fill(0xaa);
      h.macInto(msg, bytes, out, 3);
      assert.deepEqual(out.subarray(3, 3 + bytes), want.subarray(0, bytes));
      assert.equal(out[2], 0xaa);
      assert.equal(out[3 + bytes] ?? 0xaa, 0xaa);
    }
  }
});

test("HmacSha256 refuses keys longer than one block", () => {
  assert.throws(() => new HmacSha256(new Uint8Array(65)), RangeError);
});
