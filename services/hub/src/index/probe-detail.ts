/**
 * The per-probe detail of indexed sketches, kept in memory so that stage 2 of retrieval (sketch-retriever.ts)
 * compares the few coarse hits without reading Postgres (issue 10: the Postgres read of ~40 sketches made the
 * lookup tail). Compact: per model one Uint8Array of its probes' band digests (PROBE_BANDS x PROBE_DIGEST_BYTES
 * = 128 bytes a probe, zeros for an empty probe), one bit per probe for "empty", its SimHash, and the probe id
 * list shared by every model sketched on the same probes (one epoch's models all are). The coarse signature is
 * not kept twice: the band index holds each model's 4-byte band keys, from which {@link coarseView} rebuilds
 * what the comparison needs.
 *
 * Bounded by a byte budget ({@link DEFAULT_DETAIL_BUDGET_BYTES}, 512 MiB): at 8 probes a model takes ~1.2 KiB
 * (100,000 models: ~120 MiB); at 400 retrieval probes ~51 KiB (~10,000 models in the default budget). Models
 * beyond it are not kept and stage 2 reads them from Postgres as before.
 */
import {
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  PROBE_BANDS,
  PROBE_DIGEST_BYTES,
  type Sketch,
  type SketchVersion,
} from "@lineage/fingerprint";

/** Default memory budget of the detail kept (bytes). */
export const DEFAULT_DETAIL_BUDGET_BYTES = 512 * 1024 * 1024;
const PROBE_BYTES = PROBE_BANDS * PROBE_DIGEST_BYTES;
/** Estimated overhead of one kept model (objects, map slot, typed-array headers). */
const MODEL_OVERHEAD_BYTES = 200;

interface Detail {
  readonly version: SketchVersion;
  readonly ids: readonly string[];
  readonly empty: Uint8Array;
  readonly bands: Uint8Array;
  readonly simhash: bigint | null;
  readonly wrongAnswers: readonly Uint8Array[];
  readonly bytes: number;
}

/** Per-probe detail by index ordinal, within a byte budget. */
export class ProbeDetail {
  readonly #budget: number;
  readonly #byOrdinal = new Map<number, Detail>();
  /** Probe id lists, interned by their joined ids. */
  readonly #idLists = new Map<string, readonly string[]>();
  #bytes = 0;

  constructor(budgetBytes: number = DEFAULT_DETAIL_BUDGET_BYTES) {
    if (!Number.isSafeInteger(budgetBytes) || budgetBytes < 0)
      throw new RangeError("budgetBytes must be a non-negative integer");
    this.#budget = budgetBytes;
  }

  /** Bytes kept (estimated). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Models kept. */
  get size(): number {
    return this.#byOrdinal.size;
  }

  /** Keeps `sketch`'s detail for `ordinal` when it fits the budget; false when it does not. */
  set(ordinal: number, sketch: Sketch): boolean {
    this.delete(ordinal);
    const n = sketch.probes.length;
    let wrong = 0;
    for (const w of sketch.wrongAnswers) wrong += w.length + 64;
    const bytes = n * PROBE_BYTES + ((n + 7) >>> 3) + wrong + MODEL_OVERHEAD_BYTES;
    if (this.#bytes + bytes > this.#budget) return false;
    const key = sketch.probes.map((p) => p.probeId).join("\u0000");
    let ids = this.#idLists.get(key);
    if (ids === undefined) {
      ids = sketch.probes.map((p) => p.probeId);
      this.#idLists.set(key, ids);
    }
    const bands = new Uint8Array(n * PROBE_BYTES);
    const empty = new Uint8Array((n + 7) >>> 3);
    sketch.probes.forEach((p, i) => {
      if (p.empty) empty[i >>> 3] = (empty[i >>> 3] as number) | (1 << (i & 7));
      else bands.set(p.bands.subarray(0, PROBE_BYTES), i * PROBE_BYTES);
    });
    this.#byOrdinal.set(ordinal, {
      version: sketch.version,
      ids,
      empty,
      bands,
      simhash: sketch.simhash,
      wrongAnswers: sketch.wrongAnswers.map((w) => w.slice()),
      bytes,
    });
    this.#bytes += bytes;
    return true;
  }

  delete(ordinal: number): void {
    const d = this.#byOrdinal.get(ordinal);
    if (d === undefined) return;
    this.#byOrdinal.delete(ordinal);
    this.#bytes -= d.bytes;
  }

  clear(): void {
    this.#byOrdinal.clear();
    this.#idLists.clear();
    this.#bytes = 0;
  }

  /**
   * The sketch of `ordinal` as compareSketches reads it (epoch `epochId`; coarse signature `coarse`, from
   * {@link coarseView}), or undefined when its detail is not kept.
   */
  sketchOf(ordinal: number, epochId: string, coarse: Uint8Array): Sketch | undefined {
    const d = this.#byOrdinal.get(ordinal);
    if (d === undefined) return undefined;
    const probes = d.ids.map((probeId, i) => {
      const isEmpty = ((d.empty[i >>> 3] as number) & (1 << (i & 7))) !== 0;
      return {
        probeId,
        empty: isEmpty,
        bands: isEmpty ? new Uint8Array(0) : d.bands.subarray(i * PROBE_BYTES, (i + 1) * PROBE_BYTES),
      };
    });
    return { version: d.version, epochId, coarse, simhash: d.simhash, probes, wrongAnswers: d.wrongAnswers };
  }
}

/**
 * A stand-in for a model's coarse signature, built from its 4-byte band keys (band-index.ts) and the suspect's
 * signature, such that comparing the suspect with it counts exactly the bands whose 4-byte key prefixes agree:
 * an agreeing band copies the suspect's 8 bytes, any other carries the model's own (different) prefix. Equal
 * to the comparison with the stored signature but for a 2^-32 chance per band that two different digests share
 * their prefix — the same approximation stage 1 makes. `out` is reused.
 */
export function coarseView(
  suspectCoarse: Uint8Array,
  modelKeys: Uint32Array,
  out: Uint8Array = new Uint8Array(COARSE_BANDS * COARSE_DIGEST_BYTES),
): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const sv = new DataView(suspectCoarse.buffer, suspectCoarse.byteOffset, suspectCoarse.byteLength);
  for (let b = 0; b < COARSE_BANDS; b++) {
    const at = b * COARSE_DIGEST_BYTES;
    const key = modelKeys[b] as number;
    if (sv.getUint32(at) === key) {
      out.set(suspectCoarse.subarray(at, at + COARSE_DIGEST_BYTES), at);
    } else {
      dv.setUint32(at, key);
      // The low half differs from the suspect's too, so no agreement can arise from it.
      dv.setUint32(at + 4, ~sv.getUint32(at + 4) >>> 0);
    }
  }
  return out;
}
