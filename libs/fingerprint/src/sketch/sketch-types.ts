/**
 * Sketch definition (DESIGN.md "Sketch"; docs/specs/sketch.md): the constants and shapes every member must
 * use so that two members computing the sketch of the same fingerprint under the same epoch key get
 * identical bits. The golden vectors in sketch-golden.test.ts pin the whole definition of each version;
 * changing any constant here (or the tokenizer, see TOKENIZER_VERSION) is a new SKETCH_VERSION.
 *
 * Versions 1 and 2 share every shape and parameter below (shingles, rows, bands, digest widths, the
 * coarse signature) and differ in how published digests are keyed (sketch-keys.ts) and in wrong answers:
 * - version 1: each digest is a truncated HMAC-SHA256 (~33k per 1,000-probe sketch, ~2.2M/CPU-s in pure
 *   JS: the floor of ~30 sketches per CPU-second). Carries wrong-answer digests.
 * - version 2 (built by default): each digest is AES-128 of one 16-byte block under a per-epoch key,
 *   all of a sketch's blocks encrypted in one OpenSSL call; no wrong-answer digests (an insider holding
 *   the epoch key could recover a short wrong answer by guessing; docs/privacy.md gives the measurement
 *   behind removing them).
 *
 * Parameter choices (measured in bench/lsh.ts on /work/shared/realdata, 34 real LLMs x 805 prompts):
 * - Word 2-shingles over Lineage tokens. On real LLM answers to the same prompt, 3-shingle Jaccard of a
 *   distilled student with its teacher is 0.02-0.10 and 4-shingles 0.01-0.06: too small for a few dozen
 *   hashes to resolve. 1-shingles (bags of words) score 0.3-0.5 for every pair, dominated by the
 *   prompt's topic. 2-shingles keep word order and sit at 0.04-0.16, the range MinHash resolves well.
 * - 32 rows per probe, one row per band (r = 1): per-probe Jaccard on real text is ~0.1, so a band of
 *   r >= 2 rows would almost never agree (0.1^2 = 1%) and carry no signal. With r = 1 the fraction of
 *   equal digests is the unbiased MinHash estimate; over P probes its standard error is
 *   sqrt(J(1-J)/(32 P)) (0.003 for 805 probes, 0.008 for 100). Per-probe digests are truncated to 4 bytes:
 *   a chance collision (2^-32 per compared row) is negligible against J ~ 0.1, and it keeps an
 *   805-probe sketch near 100 KiB (well under NATS' 1 MiB default payload even at MAX_PROBES).
 * - The coarse whole-model signature: 512 rows, one per band, over the union of all probes' shingles
 *   scoped by probe id (the same bigram under two prompts counts twice), 8-byte digests (they are index
 *   keys across every model of the epoch). See lsh-params.ts for why r = 1 with a minimum count of
 *   agreeing bands beats classic r >= 2 banding at real-text similarities.
 *
 * What a sketch reveals: to anyone without the epoch key, nothing testable (every published value is a
 * truncated HMAC (v1) or AES block (v2) under a key derived from it). A holder of the epoch key (members, the hub) can test a
 * guessed response against a probe's digests, as it could by probing the model itself; at most it learns
 * which of its guessed 2-shingles are the 32 sampled minima of a probe, not the text or its order.
 */

/** A sketch definition version this code reads and builds. */
export type SketchVersion = 1 | 2;
/** Version of the sketch definition members and the hub build (binary format and every hashing rule). */
export const SKETCH_VERSION: SketchVersion = 2;
/** Versions accepted on input (version 1 for sketches stored before version 2). */
export const SKETCH_VERSIONS: readonly SketchVersion[] = [1, 2];
/** Words per shingle. */
export const SHINGLE_SIZE = 2;
/** MinHash rows per probe. */
export const PROBE_ROWS = 32;
/** Rows per per-probe band (digest). */
export const PROBE_ROWS_PER_BAND = 1;
/** Per-probe bands = PROBE_ROWS / PROBE_ROWS_PER_BAND. */
export const PROBE_BANDS = PROBE_ROWS / PROBE_ROWS_PER_BAND;
/** Bytes kept of each per-probe band digest. */
export const PROBE_DIGEST_BYTES = 4;
/** Coarse-signature bands. */
export const COARSE_BANDS = 512;
/** Rows per coarse band. */
export const COARSE_ROWS_PER_BAND = 1;
/** Bytes kept of each coarse band digest. */
export const COARSE_DIGEST_BYTES = 8;
/** Bytes kept of each wrong-answer digest (version 1 only: version 2 publishes none). */
export const WRONG_ANSWER_DIGEST_BYTES = 8;
/** Token positions of each probe's top-logprobs that feed the SimHash (later positions condition on
 * each model's own sampled prefix and stop being comparable). */
export const SIMHASH_POSITIONS = 16;

/** Bounds on untrusted or caller input; a fingerprint or sketch beyond them is rejected. */
export const SKETCH_LIMITS = {
  /** Probes in one fingerprint/sketch. */
  maxProbes: 4096,
  /** UTF-8 bytes of a probe id. */
  maxProbeIdBytes: 128,
  /** UTF-8 bytes of an epoch id. */
  maxEpochIdBytes: 64,
  /** UTF-16 code units of one response or reference text. */
  maxTextChars: 65_536,
  /** Token positions of top-logprobs per probe. */
  maxLogprobPositions: 4096,
  /** Alternatives per position. */
  maxTopLogprobs: 64,
  /** Bytes of an encoded sketch: header + MAX_PROBES * (1 + 128 + 1 + 128) + wrong answers, rounded up. */
  maxEncodedBytes: 2 * 1024 * 1024,
} as const;

/** Epoch key length in bytes. */
export const EPOCH_KEY_BYTES = 32;

/** One probe's response as the sketch sees it. */
export interface SketchProbeInput {
  readonly probeId: string;
  readonly kind: "edge" | "open" | "completion";
  readonly text: string;
  /** Reference answer of an edge-case probe. */
  readonly reference?: string;
  /** Per generated position, the top alternatives with natural-log probabilities, where served. */
  readonly topLogprobs?: readonly (readonly { readonly token: string; readonly logprob: number }[])[];
}

/** One probe's part of a sketch. */
export interface ProbeSketch {
  readonly probeId: string;
  /** True when the response had no tokens: no MinHash, `bands` is empty. */
  readonly empty: boolean;
  /** PROBE_BANDS digests of PROBE_DIGEST_BYTES each, concatenated (empty when `empty`). */
  readonly bands: Uint8Array;
}

/**
 * The shareable sketch of a model's fingerprint (DESIGN.md "Sketch"), version 1 or 2. Canonical: probes are
 * sorted by probe id (UTF-8 byte order), wrong-answer digests sorted and unique, so one fingerprint has
 * exactly one sketch and one encoding.
 */
export interface Sketch {
  readonly version: SketchVersion;
  readonly epochId: string;
  /** COARSE_BANDS digests of COARSE_DIGEST_BYTES each, concatenated; empty when no probe had tokens. */
  readonly coarse: Uint8Array;
  /** 64-bit SimHash of the token-distribution profile, or null when no top-logprobs were served. */
  readonly simhash: bigint | null;
  readonly probes: readonly ProbeSketch[];
  /** Keyed digests of wrong answers on edge probes, WRONG_ANSWER_DIGEST_BYTES each, sorted ascending;
   * always empty in version 2. */
  readonly wrongAnswers: readonly Uint8Array[];
}
