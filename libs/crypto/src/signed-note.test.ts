import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { CryptoError, type CryptoErrorCode } from "./crypto-error.js";
import { Ed25519PrivateKey } from "./ed25519-key.js";
import { cosignatureTimestamp, cosignatureV1Signer, cosignatureV1Verifier } from "./note-cosignature.js";
import {
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatSignerKey,
  formatVerifierKey,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from "./signed-note.js";

// Vectors from golang.org/x/mod/sumdb/note (note_test.go: TestNewVerifier, TestSign, TestOpen),
// the reference implementation of c2sp.org/signed-note.
const PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG =
  "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG =
  "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

function codeOf(fn: () => unknown): CryptoErrorCode | "none" {
  try {
    fn();
    return "none";
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
}

test("PeterNeumann keys parse, and signing reproduces the sumdb/note TestSign output byte for byte", () => {
  const { signer, key } = parseSignerKey(PETER_SKEY);
  const verifier = parseVerifierKey(PETER_VKEY);
  assert.equal(signer.keyId, 0xc74f20a3);
  assert.equal(verifier.keyId, 0xc74f20a3);
  assert.equal(formatVerifierKey("PeterNeumann", key.publicKey), PETER_VKEY);
  assert.equal(formatSignerKey("PeterNeumann", key), PETER_SKEY);
  assert.equal(signNote(TEXT, [signer]), `${TEXT}\n${PETER_SIG}`);
  // An existing signature by the same key is replaced, not duplicated.
  const old = parseNote(`${TEXT}\n${PETER_SIG}`).signatures;
  assert.equal(signNote(TEXT, [signer], old), `${TEXT}\n${PETER_SIG}`);
});

test("verifier key manglings are rejected (TestNewVerifier)", () => {
  const b = [...PETER_VKEY];
  for (let i = 0; i < b.length; i++) {
    const orig = b[i] as string;
    b[i] = String.fromCharCode(orig.charCodeAt(0) + 1);
    assert.notEqual(
      codeOf(() => parseVerifierKey(b.join(""))),
      "none",
      b.join(""),
    );
    b[i] = orig;
  }
  for (let cut = 1; cut < PETER_VKEY.length; cut += 7) {
    assert.notEqual(
      codeOf(() => parseVerifierKey(PETER_VKEY.slice(0, cut))),
      "none",
    );
    assert.notEqual(
      codeOf(() => parseVerifierKey(PETER_VKEY.slice(cut))),
      "none",
    );
  }
  assert.equal(
    codeOf(() =>
      parseVerifierKey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="),
    ),
    "malformed",
  );
  assert.equal(
    codeOf(() => parseVerifierKey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")),
    "malformed",
  );
});

test("open: known signers verify, unknown ones are kept (TestOpen)", () => {
  const peter = parseVerifierKey(PETER_VKEY);
  const enoch = parseVerifierKey(ENOCH_VKEY);
  const msg = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
  const one = openNote(msg, [peter]);
  assert.equal(one.text, TEXT);
  assert.deepEqual(
    one.verified.map((s) => s.name),
    ["PeterNeumann"],
  );
  assert.deepEqual(
    one.unverified.map((s) => [s.name, s.keyId]),
    [["EnochRoot", 0xaf0cfe78]],
  );
  const both = openNote(new TextEncoder().encode(msg), [peter, enoch]);
  assert.deepEqual(
    both.verified.map((s) => s.name),
    ["PeterNeumann", "EnochRoot"],
  );
  assert.equal(
    codeOf(() => openNote(msg, [])),
    "unknown_key",
  );
  assert.equal(
    codeOf(() => openNote(`${TEXT}\n${ENOCH_SIG}`, [enoch, peter, enoch])),
    "invalid_argument",
  );
  // Too many signatures (Go uses 100; our default limit is 32).
  assert.equal(
    codeOf(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, [peter])),
    "too_large",
  );
  // A signature from a known key that fails rejects the whole note.
  assert.equal(
    codeOf(() => openNote(`${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`, [peter])),
    "bad_signature",
  );
  // Duplicate lines from a known key count once; unknown lines are kept.
  const dup = openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}`, [peter]);
  assert.equal(dup.verified.length, 1);
  assert.equal(dup.unverified.length, 1);
  // Same name but another key id, or same key id but another name: ignored (unknown).
  const misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
  assert.equal(
    codeOf(() => openNote(`${TEXT}\n${misnamed}`, [peter])),
    "unknown_key",
  );
});

test("malformed notes are rejected (TestOpen badMsgs and more)", () => {
  const peter = parseVerifierKey(PETER_VKEY);
  const bad = [
    TEXT,
    `${TEXT}\n`,
    `${TEXT}\n${PETER_SIG.slice(0, -1)}`,
    `\x01${TEXT}\n${PETER_SIG}`,
    `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
    `${TEXT}\n${PETER_SIG}Unexpected line.\n`,
    `${TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
    `${TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n`,
    `${TEXT}\n— Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
    `${TEXT}\n—  PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
    `${TEXT}\n— PeterNeumann AAAA\n`,
  ];
  for (const msg of bad)
    assert.equal(
      codeOf(() => openNote(msg, [peter])),
      "malformed",
      JSON.stringify(msg),
    );
  assert.equal(
    codeOf(() => openNote(new Uint8Array([0xff, 0x0a, 0x0a]), [peter])),
    "malformed",
  );
  assert.equal(
    codeOf(() => openNote("x".repeat(70_000), [peter])),
    "too_large",
  );
  assert.equal(
    codeOf(() => openNote(`${"line\n".repeat(100)}\n${PETER_SIG}`, [peter])),
    "too_large",
  );
  assert.equal(
    codeOf(() => signNote("no newline", [parseSignerKey(PETER_SKEY).signer])),
    "invalid_argument",
  );
});

test("cosignature/v1: timestamped witness signatures verify and carry their time", () => {
  const log = ed25519NoteSigner(
    "lineage.example/log",
    Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(9)),
  );
  const wkey = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(10));
  const witness = cosignatureV1Signer("witness.example/w1", wkey, () => 1679315147);
  const wv = cosignatureV1Verifier("witness.example/w1", wkey.publicKey);
  assert.equal(witness.keyId, wv.keyId);
  // The key id uses type 0x04, so the same key as a plain Ed25519 note key has another id.
  assert.notEqual(ed25519NoteVerifier("witness.example/w1", wkey.publicKey).keyId, wv.keyId);
  const note = signNote("lineage.example/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", [
    log,
    witness,
  ]);
  const opened = openNote(note, [wv]);
  assert.equal(opened.verified.length, 1);
  assert.equal(cosignatureTimestamp(opened.verified[0] as never), 1679315147n);
  // The cosigned message includes the "cosignature/v1\ntime T\n" header: a plain signature over the text alone fails.
  const forged = ed25519NoteSigner("witness.example/w1", wkey);
  const plain = signNote("a\n", [
    { ...forged, keyId: wv.keyId, sign: (t) => new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1, ...wkey.sign(t)]) },
  ]);
  assert.equal(
    codeOf(() => openNote(plain, [wv])),
    "bad_signature",
  );
});

test("property: any flipped bit in a signed note fails or is ignored, never verifies different text", () => {
  const key = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(4));
  const signer = ed25519NoteSigner("lineage.example/log", key);
  const verifier = ed25519NoteVerifier("lineage.example/log", key.publicKey);
  const line = fc.stringMatching(/^[a-zA-Z0-9 ./+=-]{1,30}$/);
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), fc.nat(), (lines, flip) => {
      const text = `${lines.join("\n")}\n`;
      const note = signNote(text, [signer]);
      assert.equal(openNote(note, [verifier]).text, text);
      const bytes = new TextEncoder().encode(note);
      const bit = flip % (bytes.length * 8);
      bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
      try {
        const o = openNote(bytes, [verifier]);
        // Only acceptable if the text is unchanged (e.g. the flip made an extra unknown line impossible).
        assert.equal(o.text, text);
      } catch (e) {
        assert.ok(e instanceof CryptoError);
      }
    }),
    { numRuns: 200 },
  );
});
