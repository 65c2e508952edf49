/**
 * The add-checkpoint body (c2sp.org/tlog-witness) and its Lineage rotation blocks (docs/specs/witness.md,
 * "Following a root rotation"): round trips, the plain C2SP body unchanged when no rotation is carried, and
 * malformed or oversized blocks refused with their code.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isCryptoError } from "./crypto-error.js";
import {
  formatAddCheckpointRequest,
  MAX_ROTATION_LEAF_BYTES,
  MAX_ROTATIONS_PER_REQUEST,
  parseAddCheckpointRequest,
} from "./witness-request.js";

const NOTE =
  "lineage.example/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— lineage.example/log AAAAAA==\n";
const hash = (b: number) => new Uint8Array(32).fill(b);
const code = (c: string) => (e: unknown) => isCryptoError(e) && e.code === c;

test("without rotations the body is the C2SP one; with them, blocks come first and round-trip", () => {
  const plain = formatAddCheckpointRequest({ oldSize: 3, proof: [hash(1)], note: NOTE });
  assert.equal(plain, `old 3\n${Buffer.from(hash(1)).toString("base64")}\n\n${NOTE}`);
  assert.equal(parseAddCheckpointRequest(plain).rotations, undefined);
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(1_000_000), { minLength: 1, maxLength: MAX_ROTATIONS_PER_REQUEST }),
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), {
        minLength: MAX_ROTATIONS_PER_REQUEST,
        maxLength: MAX_ROTATIONS_PER_REQUEST,
      }),
      fc.nat(5),
      (indexes, leaves, proofLen) => {
        const rotations = indexes
          .sort((a, b) => a - b)
          .map((index, i) => ({
            index,
            leaf: leaves[i] as Uint8Array,
            proof: Array.from({ length: proofLen }, (_, k) => hash(k + i)),
          }));
        const body = formatAddCheckpointRequest({ oldSize: 0, proof: [], note: NOTE, rotations });
        assert.ok(body.startsWith("rotate "));
        const parsed = parseAddCheckpointRequest(body);
        assert.deepEqual(parsed.rotations, rotations);
        assert.equal(parsed.note, NOTE);
        assert.equal(parsed.oldSize, 0);
      },
    ),
  );
});

test("malformed or oversized rotation blocks are refused", () => {
  const leaf = Buffer.from("leaf").toString("base64");
  const tail = `old 0\n\n${NOTE}`;
  const cases: Array<[string, string]> = [
    [`rotate 01 ${leaf}\n\n${tail}`, "malformed"],
    [`rotate 5\n\n${tail}`, "malformed"],
    [`rotate 5 ${leaf}\n${tail}`, "malformed"], // no empty line: "old 0" read as a proof hash
    [`rotate 5 ${leaf}\n\nrotate 5 ${leaf}\n\n${tail}`, "malformed"], // not in log order
    [`rotate 5 ${leaf}\nAAAA\n\n${tail}`, "malformed"], // a proof line of 3 bytes
    [`rotate 5 ${Buffer.alloc(MAX_ROTATION_LEAF_BYTES + 1).toString("base64")}\n\n${tail}`, "malformed"],
    [
      `${Array.from({ length: MAX_ROTATIONS_PER_REQUEST + 1 }, (_, i) => `rotate ${i} ${leaf}\n\n`).join("")}${tail}`,
      "too_large",
    ],
  ];
  for (const [body, c] of cases)
    assert.throws(() => parseAddCheckpointRequest(body), code(c), body.slice(0, 40));
  assert.throws(
    () =>
      formatAddCheckpointRequest({
        oldSize: 0,
        proof: [],
        note: NOTE,
        rotations: [
          { index: 2, leaf: new Uint8Array(1), proof: [] },
          { index: 1, leaf: new Uint8Array(1), proof: [] },
        ],
      }),
    code("invalid_argument"),
  );
});
