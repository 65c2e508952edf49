/**
 * Verification of Merkle inclusion and consistency proofs, following the algorithms of RFC 9162
 * sections 2.1.3.2 and 2.1.4.2 step by step. Every proof, hash and size here may come from an
 * untrusted log; failures throw `bad_proof` (or `malformed` for a wrongly-sized hash). Shifts are
 * done arithmetically so tree sizes up to 2^53 work.
 */
import { bytesEqual, checkInteger } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { checkUntrustedHash, hashChildren } from "./merkle-hash.js";

/** No valid proof for a tree of at most 2^53 leaves is longer than this. */
export const MAX_PROOF_LENGTH = 64;

const lsb = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

function checkProof(proof: readonly Uint8Array[], what: string): void {
  if (!Array.isArray(proof)) throw new CryptoError("malformed", `${what} is not an array`);
  if (proof.length > MAX_PROOF_LENGTH)
    throw new CryptoError("too_large", `${what} has more than ${MAX_PROOF_LENGTH} hashes`);
  for (const [i, h] of proof.entries()) checkUntrustedHash(`${what}[${i}]`, h);
}

/**
 * Recomputes the root implied by an inclusion proof (RFC 9162 section 2.1.3.2, steps 1-5 without
 * the final comparison). Throws `bad_proof` if the proof has the wrong length for (index, size).
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  checkUntrustedHash("leafHash", leafHash);
  checkInteger("size", size);
  checkInteger("index", index);
  checkProof(proof, "inclusion proof");
  if (index >= size) throw new CryptoError("bad_proof", `leaf index ${index} is not below tree size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw new CryptoError("bad_proof", "inclusion proof is too long");
    if (lsb(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new CryptoError("bad_proof", "inclusion proof is too short");
  return r;
}

/**
 * Verifies that `leafHash` is leaf `index` of the tree of `size` leaves with root `root`.
 * Throws `bad_proof` otherwise.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkUntrustedHash("root", root);
  const computed = rootFromInclusionProof(leafHash, index, size, proof);
  if (!bytesEqual(computed, root))
    throw new CryptoError("bad_proof", "inclusion proof does not lead to the root");
}

/**
 * Verifies that the tree of `size1` leaves with root `root1` is a prefix of the tree of `size2`
 * leaves with root `root2` (RFC 9162 section 2.1.4.2). Equal sizes need an empty proof and equal
 * roots; size1 = 0 is consistent with anything (empty proof). Throws `bad_proof` otherwise.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  checkInteger("size1", size1);
  checkInteger("size2", size2);
  checkProof(proof, "consistency proof");
  checkUntrustedHash("root1", root1);
  checkUntrustedHash("root2", root2);
  if (size2 < size1) throw new CryptoError("bad_proof", `size2 ${size2} is smaller than size1 ${size1}`);
  if (size1 === size2) {
    if (proof.length !== 0)
      throw new CryptoError("bad_proof", "consistency proof between equal sizes must be empty");
    if (!bytesEqual(root1, root2)) throw new CryptoError("bad_proof", "roots differ for equal tree sizes");
    return;
  }
  if (size1 === 0) {
    if (proof.length !== 0)
      throw new CryptoError("bad_proof", "consistency proof from the empty tree must be empty");
    return;
  }
  if (proof.length === 0) throw new CryptoError("bad_proof", "consistency proof is empty");
  // Step 1: if size1 is an exact power of 2, the proof omits root1; prepend it.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) throw new CryptoError("bad_proof", "consistency proof is too long");
    if (lsb(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new CryptoError("bad_proof", "consistency proof is too short");
  if (!bytesEqual(fr, root1)) throw new CryptoError("bad_proof", "consistency proof does not lead to root1");
  if (!bytesEqual(sr, root2)) throw new CryptoError("bad_proof", "consistency proof does not lead to root2");
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}
