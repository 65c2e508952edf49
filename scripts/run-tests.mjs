#!/usr/bin/env node
// Runs every *.test.ts under libs/, services/, bench/ and deploy/ (or the paths given) with node:test through tsx,
// resolving workspace packages to their TypeScript sources (the `lineage-source` export condition).
// Node 20 does not discover .ts test files itself, so we list them.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const skip = new Set(["node_modules", "dist", ".git", "gen"]);

function collect(path, out) {
  const st = statSync(path);
  if (st.isFile()) {
    if (path.endsWith(".test.ts")) out.push(path);
    return;
  }
  for (const name of readdirSync(path)) {
    if (!skip.has(name)) collect(join(path, name), out);
  }
}

const args = process.argv.slice(2);
const targets = args.length > 0 ? args : ["libs", "services", "bench", "deploy"];
const files = [];
for (const t of targets) {
  try {
    collect(resolve(root, t), files);
  } catch (err) {
    if (args.length > 0) throw err;
  }
}
files.sort();
if (files.length === 0) {
  console.error("run-tests: no *.test.ts files found under", targets.join(", "));
  process.exit(1);
}
const concurrency = Number(process.env.LINEAGE_TEST_CONCURRENCY ?? Math.max(2, availableParallelism()));
const tsx = import.meta.resolve("tsx");
const res = spawnSync(
  process.execPath,
  ["--conditions=lineage-source", "--import", tsx, "--test", `--test-concurrency=${concurrency}`, ...files],
  { stdio: "inherit", cwd: root },
);
process.exit(res.status ?? 1);
