import assert from "node:assert/strict";
import { test } from "node:test";
import { ATTACK_NAMES, parseArgs } from "./args.js";

test("defaults and every flag", () => {
  assert.deepEqual(parseArgs([]), {
    size: "full",
    panel: 6,
    concurrency: 8,
    foreign: "test",
    panelSelect: "closest",
    attacks: [...ATTACK_NAMES],
    attacksOnly: false,
    lshOnly: false,
    attackSplits: ["calibration", "test"],
  });
  assert.deepEqual(
    parseArgs([
      "--json",
      "out.json",
      "--size",
      "small",
      "--panel",
      "3",
      "--concurrency",
      "2",
      "--foreign",
      "both",
      "--panel-select",
      "rotation",
      "--scenarios",
      "ensemble_25,ensemble_10",
      "--attacks",
      "canary_filter,sibling",
      "--attacks-only",
      "--attack-splits",
      "test",
    ]),
    {
      json: "out.json",
      size: "small",
      panel: 3,
      concurrency: 2,
      foreign: "both",
      panelSelect: "rotation",
      scenarios: ["ensemble_25", "ensemble_10"],
      attacks: ["canary_filter", "sibling"],
      attacksOnly: true,
      lshOnly: false,
      attackSplits: ["test"],
    },
  );
  // --lsh-only builds and serves no attack model, whatever --attacks says.
  const lsh = parseArgs(["--attacks", "sibling", "--lsh-only"]);
  assert.equal(lsh.lshOnly, true);
  assert.deepEqual(lsh.attacks, []);
});

test("bad arguments are rejected with the argument named", () => {
  assert.throws(() => parseArgs(["--json"]), /--json needs a value/);
  assert.throws(() => parseArgs(["--json", "--size"]), /--json needs a value/);
  assert.throws(() => parseArgs(["--size", "huge"]), /--size must be full or small/);
  assert.throws(() => parseArgs(["--panel", "0"]), /--panel must be an integer in 1..20/);
  assert.throws(() => parseArgs(["--concurrency", "1.5"]), /--concurrency/);
  assert.throws(() => parseArgs(["--foreign", "all"]), /--foreign/);
  assert.throws(() => parseArgs(["--panel-select", "best"]), /--panel-select/);
  assert.throws(() => parseArgs(["--cache-dir"]), /--cache-dir needs a value/);
  assert.equal(parseArgs(["--cache-dir", "/tmp/x"]).cacheDir, "/tmp/x");
  // The extra watermark queries are the member node's step (fixed by its protocol), not a bench knob.
  assert.throws(() => parseArgs(["--watermark-queries", "500"]), /--watermark-queries/);
  assert.throws(() => parseArgs(["--scenarios", "direct,ensemble_5"]), /unknown scenario "ensemble_5"/);
  assert.throws(() => parseArgs(["--attacks", "sampling,scrub"]), /--attacks: unknown attack "scrub"/);
  assert.throws(() => parseArgs(["--attacks"]), /--attacks needs a value/);
  assert.deepEqual(parseArgs(["--attacks", "none"]).attacks, []);
  assert.throws(
    () => parseArgs(["--attacks", "none", "--attacks-only"]),
    /--attacks-only needs at least one attack/,
  );
  assert.throws(
    () => parseArgs(["--attacks-only", "--lsh-only"]),
    /--attacks-only and --lsh-only exclude each other/,
  );
  assert.throws(
    () => parseArgs(["--attack-splits", "train"]),
    /--attack-splits must be calibration, test or both/,
  );
  assert.throws(() => parseArgs(["--bogus"]), /unknown argument/);
});
