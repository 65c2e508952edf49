/** Exit codes of the `lineage` command; every command uses these and only these. */
export const EXIT = {
  /** The command ran; for checks, everything verified. */
  ok: 0,
  /** The command ran and its check failed (verification failed, tests red). */
  failed: 1,
  /** Bad usage: unknown flag, bad value, missing argument. Nothing was done. */
  usage: 2,
  /** Could not do or check the thing: a file, server or endpoint was unreachable or unreadable. */
  unavailable: 3,
} as const;

export type CliErrorCode = "usage" | "invalid_argument" | "unavailable" | "failed" | "internal";

const exitFor: Record<CliErrorCode, number> = {
  usage: EXIT.usage,
  invalid_argument: EXIT.usage,
  unavailable: EXIT.unavailable,
  failed: EXIT.failed,
  internal: EXIT.failed,
};

/** An error the CLI reports to the user as one clear line, with a fixed exit code per `code`. */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
  get exitCode(): number {
    return exitFor[this.code];
  }
}
