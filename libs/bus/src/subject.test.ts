import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BusError } from "./bus-error.js";
import { checkName, checkPattern, checkSubject, patternsOverlap, subjectMatches } from "./subject.js";

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof BusError ? err.code : "not a BusError";
  }
};

describe("subject syntax", () => {
  it("accepts concrete subjects and rejects wildcards, empty tokens, whitespace and control characters", () => {
    assert.equal(checkSubject("lineage.sketch.v1"), "lineage.sketch.v1");
    for (const bad of [
      "",
      "a..b",
      ".a",
      "a.",
      "a.*",
      "a.>",
      "a b",
      "a\tb",
      "a\u0000b",
      "a.b*",
      "x".repeat(513),
    ]) {
      assert.equal(
        code(() => checkSubject(bad)),
        "invalid_argument",
        JSON.stringify(bad),
      );
    }
    assert.equal(
      code(() => checkSubject(42)),
      "invalid_argument",
    );
    assert.equal(
      code(() => checkSubject(Array(33).fill("a").join("."))),
      "invalid_argument",
    );
  });

  it("accepts whole-token wildcards with > last only", () => {
    for (const ok of ["a.*", "a.>", "*.b", ">", "a.*.c.>"]) assert.equal(checkPattern(ok), ok);
    for (const bad of ["a.>.b", "a.b*", "a.>x", "a..*"])
      assert.equal(
        code(() => checkPattern(bad)),
        "invalid_argument",
        bad,
      );
  });

  it("checks stream and consumer names", () => {
    assert.equal(checkName("SKETCHES_v1-a", "stream"), "SKETCHES_v1-a");
    for (const bad of ["", "a.b", "a b", "a*", "x".repeat(65), "a/b"]) {
      assert.equal(
        code(() => checkName(bad, "stream")),
        "invalid_argument",
        bad,
      );
    }
  });
});

describe("subject matching", () => {
  it("matches like NATS", () => {
    const cases: [string, string, boolean][] = [
      ["a.b", "a.b", true],
      ["a.b", "a.c", false],
      ["a.*", "a.b", true],
      ["a.*", "a.b.c", false],
      ["a.>", "a.b.c", true],
      ["a.>", "a", false],
      [">", "a", true],
      ["*.b.*", "x.b.y", true],
      ["a.b.c", "a.b", false],
    ];
    for (const [p, s, want] of cases) assert.equal(subjectMatches(p, s), want, `${p} ~ ${s}`);
  });

  it("decides overlap exactly as 'some subject matches both' (property)", () => {
    const token = fc.constantFrom("a", "b", "*");
    const pattern = fc
      .tuple(fc.array(token, { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([ts, tail]) => (tail ? [...ts, ">"] : ts).join("."));
    // Concrete witnesses over the same alphabet (plus a fresh token) up to 5 tokens.
    const witnesses: string[] = [];
    const grow = (prefix: string[]): void => {
      if (prefix.length > 0) witnesses.push(prefix.join("."));
      if (prefix.length < 5) for (const t of ["a", "b", "z"]) grow([...prefix, t]);
    };
    grow([]);
    fc.assert(
      fc.property(pattern, pattern, (x, y) => {
        const brute = witnesses.some((w) => subjectMatches(x, w) && subjectMatches(y, w));
        assert.equal(patternsOverlap(x, y), brute, `${x} vs ${y}`);
        assert.equal(patternsOverlap(y, x), brute);
      }),
      { numRuns: 500 },
    );
  });
});
