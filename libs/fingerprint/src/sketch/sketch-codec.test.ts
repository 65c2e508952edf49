import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FingerprintError } from "../fingerprint-error.js";
import { buildSketch } from "./sketch-build.js";
import { decodeSketch, encodeSketch } from "./sketch-codec.js";
import { createSketchContext } from "./sketch-keys.js";
import type { SketchProbeInput } from "./sketch-types.js";

const ctx = createSketchContext(new Uint8Array(32).fill(42), "epoch-7");
const ctx1 = createSketchContext(new Uint8Array(32).fill(42), "epoch-7", 1);
const WORDS = ["the", "model", "answer", "is", "paris", "42", "blue", ".", ",", "because", "of", "data"];

const arbProbe = fc.record({
  kind: fc.constantFrom("edge", "open", "completion"),
  words: fc.array(fc.constantFrom(...WORDS), { maxLength: 30 }),
  reference: fc.option(fc.constantFrom("paris", "42", "blue sky"), { nil: undefined }),
  logprobs: fc.option(
    fc.array(
      fc.array(
        fc.record({
          token: fc.constantFrom(...WORDS),
          logprob: fc.double({ min: -20, max: 0, noNaN: true }),
        }),
        { maxLength: 3 },
      ),
      { maxLength: 4 },
    ),
    { nil: undefined },
  ),
});
const arbInputs = fc
  .uniqueArray(
    fc.tuple(
      fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[\uD800-\uDFFF]/.test(s)),
      arbProbe,
    ),
    {
      minLength: 1,
      maxLength: 6,
      selector: (t) => t[0],
    },
  )
  .map((list) =>
    list.map(
      ([probeId, p]): SketchProbeInput => ({
        probeId,
        kind: p.kind as SketchProbeInput["kind"],
        text: p.words.join(" "),
        ...(p.kind === "edge" && p.reference !== undefined ? { reference: p.reference } : {}),
        ...(p.logprobs !== undefined ? { topLogprobs: p.logprobs } : {}),
      }),
    ),
  );

const isDocError = (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_DOCUMENT";
const isArgError = (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT";

describe("sketch codec", () => {
  it("round-trips every sketch exactly and canonically", () => {
    fc.assert(
      fc.property(arbInputs, (inputs) => {
        for (const c of [ctx, ctx1]) {
          if (c.version === 2 && inputs.every((p) => p.kind === "edge")) {
            // Version 2 lists no edge probe, so a fingerprint of edge probes only has no sketch.
            assert.throws(() => buildSketch(inputs, c), isArgError);
            continue;
          }
          const s = buildSketch(inputs, c);
          const bytes = encodeSketch(s);
          const back = decodeSketch(bytes);
          assert.deepEqual(back, s);
          assert.deepEqual(encodeSketch(back), bytes);
          // Input order does not matter.
          assert.deepEqual(encodeSketch(buildSketch([...inputs].reverse(), c)), bytes);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("any flipped byte is rejected or decodes to a different sketch", () => {
    fc.assert(
      fc.property(arbInputs, fc.nat(), fc.integer({ min: 1, max: 255 }), (inputs, at, mask) => {
        // Version 1 (its wrong answers are bytes to flip too); version 2's layout is the same.
        const bytes = encodeSketch(buildSketch(inputs, ctx1));
        const bad = bytes.slice();
        const i = at % bad.length;
        bad[i] = (bad[i] ?? 0) ^ mask;
        let decoded: ReturnType<typeof decodeSketch>;
        try {
          decoded = decodeSketch(bad);
        } catch (e) {
          assert.ok(isDocError(e), String(e));
          return;
        }
        assert.notDeepEqual(encodeSketch(decoded), bytes);
        assert.deepEqual(encodeSketch(decoded), bad);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects truncation, trailing bytes, oversize input and unknown versions with INVALID_DOCUMENT", () => {
    const bytes = encodeSketch(buildSketch([{ probeId: "p1", kind: "open", text: "a b c" }], ctx));
    for (let n = 0; n < bytes.length; n += 97)
      assert.throws(() => decodeSketch(bytes.subarray(0, n)), isDocError);
    assert.throws(() => decodeSketch(bytes.subarray(0, bytes.length - 1)), isDocError);
    assert.throws(() => decodeSketch(new Uint8Array([...bytes, 0])), isDocError);
    assert.throws(() => decodeSketch(new Uint8Array(3 * 1024 * 1024)), isDocError);
    for (const v of [0, 3, 255]) {
      const other = bytes.slice();
      other[4] = v;
      assert.throws(() => decodeSketch(other), isDocError);
    }
    assert.throws(
      () => decodeSketch("LNSK" as unknown as Uint8Array),
      (e: unknown) => e instanceof FingerprintError,
    );
  });

  it("rejects non-canonical documents: unsorted probes, duplicated wrong answers", () => {
    const s = buildSketch(
      [
        { probeId: "a", kind: "edge", text: "lyon", reference: "paris" },
        { probeId: "b", kind: "edge", text: "41", reference: "42" },
      ],
      ctx1,
    );
    assert.equal(s.wrongAnswers.length, 2);
    assert.throws(
      () => encodeSketch({ ...s, probes: [...s.probes].reverse() }),
      (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
    );
    const w0 = s.wrongAnswers[0] as Uint8Array;
    assert.throws(
      () => encodeSketch({ ...s, wrongAnswers: [w0, w0] }),
      (e: unknown) => e instanceof FingerprintError,
    );
    // Hand-build the swapped-probe encoding: the parser must refuse it too.
    const good = encodeSketch(s);
    const swapped = good.slice();
    // Layout: 14 header+epoch, 8 parameters, 8 simhash, 4096 coarse, 2 count, then [1]["a"][flags][128].
    const ia = 14 + 8 + 8 + 4096 + 2 + 1;
    const ib = ia + 1 + 1 + 128 + 1;
    assert.equal(good[ia], 0x61);
    assert.equal(good[ib], 0x62);
    swapped[ia] = 0x62;
    swapped[ib] = 0x61;
    assert.throws(() => decodeSketch(swapped), isDocError);
  });

  it("version 2 carries no wrong answers and lists no edge probe; a v2 document or object with wrong answers is refused", () => {
    const inputs = [
      { probeId: "a", kind: "edge" as const, text: "lyon", reference: "paris" },
      { probeId: "b", kind: "open" as const, text: "some open answer" },
    ];
    const v1 = buildSketch(inputs, ctx1);
    const v2 = buildSketch(inputs, ctx);
    assert.equal(v1.version, 1);
    assert.equal(v2.version, 2);
    assert.equal(v1.wrongAnswers.length, 1);
    assert.equal(v2.wrongAnswers.length, 0);
    assert.deepEqual(
      v2.probes.map((p) => p.probeId),
      ["b"],
    );
    // The edge answer still feeds the coarse signature: another edge answer changes it.
    const other = buildSketch(
      [{ ...inputs[0], text: "marseille" } as SketchProbeInput, inputs[1] as SketchProbeInput],
      ctx,
    );
    assert.notDeepEqual(other.coarse, v2.coarse);
    assert.deepEqual(other.probes, v2.probes);
    assert.deepEqual(decodeSketch(encodeSketch(v1)), v1);
    assert.deepEqual(decodeSketch(encodeSketch(v2)), {
      ...v2,
      probes: v2.probes.map((p) => ({ ...p, bands: p.bands.slice() })),
    });
    assert.throws(
      () => encodeSketch({ ...v2, wrongAnswers: v1.wrongAnswers }),
      (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
    );
    // The v1 encoding relabelled as version 2 (its one wrong answer kept): refused.
    const relabelled = encodeSketch(v1);
    relabelled[4] = 2;
    assert.throws(() => decodeSketch(relabelled), isDocError);
  });
});
