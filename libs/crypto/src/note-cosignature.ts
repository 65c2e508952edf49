/**
 * Timestamped Ed25519 witness cosignatures, c2sp.org/tlog-cosignature ("cosignature/v1", note
 * signature type 0x04). The signature bytes are u64be(timestamp) || Ed25519 signature over
 * "cosignature/v1\ntime <timestamp>\n" || checkpoint note text.
 */
import { checkInteger, concatBytes, fromBase64, toBase64, u64be, utf8 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { Ed25519PrivateKey, Ed25519PublicKey } from "./ed25519-key.js";
import {
  formatKeyId,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  noteKeyId,
} from "./signed-note.js";

/** Signature type byte of timestamped Ed25519 cosignatures. */
export const NOTE_ALG_COSIGNATURE_V1 = 0x04;

const MAX_TIMESTAMP = 2n ** 63n - 1n;

function cosignedMessage(timestamp: bigint, text: Uint8Array): Uint8Array {
  return concatBytes(utf8(`cosignature/v1\ntime ${timestamp.toString(10)}\n`), text);
}

/**
 * A cosignature/v1 signer. `now` returns the POSIX time in seconds (injected so the library stays
 * pure and tests are deterministic).
 */
export function cosignatureV1Signer(name: string, key: Ed25519PrivateKey, now: () => number): NoteSigner {
  if (!(key instanceof Ed25519PrivateKey))
    throw new CryptoError("invalid_argument", "key must be an Ed25519PrivateKey");
  const keyId = noteKeyId(name, NOTE_ALG_COSIGNATURE_V1, key.publicKey.raw);
  return {
    name,
    keyId,
    sign(text) {
      const t = BigInt(checkInteger("now()", now()));
      return concatBytes(u64be(t), key.sign(cosignedMessage(t, text)));
    },
  };
}

/** A cosignature/v1 verifier (accepts any timestamp up to 2^63 - 1; check freshness with {@link cosignatureTimestamp}). */
export function cosignatureV1Verifier(name: string, key: Ed25519PublicKey): NoteVerifier {
  if (!(key instanceof Ed25519PublicKey))
    throw new CryptoError("invalid_argument", "key must be an Ed25519PublicKey");
  const keyId = noteKeyId(name, NOTE_ALG_COSIGNATURE_V1, key.raw);
  return {
    name,
    keyId,
    verify(text, signature) {
      // `signature` comes from an untrusted note line.
      if (signature.length !== 8 + 64) return false;
      const t = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0);
      if (t > MAX_TIMESTAMP) return false;
      return key.verify(cosignedMessage(t, text), signature.subarray(8));
    },
  };
}

/** The POSIX timestamp (seconds) of a cosignature/v1 signature; `malformed` if it has the wrong length. */
export function cosignatureTimestamp(sig: NoteSignature): bigint {
  if (sig.signature.length !== 72) throw new CryptoError("malformed", "not a cosignature/v1 signature");
  return new DataView(sig.signature.buffer, sig.signature.byteOffset, 8).getBigUint64(0);
}

/**
 * Verifier key string of a witness, `name+hex8(keyID)+base64(0x04 || pubkey)` (c2sp.org/tlog-cosignature:
 * the same encoding as signed-note verifier keys, with the cosignature/v1 type byte).
 */
export function formatCosignatureVerifierKey(name: string, key: Ed25519PublicKey): string {
  const v = cosignatureV1Verifier(name, key);
  return `${name}+${formatKeyId(v.keyId)}+${toBase64(concatBytes(new Uint8Array([NOTE_ALG_COSIGNATURE_V1]), key.raw))}`;
}

/** A parsed witness verifier key. */
export interface CosignatureVerifierKey {
  readonly verifier: NoteVerifier;
  readonly name: string;
  readonly publicKey: Ed25519PublicKey;
}

/**
 * Parses a witness verifier key (see {@link formatCosignatureVerifierKey}); operator-supplied, checked
 * fully. Throws `malformed` for any other shape, another type byte, or a key ID that does not match.
 */
export function parseCosignatureVerifierKey(vkey: string): CosignatureVerifierKey {
  if (typeof vkey !== "string" || vkey.length > 1024)
    throw new CryptoError("malformed", "witness verifier key is not a key string");
  const a = vkey.indexOf("+");
  const b = a < 0 ? -1 : vkey.indexOf("+", a + 1);
  if (a <= 0 || b < 0)
    throw new CryptoError("malformed", "witness verifier key must be name+hex8(key id)+base64(0x04||key)");
  const name = vkey.slice(0, a);
  const hex = vkey.slice(a + 1, b);
  if (!/^[0-9a-f]{8}$/.test(hex))
    throw new CryptoError("malformed", "witness verifier key ID is not 8 lower-case hex digits");
  const material = fromBase64(vkey.slice(b + 1), "witness verifier key material");
  if (material.length !== 33 || material[0] !== NOTE_ALG_COSIGNATURE_V1)
    throw new CryptoError(
      "malformed",
      "witness verifier key is not a cosignature/v1 (type 0x04) Ed25519 key",
    );
  let verifier: NoteVerifier;
  let publicKey: Ed25519PublicKey;
  try {
    publicKey = Ed25519PublicKey.fromRaw(material.subarray(1));
    verifier = cosignatureV1Verifier(name, publicKey);
  } catch (cause) {
    throw new CryptoError("malformed", "witness verifier key has a bad name or key", { cause });
  }
  if (formatKeyId(verifier.keyId) !== hex)
    throw new CryptoError("malformed", "witness verifier key ID does not match name and key");
  return { verifier, name, publicKey };
}
