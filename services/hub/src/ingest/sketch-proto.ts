/**
 * Sketch conversion at the hub's edge: the protobuf Sketch carried in a member's DSSE envelope
 * (proto/lineage/v1/sketch.proto, payload type application/vnd.lineage.sketch.v1+proto) <-> the domain
 * sketch of libs/fingerprint (sketch-types.ts, versions 1 and 2: `version` says which; members build 2, the
 * hub still reads 1 for sketches signed before it; docs/specs/sketch.md). The proto is the contract; its
 * fields map as:
 *   probe_index           <-> probeId = the decimal index ("0", "17"), probes sorted by id bytes in the domain
 *   band_digests (probe)  <-> PROBE_BANDS digests of PROBE_DIGEST_BYTES; none for an empty response
 *   coarse.band_digests   <-> COARSE_BANDS digests of COARSE_DIGEST_BYTES; none when no probe had tokens
 *   params                 = {num_hashes: PROBE_ROWS, bands: PROBE_BANDS, rows: PROBE_ROWS_PER_BAND,
 *                             shingle_size: SHINGLE_SIZE} (the per-probe MinHash; the coarse signature's
 *                             parameters are fixed by the sketch version)
 *   token_profile_simhash <-> simhash (8 bytes big-endian) or empty
 *   wrong_answers.digest  <-> WRONG_ANSWER_DIGEST_BYTES keyed digests (the probe id is inside the HMAC);
 *                            version 1 only — a version-2 sketch carrying any is malformed
 * Everything coming in is untrusted: every count and length is checked before use.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Sketch as ProtoSketch, SketchSchema } from "@lineage/api";
import {
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  checkSketch,
  PROBE_BANDS,
  PROBE_DIGEST_BYTES,
  PROBE_ROWS,
  PROBE_ROWS_PER_BAND,
  SHINGLE_SIZE,
  SKETCH_LIMITS,
  SKETCH_VERSIONS,
  type Sketch,
  type SketchVersion,
  WRONG_ANSWER_DIGEST_BYTES,
} from "@lineage/fingerprint";
import { HubError } from "./hub-error.js";
import { MEMBER_ID_RE } from "./signed-header.js";

/** DSSE payload type of a member-signed sketch (dsse.proto). */
export const SKETCH_PAYLOAD_TYPE = "application/vnd.lineage.sketch.v1+proto";
/** Member model ids (member_model.proto). */
export const MODEL_ID_RE = /^[A-Za-z0-9._/-]{1,128}$/;

/** A member model. */
export interface ModelRef {
  readonly memberId: string;
  readonly modelId: string;
  readonly modelVersion: string;
}

/** A member's sketch, converted and checked. */
export interface MemberSketch {
  readonly model: ModelRef;
  readonly sketch: Sketch;
  readonly createdAtMs: number;
}

function bad(message: string): never {
  throw new HubError("malformed", `sketch: ${message}`);
}

const te = new TextEncoder();
function byteOrder(a: string, b: string): number {
  const x = te.encode(a);
  const y = te.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return x.length - y.length;
}

function concatDigests(
  digests: readonly Uint8Array[],
  count: number,
  width: number,
  what: string,
): Uint8Array {
  if (digests.length !== count) bad(`${what} must hold 0 or ${count} digests, got ${digests.length}`);
  const out = new Uint8Array(count * width);
  digests.forEach((d, i) => {
    if (d.length !== width) bad(`${what} digest ${i} must be ${width} bytes`);
    out.set(d, i * width);
  });
  return out;
}

/** Checks a model reference (untrusted). */
export function checkModelRef(m: ModelRef, what = "member_model"): ModelRef {
  if (!MEMBER_ID_RE.test(m.memberId)) bad(`${what}.member_id is not a member id`);
  if (!MODEL_ID_RE.test(m.modelId)) bad(`${what}.model_id must be 1..128 of [A-Za-z0-9._/-]`);
  if (m.modelVersion.length > 64) bad(`${what}.model_version exceeds 64 characters`);
  return { memberId: m.memberId, modelId: m.modelId, modelVersion: m.modelVersion };
}

/**
 * A member's protobuf sketch as a checked domain sketch. `probeCount` is the battery size of the sketch's
 * epoch (probe indexes must be below it). Throws HubError `malformed` naming the first thing wrong.
 */
export function sketchFromProto(p: ProtoSketch, probeCount: number): MemberSketch {
  const version = p.version as SketchVersion;
  if (!SKETCH_VERSIONS.includes(version)) bad(`version must be one of ${SKETCH_VERSIONS.join(", ")}`);
  if (p.subject.case !== "memberModel")
    bad("subject must be a member_model (suspect sketches are the hub's)");
  const model = checkModelRef(p.subject.value);
  const params = p.params;
  if (
    params === undefined ||
    params.numHashes !== PROBE_ROWS ||
    params.bands !== PROBE_BANDS ||
    params.rows !== PROBE_ROWS_PER_BAND ||
    params.shingleSize !== SHINGLE_SIZE
  ) {
    bad(
      `params must be {num_hashes ${PROBE_ROWS}, bands ${PROBE_BANDS}, rows ${PROBE_ROWS_PER_BAND}, shingle_size ${SHINGLE_SIZE}}`,
    );
  }
  if (p.probes.length === 0 || p.probes.length > Math.min(SKETCH_LIMITS.maxProbes, probeCount)) {
    bad(`probes must hold 1..${Math.min(SKETCH_LIMITS.maxProbes, probeCount)} entries (the battery's size)`);
  }
  const seen = new Set<number>();
  const probes = p.probes.map((ps) => {
    if (ps.probeIndex >= probeCount)
      bad(`probe_index ${ps.probeIndex} is not below the battery's ${probeCount} probes`);
    if (seen.has(ps.probeIndex)) bad(`probe_index ${ps.probeIndex} appears twice`);
    seen.add(ps.probeIndex);
    const empty = ps.bandDigests.length === 0;
    return {
      probeId: String(ps.probeIndex),
      empty,
      bands: empty
        ? new Uint8Array(0)
        : concatDigests(ps.bandDigests, PROBE_BANDS, PROBE_DIGEST_BYTES, `probe ${ps.probeIndex}`),
    };
  });
  probes.sort((a, b) => byteOrder(a.probeId, b.probeId));
  const coarseDigests = p.coarse?.bandDigests ?? [];
  const coarse =
    coarseDigests.length === 0
      ? new Uint8Array(0)
      : concatDigests(coarseDigests, COARSE_BANDS, COARSE_DIGEST_BYTES, "coarse");
  let simhash: bigint | null = null;
  if (p.tokenProfileSimhash.length !== 0) {
    if (p.tokenProfileSimhash.length !== 8) bad("token_profile_simhash must be empty or 8 bytes");
    simhash = new DataView(p.tokenProfileSimhash.buffer, p.tokenProfileSimhash.byteOffset, 8).getBigUint64(0);
  }
  if (p.wrongAnswers.length > p.probes.length) bad("more wrong-answer digests than probes");
  if (version !== 1 && p.wrongAnswers.length > 0) bad(`version ${version} carries no wrong_answers`);
  const wrongAnswers = p.wrongAnswers.map((w, i) => {
    if (w.probeIndex >= probeCount) bad(`wrong answer ${i}: probe_index is not below the battery size`);
    if (w.digest.length !== WRONG_ANSWER_DIGEST_BYTES)
      bad(`wrong answer ${i}: digest must be ${WRONG_ANSWER_DIGEST_BYTES} bytes`);
    return w.digest;
  });
  if (p.createdAt === undefined) bad("created_at is missing");
  const createdAtMs = Number(timestampMs(p.createdAt));
  const sketch: Sketch = {
    version,
    epochId: p.epochId,
    coarse,
    simhash,
    probes,
    wrongAnswers,
  };
  try {
    checkSketch(sketch);
  } catch (cause) {
    throw new HubError("malformed", `sketch: ${(cause as Error).message}`, { cause });
  }
  return { model, sketch, createdAtMs };
}

function splitDigests(bytes: Uint8Array, width: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += width) out.push(bytes.slice(o, o + width));
  return out;
}

/**
 * A domain sketch as the protobuf a member signs (probe ids must be decimal probe indexes). Used by the
 * hub for the sketches it computes of suspects' responses, and by tests and the benchmark.
 */
export function sketchToProto(s: Sketch, model: ModelRef, createdAtMs: number): ProtoSketch {
  checkSketch(s);
  const simhash = new Uint8Array(s.simhash === null ? 0 : 8);
  if (s.simhash !== null) new DataView(simhash.buffer).setBigUint64(0, s.simhash);
  return create(SketchSchema, {
    version: s.version,
    epochId: s.epochId,
    subject: { case: "memberModel", value: { ...model } },
    params: {
      numHashes: PROBE_ROWS,
      bands: PROBE_BANDS,
      rows: PROBE_ROWS_PER_BAND,
      shingleSize: SHINGLE_SIZE,
    },
    coarse: { bandDigests: splitDigests(s.coarse, COARSE_DIGEST_BYTES) },
    probes: s.probes.map((p) => {
      if (!/^(0|[1-9][0-9]{0,3})$/.test(p.probeId)) {
        throw new HubError("invalid_argument", `probe id ${p.probeId} is not a battery index`);
      }
      return { probeIndex: Number(p.probeId), bandDigests: splitDigests(p.bands, PROBE_DIGEST_BYTES) };
    }),
    tokenProfileSimhash: simhash,
    wrongAnswers: s.wrongAnswers.map((d) => ({ probeIndex: 0, digest: d })),
    createdAt: timestampFromMs(createdAtMs),
  });
}
