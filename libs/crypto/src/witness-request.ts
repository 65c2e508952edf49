/**
 * The body of a c2sp.org/tlog-witness `add-checkpoint` request, and of its success response:
 *
 *   request   "old " decimal(old size) "\n"  then one base64 consistency-proof hash per line,
 *             then an empty line, then the signed checkpoint note (docs/specs/witness.md)
 *   response  one or more note signature lines ("— name base64(key id || signature)\n")
 *
 * Both sides parse bodies that an attacker may have written: every size is bounded before parsing.
 */
import { checkInteger, fromBase64, toBase64 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";
import { HASH_SIZE } from "./merkle-hash.js";

/** Largest add-checkpoint body accepted (a checkpoint note is at most 16 KiB; a proof at most 63 lines). */
export const MAX_ADD_CHECKPOINT_BYTES = 16 * 1024 + 64 * 64;
/** Most consistency-proof lines (tlog-witness: at most 63). */
export const MAX_WITNESS_PROOF_LINES = 63;

/** A parsed add-checkpoint request. */
export interface AddCheckpointRequest {
  /** The tree size the client believes the witness last cosigned (0 for a first contact). */
  readonly oldSize: number;
  /** Consistency proof from `oldSize` to the checkpoint's size. */
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note (text, blank line, signature lines). */
  readonly note: string;
}

const OLD_RE = /^old (0|[1-9][0-9]{0,15})$/;

/** Formats an add-checkpoint request body. */
export function formatAddCheckpointRequest(req: AddCheckpointRequest): string {
  checkInteger("oldSize", req.oldSize);
  if (req.proof.length > MAX_WITNESS_PROOF_LINES)
    throw new CryptoError("invalid_argument", `proof has more than ${MAX_WITNESS_PROOF_LINES} hashes`);
  for (const [i, h] of req.proof.entries()) {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE)
      throw new CryptoError("invalid_argument", `proof[${i}] must be ${HASH_SIZE} bytes`);
  }
  if (typeof req.note !== "string" || req.note.length === 0)
    throw new CryptoError("invalid_argument", "note must be a non-empty string");
  return `old ${req.oldSize}\n${req.proof.map((h) => `${toBase64(h)}\n`).join("")}\n${req.note}`;
}

/**
 * Parses an add-checkpoint request body (attacker-controlled). Throws `too_large` or `malformed`
 * naming what is wrong; the note itself is only split off here, its signatures are checked by the witness.
 */
export function parseAddCheckpointRequest(body: string): AddCheckpointRequest {
  if (typeof body !== "string") throw new CryptoError("malformed", "request body is not text");
  if (body.length > MAX_ADD_CHECKPOINT_BYTES)
    throw new CryptoError("too_large", `request body exceeds ${MAX_ADD_CHECKPOINT_BYTES} bytes`);
  const first = body.indexOf("\n");
  if (first < 0) throw new CryptoError("malformed", 'request body must start with an "old <size>" line');
  const m = OLD_RE.exec(body.slice(0, first));
  if (m === null)
    throw new CryptoError("malformed", 'first line must be "old <size>" (decimal, no leading zeros)');
  const oldSize = Number(m[1]);
  if (!Number.isSafeInteger(oldSize)) throw new CryptoError("malformed", "old size is too large");
  const proof: Uint8Array[] = [];
  let at = first + 1;
  for (;;) {
    const end = body.indexOf("\n", at);
    if (end < 0) throw new CryptoError("malformed", "request body has no empty line before the checkpoint");
    const line = body.slice(at, end);
    at = end + 1;
    if (line.length === 0) break;
    if (proof.length === MAX_WITNESS_PROOF_LINES)
      throw new CryptoError("too_large", `consistency proof has more than ${MAX_WITNESS_PROOF_LINES} lines`);
    const h = fromBase64(line, `consistency proof line ${proof.length + 1}`);
    if (h.length !== HASH_SIZE)
      throw new CryptoError(
        "malformed",
        `consistency proof line ${proof.length + 1} is not ${HASH_SIZE} bytes`,
      );
    proof.push(h);
  }
  const note = body.slice(at);
  if (note.length === 0) throw new CryptoError("malformed", "request body has no checkpoint");
  return { oldSize, proof, note };
}
