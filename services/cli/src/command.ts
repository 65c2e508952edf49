/**
 * The command model of the `lineage` CLI: a tree of commands, each with typed options parsed strictly
 * (unknown flags and bad values are usage errors naming the flag), `--help` on every level and a `--json`
 * convention for machine-readable output. Commands from every package plug in by exporting a `Command`.
 */
import { parseArgs } from "node:util";
import { CliError } from "./cli-error.js";

/** What a running command may touch: its streams and environment, never `process` directly (testable). */
export interface CommandIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly signal?: AbortSignal;
}

/** One option. `parse` turns the raw string into a value or throws CliError("invalid_argument"). */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly description: string;
  readonly short?: string;
  readonly multiple?: boolean;
  readonly default?: string | boolean;
  readonly valueName?: string;
  readonly required?: boolean;
}

export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
  readonly required?: boolean;
  readonly variadic?: boolean;
}

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** What `run` receives: parsed options, positionals, whether `--json` was asked for, and the io. */
export interface Invocation {
  readonly options: OptionValues;
  readonly positionals: readonly string[];
  readonly json: boolean;
  readonly io: CommandIo;
  /** The command path, e.g. ["audit", "verify"], for messages. */
  readonly path: readonly string[];
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Longer help text shown under the usage line. */
  readonly description?: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly positionals?: readonly PositionalSpec[];
  readonly subcommands?: readonly Command[];
  /** Returns the exit code (see EXIT). Groups without `run` print their help. */
  readonly run?: (inv: Invocation) => Promise<number>;
  /**
   * A lazy command: only its name and summary are here (what its parent's help lists); the command itself is
   * loaded when argv names it, so `lineage --help` does not load every service the CLI can run.
   */
  readonly load?: () => Promise<Command>;
}

const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  help: { type: "boolean", short: "h", description: "Show help for this command." },
  json: { type: "boolean", description: "Print machine-readable JSON on stdout." },
};

/** Renders the help text of a command at `path`. */
export function renderHelp(cmd: Command, path: readonly string[]): string {
  const lines: string[] = [];
  const name = ["lineage", ...path].join(" ");
  const pos = (cmd.positionals ?? [])
    .map((p) => {
      const n = p.variadic ? `${p.name}...` : p.name;
      return p.required ? `<${n}>` : `[${n}]`;
    })
    .join(" ");
  const sub = cmd.subcommands && cmd.subcommands.length > 0 ? " <command>" : "";
  lines.push(`Usage: ${name}${sub}${pos ? ` ${pos}` : ""} [options]`, "", cmd.summary);
  if (cmd.description) lines.push("", cmd.description);
  if (cmd.subcommands && cmd.subcommands.length > 0) {
    lines.push("", "Commands:");
    const w = Math.max(...cmd.subcommands.map((c) => c.name.length));
    for (const c of cmd.subcommands) lines.push(`  ${c.name.padEnd(w)}  ${c.summary}`);
  }
  if (cmd.positionals && cmd.positionals.length > 0) {
    lines.push("", "Arguments:");
    const w = Math.max(...cmd.positionals.map((p) => p.name.length));
    for (const p of cmd.positionals) lines.push(`  ${p.name.padEnd(w)}  ${p.description}`);
  }
  const opts = { ...(cmd.options ?? {}), ...GLOBAL_OPTIONS };
  lines.push("", "Options:");
  const flag = (k: string, o: OptionSpec) =>
    `${o.short ? `-${o.short}, ` : "    "}--${k}${o.type === "string" ? ` <${o.valueName ?? "value"}>` : ""}`;
  const w = Math.max(...Object.entries(opts).map(([k, o]) => flag(k, o).length));
  for (const [k, o] of Object.entries(opts)) {
    const extra = [
      o.multiple ? "repeatable" : "",
      o.default !== undefined ? `default: ${String(o.default)}` : "",
    ]
      .filter(Boolean)
      .join("; ");
    lines.push(`  ${flag(k, o).padEnd(w)}  ${o.description}${extra ? ` (${extra})` : ""}`);
  }
  return `${lines.join("\n")}\n`;
}

function toParseArgsOptions(specs: Readonly<Record<string, OptionSpec>>) {
  const out: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [k, o] of Object.entries(specs)) {
    out[k] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  return out;
}

/** Translates node:util parseArgs errors into one clear usage line. */
function usageFromParseError(err: unknown, path: readonly string[]): CliError {
  const e = err as { code?: string; message?: string };
  const where = ["lineage", ...path].join(" ");
  const msg = String(e.message ?? err)
    .replace(/\. To specify a positional argument.*$/s, "")
    .replace(/\s+$/, "")
    .replace(/^[A-Z]/, (c) => c.toLowerCase());
  return new CliError("usage", `${where}: ${msg} (see '${where} --help')`, { cause: err });
}

/** Loads a lazy command and checks it is the one its stub names. */
async function loadCommand(stub: Command): Promise<Command> {
  const cmd = await (stub.load as () => Promise<Command>)();
  if (cmd.name !== stub.name || cmd.load !== undefined)
    throw new CliError("internal", `lineage: command '${stub.name}' loaded as '${cmd.name}'`);
  return cmd;
}

/**
 * Resolves `argv` against the command tree and runs the command. Never throws: every failure becomes a
 * message on stderr (or a JSON error object on stdout with --json) and an exit code.
 */
export async function runCommand(root: Command, argv: readonly string[], io: CommandIo): Promise<number> {
  const wantsJson = argv.includes("--json");
  try {
    let cmd = root;
    const path: string[] = [];
    let rest = [...argv];
    // Walk down subcommands: the first non-flag word names the subcommand.
    while (cmd.subcommands && cmd.subcommands.length > 0) {
      const idx = rest.findIndex((a) => !a.startsWith("-"));
      if (idx === -1) break;
      const flagsBefore = rest.slice(0, idx);
      const word = rest[idx] as string;
      const next = cmd.subcommands.find((c) => c.name === word);
      if (!next) {
        if (cmd.run) break;
        const where = ["lineage", ...path].join(" ");
        throw new CliError("usage", `${where}: unknown command '${word}' (see '${where} --help')`);
      }
      // Flags written before the subcommand name belong to the parent; only --help/--json are allowed there.
      for (const f of flagsBefore) {
        if (!["--help", "-h", "--json"].includes(f)) {
          const where = ["lineage", ...path].join(" ");
          throw new CliError("usage", `${where}: unknown option '${f}' (see '${where} --help')`);
        }
      }
      cmd = next.load ? await loadCommand(next) : next;
      path.push(word);
      rest = [...flagsBefore, ...rest.slice(idx + 1)];
    }
    const specs = { ...(cmd.options ?? {}), ...GLOBAL_OPTIONS };
    let parsed: { values: Record<string, unknown>; positionals: string[] };
    try {
      parsed = parseArgs({
        args: rest,
        options: toParseArgsOptions(specs),
        allowPositionals: true,
        strict: true,
      }) as { values: Record<string, unknown>; positionals: string[] };
    } catch (err) {
      throw usageFromParseError(err, path);
    }
    if (parsed.values.help || (!cmd.run && parsed.positionals.length === 0)) {
      io.stdout.write(renderHelp(cmd, path));
      return parsed.values.help || path.length === 0 ? 0 : 2;
    }
    if (!cmd.run) {
      const where = ["lineage", ...path].join(" ");
      throw new CliError(
        "usage",
        `${where}: unknown command '${parsed.positionals[0]}' (see '${where} --help')`,
      );
    }
    const where = ["lineage", ...path].join(" ");
    const pspecs = cmd.positionals ?? [];
    const variadic = pspecs.some((p) => p.variadic);
    if (!variadic && parsed.positionals.length > pspecs.length) {
      throw new CliError(
        "usage",
        `${where}: unexpected argument '${parsed.positionals[pspecs.length]}' (see '${where} --help')`,
      );
    }
    pspecs.forEach((p, i) => {
      if (p.required && parsed.positionals[i] === undefined) {
        throw new CliError("usage", `${where}: missing argument <${p.name}> (see '${where} --help')`);
      }
    });
    const values: OptionValues = {};
    for (const [k, o] of Object.entries(specs)) {
      const v = parsed.values[k] ?? o.default;
      if (o.required && v === undefined) {
        throw new CliError("usage", `${where}: missing required option --${k} (see '${where} --help')`);
      }
      if (o.type === "string" && typeof v === "string" && v.length === 0 && !o.multiple) {
        throw new CliError("usage", `${where}: option --${k} needs a non-empty value`);
      }
      values[k] = v as OptionValues[string];
    }
    return await cmd.run({
      options: values,
      positionals: parsed.positionals,
      json: Boolean(values.json),
      io,
      path,
    });
  } catch (err) {
    const e =
      err instanceof CliError
        ? err
        : new CliError("internal", `lineage: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    if (wantsJson) io.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
    io.stderr.write(`${e.message}\n`);
    if (e.code === "internal" && io.env.LINEAGE_DEBUG) io.stderr.write(`${(err as Error)?.stack ?? ""}\n`);
    return e.exitCode;
  }
}
