#!/usr/bin/env node
// The `lineage` command. Runs the compiled bundle (dist/lineage.mjs, built at `npm install` by `npm run build`,
// see bin/build.mjs) when it is up to date, and otherwise the TypeScript sources through tsx, so a developer
// editing sources never runs stale code.
//
// Up to date means: the bundle is newer than every file and directory under each workspace package's src/
// (a directory's mtime moves when a file in it is added, removed or renamed), each package.json, and
// node_modules/.package-lock.json (npm rewrites it when dependencies change). The bundle's mtime is its build's
// start. The check stats ~450 entries: a few milliseconds (`npm run bench:startup` reports it).
//
// LINEAGE_USE_DIST=1 runs the bundle without the check (fails if it was never built); LINEAGE_USE_DIST=0
// always runs the sources. LINEAGE_TRACE_STARTUP=1 prints which one ran and what the check cost to stderr.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";

// The embedded database (PGlite) is PostgreSQL compiled to WebAssembly. V8 compiles it in the background by
// default, and the first timer or I/O callback after the database opens then waits on that compilation: up to
// 1.5 s more before a member node's port answers, and twice the CPU (bench:startup). Compiled on the main thread
// (lazily, function by function as PostgreSQL first calls them) it opens in the same time and nothing waits.
// Set before the bundle loads anything; it affects WebAssembly compilation only.
setFlagsFromString("--no-wasm-async-compilation");

const args = process.argv.slice(2);
const bundle = new URL("../dist/lineage.mjs", import.meta.url);
const mode = process.env.LINEAGE_USE_DIST;

/** mtime of `path` in ms, or -1 when it does not exist. */
function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

/** True when any source the bundle was built from is newer than `than` (stops at the first). */
function newerSource(root, than) {
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    if (mtime(dir) > than) return true;
    for (const e of entries) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) {
        if (walk(p)) return true;
      } else if (mtime(p) > than) return true;
    }
    return false;
  };
  if (mtime(`${root}/node_modules/.package-lock.json`) > than) return true;
  for (const group of ["libs", "services"]) {
    let pkgs;
    try {
      pkgs = readdirSync(`${root}/${group}`);
    } catch {
      continue;
    }
    for (const pkg of pkgs) {
      const dir = `${root}/${group}/${pkg}`;
      if (mtime(`${dir}/package.json`) > than || walk(`${dir}/src`)) return true;
    }
  }
  return false;
}

function useCompiled() {
  if (mode === "1") return true;
  if (mode === "0") return false;
  const built = mtime(fileURLToPath(bundle));
  if (built < 0) return false;
  return !newerSource(fileURLToPath(new URL("../../..", import.meta.url)).replace(/\/$/, ""), built);
}

const checkStart = performance.now();
const compiled = useCompiled();
if (process.env.LINEAGE_TRACE_STARTUP === "1") {
  const ms = (performance.now() - checkStart).toFixed(2);
  process.stderr.write(`lineage: running ${compiled ? "compiled" : "source"} (freshness check ${ms} ms)\n`);
}
if (compiled) {
  // The bundle's entry sets process.exitCode from main().
  await import(bundle.href);
} else {
  const entry = fileURLToPath(new URL("../src/entry.ts", import.meta.url));
  const tsx = import.meta.resolve("tsx");
  const child = spawn(
    process.execPath,
    ["--no-wasm-async-compilation", "--conditions=lineage-source", "--import", tsx, entry, ...args],
    { stdio: "inherit" },
  );
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
