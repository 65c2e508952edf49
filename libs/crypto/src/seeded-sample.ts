/**
 * Deterministic sampling of which canaries a member must disclose, recomputable by any auditor.
 *
 * deriveSeed: seed = SHA-256("lineage/disclosure-seed/v1" || 0x00 || checkpointRoot(32) ||
 *   commitmentRoot(32) || u32be(len(context)) || context). The checkpoint root is fixed by the log
 *   after the commitment was logged, so the member cannot choose the sample.
 *
 * sampleIndices: a SHA-256 counter-mode stream, block_j = SHA-256("lineage/sample/v1" || 0x00 ||
 *   seed || u64be(j)), read as big-endian u32 words; a uniform integer in [0, m) is the first word w
 *   with w < floor(2^32 / m) * m, taken as w mod m (rejection sampling, no modulo bias). The sample is
 *   the first k positions of a Fisher–Yates shuffle of [0, n): for i = 0..k-1, j = i + uniform(n - i),
 *   swap(a[i], a[j]), output a[i] — k distinct indices in selection order, O(k) memory.
 */
import { checkBytes, checkInteger, checkString, lengthPrefixed, sha256, u64be, utf8 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";

const SEED_DOMAIN = utf8("lineage/disclosure-seed/v1\0");
const STREAM_DOMAIN = utf8("lineage/sample/v1\0");

/** Derives the 32-byte disclosure seed from a checkpoint root, a commitment root and a context string. */
export function deriveSeed(
  checkpointRoot: Uint8Array,
  commitmentRoot: Uint8Array,
  context: string,
): Uint8Array {
  checkBytes("checkpointRoot", checkpointRoot, 32);
  checkBytes("commitmentRoot", commitmentRoot, 32);
  checkString("context", context);
  return sha256(SEED_DOMAIN, checkpointRoot, commitmentRoot, lengthPrefixed(utf8(context)));
}

/** A deterministic stream of uniform integers from a seed (SHA-256 counter mode). */
class SeededStream {
  readonly #seed: Uint8Array;
  #counter = 0n;
  #block: Uint8Array = new Uint8Array(0);
  #offset = 0;

  constructor(seed: Uint8Array) {
    this.#seed = seed;
  }

  #word(): number {
    if (this.#offset >= this.#block.length) {
      this.#block = sha256(STREAM_DOMAIN, this.#seed, u64be(this.#counter));
      this.#counter++;
      this.#offset = 0;
    }
    const w = new DataView(this.#block.buffer, this.#block.byteOffset + this.#offset, 4).getUint32(0);
    this.#offset += 4;
    return w;
  }

  /** Uniform integer in [0, m), 1 <= m <= 2^32. */
  below(m: number): number {
    const limit = Math.floor(2 ** 32 / m) * m;
    for (;;) {
      const w = this.#word();
      if (w < limit) return w % m;
    }
  }
}

/** Largest population {@link sampleIndices} accepts. */
export const MAX_SAMPLE_POPULATION = 2 ** 32;

/**
 * k distinct indices in [0, n), chosen deterministically from `seed` (see the module header for
 * the exact algorithm, so auditors in other languages can reimplement it).
 */
export function sampleIndices(seed: Uint8Array, n: number, k: number): number[] {
  checkBytes("seed", seed);
  if (seed.length < 16) throw new CryptoError("invalid_argument", "seed must be at least 16 bytes");
  checkInteger("n", n, 0, MAX_SAMPLE_POPULATION);
  checkInteger("k", k, 0, n);
  if (k > 1 << 20) throw new CryptoError("too_large", "k must be at most 2^20");
  const stream = new SeededStream(seed.slice());
  const swapped = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const j = i + stream.below(n - i);
    const atJ = swapped.get(j) ?? j;
    const atI = swapped.get(i) ?? i;
    swapped.set(j, atI);
    swapped.set(i, atJ);
    out.push(atJ);
  }
  return out;
}
