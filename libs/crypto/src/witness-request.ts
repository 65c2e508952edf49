/**
 * The body of a c2sp.org/tlog-witness `add-checkpoint` request, and of its success response:
 *
 *   request   "old " decimal(old size) "\n"  then one base64 consistency-proof hash per line,
 *             then an empty line, then the signed checkpoint note (docs/specs/witness.md)
 *   response  one or more note signature lines ("— name base64(key id || signature)\n")
 *
 * Lineage profile (docs/specs/witness.md, "Following a root rotation"): when the log's key rotated since the
 * witness last cosigned, the request is prefixed with the rotation statements the witness needs, each with its
 * inclusion proof in the checkpoint's tree:
 *
 *   rotation  "rotate " decimal(leaf index) " " base64(log leaf) "\n"  then one base64 inclusion-proof hash
 *             per line, then an empty line; 1..MAX_ROTATIONS_PER_REQUEST of them, in log order, before "old"
 *
 * Without a rotation the body is exactly c2sp.org/tlog-witness's.
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

/** Most root rotations one request carries (a witness further behind is re-keyed by its operator). */
export const MAX_ROTATIONS_PER_REQUEST = 8;
/** Largest log leaf of a rotation statement (a HubKeyStatement envelope is well under 1 KiB). */
export const MAX_ROTATION_LEAF_BYTES = 4 * 1024;
/** Largest whole witness request body: the add-checkpoint body and its rotation blocks. */
export const MAX_WITNESS_REQUEST_BYTES =
  MAX_ADD_CHECKPOINT_BYTES +
  MAX_ROTATIONS_PER_REQUEST *
    (32 + Math.ceil(MAX_ROTATION_LEAF_BYTES / 3) * 4 + (MAX_WITNESS_PROOF_LINES + 1) * 45);

/** One root rotation statement sent to a witness: its log leaf and the leaf's inclusion proof. */
export interface RootRotationProof {
  /** The leaf's index in the log. */
  readonly index: number;
  /** The log leaf bytes (an encoded LogLeaf holding the ROTATE_ROOT statement's envelope). */
  readonly leaf: Uint8Array;
  /** Inclusion proof (RFC 9162 2.1.3) of the leaf in the request's checkpoint's tree. */
  readonly proof: readonly Uint8Array[];
}

/** A parsed add-checkpoint request. */
export interface AddCheckpointRequest {
  /** The tree size the client believes the witness last cosigned (0 for a first contact). */
  readonly oldSize: number;
  /** Consistency proof from `oldSize` to the checkpoint's size. */
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note (text, blank line, signature lines). */
  readonly note: string;
  /** Root rotations since the witness's trusted key, in log order (Lineage profile); absent or empty: none. */
  readonly rotations?: readonly RootRotationProof[];
}

const OLD_RE = /^old (0|[1-9][0-9]{0,15})$/;
const ROTATE_RE = /^rotate (0|[1-9][0-9]{0,15}) ([A-Za-z0-9+/]+={0,2})$/;

function checkHashes(what: string, hashes: readonly Uint8Array[]): void {
  if (hashes.length > MAX_WITNESS_PROOF_LINES)
    throw new CryptoError("invalid_argument", `${what} has more than ${MAX_WITNESS_PROOF_LINES} hashes`);
  for (const [i, h] of hashes.entries()) {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE)
      throw new CryptoError("invalid_argument", `${what}[${i}] must be ${HASH_SIZE} bytes`);
  }
}

function formatRotations(rotations: readonly RootRotationProof[]): string {
  if (rotations.length > MAX_ROTATIONS_PER_REQUEST)
    throw new CryptoError("invalid_argument", `more than ${MAX_ROTATIONS_PER_REQUEST} rotations`);
  let out = "";
  let prev = -1;
  for (const [i, r] of rotations.entries()) {
    checkInteger(`rotations[${i}].index`, r.index);
    if (r.index <= prev) throw new CryptoError("invalid_argument", "rotations must be in log order");
    prev = r.index;
    if (!(r.leaf instanceof Uint8Array) || r.leaf.length === 0 || r.leaf.length > MAX_ROTATION_LEAF_BYTES)
      throw new CryptoError(
        "invalid_argument",
        `rotations[${i}].leaf must be 1..${MAX_ROTATION_LEAF_BYTES} bytes`,
      );
    checkHashes(`rotations[${i}].proof`, r.proof);
    out += `rotate ${r.index} ${toBase64(r.leaf)}\n${r.proof.map((h) => `${toBase64(h)}\n`).join("")}\n`;
  }
  return out;
}

/** Formats an add-checkpoint request body. */
export function formatAddCheckpointRequest(req: AddCheckpointRequest): string {
  checkInteger("oldSize", req.oldSize);
  checkHashes("proof", req.proof);
  if (typeof req.note !== "string" || req.note.length === 0)
    throw new CryptoError("invalid_argument", "note must be a non-empty string");
  const rotations = formatRotations(req.rotations ?? []);
  return `${rotations}old ${req.oldSize}\n${req.proof.map((h) => `${toBase64(h)}\n`).join("")}\n${req.note}`;
}

/**
 * Reads proof lines (base64 hashes, one per line) from `at` up to an empty line; returns them and where the
 * text after the empty line starts.
 */
function readHashLines(body: string, at: number, what: string): { hashes: Uint8Array[]; next: number } {
  const hashes: Uint8Array[] = [];
  for (;;) {
    const end = body.indexOf("\n", at);
    if (end < 0) throw new CryptoError("malformed", `request body has no empty line after the ${what}`);
    const line = body.slice(at, end);
    at = end + 1;
    if (line.length === 0) return { hashes, next: at };
    if (hashes.length === MAX_WITNESS_PROOF_LINES)
      throw new CryptoError("too_large", `${what} has more than ${MAX_WITNESS_PROOF_LINES} lines`);
    const h = fromBase64(line, `${what} line ${hashes.length + 1}`);
    if (h.length !== HASH_SIZE)
      throw new CryptoError("malformed", `${what} line ${hashes.length + 1} is not ${HASH_SIZE} bytes`);
    hashes.push(h);
  }
}

/**
 * Parses an add-checkpoint request body (attacker-controlled). Throws `too_large` or `malformed`
 * naming what is wrong; the note itself is only split off here, its signatures are checked by the witness.
 */
export function parseAddCheckpointRequest(body: string): AddCheckpointRequest {
  if (typeof body !== "string") throw new CryptoError("malformed", "request body is not text");
  if (body.length > MAX_WITNESS_REQUEST_BYTES)
    throw new CryptoError("too_large", `request body exceeds ${MAX_WITNESS_REQUEST_BYTES} bytes`);
  // Lineage profile: rotation blocks before the C2SP body (module comment).
  const rotations: RootRotationProof[] = [];
  let start = 0;
  while (body.startsWith("rotate ", start)) {
    if (rotations.length === MAX_ROTATIONS_PER_REQUEST)
      throw new CryptoError("too_large", `more than ${MAX_ROTATIONS_PER_REQUEST} rotations`);
    const end = body.indexOf("\n", start);
    const m = end < 0 ? null : ROTATE_RE.exec(body.slice(start, end));
    if (m === null)
      throw new CryptoError("malformed", 'a rotation line must be "rotate <index> <base64 leaf>"');
    const index = Number(m[1]);
    if (!Number.isSafeInteger(index)) throw new CryptoError("malformed", "rotation index is too large");
    if (rotations.length > 0 && index <= (rotations.at(-1) as RootRotationProof).index)
      throw new CryptoError("malformed", "rotations must be in log order");
    const leaf = fromBase64(m[2] as string, "rotation leaf");
    if (leaf.length === 0 || leaf.length > MAX_ROTATION_LEAF_BYTES)
      throw new CryptoError("malformed", `a rotation leaf must be 1..${MAX_ROTATION_LEAF_BYTES} bytes`);
    const { hashes, next } = readHashLines(body, end + 1, "rotation inclusion proof");
    rotations.push({ index, leaf, proof: hashes });
    start = next;
  }
  const rest = start === 0 ? body : body.slice(start);
  if (rest.length > MAX_ADD_CHECKPOINT_BYTES)
    throw new CryptoError("too_large", `request body exceeds ${MAX_ADD_CHECKPOINT_BYTES} bytes`);
  const first = rest.indexOf("\n");
  if (first < 0) throw new CryptoError("malformed", 'request body must start with an "old <size>" line');
  const m = OLD_RE.exec(rest.slice(0, first));
  if (m === null)
    throw new CryptoError("malformed", 'first line must be "old <size>" (decimal, no leading zeros)');
  const oldSize = Number(m[1]);
  if (!Number.isSafeInteger(oldSize)) throw new CryptoError("malformed", "old size is too large");
  const { hashes: proof, next } = readHashLines(rest, first + 1, "consistency proof");
  const note = rest.slice(next);
  if (note.length === 0) throw new CryptoError("malformed", "request body has no checkpoint");
  return rotations.length === 0 ? { oldSize, proof, note } : { oldSize, proof, note, rotations };
}
