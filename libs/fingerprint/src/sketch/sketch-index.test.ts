import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import { PROBE_STAGE_V1 } from "./probe-stage.js";
import { buildSketch } from "./sketch-build.js";
import { SketchIndex } from "./sketch-index.js";
import { createSketchContext } from "./sketch-keys.js";
import type { Sketch } from "./sketch-types.js";

const ctx = createSketchContext(new Uint8Array(32).fill(9), "e1");

// A "model" answers 40 probes with 120 words; `keep` of each answer is copied from a teacher.
function model(name: string, teacher: string | null, keep: number): Sketch {
  return buildSketch(
    Array.from({ length: 40 }, (_, p) => ({
      probeId: `p${p}`,
      kind: "open" as const,
      text: Array.from({ length: 120 }, (_, i) =>
        teacher !== null && i < keep ? `${teacher}${p}_${i}` : `${name}${p}_${i}`,
      ).join(" "),
    })),
    ctx,
  );
}

describe("SketchIndex", () => {
  it("retrieves a copy by its coarse bands and ranks by estimated similarity; leaves unrelated models out", () => {
    const index = new SketchIndex("e1");
    index.add("teacher", model("T", null, 0));
    index.add("other-1", model("A", null, 0));
    index.add("other-2", model("B", null, 0));
    index.add("sibling", model("S", "T", 30)); // J ~ 29/(2*119-29) ~ 0.14
    assert.equal(index.size, 4);
    const student = model("U", "T", 60); // J ~ 59/179 ~ 0.33 with the teacher
    const found = index.query(student);
    assert.deepEqual(
      found.map((c) => c.modelRef),
      ["teacher", "sibling"],
    );
    const top = found[0];
    assert.ok(top !== undefined && top.agreeingBands >= index.minAgreeingBands);
    assert.ok(Math.abs(top.similarity.coarseJaccard - 59 / 179) < 0.08);
    assert.ok(top.similarity.probeJaccard > 0.25);
    assert.equal(index.query(student, { limit: 1 }).length, 1);
    assert.deepEqual(
      index.query(model("T", null, 0), { exclude: "teacher" }).map((c) => c.modelRef),
      ["sibling"],
    );
  });

  it("drops a coarse hit whose per-probe rows fall below the design similarity (fine stage)", () => {
    // The teacher gives one very long answer among short ones; a suspect copying only that answer shares
    // most of the teacher's coarse shingles (coarse Jaccard ~0.5) but 1 of 40 probes (~0.025 per probe).
    const answers = (name: string, copyLong: boolean) =>
      Array.from({ length: 40 }, (_, p) => ({
        probeId: `p${p}`,
        kind: "open" as const,
        text: Array.from({ length: p === 0 ? 3000 : 40 }, (_, i) =>
          p === 0 && copyLong ? `T0_${i}` : `${name}${p}_${i}`,
        ).join(" "),
      }));
    const index = new SketchIndex("e1");
    index.add("teacher", buildSketch(answers("T", true), ctx));
    const suspect = buildSketch(answers("U", true), ctx);
    const [coarseOnly] = index.query(suspect, { probeStage: false });
    assert.ok(coarseOnly !== undefined && coarseOnly.agreeingBands >= index.minAgreeingBands);
    assert.ok(coarseOnly.similarity.probeAgreeingBands < 0.06 * coarseOnly.similarity.probeComparedBands);
    assert.deepEqual(index.query(suspect, { probeStage: PROBE_STAGE_V1 }), []);
    // Off unless asked for (DEFAULT_PROBE_STAGE): the coarse hit stays.
    assert.equal(index.query(suspect).length, 1);
    // Under a looser rule (half the design similarity at recall 0.5) it stays.
    assert.equal(index.query(suspect, { probeStage: { designSimilarity: 0.02, recall: 0.5 } }).length, 1);
  });

  it("removes and re-adds models; bandAgreement counts shared coarse bands", () => {
    const index = new SketchIndex("e1", { minAgreeingBands: 1 });
    const t = model("T", null, 0);
    index.add("m", t);
    assert.equal(index.bandAgreement(t).get("m"), 512);
    assert.ok(index.remove("m"));
    assert.ok(!index.remove("m"));
    assert.equal(index.query(t).length, 0);
    index.add("m", model("A", null, 0));
    index.add("m", t); // replaces
    assert.equal(index.size, 1);
    assert.equal(index.bandAgreement(t).get("m"), 512);
  });

  it("rejects bad references, thresholds and sketches of another epoch", () => {
    const bad = (f: () => unknown) =>
      assert.throws(f, (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT");
    const index = new SketchIndex("e1");
    const t = model("T", null, 0);
    bad(() => index.add("", t));
    bad(() => index.add("x".repeat(513), t));
    bad(() => new SketchIndex("e1", { minAgreeingBands: 0 }));
    bad(() => new SketchIndex("bad epoch"));
    bad(() => index.query(t, { minAgreeingBands: 513 }));
    const other = buildSketch(
      [{ probeId: "a", kind: "open", text: "x" }],
      createSketchContext(new Uint8Array(32), "e2"),
    );
    bad(() => index.add("o", other));
    bad(() => index.query(other));
  });
});
