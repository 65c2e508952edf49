/**
 * Canary PAIR commitments, version 2 (docs/specs/canary-commitment.md; proto COMMITMENT_HASH_ALGORITHM_
 * SHA256_RFC6962_PAIRS). A member commits its canaries two by two — two items made by the same generator —
 * so that which item of each pair is exposed can be drawn from the log afterwards (canary-pair-labels.ts)
 * and the paired test (exact McNemar over discordant pairs) has a null nobody chose:
 *
 *   pair item = "lineage/canary-pair/v2" || 0x00 || u32be(len) || pair_id || u32be(len) || prompt_a ||
 *               u32be(len) || expected_a || u32be(len) || prompt_b || u32be(len) || expected_b   (UTF-8)
 *   leaf data = SHA-256("lineage/canary-commitment/v2" || 0x00 || salt(32) || pair item)
 *   root      = RFC 6962 MTH over the leaf data, in pair order
 *
 * One leaf per pair (not per item): a disclosure always opens both items of a pair together, so an auditor
 * sees the decoy beside the exposed item and can recompute the pair's outcome. Vectors: canary-pair.test.ts,
 * computed by scripts/vectors/lineage_vectors.py.
 */
import { randomBytes } from "node:crypto";
import { checkBytes, checkInteger, concatBytes, sha256, u32be, utf8 } from "./bytes.js";
import type { CanaryCommitmentPublic } from "./canary-commitment.js";
import { CANARY_SALT_SIZE } from "./canary-commitment.js";
import { checkCanaryText, MAX_CANARY_EXPECTED_CHARS, MAX_CANARY_PROMPT_CHARS } from "./canary-item.js";
import { CryptoError } from "./crypto-error.js";
import { hashLeaf } from "./merkle-hash.js";
import { verifyInclusion } from "./merkle-proof.js";
import { MerkleTree } from "./merkle-tree.js";

/** Domain separation prefix of a pair item. */
export const CANARY_PAIR_ITEM_DOMAIN = "lineage/canary-pair/v2";
/** Domain separation of pair leaf data (v2 of the canary commitment leaf). */
export const CANARY_PAIR_LEAF_DOMAIN = "lineage/canary-commitment/v2";
/** Longest pair id in UTF-16 code units (attestation_bundle.proto DisclosedCanaryPair). */
export const MAX_CANARY_PAIR_ID_CHARS = 64;
/** Most pairs in one commitment (canary_commitment.proto canary_count). */
export const MAX_CANARY_PAIRS = 1_000_000;

const ITEM_PREFIX = utf8(`${CANARY_PAIR_ITEM_DOMAIN}\0`);
const LEAF_PREFIX = utf8(`${CANARY_PAIR_LEAF_DOMAIN}\0`);

/** One item of a pair: the prompt and what counts as a hit. */
export interface CanaryPairItem {
  readonly prompt: string;
  readonly expected: string;
}

/** A committed pair: two items made by the same generator; the log decides which one is exposed. */
export interface CanaryPair {
  /** 1..64 chars, unique within a commitment. */
  readonly pairId: string;
  readonly a: CanaryPairItem;
  readonly b: CanaryPairItem;
}

function lp(text: string): Uint8Array {
  const b = utf8(text);
  return concatBytes(u32be(b.length), b);
}

/**
 * The canonical bytes of one pair (the module header's layout). Throws `malformed` for an empty or
 * ill-formed string, `too_large` beyond the bounds, `invalid_argument` when `pair` is not shaped like a
 * pair; the text itself never appears in an error (canaries are private).
 */
export function canaryPairItemBytes(pair: CanaryPair): Uint8Array {
  if (typeof pair !== "object" || pair === null || typeof pair.a !== "object" || typeof pair.b !== "object") {
    throw new CryptoError("invalid_argument", "pair must be { pairId, a: { prompt, expected }, b: { ... } }");
  }
  if (pair.a === null || pair.b === null)
    throw new CryptoError("invalid_argument", "pair items must be objects");
  return concatBytes(
    ITEM_PREFIX,
    lp(checkCanaryText("pairId", pair.pairId, MAX_CANARY_PAIR_ID_CHARS)),
    lp(checkCanaryText("a.prompt", pair.a.prompt, MAX_CANARY_PROMPT_CHARS)),
    lp(checkCanaryText("a.expected", pair.a.expected, MAX_CANARY_EXPECTED_CHARS)),
    lp(checkCanaryText("b.prompt", pair.b.prompt, MAX_CANARY_PROMPT_CHARS)),
    lp(checkCanaryText("b.expected", pair.b.expected, MAX_CANARY_EXPECTED_CHARS)),
  );
}

/** The leaf data (32 bytes) of one salted pair item. */
export function canaryPairLeafData(salt: Uint8Array, pairItem: Uint8Array): Uint8Array {
  checkBytes("salt", salt, CANARY_SALT_SIZE);
  checkBytes("pairItem", pairItem);
  return sha256(LEAF_PREFIX, salt, pairItem);
}

/** What a member discloses for one pair so an auditor can check it against the committed root. */
export interface CanaryPairDisclosure {
  /** Pair index (leaf index) in the commitment. */
  readonly index: number;
  readonly salt: Uint8Array;
  readonly pair: CanaryPair;
  /** RFC 6962 inclusion proof of the pair's leaf. */
  readonly proof: readonly Uint8Array[];
}

function copyPair(p: CanaryPair): CanaryPair {
  return {
    pairId: p.pairId,
    a: { prompt: p.a.prompt, expected: p.a.expected },
    b: { prompt: p.b.prompt, expected: p.b.expected },
  };
}

/**
 * A member-side canary pair commitment: the public root plus the private pairs and salts that open it.
 * Keep pairs and salts on the member node; log `toPublic()` (with hash_algorithm PAIRS) before use.
 */
export class CanaryPairCommitment {
  readonly #tree: MerkleTree;
  readonly #pairs: readonly CanaryPair[];
  readonly #salts: readonly Uint8Array[];

  private constructor(
    pairs: readonly CanaryPair[],
    items: readonly Uint8Array[],
    salts: readonly Uint8Array[],
  ) {
    this.#pairs = pairs;
    this.#salts = salts;
    this.#tree = MerkleTree.fromLeaves(items.map((it, i) => canaryPairLeafData(salts[i] as Uint8Array, it)));
  }

  /**
   * Commits to `pairs`. Fresh random salts are drawn unless `salts` is given (re-opening a commitment
   * stored earlier). Pair ids must be unique: a disclosure names its pair by id.
   */
  static create(pairs: readonly CanaryPair[], salts?: readonly Uint8Array[]): CanaryPairCommitment {
    if (!Array.isArray(pairs) || pairs.length === 0)
      throw new CryptoError("invalid_argument", "pairs must be a non-empty array");
    if (pairs.length > MAX_CANARY_PAIRS)
      throw new CryptoError("too_large", `more than ${MAX_CANARY_PAIRS} pairs`);
    const items = pairs.map((p) => canaryPairItemBytes(p));
    const ids = new Set<string>();
    for (const [i, p] of pairs.entries()) {
      if (ids.has(p.pairId))
        throw new CryptoError("invalid_argument", `pairs[${i}] repeats an earlier pair id`);
      ids.add(p.pairId);
    }
    let s: Uint8Array[];
    if (salts === undefined) {
      s = pairs.map(() => new Uint8Array(randomBytes(CANARY_SALT_SIZE)));
    } else {
      if (!Array.isArray(salts) || salts.length !== pairs.length)
        throw new CryptoError("invalid_argument", "salts must have one entry per pair");
      s = salts.map((x, i) => checkBytes(`salts[${i}]`, x, CANARY_SALT_SIZE).slice());
    }
    return new CanaryPairCommitment(pairs.map(copyPair), items, s);
  }

  /** The public commitment root. */
  get root(): Uint8Array {
    return this.#tree.root();
  }

  /** Number of pairs (the logged canary_count). */
  get size(): number {
    return this.#tree.size;
  }

  /** Root and size, the part to log. */
  toPublic(): CanaryCommitmentPublic {
    return { root: this.root, size: this.size };
  }

  /** The salts, in pair order (private; persist them with the pairs). */
  get salts(): readonly Uint8Array[] {
    return this.#salts.map((s) => s.slice());
  }

  /** The pairs, in order (private). */
  get pairs(): readonly CanaryPair[] {
    return this.#pairs.map(copyPair);
  }

  /** The disclosure of pair `index`: pair, salt and inclusion proof. */
  disclose(index: number): CanaryPairDisclosure {
    checkInteger("index", index, 0, this.size - 1);
    return {
      index,
      salt: (this.#salts[index] as Uint8Array).slice(),
      pair: copyPair(this.#pairs[index] as CanaryPair),
      proof: this.#tree.inclusionProof(index),
    };
  }
}

/**
 * Checks a disclosed pair against a logged commitment (auditor side: `disclosure` is untrusted,
 * `commitment` comes from the verified log). Throws `bad_proof` if it does not open the commitment,
 * `malformed` / `too_large` for ill-formed fields.
 */
export function verifyCanaryPairDisclosure(
  commitment: CanaryCommitmentPublic,
  disclosure: CanaryPairDisclosure,
): void {
  if (typeof disclosure !== "object" || disclosure === null)
    throw new CryptoError("malformed", "disclosure must be an object");
  if (!(disclosure.salt instanceof Uint8Array) || disclosure.salt.length !== CANARY_SALT_SIZE) {
    throw new CryptoError("malformed", `disclosure.salt must be ${CANARY_SALT_SIZE} bytes`);
  }
  let item: Uint8Array;
  try {
    item = canaryPairItemBytes(disclosure.pair);
  } catch (err) {
    if (err instanceof CryptoError && err.code === "invalid_argument")
      throw new CryptoError("malformed", `disclosure.pair: ${err.message}`, { cause: err });
    throw err;
  }
  const leaf = hashLeaf(canaryPairLeafData(disclosure.salt, item));
  verifyInclusion(leaf, disclosure.index, commitment.size, disclosure.proof, commitment.root);
}
