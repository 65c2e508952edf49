/**
 * Transparency log checkpoints, c2sp.org/tlog-checkpoint: a signed note whose text is
 * `<origin>\n<tree size>\n<base64 root hash>\n[<extension line>\n...]`, signed by the log and
 * optionally cosigned by witnesses (plain Ed25519 note signatures or cosignature/v1).
 */
import { checkBytes, checkInteger, checkString, fromBase64, toBase64 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { HASH_SIZE } from "./merkle-hash.js";
import {
  DEFAULT_NOTE_LIMITS,
  formatKeyId,
  type NoteLimits,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  type OpenedNote,
  openNote,
  parseNote,
  signNote,
} from "./signed-note.js";

/** The signed content of a checkpoint. */
export interface Checkpoint {
  /** Log identity, e.g. `lineage.example/log`. */
  readonly origin: string;
  /** Number of leaves. */
  readonly size: number;
  /** RFC 6962 root hash of the tree of `size` leaves. */
  readonly rootHash: Uint8Array;
  /** Optional opaque extension lines (non-empty each). */
  readonly extensions?: readonly string[];
}

const SIZE_RE = /^(?:0|[1-9][0-9]{0,15})$/;
const MAX_LINE = 1024;

function checkLine(line: string, what: string, code: "invalid_argument" | "malformed"): void {
  if (line.length === 0 || line.length > MAX_LINE)
    throw new CryptoError(code, `${what} must be 1..${MAX_LINE} characters`);
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) throw new CryptoError(code, `${what} contains a control character`);
  }
}

/** Formats the checkpoint note text (ends in a newline). */
export function formatCheckpoint(cp: Checkpoint): string {
  checkString("origin", cp.origin);
  checkLine(cp.origin, "origin", "invalid_argument");
  checkInteger("size", cp.size);
  checkBytes("rootHash", cp.rootHash, HASH_SIZE);
  const ext = cp.extensions ?? [];
  for (const [i, e] of ext.entries())
    checkLine(checkString(`extensions[${i}]`, e), `extensions[${i}]`, "invalid_argument");
  return `${[cp.origin, String(cp.size), toBase64(cp.rootHash), ...ext].join("\n")}\n`;
}

/** Parses checkpoint note text strictly; `text` is attacker-controlled. Throws `malformed`. */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== "string" || !text.endsWith("\n"))
    throw new CryptoError("malformed", "checkpoint text must end in a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3)
    throw new CryptoError("malformed", "checkpoint needs origin, size and root hash lines");
  if (lines.length > 3 + 16)
    throw new CryptoError("too_large", "checkpoint has more than 16 extension lines");
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  checkLine(origin, "checkpoint origin", "malformed");
  if (!SIZE_RE.test(sizeLine))
    throw new CryptoError("malformed", "checkpoint size is not a decimal without leading zeros");
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new CryptoError("malformed", "checkpoint size is too large");
  const rootHash = fromBase64(rootLine, "checkpoint root hash");
  if (rootHash.length !== HASH_SIZE)
    throw new CryptoError("malformed", `checkpoint root hash is not ${HASH_SIZE} bytes`);
  for (const [i, e] of extensions.entries()) checkLine(e, `checkpoint extension line ${i + 1}`, "malformed");
  return extensions.length > 0 ? { origin, size, rootHash, extensions } : { origin, size, rootHash };
}

/** Signs a checkpoint with the log's signer (and optionally more); returns the signed note. */
export function signCheckpoint(cp: Checkpoint, signers: readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(cp), signers);
}

/** What {@link openCheckpoint} checks. */
export interface OpenCheckpointOptions {
  /** The log's verifier; its signature is required. */
  readonly log: NoteVerifier;
  /** Known witnesses (plain Ed25519 or cosignature/v1 verifiers). */
  readonly witnesses?: readonly NoteVerifier[];
  /** Minimum number of distinct known witnesses that must have cosigned (default 0). */
  readonly witnessThreshold?: number;
  /** If set, the origin the caller expects. */
  readonly origin?: string;
  readonly limits?: NoteLimits;
}

/** A verified checkpoint. */
export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The opened note (verified and unknown signatures). */
  readonly note: OpenedNote;
  /** Witness signatures that verified. */
  readonly witnessSignatures: readonly NoteSignature[];
}

/**
 * Opens and verifies a signed checkpoint (attacker-controlled). Unknown signers are ignored and kept.
 * Errors: `malformed`/`too_large` for format, `bad_signature` for a failing known signature or a
 * missing log signature, `unknown_key` when no known key signed, `inconsistent` for a wrong origin,
 * and `bad_signature` when fewer than `witnessThreshold` witnesses cosigned.
 */
export function openCheckpoint(note: string | Uint8Array, options: OpenCheckpointOptions): OpenedCheckpoint {
  const witnesses = options.witnesses ?? [];
  const threshold = checkInteger("witnessThreshold", options.witnessThreshold ?? 0, 0, witnesses.length);
  const opened = openNote(note, [options.log, ...witnesses], options.limits ?? DEFAULT_NOTE_LIMITS);
  const isLog = (s: NoteSignature) => s.name === options.log.name && s.keyId === options.log.keyId;
  if (!opened.verified.some(isLog)) {
    throw new CryptoError(
      "bad_signature",
      `checkpoint is not signed by log key ${options.log.name}+${formatKeyId(options.log.keyId)}`,
    );
  }
  const checkpoint = parseCheckpoint(opened.text);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    throw new CryptoError("inconsistent", "checkpoint origin is not the expected log");
  }
  const witnessSignatures = opened.verified.filter((s) => !isLog(s));
  if (witnessSignatures.length < threshold) {
    throw new CryptoError(
      "bad_signature",
      `${witnessSignatures.length} witness cosignatures, threshold ${threshold}`,
    );
  }
  return { checkpoint, note: opened, witnessSignatures };
}

/**
 * Adds a witness cosignature to a signed checkpoint after checking the log's signature (a witness
 * must also check consistency with the last checkpoint it saw — with {@link verifyConsistency} —
 * before calling this). Existing signatures are kept.
 */
export function cosignCheckpoint(note: string, log: NoteVerifier, witness: NoteSigner): string {
  const opened = openCheckpoint(note, { log });
  const { signatures } = parseNote(note);
  return signNote(opened.note.text, [witness], signatures);
}
