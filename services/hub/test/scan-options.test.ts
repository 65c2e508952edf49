/**
 * The release scanner's retrieval options (release-scanner.ts): how many candidates a scan sessions and how
 * many coarse bands a protected model must share with the suspect. Both come from the hub's configuration
 * (hub-runtime.ts); a value outside its range is refused when the scanner is built, naming the option,
 * before any suspect is scanned.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { COARSE_BANDS } from "@lineage/fingerprint";
import { isHubError } from "../src/ingest/hub-error.js";
import { ReleaseScanner, type ReleaseScannerOptions } from "../src/scan/release-scanner.js";

// Only the options are read by the constructor; the scanner's services are not reached here.
const base = {} as ReleaseScannerOptions;
const refused = (name: string) => (e: unknown) =>
  isHubError(e, "invalid_argument") && new RegExp(name).test((e as Error).message);

test("scanner options: out-of-range candidate counts and band thresholds are refused, naming the option", () => {
  for (const minAgreeingBands of [0, -1, 1.5, Number.NaN, COARSE_BANDS + 1])
    assert.throws(() => new ReleaseScanner({ ...base, minAgreeingBands }), refused("minAgreeingBands"));
  for (const maxCandidates of [0, 1001, 2.5, Number.POSITIVE_INFINITY])
    assert.throws(() => new ReleaseScanner({ ...base, maxCandidates }), refused("maxCandidates"));
  // In range (and absent: the defaults) they are taken.
  assert.ok(new ReleaseScanner({ ...base, minAgreeingBands: 1, maxCandidates: 1000 }));
  assert.ok(new ReleaseScanner({ ...base, minAgreeingBands: COARSE_BANDS }));
  assert.ok(new ReleaseScanner(base));
});
