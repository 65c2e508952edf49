/** Session counts for the bench's unit tests: canary and watermark counts written by hand. */
import type { CanaryPairCounts, WatermarkCounts } from "@lineage/fingerprint";

/** Canary counts with `b` exposed-only and `c` decoy-only pairs out of 48 (no rank scores). */
export const canaryCounts = (b: number, c: number): CanaryPairCounts => ({
  pairs_committed: 48,
  pairs_completed: 48,
  exposed_hits: b,
  decoy_hits: c,
  exposed_only: b,
  decoy_only: c,
});

/** Watermark counts (gamma 0.25) with `green` of `n` green, both selected and all. */
export const watermarkCounts = (green: number, n: number): WatermarkCounts => ({
  gamma: 0.25,
  selected_scored: n,
  selected_green: green,
  all_scored: n,
  all_green: green,
});
