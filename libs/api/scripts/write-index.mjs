#!/usr/bin/env node
// Writes src/index.ts: one explicit, named re-export per generated symbol (`export type` for
// message types), so the package has one way in and no `export *`. Run after `npm run gen`;
// src/index.test.ts fails when the index and the generated files disagree.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const pkg = resolve(import.meta.dirname, "..");
const genRoot = join(pkg, "src/gen");

/** @returns {string[]} generated files, sorted */
function genFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...genFiles(p));
    else if (name.endsWith("_pb.ts")) out.push(p);
  }
  return out;
}

/** Exported names of a generated file, split into values and types. */
export function exportsOf(text) {
  const values = [];
  const types = [];
  for (const m of text.matchAll(/^export (const|enum|type) (\w+)/gm)) {
    if (m[1] === "type") types.push(m[2]);
    else values.push(m[2]);
  }
  return { values, types };
}

const lines = [
  "// Written by scripts/write-index.mjs from the generated files in src/gen (never edit by hand).",
  "/** Generated protobuf-es code for the Lineage API (proto/lineage/v1), with google.rpc error types. */",
];
for (const file of genFiles(genRoot)) {
  const spec = `./${relative(join(pkg, "src"), file).replace(/\.ts$/, ".js")}`;
  const { values, types } = exportsOf(readFileSync(file, "utf8"));
  if (types.length > 0) lines.push(`export type { ${types.join(", ")} } from "${spec}";`);
  if (values.length > 0) lines.push(`export { ${values.join(", ")} } from "${spec}";`);
}
if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(join(pkg, "src/index.ts"), `${lines.join("\n")}\n`);
  console.log("wrote src/index.ts");
}
