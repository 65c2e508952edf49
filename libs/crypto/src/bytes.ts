/**
 * Byte helpers shared by the modules of this package: argument checks that name the argument (the
 * noble convention), strict hex and base64 codecs, constant-time comparison, fixed-width integers.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { CryptoError } from "./crypto-error.js";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Throws `invalid_argument` unless `value` is a Uint8Array (of `length` bytes, when given). */
export function checkBytes(name: string, value: unknown, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new CryptoError("invalid_argument", `${name} must be a Uint8Array`);
  }
  if (length !== undefined && value.length !== length) {
    throw new CryptoError("invalid_argument", `${name} must be ${length} bytes, got ${value.length}`);
  }
  return value;
}

/** Throws `invalid_argument` unless `value` is a safe integer in [min, max]. */
export function checkInteger(name: string, value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new CryptoError(
      "invalid_argument",
      `${name} must be an integer in [${min}, ${max}], got ${String(value)}`,
    );
  }
  return value;
}

/** Throws `invalid_argument` unless `value` is a string. */
export function checkString(name: string, value: unknown): string {
  if (typeof value !== "string") throw new CryptoError("invalid_argument", `${name} must be a string`);
  return value;
}

/** UTF-8 encodes a string. */
export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Decodes UTF-8, throwing `malformed` (naming `what`) on invalid sequences. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch (cause) {
    throw new CryptoError("malformed", `${what} is not valid UTF-8`, { cause });
  }
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Constant-time equality for equal lengths (length itself is not secret). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** SHA-256 through node:crypto (OpenSSL). */
export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/** Strict lower-case hex decoder: throws `malformed` on odd length or other characters. */
export function fromHex(hex: string, what = "hex string"): Uint8Array {
  if (typeof hex !== "string" || !HEX_RE.test(hex)) {
    throw new CryptoError("malformed", `${what} is not lower-case hex`);
  }
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** Standard base64 with padding (RFC 4648 section 4). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64");
}

/**
 * Strict base64 decoder. Node's own decoder skips invalid characters silently (and mixes both
 * alphabets), which would let two different strings decode to the same bytes; this one accepts only
 * the canonical encoding: the standard alphabet with padding, or (when `allowUrlSafe`) the URL-safe
 * alphabet with or without padding — never a mix — with zero unused trailing bits. It decodes
 * leniently, then requires the canonical re-encoding to equal the input, which rejects every
 * deviation at native speed.
 */
export function fromBase64(text: string, what: string, allowUrlSafe = false): Uint8Array {
  if (typeof text !== "string") throw new CryptoError("malformed", `${what} is not a string`);
  const buf = Buffer.from(text, "base64");
  if (buf.toString("base64") === text) return new Uint8Array(buf); // copy: small Buffers share an allocation pool
  if (allowUrlSafe) {
    const url = buf.toString("base64url");
    if (text === url || text === url + "=".repeat((4 - (url.length % 4)) % 4)) {
      return new Uint8Array(buf); // copy: small Buffers share an allocation pool
    }
  }
  throw new CryptoError("malformed", `${what} is not canonical base64`);
}

/** 8-byte big-endian encoding of an unsigned 64-bit integer. */
export function u64be(value: bigint | number): Uint8Array {
  const v = typeof value === "bigint" ? value : BigInt(value);
  if (v < 0n || v > 0xffffffffffffffffn) throw new CryptoError("invalid_argument", "value must fit in u64");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
  return out;
}

/** 4-byte big-endian encoding of an unsigned 32-bit integer. */
export function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0);
  return out;
}

/** Length-prefixed (u32 big-endian) field, for unambiguous domain-separated encodings. */
export function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  return concatBytes(u32be(bytes.length), bytes);
}
