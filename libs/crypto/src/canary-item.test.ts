import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { toHex } from "./bytes.js";
import {
  CanaryCommitment,
  canaryItemBytes,
  isCryptoError,
  MAX_CANARY_EXPECTED_CHARS,
  MAX_CANARY_PROMPT_CHARS,
  verifyCanaryDisclosure,
} from "./index.js";

const code = (c: string) => (e: unknown) => isCryptoError(e, c as never);

test("canaryItemBytes: the documented layout (vector computed independently with Python struct)", () => {
  assert.equal(
    toHex(canaryItemBytes("Quel est le mot? é", "zq-7919")),
    "6c696e656167652f63616e6172792f763100000000135175656c20657374206c65206d6f743f20c3a9000000077a712d37393139",
  );
});

test("canaryItemBytes: injective over (prompt, expected) — moving bytes across the boundary changes the item", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.string({ minLength: 1, maxLength: 40 }),
      (p1, e1, p2, e2) => {
        const same = p1 === p2 && e1 === e2;
        assert.equal(toHex(canaryItemBytes(p1, e1)) === toHex(canaryItemBytes(p2, e2)), same);
      },
    ),
  );
  assert.notEqual(toHex(canaryItemBytes("ab", "c")), toHex(canaryItemBytes("a", "bc")));
});

test("canaryItemBytes: bounds and ill-formed input fail with codes", () => {
  assert.throws(() => canaryItemBytes("", "x"), code("malformed"));
  assert.throws(() => canaryItemBytes("x", ""), code("malformed"));
  assert.throws(() => canaryItemBytes("x".repeat(MAX_CANARY_PROMPT_CHARS + 1), "x"), code("too_large"));
  assert.throws(() => canaryItemBytes("x", "x".repeat(MAX_CANARY_EXPECTED_CHARS + 1)), code("too_large"));
  assert.throws(() => canaryItemBytes("a\uD800b", "x"), code("malformed"));
  assert.throws(() => canaryItemBytes(42 as never, "x"), code("invalid_argument"));
  canaryItemBytes("x".repeat(MAX_CANARY_PROMPT_CHARS), "😀".repeat(MAX_CANARY_EXPECTED_CHARS / 2));
});

test("canaryItemBytes: a committed item opens the root; the same canary with another answer does not", () => {
  const items = [canaryItemBytes("p0", "a0"), canaryItemBytes("p1", "a1"), canaryItemBytes("p2", "a2")];
  const c = CanaryCommitment.create(items);
  const d = c.disclose(1);
  verifyCanaryDisclosure({ root: c.root, size: 3 }, { ...d, item: canaryItemBytes("p1", "a1") });
  assert.throws(
    () => verifyCanaryDisclosure({ root: c.root, size: 3 }, { ...d, item: canaryItemBytes("p1", "a1x") }),
    (e: unknown) => isCryptoError(e),
  );
});
