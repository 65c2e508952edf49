/**
 * Compact binary form of a compiled Kneser–Ney model (format "LTKN" version 1), for the on-disk cache.
 *
 *   "LTKN" | u32 version | u32 header length | header JSON (order, counts, meta) | vocab (UTF-8, "\n"-joined)
 *   | zero padding to 8 | f64 discounts[order*3] | f64 histKeys[nodes] | i32 depthStart[order+1]
 *   | i32 entryStart[nodes+1] | i32 entryTok, entryCnt [entries]                          (little-endian)
 *
 * Stored uncompressed: loading must take milliseconds (a warm population is hundreds of models). Decoding treats the bytes as untrusted (a cache
 * file can be truncated or corrupted): every size is bounded and every index checked before the model is
 * built, and any violation is a TestbedError "cache_corrupt".
 */
import { BOS, EOS, type KneserNeyArrays, KneserNeyModel, MAX_ORDER } from "./kneser-ney.js";
import { TestbedError } from "./testbed-error.js";

const MAGIC = 0x4e4b544c; // "LTKN" little-endian
const VERSION = 1;
/** Bounds on what a cache file may declare (well above any testbed model). */
const MAX_NODES = 20_000_000;
const MAX_ENTRIES = 40_000_000;
const MAX_VOCAB = 2_000_000;
const MAX_HEADER = 1 << 20;

interface Header {
  order: number;
  nodes: number;
  entries: number;
  vocabBytes: number;
  meta: unknown;
}

/** Encodes a model (and optional JSON-able metadata) to bytes. */
export function encodeModel(model: KneserNeyModel, meta: unknown = null): Uint8Array {
  const a = model.arrays;
  const vocabBytes = Buffer.from(a.vocab.join("\n"), "utf8");
  const header: Header = {
    order: a.order,
    nodes: a.histKeys.length,
    entries: a.entryTok.length,
    vocabBytes: vocabBytes.length,
    meta,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), "utf8");
  const pre = headerBytes.length + vocabBytes.length;
  const pad = (8 - (pre % 8)) % 8;
  const parts: Uint8Array[] = [headerBytes, vocabBytes, new Uint8Array(pad)];
  const arrays = [a.discounts, a.histKeys, a.depthStart, a.entryStart, a.entryTok, a.entryCnt];
  for (const arr of arrays) parts.push(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
  const body = Buffer.concat(parts);
  const preamble = Buffer.alloc(12);
  preamble.writeUInt32LE(MAGIC, 0);
  preamble.writeUInt32LE(VERSION, 4);
  preamble.writeUInt32LE(headerBytes.length, 8);
  return Buffer.concat([preamble, body]);
}

function corrupt(what: string, cause?: unknown): TestbedError {
  return new TestbedError("cache_corrupt", `model file is malformed: ${what}`, { cause });
}

/** Decodes and validates a model file; throws TestbedError "cache_corrupt" on any inconsistency. */
export function decodeModel(bytes: Uint8Array): { model: KneserNeyModel; meta: unknown } {
  // Untrusted input: a file from disk. Check the preamble, bound every declared size, check every index.
  if (bytes.length < 12) throw corrupt("too short");
  const pre = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (pre.readUInt32LE(0) !== MAGIC) throw corrupt("bad magic");
  if (pre.readUInt32LE(4) !== VERSION) throw corrupt("unsupported version");
  const headerLen = pre.readUInt32LE(8);
  if (headerLen === 0 || headerLen > MAX_HEADER) throw corrupt("header length");
  const body = pre.subarray(12);
  if (body.length < headerLen) throw corrupt("truncated header");
  let h: Header;
  try {
    h = JSON.parse(body.subarray(0, headerLen).toString("utf8")) as Header;
  } catch (err) {
    throw corrupt("header JSON", err);
  }
  const okInt = (x: unknown, max: number): x is number =>
    Number.isInteger(x) && (x as number) >= 0 && (x as number) <= max;
  if (!okInt(h.order, MAX_ORDER) || h.order < 2) throw corrupt("order");
  if (!okInt(h.nodes, MAX_NODES) || h.nodes < 1) throw corrupt("node count");
  if (!okInt(h.entries, MAX_ENTRIES)) throw corrupt("entry count");
  if (!okInt(h.vocabBytes, MAX_VOCAB * 64)) throw corrupt("vocab size");
  let off = headerLen;
  const vocab = body
    .subarray(off, off + h.vocabBytes)
    .toString("utf8")
    .split("\n");
  off += h.vocabBytes;
  off += (8 - (off % 8)) % 8;
  if (vocab.length < 2 || vocab.length > MAX_VOCAB || vocab[0] !== BOS || vocab[1] !== EOS) {
    throw corrupt("vocabulary");
  }
  if (new Set(vocab).size !== vocab.length) throw corrupt("duplicate vocabulary tokens");
  const need =
    off + h.order * 3 * 8 + h.nodes * 8 + (h.order + 1) * 4 + (h.nodes + 1) * 4 + h.entries * 2 * 4;
  if (body.length !== need) throw corrupt("payload length");
  // Copy into fresh aligned buffers.
  const take = (n: number, size: 4 | 8): ArrayBuffer => {
    const ab = new ArrayBuffer(n * size);
    new Uint8Array(ab).set(body.subarray(off, off + n * size));
    off += n * size;
    return ab;
  };
  const discounts = new Float64Array(take(h.order * 3, 8));
  const histKeys = new Float64Array(take(h.nodes, 8));
  const depthStart = new Int32Array(take(h.order + 1, 4));
  const entryStart = new Int32Array(take(h.nodes + 1, 4));
  const entryTok = new Int32Array(take(h.entries, 4));
  const entryCnt = new Int32Array(take(h.entries, 4));
  for (let i = 0; i < discounts.length; i++) {
    const d = discounts[i] as number;
    if (!(d > 0 && d < 3)) throw corrupt("discount");
  }
  const V = vocab.length;
  if (depthStart[0] !== 0 || depthStart[1] !== 1 || depthStart[h.order] !== h.nodes)
    throw corrupt("depth starts");
  for (let d = 1; d < h.order; d++) {
    const s = depthStart[d] as number;
    const e = depthStart[d + 1] as number;
    if (e < s) throw corrupt("depth order");
    const max = 65536 ** d;
    for (let i = s; i < e; i++) {
      const k = histKeys[i] as number;
      if (!Number.isInteger(k) || k < 0 || k >= max || (i > s && k <= (histKeys[i - 1] as number))) {
        throw corrupt("history keys");
      }
    }
  }
  if (entryStart[0] !== 0 || entryStart[h.nodes] !== h.entries) throw corrupt("entry range ends");
  for (let i = 0; i < h.nodes; i++) {
    const s = entryStart[i] as number;
    const e = entryStart[i + 1] as number;
    if (e <= s && i > 0) throw corrupt("empty node");
    if (e < s) throw corrupt("entry ranges");
    for (let j = s; j < e; j++) {
      const t = entryTok[j] as number;
      if (t < 1 || t >= V) throw corrupt("entry token");
      if (j > s && t <= (entryTok[j - 1] as number)) throw corrupt("entry order");
      if ((entryCnt[j] as number) < 1) throw corrupt("entry count");
    }
  }
  const arrays: KneserNeyArrays = {
    order: h.order,
    vocab,
    histKeys,
    depthStart,
    entryStart,
    entryTok,
    entryCnt,
    discounts,
  };
  return { model: new KneserNeyModel(arrays), meta: h.meta };
}
