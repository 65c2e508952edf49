/** The `lineage` command: one CLI fronting the member node, the hub and the auditor. */
import { readFileSync } from "node:fs";
import type { Command, CommandIo } from "./command.js";
import { runCommand } from "./command.js";
import { commands } from "./commands/index.js";

function readVersion(): string {
  // src/main.ts sits one level below package.json, dist/src/main.js two levels.
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "@lineage/cli" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not at this depth; try the next
    }
  }
  return "unknown";
}

/** The CLI's version, read from its package.json. */
export const VERSION: string = readVersion();

/** The root of the command tree. */
export const root: Command = {
  name: "lineage",
  summary: "Detect, together, when a released or served model was copied from an alliance member's model.",
  description:
    "Roles: 'member' runs a member node, 'hub' runs the secretariat's hub, 'audit' verifies attestations\n" +
    "offline. Add --json to any command for machine-readable output.",
  subcommands: commands,
};

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io?: CommandIo): Promise<number> {
  const theIo: CommandIo = io ?? {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: interruptSignal(),
  };
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    theIo.stdout.write(`lineage ${VERSION}\n`);
    return 0;
  }
  if (argv[0] === "--version" && argv[1] === "--json") {
    theIo.stdout.write(`${JSON.stringify({ version: VERSION })}\n`);
    return 0;
  }
  return runCommand(root, argv, theIo);
}

/** Aborts on the first SIGINT/SIGTERM so long-running commands can shut down cleanly; a second one kills. */
function interruptSignal(): AbortSignal {
  const ac = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      ac.abort();
      process.once(sig, () => process.exit(130));
    });
  }
  return ac.signal;
}
