import assert from "node:assert/strict";
import { test } from "node:test";
import { createSketchContext, type SketchProbeInput } from "@lineage/fingerprint";
import { coarseShingles, evaluateLsh, jaccard } from "./lsh-eval.js";

const ctx = createSketchContext(new Uint8Array(32).fill(7), "bench-detection-test");

function words(seed: number, n: number): string[] {
  let a = seed;
  return Array.from({ length: n }, () => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return `w${a % 100000}`;
  });
}

function fp(seed: number): SketchProbeInput[] {
  return Array.from({ length: 20 }, (_, i) => ({
    probeId: `p${i}`,
    kind: "open" as const,
    text: words(seed * 1000 + i, 60).join(" "),
  }));
}

test("jaccard and shingle sets", () => {
  assert.equal(jaccard(new Set(["a", "b"]), new Set(["b", "c"])), 1 / 3);
  assert.equal(jaccard(new Set(), new Set()), 0);
  const s = coarseShingles([{ probeId: "p", kind: "open", text: "a b c" }]);
  assert.equal(s.size, 2);
});

test("a verbatim copy is retrieved, an unrelated model is not", () => {
  const teacher = fp(1);
  const copy = teacher.map((p, i) => (i < 15 ? p : { ...p, text: words(99 + i, 60).join(" ") }));
  const other = fp(2);
  const fps = new Map([
    ["t", teacher],
    ["c", copy],
    ["o", other],
  ]);
  const r = evaluateLsh(
    fps,
    [
      { suspectId: "c", teacherId: "t", derived: true },
      { suspectId: "o", teacherId: "t", derived: false },
    ],
    ctx,
  );
  assert.equal(r.recall, 1);
  assert.equal(r.false_candidate_rate, 0);
  assert.ok((r.exact_jaccard.positives?.min ?? 0) > 0.5);
  assert.throws(
    () => evaluateLsh(fps, [{ suspectId: "zz", teacherId: "t", derived: false }], ctx),
    RangeError,
  );
});
