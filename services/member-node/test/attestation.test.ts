import assert from "node:assert/strict";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { AttestationStatementSchema, TestKind, Verdict } from "@lineage/api";
import { Ed25519PrivateKey, KeyRing, verifyEnvelope } from "@lineage/crypto";
import { compare, HttpAdapter } from "@lineage/fingerprint";
import { buildPopulation, serveTestbed } from "@lineage/testbed";
import { ATTESTATION_PAYLOAD_TYPE, attestationStatement, signAttestation } from "../src/index.js";

test("a comparison becomes a signed statement that carries the evidence's numbers, never text", async () => {
  const pop = await buildPopulation({ split: "test", size: "small" });
  const byId = new Map(pop.entries.map((e) => [e.id, e]));
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
  const canaries = { memberId, exposed: member.canaries.exposed, decoys: member.canaries.decoys };
  const result = await compare({
    suspect: adapter(copy.id),
    reference: adapter(member.teacherId),
    panel: panelIds.map(adapter),
    battery: { epoch: "e1", probes: pop.probes },
    canaries,
  });
  assert.ok(byId.has(member.teacherId));
  const canarySignal = result.signals.find((s) => s.name === "canary_reproduction");
  assert.ok(canarySignal?.available, "canaries were asked");

  const key = Ed25519PrivateKey.generate();
  const nonce = new Uint8Array(16).fill(9);
  const st = attestationStatement(
    {
      memberId,
      model: { modelId: member.teacherId, modelVersion: "1" },
      suspect: {
        suspectId: copy.id,
        target: { case: "endpoint", value: { baseUrl: server.url, modelName: copy.id } },
      },
      sessionId: "s-1",
      sessionNonce: nonce,
      epochId: "e1",
      issuedAtMs: Date.now(),
    },
    result,
  );
  assert.equal(
    st.verdict,
    result.decision === "LIKELY_DERIVED" ? Verdict.LIKELY_DERIVED : Verdict.INCONCLUSIVE,
  );
  const canaryTest = st.evidence?.tests.find((t) => t.kind === TestKind.CANARY);
  // A weights copy states the member's exposed canaries: the counts travel, the canaries do not.
  assert.ok(canaryTest && canaryTest.hits > 0, "the copy's canary hits are in the evidence");
  assert.equal(canaryTest.hits, canarySignal.detail.exposed_hits);
  assert.equal(
    canaryTest.trials,
    Number(canarySignal.detail.exposed_asked) + Number(canarySignal.detail.decoys_asked),
  );
  assert.equal(canaryTest.pValue, canarySignal.p_value);
  assert.equal(st.evidence?.combinedPValue, result.p_value);
  assert.equal(st.evidence?.policy?.alpha, 1e-6);
  assert.equal(st.evidence?.totalQueries, result.queries.total);

  const env = signAttestation(st, key);
  const verified = verifyEnvelope(env, {
    keys: new KeyRing([key.publicKey]),
    payloadType: ATTESTATION_PAYLOAD_TYPE,
  });
  assert.deepEqual(fromBinary(AttestationStatementSchema, verified.payload).sessionId, "s-1");

  // Privacy: no canary prompt or answer, and no probe prompt, appears in what the member sends.
  const sent = Buffer.from(env.payload).toString("latin1");
  for (const c of [...member.canaries.exposed, ...member.canaries.decoys]) {
    assert.ok(!sent.includes(c.answer), "a canary answer leaked into the attestation");
    assert.ok(!sent.includes(c.prompt), "a canary prompt leaked into the attestation");
  }
  for (const p of pop.probes.slice(0, 50)) assert.ok(!sent.includes(p.prompt), "a probe prompt leaked");
});

test("statement arguments are checked", () => {
  assert.throws(
    () =>
      attestationStatement(
        {
          memberId: "m",
          model: { modelId: "x", modelVersion: "1" },
          suspect: {},
          sessionId: "s",
          sessionNonce: new Uint8Array(4),
          epochId: "e",
          issuedAtMs: 0,
        },
        {} as never,
      ),
    /sessionNonce must be >= 16 bytes/,
  );
});
