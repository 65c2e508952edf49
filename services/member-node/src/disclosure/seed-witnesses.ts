/**
 * The witnesses of a witnessed (v2) disclosure seed (docs/specs/disclosure.md 2b): which cosignatures of the
 * seed checkpoint the sample mixes in. The auditor counts every verified cosignature of the witnesses it
 * trusts; the node, told those witnesses (DiscloseSessionRequest.witness_keys), counts the same ones and
 * serves the seed note with only them (and the hub's line), so an auditor trusting more witnesses still
 * counts exactly the lines the sample was drawn with.
 *
 * Checked here, before anything is sealed, so a package the auditor would refuse is never built: the quorum
 * (`failed_precondition`; a retry helps when the hub did not have the cosignatures yet), a trusted line that does
 * not verify (`bad_signature`), cosignature times outside [attestation integration, + SEED_COSIGN_WINDOW_S].
 */
import {
  bytesEqual,
  type CosignatureVerifierKey,
  cosignatureTimestamp,
  isCryptoError,
  type NoteSignature,
  parseCosignatureVerifierKey,
  parseNote,
} from "@lineage/crypto";
import { MemberNodeError } from "../member-node-error.js";

/** Most trusted witnesses a disclosure request may name (the seed mixes in at most 32 cosignatures). */
export const MAX_DISCLOSURE_WITNESSES = 32;
/** How long after the attestation's integration a counted cosignature may be (s); the auditor's bound. */
export const SEED_COSIGN_WINDOW_S = 3600;

/** The auditor's trusted witnesses and how many must have cosigned. */
export interface SeedWitnesses {
  readonly keys: readonly CosignatureVerifierKey[];
  readonly quorum: number;
}

/**
 * Parses the witnesses of a disclosure request (untrusted: an admin's request, checked fully). Undefined
 * when none are named (the unwitnessed v1 sample); `invalid_argument` naming what is wrong otherwise.
 */
export function parseSeedWitnesses(keys: readonly string[], quorum: number): SeedWitnesses | undefined {
  if (keys.length === 0) {
    if (quorum !== 0)
      throw new MemberNodeError("invalid_argument", "witness_quorum is set but no witness_keys are given");
    return undefined;
  }
  if (keys.length > MAX_DISCLOSURE_WITNESSES)
    throw new MemberNodeError(
      "invalid_argument",
      `witness_keys: at most ${MAX_DISCLOSURE_WITNESSES} witnesses (got ${keys.length})`,
    );
  const parsed: CosignatureVerifierKey[] = [];
  for (const [i, k] of keys.entries()) {
    try {
      parsed.push(parseCosignatureVerifierKey(k));
    } catch (cause) {
      if (!isCryptoError(cause)) throw cause;
      throw new MemberNodeError(
        "invalid_argument",
        `witness_keys[${i}] is not a witness verifier key (name+hex8(key id)+base64(0x04||key)): ${cause.message}`,
        { cause },
      );
    }
    const v = parsed[i]?.verifier;
    const raw = parsed[i]?.publicKey.raw;
    // Same name and key id, or the same Ed25519 key under another name (one party, counted once).
    if (
      parsed
        .slice(0, i)
        .some(
          (p) =>
            (p.verifier.name === v?.name && p.verifier.keyId === v?.keyId) ||
            (raw !== undefined && bytesEqual(p.publicKey.raw, raw)),
        )
    )
      throw new MemberNodeError("invalid_argument", `witness_keys[${i}] repeats a witness`);
  }
  const q = quorum === 0 ? 1 : quorum;
  if (!Number.isInteger(q) || q < 1 || q > parsed.length)
    throw new MemberNodeError(
      "invalid_argument",
      `witness_quorum must be 1..${parsed.length} (the number of witness_keys), got ${quorum}`,
    );
  return { keys: parsed, quorum: q };
}

/** The counted cosignatures of a seed note and the note reduced to the hub's line and theirs. */
export interface CountedSeed {
  readonly cosignatures: readonly NoteSignature[];
  /** The seed checkpoint note with only the log's signature and the counted cosignature lines. */
  readonly note: Uint8Array;
}

function signatureLine(s: NoteSignature): string {
  const id = new Uint8Array(4);
  new DataView(id.buffer).setUint32(0, s.keyId);
  return `\u2014 ${s.name} ${Buffer.concat([id, s.signature]).toString("base64")}\n`;
}

/**
 * Counts the trusted cosignatures of `note` (the seed checkpoint as the hub served it, log-signed: checked by
 * the caller) for an attestation integrated at `integratedAtMs` (module header).
 */
export function countSeedCosignatures(
  note: Uint8Array,
  witnesses: SeedWitnesses,
  logKey: { readonly name: string; readonly keyId: number },
  integratedAtMs: number,
): CountedSeed {
  let parsed: ReturnType<typeof parseNote>;
  try {
    parsed = parseNote(note);
  } catch (cause) {
    throw new MemberNodeError("malformed", "the seed checkpoint from the hub is not a signed note", {
      cause,
    });
  }
  const text = new TextEncoder().encode(parsed.text);
  const from = Math.floor(integratedAtMs / 1000);
  const counted: NoteSignature[] = [];
  const logLines: NoteSignature[] = [];
  for (const s of parsed.signatures) {
    if (s.name === logKey.name && s.keyId === logKey.keyId) {
      logLines.push(s);
      continue;
    }
    const w = witnesses.keys.find((k) => k.verifier.name === s.name && k.verifier.keyId === s.keyId);
    if (w === undefined || counted.some((c) => c.name === s.name && c.keyId === s.keyId)) continue;
    // Attacker-controlled line (the hub relays it): a trusted key's line that does not verify is a forgery.
    if (!w.verifier.verify(text, s.signature))
      throw new MemberNodeError(
        "bad_signature",
        `the seed checkpoint's cosignature by witness ${s.name} does not verify`,
      );
    const t = Number(cosignatureTimestamp(s));
    if (t < from || t > from + SEED_COSIGN_WINDOW_S)
      throw new MemberNodeError(
        "failed_precondition",
        `witness ${s.name} cosigned the seed checkpoint at ${t}, outside [${from}, ${from + SEED_COSIGN_WINDOW_S}] (the attestation's integration and ${SEED_COSIGN_WINDOW_S} s after): the auditor would refuse the seed`,
      );
    counted.push(s);
  }
  if (counted.length < witnesses.quorum)
    throw new MemberNodeError(
      "failed_precondition",
      `the seed checkpoint carries ${counted.length} cosignature(s) by the named witnesses, ${witnesses.quorum} required (retry once the witnesses have cosigned it)`,
    );
  const reduced = `${parsed.text}\n${[...logLines, ...counted].map(signatureLine).join("")}`;
  return { cosignatures: counted, note: new TextEncoder().encode(reduced) };
}
