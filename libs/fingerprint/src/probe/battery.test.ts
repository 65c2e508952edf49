import assert from "node:assert/strict";
import { test } from "node:test";
import { FingerprintError } from "../fingerprint-error.js";
import { DOCUMENT_LIMITS, parseBattery, parseCanarySet, splitBattery, splitEpochBattery } from "./battery.js";
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

const item = (id: string, prompt = `prompt ${id}`) => ({ id, prompt, answer: `answer ${id}` });
const pair = (id: string) => ({ id, exposed: item(`${id}a`), decoy: item(`${id}b`) });
const errorOf = (f: () => unknown): FingerprintError => {
  try {
    f();
  } catch (e) {
    if (e instanceof FingerprintError) return e;
    throw e;
  }
  assert.fail("expected a FingerprintError");
};

test("canary pair documents (v2) parse into labelled pairs", () => {
  const set = parseCanarySet({ member_id: "m1", pairs: [pair("p1"), pair("p2")] });
  assert.equal(set.memberId, "m1");
  assert.equal(set.pairs.length, 2);
  assert.equal(set.pairs[1]?.id, "p2");
  assert.equal(set.pairs[1]?.exposed.id, "p2a");
  assert.equal(set.pairs[1]?.decoy.answer, "answer p2b");
});

test("canary pair documents are checked strictly; errors name the pair, never the text", () => {
  const ok = { member_id: "m1", pairs: [pair("p1"), pair("p2")] };
  invalid(() => parseCanarySet({ ...ok, pairs: [] }));
  invalid(() => parseCanarySet({ ...ok, member_id: "" }));
  invalid(() => parseCanarySet({ ...ok, extra: 1 }));
  // The retired format is refused with a message that says so.
  const old = errorOf(() => parseCanarySet({ memberId: "m", exposed: [item("a")], decoys: [item("b")] }));
  assert.equal(old.code, "INVALID_DOCUMENT");
  assert.match(old.message, /retired/);
  // Duplicate pair ids, duplicate item ids (within or across pairs), same prompt twice in a pair.
  const dupPair = errorOf(() => parseCanarySet({ ...ok, pairs: [pair("p1"), pair("p1")] }));
  assert.match(dupPair.message, /pairs\[1\] \(pair "p1"\)\.id duplicates/);
  invalid(() =>
    parseCanarySet({ ...ok, pairs: [{ id: "p", exposed: item("x"), decoy: item("x", "other") }] }),
  );
  const across = errorOf(() =>
    parseCanarySet({ ...ok, pairs: [pair("p1"), { id: "p2", exposed: item("p1a", "q"), decoy: item("z") }] }),
  );
  assert.match(across.message, /pair "p2"\)\.exposed\.id duplicates/);
  const same = errorOf(() =>
    parseCanarySet({ ...ok, pairs: [{ id: "p", exposed: item("x", "same"), decoy: item("y", "same") }] }),
  );
  assert.match(same.message, /pair "p"\): exposed and decoy have the same prompt/);
  assert.ok(!same.message.includes("same prompt same"));
  // Missing or mistyped fields name where.
  const missing = errorOf(() => parseCanarySet({ ...ok, pairs: [{ id: "p9", exposed: item("x") }] }));
  assert.match(missing.message, /pair "p9"\)\.decoy must be an object/);
  invalid(() =>
    parseCanarySet({ ...ok, pairs: [{ id: "p", exposed: { ...item("x"), answer: 3 }, decoy: item("y") }] }),
  );
  invalid(() =>
    parseCanarySet({ ...ok, pairs: [{ id: "p", exposed: { ...item("x"), answer: " " }, decoy: item("y") }] }),
  );
  invalid(() => parseCanarySet({ ...ok, pairs: [{ ...pair("p"), label: "exposed" }] }));
  // Bounds on counts and lengths.
  const many = Array.from({ length: DOCUMENT_LIMITS.maxCanaryPairs + 1 }, (_, i) => pair(`p${i}`));
  invalid(() => parseCanarySet({ ...ok, pairs: many }));
  const long = "x".repeat(DOCUMENT_LIMITS.maxCanaryTextLength + 1);
  invalid(() => parseCanarySet({ ...ok, pairs: [{ id: "p", exposed: item("x", long), decoy: item("y") }] }));
});

test("splitBattery: deterministic, disjoint, covering, seed-dependent and independent of the other probes", () => {
  const battery = {
    epoch: "e",
    probes: Array.from({ length: 400 }, (_, i) => ({ id: `q${i}`, kind: "open" as const, prompt: `p${i}` })),
  };
  const a = splitBattery(battery, 7);
  const b = splitBattery(battery, 7);
  assert.deepEqual(a, b);
  const conf = new Set(a.confirmation.probes.map((p) => p.id));
  assert.equal(a.retrieval.probes.length + a.confirmation.probes.length, 400);
  assert.ok(a.retrieval.probes.every((p) => !conf.has(p.id)));
  // About half each (binomial 400, 1/2: 5 sd is 50).
  assert.ok(Math.abs(a.confirmation.probes.length - 200) < 50, `${a.confirmation.probes.length}`);
  // Another seed splits differently; a sub-battery splits its probes the same way.
  const c = splitBattery(battery, 8);
  assert.notDeepEqual(
    c.confirmation.probes.map((p) => p.id),
    a.confirmation.probes.map((p) => p.id),
  );
  const half = splitBattery({ epoch: "e", probes: battery.probes.slice(0, 100) }, 7);
  assert.ok(half.confirmation.probes.every((p) => conf.has(p.id)));
  assert.equal(splitBattery(battery, "7").confirmation.probes.length > 0, true);
  assert.notDeepEqual(splitBattery(battery, "7"), a, "string and number seeds are different seeds");
  assert.equal(splitBattery(battery, 7, 0.2).confirmation.probes.length < 130, true);
  assert.throws(
    () => splitBattery(battery, 7, 1),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
  );
  assert.throws(
    () => splitBattery(battery, 1.5),
    (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT",
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

test("splitEpochBattery: decides by battery position, so a file battery with its own ids agrees with the hub's decimal ids", () => {
  const probes = Array.from({ length: 300 }, (_, i) => ({
    id: `file-${i}`,
    kind: "open" as const,
    prompt: `p${i}`,
  }));
  const fromFile = splitEpochBattery({ epoch: "ep-1", probes }, "ep-1");
  const onWire = splitBattery(
    { epoch: "ep-1", probes: probes.map((p, i) => ({ ...p, id: String(i) })) },
    "ep-1",
  );
  const positions = (part: { probes: readonly { prompt: string }[] }) => part.probes.map((p) => p.prompt);
  assert.deepEqual(positions(fromFile.retrieval), positions(onWire.retrieval));
  assert.deepEqual(positions(fromFile.confirmation), positions(onWire.confirmation));
  // The parts keep the battery's own probe ids, in battery order, and cover it without overlap.
  assert.ok(fromFile.retrieval.probes.every((p) => p.id.startsWith("file-")));
  assert.equal(fromFile.retrieval.probes.length + fromFile.confirmation.probes.length, 300);
  const seen = new Set([...fromFile.retrieval.probes, ...fromFile.confirmation.probes].map((p) => p.id));
  assert.equal(seen.size, 300);
  // Another epoch splits differently.
  assert.notDeepEqual(
    positions(splitEpochBattery({ epoch: "ep-2", probes }, "ep-2").retrieval),
    positions(fromFile.retrieval),
  );
});
