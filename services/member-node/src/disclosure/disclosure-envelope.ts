/**
 * Sealing a disclosure package to one auditor (docs/specs/disclosure.md, "Encryption to the auditor"):
 * HPKE (RFC 9180) base mode, single shot, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305,
 * info "lineage/disclosure-envelope/v1", empty AAD; file = MAGIC || enc (32) || ciphertext. The auditor
 * opens it with services/auditor disclosure-envelope.ts; both are tested against a ciphertext from an
 * independent implementation (python `cryptography` 48 hpke).
 */
import {
  createCipheriv,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { MemberNodeError } from "../member-node-error.js";

/** First bytes of an encrypted disclosure file. */
export const DISCLOSURE_ENVELOPE_MAGIC = new TextEncoder().encode("lineage-disclosure/v1\0");
/** HPKE info of the envelope. */
export const DISCLOSURE_ENVELOPE_INFO = "lineage/disclosure-envelope/v1";
/** Text prefix of an auditor's X25519 public key. */
export const AUDITOR_PUBLIC_KEY_PREFIX = "lineage-x25519-pub:";

const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");
const enc = new TextEncoder();
const HPKE_V1 = enc.encode("HPKE-v1");
const concat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p));
const i2osp = (n: number, len: number) => {
  const out = new Uint8Array(len);
  for (let i = len - 1, v = n; i >= 0; i--, v >>>= 8) out[i] = v & 0xff;
  return out;
};
const hmac = (key: Uint8Array, data: Uint8Array) =>
  new Uint8Array(createHmac("sha256", key).update(data).digest());
const KEM_SUITE = concat(enc.encode("KEM"), i2osp(0x0020, 2));
const HPKE_SUITE = concat(enc.encode("HPKE"), i2osp(0x0020, 2), i2osp(0x0001, 2), i2osp(0x0003, 2));

/** RFC 9180 LabeledExtract over HKDF-SHA256 (an empty salt is 32 zero bytes, RFC 5869). */
function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return hmac(salt.length === 0 ? new Uint8Array(32) : salt, concat(HPKE_V1, suite, enc.encode(label), ikm));
}
/** RFC 9180 LabeledExpand (lengths here are at most 32, one HKDF block). */
function labeledExpand(
  suite: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  len: number,
): Uint8Array {
  const labeled = concat(i2osp(len, 2), HPKE_V1, suite, enc.encode(label), info);
  return hmac(prk, concat(labeled, Uint8Array.of(1))).slice(0, len);
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: "der", type: "spki" });
}

/** Parses an auditor public key ("lineage-x25519-pub:" + 64 hex digits); `invalid_argument` naming the format. */
export function parseAuditorPublicKey(text: string): Uint8Array {
  const t = typeof text === "string" ? text.trim() : "";
  const hex = t.slice(AUDITOR_PUBLIC_KEY_PREFIX.length);
  if (!t.startsWith(AUDITOR_PUBLIC_KEY_PREFIX) || !/^[0-9a-f]{64}$/.test(hex))
    throw new MemberNodeError(
      "invalid_argument",
      `the auditor key must be "${AUDITOR_PUBLIC_KEY_PREFIX}" and 64 lowercase hex digits`,
    );
  const raw = new Uint8Array(Buffer.from(hex, "hex"));
  try {
    publicKeyObject(raw);
  } catch (cause) {
    throw new MemberNodeError("invalid_argument", "the auditor key is not an X25519 public key", { cause });
  }
  x25519(generateKeyPairSync("x25519").privateKey, raw);
  return raw;
}

/** Refuses an auditor key (32 raw bytes) that cannot be sealed to: wrong size, not a point, low order. */
export function checkAuditorPublicKey(raw: Uint8Array): void {
  if (!(raw instanceof Uint8Array) || raw.length !== 32)
    throw new MemberNodeError("invalid_argument", "auditor_public_key must be 32 bytes (X25519)");
  x25519(generateKeyPairSync("x25519").privateKey, raw);
}

/**
 * X25519 of `priv` and the auditor key `recipient`. A key of small order gives the all-zero secret (RFC 9180
 * section 7.1.4 says to abort): a package sealed to it would open for anyone, so it is refused.
 */
function x25519(priv: KeyObject, recipient: Uint8Array): Uint8Array {
  let pub: KeyObject;
  try {
    pub = publicKeyObject(recipient);
  } catch (cause) {
    throw new MemberNodeError("invalid_argument", "the auditor key is not an X25519 public key", { cause });
  }
  let dh: Uint8Array;
  try {
    dh = new Uint8Array(diffieHellman({ privateKey: priv, publicKey: pub }));
  } catch (cause) {
    // OpenSSL refuses an all-zero result itself.
    throw new MemberNodeError("invalid_argument", "the auditor key is an X25519 point of low order", {
      cause,
    });
  }
  if (dh.every((b) => b === 0))
    throw new MemberNodeError("invalid_argument", "the auditor key is an X25519 point of low order");
  return dh;
}

/**
 * Seals `plaintext` to the auditor's X25519 public key `recipient` (32 bytes). `ephemeral` is for test
 * vectors only; by default a fresh ephemeral key is drawn.
 */
export function sealDisclosureEnvelope(
  plaintext: Uint8Array,
  recipient: Uint8Array,
  ephemeral?: { readonly privateKey: KeyObject; readonly publicKey: KeyObject },
): Uint8Array {
  if (!(recipient instanceof Uint8Array) || recipient.length !== 32)
    throw new MemberNodeError("invalid_argument", "the auditor key must be 32 bytes");
  const e = ephemeral ?? generateKeyPairSync("x25519");
  const encapsulated = new Uint8Array(
    e.publicKey.export({ format: "der", type: "spki" }).subarray(SPKI_X25519.length),
  );
  const dh = x25519(e.privateKey, recipient);
  const eaePrk = labeledExtract(KEM_SUITE, new Uint8Array(0), "eae_prk", dh);
  const shared = labeledExpand(KEM_SUITE, eaePrk, "shared_secret", concat(encapsulated, recipient), 32);
  const empty = new Uint8Array(0);
  const context = concat(
    Uint8Array.of(0),
    labeledExtract(HPKE_SUITE, empty, "psk_id_hash", empty),
    labeledExtract(HPKE_SUITE, empty, "info_hash", enc.encode(DISCLOSURE_ENVELOPE_INFO)),
  );
  const secret = labeledExtract(HPKE_SUITE, shared, "secret", empty);
  const key = labeledExpand(HPKE_SUITE, secret, "key", context, 32);
  const nonce = labeledExpand(HPKE_SUITE, secret, "base_nonce", context, 12);
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return concat(DISCLOSURE_ENVELOPE_MAGIC, encapsulated, body);
}
