/**
 * The canonical bytes of a member model's reference fingerprint, whose salted hash the member logs before any
 * session compares a suspect with it (ReferenceFingerprintCommitment; @lineage/crypto
 * referenceFingerprintDigest):
 *
 *   canonical = for each probe, in ascending order of its id's UTF-8 bytes:
 *                 u32be(len(probe_id)) || probe_id || u32be(len(text)) || text          (UTF-8, len in bytes)
 *
 * Sorting by UTF-8 bytes (= code point order) rather than JavaScript's UTF-16 order keeps the encoding the
 * same in any language (scripts/vectors/lineage_vectors.py computes the test vector independently).
 */
import { referenceFingerprintDigest } from "@lineage/crypto";
import { MemberNodeError } from "./member-node-error.js";

/** One response of the reference model to one battery probe. */
export interface FingerprintResponse {
  readonly probeId: string;
  readonly text: string;
}

const encoder = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** The canonical bytes (see the module header). Probe ids must be unique, non-empty, well-formed. */
export function referenceFingerprintBytes(responses: readonly FingerprintResponse[]): Uint8Array {
  if (!Array.isArray(responses) || responses.length === 0)
    throw new MemberNodeError("invalid_argument", "a fingerprint needs at least one response");
  const rows = responses.map((r, i) => {
    if (typeof r.probeId !== "string" || r.probeId.length === 0 || typeof r.text !== "string")
      throw new MemberNodeError("invalid_argument", `responses[${i}] needs a probe id and a text`);
    if (/\p{Cs}/u.test(r.probeId) || /\p{Cs}/u.test(r.text))
      throw new MemberNodeError("invalid_argument", `responses[${i}] is not well-formed Unicode`);
    return { id: encoder.encode(r.probeId), text: encoder.encode(r.text) };
  });
  rows.sort((a, b) => compareBytes(a.id, b.id));
  let len = 0;
  for (const [i, r] of rows.entries()) {
    if (i > 0 && compareBytes((rows[i - 1] as typeof r).id, r.id) === 0)
      throw new MemberNodeError("invalid_argument", "two responses share a probe id");
    len += 8 + r.id.length + r.text.length;
  }
  const out = new Uint8Array(len);
  const view = new DataView(out.buffer);
  let o = 0;
  for (const r of rows) {
    view.setUint32(o, r.id.length);
    out.set(r.id, o + 4);
    o += 4 + r.id.length;
    view.setUint32(o, r.text.length);
    out.set(r.text, o + 4);
    o += 4 + r.text.length;
  }
  return out;
}

/** The hash a member logs: referenceFingerprintDigest(salt, canonical bytes). */
export function referenceFingerprintHash(
  salt: Uint8Array,
  responses: readonly FingerprintResponse[],
): Uint8Array {
  return referenceFingerprintDigest(salt, referenceFingerprintBytes(responses));
}
