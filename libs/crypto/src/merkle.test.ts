import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { fromHex, toHex } from "./bytes.js";
import { CompactRange } from "./compact-range.js";
import { CryptoError, type CryptoErrorCode } from "./crypto-error.js";
import { emptyRoot, hashChildren, hashLeaf } from "./merkle-hash.js";
import { rootFromInclusionProof, verifyConsistency, verifyInclusion } from "./merkle-proof.js";
import {
  consistencyProofFromNodes,
  consistencyProofFromStore,
  inclusionProofFromNodes,
  inclusionProofFromStore,
  MerkleTree,
  nodesForInclusionProof,
  rootFromNodes,
  rootFromStore,
} from "./merkle-tree.js";

// RFC 6962 test data as used by transparency-dev/merkle (testonly/constants.go: LeafInputs, NodeHashes,
// RootHashes) and its proof tests (proof/verify_test.go: inclusionProofs, consistencyProofs), the same
// data as certificate-transparency-go's merkle tests.
const LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map((h) => fromHex(h));
const NODE_HASHES = [
  [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
  ],
  [
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
  ],
  [
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
  ],
  ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
// Leaf numbers are 1-based in the source vectors ({leaf, size, proof}).
const INCLUSION = [
  {
    leaf: 1,
    size: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    leaf: 6,
    size: 8,
    proof: [
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
  { leaf: 3, size: 3, proof: ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"] },
  {
    leaf: 2,
    size: 5,
    proof: [
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
  { leaf: 1, size: 1, proof: [] },
];
const CONSISTENCY = [
  { size1: 1, size2: 1, proof: [] },
  {
    size1: 1,
    size2: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    size1: 6,
    size2: 8,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
  {
    size1: 2,
    size2: 5,
    proof: [
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
  {
    size1: 6,
    size2: 7,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
];

function codeOf(fn: () => unknown): CryptoErrorCode | "none" {
  try {
    fn();
    return "none";
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
}

/** Independent reference MTH straight from RFC 6962 section 2.1 (recursive over slices). */
function referenceRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return emptyRoot();
  if (leafHashes.length === 1) return leafHashes[0] as Uint8Array;
  let k = 1;
  while (k * 2 < leafHashes.length) k *= 2;
  return hashChildren(referenceRoot(leafHashes.slice(0, k)), referenceRoot(leafHashes.slice(k)));
}

const tree = MerkleTree.fromLeaves(LEAVES);

test("leaf and node hashes match the RFC 6962 test data", () => {
  for (const [level, hashes] of NODE_HASHES.entries()) {
    for (const [i, h] of hashes.entries())
      assert.equal(toHex(tree.nodes(level, i)), h, `node (${level}, ${i})`);
  }
  assert.equal(toHex(emptyRoot()), ROOTS[0]);
});

test("roots for sizes 0..8 match the RFC 6962 test data", () => {
  for (let n = 0; n <= 8; n++) {
    assert.equal(toHex(tree.root(n)), ROOTS[n], `size ${n}`);
    assert.equal(toHex(MerkleTree.fromLeaves(LEAVES.slice(0, n)).root()), ROOTS[n]);
  }
});

test("known inclusion proofs are generated and verify; corruptions fail with bad_proof", () => {
  for (const v of INCLUSION) {
    const index = v.leaf - 1;
    const proof = v.proof.map((h) => fromHex(h));
    assert.deepEqual(tree.inclusionProof(index, v.size).map(toHex), v.proof, `leaf ${v.leaf} size ${v.size}`);
    const root = fromHex(ROOTS[v.size] as string);
    const leafHash = hashLeaf(LEAVES[index] as Uint8Array);
    verifyInclusion(leafHash, index, v.size, proof, root);
    assert.deepEqual(rootFromInclusionProof(leafHash, index, v.size, proof), root);
    // Probes modelled on transparency-dev/merkle corruptInclusionProof.
    const probes: Array<[number, number, Uint8Array, Uint8Array[]]> = [
      [index + 1, v.size, leafHash, proof],
      [index ^ 2, v.size, leafHash, proof],
      [index, v.size * 2, leafHash, proof],
      [index, Math.floor(v.size / 2), leafHash, proof],
      [index, v.size, hashLeaf(new TextEncoder().encode("WrongLeaf")), proof],
      [index, v.size, leafHash, [...proof, root]],
      [index, v.size, leafHash, [root, ...proof]],
    ];
    if (index > 0) probes.push([index - 1, v.size, leafHash, proof]);
    if (proof.length > 0) probes.push([index, v.size, leafHash, proof.slice(0, -1)]);
    for (const [i, s, l, p] of probes) {
      if (i === index && s === v.size && l === leafHash && p === proof) continue;
      assert.notEqual(
        codeOf(() => verifyInclusion(l, i, s, p, root)),
        "none",
        `probe ${i}/${s}`,
      );
    }
    assert.equal(
      codeOf(() => verifyInclusion(leafHash, index, v.size, proof, emptyRoot())),
      "bad_proof",
    );
  }
  assert.equal(
    codeOf(() => verifyInclusion(hashLeaf(new Uint8Array()), 0, 0, [], emptyRoot())),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyInclusion(new Uint8Array(31), 0, 1, [], emptyRoot())),
    "malformed",
  );
});

test("known consistency proofs are generated and verify; corruptions fail", () => {
  for (const v of CONSISTENCY) {
    const proof = v.proof.map((h) => fromHex(h));
    assert.deepEqual(tree.consistencyProof(v.size1, v.size2).map(toHex), v.proof, `${v.size1}->${v.size2}`);
    const r1 = fromHex(ROOTS[v.size1] as string);
    const r2 = fromHex(ROOTS[v.size2] as string);
    verifyConsistency(v.size1, v.size2, proof, r1, r2);
    if (proof.length === 0) continue;
    const probes: Array<[number, number, Uint8Array[], Uint8Array, Uint8Array]> = [
      [v.size1 - 1, v.size2, proof, r1, r2],
      [v.size1 + 1, v.size2, proof, r1, r2],
      [v.size1 ^ 2, v.size2, proof, r1, r2],
      [v.size1, v.size2 * 2, proof, r1, r2],
      [v.size1, Math.floor(v.size2 / 2), proof, r1, r2],
      [v.size1, v.size2, proof, r2, r1],
      [v.size1, v.size2, [], r1, r2],
      [v.size1, v.size2, [...proof, r1], r1, r2],
      [v.size1, v.size2, [r2, ...proof], r1, r2],
      [v.size1, v.size2, [proof[0] as Uint8Array, ...proof], r1, r2],
      [v.size1, v.size2, proof.slice(0, -1), r1, r2],
    ];
    for (const [i, p] of proof.entries()) {
      const bad = proof.map((h) => h.slice());
      (bad[i] as Uint8Array)[0] = ((bad[i] as Uint8Array)[0] as number) ^ 16;
      probes.push([v.size1, v.size2, bad, r1, r2]);
      void p;
    }
    for (const [s1, s2, p, a, b] of probes) {
      assert.notEqual(
        codeOf(() => verifyConsistency(s1, s2, p, a, b)),
        "none",
        `probe ${s1}->${s2}`,
      );
    }
  }
});

test("consistency edge cases follow transparency-dev/merkle TestVerifyConsistency", () => {
  const a = fromHex(ROOTS[1] as string);
  const b = fromHex(ROOTS[2] as string);
  const e = emptyRoot();
  assert.equal(
    codeOf(() => verifyConsistency(0, 0, [], a, b)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyConsistency(1, 1, [], a, b)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyConsistency(0, 0, [], a, a)),
    "none",
  );
  assert.equal(
    codeOf(() => verifyConsistency(0, 1, [], a, b)),
    "none",
  );
  assert.equal(
    codeOf(() => verifyConsistency(1, 1, [], b, b)),
    "none",
  );
  assert.equal(
    codeOf(() => verifyConsistency(1, 0, [], a, b)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyConsistency(2, 1, [], a, b)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyConsistency(1, 2, [], a, b)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyConsistency(0, 0, [e], e, e)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyConsistency(0, 1, [e], e, e)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyConsistency(1, 1, [e], e, e)),
    "bad_proof",
  );
  assert.equal(
    codeOf(() => verifyConsistency(1, 2, new Array(65).fill(e), a, b)),
    "too_large",
  );
});

test("the node accessor only asks for perfect subtrees inside the tree", () => {
  const n = 1000;
  const t = MerkleTree.fromLeaves(Array.from({ length: n }, (_, i) => new TextEncoder().encode(`leaf ${i}`)));
  let reads = 0;
  const get = (level: number, index: number) => {
    reads++;
    assert.ok((index + 1) * 2 ** level <= n, `(${level}, ${index}) exceeds size ${n}`);
    return t.nodes(level, index);
  };
  assert.deepEqual(rootFromNodes(get, n), t.root());
  reads = 0;
  assert.deepEqual(inclusionProofFromNodes(get, 777, n), t.inclusionProof(777));
  assert.ok(reads <= 2 * Math.ceil(Math.log2(n)), `inclusion used ${reads} reads`);
  reads = 0;
  assert.deepEqual(consistencyProofFromNodes(get, 333, n), t.consistencyProof(333));
  assert.ok(reads <= 3 * Math.ceil(Math.log2(n)), `consistency used ${reads} reads`);
});

test("compact range: frontier matches RFC 6962 test data and persists the nodes the accessor needs", () => {
  const leafHashes = LEAVES.map((d) => hashLeaf(d));
  let range = CompactRange.empty();
  assert.equal(toHex(range.root()), ROOTS[0]);
  const stored = new Map<string, Uint8Array>();
  for (let i = 0; i < leafHashes.length; i++) {
    const { range: next, newNodes } = range.append([leafHashes[i] as Uint8Array]);
    for (const node of newNodes) stored.set(`${node.level}/${node.index}`, node.hash);
    range = next;
    assert.equal(toHex(range.root()), ROOTS[i + 1], `size ${i + 1}`);
  }
  // Every node hash of the test data was emitted exactly where it belongs.
  for (const [level, hashes] of NODE_HASHES.entries()) {
    for (const [i, h] of hashes.entries()) assert.equal(toHex(stored.get(`${level}/${i}`) as Uint8Array), h);
  }
  // Frontier of size 7 is {nh[2][0], nh[1][2], nh[0][6]} (testonly CompactTrees).
  const seven = CompactRange.fromNodes((l, i) => stored.get(`${l}/${i}`) as Uint8Array, 7);
  assert.deepEqual(seven.hashes.map(toHex), [NODE_HASHES[2]?.[0], NODE_HASHES[1]?.[2], NODE_HASHES[0]?.[6]]);
  assert.deepEqual(
    seven.nodes().map((n) => [n.level, n.index]),
    [
      [2, 0],
      [1, 2],
      [0, 6],
    ],
  );
  assert.equal(toHex(CompactRange.fromHashes(7, seven.hashes).root()), ROOTS[7]);
  assert.equal(
    codeOf(() => CompactRange.fromHashes(7, seven.hashes.slice(1))),
    "invalid_argument",
  );
});

test("property: in-memory tree, node accessor, compact range and the reference MTH agree", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), (n, batch) => {
      const leafHashes = Array.from({ length: n }, (_, i) => hashLeaf(new Uint8Array([i & 0xff, i >> 8])));
      const t = MerkleTree.fromLeafHashes(leafHashes);
      assert.deepEqual(t.root(), referenceRoot(leafHashes));
      const split = n === 0 ? 0 : batch % (n + 1);
      const first = CompactRange.empty().append(leafHashes.slice(0, split));
      const both = first.range.append(leafHashes.slice(split));
      assert.equal(both.range.size, n);
      assert.deepEqual(both.range.root(), t.root());
      const stored = new Map<string, Uint8Array>();
      for (const node of [...first.newNodes, ...both.newNodes])
        stored.set(`${node.level}/${node.index}`, node.hash);
      const get = (l: number, i: number) => {
        const h = stored.get(`${l}/${i}`);
        assert.ok(h, `node ${l}/${i} was not emitted`);
        return h;
      };
      assert.deepEqual(rootFromNodes(get, n), t.root());
      if (n > 0) {
        const idx = batch % n;
        assert.deepEqual(inclusionProofFromNodes(get, idx, n), t.inclusionProof(idx));
      }
    }),
    { numRuns: 60 },
  );
});

test("property: inclusion proofs for random (index, size) verify, and fail when tampered", () => {
  const leaves = Array.from({ length: 3000 }, (_, i) => hashLeaf(new TextEncoder().encode(String(i))));
  const big = MerkleTree.fromLeafHashes(leaves);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3000 }), fc.nat(), fc.nat(), (size, rawIndex, flip) => {
      const index = rawIndex % size;
      const root = big.root(size);
      const proof = big.inclusionProof(index, size);
      const leaf = leaves[index] as Uint8Array;
      verifyInclusion(leaf, index, size, proof, root);
      if (proof.length > 0) {
        const bad = proof.map((h) => h.slice());
        const bit = flip % (proof.length * 256);
        const h = bad[Math.floor(bit / 256)] as Uint8Array;
        h[(bit % 256) >> 3] = (h[(bit % 256) >> 3] as number) ^ (1 << (bit & 7));
        assert.equal(
          codeOf(() => verifyInclusion(leaf, index, size, bad, root)),
          "bad_proof",
        );
      }
      const badLeaf = leaf.slice();
      badLeaf[flip % 32] = (badLeaf[flip % 32] as number) ^ 1;
      assert.equal(
        codeOf(() => verifyInclusion(badLeaf, index, size, proof, root)),
        "bad_proof",
      );
      if (size > 1) {
        const other = (index + 1 + (flip % (size - 1))) % size;
        assert.equal(
          codeOf(() => verifyInclusion(leaf, other, size, proof, root)),
          "bad_proof",
        );
      }
    }),
    { numRuns: 300 },
  );
});

test("property: consistency proofs for random size pairs up to 3000 verify, and fail when tampered", () => {
  const leaves = Array.from({ length: 3000 }, (_, i) => hashLeaf(new TextEncoder().encode(`c${i}`)));
  const big = MerkleTree.fromLeafHashes(leaves);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3000 }),
      fc.integer({ min: 1, max: 3000 }),
      fc.nat(),
      (a, b, flip) => {
        const size1 = Math.min(a, b);
        const size2 = Math.max(a, b);
        const r1 = big.root(size1);
        const r2 = big.root(size2);
        const proof = big.consistencyProof(size1, size2);
        verifyConsistency(size1, size2, proof, r1, r2);
        if (proof.length > 0) {
          const bad = proof.map((h) => h.slice());
          const bit = flip % (proof.length * 256);
          const h = bad[Math.floor(bit / 256)] as Uint8Array;
          h[(bit % 256) >> 3] = (h[(bit % 256) >> 3] as number) ^ (1 << (bit & 7));
          assert.equal(
            codeOf(() => verifyConsistency(size1, size2, bad, r1, r2)),
            "bad_proof",
          );
          assert.equal(
            codeOf(() => verifyConsistency(size1, size2, proof.slice(1), r1, r2)),
            "bad_proof",
          );
          const wrongRoot = r1.slice();
          wrongRoot[flip % 32] = (wrongRoot[flip % 32] as number) ^ 0x80;
          assert.equal(
            codeOf(() => verifyConsistency(size1, size2, proof, wrongRoot, r2)),
            "bad_proof",
          );
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("sizes beyond 2^32 are handled arithmetically", () => {
  // A perfect tree of 2^40 leaves whose every node at level l is the same synthetic hash.
  const levelHash: Uint8Array[] = [hashLeaf(new Uint8Array([7]))];
  for (let l = 1; l <= 41; l++)
    levelHash.push(hashChildren(levelHash[l - 1] as Uint8Array, levelHash[l - 1] as Uint8Array));
  const get = (level: number) => levelHash[level] as Uint8Array;
  const size = 2 ** 40 + 5;
  const index = 2 ** 33 + 3;
  const root = rootFromNodes(get, size);
  const proof = inclusionProofFromNodes(get, index, size);
  verifyInclusion(levelHash[0] as Uint8Array, index, size, proof, root);
  const cproof = consistencyProofFromNodes(get, 2 ** 35 + 1, size);
  verifyConsistency(2 ** 35 + 1, size, cproof, rootFromNodes(get, 2 ** 35 + 1), root);
});

test("async store helpers fetch exactly the needed nodes in one batch", async () => {
  const n = 777;
  const t = MerkleTree.fromLeaves(Array.from({ length: n }, (_, i) => new TextEncoder().encode(`s${i}`)));
  let batches = 0;
  const fetch = async (ids: readonly { level: number; index: number }[]) => {
    batches++;
    return ids.map((id) => {
      assert.ok((id.index + 1) * 2 ** id.level <= n);
      return t.nodes(id.level, id.index);
    });
  };
  assert.deepEqual(await rootFromStore(fetch, n), t.root());
  assert.deepEqual(await inclusionProofFromStore(fetch, 500, n), t.inclusionProof(500));
  assert.deepEqual(await consistencyProofFromStore(fetch, 300, n), t.consistencyProof(300));
  assert.equal(batches, 3);
  assert.ok(nodesForInclusionProof(500, n).length <= 2 * Math.ceil(Math.log2(n)));
  await assert.rejects(
    inclusionProofFromStore(async () => [], 1, n),
    (e) => e instanceof CryptoError && e.code === "internal",
  );
});
