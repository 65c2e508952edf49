import assert from "node:assert/strict";
import { test } from "node:test";
import { clone, create, fromBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  type SessionOpened,
  SessionOpenedSchema,
  Verdict,
  WatermarkKeyCommitmentRefSchema,
} from "@lineage/api";
import { Ed25519PrivateKey, KeyRing, verifyEnvelope } from "@lineage/crypto";
import { compare, DEFAULT_VERDICT_POLICY, deriveVerdict, HttpAdapter } from "@lineage/fingerprint";
import { buildPopulation, pairedCanarySet, serveTestbed } from "@lineage/testbed";
import {
  ATTESTATION_PAYLOAD_TYPE,
  attestationStatement,
  isMemberNodeError,
  type LoggedSessionRef,
  policyToProto,
  signAttestation,
} from "../src/index.js";

const code = (c: string) => (e: unknown) => isMemberNodeError(e, c as never);

/** A SessionOpened as the hub would log it for this comparison (the hub's own admission is tested there). */
function sessionFor(memberId: string, modelId: string, suspectId: string, comparisons = 1): SessionOpened {
  return create(SessionOpenedSchema, {
    sessionId: "s-1",
    nonce: new Uint8Array(32).fill(9),
    suspect: { suspectId },
    candidate: { memberId, modelId, modelVersion: "1" },
    referenceFingerprintHash: new Uint8Array(32).fill(3),
    referenceFingerprintIndex: 2n,
    panel: ["panel-a", "panel-b"],
    populationId: "panel",
    seed: new Uint8Array(32).fill(5),
    seedCheckpointSize: 4n,
    policy: policyToProto(DEFAULT_VERDICT_POLICY),
    canaryCommitment: { commitmentId: "pairs-1", merkleRoot: new Uint8Array(32).fill(1), logIndex: 1n },
    firstSeenIndex: 3n,
    comparisons,
    epochId: "e1",
    confirmationSplit: "lineage-split/v1",
    openedAt: timestampFromMs(Date.now()),
    deadline: timestampFromMs(Date.now() + 3_600_000),
  });
}

test("a comparison becomes a v2 statement carrying exactly its counts and the session's bound choices, never text", async () => {
  const pop = await buildPopulation({ split: "test", size: "small" });
  const copy = pop.entries.find((e) => e.scenario === "weights_copy");
  assert.ok(copy, "the small population has a weights copy");
  const memberId = copy.members[0]?.memberId as string;
  const member = pop.members.find((m) => m.memberId === memberId);
  assert.ok(member);
  const panelIds = pop.entries
    .filter((e) => e.role === "negative" || e.role === "nonmember_teacher")
    .map((e) => e.id);
  await using server = await serveTestbed({ models: pop.entries.map((e) => e.model) });
  const adapter = (id: string) => new HttpAdapter({ baseUrl: server.url, model: id });
  const canaries = pairedCanarySet(member);
  const result = await compare({
    suspect: adapter(copy.id),
    reference: adapter(member.teacherId),
    panel: panelIds.map(adapter),
    battery: { epoch: "e1", probes: pop.probes },
    canaries,
  });
  assert.ok(result.evidence.canary, "canary pairs were asked");
  const opened = sessionFor(memberId, member.teacherId, copy.id);
  const session: LoggedSessionRef = { index: 7, opened };
  const st = attestationStatement({ memberId, issuedAtMs: Date.now() }, result, session);

  // Counts, exactly.
  assert.equal(st.version, 2);
  const c = st.counts?.canary;
  assert.ok(c);
  assert.deepEqual(
    [c.pairsCommitted, c.pairsCompleted, c.exposedHits, c.decoyHits, c.exposedOnly, c.decoyOnly, c.sequence],
    [
      result.evidence.canary.pairs_committed,
      result.evidence.canary.pairs_completed,
      result.evidence.canary.exposed_hits,
      result.evidence.canary.decoy_hits,
      result.evidence.canary.exposed_only,
      result.evidence.canary.decoy_only,
      result.evidence.canary.sequence,
    ],
  );
  assert.equal(st.counts?.watermark, undefined, "no watermark key bound, no watermark counts");
  assert.equal(st.counts?.comparisons, 1);
  if (result.evidence.lead) {
    assert.equal(st.counts?.lead?.score, result.evidence.lead.score);
    assert.equal(st.counts?.lead?.nullSize, result.evidence.lead.null_size);
    assert.equal(st.counts?.lead?.nullAtLeast, result.evidence.lead.null_at_least);
  }
  // A weights copy of the member's teacher reproduces its exposed canaries, not the decoys. (The small split
  // commits 12 pairs, so even 12 of 12 discordant pairs cannot reach alpha 1e-6: the verdict is what the
  // counts give, and the statement must say exactly that.)
  assert.ok(c.exposedOnly > c.decoyOnly, `exposed-only ${c.exposedOnly} vs decoy-only ${c.decoyOnly}`);
  const derived = deriveVerdict(result.evidence, DEFAULT_VERDICT_POLICY);
  assert.equal(derived.verdict, result.verdict);
  assert.equal(
    st.verdict,
    { LIKELY_DERIVED: Verdict.LIKELY_DERIVED, SIMILAR: Verdict.SIMILAR, INCONCLUSIVE: Verdict.INCONCLUSIVE }[
      derived.verdict
    ],
  );
  assert.equal(st.backedBy, derived.backed_by ?? "");
  // Bound choices, copied from the session.
  assert.equal(st.bound?.sessionIndex, 7n);
  assert.deepEqual(st.bound?.panel, opened.panel);
  assert.deepEqual(st.bound?.seed, opened.seed);
  assert.deepEqual(st.bound?.referenceFingerprintHash, opened.referenceFingerprintHash);
  assert.deepEqual(st.bound?.policy, opened.policy);
  assert.deepEqual(st.canaryCommitment, opened.canaryCommitment);
  assert.deepEqual(st.sessionNonce, opened.nonce);
  assert.equal(st.memberModel?.modelId, member.teacherId);
  assert.equal(st.evidence?.totalQueries, result.queries.total);

  const key = Ed25519PrivateKey.generate();
  const env = signAttestation(st, key);
  const verified = verifyEnvelope(env, {
    keys: new KeyRing([key.publicKey]),
    payloadType: ATTESTATION_PAYLOAD_TYPE,
  });
  assert.equal(fromBinary(AttestationStatementSchema, verified.payload).sessionId, "s-1");

  // Privacy: no canary prompt or answer, and no probe prompt, appears in what the member sends.
  const sent = Buffer.from(env.payload).toString("latin1");
  for (const p of member.canaries.pairs) {
    for (const item of [p.a, p.b]) {
      assert.ok(!sent.includes(item.answer), "a canary answer leaked into the attestation");
      assert.ok(!sent.includes(item.prompt), "a canary prompt leaked into the attestation");
    }
  }
  for (const p of pop.probes.slice(0, 50)) assert.ok(!sent.includes(p.prompt), "a probe prompt leaked");

  // What the hub would refuse is refused before signing.
  const subject = { memberId, issuedAtMs: Date.now() };
  const withWm = clone(SessionOpenedSchema, opened);
  withWm.watermarkCommitment = create(WatermarkKeyCommitmentRefSchema, {
    commitmentId: "wm",
    keyDigest: new Uint8Array(32),
    logIndex: 0n,
  });
  assert.throws(
    () => attestationStatement(subject, result, { index: 7, opened: withWm }),
    code("session_mismatch"),
  );
  const noCanary = create(SessionOpenedSchema, { ...opened, canaryCommitment: undefined });
  assert.throws(
    () => attestationStatement(subject, result, { index: 7, opened: noCanary }),
    code("session_mismatch"),
  );
  assert.throws(
    () =>
      attestationStatement(subject, result, {
        index: 7,
        opened: sessionFor(memberId, member.teacherId, copy.id, 3),
      }),
    code("session_mismatch"),
  );
  const loose = create(SessionOpenedSchema, {
    ...opened,
    policy: { ...policyToProto(DEFAULT_VERDICT_POLICY), alpha: 0.05 },
  });
  assert.throws(
    () => attestationStatement(subject, result, { index: 7, opened: loose }),
    code("policy_mismatch"),
  );
  assert.throws(
    () => attestationStatement({ ...subject, memberId: "someone-else" }, result, session),
    code("permission_denied"),
  );
  const wrong = result.verdict === "LIKELY_DERIVED" ? "INCONCLUSIVE" : "LIKELY_DERIVED";
  assert.throws(
    () => attestationStatement(subject, { ...result, verdict: wrong, backed_by: "canary_pairs" }, session),
    code("session_mismatch"),
  );
});
