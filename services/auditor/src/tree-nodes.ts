/**
 * The Merkle tree (RFC 6962 / RFC 9162 section 2.1) of the leaves an auditor's walk hashed itself, kept as
 * the hashes of its perfect subtrees (level 0: the leaf hashes) in one growable buffer per level: 64 bytes per
 * entry (64 MB for a log of 1,000,000 entries), never the leaves. From it the walk reads the root of ANY prefix
 * in O(log n) — the tree a session's seed was derived from, the size this auditor saved earlier — and the hash
 * of any leaf it passed, to recognise an entry it reads again.
 */
import { CompactRange, HASH_SIZE, type MerkleNode, rootFromNodes } from "@lineage/crypto";
import { AuditError } from "./audit-error.js";

/** Perfect-subtree hashes of the leaves appended so far. */
export class TreeNodes {
  #range = CompactRange.empty();
  readonly #levels: Uint8Array[] = [];
  readonly #counts: number[] = [];

  /** Leaves appended. */
  get size(): number {
    return this.#range.size;
  }

  /** Appends leaf hashes (in log order). */
  append(leafHashes: readonly Uint8Array[]): void {
    const { range, newNodes } = this.#range.append(leafHashes);
    for (const n of newNodes) this.#store(n);
    this.#range = range;
  }

  /** The root of the whole tree appended so far. */
  root(): Uint8Array {
    return this.#range.root();
  }

  /** The root of the first `size` leaves (0 < size <= this.size). */
  rootAt(size: number): Uint8Array {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size)
      throw new AuditError("internal", `no tree of size ${size} among ${this.size} leaves`);
    return size === this.size ? this.root() : rootFromNodes((level, index) => this.#node(level, index), size);
  }

  /** The hash of leaf `index` (< this.size). */
  leafHash(index: number): Uint8Array {
    return this.#node(0, index);
  }

  #node(level: number, index: number): Uint8Array {
    const buf = this.#levels[level];
    if (buf === undefined || !(index >= 0 && index < (this.#counts[level] ?? 0)))
      throw new AuditError("internal", `no node (${level}, ${index})`);
    return buf.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }

  #store(n: MerkleNode): void {
    const count = this.#counts[n.level] ?? 0;
    if (n.index !== count) throw new AuditError("internal", `node (${n.level}, ${n.index}) out of order`);
    let buf = this.#levels[n.level] ?? new Uint8Array(HASH_SIZE * 64);
    if ((count + 1) * HASH_SIZE > buf.length) {
      const grown = new Uint8Array(buf.length * 2);
      grown.set(buf);
      buf = grown;
    }
    buf.set(n.hash, count * HASH_SIZE);
    this.#levels[n.level] = buf;
    this.#counts[n.level] = count + 1;
  }
}
