/**
 * Merkle tree head (MTH), inclusion proofs (PATH) and consistency proofs (PROOF/SUBPROOF) as defined
 * in RFC 6962 section 2.1 / RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1, for any tree size.
 *
 * Proofs are generated from a {@link NodeAccessor}: the hash of a *perfect* subtree given as
 * (level, index), covering leaves [index * 2^level, (index + 1) * 2^level). A log that stores these
 * level hashes (e.g. the hub's Postgres log, fed by {@link CompactRange.append}'s new nodes) can build
 * any proof with O(log n) reads and never loads all leaves. The in-memory variants build the level
 * arrays once and run the same code.
 */
import { checkInteger } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { checkHash, emptyRoot, hashChildren, hashLeaf } from "./merkle-hash.js";

/**
 * Returns the hash of the perfect subtree at (level, index); level 0 is the leaf hashes. Only nodes
 * whose leaves lie entirely inside the requested tree size are asked for.
 */
export type NodeAccessor = (level: number, index: number) => Uint8Array;

/** A (level, index) node coordinate and its hash. */
export interface MerkleNode {
  readonly level: number;
  readonly index: number;
  readonly hash: Uint8Array;
}

/** Largest power of two strictly less than n (n >= 2). Arithmetic, not bit ops: sizes may exceed 2^32. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

function log2Exact(n: number): number {
  let level = 0;
  let k = 1;
  while (k < n) {
    k *= 2;
    level++;
  }
  return level;
}

function fetchNode(get: NodeAccessor, level: number, index: number): Uint8Array {
  const h = get(level, index);
  if (!(h instanceof Uint8Array) || h.length !== 32) {
    throw new CryptoError("internal", `node accessor returned no 32-byte hash for (${level}, ${index})`);
  }
  return h;
}

/** MTH of the `size` leaves starting at `start`, where [start, start + size) is an RFC 6962 subtree. */
function rangeHash(get: NodeAccessor, start: number, size: number): Uint8Array {
  if (isPowerOfTwo(size)) return fetchNode(get, log2Exact(size), start / size);
  const k = splitPoint(size);
  return hashChildren(rangeHash(get, start, k), rangeHash(get, start + k, size - k));
}

/** MTH of a tree of `size` leaves read through `get` (the empty tree's root for size 0). */
export function rootFromNodes(get: NodeAccessor, size: number): Uint8Array {
  checkInteger("size", size);
  return size === 0 ? emptyRoot() : rangeHash(get, 0, size);
}

/** Inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, read through `get`. */
export function inclusionProofFromNodes(get: NodeAccessor, index: number, size: number): Uint8Array[] {
  checkInteger("size", size, 1);
  checkInteger("index", index, 0, size - 1);
  const proof: Uint8Array[] = [];
  // PATH(m, D[start:start+n]): siblings are collected leaf-upwards, so recurse first, push after.
  const path = (m: number, start: number, n: number): void => {
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      path(m, start, k);
      proof.push(rangeHash(get, start + k, n - k));
    } else {
      path(m - k, start + k, n - k);
      proof.push(rangeHash(get, start, k));
    }
  };
  path(index, 0, size);
  return proof;
}

/** Consistency proof between tree sizes `size1` <= `size2`, read through `get`. */
export function consistencyProofFromNodes(get: NodeAccessor, size1: number, size2: number): Uint8Array[] {
  checkInteger("size2", size2);
  checkInteger("size1", size1, 0, size2);
  const proof: Uint8Array[] = [];
  if (size1 === 0 || size1 === size2) return proof;
  // SUBPROOF(m, D[start:start+n], b) from RFC 9162 section 2.1.4.1.
  const sub = (m: number, start: number, n: number, b: boolean): void => {
    if (m === n) {
      if (!b) proof.push(rangeHash(get, start, n));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, start, k, b);
      proof.push(rangeHash(get, start + k, n - k));
    } else {
      sub(m - k, start + k, n - k, false);
      proof.push(rangeHash(get, start, k));
    }
  };
  sub(size1, 0, size2, true);
  return proof;
}

/** A node coordinate: the perfect subtree covering leaves [index * 2^level, (index + 1) * 2^level). */
export interface MerkleNodeId {
  readonly level: number;
  readonly index: number;
}

/** Fetches many node hashes at once (e.g. one SQL query), in the order asked. */
export type NodeBatchFetcher = (nodes: readonly MerkleNodeId[]) => Promise<readonly Uint8Array[]>;

const PLACEHOLDER = new Uint8Array(32);

/** Runs `build` with an accessor that records which nodes it reads (the access pattern never depends on hash values). */
function recordNodes(build: (get: NodeAccessor) => unknown): MerkleNodeId[] {
  const seen = new Set<string>();
  const out: MerkleNodeId[] = [];
  build((level, index) => {
    const key = `${level}/${index}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ level, index });
    }
    return PLACEHOLDER;
  });
  return out;
}

/** The nodes {@link rootFromNodes} reads for `size`, so an async store can fetch them in one round trip. */
export function nodesForRoot(size: number): MerkleNodeId[] {
  return recordNodes((get) => rootFromNodes(get, size));
}

/** The nodes {@link inclusionProofFromNodes} reads for (index, size). */
export function nodesForInclusionProof(index: number, size: number): MerkleNodeId[] {
  return recordNodes((get) => inclusionProofFromNodes(get, index, size));
}

/** The nodes {@link consistencyProofFromNodes} reads for (size1, size2). */
export function nodesForConsistencyProof(size1: number, size2: number): MerkleNodeId[] {
  return recordNodes((get) => consistencyProofFromNodes(get, size1, size2));
}

async function withFetched<T>(
  ids: readonly MerkleNodeId[],
  fetch: NodeBatchFetcher,
  build: (get: NodeAccessor) => T,
): Promise<T> {
  const hashes = await fetch(ids);
  if (!Array.isArray(hashes) || hashes.length !== ids.length) {
    throw new CryptoError(
      "internal",
      `node fetcher returned ${hashes?.length} hashes for ${ids.length} nodes`,
    );
  }
  const map = new Map<string, Uint8Array>();
  ids.forEach((id, i) => {
    map.set(`${id.level}/${id.index}`, hashes[i] as Uint8Array);
  });
  return build((level, index) => {
    const h = map.get(`${level}/${index}`);
    if (h === undefined) throw new CryptoError("internal", `node (${level}, ${index}) was not fetched`);
    return h;
  });
}

/** {@link rootFromNodes} over an async store: one batch fetch of {@link nodesForRoot}. */
export function rootFromStore(fetch: NodeBatchFetcher, size: number): Promise<Uint8Array> {
  return withFetched(nodesForRoot(size), fetch, (get) => rootFromNodes(get, size));
}

/** {@link inclusionProofFromNodes} over an async store: one batch fetch. */
export function inclusionProofFromStore(
  fetch: NodeBatchFetcher,
  index: number,
  size: number,
): Promise<Uint8Array[]> {
  return withFetched(nodesForInclusionProof(index, size), fetch, (get) =>
    inclusionProofFromNodes(get, index, size),
  );
}

/** {@link consistencyProofFromNodes} over an async store: one batch fetch. */
export function consistencyProofFromStore(
  fetch: NodeBatchFetcher,
  size1: number,
  size2: number,
): Promise<Uint8Array[]> {
  return withFetched(nodesForConsistencyProof(size1, size2), fetch, (get) =>
    consistencyProofFromNodes(get, size1, size2),
  );
}

/**
 * All perfect-subtree hashes of a list of leaf hashes: `levels[l][i]` covers leaves
 * [i * 2^l, (i + 1) * 2^l). O(n) hashing.
 */
export function buildLevels(leafHashes: readonly Uint8Array[]): Uint8Array[][] {
  const levels: Uint8Array[][] = [leafHashes.map((h, i) => checkHash(`leafHashes[${i}]`, h))];
  for (;;) {
    const below = levels[levels.length - 1] as Uint8Array[];
    if (below.length < 2) return levels;
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2)
      next.push(hashChildren(below[i] as Uint8Array, below[i + 1] as Uint8Array));
    levels.push(next);
  }
}

function accessorOf(levels: readonly Uint8Array[][]): NodeAccessor {
  return (level, index) => {
    const h = levels[level]?.[index];
    if (h === undefined) throw new CryptoError("internal", `no node (${level}, ${index})`);
    return h;
  };
}

/**
 * An in-memory Merkle tree over leaf hashes, with proofs for any prefix size. Build it once and ask
 * many proofs; each proof costs O(log n) hashing.
 */
export class MerkleTree {
  readonly #levels: Uint8Array[][];
  readonly #get: NodeAccessor;

  private constructor(levels: Uint8Array[][]) {
    this.#levels = levels;
    this.#get = accessorOf(levels);
  }

  /** Builds the tree over already-hashed leaves. */
  static fromLeafHashes(leafHashes: readonly Uint8Array[]): MerkleTree {
    if (!Array.isArray(leafHashes)) throw new CryptoError("invalid_argument", "leafHashes must be an array");
    return new MerkleTree(buildLevels(leafHashes));
  }

  /** Builds the tree over leaf data, hashing each with H(0x00 || data). */
  static fromLeaves(leaves: readonly Uint8Array[]): MerkleTree {
    if (!Array.isArray(leaves)) throw new CryptoError("invalid_argument", "leaves must be an array");
    return new MerkleTree(buildLevels(leaves.map((d) => hashLeaf(d))));
  }

  /** Number of leaves. */
  get size(): number {
    return this.#levels[0]?.length ?? 0;
  }

  /** The node accessor over this tree (for code written against {@link NodeAccessor}). */
  get nodes(): NodeAccessor {
    return this.#get;
  }

  /** Hash of leaf `index`. */
  leafHash(index: number): Uint8Array {
    checkInteger("index", index, 0, this.size - 1);
    return this.#levels[0]?.[index] as Uint8Array;
  }

  /** MTH of the first `size` leaves (default: all). */
  root(size = this.size): Uint8Array {
    checkInteger("size", size, 0, this.size);
    return rootFromNodes(this.#get, size);
  }

  /** Inclusion proof for leaf `index` in the tree of the first `size` leaves (default: all). */
  inclusionProof(index: number, size = this.size): Uint8Array[] {
    checkInteger("size", size, 1, this.size);
    return inclusionProofFromNodes(this.#get, index, size);
  }

  /** Consistency proof from `size1` to `size2` (default: all). */
  consistencyProof(size1: number, size2 = this.size): Uint8Array[] {
    checkInteger("size2", size2, 0, this.size);
    return consistencyProofFromNodes(this.#get, size1, size2);
  }
}

/** MTH of a list of leaf data. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  return MerkleTree.fromLeaves(leaves).root();
}

/** MTH of a list of leaf hashes. */
export function merkleRootFromLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  return MerkleTree.fromLeafHashes(leafHashes).root();
}
