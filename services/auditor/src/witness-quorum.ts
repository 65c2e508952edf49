/**
 * Witness cosignatures on a hub checkpoint (docs/specs/witness.md): counts the distinct witnesses of the
 * trust root whose cosignature/v1 line verifies over the checkpoint text. A line under a trusted witness
 * key that does not verify is a forgery (`bad_cosignature`), never just ignored; lines by unknown keys are
 * counted as unknown and do not count toward the quorum (`witness_quorum` when too few).
 */
import {
  cosignatureTimestamp,
  ed25519NoteVerifier,
  formatKeyId,
  type NoteSignature,
  parseNote,
} from "@lineage/crypto";
import { AuditError } from "./audit-error.js";
import { MAX_CHECKPOINT_BYTES } from "./log-records.js";
import type { TrustRoot } from "./trust-root.js";

/** What {@link checkWitnessQuorum} found. */
export interface WitnessQuorum {
  /** Key names (`name+hex8`) of the trusted witnesses that cosigned, in note order. */
  readonly cosigners: readonly string[];
  /** Cosignature timestamps (POSIX seconds), same order as `cosigners`. */
  readonly timestamps: readonly number[];
  /** The counted (verified, trusted, one per witness) cosignatures, same order as `cosigners`. */
  readonly signatures: readonly NoteSignature[];
  /** Signature lines by keys that are neither the log's nor a trusted witness's. */
  readonly unknown: number;
  readonly required: number;
}

/**
 * Checks that `note` (already opened as hub-signed with openHubCheckpoint) carries at least `required`
 * verified cosignatures by distinct witnesses of `trust`. Attacker-controlled note.
 * @throws AuditError `bad_cosignature`, `witness_quorum`, `malformed`, `too_large`
 */
export function checkWitnessQuorum(
  note: Uint8Array | string,
  trust: TrustRoot,
  required: number,
): WitnessQuorum {
  const bytes = typeof note === "string" ? new TextEncoder().encode(note) : note;
  if (bytes.length > MAX_CHECKPOINT_BYTES) throw new AuditError("too_large", "checkpoint exceeds 16 KiB");
  let parsed: ReturnType<typeof parseNote>;
  try {
    parsed = parseNote(bytes);
  } catch (cause) {
    throw new AuditError("malformed", `checkpoint note: ${(cause as Error).message}`, { cause });
  }
  const text = new TextEncoder().encode(parsed.text);
  const witnesses = trust.witnesses ?? [];
  // The log's own signature lines: its root's, and those of the roots it rotated to (hub-key-history.ts).
  const logIds = new Set([
    `${trust.log.name}+${formatKeyId(trust.log.keyId)}`,
    ...(trust.rotations ?? []).map(
      (r) => `${trust.log.name}+${formatKeyId(ed25519NoteVerifier(trust.log.name, r.key).keyId)}`,
    ),
  ]);
  const cosigners: string[] = [];
  const timestamps: number[] = [];
  const signatures: NoteSignature[] = [];
  let unknown = 0;
  for (const s of parsed.signatures) {
    const id = `${s.name}+${formatKeyId(s.keyId)}`;
    if (logIds.has(id)) continue;
    const w = witnesses.find((v) => v.name === s.name && v.keyId === s.keyId);
    if (w === undefined) {
      unknown++;
      continue;
    }
    if (!w.verify(text, s.signature))
      throw new AuditError(
        "bad_cosignature",
        `the cosignature by witness ${id} does not verify: forged or altered`,
      );
    if (cosigners.includes(id)) continue;
    cosigners.push(id);
    timestamps.push(Number(cosignatureTimestamp(s)));
    signatures.push(s);
  }
  if (cosigners.length < required) {
    throw new AuditError(
      "witness_quorum",
      `${cosigners.length} cosignature(s) by trusted witnesses, ${required} required` +
        (unknown > 0 ? ` (${unknown} by unknown keys, not counted)` : "") +
        (witnesses.length === 0 ? "; the trust root lists no witness (give --witness-key)" : ""),
    );
  }
  return { cosigners, timestamps, signatures, unknown, required };
}
