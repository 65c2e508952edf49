import assert from "node:assert/strict";
import { test } from "node:test";
import { SignTestMartingale } from "./stats-sequential.js";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("sign-test martingale: under the null, crossing 1/alpha happens at most alpha of the time (optional stopping)", () => {
  const r = rng(7);
  let crossed = 0;
  const runs = 2000;
  for (let k = 0; k < runs; k++) {
    const m = new SignTestMartingale();
    for (let i = 0; i < 300; i++) {
      m.observe(r() < 0.5 ? 1 : -1);
      if (m.pValue() <= 0.05) break;
    }
    if (m.pValue() <= 0.05) crossed++;
  }
  assert.ok(crossed / runs <= 0.05 + 0.015, `crossed ${crossed}/${runs}`);
});

test("sign-test martingale settles quickly on a strong effect", () => {
  const r = rng(3);
  const m = new SignTestMartingale();
  let n = 0;
  while (m.pValue() > 1e-7 && n < 1000) {
    m.observe(r() < 0.75 ? 1 : -1);
    n++;
  }
  assert.ok(n < 300, `needed ${n}`);
  m.observe(0);
  assert.equal(m.bets, n);
});
