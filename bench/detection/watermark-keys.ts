/**
 * Watermark validity over many keys (issue 7, "How it is measured": "watermark over >= 200 keys").
 *
 * The watermark test's null is "the suspect's text is independent of the member's key": the key was drawn
 * (and committed) before the suspect was seen. So a key nobody ever sampled with is a null key for EVERY
 * suspect, and scoring one suspect's responses under K fresh keys gives K i.i.d. draws of the test's null
 * p-value given that text. This module does that for every null suspect:
 *
 *   per suspect   a one-sided KS (Birnbaum–Tingey) of its K p-values: exact given the text, conservative for
 *                 the discrete, max-of-two p-value, so a small value is real evidence the test is
 *                 anti-conservative on that kind of text; reported as the share of suspects at <= 0.05
 *                 and <= 0.01 and the smallest (with a Bonferroni bound over the suspects);
 *   pooled        the share of all (suspect, key) p-values <= 0.01 and <= 0.05 (valid: at most the level);
 *   randomized    the selected-pairs binomial alone, randomized (P(G > g) + U P(G = g)): exactly U(0, 1)
 *                 given the text, so a two-sided KS on the pooled values checks the law, not only the tail.
 * The same K keys are used for every suspect (suspects sharing pairs share outcomes under a key, so pooled
 * KS p-values are indicative; the per-suspect ones are exact).
 */
import { createHash } from "node:crypto";
import type { WatermarkCounts } from "@lineage/fingerprint";
import { calibrate, type PValueCalibration } from "./report.js";
import { hashUnit, ksUniformUpper, randomizedBinomial } from "./stats.js";

/** The watermark counts of one suspect under one key (libs/fingerprint WatermarkCounts). */
export type KeyCounts = WatermarkCounts;

/** One suspect's pairs, scorable under any key (libs/fingerprint WatermarkPairSet). */
export interface ScorablePairs {
  counts(key: Uint8Array, gamma: number): KeyCounts;
}

/** The test applied to counts: the verdict module's watermarkTest (p-value and whether it could run). */
export type WatermarkTestFn = (c: KeyCounts) => { readonly available: boolean; readonly p: number };

/** K deterministic 32-byte keys, from a label nobody used to watermark anything. */
export function freshKeys(count: number, label = "bench-detection/watermark-validity/v1"): Uint8Array[] {
  if (!(Number.isInteger(count) && count >= 1 && count <= 100_000))
    throw new RangeError("count must be an integer in 1..100000");
  return Array.from(
    { length: count },
    (_, i) => new Uint8Array(createHash("sha256").update(`${label}/${i}`).digest()),
  );
}

/** The report section. */
export interface WatermarkKeyCheck {
  readonly keys: number;
  readonly suspects: number;
  /** Suspects whose text had too few selected pairs for the test to run (under every key). */
  readonly suspects_unavailable: number;
  /** (suspect, key) p-values pooled. */
  readonly pooled: PValueCalibration;
  readonly share_at_or_below_0_01: number | null;
  readonly share_at_or_below_0_05: number | null;
  /** Randomized selected-pairs binomial p-values pooled (two-sided KS = the law). */
  readonly randomized_selected: PValueCalibration;
  /** Per-suspect one-sided KS p-values over the keys. */
  readonly per_suspect_ks: {
    readonly share_at_or_below_0_05: number | null;
    readonly share_at_or_below_0_01: number | null;
    readonly min: number | null;
    /** min x suspects, capped at 1: a Bonferroni bound on "some suspect's p-values are too small". */
    readonly min_bonferroni: number | null;
    readonly worst_suspect: string | null;
  };
  readonly note: string;
}

/** Runs the check of the module comment over `suspects` (id -> scorable pairs) under `keys`. */
export function watermarkKeyCheck(
  suspects: ReadonlyMap<string, ScorablePairs>,
  keys: readonly Uint8Array[],
  gamma: number,
  test: WatermarkTestFn,
): WatermarkKeyCheck {
  if (!(gamma > 0 && gamma < 1)) throw new RangeError("gamma must be in (0, 1)");
  const pooled: number[] = [];
  const randomized: number[] = [];
  const perSuspect: { id: string; p: number }[] = [];
  let unavailable = 0;
  for (const [id, pairs] of suspects) {
    const ps: number[] = [];
    keys.forEach((key, k) => {
      const c = pairs.counts(key, gamma);
      const t = test(c);
      if (!t.available) return;
      ps.push(t.p);
      randomized.push(randomizedBinomial(c.selected_green, c.selected_scored, gamma, hashUnit(`${id}/${k}`)));
    });
    if (ps.length === 0) {
      unavailable++;
      continue;
    }
    pooled.push(...ps);
    perSuspect.push({ id, p: ksUniformUpper(ps).p_value });
  }
  const share = (xs: readonly number[], l: number) =>
    xs.length === 0 ? null : Number((xs.filter((x) => x <= l).length / xs.length).toFixed(5));
  const ksPs = perSuspect.map((x) => x.p);
  const worst = perSuspect.reduce<{ id: string; p: number } | null>(
    (a, x) => (a === null || x.p < a.p ? x : a),
    null,
  );
  return {
    keys: keys.length,
    suspects: suspects.size,
    suspects_unavailable: unavailable,
    pooled: calibrate(pooled),
    share_at_or_below_0_01: share(pooled, 0.01),
    share_at_or_below_0_05: share(pooled, 0.05),
    randomized_selected: calibrate(randomized),
    per_suspect_ks: {
      share_at_or_below_0_05: share(ksPs, 0.05),
      share_at_or_below_0_01: share(ksPs, 0.01),
      min: worst?.p ?? null,
      min_bonferroni: worst === null ? null : Math.min(1, worst.p * perSuspect.length),
      worst_suspect: worst?.id ?? null,
    },
    note:
      "every null suspect's responses scored under the same fresh keys (never used to sample): per suspect, " +
      "i.i.d. null p-values given its text; per_suspect_ks = one-sided KS of each suspect's p-values " +
      "(exact, conservative for discrete p); pooled shares should be <= the level; randomized_selected = " +
      "randomized binomial of the selected pairs, exactly U(0,1) per (suspect, key)",
  };
}
