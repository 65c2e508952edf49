import assert from "node:assert/strict";
import { test } from "node:test";
import { canaryPairLabels } from "./canary-pair-labels.js";
import { CryptoError } from "./crypto-error.js";

const input = {
  checkpointRoot: new Uint8Array(32).fill(0x11),
  checkpointSize: 12345,
  commitmentRoot: new Uint8Array(32).fill(0x22),
  pairs: 40,
};

// Expected bits printed by `python3 scripts/vectors/lineage_vectors.py` (labels.40, labels.40.size12346).
test("labels match the independent vectors (domain, size and index encoding pinned)", () => {
  assert.equal(canaryPairLabels(input).join(""), "0000011011101010110110011011110111100101");
  assert.equal(
    canaryPairLabels({ ...input, checkpointSize: 12346 }).join(""),
    "1100000010010101111001101001101001010000",
  );
  // Prefix-stable: pair i's label depends on i only, not on how many pairs there are.
  assert.deepEqual(canaryPairLabels({ ...input, pairs: 7 }), canaryPairLabels(input).slice(0, 7));
});

test("labels change with the checkpoint root and the commitment root, and look like fair coins", () => {
  const base = canaryPairLabels({ ...input, pairs: 4000 });
  const other = canaryPairLabels({ ...input, pairs: 4000, checkpointRoot: new Uint8Array(32).fill(0x12) });
  const otherC = canaryPairLabels({ ...input, pairs: 4000, commitmentRoot: new Uint8Array(32).fill(0x23) });
  const ones = base.reduce<number>((s, b) => s + b, 0);
  // 4000 fair coins: mean 2000, sd 31.6; 5 sd either side.
  assert.ok(Math.abs(ones - 2000) < 160, `ones ${ones}`);
  const agree = (x: number[], y: number[]) => x.filter((b, i) => b === y[i]).length;
  assert.ok(Math.abs(agree(base, other) - 2000) < 160);
  assert.ok(Math.abs(agree(base, otherC) - 2000) < 160);
});

test("argument checks name the argument (invalid_argument)", () => {
  for (const bad of [
    { ...input, checkpointRoot: new Uint8Array(31) },
    { ...input, commitmentRoot: new Uint8Array(33) },
    { ...input, checkpointSize: 0 },
    { ...input, pairs: -1 },
    { ...input, pairs: 1_000_001 },
  ]) {
    assert.throws(
      () => canaryPairLabels(bad),
      (e: unknown) => e instanceof CryptoError && e.code === "invalid_argument",
    );
  }
  assert.deepEqual(canaryPairLabels({ ...input, pairs: 0 }), []);
});
