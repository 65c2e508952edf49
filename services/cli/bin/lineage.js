#!/usr/bin/env node
// The `lineage` command. Runs the TypeScript sources through tsx (the default, so a checkout needs no
// build step), or the compiled dist/ when LINEAGE_USE_DIST=1 (production images build with `tsc -b`).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
if (process.env.LINEAGE_USE_DIST === "1") {
  const { main } = await import(new URL("../dist/src/main.js", import.meta.url).href);
  process.exitCode = await main(args);
} else {
  const entry = fileURLToPath(new URL("../src/entry.ts", import.meta.url));
  const tsx = import.meta.resolve("tsx");
  const child = spawn(process.execPath, ["--conditions=lineage-source", "--import", tsx, entry, ...args], {
    stdio: "inherit",
  });
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
