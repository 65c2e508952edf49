/**
 * The witnessed disclosure seed, "lineage/disclosure/v2" (docs/specs/disclosure.md, issue 8). The v1 seed is
 * the root of the first checkpoint covering the attestation, which the hub can grind (it chooses what goes in
 * the tree before it signs). v2 also mixes in the witnesses' cosignatures of that checkpoint: Ed25519 signatures
 * the hub cannot compute, made only after the checkpoint (and so the attestation) was fixed, and — because a
 * Lineage witness answers the same line for the same checkpoint and refuses any other root at that size — one
 * per witness and checkpoint:
 *
 *   digest = SHA-256( "lineage/seed-cosignatures/v1" || 0x00 || u32be(count) ||
 *                     for each cosignature, sorted by (key name as UTF-8 bytes, key id as u32):
 *                       u32be(len(name)) || name || key id (4 bytes, big-endian) || u32be(len(sig)) || sig )
 *   seed   = deriveSeed(checkpoint root, commitment root,
 *                       "lineage/disclosure/v2\n<origin>\n<attestation index>\n<hex(digest)>")
 *   sample = sampleIndices(seed, pairs_committed, min(pairs_committed, 32))
 *
 * Vectors: witnessed-seed.test.ts, printed by scripts/vectors/lineage_vectors.py (witnessed.*).
 */
import { checkBytes, checkInteger, checkString, concatBytes, sha256, toHex, u32be, utf8 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { type DisclosureSampleInput, disclosurePairCount } from "./protocol-seed.js";
import { deriveSeed, sampleIndices } from "./seeded-sample.js";
import type { NoteSignature } from "./signed-note.js";

/** First line of the witnessed disclosure seed's context. */
export const WITNESSED_DISCLOSURE_CONTEXT = "lineage/disclosure/v2";
/** Domain of the cosignature digest. */
export const COSIGNATURE_DIGEST_DOMAIN = "lineage/seed-cosignatures/v1";
/** Most cosignatures a seed mixes in. */
export const MAX_SEED_COSIGNATURES = 32;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** The digest of a checkpoint's counted cosignatures (module header); 1..32 distinct (name, key id). */
export function cosignatureDigest(cosignatures: readonly NoteSignature[]): Uint8Array {
  if (
    !Array.isArray(cosignatures) ||
    cosignatures.length === 0 ||
    cosignatures.length > MAX_SEED_COSIGNATURES
  )
    throw new CryptoError("invalid_argument", `cosignatures must be 1..${MAX_SEED_COSIGNATURES}`);
  const rows = cosignatures.map((c, i) => {
    const name = utf8(checkString(`cosignatures[${i}].name`, c.name));
    const keyId = checkInteger(`cosignatures[${i}].keyId`, c.keyId, 0, 0xffffffff);
    checkBytes(`cosignatures[${i}].signature`, c.signature, 72);
    return { name, keyId, signature: c.signature };
  });
  rows.sort((x, y) => compareBytes(x.name, y.name) || x.keyId - y.keyId);
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [rows[i - 1], rows[i]] as [(typeof rows)[number], (typeof rows)[number]];
    if (a.keyId === b.keyId && compareBytes(a.name, b.name) === 0)
      throw new CryptoError("invalid_argument", "a witness's cosignature is counted twice");
  }
  const parts = rows.flatMap((r) => [
    u32be(r.name.length),
    r.name,
    u32be(r.keyId),
    u32be(r.signature.length),
    r.signature,
  ]);
  return sha256(utf8(`${COSIGNATURE_DIGEST_DOMAIN}\0`), u32be(rows.length), concatBytes(...parts));
}

/** Inputs of {@link witnessedDisclosurePairIndices}. */
export interface WitnessedSampleInput extends DisclosureSampleInput {
  /** The counted witness cosignatures (cosignature/v1, verified by the caller) of the seed checkpoint. */
  readonly cosignatures: readonly NoteSignature[];
}

/** The 32-byte witnessed disclosure seed (module header). */
export function witnessedDisclosureSeed(input: Omit<WitnessedSampleInput, "pairsCommitted">): Uint8Array {
  checkBytes("checkpointRoot", input.checkpointRoot, 32);
  checkBytes("commitmentRoot", input.commitmentRoot, 32);
  const origin = checkString("origin", input.origin);
  if (origin.length === 0 || origin.length > 256 || origin.includes("\n"))
    throw new CryptoError("invalid_argument", "origin must be 1..256 characters without a newline");
  const index = checkInteger("attestationIndex", input.attestationIndex, 0);
  const digest = cosignatureDigest(input.cosignatures);
  return deriveSeed(
    input.checkpointRoot,
    input.commitmentRoot,
    `${WITNESSED_DISCLOSURE_CONTEXT}\n${origin}\n${index}\n${toHex(digest)}`,
  );
}

/** The pair indices a witnessed (v2) disclosure must show, in sample order. */
export function witnessedDisclosurePairIndices(input: WitnessedSampleInput): number[] {
  const k = disclosurePairCount(input.pairsCommitted);
  return sampleIndices(witnessedDisclosureSeed(input), input.pairsCommitted, k);
}
