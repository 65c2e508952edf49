/**
 * DSSE envelopes — Dead Simple Signing Envelope v1 (github.com/secure-systems-lab/dsse,
 * protocol.md and envelope.md). Signatures cover PAE(payloadType, payload), never the JSON, so the
 * JSON form only has to be parsed strictly, not canonicalised for signing.
 */
import {
  bytesEqual,
  checkBytes,
  checkInteger,
  checkString,
  concatBytes,
  fromBase64,
  toBase64,
  utf8,
} from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import type { Ed25519PublicKey, KeyRing } from "./ed25519-key.js";
import { type JsonValue, parseStrictJson } from "./strict-json.js";

/**
 * One signature of an envelope; `keyid` is the signer's Lineage key id (an unauthenticated hint). DSSE
 * makes keyid optional: an absent keyid is the empty string, and such signatures are never counted
 * by {@link verifyEnvelope} (it does not try every trusted key).
 */
export interface DsseSignature {
  readonly keyid: string;
  readonly sig: Uint8Array;
}

/** A DSSE envelope (the JSON form base64-encodes `payload` and each `sig`). */
export interface DsseEnvelope {
  readonly payloadType: string;
  readonly payload: Uint8Array;
  readonly signatures: readonly DsseSignature[];
}

/** Anything that signs bytes under a key id — {@link Ed25519PrivateKey} is one. */
export interface DsseSigner {
  readonly keyId: string;
  sign(message: Uint8Array): Uint8Array;
}

/** Bounds applied to envelopes; the defaults suit attestations and log entries. */
export interface DsseLimits {
  /** Maximum payload size in bytes (default 1 MiB). */
  readonly maxPayloadBytes: number;
  /** Maximum number of signatures (default 16). */
  readonly maxSignatures: number;
  /** Maximum payloadType length in bytes (default 256). */
  readonly maxPayloadTypeBytes: number;
}

/** Default {@link DsseLimits}. */
export const DEFAULT_DSSE_LIMITS: DsseLimits = Object.freeze({
  maxPayloadBytes: 1 << 20,
  maxSignatures: 16,
  maxPayloadTypeBytes: 256,
});

const PAE_PREFIX = utf8("DSSEv1 ");
const SP = utf8(" ");

/**
 * Pre-Authentication Encoding:
 * `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, LEN in ASCII decimal without leading zeros.
 */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  checkString("payloadType", payloadType);
  checkBytes("payload", payload);
  const type = utf8(payloadType);
  return concatBytes(
    PAE_PREFIX,
    utf8(String(type.length)),
    SP,
    type,
    SP,
    utf8(String(payload.length)),
    SP,
    payload,
  );
}

/** Checks an envelope's shape against `limits` (attacker-controlled input); throws `malformed`/`too_large`. */
export function checkEnvelopeShape(env: DsseEnvelope, limits: DsseLimits, what: string): void {
  const typeLen = utf8(env.payloadType).length;
  if (typeLen === 0) throw new CryptoError("malformed", `${what}.payloadType is empty`);
  if (typeLen > limits.maxPayloadTypeBytes) {
    throw new CryptoError(
      "too_large",
      `${what}.payloadType is ${typeLen} bytes, limit ${limits.maxPayloadTypeBytes}`,
    );
  }
  if (env.payload.length > limits.maxPayloadBytes) {
    throw new CryptoError(
      "too_large",
      `${what}.payload is ${env.payload.length} bytes, limit ${limits.maxPayloadBytes}`,
    );
  }
  if (env.signatures.length > limits.maxSignatures) {
    throw new CryptoError(
      "too_large",
      `${what} has ${env.signatures.length} signatures, limit ${limits.maxSignatures}`,
    );
  }
  const seen = new Set<string>();
  for (const [i, s] of env.signatures.entries()) {
    if (typeof s.keyid !== "string" || s.keyid.length > 128) {
      throw new CryptoError("malformed", `${what}.signatures[${i}].keyid must be at most 128 characters`);
    }
    if (s.keyid !== "") {
      if (seen.has(s.keyid))
        throw new CryptoError("malformed", `${what}.signatures[${i}].keyid is duplicated`);
      seen.add(s.keyid);
    }
    if (!(s.sig instanceof Uint8Array))
      throw new CryptoError("malformed", `${what}.signatures[${i}].sig must be bytes`);
    if (s.sig.length === 0 || s.sig.length > 1024) {
      throw new CryptoError("malformed", `${what}.signatures[${i}].sig must be 1..1024 bytes`);
    }
  }
}

/** Creates an envelope signed by `signer` (the member signs first; see {@link addSignature}). */
export function signEnvelope(payloadType: string, payload: Uint8Array, signer: DsseSigner): DsseEnvelope {
  checkString("payloadType", payloadType);
  checkBytes("payload", payload);
  return addSignature({ payloadType, payload: payload.slice(), signatures: [] }, signer);
}

/**
 * Returns a copy of `envelope` with one more signature (e.g. the hub countersigning a member's
 * attestation). Throws `invalid_argument` if `signer` already signed it.
 */
export function addSignature(envelope: DsseEnvelope, signer: DsseSigner): DsseEnvelope {
  if (envelope.signatures.some((s) => s.keyid === signer.keyId)) {
    throw new CryptoError("invalid_argument", `envelope is already signed by key ${signer.keyId}`);
  }
  const sig = signer.sign(pae(envelope.payloadType, envelope.payload));
  const out: DsseEnvelope = {
    payloadType: envelope.payloadType,
    payload: envelope.payload,
    signatures: [...envelope.signatures, { keyid: signer.keyId, sig }],
  };
  checkEnvelopeShape(out, DEFAULT_DSSE_LIMITS, "envelope");
  return out;
}

/** What {@link verifyEnvelope} checks. */
export interface DsseVerifyOptions {
  /** The trusted keys; signatures whose keyid is not in the ring are ignored. */
  readonly keys: KeyRing;
  /** Minimum number of distinct trusted keys whose signature verifies (default 1). */
  readonly threshold?: number;
  /** Key ids that must all have a valid signature (e.g. the member and the hub), on top of the threshold. */
  readonly requiredKeyIds?: readonly string[];
  /** If set, the payloadType the caller accepts. */
  readonly payloadType?: string;
  /** Size bounds (defaults: {@link DEFAULT_DSSE_LIMITS}). */
  readonly limits?: DsseLimits;
}

/** The outcome of a successful verification. */
export interface DsseVerified {
  readonly payloadType: string;
  readonly payload: Uint8Array;
  /** Key ids whose signatures verified, in envelope order. */
  readonly verifiedKeyIds: readonly string[];
}

/**
 * Verifies an envelope (DSSE protocol, "Multi-signature Verification") against trusted keys.
 * `envelope` is attacker-controlled. Signatures from unknown key ids are skipped; a signature from a
 * trusted key that fails is skipped too (as the protocol says) but makes the error `bad_signature`
 * if the threshold is then not met. Errors: `unknown_key` when no signature comes from a trusted key,
 * `bad_signature` when fewer than `threshold` trusted keys verify or a required key's signature is
 * missing or wrong, `malformed`/`too_large` for envelope shape, `invalid_argument` for bad options.
 */
export function verifyEnvelope(envelope: DsseEnvelope, options: DsseVerifyOptions): DsseVerified {
  const { message, candidates, threshold } = prepareVerification(envelope, options);
  const results = candidates.map((c) => c.key.verify(message, c.sig));
  return decide(envelope, options, candidates, results, threshold);
}

/**
 * {@link verifyEnvelope} with the signature checks run in libuv's thread pool: same rules and
 * errors, but concurrent calls use every core (the hub's ingest path).
 */
export async function verifyEnvelopeAsync(
  envelope: DsseEnvelope,
  options: DsseVerifyOptions,
): Promise<DsseVerified> {
  const { message, candidates, threshold } = prepareVerification(envelope, options);
  const results = await Promise.all(candidates.map((c) => c.key.verifyAsync(message, c.sig)));
  return decide(envelope, options, candidates, results, threshold);
}

interface Candidate {
  readonly keyid: string;
  readonly key: Ed25519PublicKey;
  readonly sig: Uint8Array;
}

function prepareVerification(
  envelope: DsseEnvelope,
  options: DsseVerifyOptions,
): { message: Uint8Array; candidates: Candidate[]; threshold: number } {
  const threshold = checkInteger("threshold", options.threshold ?? 1, 1, 1024);
  checkEnvelopeShape(envelope, options.limits ?? DEFAULT_DSSE_LIMITS, "envelope");
  if (options.payloadType !== undefined && envelope.payloadType !== options.payloadType) {
    throw new CryptoError("malformed", `envelope.payloadType is not the expected ${options.payloadType}`);
  }
  const candidates: Candidate[] = [];
  for (const s of envelope.signatures) {
    const key = s.keyid === "" ? undefined : options.keys.get(s.keyid);
    if (key !== undefined) candidates.push({ keyid: s.keyid, key, sig: s.sig });
  }
  return { message: pae(envelope.payloadType, envelope.payload), candidates, threshold };
}

function decide(
  envelope: DsseEnvelope,
  options: DsseVerifyOptions,
  candidates: readonly Candidate[],
  results: readonly boolean[],
  threshold: number,
): DsseVerified {
  const verified = candidates.filter((_, i) => results[i] === true).map((c) => c.keyid);
  const knownFailures = candidates.length - verified.length;
  for (const id of options.requiredKeyIds ?? []) {
    if (!verified.includes(id)) {
      throw new CryptoError("bad_signature", `no valid signature from required key ${id}`);
    }
  }
  if (verified.length < threshold) {
    if (verified.length === 0 && knownFailures === 0) {
      throw new CryptoError("unknown_key", "envelope has no signature from a trusted key");
    }
    throw new CryptoError(
      "bad_signature",
      `${verified.length} valid trusted signatures, threshold ${threshold}`,
    );
  }
  return { payloadType: envelope.payloadType, payload: envelope.payload, verifiedKeyIds: verified };
}

/**
 * Serialises an envelope as canonical JSON: keys sorted, no whitespace, standard padded base64 —
 * `{"payload":"…","payloadType":"…","signatures":[{"keyid":"…","sig":"…"}]}`.
 */
export function serializeEnvelope(envelope: DsseEnvelope): string {
  checkEnvelopeShape(envelope, DEFAULT_DSSE_LIMITS, "envelope");
  const sigs = envelope.signatures.map((s) =>
    s.keyid === ""
      ? `{"sig":"${toBase64(s.sig)}"}`
      : `{"keyid":${JSON.stringify(s.keyid)},"sig":"${toBase64(s.sig)}"}`,
  );
  return `{"payload":"${toBase64(envelope.payload)}","payloadType":${JSON.stringify(envelope.payloadType)},"signatures":[${sigs.join(",")}]}`;
}

function field(obj: { [key: string]: JsonValue }, name: string, what: string): JsonValue {
  const v = obj[name];
  if (v === undefined) throw new CryptoError("malformed", `${what} is missing "${name}"`);
  return v;
}

function onlyKeys(obj: { [key: string]: JsonValue }, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k))
      throw new CryptoError("malformed", `${what} has unknown field ${JSON.stringify(k.slice(0, 40))}`);
  }
}

function asObject(v: JsonValue, what: string): { [key: string]: JsonValue } {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new CryptoError("malformed", `${what} is not an object`);
  return v;
}

function asString(v: JsonValue, what: string): string {
  if (typeof v !== "string") throw new CryptoError("malformed", `${what} is not a string`);
  return v;
}

/**
 * Parses the JSON form of an envelope. `json` is attacker-controlled: the input size is bounded
 * before parsing, duplicate/unknown/missing fields and bad base64 (standard or URL-safe, as DSSE
 * requires verifiers to accept) are rejected with `malformed`, oversize with `too_large`. `keyid`
 * may be absent (DSSE makes it optional); every other field is required.
 */
export function parseEnvelope(
  json: string | Uint8Array,
  limits: DsseLimits = DEFAULT_DSSE_LIMITS,
): DsseEnvelope {
  const maxLength =
    Math.ceil((limits.maxPayloadBytes * 4) / 3) +
    limits.maxSignatures * 1600 +
    limits.maxPayloadTypeBytes * 6 +
    256;
  let text: string;
  if (json instanceof Uint8Array) {
    if (json.length > maxLength)
      throw new CryptoError("too_large", `envelope is ${json.length} bytes, limit ${maxLength}`);
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(json);
    } catch (cause) {
      throw new CryptoError("malformed", "envelope is not valid UTF-8", { cause });
    }
  } else {
    text = checkString("json", json);
  }
  const root = asObject(parseStrictJson(text, "envelope", { maxLength, maxDepth: 4 }), "envelope");
  onlyKeys(root, ["payload", "payloadType", "signatures"], "envelope");
  const payloadType = asString(field(root, "payloadType", "envelope"), "envelope.payloadType");
  const payloadB64 = asString(field(root, "payload", "envelope"), "envelope.payload");
  if (payloadB64.length > Math.ceil((limits.maxPayloadBytes * 4) / 3) + 4) {
    throw new CryptoError("too_large", `envelope.payload exceeds ${limits.maxPayloadBytes} bytes`);
  }
  const payload = fromBase64(payloadB64, "envelope.payload", true);
  const sigsJson = field(root, "signatures", "envelope");
  if (!Array.isArray(sigsJson)) throw new CryptoError("malformed", "envelope.signatures is not an array");
  if (sigsJson.length > limits.maxSignatures) {
    throw new CryptoError(
      "too_large",
      `envelope has ${sigsJson.length} signatures, limit ${limits.maxSignatures}`,
    );
  }
  const signatures = sigsJson.map((sj, i): DsseSignature => {
    const what = `envelope.signatures[${i}]`;
    const o = asObject(sj, what);
    onlyKeys(o, ["keyid", "sig"], what);
    return {
      keyid: o.keyid === undefined ? "" : asString(o.keyid, `${what}.keyid`),
      sig: fromBase64(asString(field(o, "sig", what), `${what}.sig`), `${what}.sig`, true),
    };
  });
  const env: DsseEnvelope = { payloadType, payload, signatures };
  checkEnvelopeShape(env, limits, "envelope");
  return env;
}

/** True when two envelopes are byte-for-byte the same (type, payload, signatures in order). */
export function envelopesEqual(a: DsseEnvelope, b: DsseEnvelope): boolean {
  return (
    a.payloadType === b.payloadType &&
    bytesEqual(a.payload, b.payload) &&
    a.signatures.length === b.signatures.length &&
    a.signatures.every((s, i) => {
      const t = b.signatures[i];
      return t !== undefined && s.keyid === t.keyid && bytesEqual(s.sig, t.sig);
    })
  );
}
