import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import { DESIGN_SIMILARITY } from "./lsh-params.js";
import { PROBE_STAGE_V1, passesProbeStage, probeStageEvidence, studentTQuantile } from "./probe-stage.js";
import { PROBE_BANDS, PROBE_DIGEST_BYTES, type Sketch } from "./sketch-types.js";

const bad = (f: () => unknown) =>
  assert.throws(f, (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT");

/**
 * Two sketches of `probes` probes whose per-probe rows agree where `agree(probe, row)` says (digests are
 * otherwise distinct); probe ids from `ids` (default p0, p1, ...), `empty` probes left empty in the second.
 */
function pair(
  probes: number,
  agree: (probe: number, row: number) => boolean,
  options: { readonly empty?: ReadonlySet<number>; readonly ids?: (i: number) => string } = {},
): [Sketch, Sketch] {
  const id = options.ids ?? ((i: number) => `p${i}`);
  const mk = (side: number): Sketch => ({
    version: 2,
    epochId: "e1",
    coarse: new Uint8Array(0),
    simhash: null,
    wrongAnswers: [],
    probes: Array.from({ length: probes }, (_, p) => {
      const empty = side === 1 && options.empty?.has(p) === true;
      const bands = new Uint8Array(empty ? 0 : PROBE_BANDS * PROBE_DIGEST_BYTES);
      if (!empty) {
        const dv = new DataView(bands.buffer);
        for (let r = 0; r < PROBE_BANDS; r++)
          dv.setUint32(
            r * PROBE_DIGEST_BYTES,
            agree(p, r) ? p * 64 + r : (side + 1) * 0x1000000 + p * 64 + r,
          );
      }
      return { probeId: id(p), empty, bands };
    }),
  });
  return [mk(0), mk(1)];
}

describe("probe stage", () => {
  it("Student t quantiles match published tables (31 and 10 degrees of freedom)", () => {
    // NIST/SEMATECH e-Handbook, table of critical values of Student's t (t_{0.95,30} = 1.697, ...), and the
    // df = 31 row of standard tables: 1.696, 2.453, 3.375.
    for (const [df, p, t] of [
      [31, 0.95, 1.6955],
      [31, 0.99, 2.4528],
      [31, 0.999, 3.3749],
      [10, 0.975, 2.2281],
      [1, 0.75, 1],
    ] as const) {
      assert.ok(Math.abs(studentTQuantile(df, p) - t) < 2e-3, `t(${df}, ${p}) = ${studentTQuantile(df, p)}`);
    }
    assert.equal(studentTQuantile(31, 0.5), 0);
    bad(() => studentTQuantile(0, 0.9));
    bad(() => studentTQuantile(31, 1));
    bad(() => studentTQuantile(31, 0.4));
  });

  it("measures agreement over probes both answered, with the spread of the per-row totals", () => {
    // Rows 0..7 agree on every probe, the rest never: agreement 1/4, and the per-row totals are 0 or 1.
    const [x, y] = pair(100, (_p, r) => r < 8, { empty: new Set([5, 6]) });
    const e = probeStageEvidence(x, y);
    assert.equal(e.probes, 98);
    assert.equal(e.agreement, 0.25);
    const sd = Math.sqrt((32 * 0.25 * 0.75) / 31);
    assert.ok(Math.abs(e.standardError - sd / Math.sqrt(32)) < 1e-12);
    // Probes listed by one sketch only are not compared.
    const [, z] = pair(100, (_p, r) => r < 8, { ids: (i) => `q${i}` });
    assert.deepEqual(probeStageEvidence(x, z), { probes: 0, agreement: 0, standardError: 0 });
    assert.ok(passesProbeStage(x, z));
  });

  it("keeps a pair at the design similarity, drops one clearly below it, and widens for correlated rows", () => {
    const s = DESIGN_SIMILARITY;
    assert.equal(PROBE_STAGE_V1.designSimilarity, s);
    // Independent-looking rows: about 6% agreeing, spread evenly -> passes; about 2% -> dropped.
    const spread = (rate: number) => (p: number, r: number) => ((p * 31 + r * 17) % 1000) / 1000 < rate;
    assert.ok(passesProbeStage(...pair(250, spread(s))));
    assert.ok(!passesProbeStage(...pair(250, spread(0.02))));
    // The same 2% mean, but all of it on a few rows (one repeated phrase deciding a row everywhere): the
    // per-row totals spread widely, the mean is uncertain, and the pair is kept.
    assert.ok(passesProbeStage(...pair(250, (_p, r) => r === 0)));
    // Nothing agrees at all: dropped (the binomial floor, not the zero spread, sets the error).
    assert.ok(!passesProbeStage(...pair(250, () => false)));
  });

  it("rejects parameters out of range", () => {
    const [x, y] = pair(10, () => false);
    bad(() => passesProbeStage(x, y, { designSimilarity: 0, recall: 0.9 }));
    bad(() => passesProbeStage(x, y, { designSimilarity: 0.06, recall: 1 }));
    bad(() => passesProbeStage(x, y, { designSimilarity: Number.NaN, recall: 0.9 }));
    bad(() => passesProbeStage(x, y, { designSimilarity: 0.06, recall: 0.3 }));
  });
});
