/**
 * Protocol v2 tampering: every bound choice and every count of an attestation, changed one at a time in a
 * log built with real crypto (v2-fixture.ts: member statements signed with the member's real key,
 * sessions, sightings and checkpoints with the hub's), so that only the auditor's own rule can catch it —
 * and each is caught with its own code. Then the paired disclosure: protocol sample size, labels from the
 * first checkpoint covering the commitment, live re-query vs recorded answers (claim_not_checked, exit 1).
 * Last, `lineage audit verify|disclosure` as a reader and a script see them.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { clone, create } from "@bufbuild/protobuf";
import {
  type AttestationBundle,
  AttestationBundleSchema,
  CheckpointSchema,
  Verdict,
  VerifyDisclosureRequestSchema,
} from "@lineage/api";
import { Ed25519PrivateKey, ed25519NoteSigner, openCheckpoint, signCheckpoint } from "@lineage/crypto";
import { hypergeometricUpperTail } from "@lineage/fingerprint";
import {
  bundleToJson,
  decoyOnlyAllowed,
  disclosurePackageToJson,
  exposedOnlyNeeded,
  isAuditError,
  type TrustRoot,
  verifyBundle,
  verifyDisclosure,
} from "../src/index.js";
import { buildScenario, ORIGIN, type ScenarioOptions, tableSuspect } from "./v2-fixture.js";

const CLI = new URL("../../cli/bin/lineage.js", import.meta.url).pathname;
// The CLI's default auditor state is ~/.lineage/auditor: commands run without --state keep theirs in a folder of
// this test run instead, removed at the end.
const CLI_STATE = join(tmpdir(), `lineage-auditor-state-${process.pid}`);
const CLI_ENV = { ...process.env, LINEAGE_AUDITOR_STATE: CLI_STATE };
after(() => rm(CLI_STATE, { recursive: true, force: true }));

function expectAudit(code: string) {
  return (err: unknown) => {
    assert.ok(isAuditError(err), `expected AuditError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: "utf8", env: CLI_ENV }, (err, stdout, stderr) => {
      const status = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ status, stdout, stderr });
    });
  });
}

test("an honest v2 bundle verifies: bound choices checked, verdict re-derived from its counts", async () => {
  const s = await buildScenario();
  const r = verifyBundle(s.bundle, s.trust);
  assert.equal(r.bound.verdict.verdict, "LIKELY_DERIVED");
  assert.equal(r.bound.verdict.backed_by, "canary_pairs");
  // The fixture's suspect knows the exposed item of 35 of 40 pairs and 4 decoys, all four also exposed.
  assert.deepEqual(
    {
      b: s.evidence.canary?.exposed_only,
      c: s.evidence.canary?.decoy_only,
      n: s.evidence.canary?.pairs_completed,
    },
    { b: 31, c: 0, n: 40 },
  );
  assert.equal(r.bound.session.index, s.sessionIndex);
  assert.equal(r.bound.sighting.index, s.sightingIndex);
  assert.ok(s.commitmentIndex < s.sightingIndex && s.sightingIndex < s.sessionIndex);
  assert.ok(s.sessionIndex < s.attestationIndex);
  const names = r.checks.map((c) => c.name);
  for (const n of [
    "statement.version",
    "policy.registered",
    "session.answer",
    "session.panel",
    "session.seed",
    "session.policy",
    "sighting.order",
    "commitment.before_sighting",
    "counts.binding",
    "verdict.rederived",
  ]) {
    assert.ok(names.includes(n), `check ${n} ran`);
  }
  // With a watermark key bound too, the watermark commitment is opened and ordered as well, and the family
  // grows to three tests (canary 4, canary x watermark 2, watermark 1): the canary test's factor is 7/4.
  const ws = await buildScenario({ watermark: true });
  const w = verifyBundle(ws.bundle, ws.trust);
  assert.equal(w.bound.watermarkCommitment?.body.gamma, 0.25);
  assert.deepEqual(
    w.bound.verdict.tests.map((x) => x.test),
    ["canary_pairs", "watermark", "canary_watermark"],
  );
  assert.equal(w.bound.verdict.tests[0]?.factor, 7 / 4);
});

test("tampered bound choices and counts fail with their own codes", async (t) => {
  const cases: Array<[string, Parameters<typeof buildScenario>[0], string]> = [
    [
      "panel differs from the session's",
      { statement: (st) => (st.bound as { panel: string[] }).panel.push("ref/other") },
      "panel_mismatch",
    ],
    [
      "panel reordered",
      { statement: (st) => (st.bound as { panel: string[] }).panel.reverse() },
      "panel_mismatch",
    ],
    [
      "seed differs from the session's",
      {
        statement: (st) => {
          (st.bound as { seed: Uint8Array }).seed = new Uint8Array(32).fill(1);
        },
      },
      "seed_mismatch",
    ],
    [
      "session seeded from a checkpoint that covers the session itself",
      {
        session: (ss) => {
          ss.seedCheckpointSize = 6n;
        },
      },
      "seed_mismatch",
    ],
    [
      "policy numbers changed under the registered id (alpha 1e-3)",
      {
        statement: (st) => {
          (st.bound as { policy: { alpha: number } }).policy.alpha = 1e-3;
        },
      },
      "policy_mismatch",
    ],
    [
      "policy id unknown",
      {
        statement: (st) => {
          (st.bound as { policy: { policyId: string } }).policy.policyId = "lineage-policy/99";
        },
      },
      "policy_unknown",
    ],
    [
      "session bound another policy than the statement",
      {
        session: (ss) => {
          (ss.policy as { minEffect: number }).minEffect = 0.5;
        },
      },
      "policy_mismatch",
    ],
    [
      "session nonce",
      {
        statement: (st) => {
          st.sessionNonce = new Uint8Array(32).fill(4);
        },
      },
      "session_mismatch",
    ],
    [
      "session id",
      {
        statement: (st) => {
          st.sessionId = "session-2";
        },
      },
      "session_mismatch",
    ],
    [
      "another suspect",
      {
        statement: (st) => {
          st.suspect = {
            suspectId: "sus-2",
            target: { case: "release", value: { registry: "hf", repo: "x/y", revision: "1" } },
          };
        },
      },
      "session_mismatch",
    ],
    [
      "reference fingerprint hash",
      {
        statement: (st) => {
          (st.bound as { referenceFingerprintHash: Uint8Array }).referenceFingerprintHash = new Uint8Array(
            32,
          );
        },
      },
      "session_mismatch",
    ],
    [
      "canary commitment dropped from the statement",
      { statement: (st) => void delete st.canaryCommitment },
      "session_mismatch",
    ],
    [
      "canary commitment logged after the suspect was first seen",
      { order: "commitment_after_sighting" },
      "commitment_after_sighting",
    ],
    [
      "watermark key committed after the suspect was first seen",
      { order: "watermark_after_sighting" },
      "commitment_after_sighting",
    ],
    [
      "LIKELY_DERIVED with as many decoy-only as exposed-only pairs (b = c)",
      {
        counts: (e) => {
          const c = e.canary as NonNullable<typeof e.canary>;
          e.canary = { ...c, exposed_only: 12, decoy_only: 12, exposed_hits: 16, decoy_hits: 16 };
        },
        statement: (st) => {
          st.verdict = Verdict.LIKELY_DERIVED;
          st.backedBy = "canary_pairs";
        },
      },
      "verdict_not_supported",
    ],
    [
      "SIMILAR claimed without a lead",
      {
        statement: (st) => {
          st.verdict = Verdict.SIMILAR;
          st.backedBy = "similarity_lead";
        },
      },
      "verdict_not_supported",
    ],
    [
      "right verdict, wrong backing",
      {
        statement: (st) => {
          st.backedBy = "watermark";
        },
      },
      "verdict_not_supported",
    ],
    [
      "NOT_DERIVED (Lineage has no clean verdict)",
      {
        statement: (st) => {
          st.verdict = Verdict.NOT_DERIVED;
        },
      },
      "verdict_not_supported",
    ],
    [
      "pairs_committed is not the commitment's",
      {
        counts: (e) => {
          e.canary = { ...(e.canary as NonNullable<typeof e.canary>), pairs_committed: 400 };
        },
      },
      "counts_inconsistent",
    ],
    [
      "counts contradict each other (both-hit pairs differ per side)",
      // (changed after the member's verdict: the member's own deriveVerdict refuses such counts)
      {
        statement: (st) => {
          (st.counts as { canary: { decoyHits: number } }).canary.decoyHits = 9;
        },
      },
      "counts_inconsistent",
    ],
    [
      "comparisons fewer than the session corrected for",
      {
        session: (ss) => {
          ss.comparisons = 5;
        },
      },
      "counts_inconsistent",
    ],
    [
      "watermark counts without a bound watermark key",
      {
        counts: (e) => {
          e.watermark = {
            gamma: 0.25,
            selected_scored: 60,
            selected_green: 50,
            all_scored: 60,
            all_green: 50,
          };
        },
      },
      "counts_inconsistent",
    ],
    [
      "a version-1 statement",
      {
        statement: (st) => {
          st.version = 1;
        },
      },
      "legacy_statement",
    ],
    [
      "session index names another entry",
      {
        statement: (st) => {
          (st.bound as { sessionIndex: bigint }).sessionIndex = 0n;
        },
      },
      "wrong_entry",
    ],
  ];
  for (const [name, options, code] of cases) {
    await t.test(name, async () => {
      const s = await buildScenario(options);
      assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit(code));
    });
  }
});

test("the extra watermark queries step's counts (lineage-watermark-queries/2) are re-derived with the battery's; tampered ones fail", async (t) => {
  // The suspect knows no canary and the battery's watermark counts (33/120 selected green) accuse nothing:
  // only the step's counts (0.5 green against gamma 0.25, effect 1/3) can back an accusation.
  const step = (e: Record<string, unknown>) => {
    e.watermark_queries = {
      gamma: 0.25,
      selected_scored: 2000,
      selected_green: 1000,
      all_scored: 6000,
      all_green: 2400,
    };
  };
  const base = { watermark: true, knows: () => false, counts: step } as const;
  const s = await buildScenario(base);
  const st = s.bundle.attestation;
  assert.ok(st !== undefined);
  const r = verifyBundle(s.bundle, s.trust);
  assert.equal(r.bound.verdict.verdict, "LIKELY_DERIVED", r.bound.verdict.explanation);
  assert.deepEqual(r.bound.evidence.watermark_queries, s.evidence.watermark_queries);
  assert.equal(r.bound.evidence.watermark?.selected_green, 33, "counts.watermark stay the battery's");
  // The same bundle without the step's counts derives no accusation: the auditor read them.
  const none = await buildScenario({ watermark: true, knows: () => false });
  assert.equal(verifyBundle(none.bundle, none.trust).bound.verdict.verdict, "INCONCLUSIVE");

  type St = Parameters<NonNullable<Parameters<typeof buildScenario>[0]>["statement"] & {}>[0];
  const wq = (x: St) =>
    (x.counts as { watermarkQueries: { selectedGreen: number; gamma: number } }).watermarkQueries;
  const rec = (x: St) => x.watermarkQueries as { pairsScored: number; protocol: string };
  const cases: Array<[string, (x: St) => void, string]> = [
    [
      "a step count tampered after signing: the stated LIKELY_DERIVED is not what the numbers give",
      (x) => {
        wq(x).selectedGreen = 520;
      },
      "verdict_not_supported",
    ],
    [
      "watermark_queries counts without a step record",
      (x) => {
        x.watermarkQueries = undefined;
      },
      "counts_inconsistent",
    ],
    [
      "a /2 step record without watermark_queries counts",
      (x) => {
        (x.counts as { watermarkQueries?: unknown }).watermarkQueries = undefined;
      },
      "counts_inconsistent",
    ],
    [
      "pairs_scored is not watermark_queries.all_scored",
      (x) => {
        rec(x).pairsScored = 5999;
      },
      "counts_inconsistent",
    ],
    [
      "watermark_queries.gamma is not the battery's",
      (x) => {
        wq(x).gamma = 0.5;
      },
      "counts_inconsistent",
    ],
    [
      "watermark_queries counts under a /1 record",
      (x) => {
        rec(x).protocol = "lineage-watermark-queries/1";
      },
      "counts_inconsistent",
    ],
  ];
  for (const [name, statement, code] of cases) {
    await t.test(name, async () => {
      const bad = await buildScenario({ ...base, statement });
      assert.throws(() => verifyBundle(bad.bundle, bad.trust), expectAudit(code));
    });
  }
});

test("a /3 step's green-mass counts are re-derived; a histogram missing, misplaced or tampered fails", async (t) => {
  // The suspect knows no canary; the battery's counts accuse nothing. The step's histogram: 6,000 pairs, the
  // heavy ones (level 16) half green against gamma 0.25 — the green-mass test rejects; its count test would too,
  // but the histogram is what /3 reads.
  const levels = (heavy: number, light: number) =>
    Array.from({ length: 16 }, (_, i) => (i === 15 ? heavy : i === 0 ? light : 0));
  const step = (e: Record<string, unknown>) => {
    e.watermark_queries = {
      gamma: 0.25,
      selected_scored: 2000,
      selected_green: 700,
      all_scored: 6000,
      all_green: 2000,
      mass: { scored: levels(2000, 4000), green: levels(1000, 1000) },
    };
  };
  const base = { watermark: true, knows: () => false, counts: step } as const;
  const s = await buildScenario(base);
  const r = verifyBundle(s.bundle, s.trust);
  assert.equal(r.bound.verdict.verdict, "LIKELY_DERIVED", r.bound.verdict.explanation);
  assert.deepEqual(r.bound.evidence.watermark_queries?.mass, s.evidence.watermark_queries?.mass);

  type St = Parameters<NonNullable<Parameters<typeof buildScenario>[0]>["statement"] & {}>[0];
  const wq = (x: St) =>
    (x.counts as { watermarkQueries: { massScored: number[]; massGreen: number[] } }).watermarkQueries;
  const rec = (x: St) => x.watermarkQueries as { protocol: string };
  const cases: Array<[string, (x: St) => void, string]> = [
    [
      "the histogram dropped from a /3 record",
      (x) => {
        wq(x).massScored = [];
        wq(x).massGreen = [];
      },
      "counts_inconsistent",
    ],
    [
      "a /2 record with a histogram",
      (x) => {
        rec(x).protocol = "lineage-watermark-queries/2";
      },
      "counts_inconsistent",
    ],
    [
      "a histogram on the battery's counts",
      (x) => {
        const c = x.counts as { watermark: { massScored: number[]; massGreen: number[] } };
        c.watermark.massScored = [...wq(x).massScored];
        c.watermark.massGreen = [...wq(x).massGreen];
      },
      "counts_inconsistent",
    ],
    [
      "green moved to the heavy level after signing (the histogram no longer sums to the counts)",
      (x) => {
        (wq(x).massGreen as number[])[15] = 1500;
      },
      "counts_inconsistent",
    ],
    [
      "green moved to the heavy level and the counts with it: the stated verdict is re-derived",
      (x) => {
        (wq(x).massGreen as number[])[15] = 500;
        (wq(x).massGreen as number[])[0] = 1500;
      },
      "verdict_not_supported",
    ],
  ];
  for (const [name, statement, code] of cases) {
    await t.test(name, async () => {
      const bad = await buildScenario({ ...base, statement });
      assert.throws(() => verifyBundle(bad.bundle, bad.trust), expectAudit(code));
    });
  }
});

test("the watermark queries step bound but not asked (/2, queries_planned 0) verifies only with empty counts on a comparison the battery decided", async (t) => {
  const EMPTY = { gamma: 0.25, selected_scored: 0, selected_green: 0, all_scored: 0, all_green: 0 };
  type St = Parameters<NonNullable<Parameters<typeof buildScenario>[0]>["statement"] & {}>[0];
  const unasked = (x: St) => {
    Object.assign(x.watermarkQueries as object, { queriesPlanned: 0, queriesAnswered: 0, pairsScored: 0 });
  };
  // The battery's own counts decide (150/200 selected green against gamma 0.25): the step is not asked.
  const decided = (e: Record<string, unknown>) => {
    e.watermark = { gamma: 0.25, selected_scored: 200, selected_green: 150, all_scored: 600, all_green: 300 };
    e.watermark_queries = { ...EMPTY };
  };
  const s = await buildScenario({ watermark: true, knows: () => false, counts: decided, statement: unasked });
  const r = verifyBundle(s.bundle, s.trust);
  assert.equal(r.bound.verdict.verdict, "LIKELY_DERIVED", r.bound.verdict.explanation);
  assert.equal(r.bound.verdict.backed_by, "watermark");
  assert.deepEqual(r.bound.evidence.watermark_queries, EMPTY, "the step's empty counts are read");

  const cases: Array<[string, ScenarioOptions]> = [
    [
      "not asked, yet the step's counts are not empty",
      {
        watermark: true,
        knows: () => false,
        counts: (e) => {
          decided(e);
          e.watermark_queries = {
            ...EMPTY,
            selected_scored: 20,
            selected_green: 5,
            all_scored: 60,
            all_green: 15,
          };
        },
        statement: (x) => {
          unasked(x);
          (x.watermarkQueries as { pairsScored: number }).pairsScored = 60;
        },
      },
    ],
    [
      "not asked on a comparison that is undecided without the step (the battery at gamma)",
      {
        watermark: true,
        knows: () => false,
        counts: (e) => {
          e.watermark_queries = { ...EMPTY };
        },
        statement: unasked,
      },
    ],
  ];
  for (const [name, options] of cases) {
    await t.test(name, async () => {
      const bad = await buildScenario(options);
      assert.throws(() => verifyBundle(bad.bundle, bad.trust), expectAudit("counts_inconsistent"));
    });
  }
});

test("a bundle missing the session or carrying another entry as the sighting fails", async () => {
  const s = await buildScenario();
  const noSession = clone(AttestationBundleSchema, s.bundle);
  noSession.session = undefined;
  assert.throws(() => verifyBundle(noSession, s.trust), expectAudit("malformed"));
  const swapped = clone(AttestationBundleSchema, s.bundle);
  swapped.sighting = swapped.commitment;
  assert.throws(() => verifyBundle(swapped, s.trust), expectAudit("wrong_entry"));
});

/** The check that failed last in an audit error (the code alone does not say which seed rule caught it). */
function failedCheck(f: () => unknown): { name: string | undefined; code: string } {
  try {
    f();
  } catch (err) {
    assert.ok(isAuditError(err), `expected an AuditError, got ${String(err)}`);
    return { name: err.checks.at(-1)?.name, code: err.code };
  }
  assert.fail("the bundle verified");
}

test("the session seed is recomputed from the hub-signed seed checkpoint the bundle carries", async () => {
  const s = await buildScenario();
  const honest = verifyBundle(s.bundle, s.trust);
  const derived = honest.checks.find((c) => c.name === "session.seed_derived");
  assert.equal(derived?.passed, true);
  const seedSize = Number(honest.bound.session.body.seedCheckpointSize);
  const bundleSize = honest.checkpoint.size;
  const seedNote = s.log.checkpoints.find((c) => c.size === seedSize);
  assert.ok(seedNote !== undefined && seedSize < bundleSize);

  // A session whose seed was not derived from its checkpoint: the statement copies the session's seed, so
  // every other rule holds and only the recomputation catches it.
  const shopped = await buildScenario({
    session: (ss) => {
      ss.seed = new Uint8Array(32).fill(3);
    },
  });
  assert.deepEqual(
    failedCheck(() => verifyBundle(shopped.bundle, shopped.trust)),
    { name: "session.seed_derived", code: "seed_mismatch" },
  );

  // Seed shopping: the session names an older checkpoint (size 1) but its seed comes from a later root.
  const older = await buildScenario({
    session: (ss) => {
      ss.seedCheckpointSize = 1n;
    },
  });
  // The bundle as built carries the later checkpoint: its size is not the session's.
  assert.deepEqual(
    failedCheck(() => verifyBundle(older.bundle, older.trust)),
    { name: "session.seed_checkpoint_size", code: "seed_mismatch" },
  );
  // Given the checkpoint of size 1 the session names, the seed does not come from its root.
  const first = older.log.checkpoints[0];
  assert.ok(first !== undefined && first.size === 1);
  const olderBundle = clone(AttestationBundleSchema, older.bundle);
  olderBundle.seedCheckpoint = create(CheckpointSchema, { signedNote: first.note });
  olderBundle.seedCheckpointConsistency = older.log.consistency(1, bundleSizeOf(older));
  assert.deepEqual(
    failedCheck(() => verifyBundle(olderBundle, older.trust)),
    { name: "session.seed_derived", code: "seed_mismatch" },
  );

  // No seed checkpoint: nothing to recompute the seed from.
  const none = clone(AttestationBundleSchema, s.bundle);
  none.seedCheckpoint = undefined;
  assert.deepEqual(
    failedCheck(() => verifyBundle(none, s.trust)),
    {
      name: "session.seed_checkpoint",
      code: "malformed",
    },
  );

  // The same checkpoint body signed by a key the auditor does not trust.
  const forged = clone(AttestationBundleSchema, s.bundle);
  const body = openCheckpoint(seedNote.note, { log: s.trust.log }).checkpoint;
  forged.seedCheckpoint = create(CheckpointSchema, {
    signedNote: new TextEncoder().encode(
      signCheckpoint(body, [ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.generate())]),
    ),
  });
  assert.equal(failedCheck(() => verifyBundle(forged, s.trust)).name, "session.seed_checkpoint");

  // A consistency proof with one hash flipped: the bundle's tree does not provably extend the seed's.
  const split = clone(AttestationBundleSchema, s.bundle);
  const h = split.seedCheckpointConsistency[0];
  assert.ok(h !== undefined);
  split.seedCheckpointConsistency[0] = h.map((b, i) => (i === 0 ? b ^ 1 : b));
  assert.deepEqual(
    failedCheck(() => verifyBundle(split, s.trust)),
    {
      name: "session.seed_checkpoint_consistency",
      code: "split_view",
    },
  );
  const long = clone(AttestationBundleSchema, s.bundle);
  long.seedCheckpointConsistency = Array.from({ length: 65 }, () => new Uint8Array(32));
  assert.equal(failedCheck(() => verifyBundle(long, s.trust)).code, "too_large");
});

function bundleSizeOf(s: { bundle: AttestationBundle; trust: TrustRoot }): number {
  const note = s.bundle.checkpoint?.signedNote;
  assert.ok(note !== undefined);
  return openCheckpoint(note, { log: s.trust.log }).checkpoint.size;
}

test("claim quantiles: the hypergeometric 1% lower quantile and 99% upper quantile", () => {
  const below = (x: number, N: number, K: number, n: number) => 1 - hypergeometricUpperTail(x + 1, N, K, n);
  for (const [N, K, n] of [
    [40, 31, 32],
    [1000, 500, 32],
    [200, 20, 32],
    [32, 10, 32],
  ] as const) {
    const need = exposedOnlyNeeded(N, K, n);
    // The least x whose lower tail reaches 1%: x passes, x - 1 does not.
    assert.ok(below(need, N, K, n) >= 0.01, `${N}/${K}/${n}: need ${need}`);
    if (need > 0) assert.ok(below(need - 1, N, K, n) < 0.01, `${N}/${K}/${n}: need ${need} is not the least`);
    const allowed = decoyOnlyAllowed(N, K, n);
    assert.ok(hypergeometricUpperTail(allowed, N, K, n) >= 0.01);
    assert.ok(allowed === n || hypergeometricUpperTail(allowed + 1, N, K, n) < 0.01);
  }
  // The whole population drawn: the count is certain.
  assert.equal(exposedOnlyNeeded(32, 10, 32), 10);
  assert.equal(decoyOnlyAllowed(32, 10, 32), 10);
  // 40 pairs, 31 exposed-only, 32 drawn: at least 23 always show; 23 itself is likely (P = 0.10).
  assert.equal(exposedOnlyNeeded(40, 31, 32), 23);
  assert.equal(exposedOnlyNeeded(1000, 0, 32), 0);
  assert.equal(decoyOnlyAllowed(40, 0, 32), 0);
});

test("paired disclosure: live copy verifies; unrelated fails; recorded answers are a claim; sample size and labels are the log's", async () => {
  const s = await buildScenario();
  const d = s.disclosure();
  assert.equal(d.pairs.length, 32);
  const copy = tableSuspect(s.pairs, (i, item) => (item === s.labels[i] ? i % 8 !== 7 : i % 10 === 0));
  const live = await verifyDisclosure(s.bundle, d, [], s.trust, { suspect: copy });
  assert.equal(live.outcome, "verified");
  assert.equal(live.answers, "live");
  assert.equal(live.sampleSize, 32);
  assert.ok(live.sample.exposedOnly >= live.exposedOnlyNeeded);
  assert.equal(live.sample.decoyOnly, 0);

  // A model that knows both items of every pair (generic answers), or none: no exposed-only pair.
  for (const knows of [() => true, () => false]) {
    await assert.rejects(
      verifyDisclosure(s.bundle, d, [], s.trust, { suspect: tableSuspect(s.pairs, knows) }),
      expectAudit("hits_not_reproduced"),
    );
  }
  // A model that knows the DECOYS (labels flipped): decoy-only pairs the claim does not allow.
  await assert.rejects(
    verifyDisclosure(s.bundle, d, [], s.trust, {
      suspect: tableSuspect(s.pairs, (i, item) => item !== s.labels[i]),
    }),
    expectAudit("hits_not_reproduced"),
  );

  // Recorded answers from the package: every check passes, but it is a claim.
  const recorded = await verifyDisclosure(s.bundle, d, await s.recorded(d, copy), s.trust);
  assert.equal(recorded.outcome, "claim_not_checked");
  assert.equal(recorded.answers, "recorded");
  // Recorded answers that do not support the claim fail outright.
  await assert.rejects(
    verifyDisclosure(
      s.bundle,
      d,
      await s.recorded(
        d,
        tableSuspect(s.pairs, () => false),
      ),
      s.trust,
    ),
    expectAudit("hits_not_reproduced"),
  );
  // A recorded package missing one item's answer is malformed.
  await assert.rejects(
    verifyDisclosure(s.bundle, d, (await s.recorded(d, copy)).slice(1), s.trust),
    expectAudit("malformed"),
  );

  // Sample size: one pair fewer than the protocol's min(40, 32).
  await assert.rejects(
    verifyDisclosure(s.bundle, s.disclosure({ size: 31 }), [], s.trust, { suspect: copy }),
    expectAudit("sample_size_mismatch"),
  );
  // Sample order shopped: the member shows the same pairs in another order.
  const shopped = s.disclosure();
  shopped.pairs.reverse();
  await assert.rejects(
    verifyDisclosure(s.bundle, shopped, [], s.trust, { suspect: copy }),
    expectAudit("sample_mismatch"),
  );
  // Labels: a later checkpoint (not the first covering the commitment) would expose the other items.
  const later = s.log.checkpoints.find((c) => c.size > s.commitmentIndex + 1 && c.size <= s.attestationIndex);
  assert.ok(later !== undefined);
  await assert.rejects(
    verifyDisclosure(s.bundle, s.disclosure({ labelCheckpoint: later }), [], s.trust, { suspect: copy }),
    expectAudit("label_mismatch"),
  );
  // Labels: no label evidence at all.
  const noLabels = s.disclosure();
  noLabels.labelCheckpoint = undefined;
  await assert.rejects(
    verifyDisclosure(s.bundle, noLabels, [], s.trust, { suspect: copy }),
    expectAudit("label_mismatch"),
  );
  // A pair that does not open the commitment.
  const forged = s.disclosure();
  (forged.pairs[0] as { expectedA: string }).expectedA = "something else";
  await assert.rejects(
    verifyDisclosure(s.bundle, forged, [], s.trust, { suspect: copy }),
    expectAudit("bad_proof"),
  );
});

test("lineage audit verify and disclosure: readable verdict, JSON, exit codes", async () => {
  const s = await buildScenario();
  const bad = await buildScenario({ statement: (st) => (st.bound as { panel: string[] }).panel.pop() });
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-v2-"));
  try {
    const file = join(dir, "bundle.json");
    await writeFile(file, bundleToJson(s.bundle));
    const human = await cli([
      "audit",
      "verify",
      file,
      "--log-key",
      s.log.verifierKey,
      "--origin",
      "lineage.test/v2",
      "--offline",
    ]);
    assert.equal(human.status, 0, human.stderr + human.stdout);
    assert.ok(human.stdout.includes("NOT CHECKED OFFLINE"), human.stdout);
    for (const want of [
      "models compared",
      "mallory/copy-7b",
      "alice/alice-7b@1",
      "LIKELY_DERIVED",
      "31 exposed-only vs 0 decoy-only of 40 completed pairs",
      "lineage-policy/2",
      `entry ${s.sessionIndex}`,
    ]) {
      assert.ok(human.stdout.includes(want), `output names "${want}":\n${human.stdout}`);
    }
    // Without --hub or --offline: the history is not checked, and that is not a pass.
    const unchecked = await cli(["audit", "verify", file, "--log-key", s.log.verifierKey, "--json"]);
    assert.equal(unchecked.status, 1);
    assert.equal(JSON.parse(unchecked.stdout).code, "history_unchecked");
    const json = await cli(["audit", "verify", file, "--log-key", s.log.verifierKey, "--json", "--offline"]);
    assert.equal(json.status, 0);
    const j = JSON.parse(json.stdout);
    assert.equal(j.history_checked, false);
    assert.equal(j.verdict, "LIKELY_DERIVED");
    assert.equal(j.backed_by, "canary_pairs");
    assert.equal(j.session_index, s.sessionIndex);
    assert.equal(j.policy.id, "lineage-policy/2");
    assert.equal(j.counts.canary.exposed_only, 31);
    assert.ok(j.adjusted_p > 0 && j.adjusted_p <= 1e-6);

    const badFile = join(dir, "bad.json");
    await writeFile(badFile, bundleToJson(bad.bundle));
    const failed = await cli([
      "audit",
      "verify",
      badFile,
      "--log-key",
      bad.log.verifierKey,
      "--json",
      "--offline",
    ]);
    assert.equal(failed.status, 1);
    assert.equal(JSON.parse(failed.stdout).code, "panel_mismatch");

    const d = s.disclosure();
    const copy = tableSuspect(s.pairs, (i, item) => (item === s.labels[i] ? i % 8 !== 7 : i % 10 === 0));
    const pkg = join(dir, "package.json");
    await writeFile(
      pkg,
      disclosurePackageToJson(
        create(VerifyDisclosureRequestSchema, {
          bundle: s.bundle,
          disclosure: d,
          responses: await s.recorded(d, copy),
        }),
      ),
    );
    const claim = await cli(["audit", "disclosure", pkg, "--log-key", s.log.verifierKey]);
    assert.equal(claim.status, 1, claim.stderr);
    assert.ok(claim.stdout.includes("claim, not checked against the suspect"), claim.stdout);
    const claimJson = await cli(["audit", "disclosure", pkg, "--log-key", s.log.verifierKey, "--json"]);
    assert.equal(claimJson.status, 1);
    const cj = JSON.parse(claimJson.stdout);
    assert.equal(cj.code, "claim_not_checked");
    assert.equal(cj.verified, false);
    assert.equal(cj.sample.decoy_only, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
