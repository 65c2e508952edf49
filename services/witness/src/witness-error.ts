/**
 * The one error type of the witness. `code` says what was wrong; the HTTP server maps it to the status
 * c2sp.org/tlog-witness prescribes (witnessHttpStatus), and only the safe message is sent.
 */

/** Every way a witness refuses or fails. */
export type WitnessErrorCode =
  /** The request body or the checkpoint does not follow its format (HTTP 400). */
  | "malformed"
  /** The request body exceeds its bound (HTTP 400, as tlog-witness asks for malformed requests). */
  | "too_large"
  /** The checkpoint's origin is not a log this witness is configured for (HTTP 404). */
  | "unknown_log"
  /** The checkpoint is not signed by the configured key of its log, or a signature is bad (HTTP 403). */
  | "bad_signature"
  /** The request's old size is not the size this witness last cosigned for the log (HTTP 409). */
  | "old_size_mismatch"
  /** The checkpoint is smaller than one this witness already cosigned: a replayed older checkpoint (HTTP 409). */
  | "rollback"
  /** Same size as the checkpoint the witness cosigned, another root: the log forked (HTTP 409). */
  | "fork"
  /**
   * The checkpoint's `lineage-previous-size` line names a size smaller than one this witness already cosigned:
   * the log hides a checkpoint it signed (e.g. to re-draw a disclosure seed) (HTTP 409).
   */
  | "hidden_checkpoint"
  /** The consistency proof does not prove the new tree extends the one cosigned before (HTTP 422). */
  | "bad_proof"
  /**
   * Root rotation (docs/specs/witness.md): a ROTATE_ROOT statement not signed by the root this witness trusts
   * (or by the root before it in a chain), or not by the key it names (HTTP 403).
   */
  | "rotation_unauthorized"
  /** A rotation statement's inclusion proof does not reach the new checkpoint's root (HTTP 422). */
  | "rotation_not_included"
  /** A proven rotation names a key, but the checkpoint is signed by another one (HTTP 403). */
  | "rotation_key_mismatch"
  /** The checkpoint is signed by a root this witness followed a rotation away from (HTTP 403). */
  | "root_rotated_out"
  /**
   * A rotation the witness cannot follow: a leaf that is not a valid ROTATE_ROOT of this log (malformed,
   * stale, another origin), one logged inside a tree the old root signed, or one back to a former root (HTTP 422).
   */
  | "bad_rotation"
  /** A caller (configuration, CLI flag) passed a bad argument. */
  | "invalid_argument"
  /** The state could not be read or written: nothing was cosigned (HTTP 503; retry later). */
  | "unavailable"
  /** A bug. */
  | "internal";

/** Options of {@link WitnessError}. */
export interface WitnessErrorOptions {
  readonly cause?: unknown;
  /** For `old_size_mismatch` and `rollback`: the size the witness last cosigned (sent back to the client). */
  readonly latestSize?: number;
}

/** Error raised by the witness. */
export class WitnessError extends Error {
  override readonly name = "WitnessError";
  readonly code: WitnessErrorCode;
  readonly retryable: boolean;
  readonly latestSize: number | undefined;

  constructor(code: WitnessErrorCode, message: string, options: WitnessErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = code === "unavailable";
    this.latestSize = options.latestSize;
  }
}

/** True when `err` is a {@link WitnessError}, optionally with the given code. */
export function isWitnessError(err: unknown, code?: WitnessErrorCode): err is WitnessError {
  return err instanceof WitnessError && (code === undefined || err.code === code);
}

/** The HTTP status of a refusal (c2sp.org/tlog-witness, "add-checkpoint"). */
export function witnessHttpStatus(code: WitnessErrorCode): number {
  switch (code) {
    case "malformed":
    case "too_large":
    case "invalid_argument":
      return 400;
    case "bad_signature":
    case "rotation_unauthorized":
    case "rotation_key_mismatch":
    case "root_rotated_out":
      return 403;
    case "unknown_log":
      return 404;
    case "old_size_mismatch":
    case "rollback":
    case "fork":
    case "hidden_checkpoint":
      return 409;
    case "bad_proof":
    case "rotation_not_included":
    case "bad_rotation":
      return 422;
    case "unavailable":
      return 503;
    default:
      return 500;
  }
}
