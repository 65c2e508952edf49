/**
 * The direct Sketch decoder (sketch-wire.ts) against the reference path, protobuf-es fromBinary then
 * sketchFromProto: the same domain sketch for valid payloads (probes in any order, unknown fields, a split
 * member_model); on corrupted payloads (truncations, bit flips) it refuses only with `malformed`, and
 * whenever both accept one they give the same sketch; digests written unlike the usual one-byte tag and length
 * (the decoder's fast path) decode the same too. withoutField gives the bytes a header signs, onlyField the
 * envelope as received, envelopePayload a stored envelope's sketch.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DsseEnvelopeSchema, SketchAnnouncementSchema, SketchSchema } from "@lineage/api";
import { isHubError } from "./hub-error.js";
import { sketchFromProto, sketchToProto } from "./sketch-proto.js";
import { decodeMemberSketch, envelopePayload, onlyField, withoutField } from "./sketch-wire.js";

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function sketch(seed: number, probes: number, withCoarse = true) {
  const r = rng(seed);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => r() & 0xff);
  const ids = Array.from({ length: probes }, (_, i) => String(i * 3)).sort();
  return {
    version: 1 as const,
    epochId: "2026-12",
    coarse: withCoarse ? bytes(512 * 8) : new Uint8Array(0),
    simhash: seed % 2 === 0 ? BigInt(r()) * 4096n : null,
    probes: ids.map((probeId, i) => ({
      probeId,
      empty: !withCoarse || i === 1,
      bands: !withCoarse || i === 1 ? new Uint8Array(0) : bytes(32 * 4),
    })),
    wrongAnswers: [bytes(8), bytes(8)].sort(Buffer.compare),
  };
}

function reference(payload: Uint8Array, probeCount: number) {
  try {
    return { ok: sketchFromProto(fromBinary(SketchSchema, payload), probeCount) };
  } catch (err) {
    return { err };
  }
}

function direct(payload: Uint8Array, probeCount: number) {
  try {
    return { ok: decodeMemberSketch(payload, probeCount) };
  } catch (err) {
    return { err };
  }
}

const model = { memberId: "acme", modelId: "m.1/a", modelVersion: "2" };

test("the direct decoder gives the reference result on valid sketches", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const s = sketch(seed, 2 + (seed % 7), seed !== 5);
    const proto = sketchToProto(s, model, 1_765_000_000_123);
    proto.probes.reverse(); // any order on the wire
    const payload = toBinary(SketchSchema, proto);
    const a = reference(payload, 100);
    const b = direct(payload, 100);
    assert.ok(a.ok, String(a.err));
    assert.deepEqual(b.ok, a.ok);
  }
});

test("an unknown field (or a known one with another wire type) is refused, naming it; a member_model split in two merges, as protobuf does", () => {
  const payload = toBinary(SketchSchema, sketchToProto(sketch(3, 3), model, 1_765_000_000_000));
  const join = (extra: number[]) => {
    const joined = new Uint8Array(payload.length + extra.length);
    joined.set(payload);
    joined.set(extra, payload.length);
    return joined;
  };
  // A second member_model carrying only model_version "9" merges into the first.
  const merged = join([0x1a, 0x03, 0x1a, 0x01, 0x39]);
  const a = reference(merged, 100);
  assert.ok(a.ok);
  assert.equal(a.ok.model.modelVersion, "9");
  assert.deepEqual(direct(merged, 100).ok, a.ok);
  // Field 99 (varint 7): protobuf-es keeps it as unknown; the hub refuses a signed sketch padded with it.
  assert.ok(reference(join([0x98, 0x06, 0x07]), 100).ok, "protobuf-es skips it");
  const padded = direct(join([0x98, 0x06, 0x07]), 100).err;
  assert.ok(isHubError(padded, "malformed"), String(padded));
  assert.match((padded as Error).message, /field 99 with wire type 0/);
  // version (field 1) sent length-delimited.
  const wrongWire = direct(join([0x0a, 0x01, 0x01]), 100).err;
  assert.ok(isHubError(wrongWire, "malformed"), String(wrongWire));
  assert.match((wrongWire as Error).message, /field 1 with wire type 2/);
  // An unknown field inside a nested message (member_model field 7).
  const nested = direct(join([0x1a, 0x02, 0x38, 0x01]), 100).err;
  assert.ok(isHubError(nested, "malformed"), String(nested));
  assert.match((nested as Error).message, /MemberModelRef has field 7/);
});

test("corrupted payloads: refused as malformed, or decoded as the reference decodes them", () => {
  const payload = toBinary(SketchSchema, sketchToProto(sketch(8, 4), model, 1_765_000_000_000));
  const r = rng(99);
  let refused = 0;
  for (let i = 0; i < 400; i++) {
    const bad = payload.slice(0, i % 3 === 0 ? r() % payload.length : payload.length);
    if (i % 3 !== 0) {
      const at = r() % bad.length;
      bad[at] = (bad[at] as number) ^ (1 << (r() % 8));
    }
    const a = reference(bad, 100);
    const b = direct(bad, 100);
    if (b.err !== undefined) {
      assert.ok(isHubError(b.err, "malformed"), String(b.err));
      refused++;
    } else if (a.ok !== undefined) {
      assert.deepEqual(b.ok, a.ok, `case ${i}`);
    }
  }
  assert.ok(refused > 100);
  assert.ok(isHubError(direct(payload, 3).err, "malformed"), "probe indexes beyond the battery");
});

test("withoutField gives the encoding without the header, as the member signed it", () => {
  const env = create(DsseEnvelopeSchema, { payloadType: "t", payload: new Uint8Array([1, 2, 3]) });
  const bare = toBinary(SketchAnnouncementSchema, create(SketchAnnouncementSchema, { sketch: env }));
  const full = toBinary(
    SketchAnnouncementSchema,
    create(SketchAnnouncementSchema, {
      sketch: env,
      header: { memberId: "acme", sequence: 5n, nonce: new Uint8Array(16) },
    }),
  );
  assert.deepEqual(withoutField(full, 1), bare);
  assert.deepEqual(withoutField(bare, 1), bare);
  assert.throws(
    () => withoutField(full.subarray(0, full.length - 1), 1),
    (e) => isHubError(e, "malformed"),
  );
});

test("version 2 (what members build) decodes the same on both paths; wrong answers in it, or another version, are refused by both", () => {
  const v2 = { ...sketch(7, 5), version: 2 as const, wrongAnswers: [] };
  const payload = toBinary(SketchSchema, sketchToProto(v2, model, 1_765_000_000_000));
  const a = reference(payload, 100);
  assert.ok(a.ok, String(a.err));
  assert.equal(a.ok.sketch.version, 2);
  assert.deepEqual(direct(payload, 100).ok, a.ok);
  // A version-2 message carrying wrong answers (a member padding it with them), and version 3.
  const withWrong = sketchToProto(sketch(7, 5), model, 1_765_000_000_000);
  withWrong.version = 2;
  const v3 = sketchToProto(v2, model, 1_765_000_000_000);
  v3.version = 3;
  for (const [p, what] of [
    [withWrong, /version 2 carries no wrong_answers/],
    [v3, /version must be one of 1, 2/],
  ] as const) {
    const bytes = toBinary(SketchSchema, p);
    for (const r of [reference(bytes, 100), direct(bytes, 100)]) {
      assert.ok(isHubError(r.err) && r.err.code === "malformed", String(r.err));
      assert.match((r.err as Error).message, what);
    }
  }
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/**
 * `payload` with every `every`-th digest of top-level field `field` (digests: inner field `digestField`,
 * `width` bytes) written with an overlong two-byte length: valid protobuf the fast path does not take.
 */
function overlongDigests(
  payload: Uint8Array,
  field: number,
  digestField: number,
  width: number,
  every: number,
) {
  const out: number[] = [];
  let p = 0;
  let k = 0;
  const readVarint = (buf: Uint8Array, at: number) => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[at++] as number;
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return [v, at] as const;
      mul *= 128;
    }
  };
  while (p < payload.length) {
    const [tag, afterTag] = readVarint(payload, p);
    if ((tag & 7) === 0) {
      const [, end] = readVarint(payload, afterTag);
      out.push(...payload.subarray(p, end));
      p = end;
      continue;
    }
    const [len, start] = readVarint(payload, afterTag);
    const inner = payload.subarray(start, start + len);
    p = start + len;
    if (Math.floor(tag / 8) !== field) {
      out.push(...varint(tag), ...varint(len), ...inner);
      continue;
    }
    const rewritten: number[] = [];
    for (let q = 0; q < inner.length; ) {
      const t = inner[q] as number;
      if (t === digestField * 8 + 2 && inner[q + 1] === width) {
        rewritten.push(t, ...(k++ % every === 0 ? [width | 0x80, 0x00] : [width]));
        rewritten.push(...inner.subarray(q + 2, q + 2 + width));
        q += 2 + width;
      } else {
        const [, end] = readVarint(inner, q + 1); // probe_index (varint)
        rewritten.push(...inner.subarray(q, end));
        q = end;
      }
    }
    out.push(...varint(tag), ...varint(rewritten.length), ...rewritten);
  }
  return Uint8Array.from(out);
}

test("digests written with an overlong length (not the fast path) decode as the reference decodes them", () => {
  for (const every of [1, 3]) {
    const payload = toBinary(SketchSchema, sketchToProto(sketch(11, 4), model, 1_765_000_000_000));
    const coarse = overlongDigests(payload, 6, 1, 8, every);
    const both = overlongDigests(coarse, 7, 2, 4, every);
    assert.ok(both.length > payload.length);
    const a = reference(both, 100);
    assert.ok(a.ok, String(a.err));
    assert.deepEqual(a.ok, reference(payload, 100).ok);
    assert.deepEqual(direct(both, 100).ok, a.ok);
  }
});

test("onlyField gives a field's bytes as received, only when it occurs once; envelopePayload reads a stored envelope", () => {
  const env = create(DsseEnvelopeSchema, {
    payloadType: "t",
    payload: new Uint8Array([1, 2, 3]),
    signatures: [{ keyid: "k", sig: new Uint8Array(64) }],
  });
  const full = toBinary(
    SketchAnnouncementSchema,
    create(SketchAnnouncementSchema, {
      sketch: env,
      header: { memberId: "acme", sequence: 5n, nonce: new Uint8Array(16) },
    }),
  );
  const encoded = toBinary(DsseEnvelopeSchema, env);
  assert.deepEqual(onlyField(full, 2), encoded);
  assert.deepEqual(envelopePayload(encoded), new Uint8Array([1, 2, 3]));
  // Twice (protobuf merges the two), as a varint, or absent: no bytes to take as they are.
  const twice = new Uint8Array([...full, 0x12, 0x03, 0x0a, 0x01, 0x75]);
  assert.equal(fromBinary(SketchAnnouncementSchema, twice).sketch?.payloadType, "u");
  assert.equal(onlyField(twice, 2), undefined);
  assert.equal(onlyField(new Uint8Array([0x10, 0x01]), 2), undefined);
  assert.equal(onlyField(withoutField(full, 2), 2), undefined);
  // The last payload written wins, as in protobuf; an envelope without one is malformed.
  assert.deepEqual(envelopePayload(new Uint8Array([...encoded, 0x12, 0x01, 0x09])), new Uint8Array([9]));
  assert.throws(
    () => envelopePayload(new Uint8Array([0x0a, 0x00])),
    (e) => isHubError(e, "malformed"),
  );
});
