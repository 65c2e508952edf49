/**
 * Builds the sketch (definition in sketch-types.ts and docs/specs/sketch.md, hashing in sketch-keys.ts,
 * minhash.ts, simhash.ts) of a model's fingerprint under an epoch key. Rows, shingles, the coarse
 * signature and the SimHash are the same in both versions; the published digests differ:
 *
 * Version 1 (HMAC-SHA256 under the epoch's derived digest key, truncated):
 *   probe band  = HMAC(0x01 || "P" || u8 len(probeId) || probeId || u16 band || r x u32 rows)[0..4]
 *   coarse band = HMAC(0x01 || "C" || u16 band || r x u32 rows)[0..8]
 *   wrong answer= HMAC(0x01 || "W" || u8 len(probeId) || probeId || utf8(normalizeAnswer(text)))[0..8]
 * Version 2 (AES-128 under the epoch's derived block key, one 16-byte block each, see digestAllV2):
 *   probe band  = AES(0x02 || "P" || u16 band || u32 row || probeTag)[0..4]
 *   coarse band = AES(0x02 || "C" || u16 band || u32 row || 0^8)[0..8]
 *   probeTag    = SHA-256("lineage-sketch-v2\0probe\0" || probeId)[0..8]; no wrong answers, and edge
 *   probes are not listed (their shingles enter the coarse signature only; docs/privacy.md).
 * (all integers big-endian, probeId as UTF-8).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { FingerprintError } from "../fingerprint-error.js";
import type { Battery, Fingerprint } from "../probe/probe-types.js";
import { tokenize } from "../probe/tokenize.js";
import { BLOCK_BYTES } from "./block-digest.js";
import {
  dedupeShingles,
  minhashRowsInto,
  oneShotMinhash,
  ShingleBuffer,
  scopeShinglesInto,
  type TokenHashCache,
  textShingleHashes,
} from "./minhash.js";
import { type SimHashFeature, simhash64 } from "./simhash.js";
import { createSketchContext, type SketchContext, utf8 } from "./sketch-keys.js";
import {
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  COARSE_ROWS_PER_BAND,
  PROBE_BANDS,
  PROBE_DIGEST_BYTES,
  PROBE_ROWS,
  PROBE_ROWS_PER_BAND,
  type ProbeSketch,
  SHINGLE_SIZE,
  SIMHASH_POSITIONS,
  SKETCH_LIMITS,
  SKETCH_VERSION,
  type Sketch,
  type SketchProbeInput,
  type SketchVersion,
  WRONG_ANSWER_DIGEST_BYTES,
} from "./sketch-types.js";

const TAG_PROBE = 0x50; // "P"
const TAG_COARSE = 0x43; // "C"
const TAG_WRONG = 0x57; // "W"
const scratchShingles = new ShingleBuffer();
const scratchScoped = new ShingleBuffer();
let scratchRows = new Uint32Array(0);
let scratchBlocks = new Uint8Array(0);
// One view per probe slot, kept: minhashRowsInto writes a probe's PROBE_ROWS rows at its start.
const rowViews: Uint32Array[] = [];
function rowsView(rows: Uint32Array, k: number): Uint32Array {
  let v = rowViews[k];
  if (v === undefined || v.buffer !== rows.buffer) {
    v = rows.subarray(k * PROBE_ROWS, (k + 1) * PROBE_ROWS);
    rowViews[k] = v;
  }
  return v;
}
const EMPTY = 0;
const ROWS = 1;
const WITHHELD = 2;
const MAX_NORMALIZED_TOKENS = 64;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
const MAX_TOKEN_CHARS = 1024;
// A lone surrogate would be encoded as U+FFFD, so two distinct ids could share bytes: reject it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Byte-wise order of two byte strings (the canonical order of probe ids and digests). */
export function compareBytes(x: Uint8Array, y: Uint8Array): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * The normal form in which an edge-case answer is compared with its reference and digested: Lineage
 * tokens that contain a letter or digit (punctuation dropped), the first 64, joined by single spaces.
 * So "Paris." and "paris" agree, and a wrong answer's digest does not depend on trailing punctuation.
 */
export function normalizeAnswer(text: string): string {
  const out: string[] = [];
  for (const t of tokenize(text)) {
    // A token holds a letter or digit iff its first character is one (a TOKEN_RE run starts with
    // one; any other token is a single character): ASCII checked by code, the rest by the regex.
    const c = t.charCodeAt(0);
    const keep =
      c < 0x80
        ? (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)
        : LETTER_OR_DIGIT.test(t);
    if (keep) out.push(t);
    if (out.length === MAX_NORMALIZED_TOKENS) break;
  }
  return out.join(" ");
}

// Caller input (a fingerprint may come from a replay file or an endpoint): checked and bounded here.
function checkInputs(inputs: readonly SketchProbeInput[]): void {
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "sketch input must be a non-empty array of probe responses",
    );
  }
  if (inputs.length > SKETCH_LIMITS.maxProbes) {
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      `sketch input has more than ${SKETCH_LIMITS.maxProbes} probes`,
    );
  }
  const seen = new Set<string>();
  inputs.forEach((p, i) => {
    const where = `sketch input probe #${i}`;
    if (typeof p !== "object" || p === null)
      throw new FingerprintError("INVALID_ARGUMENT", `${where} is not an object`);
    if (typeof p.probeId !== "string" || p.probeId.length === 0) {
      throw new FingerprintError("INVALID_ARGUMENT", `${where}: probeId must be a non-empty string`);
    }
    const idBytes = utf8(p.probeId).length;
    if (idBytes > SKETCH_LIMITS.maxProbeIdBytes || LONE_SURROGATE.test(p.probeId)) {
      throw new FingerprintError(
        "INVALID_ARGUMENT",
        `${where}: probeId must be well-formed and at most ${SKETCH_LIMITS.maxProbeIdBytes} UTF-8 bytes`,
      );
    }
    if (seen.has(p.probeId)) throw new FingerprintError("INVALID_ARGUMENT", `${where}: duplicate probeId`);
    seen.add(p.probeId);
    if (p.kind !== "edge" && p.kind !== "open" && p.kind !== "completion") {
      throw new FingerprintError("INVALID_ARGUMENT", `${where}: kind must be edge, open or completion`);
    }
    if (typeof p.text !== "string" || p.text.length > SKETCH_LIMITS.maxTextChars) {
      throw new FingerprintError(
        "INVALID_ARGUMENT",
        `${where}: text must be a string of at most ${SKETCH_LIMITS.maxTextChars} characters`,
      );
    }
    if (
      p.reference !== undefined &&
      (typeof p.reference !== "string" || p.reference.length > SKETCH_LIMITS.maxTextChars)
    ) {
      throw new FingerprintError(
        "INVALID_ARGUMENT",
        `${where}: reference must be a string of at most ${SKETCH_LIMITS.maxTextChars} characters`,
      );
    }
    const positions: unknown = p.topLogprobs;
    if (positions !== undefined) {
      if (!Array.isArray(positions) || positions.length > SKETCH_LIMITS.maxLogprobPositions) {
        throw new FingerprintError(
          "INVALID_ARGUMENT",
          `${where}: topLogprobs must be an array of at most ${SKETCH_LIMITS.maxLogprobPositions} positions`,
        );
      }
      positions.forEach((pos: unknown, j) => {
        if (!Array.isArray(pos) || pos.length > SKETCH_LIMITS.maxTopLogprobs) {
          throw new FingerprintError(
            "INVALID_ARGUMENT",
            `${where}: topLogprobs[${j}] must be an array of at most ${SKETCH_LIMITS.maxTopLogprobs} alternatives`,
          );
        }
        for (const alt of pos) {
          const ok =
            typeof alt === "object" &&
            alt !== null &&
            typeof alt.token === "string" &&
            alt.token.length <= MAX_TOKEN_CHARS &&
            typeof alt.logprob === "number" &&
            !Number.isNaN(alt.logprob) &&
            alt.logprob <= 1e-6;
          if (!ok) {
            throw new FingerprintError(
              "INVALID_ARGUMENT",
              `${where}: topLogprobs[${j}] holds an entry that is not {token: string, logprob: number <= 0}`,
            );
          }
        }
      });
    }
  });
}

/**
 * The message of a probe band digest with the band number and rows left to fill: band at byte
 * `3 + idBytes.length`, rows after it.
 */
function probeBandMessage(idBytes: Uint8Array): Uint8Array {
  const msg = new Uint8Array(2 + 1 + idBytes.length + 2 + 4 * PROBE_ROWS_PER_BAND);
  msg[0] = 1; // version 1 only
  msg[1] = TAG_PROBE;
  msg[2] = idBytes.length;
  msg.set(idBytes, 3);
  return msg;
}

// Version 2's per-probe tag: SHA-256("lineage-sketch-v2\0probe\0" || probeId)[0..8], cached per context
// (every model of an epoch is sketched on the same battery, so the ids repeat). Not secret: it only keeps
// the digests of different probes apart; the block key is the secret.
const PROBE_TAG_PREFIX = utf8("lineage-sketch-v2\0probe\0");
const probeIdCache = new WeakMap<SketchContext, Map<string, { id: Uint8Array; tag: Uint8Array }>>();
function probeIdEntry(ctx: SketchContext, probeId: string): { id: Uint8Array; tag: Uint8Array } {
  let cache = probeIdCache.get(ctx);
  if (cache === undefined) {
    cache = new Map();
    probeIdCache.set(ctx, cache);
  }
  let e = cache.get(probeId);
  if (e === undefined) {
    const id = utf8(probeId);
    const msg = new Uint8Array(PROBE_TAG_PREFIX.length + id.length);
    msg.set(PROBE_TAG_PREFIX, 0);
    msg.set(id, PROBE_TAG_PREFIX.length);
    e = { id, tag: ctx.version === 1 ? new Uint8Array(0) : sha256(msg).subarray(0, 8) };
    // Bounded: a context used for many batteries (ids never repeating) starts over rather than grow.
    if (cache.size >= 4 * SKETCH_LIMITS.maxProbes) cache.clear();
    cache.set(probeId, e);
  }
  return e;
}

/**
 * Computes the sketch of one model's responses to an epoch battery.
 *
 * @param inputs - the fingerprint, one entry per probe (order does not matter; ids must be unique).
 * @param context - from {@link createSketchContext} (its version decides the sketch's), or the 32-byte
 *   epoch key and epoch id (and optionally the version; SKETCH_VERSION by default).
 * @throws FingerprintError `INVALID_ARGUMENT` on a bad key, epoch id, or input beyond SKETCH_LIMITS.
 */
export function buildSketch(
  inputs: readonly SketchProbeInput[],
  context:
    | SketchContext
    | { readonly epochKey: Uint8Array; readonly epochId: string; readonly version?: SketchVersion },
): Sketch {
  const ctx =
    "digest" in context
      ? context
      : createSketchContext(context.epochKey, context.epochId, context.version ?? SKETCH_VERSION);
  checkInputs(inputs);
  const { seeds } = ctx;
  const sorted = inputs
    .map((p) => ({ p, ...probeIdEntry(ctx, p.probeId) }))
    .sort((x, y) => compareBytes(x.id, y.id));
  const cache: TokenHashCache = new Map();

  // One shingle buffer reused across probes; the (probe, shingle) pairs of the coarse signature
  // accumulate in `scoped`; every non-empty probe's PROBE_ROWS row values go to `rows` in order.
  // Scratch reused across calls (buildSketch is synchronous, so never shared by two builds): a sketch's
  // ~1-2 MB of typed arrays otherwise went to the garbage collector on every call.
  const sh = scratchShingles;
  const scoped = scratchScoped;
  scoped.length = 0;
  if (scratchRows.length < sorted.length * PROBE_ROWS)
    scratchRows = new Uint32Array(sorted.length * PROBE_ROWS);
  const rows = scratchRows;
  // Per probe: EMPTY (no tokens), ROWS (its rows are published), or WITHHELD (version 2's edge probes:
  // in the coarse signature only, so an insider cannot test guesses of a short answer against them).
  const filled: number[] = [];
  let nonEmpty = 0;
  let listed = 0;
  for (const { p, id } of sorted) {
    textShingleHashes(p.text, SHINGLE_SIZE, seeds.token0, seeds.token1, cache, sh);
    dedupeShingles(sh); // every signature is a minimum: repeats add nothing
    const withheld = ctx.version !== 1 && p.kind === "edge";
    filled.push(withheld ? WITHHELD : sh.length > 0 ? ROWS : EMPTY);
    if (!withheld) listed++;
    if (sh.length === 0) continue;
    scopeShinglesInto(sh.a, sh.b, sh.length, id, seeds.coarse0, seeds.coarse1, scoped);
    if (withheld) continue;
    minhashRowsInto(sh.a, sh.b, sh.length, seeds.probeRows, rowsView(rows, nonEmpty));
    nonEmpty++;
  }
  if (listed === 0) {
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "a version-2 sketch needs at least one probe that is not an edge case (edge probes are not listed)",
    );
  }
  // Coarse signature over (probe, shingle) pairs of every probe — in version 2 present only when some
  // listed probe has tokens (a sketch's coarse signature is present iff one of its probes has bands).
  const coarseRows = oneShotMinhash(
    scoped.a,
    scoped.b,
    nonEmpty === 0 ? 0 : scoped.length,
    COARSE_BANDS * COARSE_ROWS_PER_BAND,
    seeds.coarse0,
    seeds.coarse1,
  );

  // Published digests: every non-empty probe's bands, then the coarse bands.
  const probeBytes = PROBE_BANDS * PROBE_DIGEST_BYTES;
  const allBands = new Uint8Array(nonEmpty * probeBytes);
  let coarse: Uint8Array = new Uint8Array(coarseRows === null ? 0 : COARSE_BANDS * COARSE_DIGEST_BYTES);
  if (ctx.version === 1) {
    let k = 0;
    sorted.forEach(({ id }, i) => {
      if (filled[i] === ROWS) digestProbeV1(ctx, id, rows, k++, allBands);
    });
    if (coarseRows !== null) digestCoarseV1(ctx, coarseRows, coarse);
  } else {
    coarse = digestAllV2(ctx, sorted, filled, rows, nonEmpty, coarseRows, allBands, coarse);
  }
  const probes: ProbeSketch[] = [];
  let k = 0;
  sorted.forEach(({ p }, i) => {
    if (filled[i] === WITHHELD) return;
    if (filled[i] === EMPTY) probes.push({ probeId: p.probeId, empty: true, bands: new Uint8Array(0) });
    else {
      probes.push({
        probeId: p.probeId,
        empty: false,
        bands: allBands.subarray(k * probeBytes, (k + 1) * probeBytes),
      });
      k++;
    }
  });

  // Token-distribution profile (simhash.ts): only from served top-logprobs; absent otherwise.
  const features: SimHashFeature[] = [];
  for (const { p } of sorted) {
    const positions = p.topLogprobs ?? [];
    for (let pos = 0; pos < Math.min(positions.length, SIMHASH_POSITIONS); pos++) {
      for (const alt of positions[pos] ?? []) {
        const weight =
          alt.logprob === Number.NEGATIVE_INFINITY ? 0 : Math.round(Math.exp(alt.logprob) * 65536);
        features.push({ key: `${p.probeId}\u0000${pos}\u0000${alt.token}`, weight });
      }
    }
  }
  const simhash = simhash64(features, seeds.simhash0, seeds.simhash1);

  // Shared wrong answers on edge-case probes: version 1 only (version 2 publishes none, docs/privacy.md).
  const wrong = new Map<string, Uint8Array>();
  for (const { p, id } of ctx.version === 1 ? sorted : []) {
    if (p.kind !== "edge" || p.reference === undefined) continue;
    const answer = normalizeAnswer(p.text);
    if (answer === "" || answer === normalizeAnswer(p.reference)) continue;
    const a = utf8(answer);
    const msg = new Uint8Array(3 + id.length + a.length);
    msg[0] = 1;
    msg[1] = TAG_WRONG;
    msg[2] = id.length;
    msg.set(id, 3);
    msg.set(a, 3 + id.length);
    const d = ctx.digest(msg, WRONG_ANSWER_DIGEST_BYTES);
    wrong.set(Array.from(d).join(","), d);
  }
  const wrongAnswers = [...wrong.values()].sort(compareBytes);

  return { version: ctx.version, epochId: ctx.epochId, coarse, simhash, probes, wrongAnswers };
}

/** Version 1: the k-th non-empty probe's band digests (truncated HMACs) into out[k * PROBE_BANDS * w ..]. */
function digestProbeV1(
  ctx: SketchContext,
  id: Uint8Array,
  rows: Uint32Array,
  k: number,
  out: Uint8Array,
): void {
  const msg = probeBandMessage(id);
  const o = 3 + id.length;
  for (let band = 0; band < PROBE_BANDS; band++) {
    // u16 band, then PROBE_ROWS_PER_BAND u32 rows, all big-endian.
    msg[o] = band >>> 8;
    msg[o + 1] = band & 0xff;
    for (let i = 0; i < PROBE_ROWS_PER_BAND; i++) {
      const v = rows[k * PROBE_ROWS + band * PROBE_ROWS_PER_BAND + i] ?? 0;
      const q = o + 2 + 4 * i;
      msg[q] = v >>> 24;
      msg[q + 1] = (v >>> 16) & 0xff;
      msg[q + 2] = (v >>> 8) & 0xff;
      msg[q + 3] = v & 0xff;
    }
    ctx.digestInto(msg, PROBE_DIGEST_BYTES, out, (k * PROBE_BANDS + band) * PROBE_DIGEST_BYTES);
  }
}

/** Version 1: the coarse band digests (truncated HMACs). */
function digestCoarseV1(ctx: SketchContext, coarseRows: Uint32Array, out: Uint8Array): void {
  const msg = new Uint8Array(2 + 2 + 4 * COARSE_ROWS_PER_BAND);
  const dv = new DataView(msg.buffer);
  msg[0] = 1;
  msg[1] = TAG_COARSE;
  for (let band = 0; band < COARSE_BANDS; band++) {
    dv.setUint16(2, band);
    for (let i = 0; i < COARSE_ROWS_PER_BAND; i++) {
      dv.setUint32(4 + 4 * i, coarseRows[band * COARSE_ROWS_PER_BAND + i] ?? 0);
    }
    ctx.digestInto(msg, COARSE_DIGEST_BYTES, out, band * COARSE_DIGEST_BYTES);
  }
}

/**
 * Version 2: every digest of the sketch from one AES call (block-digest.ts). Blocks, 16 bytes each:
 *   probe band  = u8 2 | "P" | u16 band | u32 row | probeTag (8 bytes)      -> first PROBE_DIGEST_BYTES
 *   coarse band = u8 2 | "C" | u16 band | u32 row | 8 zero bytes            -> first COARSE_DIGEST_BYTES
 * (integers big-endian; PROBE_ROWS_PER_BAND = COARSE_ROWS_PER_BAND = 1, so one row per band.)
 */
function digestAllV2(
  ctx: SketchContext,
  sorted: readonly { readonly tag: Uint8Array }[],
  filled: readonly number[],
  rows: Uint32Array,
  nonEmpty: number,
  coarseRows: Uint32Array | null,
  bandsOut: Uint8Array,
  coarseOut: Uint8Array,
): Uint8Array {
  const blocks = ctx.blocks;
  if (blocks === null) throw new FingerprintError("INVALID_ARGUMENT", "a version-2 context has no block key");
  const probeBlocks = nonEmpty * PROBE_BANDS;
  const total = probeBlocks + (coarseRows === null ? 0 : COARSE_BANDS);
  if (scratchBlocks.length < total * BLOCK_BYTES) scratchBlocks = new Uint8Array(total * BLOCK_BYTES);
  // Every byte of the first `total` blocks is written below (tag, band, row, probe tag or zeros).
  const buf = scratchBlocks.subarray(0, total * BLOCK_BYTES);
  let b = 0;
  sorted.forEach(({ tag }, i) => {
    if (filled[i] !== ROWS) return;
    const base = b;
    for (let band = 0; band < PROBE_BANDS; band++) {
      const o = b * BLOCK_BYTES;
      const v = rows[b] as number; // rows of the k-th non-empty probe sit at k * PROBE_ROWS: b's index
      buf[o] = 2;
      buf[o + 1] = TAG_PROBE;
      buf[o + 2] = band >>> 8;
      buf[o + 3] = band & 0xff;
      buf[o + 4] = v >>> 24;
      buf[o + 5] = (v >>> 16) & 0xff;
      buf[o + 6] = (v >>> 8) & 0xff;
      buf[o + 7] = v & 0xff;
      buf.set(tag, o + 8);
      b++;
    }
    if (b - base !== PROBE_ROWS) throw new RangeError("version 2 needs one row per band");
  });
  if (coarseRows !== null) {
    for (let band = 0; band < COARSE_BANDS; band++) {
      const o = b * BLOCK_BYTES;
      const v = coarseRows[band] as number;
      buf[o] = 2;
      buf[o + 1] = TAG_COARSE;
      buf[o + 2] = band >>> 8;
      buf[o + 3] = band & 0xff;
      buf[o + 4] = v >>> 24;
      buf[o + 5] = (v >>> 16) & 0xff;
      buf[o + 6] = (v >>> 8) & 0xff;
      buf[o + 7] = v & 0xff;
      buf.fill(0, o + 8, o + BLOCK_BYTES);
      b++;
    }
  }
  const c = blocks.encrypt(buf);
  for (let i = 0; i < probeBlocks; i++) {
    const s = i * BLOCK_BYTES;
    const o = i * PROBE_DIGEST_BYTES;
    for (let k = 0; k < PROBE_DIGEST_BYTES; k++) bandsOut[o + k] = c[s + k] as number;
  }
  for (let i = 0; i < coarseOut.length / COARSE_DIGEST_BYTES; i++) {
    const s = (probeBlocks + i) * BLOCK_BYTES;
    const o = i * COARSE_DIGEST_BYTES;
    for (let k = 0; k < COARSE_DIGEST_BYTES; k++) coarseOut[o + k] = c[s + k] as number;
  }
  return coarseOut;
}

/**
 * Turns the engine's fingerprint (probe-types.ts) and its battery into sketch input: the battery gives
 * each probe's kind and reference, the fingerprint its response and served top-logprobs. Probes of the
 * battery the fingerprint lacks are left out (a sketch compares only probes both sides answered).
 */
export function sketchInputsFromFingerprint(battery: Battery, fingerprint: Fingerprint): SketchProbeInput[] {
  if (battery.epoch !== fingerprint.epoch) {
    throw new FingerprintError("INVALID_ARGUMENT", "fingerprint and battery belong to different epochs");
  }
  const out: SketchProbeInput[] = [];
  for (const probe of battery.probes) {
    const r = Object.hasOwn(fingerprint.responses, probe.id) ? fingerprint.responses[probe.id] : undefined;
    if (r === undefined) continue;
    const served = r.tokens?.some((t) => t.top.length > 0) === true;
    out.push({
      probeId: probe.id,
      kind: probe.kind,
      text: r.text,
      ...(probe.reference !== undefined ? { reference: probe.reference } : {}),
      ...(served && r.tokens ? { topLogprobs: r.tokens.map((t) => t.top) } : {}),
    });
  }
  return out;
}
