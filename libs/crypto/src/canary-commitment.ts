/**
 * Canary-set commitments. A member commits to its private canary set with the RFC 6962 Merkle root
 * over salted item digests:
 *
 *   leafData_i = SHA-256("lineage/canary-commitment/v1" || 0x00 || salt_i || item_i)   (salt: 32 bytes)
 *   root       = MTH(leafData_0 .. leafData_{n-1})   (leaf hash H(0x00 || leafData))
 *
 * The per-item random salt makes the root (and any sibling hash in a proof) reveal nothing about
 * items, even guessable ones; disclosing (item, salt, index, proof) lets anyone check that the item
 * was in the committed set. Items are the caller's canonical bytes of one canary (prompt + hit rule).
 */
import { randomBytes } from "node:crypto";
import { checkBytes, checkInteger, sha256, utf8 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { hashLeaf } from "./merkle-hash.js";
import { verifyInclusion } from "./merkle-proof.js";
import { MerkleTree } from "./merkle-tree.js";

/** Domain separation string of canary leaf digests. */
export const CANARY_LEAF_DOMAIN = "lineage/canary-commitment/v1";
/** Salt size in bytes. */
export const CANARY_SALT_SIZE = 32;
/** Largest canary set accepted. */
export const MAX_CANARY_ITEMS = 1 << 20;
/** Largest canonical item accepted. */
export const MAX_CANARY_ITEM_BYTES = 64 * 1024;

const DOMAIN_BYTES = utf8(`${CANARY_LEAF_DOMAIN}\0`);

/** The leaf data (32 bytes) of one salted canary item. */
export function canaryLeafData(salt: Uint8Array, item: Uint8Array): Uint8Array {
  checkBytes("salt", salt, CANARY_SALT_SIZE);
  checkBytes("item", item);
  if (item.length > MAX_CANARY_ITEM_BYTES)
    throw new CryptoError("too_large", `item exceeds ${MAX_CANARY_ITEM_BYTES} bytes`);
  return sha256(DOMAIN_BYTES, salt, item);
}

/** What a member discloses for one item so an auditor can check it against the committed root. */
export interface CanaryDisclosure {
  readonly index: number;
  readonly salt: Uint8Array;
  /** The canonical item bytes. */
  readonly item: Uint8Array;
  /** RFC 6962 inclusion proof of the item's leaf. */
  readonly proof: readonly Uint8Array[];
}

/** A member-side canary commitment: the public root plus the private salts that open it. */
export class CanaryCommitment {
  readonly #tree: MerkleTree;
  readonly #salts: readonly Uint8Array[];
  readonly #items: readonly Uint8Array[];

  private constructor(items: readonly Uint8Array[], salts: readonly Uint8Array[]) {
    this.#items = items;
    this.#salts = salts;
    this.#tree = MerkleTree.fromLeaves(items.map((item, i) => canaryLeafData(salts[i] as Uint8Array, item)));
  }

  /**
   * Commits to `items` (canonical bytes each). Fresh random salts are drawn unless `salts` is given
   * (when re-opening a commitment stored earlier). Private: keep items and salts on the member node.
   */
  static create(items: readonly Uint8Array[], salts?: readonly Uint8Array[]): CanaryCommitment {
    if (!Array.isArray(items) || items.length === 0)
      throw new CryptoError("invalid_argument", "items must be a non-empty array");
    if (items.length > MAX_CANARY_ITEMS)
      throw new CryptoError("too_large", `more than ${MAX_CANARY_ITEMS} items`);
    for (const [i, it] of items.entries()) checkBytes(`items[${i}]`, it);
    let s: Uint8Array[];
    if (salts === undefined) {
      s = items.map(() => new Uint8Array(randomBytes(CANARY_SALT_SIZE)));
    } else {
      if (!Array.isArray(salts) || salts.length !== items.length) {
        throw new CryptoError("invalid_argument", "salts must have one entry per item");
      }
      s = salts.map((x, i) => checkBytes(`salts[${i}]`, x, CANARY_SALT_SIZE).slice());
    }
    return new CanaryCommitment(
      items.map((it) => it.slice()),
      s,
    );
  }

  /** The public commitment root (log this before using the set). */
  get root(): Uint8Array {
    return this.#tree.root();
  }

  /** Number of items. */
  get size(): number {
    return this.#tree.size;
  }

  /** Root and size, the part to log. */
  toPublic(): CanaryCommitmentPublic {
    return { root: this.root, size: this.size };
  }

  /** The salts, in item order (private; persist them with the items). */
  get salts(): readonly Uint8Array[] {
    return this.#salts.map((s) => s.slice());
  }

  /** The disclosure of item `index`: item, salt and inclusion proof. */
  disclose(index: number): CanaryDisclosure {
    checkInteger("index", index, 0, this.size - 1);
    return {
      index,
      salt: (this.#salts[index] as Uint8Array).slice(),
      item: (this.#items[index] as Uint8Array).slice(),
      proof: this.#tree.inclusionProof(index),
    };
  }
}

/**
 * The public part of a commitment, as logged. The size must come from the log together with the
 * root: an RFC 6962 inclusion proof alone does not pin the tree size.
 */
export interface CanaryCommitmentPublic {
  readonly root: Uint8Array;
  readonly size: number;
}

/**
 * Checks a disclosed item against a logged commitment (auditor side; `disclosure` is untrusted,
 * `commitment` comes from the verified log). Throws `bad_proof` if it does not open the commitment,
 * `malformed` for wrongly-sized fields.
 */
export function verifyCanaryDisclosure(
  commitment: CanaryCommitmentPublic,
  disclosure: CanaryDisclosure,
): void {
  if (!(disclosure.salt instanceof Uint8Array) || disclosure.salt.length !== CANARY_SALT_SIZE) {
    throw new CryptoError("malformed", `disclosure.salt must be ${CANARY_SALT_SIZE} bytes`);
  }
  if (!(disclosure.item instanceof Uint8Array))
    throw new CryptoError("malformed", "disclosure.item must be bytes");
  if (disclosure.item.length > MAX_CANARY_ITEM_BYTES)
    throw new CryptoError("too_large", "disclosure.item is too large");
  const leaf = hashLeaf(canaryLeafData(disclosure.salt, disclosure.item));
  verifyInclusion(leaf, disclosure.index, commitment.size, disclosure.proof, commitment.root);
}
