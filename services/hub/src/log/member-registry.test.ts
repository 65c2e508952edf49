/**
 * A replayed key is imported at first use (member-registry.ts #newKey, issue 12's restart budget): an admitted
 * record with a key that is not a curve point is refused as before, and the same record replayed is never
 * used — its key refuses every use with log_corrupt.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { MembershipRecordSchema } from "@lineage/api";
import { Ed25519PrivateKey, Ed25519PublicKey, isCryptoError, keyIdOf } from "@lineage/crypto";
import { isLogError } from "./log-error.js";
import { MemberRegistry } from "./member-registry.js";
import { enrolmentRecord, keyFingerprint } from "./membership-record.js";

/** The first 32-byte encoding y = n (little-endian) that is not an Ed25519 point (about half are not). */
function notAPoint(): Uint8Array {
  for (let n = 2; ; n++) {
    const raw = new Uint8Array(32);
    raw[0] = n;
    try {
      Ed25519PublicKey.fromRaw(raw);
    } catch (err) {
      if (isCryptoError(err, "malformed")) return raw;
      throw err;
    }
  }
}

function enrolment(raw: Uint8Array) {
  const now = Date.now();
  const record = create(
    MembershipRecordSchema,
    enrolmentRecord("acme", "Acme", Ed25519PrivateKey.generate().publicKey, now - 1000),
  );
  if (record.key === undefined) throw new Error("enrolmentRecord made no key");
  record.key.publicKey = raw;
  record.key.keyId = keyIdOf(raw);
  record.confirmedFingerprint = keyFingerprint(raw);
  return record;
}

const admission = (keyId: string) => ({
  signedBy: new Set(["hub", keyId]),
  hubKeyId: "hub",
  integratedAtMs: Date.now(),
  skewMs: 60_000,
});

test("an admitted enrolment of a key that is not a curve point is refused (invalid_argument)", () => {
  const raw = notAPoint();
  assert.throws(
    () => new MemberRegistry().apply(enrolment(raw), 0, admission(keyIdOf(raw))),
    (err) => isLogError(err, "invalid_argument") && /not a valid Ed25519 public key/.test(err.message),
  );
});

test("a replayed enrolment of such a key is recorded, and every use of the key fails with log_corrupt", () => {
  const raw = notAPoint();
  const registry = new MemberRegistry();
  registry.apply(enrolment(raw), 7);
  const key = registry.key(keyIdOf(raw));
  assert.ok(key !== undefined);
  for (let i = 0; i < 2; i++)
    assert.throws(
      () => key.publicKey.verify(new Uint8Array(1), new Uint8Array(64)),
      (err) => isLogError(err, "log_corrupt") && /logged at index 7/.test(err.message),
    );
});

test("a replayed valid key is imported once, at first use, and verifies its member's signatures", () => {
  const member = Ed25519PrivateKey.generate();
  const registry = new MemberRegistry();
  registry.apply(enrolment(member.publicKey.raw), 0);
  const key = registry.key(member.keyId);
  assert.ok(key !== undefined);
  const msg = new TextEncoder().encode("sketch");
  assert.equal(key.publicKey.verify(msg, member.sign(msg)), true);
  assert.equal(key.publicKey, key.publicKey);
});
