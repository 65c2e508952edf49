/**
 * Similarity of two models estimated from their sketches alone (sketch versions 1 and 2, sketch-types.ts;
 * two sketches compare only under the same epoch and version).
 * Every component is symmetric and in [0, 1]; identical fingerprints give 1 on each. The combined
 * `score` ranks candidates for the hub; it is not a test statistic — deciding "copied" is the member's
 * job, with the p-valued signals against a panel (DESIGN.md "Deciding copied").
 */
import { FingerprintError } from "../fingerprint-error.js";
import { hamming64 } from "./simhash.js";
import {
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  COARSE_ROWS_PER_BAND,
  PROBE_BANDS,
  PROBE_DIGEST_BYTES,
  PROBE_ROWS_PER_BAND,
  type Sketch,
} from "./sketch-types.js";

/** What two sketches say about the similarity of their models. */
export interface SketchSimilarity {
  /** Probes present in both sketches (only these are compared). */
  readonly sharedProbes: number;
  /** Equal per-probe band digests, summed over shared non-empty probes. */
  readonly probeAgreeingBands: number;
  /** Per-probe band digests compared. */
  readonly probeComparedBands: number;
  /** Mean over shared probes of the estimated per-probe Jaccard of 2-shingle sets (1 when both empty,
   * 0 when one is). */
  readonly probeJaccard: number;
  /** Shared non-empty probes on which at least half of the bands agree (per-probe Jaccard >~ 0.5: the
   * answer is close to a copy). */
  readonly nearCopyProbes: number;
  /** nearCopyProbes / shared non-empty probes (0 when none). */
  readonly nearCopyFraction: number;
  /** Equal coarse band digests (0..COARSE_BANDS). */
  readonly coarseAgreeingBands: number;
  /** Estimated Jaccard of the whole-model (probe, shingle) sets. */
  readonly coarseJaccard: number;
  /** 1 - Hamming/64 of the SimHashes; null unless both sketches carry one. ~0.5 for unrelated profiles. */
  readonly simhashSimilarity: number | null;
  /** Wrong answers (probe, normalised answer) both models gave. */
  readonly sharedWrongAnswers: number;
  /** sharedWrongAnswers / min(wrong answers of each); null when neither gave a wrong answer. */
  readonly wrongAnswerOverlap: number | null;
  /** Mean of probeJaccard, coarseJaccard, nearCopyFraction, max(0, 2 simhashSimilarity - 1) and
   * wrongAnswerOverlap, over the components present. nearCopyFraction recovers part of the ranking power
   * version 2 lost with its wrong answers (bench:lsh testbed: true teacher ranked first 0.28 -> 0.34). */
  readonly score: number;
}

/** Jaccard estimate from the fraction of agreeing bands of r rows: P(agree) = J^r, so J = f^(1/r). */
export function jaccardFromBandAgreement(agreeing: number, bands: number, rowsPerBand: number): number {
  if (!(bands > 0) || agreeing < 0 || agreeing > bands || !(rowsPerBand >= 1)) {
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "need 0 <= agreeing <= bands, bands > 0, rowsPerBand >= 1",
    );
  }
  return (agreeing / bands) ** (1 / rowsPerBand);
}

function equalAt(x: Uint8Array, y: Uint8Array, offset: number, width: number): boolean {
  for (let i = 0; i < width; i++) if (x[offset + i] !== y[offset + i]) return false;
  return true;
}

/** Number of equal `width`-byte digests at the same index of two digest arrays of equal length. */
export function agreeingDigests(x: Uint8Array, y: Uint8Array, width: number): number {
  let n = 0;
  for (let o = 0; o + width <= x.length && o + width <= y.length; o += width)
    if (equalAt(x, y, o, width)) n++;
  return n;
}

function countShared(x: readonly Uint8Array[], y: readonly Uint8Array[]): number {
  // Both are sorted ascending (canonical sketches): merge.
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < x.length && j < y.length) {
    const a = x[i] as Uint8Array;
    const b = y[j] as Uint8Array;
    let d = 0;
    for (let k = 0; k < a.length && d === 0; k++) d = (a[k] ?? 0) - (b[k] ?? 0);
    if (d === 0) {
      n++;
      i++;
      j++;
    } else if (d < 0) i++;
    else j++;
  }
  return n;
}

/**
 * Estimates the similarity of two models from their sketches.
 * @throws FingerprintError `INVALID_ARGUMENT` when the sketches belong to different epochs (their
 *   digests are keyed differently and cannot be compared) or of different versions.
 */
export function compareSketches(x: Sketch, y: Sketch): SketchSimilarity {
  if (x.epochId !== y.epochId) {
    throw new FingerprintError("INVALID_ARGUMENT", "sketches of different epochs cannot be compared");
  }
  if (x.version !== y.version) {
    // Keyed differently (sketch-keys.ts): equal digests across versions mean nothing.
    throw new FingerprintError("INVALID_ARGUMENT", "sketches of different versions cannot be compared");
  }
  const byId = new Map(y.probes.map((p) => [p.probeId, p]));
  let shared = 0;
  let agreeing = 0;
  let compared = 0;
  let jSum = 0;
  let near = 0;
  let bothFilled = 0;
  for (const p of x.probes) {
    const q = byId.get(p.probeId);
    if (q === undefined) continue;
    shared++;
    if (p.empty || q.empty) {
      jSum += p.empty && q.empty ? 1 : 0;
      continue;
    }
    const a = agreeingDigests(p.bands, q.bands, PROBE_DIGEST_BYTES);
    agreeing += a;
    bothFilled++;
    if (2 * a >= PROBE_BANDS) near++;
    compared += PROBE_BANDS;
    jSum += jaccardFromBandAgreement(a, PROBE_BANDS, PROBE_ROWS_PER_BAND);
  }
  const probeJaccard = shared > 0 ? jSum / shared : 0;

  let coarseAgreeingBands = 0;
  let coarseJaccard: number;
  if (x.coarse.length === 0 || y.coarse.length === 0) {
    coarseJaccard = x.coarse.length === y.coarse.length ? 1 : 0;
  } else {
    coarseAgreeingBands = agreeingDigests(x.coarse, y.coarse, COARSE_DIGEST_BYTES);
    coarseJaccard = jaccardFromBandAgreement(coarseAgreeingBands, COARSE_BANDS, COARSE_ROWS_PER_BAND);
  }

  const simhashSimilarity =
    x.simhash !== null && y.simhash !== null ? 1 - hamming64(x.simhash, y.simhash) / 64 : null;
  const sharedWrongAnswers = countShared(x.wrongAnswers, y.wrongAnswers);
  const minWrong = Math.min(x.wrongAnswers.length, y.wrongAnswers.length);
  const wrongAnswerOverlap =
    x.wrongAnswers.length === 0 && y.wrongAnswers.length === 0
      ? null
      : minWrong === 0
        ? 0
        : sharedWrongAnswers / minWrong;

  const nearCopyFraction = bothFilled > 0 ? near / bothFilled : 0;
  const parts = [probeJaccard, coarseJaccard, nearCopyFraction];
  if (simhashSimilarity !== null) parts.push(Math.max(0, 2 * simhashSimilarity - 1));
  if (wrongAnswerOverlap !== null) parts.push(wrongAnswerOverlap);
  const score = parts.reduce((s, v) => s + v, 0) / parts.length;
  return {
    sharedProbes: shared,
    probeAgreeingBands: agreeing,
    probeComparedBands: compared,
    probeJaccard,
    nearCopyProbes: near,
    nearCopyFraction,
    coarseAgreeingBands,
    coarseJaccard,
    simhashSimilarity,
    sharedWrongAnswers,
    wrongAnswerOverlap,
    score,
  };
}
