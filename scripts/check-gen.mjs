#!/usr/bin/env node
// Regenerates the protobuf-es code into a temporary folder and fails if it differs from the
// committed libs/api/src/gen: generated code is committed, never edited by hand.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const committed = join(root, "libs/api/src/gen");
const tmp = mkdtempSync(join(tmpdir(), "lineage-gen-"));

function files(dir) {
  const out = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, "utf8"));
    }
  };
  try {
    walk(dir);
  } catch {
    /* missing folder: compared as empty */
  }
  return out;
}

try {
  const buf = join(root, "node_modules/.bin/buf");
  execFileSync(buf, ["generate", "-o", tmp], { cwd: root, stdio: "inherit" });
  const want = files(join(tmp, "libs/api/src/gen"));
  const have = files(committed);
  const problems = [];
  for (const [f, text] of want) {
    if (!have.has(f)) problems.push(`missing: ${f}`);
    else if (have.get(f) !== text) problems.push(`differs: ${f}`);
  }
  for (const f of have.keys()) if (!want.has(f)) problems.push(`stale: ${f}`);
  if (problems.length > 0) {
    console.error("generated code is out of date (run `npm run gen` and commit):");
    for (const p of problems) console.error(`  ${p}`);
    process.exit(1);
  }
  console.log(`gen:check ok (${want.size} files)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
