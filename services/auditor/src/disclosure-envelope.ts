/**
 * Opening an encrypted disclosure package (docs/specs/disclosure.md, "Encryption to the auditor"): HPKE
 * (RFC 9180) base mode, single shot, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305,
 * info "lineage/disclosure-envelope/v1", empty AAD. File = MAGIC || enc (32 bytes) || ciphertext.
 * Implemented on node:crypto (X25519, HMAC-SHA256, ChaCha20-Poly1305); the member node seals with its own
 * implementation (services/member-node src/disclosure), and both are tested against a ciphertext made by
 * an independent one (python `cryptography` 48, hazmat.primitives.hpke).
 *
 * The package file is attacker-controlled: its size is bounded, and any failure to open it is one error
 * (`malformed`) that says nothing about why decryption failed.
 */
import {
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open, readFile, stat } from "node:fs/promises";
import type { VerifyDisclosureRequest } from "@lineage/api";
import { AuditError } from "./audit-error.js";
import { parseDisclosurePackage } from "./bundle-file.js";

/** First bytes of an encrypted disclosure file. */
export const DISCLOSURE_ENVELOPE_MAGIC = new TextEncoder().encode("lineage-disclosure/v1\0");
/** HPKE info of the envelope. */
export const DISCLOSURE_ENVELOPE_INFO = "lineage/disclosure-envelope/v1";
/** Text prefix of an auditor's X25519 public key ("lineage-x25519-pub:" + 64 hex digits). */
export const AUDITOR_PUBLIC_KEY_PREFIX = "lineage-x25519-pub:";
/** Text prefix of an auditor's X25519 private key file ("lineage-x25519-key:" + 64 hex digits). */
export const AUDITOR_PRIVATE_KEY_PREFIX = "lineage-x25519-key:";
/** Largest envelope opened. */
export const MAX_ENVELOPE_BYTES = 64 * 1024 * 1024;

const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");
const enc = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
function i2osp(n: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1, v = n; i >= 0; i--, v >>>= 8) out[i] = v & 0xff;
  return out;
}
function extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHmac("sha256", salt.length === 0 ? Buffer.alloc(32) : salt)
      .update(ikm)
      .digest(),
  );
}
function expand(prk: Uint8Array, info: Uint8Array, len: number): Uint8Array {
  const out: Uint8Array[] = [];
  let t = new Uint8Array(0);
  for (let i = 1; out.length * 32 < len; i++) {
    t = new Uint8Array(
      createHmac("sha256", prk)
        .update(concat(t, info, Uint8Array.of(i)))
        .digest(),
    );
    out.push(t);
  }
  return concat(...out).slice(0, len);
}
const HPKE_V1 = enc.encode("HPKE-v1");
function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return extract(salt, concat(HPKE_V1, suite, enc.encode(label), ikm));
}
function labeledExpand(
  suite: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  len: number,
): Uint8Array {
  return expand(prk, concat(i2osp(len, 2), HPKE_V1, suite, enc.encode(label), info), len);
}
const KEM_SUITE = concat(enc.encode("KEM"), i2osp(0x0020, 2));
const HPKE_SUITE = concat(enc.encode("HPKE"), i2osp(0x0020, 2), i2osp(0x0001, 2), i2osp(0x0003, 2));

function privateKeyObject(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: "der", type: "pkcs8" });
}
function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: "der", type: "spki" });
}
function rawPublic(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: "der", type: "spki" }).subarray(SPKI_X25519.length));
}

/** The X25519 public key (32 bytes) of a private key (32 bytes). */
export function auditorPublicKeyOf(privateKey: Uint8Array): Uint8Array {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32)
    throw new AuditError("malformed", "an X25519 private key is 32 bytes");
  return rawPublic(createPublicKey(privateKeyObject(privateKey)));
}

/** A fresh auditor key pair, as the texts of its private key file and its public key. */
export function generateAuditorKey(): { privateKeyText: string; publicKeyText: string } {
  const { privateKey } = generateKeyPairSync("x25519");
  const raw = new Uint8Array(
    privateKey.export({ format: "der", type: "pkcs8" }).subarray(PKCS8_X25519.length),
  );
  return {
    privateKeyText: `${AUDITOR_PRIVATE_KEY_PREFIX}${Buffer.from(raw).toString("hex")}\n`,
    publicKeyText: `${AUDITOR_PUBLIC_KEY_PREFIX}${Buffer.from(auditorPublicKeyOf(raw)).toString("hex")}`,
  };
}

/** Parses an auditor private key file's text ("lineage-x25519-key:" + 64 hex digits). */
export function parseAuditorPrivateKey(text: string): Uint8Array {
  const t = text.trim();
  if (
    !t.startsWith(AUDITOR_PRIVATE_KEY_PREFIX) ||
    !/^[0-9a-f]{64}$/.test(t.slice(AUDITOR_PRIVATE_KEY_PREFIX.length))
  )
    throw new AuditError(
      "malformed",
      `the key file must hold "${AUDITOR_PRIVATE_KEY_PREFIX}" and 64 lowercase hex digits`,
    );
  return new Uint8Array(Buffer.from(t.slice(AUDITOR_PRIVATE_KEY_PREFIX.length), "hex"));
}

/**
 * Opens an encrypted disclosure package with the auditor's X25519 private key and returns the plaintext
 * package (a VerifyDisclosureRequest). `malformed` when it is not an envelope or does not open.
 */
export function openDisclosureEnvelope(file: Uint8Array, privateKey: Uint8Array): Uint8Array {
  if (file.length > MAX_ENVELOPE_BYTES)
    throw new AuditError("too_large", "the encrypted package is too large");
  const m = DISCLOSURE_ENVELOPE_MAGIC.length;
  if (
    file.length < m + 32 + 16 ||
    !Buffer.from(file.subarray(0, m)).equals(Buffer.from(DISCLOSURE_ENVELOPE_MAGIC))
  )
    throw new AuditError("malformed", "the file is not an encrypted Lineage disclosure package");
  const encapsulated = file.subarray(m, m + 32);
  const sealed = file.subarray(m + 32);
  try {
    const pkR = auditorPublicKeyOf(privateKey);
    const dh = new Uint8Array(
      diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(encapsulated) }),
    );
    const kemContext = concat(encapsulated, pkR);
    const eaePrk = labeledExtract(KEM_SUITE, new Uint8Array(0), "eae_prk", dh);
    const shared = labeledExpand(KEM_SUITE, eaePrk, "shared_secret", kemContext, 32);
    return aeadOpen(shared, sealed);
  } catch (cause) {
    if (cause instanceof AuditError) throw cause;
    throw new AuditError(
      "malformed",
      "the package does not open with this key (another auditor's, or altered)",
      { cause },
    );
  }
}

function aeadOpen(sharedSecret: Uint8Array, sealed: Uint8Array): Uint8Array {
  const pskIdHash = labeledExtract(HPKE_SUITE, new Uint8Array(0), "psk_id_hash", new Uint8Array(0));
  const infoHash = labeledExtract(
    HPKE_SUITE,
    new Uint8Array(0),
    "info_hash",
    enc.encode(DISCLOSURE_ENVELOPE_INFO),
  );
  const context = concat(Uint8Array.of(0), pskIdHash, infoHash);
  const secret = labeledExtract(HPKE_SUITE, sharedSecret, "secret", new Uint8Array(0));
  const key = labeledExpand(HPKE_SUITE, secret, "key", context, 32);
  const nonce = labeledExpand(HPKE_SUITE, secret, "base_nonce", context, 12);
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return new Uint8Array(Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]));
}

/**
 * Reads the auditor's private key file: a regular file (not followed through a symbolic link), at most
 * 4 KiB, with no group/other access — checked on the opened descriptor, so the file checked is the file read.
 */
async function readPrivateKeyFile(path: string): Promise<Uint8Array> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ELOOP")
      throw new AuditError("invalid_argument", `key file ${path} is a symbolic link; name the file itself`);
    throw new AuditError("invalid_argument", `key file ${path} cannot be read`, { cause });
  }
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw new AuditError("invalid_argument", `key file ${path} is not a regular file`);
    if ((s.mode & 0o077) !== 0)
      throw new AuditError(
        "invalid_argument",
        `key file ${path} is readable by group or others (mode ${(s.mode & 0o777).toString(8)}); chmod 600 it`,
      );
    if (s.size > 4096) throw new AuditError("too_large", `key file ${path} is larger than 4096 bytes`);
    return new Uint8Array(await fh.readFile());
  } finally {
    await fh.close();
  }
}

/**
 * Reads a sealed disclosure package and the auditor's key file and returns the package inside. Both files
 * are bounded before they are read; a package that does not open is `malformed`.
 */
export async function readSealedDisclosurePackage(
  packagePath: string,
  keyPath: string,
): Promise<VerifyDisclosureRequest> {
  const bounded = async (path: string, max: number, what: string) => {
    const s = await stat(path).catch((cause: unknown) => {
      throw new AuditError("malformed", `${what} ${path} cannot be read`, { cause });
    });
    if (!s.isFile()) throw new AuditError("malformed", `${what} ${path} is not a file`);
    if (s.size > max) throw new AuditError("too_large", `${what} ${path} is larger than ${max} bytes`);
    return new Uint8Array(await readFile(path));
  };
  const key = parseAuditorPrivateKey(new TextDecoder().decode(await readPrivateKeyFile(keyPath)));
  return parseDisclosurePackage(
    openDisclosureEnvelope(await bounded(packagePath, MAX_ENVELOPE_BYTES, "package"), key),
  );
}
