import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isMemberNodeError } from "../member-node-error.js";
import { parseCanaryPairsJsonl, readCanaryPairsFile } from "./canary-file.js";
import { canaryPairsToJsonl, generateCanaryPairs } from "./canary-generate.js";

const line = (id: string, pa = `prompt a ${id}`, pb = `prompt b ${id}`) =>
  JSON.stringify({ id, a: { prompt: pa, answer: "Zance" }, b: { prompt: pb, answer: "Nugra" } });

function refused(content: string, pattern: RegExp, name = "pairs.jsonl") {
  assert.throws(
    () => parseCanaryPairsJsonl(name, content),
    (err) => isMemberNodeError(err, "invalid_argument") && pattern.test(err.message),
  );
}

test("a valid file parses in order; blank lines and CRLF are accepted", () => {
  const pairs = parseCanaryPairsJsonl("f", `${line("p1")}\r\n\n${line("p2")}\n`);
  assert.deepEqual(
    pairs.map((p) => p.pairId),
    ["p1", "p2"],
  );
  assert.deepEqual(pairs[0]?.a, { prompt: "prompt a p1", expected: "Zance" });
});

test("an empty or one-pair file is refused with its name", () => {
  refused("", /^empty\.jsonl: has no canary pairs/, "empty.jsonl");
  refused("\n  \n", /^blank\.jsonl: has no canary pairs/, "blank.jsonl");
  refused(`${line("only")}\n`, /^one\.jsonl: has only 1 canary pair/, "one.jsonl");
});

test("bad lines are refused naming the file, line and field, never the canary text", () => {
  const secret = "Zebulon-secret-prompt";
  const cases: [string, RegExp][] = [
    [`${line("p1")}\n{not json`, /f line 2: is not valid JSON/],
    [`${line("p1")}\n${line("p1")}`, /f line 2: repeats an earlier pair id/],
    [`${line("p1")}\n${line("p2", secret, secret)}`, /f line 2: the two prompts of a pair must differ/],
    [
      `${line("p1")}\n${JSON.stringify({ id: "p2", a: { prompt: secret, answer: "x" } })}`,
      /missing field "b"/,
    ],
    [
      `${line("p1")}\n${JSON.stringify({ id: "p2", a: { prompt: secret, answer: "x" }, b: { prompt: "y", answer: "" } })}`,
      /f line 2 "b": "answer" is empty/,
    ],
    [`${line("p1")}\n${JSON.stringify({ id: "p2", exposed: {}, a: {}, b: {} })}`, /unknown field "exposed"/],
    [`${line("p1")}\n${line("x".repeat(65))}`, /"id" exceeds 64 characters/],
    [`${line("p1")}\n[1,2]`, /must be a JSON object/],
    // A pair written the wrong way round (the canary text as the key) is refused without quoting the key.
    [
      `${line("p1")}\n${JSON.stringify({ id: "p2", a: { [secret]: "x" }, b: {} })}`,
      /f line 2 "a": an unknown field \(not "prompt" or "answer"\)/,
    ],
    [
      `${line("p1")}\n${JSON.stringify({ id: "p2", [`Zebulon ${secret}`]: "x", a: {}, b: {} })}`,
      /f line 2: an unknown field \(not "id", "a" or "b"\)/,
    ],
  ];
  for (const [content, pattern] of cases) {
    try {
      parseCanaryPairsJsonl("f", content);
      assert.fail(`accepted: ${pattern}`);
    } catch (err) {
      assert.ok(isMemberNodeError(err, "invalid_argument"), String(err));
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes(secret), "the message carries no canary text");
    }
  }
});

test("readCanaryPairsFile: a missing file is not_found naming it; the sample file has 32 pairs", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-canary-file-"));
  try {
    await assert.rejects(
      readCanaryPairsFile(join(dir, "nope.jsonl")),
      (err) => isMemberNodeError(err, "not_found") && err.message.includes("nope.jsonl"),
    );
    await assert.rejects(
      readCanaryPairsFile(dir),
      (err) => isMemberNodeError(err, "invalid_argument") && /not a regular file/.test(err.message),
    );
    const sample = await readCanaryPairsFile(
      join(import.meta.dirname, "../../../../examples/canary-pairs.jsonl"),
    );
    assert.equal(sample.length, 32);
    const f = join(dir, "gen.jsonl");
    const gen = generateCanaryPairs(40);
    await writeFile(f, canaryPairsToJsonl(gen));
    assert.deepEqual(await readCanaryPairsFile(f), gen, "generated pairs round-trip through the file format");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("generated pairs: two items from one template, distinct prompts, fresh each time; count bounded", () => {
  const a = generateCanaryPairs(200);
  const b = generateCanaryPairs(200);
  for (const p of a) {
    assert.notEqual(p.a.prompt, p.b.prompt);
    const shape = (s: string) => s.replace(/[A-Z][a-z]+(?=[ ,?])/g, "W");
    assert.equal(shape(p.a.prompt), shape(p.b.prompt), "both items share the template");
  }
  assert.notDeepEqual(a, b);
  for (const n of [0, 1, 1.5, 100_001])
    assert.throws(
      () => generateCanaryPairs(n),
      (err) => isMemberNodeError(err, "invalid_argument"),
    );
});
