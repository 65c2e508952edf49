import assert from "node:assert/strict";
import { test } from "node:test";
import {
  auditorPublicKeyOf,
  generateAuditorKey,
  openDisclosureEnvelope,
  parseAuditorPrivateKey,
} from "@lineage/auditor";
import { isMemberNodeError } from "../member-node-error.js";
import {
  checkAuditorPublicKey,
  DISCLOSURE_ENVELOPE_MAGIC,
  parseAuditorPublicKey,
  sealDisclosureEnvelope,
} from "./disclosure-envelope.js";

// Independent vector: python3 `cryptography` 48.0.0, hazmat.primitives.hpke.Suite(KEM.X25519, KDF.HKDF_SHA256,
// AEAD.CHACHA20_POLY1305).encrypt(b"lineage disclosure test vector", pk(sk = 0x07 * 32),
// info=b"lineage/disclosure-envelope/v1") = enc || ct (the ephemeral key is random, so it only opens).
const VECTOR_SK = new Uint8Array(32).fill(7);
const VECTOR_PK = "13be4feaeaf204c7fd3358fc9c00721881d174278128227ec674f37f7fe97b6d";
const VECTOR_CT =
  "f41c410bc51cdcfc63ebca9d099f4abd6a74b2d9d41920fa230ea105d6e2a60143019384eaa82f778478f6537770806e2d579896d24e817245f3abbfb8d2aba1f5c63450b99b7e61e699303cf170";

const withMagic = (hex: string) =>
  new Uint8Array(Buffer.concat([DISCLOSURE_ENVELOPE_MAGIC, Buffer.from(hex, "hex")]));

test("HPKE base mode interoperates with an independent implementation (python cryptography)", () => {
  assert.equal(Buffer.from(auditorPublicKeyOf(VECTOR_SK)).toString("hex"), VECTOR_PK);
  const plain = openDisclosureEnvelope(withMagic(VECTOR_CT), VECTOR_SK);
  assert.equal(Buffer.from(plain).toString(), "lineage disclosure test vector");
});

test("seal -> open round-trips; any flipped bit, another key or a truncated file is refused", () => {
  const k = generateAuditorKey();
  const sk = parseAuditorPrivateKey(k.privateKeyText);
  const msg = new TextEncoder().encode("a disclosure package, in confidence");
  const sealed = sealDisclosureEnvelope(msg, parseAuditorPublicKey(k.publicKeyText));
  assert.deepEqual(openDisclosureEnvelope(sealed, sk), msg);
  assert.notDeepEqual(
    sealDisclosureEnvelope(msg, parseAuditorPublicKey(k.publicKeyText)),
    sealed,
    "fresh ephemeral key each time",
  );
  for (let i = DISCLOSURE_ENVELOPE_MAGIC.length; i < sealed.length; i += 7) {
    const bad = sealed.slice();
    bad[i] = (bad[i] as number) ^ 0x10;
    assert.throws(() => openDisclosureEnvelope(bad, sk), { code: "malformed" }, `bit flip at ${i}`);
  }
  const other = parseAuditorPrivateKey(generateAuditorKey().privateKeyText);
  assert.throws(() => openDisclosureEnvelope(sealed, other), { code: "malformed" });
  assert.throws(() => openDisclosureEnvelope(sealed.subarray(0, 40), sk), { code: "malformed" });
  assert.throws(() => openDisclosureEnvelope(new TextEncoder().encode('{"bundle": {}}'), sk), {
    code: "malformed",
  });
});

test("auditor keys: bad texts are refused naming the format", () => {
  for (const t of [
    "",
    "lineage-x25519-pub:",
    `lineage-x25519-pub:${"g".repeat(64)}`,
    `x25519:${VECTOR_PK}`,
    `lineage-x25519-pub:${VECTOR_PK}00`,
  ])
    assert.throws(
      () => parseAuditorPublicKey(t),
      (err) => isMemberNodeError(err, "invalid_argument") && /lineage-x25519-pub:/.test(err.message),
    );
  assert.deepEqual(
    parseAuditorPublicKey(`lineage-x25519-pub:${VECTOR_PK}\n`),
    new Uint8Array(Buffer.from(VECTOR_PK, "hex")),
  );
  assert.throws(() => parseAuditorPrivateKey(`lineage-x25519-pub:${VECTOR_PK}`), { code: "malformed" });
  assert.throws(
    () => sealDisclosureEnvelope(new Uint8Array(1), new Uint8Array(31)),
    (err) => isMemberNodeError(err, "invalid_argument"),
  );
});

// X25519 public keys of small order (RFC 7748 section 6.1; cr.yp.to/ecdh.html#validate): with any of them the
// shared secret is all zeros, so a package sealed to one would open for anyone.
const LOW_ORDER_POINTS = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

test("a low-order auditor key is refused as invalid_argument (text and raw), never sealed to", () => {
  for (const hex of LOW_ORDER_POINTS) {
    assert.throws(
      () => parseAuditorPublicKey(`lineage-x25519-pub:${hex}`),
      (err) => isMemberNodeError(err, "invalid_argument") && /low order/.test(err.message),
      hex,
    );
    assert.throws(
      () => sealDisclosureEnvelope(new Uint8Array(8), new Uint8Array(Buffer.from(hex, "hex"))),
      (err) => isMemberNodeError(err, "invalid_argument") && /low order/.test(err.message),
      hex,
    );
    // What DiscloseSession checks before it reads anything from the log.
    assert.throws(
      () => checkAuditorPublicKey(new Uint8Array(Buffer.from(hex, "hex"))),
      (err) => isMemberNodeError(err, "invalid_argument") && /low order/.test(err.message),
      hex,
    );
  }
  checkAuditorPublicKey(new Uint8Array(Buffer.from(VECTOR_PK, "hex")));
});
