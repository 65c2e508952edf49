import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildSketch,
  COARSE_BANDS,
  createSketchContext,
  PROBE_BANDS,
  type SketchProbeInput,
} from "@lineage/fingerprint";
import { sketchToProto } from "./sketch-proto.js";

const ctx = createSketchContext(new Uint8Array(32).fill(7), "e1");
const model = { memberId: "acme", modelId: "m", modelVersion: "1" };

test("sketchToProto: battery indexes, band widths, wrong answers attributed to their edge probe, simhash big-endian", () => {
  const inputs: SketchProbeInput[] = [
    { probeId: "a", kind: "open", text: "the quick brown fox jumps over the lazy dog" },
    { probeId: "b", kind: "edge", text: "The capital is Lyon.", reference: "Paris" },
    { probeId: "c", kind: "edge", text: "Paris.", reference: "paris" },
    { probeId: "d", kind: "edge", text: "It is 42 obviously", reference: "41" },
    { probeId: "e", kind: "open", text: "" },
    {
      probeId: "f",
      kind: "completion",
      text: "and then",
      topLogprobs: [
        [
          { token: "and", logprob: -0.1 },
          { token: "or", logprob: -2.5 },
        ],
      ],
    },
  ];
  const index = new Map([
    ["a", 10],
    ["b", 11],
    ["c", 12],
    ["d", 13],
    ["e", 14],
    ["f", 15],
  ]);
  const sketch = buildSketch(inputs, ctx);
  const proto = sketchToProto(sketch, inputs, ctx, index, model, 1_700_000_000_000);
  assert.equal(proto.version, 1);
  assert.equal(proto.epochId, "e1");
  assert.deepEqual(
    proto.probes.map((p) => p.probeIndex),
    [10, 11, 12, 13, 15],
    "the empty response is left out",
  );
  for (const p of proto.probes) assert.equal(p.bandDigests.length, PROBE_BANDS);
  assert.equal(proto.coarse?.bandDigests.length, COARSE_BANDS);
  assert.deepEqual(
    proto.wrongAnswers.map((w) => w.probeIndex),
    [11, 13],
    "b and d are wrong, c is right",
  );
  assert.deepEqual(
    proto.wrongAnswers.map((w) => Buffer.from(w.digest).toString("hex")).sort(),
    sketch.wrongAnswers.map((d) => Buffer.from(d).toString("hex")).sort(),
  );
  assert.notEqual(sketch.simhash, null);
  assert.equal(Buffer.from(proto.tokenProfileSimhash).readBigUInt64BE(0), sketch.simhash);
  assert.equal(proto.createdAt?.seconds, 1_700_000_000n);
});

test("sketchToProto refuses a sketched probe missing from the battery", () => {
  const inputs: SketchProbeInput[] = [{ probeId: "a", kind: "open", text: "some words here" }];
  assert.throws(
    () => sketchToProto(buildSketch(inputs, ctx), inputs, ctx, new Map(), model, 0),
    /not in the battery/,
  );
});
