import assert from "node:assert/strict";
import { test } from "node:test";
import { detokenize, tokenize, tokenizeReference } from "./tokenize.js";

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

// The ASCII fast path of tokenize must give exactly the tokens of the regex definition (tokenizeReference):
// sketches, the canary first-token rule and the watermark token rule all depend on them.
const TRICKY =
  "aZ09-_.'’ \t\n\u000b\f\r\u001c\u0000!?,;:()[]{}\"`~@#$%^&*+=/\\|<>ÉéßİıﬁＡ０—–…“”\u00a0\u2028\u3000🙂";
// Code points NFKC or lower casing change, astral letters/digits, combining marks, lone surrogates.
const UNICODE_EDGES = [
  "𝐀",
  "𐐀",
  "𠀀",
  "𝟎",
  "\u0301",
  "e\u0301",
  "¼",
  "²",
  "\u212a",
  "İ",
  "ǅ",
  "ﬀ",
  "\ud800",
  "\udc00",
  "\u2019",
];
function randomText(rand: () => number, alphabet: string, len: number): string {
  const chars = alphabet === TRICKY ? [...alphabet, ...UNICODE_EDGES] : [...alphabet];
  let s = "";
  for (let i = 0; i < len; i++) s += chars[Math.floor(rand() * chars.length)];
  return s;
}
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("tokenize equals the regex definition on random ASCII and Unicode texts", () => {
  const rand = mulberry32(9);
  const ascii = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)).join("");
  for (let i = 0; i < 20_000; i++) {
    const len = Math.floor(rand() * 40);
    const alphabet = i % 3 === 0 ? ascii : i % 3 === 1 ? "ab1-_.' ,X\n" : TRICKY;
    const t = randomText(rand, alphabet, len);
    assert.deepEqual(tokenize(t), tokenizeReference(t), JSON.stringify(t));
  }
  for (const t of [
    "",
    "a-",
    "-a",
    "a--b",
    "a-b-",
    "a.b.c.",
    "x'y'z",
    "A_B_C9",
    "'quoted'",
    "e.g. 3.14.",
    "ABC-DEF",
  ]) {
    assert.deepEqual(tokenize(t), tokenizeReference(t), JSON.stringify(t));
  }
});

// Excerpts of real model outputs (shared/realdata replay files; bench/sketch.ts compares both
// implementations on every text of those files).
const REAL = [
  'Many famous actors got their start on the Great White Way, also known as Broadway. Here are some notable examples:\n\n1. Julie Andrews: Starred in "My Fair Lady" (1956) and "Camelot" (1960) before transitioning to film.',
  "**Step 1:** Preheat the oven to 350°F (175°C).\n* Mix 2 cups of flour — don't over-mix!\n* Bake for 25–30 minutes.",
  "```python\ndef f(x):\n    return x**2 + 3.14 * x  # e.g. f(2) == 10.28\n```\nThat’s it; it's O(n).",
  "I'm sorry, but I can't help with that. If you're feeling overwhelmed, please reach out: https://example.org/help?lang=en&x=1",
  "The café’s naïve owner said “bonjour” to Zoë… ＡＢＣ１２３ ﬁnal",
  "E-mail me at first.last@example.com — or call +1 (555) 010-9999, ext. 42.",
];
test("tokenize equals the regex definition on real model outputs", () => {
  for (const t of REAL) assert.deepEqual(tokenize(t), tokenizeReference(t), t);
});
