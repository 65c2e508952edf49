import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import type { CanaryPair } from "./facts.js";
import {
  applyPairLabels,
  CANARY_PAIR_LABEL_DOMAIN,
  canaryPairLabels,
  checkpointStandIn,
} from "./pair-labels.js";
import { TestbedError } from "./testbed-error.js";

const cp = new Uint8Array(32).fill(7);
const ids = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"];

/** The label computed from the formula in the module comment, independently of the implementation. */
function byHand(checkpoint: Uint8Array, id: string): "a" | "b" {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(Buffer.byteLength(id));
  const h = createHash("sha256")
    .update(
      Buffer.concat([
        Buffer.from(CANARY_PAIR_LABEL_DOMAIN),
        Buffer.from([0]),
        checkpoint,
        len,
        Buffer.from(id),
      ]),
    )
    .digest();
  return ((h[0] as number) & 1) === 0 ? "a" : "b";
}

describe("canaryPairLabels", () => {
  it("pins the domain string and the hash input (a vector and the formula)", () => {
    // Vector computed once from the formula; a change of domain, layout or bit choice breaks it.
    assert.equal(canaryPairLabels(cp, ids).join(""), "aaaaabba");
    assert.equal(CANARY_PAIR_LABEL_DOMAIN, "lineage/canary-pair-label/v1");
    for (const id of [...ids, "x", "é-pair"]) assert.equal(canaryPairLabels(cp, [id])[0], byHand(cp, id));
  });

  it("depends on the checkpoint and on each id, not on the position in the list", () => {
    const other = new Uint8Array(32).fill(8);
    const many = Array.from({ length: 400 }, (_, i) => `pair-${i}`);
    const l1 = canaryPairLabels(cp, many);
    const l2 = canaryPairLabels(other, many);
    assert.ok(l1.some((l, i) => l !== l2[i]));
    assert.deepEqual(canaryPairLabels(cp, [...many].reverse()), [...l1].reverse());
    // A fair coin per pair: 400 draws within 4.5 standard deviations of 200.
    const a = l1.filter((l) => l === "a").length;
    assert.ok(Math.abs(a - 200) < 45, `a = ${a}`);
  });

  it("refuses a checkpoint of the wrong size and empty or duplicate ids", () => {
    const code = (f: () => unknown) =>
      assert.throws(f, (e: unknown) => e instanceof TestbedError && e.code === "invalid_argument");
    code(() => canaryPairLabels(new Uint8Array(31), ids));
    code(() => canaryPairLabels(cp, ["p", ""]));
    code(() => canaryPairLabels(cp, ["p", "p"]));
  });

  it("the split stand-in changes with the seed; labels apply to pairs in order", () => {
    assert.notDeepEqual(checkpointStandIn("s1"), checkpointStandIn("s2"));
    assert.equal(checkpointStandIn("s1").length, 32);
    const c = (id: string) => ({ id, prompt: `q ${id}`, answer: id });
    const pairs: CanaryPair[] = [
      { id: "p0", a: c("0a"), b: c("0b") },
      { id: "p1", a: c("1a"), b: c("1b") },
    ];
    assert.deepEqual(
      applyPairLabels(pairs, ["b", "a"]).map((p) => [p.exposed.id, p.decoy.id]),
      [
        ["0b", "0a"],
        ["1a", "1b"],
      ],
    );
    assert.throws(
      () => applyPairLabels(pairs, ["a"]),
      (e: unknown) => e instanceof TestbedError && e.code === "invalid_argument",
    );
  });
});
