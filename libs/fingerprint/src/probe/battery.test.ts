import assert from "node:assert/strict";
import { test } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import { parseBattery, parseCanarySet } from "./battery.js";
import { parseFingerprint } from "./probe-run.js";

const invalid = (f: () => unknown) =>
  assert.throws(f, (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_DOCUMENT");

test("battery documents are validated field by field", () => {
  const ok = parseBattery({
    epoch: "e",
    probes: [{ id: "a", kind: "edge", prompt: "2+2?", reference: "4" }],
  });
  assert.equal(ok.probes[0]?.reference, "4");
  invalid(() => parseBattery({ epoch: "e", probes: [] }));
  invalid(() => parseBattery({ epoch: "e", probes: [{ id: "a", kind: "edge", prompt: "x" }] }));
  invalid(() => parseBattery({ epoch: "e", probes: [{ id: "a", kind: "weird", prompt: "x" }] }));
  invalid(() =>
    parseBattery({
      epoch: "e",
      probes: [
        { id: "a", kind: "open", prompt: "x" },
        { id: "a", kind: "open", prompt: "y" },
      ],
    }),
  );
  invalid(() => parseBattery({ epoch: 3, probes: [{ id: "a", kind: "open", prompt: "x" }] }));
});

test("canary sets need unique ids across exposed and decoys", () => {
  const c = { id: "c1", prompt: "p", answer: "a" };
  assert.equal(
    parseCanarySet({ memberId: "m", exposed: [c], decoys: [{ ...c, id: "c2" }] }).decoys.length,
    1,
  );
  invalid(() => parseCanarySet({ memberId: "m", exposed: [c], decoys: [c] }));
  invalid(() =>
    parseCanarySet({ memberId: "m", exposed: [{ id: "x", prompt: 1, answer: "a" }], decoys: [] }),
  );
});

test("fingerprint documents are validated, including token log-probabilities", () => {
  const fp = {
    version: 1,
    epoch: "e",
    model: "m",
    queries: 1,
    responses: { a: { text: "t", tokens: [{ token: "t", top: [{ token: "t", logprob: -0.1 }] }] } },
  };
  assert.equal(parseFingerprint(fp).responses.a?.text, "t");
  invalid(() => parseFingerprint({ ...fp, version: 2 }));
  invalid(() =>
    parseFingerprint({
      ...fp,
      responses: { a: { text: "t", tokens: [{ token: "t", top: [{ token: 1 }] }] } },
    }),
  );
  invalid(() => parseFingerprint({ ...fp, responses: { a: { text: 5 } } }));
});
