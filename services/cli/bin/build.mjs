#!/usr/bin/env node
// Builds the compiled `lineage` command: services/cli/dist/lineage.mjs, one ES module bundling the CLI, the
// services and the libraries it runs (from their TypeScript sources, the same esbuild transform tsx applies on
// the fly) and their npm dependencies, so `lineage --help` loads one file instead of ~900 modules.
// Run by `npm run build` (root), which `npm install` runs through `prepare` after `tsc -b`.
//
// bin/lineage.js runs this bundle only while it is newer than every source it was built from (see there); the
// bundle's mtime is set to the moment this build STARTED, so a source saved while the build runs counts as newer.
import { statSync, utimesSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const started = new Date();
const entry = fileURLToPath(new URL("../src/entry.ts", import.meta.url));
const outfile = fileURLToPath(new URL("../dist/lineage.mjs", import.meta.url));

await build({
  entryPoints: [entry],
  outfile,
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
utimesSync(outfile, started, started);
const kib = Math.round(statSync(outfile).size / 1024);
process.stdout.write(`built ${outfile} (${kib} KiB) in ${Date.now() - started.getTime()} ms\n`);
