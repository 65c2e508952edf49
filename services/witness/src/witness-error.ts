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
      return 403;
    case "unknown_log":
      return 404;
    case "old_size_mismatch":
    case "rollback":
    case "fork":
    case "hidden_checkpoint":
      return 409;
    case "bad_proof":
      return 422;
    case "unavailable":
      return 503;
    default:
      return 500;
  }
}
