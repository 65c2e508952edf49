/**
 * A direct decoder of the protobuf Sketch (proto/lineage/v1/sketch.proto) into the domain sketch, for the
 * ingestion hot path: the generic decoder allocates one object per digest (~800 per sketch) and costs ~10x
 * more CPU. It applies the checks of sketchFromProto (sketch-proto.ts), which stays the reference:
 * sketch-wire.test.ts checks both give the same sketch on valid payloads, and the same one whenever both
 * accept a corrupted payload. Stricter than protobuf-es, as every signed record the hub admits is (issue 8:
 * unknown fields rejected): a field the message does not define, or a defined one sent with another wire
 * type, is malformed — a member cannot pad the sketch it signs (and the hub stores) with bytes nobody reads.
 * Protobuf rules otherwise followed: fields in any order, the last value of a singular field wins, a
 * truncated or overlong field is malformed. The input is untrusted: every length is checked against the buffer.
 */
import {
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  checkSketch,
  PROBE_BANDS,
  PROBE_DIGEST_BYTES,
  PROBE_ROWS,
  PROBE_ROWS_PER_BAND,
  type ProbeSketch,
  SHINGLE_SIZE,
  SKETCH_LIMITS,
  SKETCH_VERSIONS,
  type Sketch,
  type SketchVersion,
  WRONG_ANSWER_DIGEST_BYTES,
} from "@lineage/fingerprint";
import { HubError } from "./hub-error.js";
import { checkModelRef, type MemberSketch, type ModelRef } from "./sketch-proto.js";

function bad(message: string): never {
  throw new HubError("malformed", `sketch: ${message}`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A bounded reader of protobuf wire format over buf[pos, end). */
class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
  /** A varint as a number; values above 2^53 are malformed (no field here needs them). */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) bad("truncated varint");
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) bad("varint out of range");
        return result;
      }
      mul *= 128;
    }
    return bad("varint longer than 10 bytes");
  }
  /** A uint32 field (protobuf keeps the low 32 bits of a longer varint). */
  uint32(): number {
    const v = this.varint();
    return v % 4294967296;
  }
  /** Skips a length-delimited field's bytes and returns where they start (they end at `pos`). */
  lenStart(): number {
    const n = this.varint();
    if (n > this.end - this.pos) bad("length-delimited field runs past its message");
    const start = this.pos;
    this.pos += n;
    return start;
  }
  /** The [start, end) of a length-delimited field's bytes. */
  len(): [number, number] {
    const n = this.varint();
    if (n > this.end - this.pos) bad("length-delimited field runs past its message");
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }
  skip(wireType: number, fieldNo = -1, depth = 0): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.end - this.pos < 8) bad("truncated fixed64");
        this.pos += 8;
        return;
      case 2:
        this.len();
        return;
      case 5:
        if (this.end - this.pos < 4) bad("truncated fixed32");
        this.pos += 4;
        return;
      case 3: {
        // A (deprecated) group: skip to its end-group tag, nesting bounded.
        if (depth > 32) bad("groups nested too deep");
        for (;;) {
          const t = this.varint();
          if ((t & 7) === 4) {
            if (Math.floor(t / 8) !== fieldNo) bad("end-group tag does not match its group");
            return;
          }
          this.skip(t & 7, Math.floor(t / 8), depth + 1);
        }
      }
      default:
        bad(`unsupported wire type ${wireType}`);
    }
  }
  /** A field the message does not define, or a defined one with another wire type: refused, never skipped. */
  unknown(tag: number, message: string): never {
    return bad(
      `${message} has field ${Math.floor(tag / 8)} with wire type ${tag & 7}, which it does not define`,
    );
  }
  sub([start, end]: [number, number]): Reader {
    return new Reader(this.buf, start, end);
  }
}

/**
 * The digests of a repeated bytes field (`field`) in the messages at `ranges`, copied into one flat array of
 * `count` x `width` (`n` counts every digest seen, also beyond `count`); ProbeSketch's probe_index (field 1)
 * when `field` is 2. A module-level function, not a closure: it runs once per digest (~800 a sketch).
 */
function readDigests(
  payload: Uint8Array,
  ranges: readonly [number, number][],
  field: number,
  count: number,
  width: number,
  what: "probe" | "coarse",
): { out: Uint8Array<ArrayBuffer>; n: number; index: number } {
  const out = new Uint8Array(count * width);
  const ov = new DataView(out.buffer);
  const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let n = 0;
  let index: number | undefined;
  // The one-byte tag and one-byte length every encoder writes for a digest (width < 128, here 4 or 8): such a
  // digest is taken without the general reader below, which handles everything else the same way.
  const tag = field * 8 + 2;
  const fast = width > 0 && width < 128 && width % 4 === 0;
  for (const range of ranges) {
    const m = new Reader(payload, range[0], range[1]);
    const end = range[1];
    let p = range[0];
    while (p < end) {
      if (fast && payload[p] === tag && payload[p + 1] === width && p + 2 + width <= end) {
        if (n < count) {
          // Word copies (both widths are multiples of 4): a quarter of the element accesses of a byte loop.
          const o = n * width;
          for (let k = 0; k < width; k += 4) ov.setUint32(o + k, pv.getUint32(p + 2 + k));
        }
        n++;
        p += 2 + width;
        continue;
      }
      m.pos = p;
      const t = m.varint();
      const f = Math.floor(t / 8);
      if (f === field && (t & 7) === 2) {
        const s = m.lenStart();
        if (n < count) {
          if (m.pos - s !== width) bad(`${what} digest ${n} must be ${width} bytes`);
          const o = n * width;
          for (let k = 0; k < width; k++) out[o + k] = payload[s + k] as number;
        }
        n++;
      } else if (f === 1 && field === 2 && (t & 7) === 0) {
        index = m.uint32();
      } else m.unknown(t, what === "probe" ? "ProbeSketch" : "CoarseSignature");
      p = m.pos;
    }
  }
  return { out, n, index: index ?? 0 };
}

function utf8Text(payload: Uint8Array, range: [number, number]): string {
  try {
    return utf8.decode(payload.subarray(range[0], range[1]));
  } catch {
    return bad("a string field is not valid UTF-8");
  }
}

/** Decodes and checks a member's Sketch payload; same result and errors as sketchFromProto(fromBinary(...)). */
export function decodeMemberSketch(payload: Uint8Array, probeCount: number): MemberSketch {
  const r = new Reader(payload, 0, payload.length);
  let version = 0;
  let epochId = "";
  let subject: "none" | "member" | "suspect" = "none";
  let model: ModelRef = { memberId: "", modelId: "", modelVersion: "" };
  let params: [number, number, number, number] | undefined;
  const coarseRanges: [number, number][] = [];
  const probeRanges: [number, number][] = [];
  let simhash: [number, number] = [0, 0];
  const wrongRanges: [number, number][] = [];
  let createdAt: [number, number] | undefined;
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    switch (field) {
      case 1:
        if (wire !== 0) r.unknown(tag, "Sketch");
        version = r.uint32();
        break;
      case 2:
        if (wire !== 2) r.unknown(tag, "Sketch");
        epochId = utf8Text(payload, r.len());
        break;
      case 3: {
        if (wire !== 2) r.unknown(tag, "Sketch");
        // A repeated embedded message merges field by field; a oneof switch starts it afresh.
        const m = r.sub(r.len());
        const cur = subject === "member" ? { ...model } : { memberId: "", modelId: "", modelVersion: "" };
        while (!m.done) {
          const t = m.varint();
          const f = Math.floor(t / 8);
          if (f >= 1 && f <= 3 && (t & 7) === 2) {
            const v = utf8Text(payload, m.len());
            if (f === 1) cur.memberId = v;
            else if (f === 2) cur.modelId = v;
            else cur.modelVersion = v;
          } else m.unknown(t, "MemberModelRef");
        }
        model = cur;
        subject = "member";
        break;
      }
      case 4:
        if (wire !== 2) r.unknown(tag, "Sketch");
        r.len();
        subject = "suspect";
        break;
      case 5: {
        if (wire !== 2) r.unknown(tag, "Sketch");
        const m = r.sub(r.len());
        const p: [number, number, number, number] = params ?? [0, 0, 0, 0];
        while (!m.done) {
          const t = m.varint();
          const f = Math.floor(t / 8);
          if (f >= 1 && f <= 4 && (t & 7) === 0) {
            p[f - 1] = m.uint32();
          } else m.unknown(t, "MinHashParams");
        }
        params = p;
        break;
      }
      case 6:
        if (wire !== 2) r.unknown(tag, "Sketch");
        coarseRanges.push(r.len()); // a repeated embedded message merges: its digests concatenate
        break;
      case 7:
        if (wire !== 2) r.unknown(tag, "Sketch");
        probeRanges.push(r.len());
        break;
      case 8:
        if (wire !== 2) r.unknown(tag, "Sketch");
        simhash = r.len();
        break;
      case 9:
        if (wire !== 2) r.unknown(tag, "Sketch");
        wrongRanges.push(r.len());
        break;
      case 10:
        if (wire !== 2) r.unknown(tag, "Sketch");
        createdAt = r.len();
        break;
      default:
        r.unknown(tag, "Sketch");
    }
  }
  if (!SKETCH_VERSIONS.includes(version as SketchVersion))
    bad(`version must be one of ${SKETCH_VERSIONS.join(", ")}`);
  if (subject !== "member") bad("subject must be a member_model (suspect sketches are the hub's)");
  const checkedModel = checkModelRef(model);
  if (
    params === undefined ||
    params[0] !== PROBE_ROWS ||
    params[1] !== PROBE_BANDS ||
    params[2] !== PROBE_ROWS_PER_BAND ||
    params[3] !== SHINGLE_SIZE
  ) {
    bad(
      `params must be {num_hashes ${PROBE_ROWS}, bands ${PROBE_BANDS}, rows ${PROBE_ROWS_PER_BAND}, shingle_size ${SHINGLE_SIZE}}`,
    );
  }
  const maxProbes = Math.min(SKETCH_LIMITS.maxProbes, probeCount);
  if (probeRanges.length === 0 || probeRanges.length > maxProbes)
    bad(`probes must hold 1..${maxProbes} entries (the battery's size)`);
  const seen = new Set<number>();
  const probes: ProbeSketch[] = probeRanges.map((range) => {
    const { out, n, index } = readDigests(payload, [range], 2, PROBE_BANDS, PROBE_DIGEST_BYTES, "probe");
    if (index >= probeCount) bad(`probe_index ${index} is not below the battery's ${probeCount} probes`);
    if (seen.has(index)) bad(`probe_index ${index} appears twice`);
    seen.add(index);
    if (n !== 0 && n !== PROBE_BANDS) bad(`probe ${index} must hold 0 or ${PROBE_BANDS} digests, got ${n}`);
    return { probeId: String(index), empty: n === 0, bands: n === 0 ? new Uint8Array(0) : out };
  });
  // Decimal ids are ASCII, where UTF-16 order is UTF-8 byte order (the domain's canonical probe order).
  probes.sort((a, b) => (a.probeId < b.probeId ? -1 : a.probeId > b.probeId ? 1 : 0));
  let coarse = new Uint8Array(0);
  if (coarseRanges.length > 0) {
    const { out, n } = readDigests(payload, coarseRanges, 1, COARSE_BANDS, COARSE_DIGEST_BYTES, "coarse");
    if (n !== 0 && n !== COARSE_BANDS) bad(`coarse must hold 0 or ${COARSE_BANDS} digests, got ${n}`);
    if (n !== 0) coarse = out;
  }
  let sim: bigint | null = null;
  if (simhash[1] > simhash[0]) {
    if (simhash[1] - simhash[0] !== 8) bad("token_profile_simhash must be empty or 8 bytes");
    sim = new DataView(payload.buffer, payload.byteOffset + simhash[0], 8).getBigUint64(0);
  }
  if (wrongRanges.length > probeRanges.length) bad("more wrong-answer digests than probes");
  if (version !== 1 && wrongRanges.length > 0) bad(`version ${version} carries no wrong_answers`);
  const wrongAnswers = wrongRanges.map((range, i) => {
    const m = new Reader(payload, range[0], range[1]);
    let index = 0;
    let digest: Uint8Array = new Uint8Array(0);
    while (!m.done) {
      const t = m.varint();
      const f = Math.floor(t / 8);
      if (f === 1 && (t & 7) === 0) {
        index = m.uint32();
      } else if (f === 2 && (t & 7) === 2) {
        const [s, e] = m.len();
        digest = payload.slice(s, e);
      } else m.unknown(t, "WrongAnswerDigest");
    }
    if (index >= probeCount) bad(`wrong answer ${i}: probe_index is not below the battery size`);
    if (digest.length !== WRONG_ANSWER_DIGEST_BYTES)
      bad(`wrong answer ${i}: digest must be ${WRONG_ANSWER_DIGEST_BYTES} bytes`);
    return digest;
  });
  if (createdAt === undefined) bad("created_at is missing");
  let seconds = 0;
  let nanos = 0;
  const c = new Reader(payload, createdAt[0], createdAt[1]);
  while (!c.done) {
    const t = c.varint();
    const f = Math.floor(t / 8);
    if (f === 1 && (t & 7) === 0) {
      seconds = c.varint();
    } else if (f === 2 && (t & 7) === 0) {
      nanos = c.uint32();
    } else c.unknown(t, "created_at (Timestamp)");
  }
  const createdAtMs = seconds * 1000 + Math.floor(nanos / 1_000_000);
  const sketch: Sketch = {
    version: version as SketchVersion,
    epochId,
    coarse,
    simhash: sim,
    probes,
    wrongAnswers,
  };
  try {
    checkSketch(sketch);
  } catch (cause) {
    throw new HubError("malformed", `sketch: ${(cause as Error).message}`, { cause });
  }
  return { model: checkedModel, sketch, createdAtMs };
}

/**
 * The payload of a DSSE envelope the hub encoded itself (protobuf DsseEnvelope: field 2, the last one
 * written wins) — how the index reads a stored sketch. Not for untrusted envelopes: other fields are
 * skipped unchecked.
 */
export function envelopePayload(envelope: Uint8Array): Uint8Array {
  const r = new Reader(envelope, 0, envelope.length);
  let payload: [number, number] | undefined;
  while (!r.done) {
    const tag = r.varint();
    if (tag === 2 * 8 + 2) payload = r.len();
    else r.skip(tag & 7, Math.floor(tag / 8));
  }
  if (payload === undefined) bad("the envelope has no payload");
  return envelope.subarray(payload[0], payload[1]);
}

/**
 * The bytes of top-level field `field` of `message` when it occurs exactly once, length-delimited; otherwise
 * undefined (a repeated occurrence of a message field merges, which only a decoder reproduces).
 */
export function onlyField(message: Uint8Array, field: number): Uint8Array | undefined {
  const r = new Reader(message, 0, message.length);
  let found: [number, number] | undefined;
  let count = 0;
  while (!r.done) {
    const tag = r.varint();
    if (Math.floor(tag / 8) === field) {
      count++;
      if ((tag & 7) !== 2) return undefined;
      found = r.len();
    } else r.skip(tag & 7, Math.floor(tag / 8));
  }
  return count === 1 && found !== undefined ? message.subarray(found[0], found[1]) : undefined;
}

/**
 * `message` (protobuf wire format) without any occurrence of top-level field `field`: for a message
 * carrying a SignedHeader in field 1, exactly the bytes the header signs (the encoding with the header
 * unset), taken from what was received instead of re-encoded.
 */
export function withoutField(message: Uint8Array, field: number): Uint8Array {
  const r = new Reader(message, 0, message.length);
  const keep: [number, number][] = [];
  while (!r.done) {
    const start = r.pos;
    const tag = r.varint();
    r.skip(tag & 7, Math.floor(tag / 8));
    if (Math.floor(tag / 8) !== field) keep.push([start, r.pos]);
  }
  if (keep.length === 1) {
    const [s, e] = keep[0] as [number, number];
    return message.subarray(s, e);
  }
  const out = new Uint8Array(keep.reduce((n, [s, e]) => n + e - s, 0));
  let o = 0;
  for (const [s, e] of keep) {
    out.set(message.subarray(s, e), o);
    o += e - s;
  }
  return out;
}
