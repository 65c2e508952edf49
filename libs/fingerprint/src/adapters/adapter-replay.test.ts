import assert from "node:assert/strict";
import { test } from "node:test";
import { FingerprintError, type FingerprintErrorCode } from "../fingerprint-error.js";
import { parseReplay, ReplayAdapter } from "./adapter-replay.js";

const fails = (text: string, code: FingerprintErrorCode, line?: number) =>
  assert.throws(
    () => parseReplay(text, { maxLineBytes: 2000, maxLines: 5, maxIdLength: 16, maxPositions: 4, maxTop: 3 }),
    (e: unknown) =>
      e instanceof FingerprintError &&
      e.code === code &&
      (line === undefined || e.message.includes(`line ${line}`)),
  );

test("replay parses records and answers by id, then by prompt", async () => {
  const text = [
    '{"id":"p1","prompt":"Say hi","output":"hi"}',
    "",
    '{"id":"p2","prompt":"Count","output":"1 2","top_logprobs":[{"1":-0.1,"one":-2.5}]}',
    '{"id":"p3","prompt":"Chat","output":"x","top_logprobs":[[{"token":"x","logprob":-0.2}]]}',
  ].join("\n");
  const a = ReplayAdapter.fromJsonl(text, "t");
  assert.equal(a.size, 3);
  assert.equal((await a.generate({ id: "p1", prompt: "ignored" })).text, "hi");
  assert.equal((await a.generate({ prompt: "Count" })).tokens?.[0]?.top[0]?.token, "1");
  assert.equal(a.describe().logprobs, true);
  await assert.rejects(
    a.generate({ id: "nope", prompt: "nope" }),
    (e: unknown) => e instanceof FingerprintError && e.code === "REPLAY_NOT_FOUND",
  );
});

test("a missing replay answer names the replay and the prompt id, never the prompt text", async () => {
  const a = ReplayAdapter.fromJsonl('{"id":"p1","prompt":"Say hi","output":"hi"}', "runs/suspect.jsonl");
  const secret = "the canary fact zorblat is kept by vennix";
  await assert.rejects(a.generate({ id: "canary-7", prompt: secret }), (e: unknown) => {
    assert.ok(e instanceof FingerprintError);
    assert.equal(e.code, "REPLAY_NOT_FOUND");
    assert.match(e.message, /runs\/suspect\.jsonl/);
    assert.match(e.message, /"canary-7"/);
    assert.ok(!e.message.includes("zorblat"), e.message);
    return true;
  });
  await assert.rejects(a.generate({ prompt: secret }), (e: unknown) => {
    assert.ok(e instanceof FingerprintError && e.code === "REPLAY_NOT_FOUND");
    assert.match(e.message, /runs\/suspect\.jsonl/);
    assert.ok(!e.message.includes("zorblat"), e.message);
    return true;
  });
});

test("replay rejects bad lines, naming the line", () => {
  fails('{"id":"a","prompt":"p","output":"o"}\n{"id":', "REPLAY_MALFORMED_JSON", 2);
  fails('{"id":"a","prompt":"p"}', "REPLAY_INVALID_FIELD", 1);
  fails('{"id":7,"prompt":"p","output":"o"}', "REPLAY_INVALID_FIELD", 1);
  fails('["a"]', "REPLAY_INVALID_FIELD", 1);
  fails('{"id":"","prompt":"p","output":"o"}', "REPLAY_INVALID_FIELD", 1);
  fails(
    '{"id":"a","prompt":"p","output":"o"}\n{"id":"a","prompt":"q","output":"o"}',
    "REPLAY_DUPLICATE_ID",
    2,
  );
  fails(`{"id":"a","prompt":"p","output":"${"x".repeat(3000)}"}`, "REPLAY_OVERSIZE", 1);
  fails(
    Array.from({ length: 6 }, (_, i) => `{"id":"${i}","prompt":"p","output":"o"}`).join("\n"),
    "REPLAY_OVERSIZE",
  );
  fails('{"id":"a","prompt":"p","output":"o","top_logprobs":[{"x":1.5}]}', "REPLAY_INVALID_FIELD", 1);
  fails('{"id":"a","prompt":"p","output":"o","top_logprobs":[{},{},{},{},{}]}', "REPLAY_OVERSIZE", 1);
  fails('{"id":"a","prompt":"p","output":"o","top_logprobs":"x"}', "REPLAY_INVALID_FIELD", 1);
});
