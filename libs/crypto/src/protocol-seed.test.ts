import assert from "node:assert/strict";
import { test } from "node:test";
import { toHex } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import {
  DISCLOSURE_PAIRS,
  disclosurePairCount,
  disclosurePairIndices,
  sessionSeed,
} from "./protocol-seed.js";

const code = (c: string) => (e: unknown) => e instanceof CryptoError && e.code === c;

// Expected values printed by `python3 scripts/vectors/lineage_vectors.py` (session.seed, disclosure.100,
// disclosure.20): the context strings are written out literally there.
test("session seed matches the independent vector", () => {
  assert.equal(
    toHex(
      sessionSeed({
        checkpointRoot: new Uint8Array(32).fill(0x55),
        origin: "lineage.test/log",
        sessionId: "s-1",
      }),
    ),
    "2f8e7fc3d16e9db2f2babedd148158044b6f251f4fe1eedff61019f9f4b35815",
  );
});

test("disclosure sample: fixed size min(n, 32), indices match the independent vectors", () => {
  const base = {
    checkpointRoot: new Uint8Array(32).fill(0x66),
    commitmentRoot: new Uint8Array(32).fill(0x22),
    origin: "lineage.test/log",
    attestationIndex: 42,
  };
  assert.equal(
    disclosurePairIndices({ ...base, pairsCommitted: 100 }).join(","),
    "46,30,75,7,33,95,43,26,3,92,12,9,17,20,56,71,55,34,25,22,66,39,27,84,82,83,81,35,90,50,74,21",
  );
  assert.equal(
    disclosurePairIndices({ ...base, pairsCommitted: 20 }).join(","),
    "6,8,3,15,17,10,11,1,5,16,12,0,4,13,18,9,19,2,7,14",
  );
  assert.equal(DISCLOSURE_PAIRS, 32);
  assert.equal(disclosurePairCount(1), 1);
  assert.equal(disclosurePairCount(32), 32);
  assert.equal(disclosurePairCount(33), 32);
  assert.equal(disclosurePairCount(1_000_000), 32);
  assert.throws(() => disclosurePairCount(0), code("invalid_argument"));
  assert.throws(() => disclosurePairCount(1.5), code("invalid_argument"));
  // A different attestation index gives a different sample.
  assert.notDeepEqual(
    disclosurePairIndices({ ...base, attestationIndex: 43, pairsCommitted: 100 }),
    disclosurePairIndices({ ...base, pairsCommitted: 100 }),
  );
});

test("context fields with a newline are refused (the context must stay unambiguous)", () => {
  assert.throws(
    () => sessionSeed({ checkpointRoot: new Uint8Array(32), origin: "a\nb", sessionId: "s" }),
    code("invalid_argument"),
  );
  assert.throws(
    () => sessionSeed({ checkpointRoot: new Uint8Array(32), origin: "a", sessionId: "" }),
    code("invalid_argument"),
  );
});
