import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { greenSeed, greenSeeder, isGreen, tokenHash32 } from "./watermark-green-list.js";

const key = new Uint8Array(32).fill(7);

test("golden values pin the version-1 definition", () => {
  // FNV-1a 32 of "a" is the published 0xe40c292c.
  assert.equal(tokenHash32("a"), 0xe40c292c);
  assert.equal(tokenHash32(""), 0x811c9dc5);
  assert.equal(greenSeed(key, "the"), greenSeed(key, "the"));
  assert.notEqual(greenSeed(key, "the"), greenSeed(new Uint8Array(32).fill(8), "the"));
});

test("the green share is close to gamma over many pairs", () => {
  let green = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) if (isGreen(key, `p${i % 97}`, `t${i}`, 0.25)) green++;
  const share = green / n;
  assert.ok(Math.abs(share - 0.25) < 0.015, `share ${share}`);
});

test("short keys are refused", () => {
  assert.throws(() => greenSeed(new Uint8Array(8), "x"), RangeError);
});

test("greenSeed and greenSeeder agree with an independent HMAC (node:crypto) on the v1 definition", () => {
  const seeder = greenSeeder(key);
  for (const prev of ["the", "", "zx-4471.corp", "naïve", "p12345"]) {
    const mac = createHmac("sha256", key).update(`lineage-wm-v1\0${prev}`, "utf8").digest();
    assert.equal(greenSeed(key, prev), mac.readUInt32BE(0), prev);
    assert.equal(seeder(prev), mac.readUInt32BE(0), prev);
  }
  assert.throws(() => greenSeeder(new Uint8Array(8)), RangeError);
});
