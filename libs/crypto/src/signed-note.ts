/**
 * C2SP signed-note v1 (c2sp.org/signed-note; same format as golang.org/x/mod/sumdb/note): a UTF-8
 * text ending in a newline, a blank line, then signature lines `— <name> <base64(keyID || sig)>\n`.
 * Ed25519 keys (type 0x01) have key ID = SHA-256(name || 0x0A || 0x01 || pubkey)[:4], verifier keys
 * are written `name+hex8(keyID)+base64(0x01 || pubkey)`. Witness cosignatures (type 0x04,
 * c2sp.org/tlog-cosignature) are in `note-cosignature.ts`.
 */
import {
  checkBytes,
  checkString,
  concatBytes,
  decodeUtf8,
  fromBase64,
  sha256,
  toBase64,
  u32be,
  utf8,
} from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import {
  ED25519_PUBLIC_KEY_SIZE,
  ED25519_SEED_SIZE,
  Ed25519PrivateKey,
  Ed25519PublicKey,
} from "./ed25519-key.js";

/** Signature type byte of plain Ed25519 note signatures. */
export const NOTE_ALG_ED25519 = 0x01;

/** Anything that signs note text under a (name, key ID) pair. */
export interface NoteSigner {
  readonly name: string;
  /** 32-bit key ID (unsigned). */
  readonly keyId: number;
  /** Signs the note text (the bytes of the text, ending in a newline). */
  sign(text: Uint8Array): Uint8Array;
}

/** Anything that verifies note signatures for one (name, key ID) pair. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** Verifies `signature` (the bytes after the 4-byte key ID) over the note text. Never throws for bad input. */
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes after the 4-byte key ID. */
  readonly signature: Uint8Array;
}

/** A note opened by {@link openNote}. */
export interface OpenedNote {
  /** The note text, including its final newline. */
  readonly text: string;
  /** Signatures by known verifiers that verified, in note order. */
  readonly verified: readonly NoteSignature[];
  /** Signatures by keys the caller does not know, kept as they were (e.g. to re-serialise). */
  readonly unverified: readonly NoteSignature[];
}

/** Bounds on notes; attacker-supplied notes are checked against them before any parsing. */
export interface NoteLimits {
  /** Maximum note size in bytes (default 64 KiB). */
  readonly maxBytes: number;
  /** Maximum number of text lines (default 64). */
  readonly maxTextLines: number;
  /** Maximum number of signature lines (default 32; the spec asks for at least 16). */
  readonly maxSignatures: number;
}

/** Default {@link NoteLimits}. */
export const DEFAULT_NOTE_LIMITS: NoteLimits = Object.freeze({
  maxBytes: 64 * 1024,
  maxTextLines: 64,
  maxSignatures: 32,
});

const EM_DASH_PREFIX = "\u2014 ";
// Unicode white space (\s in JS covers the Unicode Space_Separator set plus line terminators).
const BAD_NAME_RE = /[\s+]/u;

/** Throws `invalid_argument` (or `malformed`, for parsed input) unless `name` is a valid key name. */
function checkKeyName(name: string, code: "invalid_argument" | "malformed" = "invalid_argument"): string {
  if (
    typeof name !== "string" ||
    name.length === 0 ||
    name.length > 256 ||
    BAD_NAME_RE.test(name) ||
    hasControl(name)
  ) {
    throw new CryptoError(
      code,
      "note key name must be 1..256 characters without spaces, '+' or control characters",
    );
  }
  return name;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x0a) || c === 0x7f) return true;
  }
  return false;
}

/** Key ID = SHA-256(name || 0x0A || type || public key)[:4], as an unsigned 32-bit integer. */
export function noteKeyId(name: string, type: number, publicKey: Uint8Array): number {
  checkKeyName(name);
  checkBytes("publicKey", publicKey);
  const h = sha256(utf8(name), new Uint8Array([0x0a, type]), publicKey);
  return new DataView(h.buffer, h.byteOffset, 4).getUint32(0);
}

/** Formats a key ID as 8 lower-case hex digits. */
export function formatKeyId(keyId: number): string {
  return keyId.toString(16).padStart(8, "0");
}

/** A plain Ed25519 note signer. */
export function ed25519NoteSigner(name: string, key: Ed25519PrivateKey): NoteSigner {
  checkKeyName(name);
  if (!(key instanceof Ed25519PrivateKey))
    throw new CryptoError("invalid_argument", "key must be an Ed25519PrivateKey");
  const keyId = noteKeyId(name, NOTE_ALG_ED25519, key.publicKey.raw);
  return { name, keyId, sign: (text) => key.sign(text) };
}

/** A plain Ed25519 note verifier. */
export function ed25519NoteVerifier(name: string, key: Ed25519PublicKey): NoteVerifier {
  checkKeyName(name);
  if (!(key instanceof Ed25519PublicKey))
    throw new CryptoError("invalid_argument", "key must be an Ed25519PublicKey");
  const keyId = noteKeyId(name, NOTE_ALG_ED25519, key.raw);
  return { name, keyId, verify: (text, sig) => key.verify(text, sig) };
}

/** Verifier key string `name+hex8(keyID)+base64(0x01 || pubkey)`. */
export function formatVerifierKey(name: string, key: Ed25519PublicKey): string {
  const v = ed25519NoteVerifier(name, key);
  return `${name}+${formatKeyId(v.keyId)}+${toBase64(concatBytes(new Uint8Array([NOTE_ALG_ED25519]), key.raw))}`;
}

function splitKey(s: string, parts: number, what: string): string[] {
  if (typeof s !== "string" || s.length > 1024)
    throw new CryptoError("malformed", `${what} is not a key string`);
  // The last field is base64 and may itself contain '+': split off the first parts-1 fields only.
  const fields: string[] = [];
  let rest = s;
  for (let i = 0; i < parts - 1; i++) {
    const at = rest.indexOf("+");
    if (at < 0) throw new CryptoError("malformed", `${what} must have ${parts} '+'-separated fields`);
    fields.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  fields.push(rest);
  return fields;
}

function parseKeyIdHex(hex: string | undefined, what: string): number {
  if (hex === undefined || !/^[0-9a-f]{8}$/.test(hex))
    throw new CryptoError("malformed", `${what} key ID is not 8 hex digits`);
  return Number.parseInt(hex, 16);
}

/**
 * Parses a verifier key string (Ed25519 type 0x01 only). Throws `malformed` on any deviation,
 * including a key ID that does not match the name and key. Operator-supplied, but checked fully.
 */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const [name, hex, b64] = splitKey(vkey, 3, "verifier key");
  checkKeyName(name as string, "malformed");
  const keyId = parseKeyIdHex(hex, "verifier key");
  const material = fromBase64(b64 as string, "verifier key material");
  if (material.length !== 1 + ED25519_PUBLIC_KEY_SIZE || material[0] !== NOTE_ALG_ED25519) {
    throw new CryptoError("malformed", "verifier key is not an Ed25519 (type 0x01) key");
  }
  const verifier = ed25519NoteVerifier(name as string, Ed25519PublicKey.fromRaw(material.subarray(1)));
  if (verifier.keyId !== keyId)
    throw new CryptoError("malformed", "verifier key ID does not match name and key");
  return verifier;
}

/** Signer key string `PRIVATE+KEY+name+hex8(keyID)+base64(0x01 || seed)` (golang.org/x/mod/sumdb/note). Secret. */
export function formatSignerKey(name: string, key: Ed25519PrivateKey): string {
  const s = ed25519NoteSigner(name, key);
  return `PRIVATE+KEY+${name}+${formatKeyId(s.keyId)}+${toBase64(concatBytes(new Uint8Array([NOTE_ALG_ED25519]), key.seed()))}`;
}

/** Parses a signer key string (see {@link formatSignerKey}); returns the signer and its key. */
export function parseSignerKey(skey: string): { signer: NoteSigner; key: Ed25519PrivateKey } {
  const [p, k, name, hex, b64] = splitKey(skey, 5, "signer key");
  if (p !== "PRIVATE" || k !== "KEY")
    throw new CryptoError("malformed", "signer key must start with PRIVATE+KEY+");
  checkKeyName(name as string, "malformed");
  const keyId = parseKeyIdHex(hex, "signer key");
  const material = fromBase64(b64 as string, "signer key material");
  if (material.length !== 1 + ED25519_SEED_SIZE || material[0] !== NOTE_ALG_ED25519) {
    throw new CryptoError("malformed", "signer key is not an Ed25519 (type 0x01) key");
  }
  const key = Ed25519PrivateKey.fromSeed(material.subarray(1));
  const signer = ed25519NoteSigner(name as string, key);
  if (signer.keyId !== keyId) throw new CryptoError("malformed", "signer key ID does not match name and key");
  return { signer, key };
}

/** Checks note text rules: non-empty, ends in "\n", no control characters but "\n", no "\n\n" at the end. */
function checkText(text: string, code: "invalid_argument" | "malformed"): void {
  if (text.length === 0 || !text.endsWith("\n"))
    throw new CryptoError(code, "note text must be non-empty and end in a newline");
  if (hasControl(text)) throw new CryptoError(code, "note text contains control characters");
}

function formatSignatureLine(s: NoteSignature): string {
  return `${EM_DASH_PREFIX}${s.name} ${toBase64(concatBytes(u32be(s.keyId), s.signature))}\n`;
}

/**
 * Signs `text` with every signer and returns the signed note. `keep` signatures (e.g. the unverified
 * ones of an opened note, or a log signature a witness adds to) are kept first, minus any from the same
 * (name, key ID) as a new signer, which are replaced.
 */
export function signNote(
  text: string,
  signers: readonly NoteSigner[],
  keep: readonly NoteSignature[] = [],
): string {
  checkString("text", text);
  checkText(text, "invalid_argument");
  const bytes = utf8(text);
  const fresh: NoteSignature[] = signers.map((s) => {
    checkKeyName(s.name);
    return { name: s.name, keyId: s.keyId >>> 0, signature: s.sign(bytes) };
  });
  const sigs = [
    ...keep.filter((k) => !fresh.some((f) => f.name === k.name && f.keyId === k.keyId)),
    ...fresh,
  ];
  if (sigs.length === 0) throw new CryptoError("invalid_argument", "a note needs at least one signature");
  return `${text}\n${sigs.map(formatSignatureLine).join("")}`;
}

/** Parses a signed note without verifying; `note` is attacker-controlled. */
export function parseNote(
  note: string | Uint8Array,
  limits: NoteLimits = DEFAULT_NOTE_LIMITS,
): { text: string; signatures: NoteSignature[] } {
  const byteLength = typeof note === "string" ? Buffer.byteLength(note, "utf8") : note.length;
  if (byteLength > limits.maxBytes)
    throw new CryptoError("too_large", `note is ${byteLength} bytes, limit ${limits.maxBytes}`);
  const msg = typeof note === "string" ? note : decodeUtf8(note, "note");
  if (typeof msg !== "string") throw new CryptoError("malformed", "note is not a string");
  if (hasControl(msg)) throw new CryptoError("malformed", "note contains control characters");
  // The text is separated from the signatures by the last blank line.
  const split = msg.lastIndexOf("\n\n");
  if (split < 0) throw new CryptoError("malformed", "note has no blank line before its signatures");
  const text = msg.slice(0, split + 1);
  const sigBlock = msg.slice(split + 2);
  const textLines = text.split("\n").length - 1;
  if (textLines > limits.maxTextLines)
    throw new CryptoError("too_large", `note text has ${textLines} lines, limit ${limits.maxTextLines}`);
  if (!sigBlock.endsWith("\n")) throw new CryptoError("malformed", "note signatures must end in a newline");
  const lines = sigBlock.slice(0, -1).split("\n");
  if (lines.length > limits.maxSignatures) {
    throw new CryptoError("too_large", `note has ${lines.length} signatures, limit ${limits.maxSignatures}`);
  }
  const signatures = lines.map((line, i): NoteSignature => {
    if (!line.startsWith(EM_DASH_PREFIX))
      throw new CryptoError("malformed", `note signature line ${i + 1} does not start with an em dash`);
    const rest = line.slice(EM_DASH_PREFIX.length);
    const sp = rest.indexOf(" ");
    if (sp < 0 || rest.indexOf(" ", sp + 1) >= 0)
      throw new CryptoError("malformed", `note signature line ${i + 1} is not "— name signature"`);
    const name = checkKeyName(rest.slice(0, sp), "malformed");
    const raw = fromBase64(rest.slice(sp + 1), `note signature line ${i + 1}`);
    if (raw.length < 5) throw new CryptoError("malformed", `note signature line ${i + 1} is too short`);
    const keyId = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0);
    return { name, keyId, signature: raw.slice(4) };
  });
  return { text, signatures };
}

/**
 * Opens a signed note (c2sp.org/signed-note "Signatures"): signatures from unknown (name, key ID)
 * pairs are kept as `unverified`; a signature from a known key that fails makes the whole note
 * `bad_signature`; a note with no verified signature is `unknown_key`. Duplicate lines from the
 * same known key count once. Two verifiers with the same (name, key ID) are an `invalid_argument`.
 */
export function openNote(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  limits: NoteLimits = DEFAULT_NOTE_LIMITS,
): OpenedNote {
  const byId = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const id = `${v.name}+${formatKeyId(v.keyId)}`;
    if (byId.has(id)) throw new CryptoError("invalid_argument", `ambiguous verifiers for key ${id}`);
    byId.set(id, v);
  }
  const { text, signatures } = parseNote(note, limits);
  checkText(text, "malformed");
  const textBytes = utf8(text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const s of signatures) {
    const id = `${s.name}+${formatKeyId(s.keyId)}`;
    const v = byId.get(id);
    if (v === undefined) {
      unverified.push(s);
      continue;
    }
    if (!v.verify(textBytes, s.signature))
      throw new CryptoError("bad_signature", `invalid note signature for key ${id}`);
    if (seen.has(id)) continue;
    seen.add(id);
    verified.push(s);
  }
  if (verified.length === 0) throw new CryptoError("unknown_key", "note has no signature from a known key");
  return { text, verified, unverified };
}
