import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { CryptoError } from "./crypto-error.js";
import { parseStrictJson } from "./strict-json.js";

const limits = { maxLength: 10_000, maxDepth: 8 };
const codeOf = (text: string) => {
  try {
    parseStrictJson(text, "doc", limits);
    return "none";
  } catch (e) {
    assert.ok(e instanceof CryptoError);
    return e.code;
  }
};

test("parses what JSON.parse parses, with prototype-free objects", () => {
  const v = parseStrictJson(
    ' {"a": [1, -2.5e3, true, false, null], "b": "x\\u00e9\\n\\"", "__proto__": 1} ',
    "doc",
    limits,
  );
  assert.deepEqual(JSON.parse(JSON.stringify(v)), {
    a: [1, -2500, true, false, null],
    b: 'x\u00e9\n"',
    ["__proto__"]: 1,
  });
  assert.equal(Object.getPrototypeOf(v), null);
});

test("rejects duplicates, bad tokens, control characters, trailing data, depth and size", () => {
  for (const bad of [
    '{"a":1,"a":2}',
    "{'a':1}",
    '{"a":01}',
    '"\u0001"',
    '"\\x"',
    "[1,]",
    "{} {}",
    "nul",
    '{"a" 1}',
    '"abc',
  ]) {
    assert.equal(codeOf(bad), "malformed", bad);
  }
  assert.equal(codeOf("[".repeat(9) + "]".repeat(9)), "too_large");
  assert.equal(codeOf(`"${"a".repeat(10_000)}"`), "too_large");
});

test("property: agrees with JSON.parse on JSON.stringify output", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      const text = JSON.stringify(value);
      assert.deepEqual(
        JSON.parse(JSON.stringify(parseStrictJson(text, "doc", { maxLength: 1e6, maxDepth: 10 }))),
        JSON.parse(text),
      );
    }),
    { numRuns: 200 },
  );
});
