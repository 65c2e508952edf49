/**
 * Turns a store failure into the CLI's error: an unreachable database, or an embedded folder another process
 * holds (`locked`), is "could not" (exit 3); a bad argument is usage; the rest failed.
 */
import { isStoreError } from "@lineage/store";
import { CliError } from "./cli-error.js";

export function cliErrorFromStore(err: unknown, where: string): CliError {
  if (err instanceof CliError) return err;
  if (isStoreError(err)) {
    const code =
      err.code === "invalid_argument"
        ? "invalid_argument"
        : err.code === "unavailable" || err.code === "locked"
          ? "unavailable"
          : "failed";
    return new CliError(code, `${where}: ${err.message}`, { cause: err });
  }
  return new CliError("internal", `${where}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
