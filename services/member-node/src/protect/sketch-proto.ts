/**
 * The engine's sketch (libs/fingerprint sketch-types.ts, version 2, or 1) as the wire's `lineage.v1.Sketch`
 * (proto sketch.proto), the payload of the DSSE envelope a member signs
 * (application/vnd.lineage.sketch.v1+proto):
 *
 *   params        = {num_hashes: PROBE_ROWS, bands: PROBE_BANDS, rows: PROBE_ROWS_PER_BAND, shingle_size}
 *   coarse        = COARSE_BANDS digests of COARSE_DIGEST_BYTES (empty when no probe had tokens)
 *   probes        = one per probe, probe_index = the probe's position in the epoch battery, band_digests =
 *                   PROBE_BANDS digests of PROBE_DIGEST_BYTES in band order, none for an empty response
 *   token_profile_simhash = the 64-bit SimHash big-endian (8 bytes), empty when none was served
 *   wrong_answers = one per wrong edge answer: probe_index and its WRONG_ANSWER_DIGEST_BYTES digest, in the
 *                   domain's order (digests ascending)
 *
 * Probe ids: a sketch's digests bind each probe's id, and member and hub must sketch the same probe under the
 * same id, so the node sketches with probe id = the decimal battery index ("0", "17"), as the hub does
 * (services/hub/src/ingest/sketch-proto.ts); the receiver rebuilds exactly the domain sketch from this message.
 * Digest widths are the sketch versions' (sketch-types.ts, pinned by golden vectors), not the proto
 * comment's upper bounds. Version 2 sketches carry no wrong answers (docs/privacy.md).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Sketch as SketchMessage, SketchSchema } from "@lineage/api";
import {
  COARSE_DIGEST_BYTES,
  normalizeAnswer,
  PROBE_BANDS,
  PROBE_DIGEST_BYTES,
  PROBE_ROWS,
  PROBE_ROWS_PER_BAND,
  SHINGLE_SIZE,
  type Sketch,
  type SketchContext,
  type SketchProbeInput,
  WRONG_ANSWER_DIGEST_BYTES,
} from "@lineage/fingerprint";
import { MemberNodeError } from "../member-node-error.js";

/** Tag byte of a wrong-answer digest message (sketch-build.ts). */
const TAG_WRONG = 0x57; // "W"

/** DSSE payload type of a Sketch. */
export const SKETCH_PAYLOAD_TYPE = "application/vnd.lineage.sketch.v1+proto";

function split(bytes: Uint8Array, width: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += width) out.push(bytes.subarray(o, o + width));
  return out;
}

/**
 * Converts a sketch built from `inputs` (the same inputs, so wrong answers can be attributed to their
 * probe) into the wire message for `model`.
 * @param probeIndex the probe's position in the epoch battery, by probe id
 */
export function sketchToProto(
  sketch: Sketch,
  inputs: readonly SketchProbeInput[],
  context: SketchContext,
  probeIndex: ReadonlyMap<string, number>,
  model: { readonly memberId: string; readonly modelId: string; readonly modelVersion: string },
  createdAtMs: number,
): SketchMessage {
  const indexOf = (id: string): number => {
    const i = probeIndex.get(id);
    if (i === undefined)
      throw new MemberNodeError("invalid_argument", "a sketched probe is not in the battery");
    return i;
  };
  const probes = sketch.probes
    .map((p) => ({
      probeIndex: indexOf(p.probeId),
      bandDigests: p.empty ? [] : split(p.bands, PROBE_DIGEST_BYTES),
    }))
    .sort((a, b) => a.probeIndex - b.probeIndex);
  // The engine's wrong-answer digests are not attributed to probes, but each binds its probe id
  // (sketch-build.ts: HMAC(version || "W" || u8 len(probeId) || probeId || normalizeAnswer(text))[0..8]),
  // so each edge probe's digest is recomputed here and must be one of the sketch's: any divergence from the
  // engine's definition fails below instead of publishing a wrong attribution.
  const wanted = new Map(sketch.wrongAnswers.map((d) => [Buffer.from(d).toString("hex"), d]));
  const wrongAnswers: { probeIndex: number; digest: Uint8Array }[] = [];
  for (const input of sketch.version === 1 ? inputs : []) {
    if (input.kind !== "edge" || input.reference === undefined) continue;
    const answer = normalizeAnswer(input.text);
    if (answer === "" || answer === normalizeAnswer(input.reference)) continue;
    const id = Buffer.from(input.probeId, "utf8");
    const a = Buffer.from(answer, "utf8");
    const msg = new Uint8Array(3 + id.length + a.length);
    msg[0] = 1; // version 1's wrong-answer digest
    msg[1] = TAG_WRONG;
    msg[2] = id.length;
    msg.set(id, 3);
    msg.set(a, 3 + id.length);
    const d = context.digest(msg, WRONG_ANSWER_DIGEST_BYTES);
    const hex = Buffer.from(d).toString("hex");
    if (!wanted.has(hex))
      throw new MemberNodeError("invalid_argument", "a wrong answer's digest is not the sketch's");
    wanted.delete(hex); // two probes with the same digest cannot happen (the probe id is inside)
    wrongAnswers.push({ probeIndex: indexOf(input.probeId), digest: d });
  }
  if (wanted.size > 0)
    throw new MemberNodeError("invalid_argument", "a wrong-answer digest matches no probe");
  // In the domain sketch's canonical order (digests ascending), which the receiver's checkSketch requires.
  wrongAnswers.sort((a, b) => Buffer.compare(a.digest, b.digest));
  let simhash = new Uint8Array(0);
  if (sketch.simhash !== null) {
    simhash = new Uint8Array(8);
    new DataView(simhash.buffer).setBigUint64(0, sketch.simhash);
  }
  return create(SketchSchema, {
    version: sketch.version,
    epochId: sketch.epochId,
    subject: { case: "memberModel", value: model },
    params: {
      numHashes: PROBE_ROWS,
      bands: PROBE_BANDS,
      rows: PROBE_ROWS_PER_BAND,
      shingleSize: SHINGLE_SIZE,
    },
    coarse: { bandDigests: split(sketch.coarse, COARSE_DIGEST_BYTES) },
    probes,
    tokenProfileSimhash: simhash,
    wrongAnswers,
    createdAt: timestampFromMs(createdAtMs),
  });
}
