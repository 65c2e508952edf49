/**
 * Protocol v2 admission on real PGlite (and Postgres when reachable): every rule an attestation, a session
 * and a sighting must meet, each broken on its own and refused with its own code
 * (services/hub/src/log/protocol-admission.ts lists the rules).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type AttestationBundle,
  AttestationBundleSchema,
  type SessionOpened,
  SessionOpenedSchema,
  SuspectSource,
  Verdict,
  WatermarkCountsSchema,
  WatermarkQueriesStepSchema,
} from "@lineage/api";
import {
  type Checkpoint,
  Ed25519PrivateKey,
  openCheckpoint,
  parseVerifierKey,
  sessionSeed,
  sha256,
  toHex,
  verifyConsistency,
} from "@lineage/crypto";
import { decodeLeaf, isLogError, type LogError, TransparencyLog } from "../src/index.js";
import { buildAttestationBundle } from "../src/log/attestation-bundle.js";
import {
  ACCUSING_CANARY,
  ACCUSING_CLAIM,
  attestationV2,
  backends,
  commitment,
  DAY,
  enrolRecord,
  memberKey,
  openProtocolSession,
  policyProto,
  referenceCommitment,
  sessionInit,
  WEAK_CANARY,
  WEAK_CLAIM,
  watermarkCommitment,
  withdrawal,
} from "./log-fixtures.js";

const ORIGIN = "lineage.test/log";

async function rejectsCode(p: Promise<unknown>, code: string, what = ""): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isLogError(err), `${what}: expected LogError, got ${String(err)}`);
    assert.equal((err as LogError).code, code, `${what}: ${(err as Error).message}`);
    return true;
  });
}

async function setup(store: Awaited<ReturnType<Awaited<ReturnType<typeof backends>>[number]["open"]>>) {
  const hubKey = Ed25519PrivateKey.generate();
  const now = Date.now();
  const log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
  const alice = memberKey();
  await log.appendMembership(enrolRecord("alice", alice, now - DAY));
  return { log, now, alice, hubKey };
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * Checks a bundle's seed checkpoint as an auditor would: signed by the hub, of the session's
 * seed_checkpoint_size, extended by the bundle's checkpoint (RFC 9162 proof), and the session's seed is
 * sessionSeed over its root. Returns the opened checkpoint.
 */
function seedCheckpointOf(
  log: TransparencyLog,
  bundle: AttestationBundle,
  session: SessionOpened,
): Checkpoint {
  const verifier = { log: parseVerifierKey(log.verifierKey), origin: ORIGIN };
  const bundleCp = openCheckpoint(bundle.checkpoint?.signedNote as Uint8Array, verifier).checkpoint;
  const seedCp = openCheckpoint(bundle.seedCheckpoint?.signedNote as Uint8Array, verifier).checkpoint;
  assert.equal(seedCp.size, Number(session.seedCheckpointSize));
  assert.ok(seedCp.size < bundleCp.size);
  verifyConsistency(
    seedCp.size,
    bundleCp.size,
    bundle.seedCheckpointConsistency,
    seedCp.rootHash,
    bundleCp.rootHash,
  );
  assert.equal(
    toHex(
      sessionSeed({ checkpointRoot: seedCp.rootHash, origin: seedCp.origin, sessionId: session.sessionId }),
    ),
    toHex(session.seed),
  );
  return seedCp;
}

for (const backend of await backends()) {
  test(`${backend.name}: the same reference fingerprint commitment is logged once (a replay past the in-memory guard is already_exists)`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const { log, now, alice } = await setup(store);
    const hash = new Uint8Array(32).fill(7);
    const first = referenceCommitment(alice, "alice", "m1", hash, now);
    await log.appendCommitment(first);
    const size = log.size;
    await rejectsCode(log.appendCommitment(first), "already_exists", "the same envelope again");
    // Re-signed at another time, same model, version, epoch and hash: still the same reference.
    await rejectsCode(
      log.appendCommitment(referenceCommitment(alice, "alice", "m1", hash, now + 1000)),
      "already_exists",
      "the same reference re-signed",
    );
    assert.equal(log.size, size, "nothing logged");
    // Another hash, model or epoch is another reference.
    await log.appendCommitment(referenceCommitment(alice, "alice", "m1", new Uint8Array(32).fill(8), now));
    await log.appendCommitment(referenceCommitment(alice, "alice", "m2", hash, now));
    await log.appendCommitment(referenceCommitment(alice, "alice", "m1", hash, now, "epoch-2"));
    assert.equal(log.size, size + 3);
  });

  test(`${backend.name}: a supported v2 attestation is logged; its bundle carries session, sighting and commitments`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const { log, now, alice, hubKey } = await setup(store);
    const p = await openProtocolSession(log, alice, "alice", now, { watermark: true });
    // The hub derived the seed itself from the checkpoint it names.
    const view = log.session(p.sessionId);
    assert.ok(view !== undefined);
    const root = await log.root(Number(view.opened.seedCheckpointSize));
    assert.equal(
      toHex(view.opened.seed),
      toHex(sessionSeed({ checkpointRoot: root, origin: ORIGIN, sessionId: p.sessionId })),
    );
    const a = await log.appendAttestation(attestationV2(log, p, now, ACCUSING_CLAIM));
    await rejectsCode(
      log.appendAttestation(attestationV2(log, p, now, ACCUSING_CLAIM)),
      "already_exists",
      "one attestation per (member, session)",
    );
    await log.checkpoint();
    const bundle = await buildAttestationBundle(log, { logIndex: a.index });
    const bin = fromBinary(AttestationBundleSchema, toBinary(AttestationBundleSchema, bundle));
    assert.equal(Number(bin.session?.entry?.index), p.sessionIndex);
    assert.equal(Number(bin.sighting?.entry?.index), p.sighting);
    assert.equal(Number(bin.commitment?.entry?.index), p.canary.logIndex);
    assert.equal(Number(bin.watermarkCommitment?.entry?.index), p.watermark?.logIndex);
    assert.equal(
      Number(bin.referenceFingerprint?.entry?.index),
      Number(view.opened.referenceFingerprintIndex),
    );
    const loggedSession = fromBinary(
      SessionOpenedSchema,
      decodeLeaf(bin.session?.entry?.leaf as Uint8Array).envelope.payload,
    );
    assert.equal(loggedSession.sessionId, p.sessionId);
    // The checkpoint the seed came from, hub-signed, with a consistency proof to the bundle's checkpoint.
    assert.ok(seedCheckpointOf(log, bin, loggedSession).size <= p.sessionIndex);
    // After a reopen the indexes admission needs come back from the entries.
    await log.close();
    await using reopened = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
    assert.equal(reopened.session(p.sessionId)?.index, p.sessionIndex);
    assert.equal(reopened.sightingOf(`suspect-of-${p.sessionId}`), p.sighting);
    assert.equal(reopened.loggedCommitment(p.canary.logIndex)?.kind, "canary");
    await rejectsCode(
      reopened.appendAttestation(attestationV2(reopened, p, now, ACCUSING_CLAIM)),
      "already_exists",
      "after reopen",
    );
  });

  test(`${backend.name}: the bundle carries the checkpoint the session's seed came from, not the latest`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const { log, now, alice } = await setup(store);
    const refHash = sha256(utf8("ref"));
    const ref = await log.appendCommitment(referenceCommitment(alice, "alice", "model-a", refHash, now));
    const root = sha256(utf8("pairs"));
    const c = await log.appendCommitment(commitment(alice, "alice", "pairs", root, 64, now, true));
    const seen = await log.appendSighting({
      suspect: { suspectId: "sus" },
      source: SuspectSource.FEED_ADAPTER,
    });
    const older = await log.checkpoint();
    await log.appendSighting({ suspect: { suspectId: "another" }, source: SuspectSource.FEED_ADAPTER });
    const later = await log.checkpoint();
    assert.ok(later.treeSize > older.treeSize);
    const canary = { id: "pairs", root, logIndex: c.index };
    const session = await log.appendSession({
      ...sessionInit("alice", "s-older", "sus", refHash, ref.index, seen.index, now, { canary }),
      seedCheckpointSize: older.treeSize,
    });
    const p = {
      memberId: "alice",
      key: alice,
      sessionId: "s-older",
      sessionIndex: session.index,
      canary: { ...canary, count: 64 },
      referenceHash: refHash,
      sighting: seen.index,
    };
    const a = await log.appendAttestation(attestationV2(log, p, now, ACCUSING_CLAIM));
    await log.checkpoint();
    const bundle = await buildAttestationBundle(log, { sessionId: "s-older" });
    assert.equal(Number(bundle.attestation?.entry?.index), a.index);
    const opened = log.session("s-older")?.opened;
    assert.ok(opened !== undefined);
    const seedCp = seedCheckpointOf(log, bundle, opened);
    assert.equal(seedCp.size, older.treeSize);
    assert.equal(new TextDecoder().decode(bundle.seedCheckpoint?.signedNote), older.note);
  });

  test(`${backend.name}: a verdict its counts do not support is refused (verdict_not_supported)`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const { log, now, alice } = await setup(store);
    const p = await openProtocolSession(log, alice, "alice", now);
    for (const [what, claim] of [
      [
        "weak counts claimed as LIKELY_DERIVED",
        { ...WEAK_CLAIM, verdict: Verdict.LIKELY_DERIVED, backedBy: "canary_pairs" },
      ],
      [
        "accusing counts claimed as INCONCLUSIVE",
        { ...ACCUSING_CLAIM, verdict: Verdict.INCONCLUSIVE, backedBy: "" },
      ],
      ["right verdict, wrong backing", { ...ACCUSING_CLAIM, backedBy: "watermark" }],
      ["SIMILAR without a lead", { ...WEAK_CLAIM, verdict: Verdict.SIMILAR, backedBy: "similarity_lead" }],
      ["NOT_DERIVED", { ...WEAK_CLAIM, verdict: Verdict.NOT_DERIVED }],
    ] as const) {
      await rejectsCode(
        log.appendAttestation(attestationV2(log, p, now, claim)),
        "verdict_not_supported",
        what,
      );
    }
    // Stated p-values are ignored: a tiny combined p-value does not rescue weak counts.
    await rejectsCode(
      log.appendAttestation(
        attestationV2(
          log,
          p,
          now,
          { ...WEAK_CLAIM, verdict: Verdict.LIKELY_DERIVED, backedBy: "canary_pairs" },
          (st) => {
            if (st.evidence) st.evidence.combinedPValue = 1e-30;
          },
        ),
      ),
      "verdict_not_supported",
    );
    // Inconsistent counts are refused as such.
    await rejectsCode(
      log.appendAttestation(
        attestationV2(log, p, now, { ...ACCUSING_CLAIM, canary: { ...ACCUSING_CANARY, exposedOnly: 41 } }),
      ),
      "invalid_argument",
      "more exposed-only pairs than exposed hits",
    );
    await log.appendAttestation(attestationV2(log, p, now, WEAK_CLAIM));
  });

  test(`${backend.name}: a policy that is not the registered one is refused (policy_mismatch)`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const { log, now, alice } = await setup(store);
    const p = await openProtocolSession(log, alice, "alice", now);
    for (const [what, edit] of [
      ["looser alpha under the registered id", (x: { alpha: number }) => (x.alpha = 0.05)],
      ["unregistered id", (x: { policyId: string }) => (x.policyId = "my-policy/1")],
      ["dropped weight", (x: { weights: unknown[] }) => x.weights.pop()],
    ] as const) {
      await rejectsCode(
        log.appendAttestation(
          attestationV2(log, p, now, ACCUSING_CLAIM, (st) => {
            (edit as (x: unknown) => void)(st.bound?.policy);
          }),
        ),
        "policy_mismatch",
        what,
      );
    }
    // The hub cannot open a session under another policy either.
    const view = log.session(p.sessionId);
    assert.ok(view !== undefined);
    await rejectsCode(
      log.appendSession(
        sessionInit(
          "alice",
          "s-loose",
          `suspect-of-${p.sessionId}`,
          p.referenceHash,
          Number(view.opened.referenceFingerprintIndex),
          p.sighting,
          now,
          {
            canary: p.canary,
            policy: { ...policyProto(), minCanaryPairs: 2 },
          },
        ),
      ),
      "policy_mismatch",
    );
  });

  test(`${backend.name}: every field that disagrees with the session is refused (session_mismatch)`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const { log, now, alice } = await setup(store);
    const p = await openProtocolSession(log, alice, "alice", now, { watermark: true, comparisons: 3 });
    type Edit = NonNullable<Parameters<typeof attestationV2>[4]>;
    const cases: Array<[string, Edit]> = [
      [
        "session_id",
        (st) => {
          st.sessionId = "other-session";
        },
      ],
      [
        "nonce",
        (st) => {
          st.sessionNonce = new Uint8Array(32).fill(1);
        },
      ],
      [
        "suspect",
        (st) => {
          if (st.suspect) st.suspect.suspectId = "another-suspect";
        },
      ],
      [
        "candidate model",
        (st) => {
          if (st.memberModel) st.memberModel.modelId = "model-b";
        },
      ],
      [
        "epoch",
        (st) => {
          st.epochId = "epoch-2";
        },
      ],
      [
        "panel (a model swapped)",
        (st) => {
          st.bound?.panel.splice(0, 1, "friendly-panel-model");
        },
      ],
      [
        "panel (a model dropped)",
        (st) => {
          st.bound?.panel.pop();
        },
      ],
      [
        "seed",
        (st) => {
          if (st.bound) st.bound.seed = new Uint8Array(32).fill(7);
        },
      ],
      [
        "reference fingerprint",
        (st) => {
          if (st.bound) st.bound.referenceFingerprintHash = sha256(utf8("x"));
        },
      ],
      [
        "canary commitment dropped",
        (st) => {
          st.canaryCommitment = undefined;
        },
      ],
      [
        "watermark key digest",
        (st) => {
          if (st.watermarkCommitment) st.watermarkCommitment.keyDigest = new Uint8Array(32);
        },
      ],
      [
        "counts.canary dropped",
        (st) => {
          if (st.counts) st.counts.canary = undefined;
        },
      ],
      [
        "counts.watermark dropped",
        (st) => {
          if (st.counts) st.counts.watermark = undefined;
        },
      ],
      [
        "pairs_committed",
        (st) => {
          if (st.counts?.canary) st.counts.canary.pairsCommitted = 65;
        },
      ],
      [
        "gamma",
        (st) => {
          if (st.counts?.watermark) st.counts.watermark.gamma = 0.5;
        },
      ],
      [
        "comparisons",
        (st) => {
          if (st.counts) st.counts.comparisons = 1;
        },
      ],
    ];
    for (const [what, edit] of cases) {
      await rejectsCode(
        log.appendAttestation(attestationV2(log, p, now, WEAK_CLAIM, edit)),
        "session_mismatch",
        what,
      );
    }
    // Counts for a commitment the session did not bind.
    const q = await openProtocolSession(log, alice, "alice", now, { sessionId: "s-no-wm" });
    await rejectsCode(
      log.appendAttestation(
        attestationV2(log, q, now, WEAK_CLAIM, (st) => {
          if (st.counts)
            st.counts.watermark = create(WatermarkCountsSchema, {
              gamma: 0.25,
              selectedScored: 1,
              selectedGreen: 1,
              allScored: 1,
              allGreen: 1,
            });
        }),
      ),
      "session_mismatch",
      "counts.watermark without a bound key",
    );
    // Untouched, both are admitted.
    await log.appendAttestation(attestationV2(log, p, now, WEAK_CLAIM));
    await log.appendAttestation(attestationV2(log, q, now, WEAK_CLAIM));
  });

  test(`${backend.name}: commitments logged after the suspect's first sighting cannot be bound (commitment_after_sighting)`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const { log, now, alice } = await setup(store);
    const refHash = sha256(utf8("ref"));
    const ref = await log.appendCommitment(referenceCommitment(alice, "alice", "model-a", refHash, now));
    const early = await log.appendCommitment(
      commitment(alice, "alice", "early", sha256(utf8("e")), 40, now, true),
    );
    const seen = await log.appendSighting({
      suspect: { suspectId: "sus" },
      source: SuspectSource.MEMBER_REPORT,
      reporter: "alice",
    });
    const lateRoot = sha256(utf8("late"));
    const late = await log.appendCommitment(commitment(alice, "alice", "late", lateRoot, 40, now, true));
    const lateWm = await log.appendCommitment(
      watermarkCommitment(alice, "alice", "wm-late", sha256(utf8("k")), 0.25, now),
    );
    const init = (id: string, bind: Parameters<typeof sessionInit>[7]) =>
      sessionInit("alice", id, "sus", refHash, ref.index, seen.index, now, bind);
    await rejectsCode(
      log.appendSession(init("s-late", { canary: { id: "late", root: lateRoot, logIndex: late.index } })),
      "commitment_after_sighting",
      "canary pairs",
    );
    await rejectsCode(
      log.appendSession(
        init("s-late-wm", {
          watermark: { id: "wm-late", digest: sha256(utf8("k")), logIndex: lateWm.index },
        }),
      ),
      "commitment_after_sighting",
      "watermark key",
    );
    // A second sighting of the same suspect cannot move "first seen" later.
    await rejectsCode(log.appendSighting({ suspect: { suspectId: "sus" } }), "already_exists");
    // The early commitment is fine.
    await log.appendSession(
      init("s-ok", { canary: { id: "early", root: sha256(utf8("e")), logIndex: early.index } }),
    );
  });

  test(`${backend.name}: sessions name what is logged: sighting, reference, commitments of the same member, not withdrawn`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const { log, now, alice } = await setup(store);
    const bob = memberKey();
    await log.appendMembership(enrolRecord("bob", bob, now - DAY));
    const refHash = sha256(utf8("ref"));
    const ref = await log.appendCommitment(referenceCommitment(alice, "alice", "model-a", refHash, now));
    const v1Root = sha256(utf8("v1"));
    const v1 = await log.appendCommitment(commitment(alice, "alice", "v1-set", v1Root, 40, now));
    const bobRoot = sha256(utf8("bob"));
    const bobs = await log.appendCommitment(commitment(bob, "bob", "bob-pairs", bobRoot, 40, now, true));
    const pairsRoot = sha256(utf8("pairs"));
    const pairs = await log.appendCommitment(commitment(alice, "alice", "pairs", pairsRoot, 40, now, true));
    const seen = await log.appendSighting({ suspect: { suspectId: "sus" } });
    const other = await log.appendSighting({ suspect: { suspectId: "other" } });
    const init = (
      id: string,
      bind: Parameters<typeof sessionInit>[7],
      o: { sighting?: number; ref?: number; hash?: Uint8Array } = {},
    ) =>
      sessionInit(
        "alice",
        id,
        "sus",
        o.hash ?? refHash,
        o.ref ?? ref.index,
        o.sighting ?? seen.index,
        now,
        bind,
      );
    const good = { canary: { id: "pairs", root: pairsRoot, logIndex: pairs.index } };
    await rejectsCode(
      log.appendSession(init("a", good, { sighting: other.index })),
      "failed_precondition",
      "another suspect's sighting",
    );
    await rejectsCode(
      log.appendSession(init("b", good, { ref: pairs.index })),
      "failed_precondition",
      "reference index is not a reference",
    );
    await rejectsCode(
      log.appendSession(init("c", good, { hash: sha256(utf8("x")) })),
      "failed_precondition",
      "reference hash",
    );
    await rejectsCode(
      log.appendSession(init("d", { canary: { id: "v1-set", root: v1Root, logIndex: v1.index } })),
      "failed_precondition",
      "v1 canary set",
    );
    await rejectsCode(
      log.appendSession(init("e", { canary: { id: "bob-pairs", root: bobRoot, logIndex: bobs.index } })),
      "failed_precondition",
      "another member's commitment",
    );
    await rejectsCode(
      log.appendSession({
        ...init("f", good),
        candidate: { memberId: "zed", modelId: "model-a", modelVersion: "1" },
      }),
      "unknown_member",
    );
    const s = await log.appendSession(init("g", good));
    await rejectsCode(log.appendSession(init("g", good)), "already_exists", "session id reused");
    // Bob cannot answer alice's session.
    await rejectsCode(
      log.appendAttestation(
        attestationV2(
          log,
          {
            memberId: "alice",
            key: bob,
            sessionId: "g",
            sessionIndex: s.index,
            canary: { ...good.canary, count: 40 },
            referenceHash: refHash,
            sighting: seen.index,
          },
          now,
          WEAK_CLAIM,
          (st) => {
            if (st.memberModel) st.memberModel.memberId = "bob";
          },
        ),
      ),
      "permission_denied",
    );
    // A commitment withdrawn after the session was opened cannot back its attestation.
    const pair = await log.entry(pairs.index);
    assert.ok(pair !== undefined);
    await log.appendWithdrawal(withdrawal(alice, pairs.index, pair.leafHash, now));
    await rejectsCode(
      log.appendAttestation(
        attestationV2(
          log,
          {
            memberId: "alice",
            key: alice,
            sessionId: "g",
            sessionIndex: s.index,
            canary: { ...good.canary, count: 40 },
            referenceHash: refHash,
            sighting: seen.index,
          },
          now,
          { ...WEAK_CLAIM, canary: { ...WEAK_CANARY, pairsCommitted: 40, pairsCompleted: 40 } },
        ),
      ),
      "failed_precondition",
    );
    await rejectsCode(log.appendSession(init("h", good)), "failed_precondition", "withdrawn commitment");
    // The same hub-signed session through append() (a replica forwarding it) is checked like a new one.
    const entry = await log.entry(s.index);
    assert.ok(entry !== undefined);
    const env = decodeLeaf(entry.leaf).envelope;
    await rejectsCode(log.append(env), "already_exists", "re-appending the same session");
  });

  test(`${backend.name}: the extra watermark queries step: /2 counts beside the battery's are read by the re-derivation; /1 as before; each inconsistency refused naming the field`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const { log, now, alice } = await setup(store);
    const p = await openProtocolSession(log, alice, "alice", now, { watermark: true, sessionId: "s-wq2" });
    // The battery's counts (the fixture's: 3/10 selected green) accuse nothing; the step's many pairs do, with
    // their own effect (0.5 green against gamma 0.25: effect 1/3 >= the policy's 0.1).
    const queries = {
      gamma: 0.25,
      selectedScored: 2000,
      selectedGreen: 1000,
      allScored: 6000,
      allGreen: 2400,
    };
    const V2 = "lineage-watermark-queries/2";
    const step = { protocol: V2, queriesPlanned: 500, queriesAnswered: 490, pairsScored: queries.allScored };
    const WATERMARK_CLAIM = { canary: WEAK_CANARY, verdict: Verdict.LIKELY_DERIVED, backedBy: "watermark" };
    const v2 = (
      edit: (st: Parameters<NonNullable<Parameters<typeof attestationV2>[4]>>[0]) => void = () => {},
    ) =>
      attestationV2(log, p, now, WATERMARK_CLAIM, (st) => {
        if (st.counts) st.counts.watermarkQueries = create(WatermarkCountsSchema, queries);
        st.watermarkQueries = create(WatermarkQueriesStepSchema, step);
        edit(st);
      });
    const refused = async (
      edit: Parameters<typeof v2>[0],
      re: RegExp,
      what: string,
      code = "invalid_argument",
    ) => {
      await assert.rejects(log.appendAttestation(v2(edit)), (err: unknown) => {
        assert.ok(isLogError(err), `${what}: expected LogError, got ${String(err)}`);
        assert.equal((err as LogError).code, code, `${what}: ${(err as Error).message}`);
        assert.match((err as Error).message, re, what);
        return true;
      });
    };
    const size = log.size;
    await refused(
      (st) => {
        st.watermarkQueries = undefined;
      },
      /counts\.watermark_queries needs a watermark_queries step record of lineage-watermark-queries\/2/,
      "watermark_queries counts without a step record",
    );
    await refused(
      (st) => {
        if (st.counts) st.counts.watermarkQueries = undefined;
      },
      /watermark_queries: counts\.watermark_queries is missing/,
      "a v2 record without the step's counts",
    );
    await refused(
      (st) => {
        if (st.watermarkQueries) st.watermarkQueries.pairsScored = queries.allScored - 1;
      },
      /pairs_scored must equal counts\.watermark_queries\.all_scored/,
      "pairs_scored not the step's all_scored",
    );
    await refused(
      (st) => {
        if (st.watermarkQueries) st.watermarkQueries.pairsScored = 20; // the battery's all_scored
      },
      /pairs_scored must equal counts\.watermark_queries\.all_scored/,
      "pairs_scored of the battery's counts under v2",
    );
    await refused(
      (st) => {
        if (st.counts?.watermarkQueries) st.counts.watermarkQueries.gamma = 0.5;
      },
      /counts\.watermark_queries\.gamma must equal counts\.watermark\.gamma/,
      "the step's gamma differs from the battery's",
    );
    await refused(
      (st) => {
        if (st.watermarkQueries) st.watermarkQueries.protocol = "lineage-watermark-queries/1";
      },
      /counts\.watermark_queries must be absent under lineage-watermark-queries\/1/,
      "watermark_queries counts under a v1 record",
    );
    // Counts the claim does not rest on: the step's pairs at gamma support no accusation.
    await refused(
      (st) => {
        if (st.counts?.watermarkQueries) st.counts.watermarkQueries.selectedGreen = 500;
      },
      /give INCONCLUSIVE/,
      "LIKELY_DERIVED on step counts at gamma",
      "verdict_not_supported",
    );
    // Not asked (queries_planned 0): only with empty counts, and only for a claim decided without the step.
    const EMPTY = { gamma: 0.25, selectedScored: 0, selectedGreen: 0, allScored: 0, allGreen: 0 };
    const unasked = { protocol: V2, queriesPlanned: 0, queriesAnswered: 0, pairsScored: 0 };
    await refused(
      (st) => {
        if (st.watermarkQueries)
          Object.assign(st.watermarkQueries, { ...unasked, pairsScored: queries.allScored });
      },
      /counts\.watermark_queries must be empty when the step was not asked \(queries_planned 0\)/,
      "planned 0 with the step's counts",
    );
    await refused(
      (st) => {
        if (st.watermarkQueries) Object.assign(st.watermarkQueries, { ...unasked, queriesAnswered: 3 });
        if (st.counts) st.counts.watermarkQueries = create(WatermarkCountsSchema, EMPTY);
      },
      /queries_answered exceeds queries_planned/,
      "planned 0, answered 3",
    );
    await assert.rejects(
      log.appendAttestation(
        attestationV2(log, p, now, WEAK_CLAIM, (st) => {
          if (st.counts) st.counts.watermarkQueries = create(WatermarkCountsSchema, EMPTY);
          st.watermarkQueries = create(WatermarkQueriesStepSchema, unasked);
        }),
      ),
      (err: unknown) => {
        assert.ok(isLogError(err) && err.code === "invalid_argument", String(err));
        assert.match(
          (err as Error).message,
          /queries_planned 0 \(not asked\) is only for a comparison LIKELY_DERIVED/,
        );
        return true;
      },
      "an undecided comparison that did not ask the step",
    );
    assert.equal(log.size, size, "nothing refused was logged");
    // Consistent: admitted, and the hub's re-derivation read the step's counts (the battery's alone give
    // INCONCLUSIVE, so a hub ignoring them would have refused this claim).
    const admitted = await log.appendAttestation(v2());
    assert.ok(admitted.index > p.sessionIndex);

    // Decided by the battery's own counts (150/200 selected green): the step bound, not asked, is admitted.
    const d = await openProtocolSession(log, alice, "alice", now, { watermark: true, sessionId: "s-wq0" });
    await log.appendAttestation(
      attestationV2(log, d, now, WATERMARK_CLAIM, (st) => {
        if (st.counts)
          st.counts.watermark = create(WatermarkCountsSchema, {
            gamma: 0.25,
            selectedScored: 200,
            selectedGreen: 150,
            allScored: 600,
            allGreen: 300,
          });
        if (st.counts) st.counts.watermarkQueries = create(WatermarkCountsSchema, EMPTY);
        st.watermarkQueries = create(WatermarkQueriesStepSchema, unasked);
      }),
    );

    // A v1 record is admitted as before: the step's counts ARE counts.watermark (pairs_scored = its all_scored).
    const q = await openProtocolSession(log, alice, "alice", now, { watermark: true, sessionId: "s-wq1" });
    const v1 = { ...step, protocol: "lineage-watermark-queries/1", pairsScored: 20 };
    await rejectsCode(
      log.appendAttestation(
        attestationV2(log, q, now, WEAK_CLAIM, (st) => {
          st.watermarkQueries = create(WatermarkQueriesStepSchema, { ...v1, pairsScored: 21 });
        }),
      ),
      "invalid_argument",
      "v1 pairs_scored not watermark's all_scored",
    );
    await log.appendAttestation(
      attestationV2(log, q, now, WEAK_CLAIM, (st) => {
        st.watermarkQueries = create(WatermarkQueriesStepSchema, v1);
      }),
    );
  });
}
