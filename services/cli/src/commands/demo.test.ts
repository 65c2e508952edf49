import assert from "node:assert/strict";
import { test } from "node:test";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

test("the demo follows the match protocol: every attestation is logged after its session and audits; none accuses falsely", async () => {
  const io = captureIo();
  assert.equal(await main(["demo", "--size", "small", "--unrelated", "1", "--json"], io), EXIT.ok);
  const r = JSON.parse(io.out()) as {
    results: {
      audit: string;
      log_index: number;
      session_index: number;
      verdict: string;
      decision: string;
      outcome: string;
    }[];
    audited: number;
    false_accusations: number;
    policy: string;
    by_verdict: Record<string, number>;
    checkpoint: { tree_size: number; note: string };
    hub_verifier_key: string;
  };
  const logged = r.results.filter((x) => x.log_index >= 0);
  assert.ok(logged.length >= 8, "one suspect per scenario plus an unrelated one was confirmed by members");
  assert.equal(r.audited, logged.length);
  assert.ok(logged.every((x) => x.audit === "verified"));
  // Each attestation answers a session logged before it.
  assert.ok(logged.every((x) => x.session_index >= 0 && x.session_index < x.log_index));
  assert.ok(
    r.results.every((x) =>
      ["LIKELY_DERIVED", "SIMILAR", "INCONCLUSIVE", "NO_CANDIDATE", "NOT_RETRIEVED"].includes(x.verdict),
    ),
  );
  assert.ok(r.results.every((x) => x.decision === x.verdict));
  assert.equal(r.false_accusations, 0);
  assert.ok(r.results.every((x) => x.outcome !== "FALSE ACCUSATION"));
  assert.equal(r.policy, "lineage-policy/3");
  assert.equal(
    (r.by_verdict.LIKELY_DERIVED ?? 0) + (r.by_verdict.SIMILAR ?? 0) + (r.by_verdict.INCONCLUSIVE ?? 0),
    logged.length,
  );
  // Memberships, commitments, reference fingerprints, sightings, sessions and attestations are all covered.
  assert.ok(r.checkpoint.tree_size > 2 * logged.length);
  assert.match(r.checkpoint.note, /^lineage\.demo\/log\n\d+\n/);
});

test("demo flags are validated", async () => {
  const io = captureIo();
  assert.equal(await main(["demo", "--unrelated", "99"], io), EXIT.usage);
  assert.match(io.err(), /--unrelated must be between 0 and 20/);
});
