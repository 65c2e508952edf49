/**
 * cosignature/v1 (docs/specs/cosignature.md) against vectors from an independent implementation: the
 * Python standard library plus RFC 8032's Ed25519 reference algorithm, in scripts/vectors/lineage_vectors.py.
 * Ed25519 is deterministic, so the same key over the same message gives the same signature bytes: if this
 * code signed any other message (the timestamp in hex, a missing newline, another header), the line differs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fromBase64, fromHex, toHex, u64be, utf8 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { Ed25519PrivateKey } from "./ed25519-key.js";
import {
  cosignatureTimestamp,
  cosignatureV1Signer,
  cosignatureV1Verifier,
  NOTE_ALG_COSIGNATURE_V1,
} from "./note-cosignature.js";
import {
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatKeyId,
  NOTE_ALG_ED25519,
  noteKeyId,
  openNote,
  signNote,
} from "./signed-note.js";

// Printed by `python3 scripts/vectors/lineage_vectors.py` (cosig.*, note.log.line).
const V = {
  pubkey: "43a72e714401762df66b68c26dfbdf2682aaec9f2474eca4613e424a0fbafd3c",
  keyid: "9d26672a",
  keyidEd25519: "6949bd4a",
  message:
    "636f7369676e61747572652f76310a74696d6520313637393331353134370a6c696e656167652e6578616d706c652f6c6f670a350a414141414141414141414141414141414141414141414141414141414141414141414141414141414141413d0a",
  signature:
    "c2c44e6d9e588aaa6400fdb8425b27ce9466f31763206c4d81a59c7349dfb664d50d1efd6d4600965b98ec899248a2dc697fe82bd5452b9d9d515ec1a39da500",
  line: "— witness.example/w1 nSZnKgAAAABkGFDLwsRObZ5YiqpkAP24QlsnzpRm8xdjIGxNgaWcc0nftmTVDR79bUYAlluY7ImSSKLcaX/oK9VFK52dUV7Bo52lAA==",
  bigMessage:
    "636f7369676e61747572652f76310a74696d6520383538393933343539390a6c696e656167652e6578616d706c652f6c6f670a350a414141414141414141414141414141414141414141414141414141414141414141414141414141414141413d0a",
  bigLine:
    "— witness.example/w1 nSZnKgAAAAIAAAAHULXs6+u0f6jSJNX5+ry3TrzRrJgxFo8bA0V5Nxq75S118/OPyuxr35YKP6SK5tL7c7lIIf/kx7RB66/8RqL8Aw==",
  zeroLine:
    "— witness.example/w1 nSZnKgAAAAAAAAAAiC2z2XbJYD3VEaHV+x3CyIQdGax3Jvhf+xgXJXTIA+N8g5JJvnZzIGCoD/ftDdT6DTd5Xd7dNvmL5TKu16xPBQ==",
  logLine:
    "— lineage.example/log c7H9ApAtjBseGlLRrpsEpd3QdyHc0oT8lFeVvVYvaSzeKPBjzy5oMA1mBsRJ2mKHanr/zNcbbeQ0tUxFqit7PvVzxgc=",
};

const BODY = "lineage.example/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
const NAME = "witness.example/w1";
const T = 1679315147; // 0x6418a0cb: its hex and decimal forms differ
const BIG_T = 2 ** 33 + 7; // needs the high word of the u64 prefix
const WITNESS = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(0x0a));
const LOG = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(0x09));

/** The one signature line of a note signed by `signer` alone. */
function lineOf(note: string): string {
  const lines = note.slice(BODY.length + 1).split("\n");
  assert.equal(lines.length, 2, "one signature line then the final newline");
  return lines[0] as string;
}

test("cosignature/v1: key, key id, signed message and signature line match the independent vectors", () => {
  assert.equal(toHex(WITNESS.publicKey.raw), V.pubkey);
  assert.equal(formatKeyId(noteKeyId(NAME, NOTE_ALG_COSIGNATURE_V1, WITNESS.publicKey.raw)), V.keyid);
  assert.equal(formatKeyId(noteKeyId(NAME, NOTE_ALG_ED25519, WITNESS.publicKey.raw)), V.keyidEd25519);
  // The signed message in decimal, as the spec writes it; the Python signature verifies over it (node:crypto).
  const message = fromHex(V.message);
  assert.deepEqual(message, utf8(`cosignature/v1\ntime ${T}\n${BODY}`));
  assert.ok(WITNESS.publicKey.verify(message, fromHex(V.signature)));
  assert.ok(
    !WITNESS.publicKey.verify(utf8(`cosignature/v1\ntime ${T.toString(16)}\n${BODY}`), fromHex(V.signature)),
  );
  // This implementation, signing the same body at the same time, writes the same line byte for byte (a
  // timestamp written in hex, or any other change to the message, changes the Ed25519 signature).
  const signer = cosignatureV1Signer(NAME, WITNESS, () => T);
  assert.equal(formatKeyId(signer.keyId), V.keyid);
  assert.equal(toHex(signer.sign(utf8(BODY))), toHex(u64be(T)) + V.signature);
  assert.equal(lineOf(signNote(BODY, [signer])), V.line);
  assert.equal(lineOf(signNote(BODY, [cosignatureV1Signer(NAME, WITNESS, () => BIG_T)])), V.bigLine);
  assert.equal(lineOf(signNote(BODY, [cosignatureV1Signer(NAME, WITNESS, () => 0)])), V.zeroLine);
  assert.deepEqual(fromHex(V.bigMessage), utf8(`cosignature/v1\ntime ${BIG_T}\n${BODY}`));
  // The log's plain Ed25519 line on the same body.
  assert.equal(lineOf(signNote(BODY, [ed25519NoteSigner("lineage.example/log", LOG)])), V.logLine);
});

test("cosignature/v1: the independent lines verify here and carry their timestamps", () => {
  const verifier = cosignatureV1Verifier(NAME, WITNESS.publicKey);
  const log = ed25519NoteVerifier("lineage.example/log", LOG.publicKey);
  const note = `${BODY}\n${V.logLine}\n${V.line}\n`;
  const opened = openNote(note, [log, verifier]);
  assert.equal(opened.verified.length, 2);
  assert.equal(cosignatureTimestamp(opened.verified[1] as never), BigInt(T));
  const big = openNote(`${BODY}\n${V.bigLine}\n`, [verifier]);
  assert.equal(cosignatureTimestamp(big.verified[0] as never), BigInt(BIG_T));
  // The timestamp prefix is covered by the signature: the same signature under another time fails.
  const raw = fromBase64(V.line.split(" ")[2] as string, "line");
  raw[11] = (raw[11] as number) ^ 1; // last byte of u64be(T)
  const moved = `— ${NAME} ${Buffer.from(raw).toString("base64")}`;
  assert.throws(
    () => openNote(`${BODY}\n${moved}\n`, [verifier]),
    (e: unknown) => e instanceof CryptoError && e.code === "bad_signature",
  );
});
