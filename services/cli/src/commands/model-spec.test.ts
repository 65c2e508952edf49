/**
 * Model specs as they arrive on the command line: the same model given twice is refused by name (replay
 * files by real path, endpoints by normalised URL and model), and an empty replay file is refused by name,
 * each with exit code 2 before anything is probed.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { captureIo } from "../capture-io.js";
import { CliError, EXIT } from "../cli-error.js";
import { main } from "../main.js";
import { checkDistinctModels, modelIdentity } from "./model-spec.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-model-spec-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const line = (id: string, output: string) => JSON.stringify({ id, prompt: `prompt ${id}`, output });
writeFileSync(join(dir, "a.jsonl"), [line("p1", "alpha one"), line("p2", "alpha two")].join("\n"));
writeFileSync(join(dir, "b.jsonl"), [line("p1", "beta one"), line("p2", "beta two")].join("\n"));
writeFileSync(join(dir, "c.jsonl"), [line("p1", "gamma one"), line("p2", "gamma two")].join("\n"));
mkdirSync(join(dir, "sub"));
symlinkSync(join(dir, "a.jsonl"), join(dir, "sub", "link-to-a.jsonl"));

async function run(args: string[]) {
  const io = captureIo({ cwd: dir });
  const code = await main(["compare", ...args], io);
  return { code, err: io.err(), out: io.out() };
}

test("modelIdentity: replay by real path, endpoints by normalised URL and model", async () => {
  const a = await modelIdentity("replay:a.jsonl", dir);
  assert.equal(await modelIdentity("replay:./sub/../a.jsonl", dir), a);
  assert.equal(await modelIdentity("replay:sub/link-to-a.jsonl", dir), a);
  assert.notEqual(await modelIdentity("replay:b.jsonl", dir), a);
  const h = await modelIdentity("http://Example.COM:80/v1?model=m", dir);
  assert.equal(await modelIdentity("http://example.com/v1/?model=m", dir), h);
  assert.equal(await modelIdentity("http://example.com?model=m", dir), h);
  assert.notEqual(await modelIdentity("http://example.com/v1?model=n", dir), h);
  assert.notEqual(await modelIdentity("https://example.com/v1?model=m", dir), h);
  assert.notEqual(await modelIdentity("http://example.com:8080/v1?model=m", dir), h);
});

test("checkDistinctModels names both flags and the file", async () => {
  await checkDistinctModels(
    [
      { flag: "suspect", spec: "replay:a.jsonl" },
      { flag: "reference", spec: "replay:b.jsonl" },
      { flag: "panel", spec: "replay:c.jsonl" },
    ],
    dir,
  );
  await assert.rejects(
    checkDistinctModels(
      [
        { flag: "suspect", spec: "replay:a.jsonl" },
        { flag: "panel", spec: "replay:sub/link-to-a.jsonl" },
      ],
      dir,
    ),
    (e: unknown) =>
      e instanceof CliError &&
      e.code === "invalid_argument" &&
      e.message.includes("--suspect and --panel") &&
      e.message.includes(join(dir, "a.jsonl")),
  );
});

test("compare refuses one file as suspect and reference, naming it (exit 2)", async () => {
  const r = await run([
    "--suspect",
    "replay:a.jsonl",
    "--reference",
    "replay:./a.jsonl",
    "--panel",
    "replay:b.jsonl",
  ]);
  assert.equal(r.code, EXIT.usage);
  assert.match(r.err, /--suspect and --reference/);
  assert.ok(r.err.includes(join(dir, "a.jsonl")), r.err);
});

test("compare refuses the suspect or the reference in the panel, and a panel member twice (exit 2)", async () => {
  const s = await run([
    "--suspect",
    "replay:a.jsonl",
    "--reference",
    "replay:b.jsonl",
    "--panel",
    "replay:sub/link-to-a.jsonl",
  ]);
  assert.equal(s.code, EXIT.usage);
  assert.match(s.err, /--suspect and --panel/);
  assert.ok(s.err.includes(join(dir, "a.jsonl")), s.err);
  const r = await run([
    "--suspect",
    "replay:a.jsonl",
    "--reference",
    "replay:b.jsonl",
    "--panel",
    "replay:b.jsonl",
  ]);
  assert.equal(r.code, EXIT.usage);
  assert.match(r.err, /--reference and --panel/);
  assert.ok(r.err.includes(join(dir, "b.jsonl")), r.err);
  const p = await run([
    "--suspect",
    "replay:a.jsonl",
    "--reference",
    "replay:b.jsonl",
    "--panel",
    "replay:c.jsonl",
    "--panel",
    "replay:./c.jsonl",
  ]);
  assert.equal(p.code, EXIT.usage);
  assert.match(p.err, /twice as --panel/);
  assert.ok(p.err.includes(join(dir, "c.jsonl")), p.err);
});

test("compare refuses one endpoint given twice, naming it (exit 2, nothing is queried)", async () => {
  // Port 1 on loopback: were anything queried, the run would fail with exit 3, not 2.
  const r = await run([
    "--suspect",
    "http://127.0.0.1:1/v1?model=x",
    "--reference",
    "replay:b.jsonl",
    "--panel",
    "http://127.0.0.1:1/v1/?model=x",
    "--json",
  ]);
  assert.equal(r.code, EXIT.usage);
  assert.match(r.err, /--suspect and --panel/);
  assert.match(r.err, /127\.0\.0\.1:1 model=x/);
  assert.equal((JSON.parse(r.out) as { error: { code: string } }).error.code, "invalid_argument");
});

test("compare refuses an empty replay file and a blank-line-only one, naming the file (exit 2)", async () => {
  writeFileSync(join(dir, "empty.jsonl"), "");
  writeFileSync(join(dir, "blank.jsonl"), "  \n");
  for (const [name, flag] of [
    ["empty.jsonl", "suspect"],
    ["blank.jsonl", "reference"],
    ["blank.jsonl", "panel"],
  ] as const) {
    const specs: Record<string, string> = {
      suspect: "replay:a.jsonl",
      reference: "replay:b.jsonl",
      panel: "replay:c.jsonl",
      [flag]: `replay:${name}`,
    };
    const r = await run([
      "--suspect",
      specs.suspect ?? "",
      "--reference",
      specs.reference ?? "",
      "--panel",
      specs.panel ?? "",
    ]);
    assert.equal(r.code, EXIT.usage, r.err);
    assert.ok(r.err.includes(`--${flag} replay file ${join(dir, name)} is empty`), r.err);
  }
});
