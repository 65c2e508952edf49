import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type CapturedIo, captureIo } from "./capture-io.js";
import { EXIT } from "./cli-error.js";
import type { Command } from "./command.js";
import { runCommand } from "./command.js";
import { main, VERSION } from "./main.js";
import { emit, intOpt, stringListOpt } from "./option-values.js";

function capture(): CapturedIo {
  return captureIo();
}

const calls: unknown[] = [];
const tree: Command = {
  name: "lineage",
  summary: "root",
  subcommands: [
    {
      name: "grp",
      summary: "a group",
      subcommands: [
        {
          name: "leaf",
          summary: "a leaf",
          options: {
            count: { type: "string", description: "how many", valueName: "n" },
            panel: { type: "string", multiple: true, description: "panel" },
          },
          positionals: [{ name: "file", description: "input", required: true }],
          run: async (inv) => {
            const count = intOpt(inv, "count", { min: 1, max: 10 }, 3);
            calls.push({ count, panel: stringListOpt(inv, "panel"), file: inv.positionals[0] });
            emit(inv, { count }, `count=${count}`);
            return EXIT.ok;
          },
        },
      ],
    },
  ],
};

test("a leaf runs with typed options, repeatable flags and --json", async () => {
  const io = capture();
  const code = await runCommand(
    tree,
    ["grp", "leaf", "f.txt", "--count", "5", "--panel", "a", "--panel", "b", "--json"],
    io,
  );
  assert.equal(code, EXIT.ok);
  assert.deepEqual(JSON.parse(io.out()), { count: 5 });
  assert.deepEqual(calls.at(-1), { count: 5, panel: ["a", "b"], file: "f.txt" });
});

test("an unknown flag is a usage error naming the flag", async () => {
  const io = capture();
  const code = await runCommand(tree, ["grp", "leaf", "f.txt", "--bogus"], io);
  assert.equal(code, EXIT.usage);
  assert.match(io.err(), /--bogus/);
  assert.match(io.err(), /lineage grp leaf --help/);
});

test("a bad value names the flag and the allowed range", async () => {
  const io = capture();
  assert.equal(await runCommand(tree, ["grp", "leaf", "f.txt", "--count", "x"], io), EXIT.usage);
  assert.match(io.err(), /--count must be an integer, got 'x'/);
  const io2 = capture();
  assert.equal(await runCommand(tree, ["grp", "leaf", "f.txt", "--count", "99"], io2), EXIT.usage);
  assert.match(io2.err(), /between 1 and 10/);
});

test("missing and surplus arguments, unknown commands", async () => {
  const io = capture();
  assert.equal(await runCommand(tree, ["grp", "leaf"], io), EXIT.usage);
  assert.match(io.err(), /missing argument <file>/);
  const io2 = capture();
  assert.equal(await runCommand(tree, ["grp", "leaf", "a", "b"], io2), EXIT.usage);
  assert.match(io2.err(), /unexpected argument 'b'/);
  const io3 = capture();
  assert.equal(await runCommand(tree, ["nope"], io3), EXIT.usage);
  assert.match(io3.err(), /unknown command 'nope'/);
});

test("with --json an error is a JSON object on stdout too", async () => {
  const io = capture();
  assert.equal(await runCommand(tree, ["grp", "leaf", "f", "--count", "0", "--json"], io), EXIT.usage);
  assert.deepEqual(Object.keys(JSON.parse(io.out()).error), ["code", "message"]);
});

test("--help at every level lists commands and options", async () => {
  const io = capture();
  assert.equal(await runCommand(tree, ["--help"], io), EXIT.ok);
  assert.match(io.out(), /grp\s+a group/);
  const io2 = capture();
  assert.equal(await runCommand(tree, ["grp", "leaf", "--help"], io2), EXIT.ok);
  assert.match(io2.out(), /--count <n>\s+how many/);
  assert.match(io2.out(), /--json/);
});

test("the real root: --version and the three roles", async () => {
  const io = capture();
  assert.equal(await main(["--version"], io), EXIT.ok);
  assert.equal(io.out(), `lineage ${VERSION}\n`);
  assert.match(VERSION, /^\d+\.\d+\.\d+/);
  const io2 = capture();
  assert.equal(await main(["--help"], io2), EXIT.ok);
  for (const role of ["member", "hub", "audit"]) assert.match(io2.out(), new RegExp(`\\n  ${role}\\s`));
});

test("every lazy top-level command loads as the command its stub names, with the summary --help shows", async () => {
  const { commands } = await import("./commands/index.js");
  assert.ok(commands.length >= 8);
  for (const stub of commands) {
    assert.ok(stub.load, `${stub.name} is lazy`);
    const cmd = await (stub.load as () => Promise<Command>)();
    assert.equal(cmd.name, stub.name);
    assert.equal(cmd.summary, stub.summary, `${stub.name}: the stub's summary is the command's`);
    assert.equal(cmd.load, undefined);
  }
  // A subcommand of a lazy command resolves through it.
  const io = capture();
  assert.equal(await main(["audit", "--help"], io), EXIT.ok);
  assert.match(io.out(), /verify/);
});

test("a lazy command that loads as another is an internal error, not a silent swap", async () => {
  const tree: Command = {
    name: "t",
    summary: "t",
    subcommands: [
      { name: "a", summary: "a", load: async () => ({ name: "b", summary: "b", run: async () => 0 }) },
    ],
  };
  const io = capture();
  assert.equal(await runCommand(tree, ["a"], io), EXIT.failed);
  assert.match(io.err(), /command 'a' loaded as 'b'/);
});

test("the installed bin exits non-zero with a clear message on an unknown flag", () => {
  const bin = fileURLToPath(new URL("../bin/lineage.js", import.meta.url));
  const res = spawnSync(process.execPath, [bin, "--no-such-flag"], { encoding: "utf8" });
  assert.equal(res.status, EXIT.usage);
  assert.match(res.stderr, /unknown option '--no-such-flag'/);
  const ok = spawnSync(process.execPath, [bin, "--version"], { encoding: "utf8" });
  assert.equal(ok.status, 0);
  assert.match(ok.stdout, /^lineage \d/);
});
