/**
 * Compact range (a.k.a. Merkle frontier) of a log: the roots of the perfect subtrees that make up
 * the first `size` leaves, largest first — one hash per set bit of `size`. Appending leaves touches
 * only this O(log n) state, yields the new root, and reports every perfect-subtree node it completed
 * so a log store can persist level hashes for {@link NodeAccessor}-based proof generation.
 * Same model as transparency-dev/merkle's compact.Range for ranges starting at 0 (RFC 6962 hashing).
 */
import { checkInteger } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { checkHash, emptyRoot, hashChildren } from "./merkle-hash.js";
import type { MerkleNode, NodeAccessor } from "./merkle-tree.js";

/** Levels of the perfect subtrees making up `size`, largest first (one per set bit). */
function decompose(size: number): number[] {
  const levels: number[] = [];
  let rest = size;
  let level = 0;
  let pow = 1;
  while (pow * 2 <= rest) {
    pow *= 2;
    level++;
  }
  while (rest > 0) {
    if (pow <= rest) {
      levels.push(level);
      rest -= pow;
    }
    pow /= 2;
    level--;
  }
  return levels;
}

/** Immutable compact range over leaves [0, size). */
export class CompactRange {
  /** Number of leaves covered. */
  readonly size: number;
  readonly #hashes: readonly Uint8Array[];

  private constructor(size: number, hashes: readonly Uint8Array[]) {
    this.size = size;
    this.#hashes = hashes;
  }

  /** The range of the empty tree. */
  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /**
   * Rebuilds a range from stored frontier hashes (largest subtree first), e.g. as persisted next to
   * a checkpoint. Throws `invalid_argument` if the count does not match the set bits of `size`.
   */
  static fromHashes(size: number, hashes: readonly Uint8Array[]): CompactRange {
    checkInteger("size", size);
    const levels = decompose(size);
    if (!Array.isArray(hashes) || hashes.length !== levels.length) {
      throw new CryptoError("invalid_argument", `size ${size} needs ${levels.length} frontier hashes`);
    }
    return new CompactRange(
      size,
      hashes.map((h, i) => checkHash(`hashes[${i}]`, h)),
    );
  }

  /** Reads the frontier of `size` leaves through a node accessor (O(log n) reads). */
  static fromNodes(get: NodeAccessor, size: number): CompactRange {
    checkInteger("size", size);
    let start = 0;
    const hashes = decompose(size).map((level) => {
      const width = 2 ** level;
      const h = get(level, start / width);
      start += width;
      return checkHash(`node (${level}, ${(start - width) / width})`, h);
    });
    return new CompactRange(size, hashes);
  }

  /** Frontier hashes, largest subtree first. */
  get hashes(): readonly Uint8Array[] {
    return this.#hashes.slice();
  }

  /** The frontier as (level, index, hash) nodes. */
  nodes(): MerkleNode[] {
    let start = 0;
    return decompose(this.size).map((level, i) => {
      const width = 2 ** level;
      const node = { level, index: start / width, hash: this.#hashes[i] as Uint8Array };
      start += width;
      return node;
    });
  }

  /** MTH of the covered leaves: fold the frontier right to left. */
  root(): Uint8Array {
    if (this.size === 0) return emptyRoot();
    let r = this.#hashes[this.#hashes.length - 1] as Uint8Array;
    for (let i = this.#hashes.length - 2; i >= 0; i--) r = hashChildren(this.#hashes[i] as Uint8Array, r);
    return r;
  }

  /**
   * Appends a batch of leaf hashes. Returns the new range and every node created on the way — the
   * leaves themselves (level 0) and each completed perfect subtree — in creation order.
   */
  append(leafHashes: readonly Uint8Array[]): { range: CompactRange; newNodes: MerkleNode[] } {
    if (!Array.isArray(leafHashes)) throw new CryptoError("invalid_argument", "leafHashes must be an array");
    const levels = decompose(this.size);
    const stack = this.#hashes.map((hash, i) => ({ level: levels[i] as number, hash }));
    const newNodes: MerkleNode[] = [];
    let size = this.size;
    for (const [i, leaf] of leafHashes.entries()) {
      checkHash(`leafHashes[${i}]`, leaf);
      if (size >= Number.MAX_SAFE_INTEGER) throw new CryptoError("invalid_argument", "tree size overflow");
      let node = { level: 0, hash: leaf };
      newNodes.push({ level: 0, index: size, hash: leaf });
      size++;
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined || top.level !== node.level) break;
        stack.pop();
        node = { level: node.level + 1, hash: hashChildren(top.hash, node.hash) };
        const width = 2 ** node.level;
        newNodes.push({ level: node.level, index: size / width - 1, hash: node.hash });
      }
      stack.push(node);
    }
    return {
      range: new CompactRange(
        size,
        stack.map((s) => s.hash),
      ),
      newNodes,
    };
  }
}
