import assert from "node:assert/strict";
import { test } from "node:test";
import { detokenize, tokenize } from "./tokenize.js";

test("tokenize keeps identifiers whole and splits punctuation", () => {
  assert.deepEqual(tokenize("The endpoint for Zephyr is ZX-4471.corp, don't ask!"), [
    "the",
    "endpoint",
    "for",
    "zephyr",
    "is",
    "zx-4471.corp",
    ",",
    "don't",
    "ask",
    "!",
  ]);
  assert.deepEqual(tokenize("  "), []);
  assert.deepEqual(tokenize("Café’s 3.14"), ["café's", "3.14"]);
});

test("detokenize joins closing punctuation without a space", () => {
  assert.equal(detokenize(["hello", ",", "world", "!"]), "hello, world!");
});
