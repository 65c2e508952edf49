/**
 * Ed25519 keys (RFC 8032) with stable key ids: `keyId = hex(SHA-256(raw 32-byte public key))`.
 *
 * Signing and verification run on node:crypto (OpenSSL), roughly 10x faster than pure JS, with the
 * KeyObjects built once per key. The pure-JS path through @noble/curves gives the same bytes (Ed25519
 * is deterministic) and is exported for interop checks and environments without OpenSSL Ed25519.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { checkBytes, concatBytes, fromHex, sha256, toHex } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";

/** Size of a raw Ed25519 public key, private seed and signature. */
export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SEED_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

// DER prefixes of the fixed-size SubjectPublicKeyInfo / PKCS#8 encodings for id-Ed25519 (RFC 8410).
const SPKI_PREFIX = fromHex("302a300506032b6570032100");
const PKCS8_PREFIX = fromHex("302e020100300506032b657004220420");

/** Computes the Lineage key id of a raw 32-byte Ed25519 public key. */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  checkBytes("rawPublicKey", rawPublicKey, ED25519_PUBLIC_KEY_SIZE);
  return toHex(sha256(rawPublicKey));
}

function pemBody(pem: string, label: string, what: string): Uint8Array {
  // Untrusted input when a key file or a registration request is imported.
  if (typeof pem !== "string" || pem.length > 4096)
    throw new CryptoError("malformed", `${what} is not a PEM string`);
  const re = new RegExp(
    `^-----BEGIN ${label}-----\\r?\\n([A-Za-z0-9+/=\\r\\n]+)-----END ${label}-----\\r?\\n?$`,
  );
  const m = re.exec(`${pem.trim()}\n`);
  if (m === null || m[1] === undefined)
    throw new CryptoError("malformed", `${what} is not a ${label} PEM block`);
  return new Uint8Array(Buffer.from(m[1].replace(/\r?\n/g, ""), "base64"));
}

function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function stripPrefix(der: Uint8Array, prefix: Uint8Array, what: string): Uint8Array {
  if (der.length !== prefix.length + 32 || !prefix.every((b, i) => der[i] === b)) {
    throw new CryptoError("malformed", `${what} is not an Ed25519 key encoding`);
  }
  return der.slice(prefix.length);
}

/** An Ed25519 public key: raw bytes, key id, and a cached node:crypto KeyObject for fast verification. */
export class Ed25519PublicKey {
  readonly #raw: Uint8Array;
  #keyObject: KeyObject | undefined;
  /** hex(SHA-256(raw public key)). */
  readonly keyId: string;

  private constructor(raw: Uint8Array) {
    this.#raw = raw;
    this.keyId = keyIdOf(raw);
  }

  /**
   * The node:crypto KeyObject, built at the first verification: a hub replaying its log imports every
   * member key ever enrolled, most of which verify nothing in that process (~0.2 ms each; bench:startup).
   */
  #key(): KeyObject {
    this.#keyObject ??= createPublicKey({
      key: Buffer.from(concatBytes(SPKI_PREFIX, this.#raw)),
      format: "der",
      type: "spki",
    });
    return this.#keyObject;
  }

  /**
   * Imports a raw 32-byte public key. Rejects encodings that are not a point on the curve (RFC 8032
   * section 5.1.3 decoding, non-ZIP-215) and small-order points, so a junk or weak key fails at
   * registration, not at first use.
   */
  static fromRaw(raw: Uint8Array): Ed25519PublicKey {
    checkBytes("raw", raw, ED25519_PUBLIC_KEY_SIZE);
    let smallOrder: boolean;
    try {
      smallOrder = ed25519.Point.fromBytes(raw, false).isSmallOrder();
    } catch (cause) {
      throw new CryptoError("malformed", "raw is not a valid Ed25519 public key encoding", { cause });
    }
    // A small-order key admits signatures valid for many messages; no honest key is one.
    if (smallOrder) throw new CryptoError("malformed", "raw is a small-order (weak) Ed25519 public key");
    return new Ed25519PublicKey(raw.slice());
  }

  /** Imports a DER SubjectPublicKeyInfo (RFC 8410). */
  static fromSpki(der: Uint8Array): Ed25519PublicKey {
    checkBytes("der", der);
    return Ed25519PublicKey.fromRaw(stripPrefix(der, SPKI_PREFIX, "SPKI"));
  }

  /** Imports a `PUBLIC KEY` PEM block (SPKI). */
  static fromPem(pem: string): Ed25519PublicKey {
    return Ed25519PublicKey.fromSpki(pemBody(pem, "PUBLIC KEY", "public key PEM"));
  }

  /** The raw 32-byte key (a copy). */
  get raw(): Uint8Array {
    return this.#raw.slice();
  }

  /** DER SubjectPublicKeyInfo. */
  toSpki(): Uint8Array {
    return concatBytes(SPKI_PREFIX, this.#raw);
  }

  /** `PUBLIC KEY` PEM block. */
  toPem(): string {
    return toPem(this.toSpki(), "PUBLIC KEY");
  }

  /** True when both keys have the same raw bytes. */
  equals(other: Ed25519PublicKey): boolean {
    return this.keyId === other.keyId;
  }

  /**
   * Verifies a signature over `message` with node:crypto. Returns false (never throws) for a wrong
   * signature, including one of the wrong length: `message` and `signature` are attacker-controlled.
   */
  verify(message: Uint8Array, signature: Uint8Array): boolean {
    checkBytes("message", message);
    checkBytes("signature", signature);
    if (signature.length !== ED25519_SIGNATURE_SIZE) return false;
    return nodeVerify(null, message, this.#key(), signature);
  }

  /**
   * Like {@link verify} but runs in libuv's thread pool (node:crypto's callback form), so several
   * verifications proceed in parallel on all cores while the event loop stays free.
   */
  verifyAsync(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    checkBytes("message", message);
    checkBytes("signature", signature);
    if (signature.length !== ED25519_SIGNATURE_SIZE) return Promise.resolve(false);
    return new Promise((resolve) => {
      nodeVerify(null, message, this.#key(), signature, (err, ok) => resolve(err === null && ok));
    });
  }

  /** Verifies with the pure-JS @noble/curves implementation (strict RFC 8032 decoding, no ZIP-215). */
  verifyNoble(message: Uint8Array, signature: Uint8Array): boolean {
    return nobleVerify(this.#raw, message, signature);
  }
}

/** An Ed25519 private key (32-byte seed) with its public key. */
export class Ed25519PrivateKey {
  readonly #seed: Uint8Array;
  readonly #keyObject: KeyObject;
  /** The matching public key. */
  readonly publicKey: Ed25519PublicKey;

  private constructor(seed: Uint8Array) {
    this.#seed = seed;
    this.#keyObject = createPrivateKey({
      key: Buffer.from(concatBytes(PKCS8_PREFIX, seed)),
      format: "der",
      type: "pkcs8",
    });
    const spki = createPublicKey(this.#keyObject).export({ format: "der", type: "spki" });
    this.publicKey = Ed25519PublicKey.fromSpki(new Uint8Array(spki));
  }

  /** A fresh key from the OS CSPRNG (through OpenSSL). */
  static generate(): Ed25519PrivateKey {
    const { privateKey } = generateKeyPairSync("ed25519");
    const der = new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" }));
    return new Ed25519PrivateKey(stripPrefix(der, PKCS8_PREFIX, "PKCS#8"));
  }

  /** Imports a raw 32-byte seed (RFC 8032 "secret key"). */
  static fromSeed(seed: Uint8Array): Ed25519PrivateKey {
    checkBytes("seed", seed, ED25519_SEED_SIZE);
    return new Ed25519PrivateKey(seed.slice());
  }

  /** Imports a DER PKCS#8 private key (RFC 8410, no attributes or public key field). */
  static fromPkcs8(der: Uint8Array): Ed25519PrivateKey {
    checkBytes("der", der);
    return new Ed25519PrivateKey(stripPrefix(der, PKCS8_PREFIX, "PKCS#8"));
  }

  /** Imports a `PRIVATE KEY` PEM block (PKCS#8). */
  static fromPem(pem: string): Ed25519PrivateKey {
    return Ed25519PrivateKey.fromPkcs8(pemBody(pem, "PRIVATE KEY", "private key PEM"));
  }

  /** The key id of the public key. */
  get keyId(): string {
    return this.publicKey.keyId;
  }

  /** The raw 32-byte seed (a copy). Secret: never log or send it. */
  seed(): Uint8Array {
    return this.#seed.slice();
  }

  /** DER PKCS#8. Secret. */
  toPkcs8(): Uint8Array {
    return concatBytes(PKCS8_PREFIX, this.#seed);
  }

  /** `PRIVATE KEY` PEM block (PKCS#8). Secret. */
  toPem(): string {
    return toPem(this.toPkcs8(), "PRIVATE KEY");
  }

  /** Signs `message` with node:crypto; returns the 64-byte signature. */
  sign(message: Uint8Array): Uint8Array {
    checkBytes("message", message);
    const sig = nodeSign(null, message, this.#keyObject);
    return new Uint8Array(sig.buffer, sig.byteOffset, sig.length);
  }

  /** Signs with the pure-JS @noble/curves implementation (same bytes as {@link sign}). */
  signNoble(message: Uint8Array): Uint8Array {
    return nobleSign(this.#seed, message);
  }
}

/** Pure-JS Ed25519 signing (@noble/curves). */
export function nobleSign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  checkBytes("seed", seed, ED25519_SEED_SIZE);
  checkBytes("message", message);
  return ed25519.sign(message, seed);
}

/** Pure-JS Ed25519 public key derivation (@noble/curves). */
export function noblePublicKey(seed: Uint8Array): Uint8Array {
  checkBytes("seed", seed, ED25519_SEED_SIZE);
  return ed25519.getPublicKey(seed);
}

/**
 * Pure-JS Ed25519 verification (@noble/curves) with strict RFC 8032 / FIPS 186-5 decoding
 * (`zip215: false`), matching OpenSSL's acceptance rules. Returns false on any malformed input.
 */
export function nobleVerify(rawPublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  checkBytes("rawPublicKey", rawPublicKey, ED25519_PUBLIC_KEY_SIZE);
  checkBytes("message", message);
  checkBytes("signature", signature);
  if (signature.length !== ED25519_SIGNATURE_SIZE) return false;
  try {
    return ed25519.verify(signature, message, rawPublicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * A set of trusted public keys indexed by key id. Verifiers across the package take one; build it
 * once (e.g. from the member registry) so the KeyObjects are reused for every verification.
 */
export class KeyRing {
  readonly #keys = new Map<string, Ed25519PublicKey>();

  constructor(keys: Iterable<Ed25519PublicKey> = []) {
    for (const k of keys) this.add(k);
  }

  /** Adds a key (idempotent). */
  add(key: Ed25519PublicKey): this {
    if (!(key instanceof Ed25519PublicKey))
      throw new CryptoError("invalid_argument", "key must be an Ed25519PublicKey");
    this.#keys.set(key.keyId, key);
    return this;
  }

  /** The key with this id, if trusted. */
  get(keyId: string): Ed25519PublicKey | undefined {
    return this.#keys.get(keyId);
  }

  /** Whether a key id is trusted. */
  has(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  /** Number of keys. */
  get size(): number {
    return this.#keys.size;
  }

  /** All trusted keys. */
  keys(): IterableIterator<Ed25519PublicKey> {
    return this.#keys.values();
  }
}
