/**
 * In-memory LSH index of sketches for first-stage retrieval (DESIGN.md flow 4 "Scan"): one hash table per
 * coarse band maps a band digest to the models holding it; a query counts, per model, the coarse bands
 * it agrees on, keeps models with at least `minAgreeingBands` (LSH_V1 by default, lsh-params.ts), compares
 * each in full (per-probe band agreement, SimHash, shared wrong answers), drops those whose per-probe rows
 * fall clearly below the design similarity (PROBE_STAGE_V1, probe-stage.ts; off unless asked: DEFAULT_PROBE_STAGE) and ranks
 * the rest.
 * A pure data structure: the hub persists sketches elsewhere and rebuilds or mirrors the index.
 */
import { FingerprintError } from "../fingerprint-error.js";
import { LSH_V1 } from "./lsh-params.js";
import { DEFAULT_PROBE_STAGE, type ProbeStageParams, passesProbeStage } from "./probe-stage.js";
import { checkSketch } from "./sketch-codec.js";
import { checkEpochId } from "./sketch-keys.js";
import { compareSketches, type SketchSimilarity } from "./sketch-similarity.js";
import { COARSE_BANDS, COARSE_DIGEST_BYTES, type Sketch } from "./sketch-types.js";

/** Longest model reference the index accepts (UTF-16 code units). */
export const MAX_MODEL_REF_LENGTH = 512;

/** One retrieved model. */
export interface SketchCandidate {
  readonly modelRef: string;
  /** Coarse bands on which the query and this model agree. */
  readonly agreeingBands: number;
  /** Estimated similarity from the two sketches (coarseJaccard, probeJaccard, score, ...). */
  readonly similarity: SketchSimilarity;
}

// A band digest as a Map key: 8 bytes -> 4 UTF-16 code units (compact, exact).
function bandKey(coarse: Uint8Array, band: number): string {
  const o = band * COARSE_DIGEST_BYTES;
  let k = "";
  for (let i = 0; i < COARSE_DIGEST_BYTES; i += 2)
    k += String.fromCharCode(((coarse[o + i] ?? 0) << 8) | (coarse[o + i + 1] ?? 0));
  return k;
}

/** LSH band index over the sketches of one epoch. */
export class SketchIndex {
  readonly epochId: string;
  readonly minAgreeingBands: number;
  private readonly sketches = new Map<string, Sketch>();
  private readonly buckets: Map<string, Set<string>>[] = Array.from(
    { length: COARSE_BANDS },
    () => new Map(),
  );

  /**
   * @param epochId - the epoch every indexed sketch must belong to (digests of other epochs never match).
   * @param options.minAgreeingBands - default candidate threshold for queries (LSH_V1.minAgreeingBands).
   */
  constructor(epochId: string, options: { readonly minAgreeingBands?: number } = {}) {
    const t = options.minAgreeingBands ?? LSH_V1.minAgreeingBands;
    if (!(Number.isInteger(t) && t >= 1 && t <= COARSE_BANDS)) {
      throw new FingerprintError(
        "INVALID_ARGUMENT",
        `minAgreeingBands must be an integer in 1..${COARSE_BANDS}`,
      );
    }
    this.epochId = checkEpochId(epochId);
    this.minAgreeingBands = t;
  }

  /** Number of indexed models. */
  get size(): number {
    return this.sketches.size;
  }

  /** Whether a model is indexed. */
  has(modelRef: string): boolean {
    return this.sketches.has(modelRef);
  }

  /** Indexes (or re-indexes) a model's sketch. @throws FingerprintError `INVALID_ARGUMENT` on a bad
   * reference, a malformed sketch, or a sketch of another epoch. */
  add(modelRef: string, sketch: Sketch): void {
    if (typeof modelRef !== "string" || modelRef.length === 0 || modelRef.length > MAX_MODEL_REF_LENGTH) {
      throw new FingerprintError(
        "INVALID_ARGUMENT",
        `modelRef must be 1..${MAX_MODEL_REF_LENGTH} characters`,
      );
    }
    checkSketch(sketch);
    if (sketch.epochId !== this.epochId) {
      throw new FingerprintError("INVALID_ARGUMENT", "sketch belongs to another epoch than the index");
    }
    this.remove(modelRef);
    this.sketches.set(modelRef, sketch);
    if (sketch.coarse.length === 0) return; // no tokens at all: nothing to retrieve it by
    for (let band = 0; band < COARSE_BANDS; band++) {
      const bucketMap = this.buckets[band] as Map<string, Set<string>>;
      const key = bandKey(sketch.coarse, band);
      let bucket = bucketMap.get(key);
      if (bucket === undefined) {
        bucket = new Set();
        bucketMap.set(key, bucket);
      }
      bucket.add(modelRef);
    }
  }

  /** Removes a model; returns whether it was indexed. */
  remove(modelRef: string): boolean {
    const old = this.sketches.get(modelRef);
    if (old === undefined) return false;
    this.sketches.delete(modelRef);
    if (old.coarse.length > 0) {
      for (let band = 0; band < COARSE_BANDS; band++) {
        const bucketMap = this.buckets[band] as Map<string, Set<string>>;
        const key = bandKey(old.coarse, band);
        const bucket = bucketMap.get(key);
        bucket?.delete(modelRef);
        if (bucket?.size === 0) bucketMap.delete(key);
      }
    }
    return true;
  }

  /** Per indexed model, the number of coarse bands it shares with `sketch` (models sharing none omitted). */
  bandAgreement(sketch: Sketch): Map<string, number> {
    checkSketch(sketch);
    if (sketch.epochId !== this.epochId) {
      throw new FingerprintError("INVALID_ARGUMENT", "query sketch belongs to another epoch than the index");
    }
    const counts = new Map<string, number>();
    if (sketch.coarse.length === 0) return counts;
    for (let band = 0; band < COARSE_BANDS; band++) {
      const bucket = this.buckets[band]?.get(bandKey(sketch.coarse, band));
      if (bucket === undefined) continue;
      for (const ref of bucket) counts.set(ref, (counts.get(ref) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Candidates for a suspect's sketch: models agreeing on >= minAgreeingBands coarse bands whose per-probe
   * rows pass the fine stage, ranked by the full comparison's score (then by agreeing bands, then by
   * reference for a stable order).
   * @param options.minAgreeingBands - overrides the index's threshold for this query.
   * @param options.probeStage - the fine stage's rule (default DEFAULT_PROBE_STAGE: off; PROBE_STAGE_V1 drops coarse hits whose per-probe rows fall clearly below the design similarity).
   * @param options.limit - keep at most this many candidates (after ranking).
   * @param options.exclude - a model reference to leave out (the suspect itself, when indexed).
   */
  query(
    sketch: Sketch,
    options: {
      readonly minAgreeingBands?: number;
      readonly limit?: number;
      readonly exclude?: string;
      readonly probeStage?: ProbeStageParams | false;
    } = {},
  ): SketchCandidate[] {
    const t = options.minAgreeingBands ?? this.minAgreeingBands;
    if (!(Number.isInteger(t) && t >= 1 && t <= COARSE_BANDS)) {
      throw new FingerprintError(
        "INVALID_ARGUMENT",
        `minAgreeingBands must be an integer in 1..${COARSE_BANDS}`,
      );
    }
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0)) throw new FingerprintError("INVALID_ARGUMENT", "limit must be >= 0");
    const stage = options.probeStage ?? DEFAULT_PROBE_STAGE;
    const out: SketchCandidate[] = [];
    for (const [modelRef, agreeingBands] of this.bandAgreement(sketch)) {
      if (agreeingBands < t || modelRef === options.exclude) continue;
      const stored = this.sketches.get(modelRef) as Sketch;
      if (stage !== false && !passesProbeStage(sketch, stored, stage)) continue;
      const similarity = compareSketches(sketch, stored);
      out.push({ modelRef, agreeingBands, similarity });
    }
    out.sort(
      (a, b) =>
        b.similarity.score - a.similarity.score ||
        b.agreeingBands - a.agreeingBands ||
        (a.modelRef < b.modelRef ? -1 : a.modelRef > b.modelRef ? 1 : 0),
    );
    return out.slice(0, limit);
  }
}
