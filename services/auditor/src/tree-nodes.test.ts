/**
 * TreeNodes against libs/crypto's MerkleTree (RFC 6962, itself tested on the RFC vectors): the root of every
 * prefix and every leaf hash agree, however the leaves were appended (one at a time or in batches).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { hashLeaf, MerkleTree, toHex } from "@lineage/crypto";
import fc from "fast-check";
import { TreeNodes } from "./tree-nodes.js";

test("the root of every prefix and every leaf hash are the RFC 6962 tree's, for any batching", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 8 }), { minLength: 1, maxLength: 80 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 20 }),
      (leaves, batches) => {
        const tree = MerkleTree.fromLeaves(leaves);
        const nodes = new TreeNodes();
        let at = 0;
        for (let b = 0; at < leaves.length; b++) {
          const n = batches[b % batches.length] as number;
          nodes.append(leaves.slice(at, at + n).map((l) => hashLeaf(l)));
          at = Math.min(leaves.length, at + n);
        }
        assert.equal(nodes.size, leaves.length);
        for (let k = 1; k <= leaves.length; k++) {
          assert.equal(toHex(nodes.rootAt(k)), toHex(tree.root(k)), `root of ${k}`);
          assert.equal(toHex(nodes.leafHash(k - 1)), toHex(hashLeaf(leaves[k - 1] as Uint8Array)));
        }
        assert.equal(toHex(nodes.root()), toHex(tree.root(leaves.length)));
      },
    ),
    { numRuns: 60 },
  );
});

test("sizes and indexes outside the tree are refused", () => {
  const nodes = new TreeNodes();
  nodes.append([hashLeaf(new Uint8Array([1])), hashLeaf(new Uint8Array([2]))]);
  assert.throws(
    () => nodes.rootAt(3),
    (e: unknown) => (e as { code?: string }).code === "internal",
  );
  assert.throws(
    () => nodes.leafHash(2),
    (e: unknown) => (e as { code?: string }).code === "internal",
  );
  assert.throws(
    () => nodes.rootAt(-1),
    (e: unknown) => (e as { code?: string }).code === "internal",
  );
});
