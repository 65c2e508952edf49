import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { fromBase64 } from "./bytes.js";
import {
  cosignCheckpoint,
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from "./checkpoint.js";
import { CryptoError, type CryptoErrorCode } from "./crypto-error.js";
import { Ed25519PrivateKey } from "./ed25519-key.js";
import { hashLeaf } from "./merkle-hash.js";
import { verifyConsistency } from "./merkle-proof.js";
import { MerkleTree } from "./merkle-tree.js";
import { cosignatureV1Signer, cosignatureV1Verifier } from "./note-cosignature.js";
import { ed25519NoteSigner, ed25519NoteVerifier, parseNote } from "./signed-note.js";

const ORIGIN = "lineage.example/log";
const logKey = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(20));
const logSigner = ed25519NoteSigner(ORIGIN, logKey);
const logVerifier = ed25519NoteVerifier(ORIGIN, logKey.publicKey);
const w1 = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(21));
const w2 = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(22));

function codeOf(fn: () => unknown): CryptoErrorCode | "none" {
  try {
    fn();
    return "none";
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
}

test("checkpoint body follows c2sp.org/tlog-checkpoint (the spec's example parses)", () => {
  // Example from c2sp.org/tlog-checkpoint.
  const example = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  const cp = parseCheckpoint(example);
  assert.equal(cp.origin, "example.com/behind-the-sofa");
  assert.equal(cp.size, 20852163);
  assert.deepEqual(cp.rootHash, fromBase64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "root"));
  assert.equal(formatCheckpoint(cp), example);
  const withExt = formatCheckpoint({ ...cp, extensions: ["ext one", "ext two"] });
  assert.deepEqual(parseCheckpoint(withExt).extensions, ["ext one", "ext two"]);
  const bad: Array<[string, CryptoErrorCode]> = [
    ["example.com/x\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "malformed"],
    ["example.com/x\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "malformed"],
    ["example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "malformed"],
    ["example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2\n", "malformed"],
    ["example.com/x\n1\nAAAA\n", "malformed"],
    ["\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "malformed"],
    ["example.com/x\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n", "malformed"],
    ["example.com/x\n99999999999999999\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "malformed"],
    ["example.com/x\n1\n", "malformed"],
  ];
  for (const [text, code] of bad)
    assert.equal(
      codeOf(() => parseCheckpoint(text)),
      code,
      JSON.stringify(text),
    );
});

test("log signs, witnesses cosign (Ed25519 and cosignature/v1), auditor opens with a witness threshold", () => {
  const tree = MerkleTree.fromLeaves(Array.from({ length: 11 }, (_, i) => new Uint8Array([i])));
  const note = signCheckpoint({ origin: ORIGIN, size: 11, rootHash: tree.root() }, [logSigner]);
  const opened = openCheckpoint(note, { log: logVerifier, origin: ORIGIN });
  assert.equal(opened.checkpoint.size, 11);
  assert.deepEqual(opened.checkpoint.rootHash, tree.root());

  const w1Signer = ed25519NoteSigner("witness.example/w1", w1);
  const w2Signer = cosignatureV1Signer("witness.example/w2", w2, () => 1_700_000_000);
  const cosigned = cosignCheckpoint(cosignCheckpoint(note, logVerifier, w1Signer), logVerifier, w2Signer);
  assert.equal(parseNote(cosigned).signatures.length, 3);
  const witnesses = [
    ed25519NoteVerifier("witness.example/w1", w1.publicKey),
    cosignatureV1Verifier("witness.example/w2", w2.publicKey),
  ];
  const full = openCheckpoint(cosigned, { log: logVerifier, witnesses, witnessThreshold: 2 });
  assert.equal(full.witnessSignatures.length, 2);
  // Without knowing the witnesses their lines are kept as unverified.
  assert.equal(openCheckpoint(cosigned, { log: logVerifier }).note.unverified.length, 2);
  assert.equal(
    codeOf(() => openCheckpoint(note, { log: logVerifier, witnesses, witnessThreshold: 1 })),
    "bad_signature",
  );
  // Signed by a witness only: the log signature is required.
  assert.equal(
    codeOf(() => openCheckpoint(cosigned, { log: ed25519NoteVerifier(ORIGIN, w2.publicKey), witnesses })),
    "bad_signature",
  );
  assert.equal(
    codeOf(() => openCheckpoint(note, { log: logVerifier, origin: "other.example/log" })),
    "inconsistent",
  );
  assert.equal(
    codeOf(() => openCheckpoint(note, { log: ed25519NoteVerifier(ORIGIN, w1.publicKey) })),
    "unknown_key",
  );
  // A witness refuses to cosign a note the log did not sign.
  assert.equal(
    codeOf(() => cosignCheckpoint(note.replace("\n11\n", "\n12\n"), logVerifier, w1Signer)),
    "bad_signature",
  );
});

test("an auditor checks two checkpoints with a consistency proof", () => {
  const tree = MerkleTree.fromLeaves(Array.from({ length: 40 }, (_, i) => new Uint8Array([i, 1])));
  const a = openCheckpoint(
    signCheckpoint({ origin: ORIGIN, size: 17, rootHash: tree.root(17) }, [logSigner]),
    {
      log: logVerifier,
    },
  ).checkpoint;
  const b = openCheckpoint(
    signCheckpoint({ origin: ORIGIN, size: 40, rootHash: tree.root(40) }, [logSigner]),
    {
      log: logVerifier,
    },
  ).checkpoint;
  verifyConsistency(a.size, b.size, tree.consistencyProof(17, 40), a.rootHash, b.rootHash);
  // A rewritten history: same size 40 but one leaf changed.
  const leaves = Array.from({ length: 40 }, (_, i) => hashLeaf(new Uint8Array([i, 1])));
  leaves[3] = hashLeaf(new Uint8Array([99]));
  const forked = MerkleTree.fromLeafHashes(leaves);
  assert.equal(
    codeOf(() => verifyConsistency(17, 40, forked.consistencyProof(17, 40), a.rootHash, forked.root())),
    "bad_proof",
  );
});

test("property: any flipped bit in a signed checkpoint is rejected or leaves the checkpoint unchanged", () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 1_000_000 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.nat(),
      (size, root, flip) => {
        const note = signCheckpoint({ origin: ORIGIN, size, rootHash: root }, [logSigner]);
        const bytes = new TextEncoder().encode(note);
        const bit = flip % (bytes.length * 8);
        bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
        try {
          const o = openCheckpoint(bytes, { log: logVerifier });
          assert.equal(o.checkpoint.size, size);
          assert.deepEqual(o.checkpoint.rootHash, root);
        } catch (e) {
          assert.ok(e instanceof CryptoError);
        }
      },
    ),
    { numRuns: 200 },
  );
});
