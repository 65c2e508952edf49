/**
 * The database flags every role shares: `--pg URL` for a PostgreSQL server (or LINEAGE_PG_URL),
 * else `--data-dir DIR` for the embedded PGlite default (default `.lineage/<role>` under the cwd).
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { openStore, type Store, type StoreOptions } from "@lineage/store";
import { CliError } from "./cli-error.js";
import type { Invocation, OptionSpec } from "./command.js";
import { stringOpt } from "./option-values.js";

export const storeFlags: Readonly<Record<string, OptionSpec>> = {
  pg: {
    type: "string",
    valueName: "url",
    description: "PostgreSQL URL (default: $LINEAGE_PG_URL, else embedded)",
  },
  schema: { type: "string", valueName: "name", description: "Postgres schema for this role's tables" },
  "data-dir": {
    type: "string",
    valueName: "dir",
    description: "Embedded database directory (default .lineage/<role>)",
  },
};

/** Reads the database flags of `role` into store options; `--pg` and `--data-dir` exclude each other. */
export function storeOptionsFrom(inv: Invocation, role: string): StoreOptions {
  const pgUrl = stringOpt(inv, "pg") ?? inv.io.env.LINEAGE_PG_URL;
  const dataDir = stringOpt(inv, "data-dir");
  const schema = stringOpt(inv, "schema");
  const where = ["lineage", ...inv.path].join(" ");
  if (pgUrl !== undefined && dataDir !== undefined) {
    throw new CliError("usage", `${where}: --pg and --data-dir exclude each other`);
  }
  if (pgUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(pgUrl)) {
      throw new CliError("invalid_argument", `${where}: --pg must be a postgres:// URL`);
    }
    return { kind: "postgres", url: pgUrl, ...(schema !== undefined ? { schema } : {}) };
  }
  if (schema !== undefined) throw new CliError("usage", `${where}: --schema needs --pg`);
  return { kind: "pglite", dataDir: resolve(inv.io.cwd, dataDir ?? `.lineage/${role}`) };
}

/** Opens the role's store from its flags, creating the embedded database's directory when needed. */
export async function openRoleStore<DB>(inv: Invocation, role: string): Promise<Store<DB>> {
  const opts = storeOptionsFrom(inv, role);
  if (opts.kind === "pglite" && opts.dataDir !== undefined) {
    try {
      await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      const where = ["lineage", ...inv.path].join(" ");
      throw new CliError(
        "unavailable",
        `${where}: cannot create ${opts.dataDir}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
  }
  return openStore<DB>(opts);
}
