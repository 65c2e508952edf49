/** Turns a store failure into the CLI's error: unreachable databases are "could not", the rest usage. */
import { isStoreError } from "@lineage/store";
import { CliError } from "./cli-error.js";

export function cliErrorFromStore(err: unknown, where: string): CliError {
  if (err instanceof CliError) return err;
  if (isStoreError(err)) {
    const code =
      err.code === "invalid_argument"
        ? "invalid_argument"
        : err.code === "unavailable"
          ? "unavailable"
          : "failed";
    return new CliError(code, `${where}: ${err.message}`, { cause: err });
  }
  return new CliError("internal", `${where}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
