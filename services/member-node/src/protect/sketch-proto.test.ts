import assert from "node:assert/strict";
import { test } from "node:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Sketch as SketchMessage, SketchSchema } from "@lineage/api";
import {
  buildSketch,
  COARSE_BANDS,
  checkSketch,
  createSketchContext,
  PROBE_BANDS,
  type Sketch,
  type SketchProbeInput,
} from "@lineage/fingerprint";
import { sketchToProto } from "./sketch-proto.js";

const ctx = createSketchContext(new Uint8Array(32).fill(7), "e1", 1);
const ctx2 = createSketchContext(new Uint8Array(32).fill(7), "e1");
const model = { memberId: "acme", modelId: "m", modelVersion: "1" };

/** The domain sketch a receiver rebuilds from the message (probe id = decimal index, as the hub does). */
function domainOf(m: SketchMessage): Sketch {
  const ids = (i: number) => String(i);
  const probes = m.probes
    .map((p) => ({
      probeId: ids(p.probeIndex),
      empty: p.bandDigests.length === 0,
      bands: Buffer.concat(p.bandDigests.map((d) => Buffer.from(d))),
    }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.probeId), Buffer.from(b.probeId)));
  return {
    version: m.version as 1 | 2,
    epochId: m.epochId,
    coarse: new Uint8Array(Buffer.concat((m.coarse?.bandDigests ?? []).map((d) => Buffer.from(d)))),
    simhash:
      m.tokenProfileSimhash.length === 0 ? null : Buffer.from(m.tokenProfileSimhash).readBigUInt64BE(0),
    probes: probes.map((p) => ({ ...p, bands: new Uint8Array(p.bands) })),
    wrongAnswers: m.wrongAnswers.map((w) => new Uint8Array(w.digest)),
  };
}

const norm = (s: Sketch) =>
  JSON.stringify(s, (_k, v) =>
    v instanceof Uint8Array ? Buffer.from(v).toString("hex") : typeof v === "bigint" ? String(v) : v,
  );

test("sketchToProto (version 1): one entry per probe (empty ones without digests), wrong answers attributed, and the receiver rebuilds exactly the domain sketch", () => {
  const inputs: SketchProbeInput[] = [
    { probeId: "0", kind: "open", text: "the quick brown fox jumps over the lazy dog" },
    { probeId: "1", kind: "edge", text: "The capital is Lyon.", reference: "Paris" },
    { probeId: "2", kind: "edge", text: "Paris.", reference: "paris" },
    { probeId: "3", kind: "edge", text: "It is 42 obviously", reference: "41" },
    { probeId: "4", kind: "open", text: "" },
    {
      probeId: "5",
      kind: "completion",
      text: "and then",
      topLogprobs: [
        [
          { token: "and", logprob: -0.1 },
          { token: "or", logprob: -2.5 },
        ],
      ],
    },
    { probeId: "10", kind: "edge", text: "Seventeen horses", reference: "twelve" },
  ];
  const index = new Map(inputs.map((p) => [p.probeId, Number(p.probeId)]));
  const sketch = buildSketch(inputs, ctx);
  const proto = sketchToProto(sketch, inputs, ctx, index, model, 1_700_000_000_000);
  assert.equal(proto.version, 1);
  assert.equal(proto.epochId, "e1");
  assert.deepEqual(
    proto.probes.map((p) => [p.probeIndex, p.bandDigests.length]),
    [
      [0, PROBE_BANDS],
      [1, PROBE_BANDS],
      [2, PROBE_BANDS],
      [3, PROBE_BANDS],
      [4, 0],
      [5, PROBE_BANDS],
      [10, PROBE_BANDS],
    ],
  );
  assert.equal(proto.coarse?.bandDigests.length, COARSE_BANDS);
  assert.deepEqual(
    proto.wrongAnswers.map((w) => w.probeIndex).sort((a, b) => a - b),
    [1, 3, 10],
    "1, 3 and 10 are wrong; 2 is right",
  );
  assert.equal(proto.createdAt?.seconds, 1_700_000_000n);
  // Through the wire and back: exactly the engine's sketch, in its canonical order.
  const rebuilt = domainOf(fromBinary(SketchSchema, toBinary(SketchSchema, proto)));
  checkSketch(rebuilt);
  assert.equal(norm(rebuilt), norm(sketch));
});

test("sketchToProto (version 2, what the node builds): no wrong answers, and the receiver rebuilds the sketch", () => {
  const inputs: SketchProbeInput[] = [
    { probeId: "0", kind: "open", text: "the quick brown fox jumps over the lazy dog" },
    { probeId: "1", kind: "edge", text: "The capital is Lyon.", reference: "Paris" },
    { probeId: "2", kind: "open", text: "" },
  ];
  const index = new Map(inputs.map((p) => [p.probeId, Number(p.probeId)]));
  const sketch = buildSketch(inputs, ctx2);
  const proto = sketchToProto(sketch, inputs, ctx2, index, model, 1_700_000_000_000);
  assert.equal(proto.version, 2);
  assert.deepEqual(proto.wrongAnswers, []);
  const rebuilt = domainOf(fromBinary(SketchSchema, toBinary(SketchSchema, proto)));
  checkSketch(rebuilt);
  assert.equal(norm(rebuilt), norm(sketch));
});

test("sketchToProto refuses a sketched probe missing from the battery", () => {
  const inputs: SketchProbeInput[] = [{ probeId: "a", kind: "open", text: "some words here" }];
  assert.throws(
    () => sketchToProto(buildSketch(inputs, ctx), inputs, ctx, new Map(), model, 0),
    /not in the battery/,
  );
});
