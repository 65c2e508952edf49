import assert from "node:assert/strict";
import { test } from "node:test";
import { toHex, utf8 } from "./bytes.js";
import { referenceFingerprintDigest, watermarkKeyDigest } from "./commitment-digest.js";
import { CryptoError } from "./crypto-error.js";

const code = (c: string) => (e: unknown) => e instanceof CryptoError && e.code === c;

// Expected hex printed by `python3 scripts/vectors/lineage_vectors.py` (watermark.digest, reference.digest).
test("digests match the independent vectors (domain strings pinned)", () => {
  assert.equal(
    toHex(watermarkKeyDigest(new Uint8Array(32).fill(0x33), utf8("member-watermark-key"))),
    "1eefa44fa5ac0d682479547fc8371491faa94adb7b422bfc138b19509ddab69f",
  );
  assert.equal(
    toHex(referenceFingerprintDigest(new Uint8Array(32).fill(0x44), utf8("canonical fingerprint bytes"))),
    "0093e0d4f9c3b626cfe187b6a8c0495ce6477fdd87c161e8b3662671b7ef3134",
  );
});

test("the two digests are domain-separated and salted", () => {
  const salt = new Uint8Array(32).fill(9);
  const x = utf8("same bytes");
  assert.notEqual(toHex(watermarkKeyDigest(salt, x)), toHex(referenceFingerprintDigest(salt, x)));
  assert.notEqual(toHex(watermarkKeyDigest(salt, x)), toHex(watermarkKeyDigest(new Uint8Array(32), x)));
});

test("bad arguments fail with their codes", () => {
  assert.throws(() => watermarkKeyDigest(new Uint8Array(31), utf8("k")), code("invalid_argument"));
  assert.throws(() => watermarkKeyDigest(new Uint8Array(32), new Uint8Array(0)), code("invalid_argument"));
  assert.throws(() => watermarkKeyDigest(new Uint8Array(32), new Uint8Array(65537)), code("too_large"));
  assert.throws(
    () => referenceFingerprintDigest(new Uint8Array(32), new Uint8Array(0)),
    code("invalid_argument"),
  );
  assert.throws(() => referenceFingerprintDigest("x" as never, utf8("k")), code("invalid_argument"));
});
