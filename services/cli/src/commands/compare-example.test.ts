/**
 * The command examples/README.md shows, run through the CLI in-process on the sample files: it must work
 * for a newcomer (exit 0, the verdict printed with the models, what backs it and the policy), its JSON must
 * carry the verdict fields, and turning a policy knob must be reported loudly.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { runCommand } from "../command.js";
import { compareCommand } from "./compare.js";

const repo = fileURLToPath(new URL("../../../../", import.meta.url));

const EXAMPLE = [
  "compare",
  "--suspect",
  "replay:examples/replay/suspect.jsonl",
  "--reference",
  "replay:examples/replay/reference.jsonl",
  "--panel",
  "replay:examples/replay/unrelated-a.jsonl",
  "--panel",
  "replay:examples/replay/unrelated-b.jsonl",
  "--panel",
  "replay:examples/replay/unrelated-c.jsonl",
  "--battery",
  "examples/battery.json",
];

async function run(args: string[]) {
  const io = captureIo({ cwd: repo });
  // The CLI's own parser and error handling, with only this command (the full tree loads every service).
  const code = await runCommand({ name: "lineage", summary: "", subcommands: [compareCommand] }, args, io);
  return { code, out: io.out(), err: io.err() };
}

/** Replay files carry no prompt log-probabilities, so the README binds policy 2 for them (see there). */
const P2 = ["--policy", "lineage-policy/2"];

test("the examples/README.md command works: LIKELY_DERIVED backed by the canary pairs, models and policy named", async () => {
  const r = await run([...EXAMPLE, ...P2, "--canaries", "examples/canary-pairs.json"]);
  assert.equal(r.code, EXIT.ok, r.err);
  assert.match(r.out, /^suspect: +replay:examples\/replay\/suspect\.jsonl$/m);
  assert.match(r.out, /^reference: +replay:examples\/replay\/reference\.jsonl$/m);
  assert.match(
    r.out,
    /^panel: +3 unrelated models: .*unrelated-a\.jsonl.*unrelated-b\.jsonl.*unrelated-c\.jsonl$/m,
  );
  assert.match(r.out, /^verdict: +LIKELY_DERIVED$/m);
  assert.match(r.out, /^backed by: the paired canary test$/m);
  assert.match(r.out, /26 exposed-only vs 1 decoy-only of 30 completed pairs/);
  assert.match(r.out, /pair labels as given in examples\/canary-pairs\.json/);
  // The canaries decided before any battery probe was asked: no similarity measured, 60 queries in all.
  assert.match(
    r.out,
    /^similarity: not measured: no battery probe was asked \(decided before the battery\)$/m,
  );
  assert.match(
    r.out,
    /^queries: +60 \(suspect 0, reference 0, panel 0, canaries 60\); probes used 0 \(stopped early\)/m,
  );
  assert.match(r.out, /^policy: +lineage-policy\/2 \(registered, not the default lineage-policy\/3\)/m);
  assert.doesNotMatch(r.out, /NON-DEFAULT/);
  assert.doesNotMatch(r.out, /custom/);
  assert.match(r.out, /token_distribution +\[lead\] +unavailable: /);
});

test("--json keeps decision, p_value, signals and adds the verdict fields", async () => {
  const r = await run([...EXAMPLE, ...P2, "--canaries", "examples/canary-pairs.json", "--json"]);
  assert.equal(r.code, EXIT.ok, r.err);
  const j = JSON.parse(r.out) as Record<string, unknown> & {
    signals: { name: string; available: boolean; p_value: number | null; role: string }[];
    policy: { id: string };
    bound: { panel: string[] };
    lead_rank: { rank: number; null_size: number } | null;
  };
  assert.equal(j.decision, "LIKELY_DERIVED");
  assert.equal(j.verdict, "LIKELY_DERIVED");
  assert.equal(j.backed_by, "canary_pairs");
  assert.ok(typeof j.p_value === "number" && j.p_value <= 1e-6);
  // Decided before the battery: no similarity, so no lead fields.
  assert.equal(j.lead_score, null);
  assert.equal(j.lead_rank, null);
  assert.equal(j.policy.id, "lineage-policy/2");
  assert.equal(j.policy_is_default, false);
  assert.equal(j.policy_registered, true);
  assert.equal(typeof j.explanation, "string");
  assert.equal(j.bound.panel.length, 3);
  const wm = j.signals.find((s) => s.name === "watermark");
  assert.equal(wm?.available, false);
  assert.equal(wm?.p_value, null);
  assert.ok(j.signals.every((s) => s.role === "accusing" || s.role === "lead"));
});

test("the default policy 3 on the replay example: no log-probabilities to score, so the rank test does not run and McNemar pays W / 1 = 7: INCONCLUSIVE", async () => {
  const r = await run([...EXAMPLE, "--canaries", "examples/canary-pairs.json"]);
  assert.equal(r.code, EXIT.ok, r.err);
  assert.match(r.out, /^policy: +lineage-policy\/3 \(default\)/m);
  assert.doesNotMatch(r.out, /NON-DEFAULT/);
  // 26 vs 1 discordant pairs: raw 28 / 2^27 = 2.1e-7, x 7 = 1.5e-6 > 1e-6 (policy 2: x 1, LIKELY_DERIVED).
  assert.match(r.out, /^ {2}canary_pairs +adjusted p 1\.5e-6 \(raw 2\.1e-7 x 7\)/m);
  assert.match(r.out, /^ {2}canary_ranks +did not run: the suspect's answers were not scored/m);
  assert.match(r.out, /^verdict: +INCONCLUSIVE$/m);
  // The scoring queries were asked (60 items + 60 scoring queries) and found nothing in the replay.
  assert.match(r.out, /canaries 120\)/);
  // Undecided by the canaries, the battery was asked: the rank in words; 3 unrelated models make too small a
  // population for a lead, and it says so.
  assert.match(r.out, /^similarity: closer to the reference than \d+ of \d+ unrelated pairs .*not a lead: /m);
  const j = JSON.parse(
    (await run([...EXAMPLE, "--canaries", "examples/canary-pairs.json", "--json"])).out,
  ) as {
    lead_score: unknown;
    lead_rank: { null_size: number } | null;
  };
  assert.equal(typeof j.lead_score, "number");
  assert.ok(j.lead_rank && j.lead_rank.null_size > 0);
});

test("--policy binds a registered policy by id; an unknown id is refused with the registered ones (exit 2)", async () => {
  const r = await run([...EXAMPLE, "--policy", "lineage-policy/3", "--json"]);
  assert.equal(r.code, EXIT.ok, r.err);
  const j = JSON.parse(r.out) as {
    policy: { id: string };
    policy_is_default: boolean;
    policy_registered: boolean;
  };
  assert.deepEqual([j.policy.id, j.policy_is_default, j.policy_registered], ["lineage-policy/3", true, true]);
  for (const bad of ["lineage-policy/1", "custom", "LINEAGE-POLICY/2"]) {
    const b = await run([...EXAMPLE, "--policy", bad]);
    assert.equal(b.code, EXIT.usage, b.err);
    assert.match(
      b.err,
      /--policy '.*' is not a registered policy; registered: lineage-policy\/2, lineage-policy\/3 \(default lineage-policy\/3\)/,
    );
  }
  // A knob over policy 2 that restates policy 2 is still policy 2; one that moves it is custom, on policy 2's weights.
  const same = await run([...EXAMPLE, ...P2, "--weight", "canary_pairs=4", "--json"]);
  assert.equal((JSON.parse(same.out) as { policy: { id: string } }).policy.id, "lineage-policy/2");
  const moved = await run([...EXAMPLE, ...P2, "--alpha", "1e-3"]);
  assert.match(
    moved.out,
    /^NON-DEFAULT POLICY \(forensic use only\): --alpha 0\.001 \(lineage-policy\/2: 1\.0e-6\)$/m,
  );
  assert.match(
    moved.out,
    /^policy: +custom \(custom numbers, registered in no policy; the default is lineage-policy\/3\).*weights canary_pairs=4,canary_watermark=2,watermark=1$/m,
  );
});

test("without canaries nothing can accuse; a knob off the default is a loud NON-DEFAULT POLICY line", async () => {
  const r = await run([...EXAMPLE, "--alpha", "1e-3", "--lead-alpha", "0.1"]);
  assert.equal(r.code, EXIT.ok, r.err);
  assert.match(r.out, /^verdict: +INCONCLUSIVE$/m);
  assert.match(r.out, /^backed by: nothing/m);
  assert.match(r.out, /none bound \(no --canaries, no --watermark-key-env\)/);
  assert.match(
    r.out,
    /^NON-DEFAULT POLICY \(forensic use only\): --alpha 0\.001 \(lineage-policy\/3: 1\.0e-6\); --lead-alpha 0\.1/m,
  );
  assert.match(
    r.out,
    /^policy: +custom \(custom numbers, registered in no policy; the default is lineage-policy\/3\)/m,
  );
  const j = await run([...EXAMPLE, "--weight", "canary_pairs=2", "--json"]);
  assert.equal(j.code, EXIT.ok, j.err);
  const parsed = JSON.parse(j.out) as {
    policy_is_default: boolean;
    policy: { id: string; weights: Record<string, number> };
  };
  assert.equal(parsed.policy_is_default, false);
  assert.equal(parsed.policy.id, "custom");
  // One weight changed; the other tests stay in the family with their default weights.
  assert.deepEqual(parsed.policy.weights, {
    canary_pairs: 2,
    canary_ranks: 6,
    canary_watermark: 2,
    watermark: 1,
  });
  // Stating the default numbers explicitly is still the default policy.
  const d = await run([...EXAMPLE, "--alpha", "1e-6", "--json"]);
  assert.equal((JSON.parse(d.out) as { policy_is_default: boolean }).policy_is_default, true);
});

test("bad policy knobs are refused naming the flag (exit 2)", async () => {
  for (const [args, pattern] of [
    [["--weight", "similarity=2"], /--weight must be TEST=W/],
    [["--weight", "canary_pairs=0"], /--weight canary_pairs must be in/],
    [["--weight", "watermark=1", "--weight", "watermark=2"], /--weight watermark is given twice/],
    [["--lead-alpha", "2"], /--lead-alpha must be a number/],
    [["--min-lead-null", "0"], /--min-lead-null must be between/],
  ] as const) {
    const r = await run([...EXAMPLE, ...args]);
    assert.equal(r.code, EXIT.usage, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, pattern);
  }
});

test("--canaries in the retired exposed/decoys format is refused naming the flag (exit 2)", async () => {
  const { writeFileSync, mkdtempSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "lineage-canaries-"));
  try {
    const file = join(dir, "old.json");
    writeFileSync(file, JSON.stringify({ memberId: "m", exposed: [], decoys: [] }));
    const r = await run([...EXAMPLE, "--canaries", file]);
    assert.equal(r.code, EXIT.usage, r.err);
    assert.match(r.err, /--canaries/);
    assert.match(r.err, /pairs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
