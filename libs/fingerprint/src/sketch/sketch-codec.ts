/**
 * Canonical binary serialization of a sketch, versions 1 and 2 (all integers big-endian):
 *
 *   "LNSK" | u8 version (1 or 2) | u8 flags (bit 0: simhash present, bit 1: coarse present; others 0)
 *   u8 len | epochId (1..64 bytes of [A-Za-z0-9._:-])
 *   u16 PROBE_BANDS | u8 PROBE_ROWS_PER_BAND | u8 PROBE_DIGEST_BYTES
 *   u16 COARSE_BANDS | u8 COARSE_ROWS_PER_BAND | u8 COARSE_DIGEST_BYTES      (the same for both versions)
 *   u64 simhash (zero when absent)
 *   COARSE_BANDS x COARSE_DIGEST_BYTES coarse digests (only when present)
 *   u16 probe count (1..4096), then per probe, ids strictly increasing in byte order:
 *     u8 len | probeId (1..128 bytes of valid UTF-8) | u8 flags (bit 0: empty; others 0)
 *     PROBE_BANDS x PROBE_DIGEST_BYTES band digests (only when not empty)
 *   u16 wrong-answer count (<= probe count; 0 in version 2), then the digests, strictly increasing
 *   nothing after.
 *
 * Exactly one encoding per sketch: the parser rejects anything the encoder would not write (unknown
 * flags, unsorted or duplicate ids/digests, coarse presence inconsistent with the probes, trailing bytes).
 */
import { FingerprintError } from "../fingerprint-error.js";
import { compareBytes } from "./sketch-build.js";
import { checkEpochId, utf8 } from "./sketch-keys.js";
import {
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  COARSE_ROWS_PER_BAND,
  PROBE_BANDS,
  PROBE_DIGEST_BYTES,
  PROBE_ROWS_PER_BAND,
  type ProbeSketch,
  SKETCH_LIMITS,
  SKETCH_VERSIONS,
  type Sketch,
  type SketchVersion,
  WRONG_ANSWER_DIGEST_BYTES,
} from "./sketch-types.js";

const MAGIC = [0x4c, 0x4e, 0x53, 0x4b]; // "LNSK"
const FLAG_SIMHASH = 1;
const FLAG_COARSE = 2;
const PROBE_EMPTY = 1;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function invalid(message: string): never {
  throw new FingerprintError("INVALID_ARGUMENT", message);
}

/** Checks a sketch object's shape and canonical order (what {@link encodeSketch} requires). */
export function checkSketch(s: Sketch): void {
  if (typeof s !== "object" || s === null || !SKETCH_VERSIONS.includes(s.version))
    invalid(`sketch: version must be one of ${SKETCH_VERSIONS.join(", ")}`);
  checkEpochId(s.epochId, "sketch.epochId");
  if (!(s.coarse instanceof Uint8Array)) invalid("sketch.coarse must be a Uint8Array");
  if (s.coarse.length !== 0 && s.coarse.length !== COARSE_BANDS * COARSE_DIGEST_BYTES) {
    invalid(`sketch.coarse must be empty or ${COARSE_BANDS * COARSE_DIGEST_BYTES} bytes`);
  }
  if (s.simhash !== null && (typeof s.simhash !== "bigint" || s.simhash < 0n || s.simhash >= 1n << 64n)) {
    invalid("sketch.simhash must be null or a 64-bit unsigned bigint");
  }
  if (!Array.isArray(s.probes) || s.probes.length === 0 || s.probes.length > SKETCH_LIMITS.maxProbes) {
    invalid(`sketch.probes must hold 1..${SKETCH_LIMITS.maxProbes} probes`);
  }
  let prev: Uint8Array | null = null;
  let anyTokens = false;
  for (const p of s.probes) {
    const id = utf8(typeof p.probeId === "string" ? p.probeId : "");
    if (id.length === 0 || id.length > SKETCH_LIMITS.maxProbeIdBytes)
      invalid("sketch probe id has a bad length");
    if (prev !== null && compareBytes(prev, id) >= 0) invalid("sketch probes must be sorted by id, unique");
    prev = id;
    const want = p.empty ? 0 : PROBE_BANDS * PROBE_DIGEST_BYTES;
    if (!(p.bands instanceof Uint8Array) || p.bands.length !== want)
      invalid("sketch probe bands have a bad length");
    anyTokens ||= !p.empty;
  }
  if (anyTokens !== s.coarse.length > 0) invalid("sketch.coarse must be present iff some probe has tokens");
  if (!Array.isArray(s.wrongAnswers) || s.wrongAnswers.length > s.probes.length) {
    invalid("sketch.wrongAnswers must hold at most one digest per probe");
  }
  if (s.version !== 1 && s.wrongAnswers.length > 0)
    invalid(`sketch.wrongAnswers must be empty in version ${s.version}`);
  let prevW: Uint8Array | null = null;
  for (const w of s.wrongAnswers) {
    if (!(w instanceof Uint8Array) || w.length !== WRONG_ANSWER_DIGEST_BYTES)
      invalid("bad wrong-answer digest");
    if (prevW !== null && compareBytes(prevW, w) >= 0) invalid("wrong-answer digests must be sorted, unique");
    prevW = w;
  }
}

/** Serializes a sketch canonically. @throws FingerprintError `INVALID_ARGUMENT` on a non-canonical sketch. */
export function encodeSketch(s: Sketch): Uint8Array {
  checkSketch(s);
  const eid = utf8(s.epochId);
  const ids = s.probes.map((p) => utf8(p.probeId));
  let size = 4 + 2 + 1 + eid.length + 8 + 8 + s.coarse.length + 2 + 2;
  s.probes.forEach((p, i) => {
    size += 1 + (ids[i]?.length ?? 0) + 1 + p.bands.length;
  });
  size += s.wrongAnswers.length * WRONG_ANSWER_DIGEST_BYTES;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let o = 0;
  out.set(MAGIC, 0);
  o = 4;
  out[o++] = s.version;
  out[o++] = (s.simhash !== null ? FLAG_SIMHASH : 0) | (s.coarse.length > 0 ? FLAG_COARSE : 0);
  out[o++] = eid.length;
  out.set(eid, o);
  o += eid.length;
  dv.setUint16(o, PROBE_BANDS);
  out[o + 2] = PROBE_ROWS_PER_BAND;
  out[o + 3] = PROBE_DIGEST_BYTES;
  dv.setUint16(o + 4, COARSE_BANDS);
  out[o + 6] = COARSE_ROWS_PER_BAND;
  out[o + 7] = COARSE_DIGEST_BYTES;
  o += 8;
  dv.setBigUint64(o, s.simhash ?? 0n);
  o += 8;
  out.set(s.coarse, o);
  o += s.coarse.length;
  dv.setUint16(o, s.probes.length);
  o += 2;
  s.probes.forEach((p, i) => {
    const id = ids[i] ?? new Uint8Array(0);
    out[o++] = id.length;
    out.set(id, o);
    o += id.length;
    out[o++] = p.empty ? PROBE_EMPTY : 0;
    out.set(p.bands, o);
    o += p.bands.length;
  });
  dv.setUint16(o, s.wrongAnswers.length);
  o += 2;
  for (const w of s.wrongAnswers) {
    out.set(w, o);
    o += w.length;
  }
  return out;
}

/**
 * Parses an encoded sketch. Untrusted input (a sketch received from NATS or the hub): every length and
 * count is checked against the buffer and SKETCH_LIMITS before it is used.
 *
 * @throws FingerprintError `INVALID_DOCUMENT` naming the first thing wrong (malformed, non-canonical,
 *   oversized, unknown version or parameters).
 */
export function decodeSketch(bytes: Uint8Array): Sketch {
  if (!(bytes instanceof Uint8Array))
    throw new FingerprintError("INVALID_ARGUMENT", "sketch bytes must be a Uint8Array");
  const bad = (what: string): never => {
    throw new FingerprintError("INVALID_DOCUMENT", `sketch: ${what}`);
  };
  if (bytes.length > SKETCH_LIMITS.maxEncodedBytes) bad(`larger than ${SKETCH_LIMITS.maxEncodedBytes} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const need = (n: number, what: string): void => {
    if (o + n > bytes.length) bad(`truncated in ${what}`);
  };
  need(6, "header");
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) bad("bad magic (not a Lineage sketch)");
  const version = bytes[4] as SketchVersion;
  if (!SKETCH_VERSIONS.includes(version)) bad(`unsupported version ${bytes[4]}`);
  const flags = bytes[5] ?? 0;
  if ((flags & ~(FLAG_SIMHASH | FLAG_COARSE)) !== 0) bad("unknown header flags");
  o = 6;
  need(1, "epoch id length");
  const eLen = bytes[o++] ?? 0;
  if (eLen === 0 || eLen > SKETCH_LIMITS.maxEpochIdBytes) bad("epoch id length out of range");
  need(eLen, "epoch id");
  let epochId = "";
  try {
    epochId = checkEpochId(strictUtf8.decode(bytes.subarray(o, o + eLen)));
  } catch (cause) {
    throw new FingerprintError("INVALID_DOCUMENT", "sketch: epoch id is not [A-Za-z0-9._:-]+", { cause });
  }
  o += eLen;
  need(8, "parameters");
  if (
    dv.getUint16(o) !== PROBE_BANDS ||
    bytes[o + 2] !== PROBE_ROWS_PER_BAND ||
    bytes[o + 3] !== PROBE_DIGEST_BYTES ||
    dv.getUint16(o + 4) !== COARSE_BANDS ||
    bytes[o + 6] !== COARSE_ROWS_PER_BAND ||
    bytes[o + 7] !== COARSE_DIGEST_BYTES
  ) {
    bad(`band/row parameters differ from sketch version ${version}`);
  }
  o += 8;
  need(8, "simhash");
  const rawSim = dv.getBigUint64(o);
  o += 8;
  if ((flags & FLAG_SIMHASH) === 0 && rawSim !== 0n) bad("simhash bytes set while flagged absent");
  const simhash = (flags & FLAG_SIMHASH) !== 0 ? rawSim : null;
  let coarse = new Uint8Array(0);
  if ((flags & FLAG_COARSE) !== 0) {
    need(COARSE_BANDS * COARSE_DIGEST_BYTES, "coarse signature");
    coarse = bytes.slice(o, o + COARSE_BANDS * COARSE_DIGEST_BYTES);
    o += coarse.length;
  }
  need(2, "probe count");
  const nProbes = dv.getUint16(o);
  o += 2;
  if (nProbes === 0 || nProbes > SKETCH_LIMITS.maxProbes)
    bad(`probe count must be 1..${SKETCH_LIMITS.maxProbes}`);
  const probes: ProbeSketch[] = [];
  let prev: Uint8Array | null = null;
  let anyTokens = false;
  for (let i = 0; i < nProbes; i++) {
    need(1, `probe #${i} id length`);
    const len = bytes[o++] ?? 0;
    if (len === 0 || len > SKETCH_LIMITS.maxProbeIdBytes) bad(`probe #${i} id length out of range`);
    need(len + 1, `probe #${i}`);
    const id = bytes.subarray(o, o + len);
    let probeId = "";
    try {
      probeId = strictUtf8.decode(id);
    } catch (cause) {
      throw new FingerprintError("INVALID_DOCUMENT", `sketch: probe #${i} id is not valid UTF-8`, { cause });
    }
    if (prev !== null && compareBytes(prev, id) >= 0) bad(`probe #${i} id out of order or duplicated`);
    prev = id;
    o += len;
    const pf = bytes[o++] ?? 0;
    if ((pf & ~PROBE_EMPTY) !== 0) bad(`probe #${i} has unknown flags`);
    const empty = (pf & PROBE_EMPTY) !== 0;
    let bands = new Uint8Array(0);
    if (!empty) {
      need(PROBE_BANDS * PROBE_DIGEST_BYTES, `probe #${i} bands`);
      bands = bytes.slice(o, o + PROBE_BANDS * PROBE_DIGEST_BYTES);
      o += bands.length;
      anyTokens = true;
    }
    probes.push({ probeId, empty, bands });
  }
  if (anyTokens !== coarse.length > 0) bad("coarse signature present iff some probe has tokens");
  need(2, "wrong-answer count");
  const nWrong = dv.getUint16(o);
  o += 2;
  if (nWrong > nProbes) bad("more wrong-answer digests than probes");
  if (version !== 1 && nWrong > 0) bad(`version ${version} carries no wrong-answer digests`);
  need(nWrong * WRONG_ANSWER_DIGEST_BYTES, "wrong-answer digests");
  const wrongAnswers: Uint8Array[] = [];
  for (let i = 0; i < nWrong; i++) {
    const w = bytes.slice(o, o + WRONG_ANSWER_DIGEST_BYTES);
    o += WRONG_ANSWER_DIGEST_BYTES;
    const last = wrongAnswers[wrongAnswers.length - 1];
    if (last !== undefined && compareBytes(last, w) >= 0)
      bad("wrong-answer digests out of order or duplicated");
    wrongAnswers.push(w);
  }
  if (o !== bytes.length) bad(`${bytes.length - o} trailing bytes`);
  return { version, epochId, coarse, simhash, probes, wrongAnswers };
}
