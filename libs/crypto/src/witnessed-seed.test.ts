/**
 * The witnessed disclosure seed (docs/specs/disclosure.md, v2) against vectors printed by the independent
 * implementation in scripts/vectors/lineage_vectors.py (witnessed.*): real cosignature/v1 lines by two
 * witnesses (Ed25519 seeds 0x0b and 0x0a) over the note text of a size-50 checkpoint with root 0x66 x 32.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { toBase64, toHex } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { Ed25519PrivateKey } from "./ed25519-key.js";
import { cosignatureV1Signer } from "./note-cosignature.js";
import { disclosurePairIndices } from "./protocol-seed.js";
import { type NoteSignature, parseNote, signNote } from "./signed-note.js";
import {
  cosignatureDigest,
  witnessedDisclosurePairIndices,
  witnessedDisclosureSeed,
} from "./witnessed-seed.js";

const V = {
  w2: "— witness.example/w2 70DHpgAAAABpUkfFUnuWTJCeOKBZHB8LeRpVa/SfmowNQevshA68au3cmI2QJ48mQU6kPuTQOzbdqGIkRD/GWiwuvMx+yl7lwJE7Cw==",
  w1: "— witness.example/w1 nSZnKgAAAABpUkfAX+HehqwjsiN8nGaLnmmwZ1yPAxJriXt8ZKHDDEJFCypqNRU8a65vflBp7PsgnlJnGsVzPJkdRkBFJIBJGYwaAA==",
  digest: "8369475fe14ee1b4ae83a27ea2d3c43159d163d2633cd964d219ceb0fb9f7461",
  seed: "237a17c6f3849cfe717d98bf91f316f8d477cff8c1886cc9e31e07a6fffe1823",
  sample100: "32,89,86,26,59,46,91,14,16,90,0,88,12,78,84,80,22,74,51,10,7,35,9,52,33,17,87,1,54,42,67,29",
  digestW1: "bf9c9e566568b5dc324d9e40a549d7836e28f968a86c81dd1cfc02190a94bc8c",
};

const root = new Uint8Array(32).fill(0x66);
const text = `lineage.test/log\n50\n${toBase64(root)}\n`;

function cosignatures(): NoteSignature[] {
  const lines = [
    ["witness.example/w2", 0x0b, 1767000005],
    ["witness.example/w1", 0x0a, 1767000000],
  ] as const;
  const note = signNote(
    text,
    lines.map(([name, seed, t]) =>
      cosignatureV1Signer(name, Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(seed)), () => t),
    ),
  );
  assert.equal(note.slice(text.length + 1), `${V.w2}\n${V.w1}\n`);
  return parseNote(note).signatures;
}

test("witnessed seed: cosignature lines, digest, seed and sample match the independent vectors", () => {
  const sigs = cosignatures();
  assert.equal(toHex(cosignatureDigest(sigs)), V.digest);
  // Sorted by name: the order the lines came in does not matter.
  assert.equal(toHex(cosignatureDigest([...sigs].reverse())), V.digest);
  assert.equal(toHex(cosignatureDigest(sigs.slice(1))), V.digestW1);
  const input = {
    checkpointRoot: root,
    commitmentRoot: new Uint8Array(32).fill(0x22),
    origin: "lineage.test/log",
    attestationIndex: 42,
    cosignatures: sigs,
  };
  assert.equal(toHex(witnessedDisclosureSeed(input)), V.seed);
  assert.equal(witnessedDisclosurePairIndices({ ...input, pairsCommitted: 100 }).join(","), V.sample100);
  // Not the v1 sample of the same checkpoint, and another cosignature set gives another sample.
  assert.notDeepEqual(
    witnessedDisclosurePairIndices({ ...input, pairsCommitted: 100 }),
    disclosurePairIndices({ ...input, pairsCommitted: 100 }),
  );
  assert.notDeepEqual(
    witnessedDisclosurePairIndices({ ...input, cosignatures: sigs.slice(1), pairsCommitted: 100 }),
    witnessedDisclosurePairIndices({ ...input, pairsCommitted: 100 }),
  );
});

test("witnessed seed refuses no cosignature, a counted-twice witness, a non-cosignature/v1 signature", () => {
  const sigs = cosignatures();
  const bad = (c: string) => (e: unknown) => e instanceof CryptoError && e.code === c;
  assert.throws(() => cosignatureDigest([]), bad("invalid_argument"));
  assert.throws(
    () => cosignatureDigest([sigs[0] as NoteSignature, sigs[0] as NoteSignature]),
    bad("invalid_argument"),
  );
  assert.throws(
    () => cosignatureDigest([{ ...(sigs[0] as NoteSignature), signature: new Uint8Array(64) }]),
    bad("invalid_argument"),
  );
});
