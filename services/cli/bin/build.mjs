#!/usr/bin/env node
// Builds the compiled `lineage` command (`npm run build`; `npm install` runs it through `prepare`):
//   1. `tsc -b`: every package's dist/ (what the packages' "default" exports resolve to), and the typecheck;
//   2. services/cli/dist/lineage.mjs: one ES module bundling the CLI, the services and libraries it runs (from
//      their TypeScript sources, the same esbuild transform tsx applies on the fly) and their npm
//      dependencies, so `lineage --help` loads one file instead of ~900 modules.
// --bundle-only skips step 1 (bench:startup). With --prepare (npm install) a type error is reported but
// does not fail the install: tsc still emits, the bundle does not depend on it, and `npm test` fails on it
// (`npm run typecheck`). Without --prepare it fails the build.
//
// bin/lineage.js runs this bundle only while it is newer than every source it was built from (see there); the
// bundle's mtime is set to the moment the bundling STARTED, so a source saved meanwhile counts as newer.
import { spawnSync } from "node:child_process";
import { rmSync, statSync, utimesSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const prepare = process.argv.includes("--prepare");
const bundleOnly = process.argv.includes("--bundle-only");
const unknown = process.argv.slice(2).filter((a) => a !== "--prepare" && a !== "--bundle-only");
if (unknown.length > 0) {
  process.stderr.write(`build.mjs: unknown argument ${unknown[0]} (--prepare, --bundle-only)\n`);
  process.exit(2);
}
const tsc = bundleOnly
  ? { status: 0 }
  : spawnSync(process.execPath, [fileURLToPath(import.meta.resolve("typescript/bin/tsc")), "-b"], {
      cwd: fileURLToPath(new URL("../../..", import.meta.url)),
      stdio: "inherit",
    });
const typecheckFailed = tsc.status !== 0;
if (typecheckFailed && !prepare) process.exit(tsc.status ?? 1);
if (typecheckFailed)
  process.stderr.write(
    "build: tsc -b reported errors (above); bundling anyway — `npm run typecheck` fails on them\n",
  );

const started = new Date();
const entry = fileURLToPath(new URL("../src/entry.ts", import.meta.url));
const outdir = fileURLToPath(new URL("../dist", import.meta.url));
// Chunks of an earlier build would pile up (their names carry a content hash): each build starts without them,
// and without the entry that imports them, so a build that fails leaves no bundle (bin/lineage.js then runs the
// sources) rather than an entry whose chunks are gone.
rmSync(fileURLToPath(new URL("../dist/chunks", import.meta.url)), { recursive: true, force: true });
rmSync(fileURLToPath(new URL("../dist/lineage.mjs", import.meta.url)), { force: true });

await build({
  // dist/lineage.mjs, and the code only some commands run in dist/chunks/ (split at the commands' dynamic
  // imports, services/cli/src/commands/index.ts), so `lineage --help` parses a fraction of it.
  entryPoints: { lineage: entry },
  outdir,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Resolve the workspace packages to their TypeScript sources (package.json "exports" condition).
  conditions: ["lineage-source"],
  // PGlite loads its WebAssembly and data files relative to its own module: it stays in node_modules.
  external: ["@electric-sql/pglite"],
  // The CommonJS dependencies (grpc-js, pg) call require() on node builtins.
  banner: {
    js: "import { createRequire as __lineageCreateRequire } from 'node:module'; const require = __lineageCreateRequire(import.meta.url);",
  },
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "none",
  logLevel: "warning",
});
const outfile = `${outdir}/lineage.mjs`;
utimesSync(outfile, started, started);
const kib = Math.round(statSync(outfile).size / 1024);
process.stdout.write(
  `built ${outfile} (${kib} KiB; the commands' chunks in dist/chunks) in ${Date.now() - started.getTime()} ms\n`,
);
