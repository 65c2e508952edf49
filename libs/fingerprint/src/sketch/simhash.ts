/**
 * 64-bit SimHash (Charikar, "Similarity estimation techniques from rounding algorithms", STOC 2002) of a
 * model's token-distribution profile, sketch version 1.
 *
 * Features: for each probe that served top-logprobs and each of its first SIMHASH_POSITIONS positions,
 * every alternative (token, logprob) is the feature (probeId, position, token) with integer weight
 * round(exp(logprob) * 65536). Two models that put similar probability on the same next tokens after the
 * same prompt share heavy features, so their SimHashes agree on more bits; unrelated profiles agree on
 * ~32 of 64 bits. Weights are integers so the sums are exact in every JS engine (Math.exp may differ by
 * an ulp across engines; a rounding boundary is hit with probability ~1e-11 per feature).
 * Feature hash: (murmur3_32(f, simhash0), murmur3_32(f, simhash1)) over utf8(probeId "\0" position "\0"
 * token), the key entering through the seeds (sketch-keys.ts). Bit i of the result (i = 0 is the most
 * significant) is 1 when the weighted sum of +/-1 over the features' hash bit i is > 0.
 */
import { murmur3x86_32, utf8 } from "./sketch-keys.js";

/** One weighted SimHash feature. */
export interface SimHashFeature {
  readonly key: string;
  /** Non-negative integer weight. */
  readonly weight: number;
}

/** SimHash of weighted features under two seeds; null when there is no feature of positive weight. */
export function simhash64(features: Iterable<SimHashFeature>, seed0: number, seed1: number): bigint | null {
  const acc = new Float64Array(64);
  let any = false;
  for (const f of features) {
    if (!(f.weight > 0)) continue;
    any = true;
    const bytes = utf8(f.key);
    const hi = murmur3x86_32(bytes, seed0);
    const lo = murmur3x86_32(bytes, seed1);
    for (let i = 0; i < 32; i++) {
      acc[i] = (acc[i] ?? 0) + ((hi >>> (31 - i)) & 1 ? f.weight : -f.weight);
      acc[32 + i] = (acc[32 + i] ?? 0) + ((lo >>> (31 - i)) & 1 ? f.weight : -f.weight);
    }
  }
  if (!any) return null;
  let out = 0n;
  for (let i = 0; i < 64; i++) out = (out << 1n) | ((acc[i] ?? 0) > 0 ? 1n : 0n);
  return out;
}

/** Number of differing bits of two 64-bit values. */
export function hamming64(x: bigint, y: bigint): number {
  let v = (x ^ y) & 0xffff_ffff_ffff_ffffn;
  let n = 0;
  while (v !== 0n) {
    v &= v - 1n;
    n++;
  }
  return n;
}
