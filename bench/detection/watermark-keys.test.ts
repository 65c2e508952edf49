import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { binomialCdf } from "./stats.js";
import { freshKeys, type KeyCounts, type ScorablePairs, watermarkKeyCheck } from "./watermark-keys.js";

/** A suspect of n distinct pairs whose green bits are a keyed hash (null), or green at `rate` whatever the key. */
function suspect(id: string, n: number, rate?: number): ScorablePairs {
  return {
    counts(key: Uint8Array, gamma: number): KeyCounts {
      let green = 0;
      for (let i = 0; i < n; i++) {
        const h = createHash("sha256").update(key).update(`${id}/${i}`).digest().readUInt32BE(0) / 2 ** 32;
        if (h < (rate ?? gamma)) green++;
      }
      const sel = Math.floor(n / 2);
      // Selected = the first half's green share, approximately: scale the count.
      const sg = Math.round((green * sel) / n);
      return { gamma, selected_scored: sel, selected_green: sg, all_scored: n, all_green: green };
    },
  };
}

const binomTest = (c: KeyCounts) => ({
  available: c.selected_scored >= 50,
  p: 1 - binomialCdf(c.all_green - 1, c.all_scored, c.gamma),
});

test("fresh keys are deterministic, distinct, 32 bytes", () => {
  const k = freshKeys(200);
  assert.equal(k.length, 200);
  assert.equal(new Set(k.map((x) => Buffer.from(x).toString("hex"))).size, 200);
  assert.deepEqual(freshKeys(3), k.slice(0, 3));
  assert.notDeepEqual(freshKeys(1, "other"), k.slice(0, 1));
  assert.throws(() => freshKeys(0), RangeError);
});

test("null suspects pass: pooled shares at most the level, per-suspect KS not small", () => {
  const keys = freshKeys(200);
  const suspects = new Map<string, ScorablePairs>(
    Array.from({ length: 6 }, (_, i) => [`s${i}`, suspect(`s${i}`, 300)] as [string, ScorablePairs]),
  );
  suspects.set("tiny", suspect("tiny", 40));
  const r = watermarkKeyCheck(suspects, keys, 0.25, binomTest);
  assert.equal(r.keys, 200);
  assert.equal(r.suspects, 7);
  assert.equal(r.suspects_unavailable, 1);
  assert.equal(r.pooled.n, 1200);
  assert.ok((r.share_at_or_below_0_05 ?? 1) <= 0.08, `share ${r.share_at_or_below_0_05}`);
  assert.ok((r.per_suspect_ks.min_bonferroni ?? 0) > 0.01, JSON.stringify(r.per_suspect_ks));
});

test("a suspect whose text is green above gamma under every key is caught", () => {
  const keys = freshKeys(200);
  const suspects = new Map<string, ScorablePairs>([
    ["ok", suspect("ok", 300)],
    ["biased", suspect("biased", 300, 0.33)],
  ]);
  const r = watermarkKeyCheck(suspects, keys, 0.25, binomTest);
  assert.equal(r.per_suspect_ks.worst_suspect, "biased");
  assert.ok((r.per_suspect_ks.min ?? 1) < 1e-6);
  assert.ok((r.share_at_or_below_0_05 ?? 0) > 0.2);
});
