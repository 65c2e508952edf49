/**
 * RFC 6962 section 2.1 / RFC 9162 section 2.1.1 Merkle tree hashing with SHA-256:
 * leaf = H(0x00 || data), node = H(0x01 || left || right), empty tree = H("").
 */
import { createHash } from "node:crypto";
import { checkBytes } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";

/** Size of every Merkle hash. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

function digest(h: ReturnType<typeof createHash>): Uint8Array {
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

/** MTH of the empty tree: SHA-256 of the empty string. */
export function emptyRoot(): Uint8Array {
  return digest(createHash("sha256"));
}

/** Leaf hash H(0x00 || data). */
export function hashLeaf(data: Uint8Array): Uint8Array {
  checkBytes("data", data);
  return digest(createHash("sha256").update(LEAF_PREFIX).update(data));
}

/** Interior node hash H(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return digest(createHash("sha256").update(NODE_PREFIX).update(left).update(right));
}

/** Throws `invalid_argument` unless `hash` is a 32-byte Uint8Array. */
export function checkHash(name: string, hash: unknown): Uint8Array {
  return checkBytes(name, hash, HASH_SIZE);
}

/** Like {@link checkHash} but for attacker-supplied hashes: throws `malformed`. */
export function checkUntrustedHash(name: string, hash: unknown): Uint8Array {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
    throw new CryptoError("malformed", `${name} must be a ${HASH_SIZE}-byte hash`);
  }
  return hash;
}
