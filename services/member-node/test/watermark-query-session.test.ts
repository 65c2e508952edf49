/**
 * The extra watermark queries as a step of a real match session (sessions/watermark-query-step.ts): the hub's
 * real log opens a session binding the member's committed watermark key; the node runs it against testbed
 * models served over HTTP (the suspect a copy of the member's watermarking teacher). The step runs by default
 * (protocol lineage-watermark-queries/2): the attestation records it, counts.watermark stays the battery's and
 * counts.watermark_queries are the step's pairs', the hub's log admits it (re-deriving the verdict from both
 * sets), a forged record or forged counts are refused by the hub naming what is wrong, a retried session is
 * answered with the same bytes without asking again, and no extra prompt or answer appears in anything the
 * node sent or logged.
 */
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type AttestationStatement,
  AttestationStatementSchema,
  MatchSessionRequestSchema,
  ReferenceFingerprintCommitmentSchema,
  SuspectSource,
  TestKind,
  Verdict,
} from "@lineage/api";
import { signEnvelope } from "@lineage/crypto";
import {
  type Battery,
  DEFAULT_VERDICT_POLICY,
  type GenerateRequest,
  HttpAdapter,
  type ModelAdapter,
} from "@lineage/fingerprint";
import {
  decodeLeaf,
  envelopeToProto,
  isLogError,
  PAYLOAD_TYPES,
  WATERMARK_QUERIES_PROTOCOLS,
} from "@lineage/hub";
import {
  type HubDatabase,
  type MemberNodeDatabase,
  memberNodeMigrations,
  openTestStore,
} from "@lineage/store";
import { buildPopulation, serveTestbed } from "@lineage/testbed";
import type { SessionModels } from "../src/sessions/match-sessions.js";
import { matchServices } from "../src/sessions/session-handlers.js";
import { policyToProto } from "../src/verdict-proto.js";
import {
  WATERMARK_QUERIES_PROTOCOL,
  WATERMARK_QUERIES_PROTOCOL_V1,
  WATERMARK_QUERIES_PROTOCOL_V2,
  WATERMARK_QUERY_COUNT,
  watermarkQueryPlan,
} from "../src/watermark/watermark-queries.js";
import { enrol, MEMBER, MODEL, memberDeps, memberKey, startHub } from "./match-world.js";

test("a session binding a watermark key runs the extra queries; the hub admits what they give", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-wm-queries-"));
  const pop = await buildPopulation({ split: "test", size: "small" });
  await using server = await serveTestbed({ models: pop.entries.map((e) => e.model) });
  try {
    const watermarking = (id: string | undefined) =>
      pop.members.find((m) => m.memberId === id && m.watermark !== undefined);
    const copy = pop.entries.find((e) => e.scenario === "direct" && watermarking(e.members[0]?.memberId));
    const member = watermarking(copy?.members[0]?.memberId);
    const panelIds = pop.entries.filter((e) => e.role === "negative").map((e) => e.id);
    assert.ok(copy && member?.watermark && panelIds.length >= 2);
    const http = (id: string) => new HttpAdapter({ baseUrl: `${server.url}/v1`, model: id, concurrency: 8 });

    await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
    await using hub = await startHub(hubStore);
    await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
    await store.migrate(memberNodeMigrations);
    const { key: signing } = memberKey();
    await enrol(hub.log, signing);
    const lines: string[] = [];
    const deps = memberDeps(store, signing, hub, lines);

    // The suspect, recorded: every answer it gives (to search the node's output for them).
    const answers: string[] = [];
    let asked = 0;
    const inner = http(copy.id);
    const suspect: ModelAdapter = {
      describe: () => inner.describe(),
      generate: async (r: GenerateRequest) => {
        asked++;
        const res = await inner.generate(r);
        answers.push(res.text);
        return res;
      },
    };
    const epochId = "epoch-wm";
    const battery: Battery = { epoch: epochId, probes: pop.probes };
    const panel = new Map<string, ModelAdapter>(panelIds.map((id) => [id, http(id)]));
    const models: SessionModels = {
      suspect: (ref) => (ref.suspectId === "suspect-wm" ? suspect : undefined),
      reference: (m) => (m.modelId === MODEL.modelId ? http(member.teacherId) : undefined),
      panel: (id) => panel.get(id),
      battery: async (e) => (e === epochId ? battery : undefined),
    };
    // The step is on by default: no option asks for it.
    const services = matchServices(deps, { hubLog: hub.trust, models });

    // The member's watermark key, imported from a 0600 file and committed through the hub's log.
    const keyFile = join(dir, "wm.key");
    await writeFile(keyFile, Buffer.from(member.watermark.key).toString("hex"), { mode: 0o600 });
    await chmod(keyFile, 0o600);
    await services.watermarks.importFile(keyFile, "wm-1", member.watermark.gamma);
    const { ref: wmRef } = await services.watermarks.commit("wm-1");

    // The hub opens the session: reference commitment, sighting, the session entry binding the key.
    const log = hub.log;
    const refHash = new Uint8Array(32).fill(3);
    const refEntry = await log.appendCommitment(
      signEnvelope(
        PAYLOAD_TYPES.referenceFingerprint,
        toBinary(
          ReferenceFingerprintCommitmentSchema,
          create(ReferenceFingerprintCommitmentSchema, {
            memberId: MEMBER,
            modelId: MODEL.modelId,
            modelVersion: MODEL.modelVersion,
            epochId,
            fingerprintHash: refHash,
            probes: pop.probes.length,
            committedAt: timestampFromMs(Date.now()),
          }),
        ),
        signing,
      ),
    );
    const SUSPECT = {
      suspectId: "suspect-wm",
      target: { case: "endpoint" as const, value: { baseUrl: `${server.url}/v1`, modelName: copy.id } },
    };
    const seen = await log.appendSighting({ suspect: SUSPECT, source: SuspectSource.FEED_ADAPTER });
    await log.checkpoint();
    const session = await log.appendSession({
      sessionId: "session-wm",
      suspect: SUSPECT,
      candidate: MODEL,
      referenceFingerprintHash: refHash,
      referenceFingerprintIndex: BigInt(refEntry.index),
      panel: panelIds,
      populationId: "test-population/1",
      policy: policyToProto(DEFAULT_VERDICT_POLICY),
      watermarkCommitment: wmRef,
      firstSeenIndex: BigInt(seen.index),
      comparisons: 1,
      epochId,
      confirmationSplit: "lineage-split/v1",
      deadline: timestampFromMs(Date.now() + 3_600_000),
    });
    await log.checkpoint();
    const stored = await log.entry(session.index);
    const opened = log.session("session-wm")?.opened;
    assert.ok(stored && opened);
    const request = create(MatchSessionRequestSchema, {
      sessionId: "session-wm",
      nonce: opened.nonce,
      ...(opened.deadline ? { deadline: opened.deadline } : {}),
      epochId,
      suspect: SUSPECT,
      candidate: MODEL,
      maxQueries: 100_000,
      sessionIndex: BigInt(session.index),
      opened: envelopeToProto(decodeLeaf(stored.leaf).envelope),
    });

    const progress: string[] = [];
    const answer = await services.sessions.run(request, (p) => progress.push(p.note));
    assert.equal(answer.outcome.case, "attestation");
    const env = answer.outcome.value;
    const st = fromBinary(AttestationStatementSchema, env.payload);
    const step = st.watermarkQueries;
    assert.ok(step, "the attestation records the step");
    assert.equal(step.protocol, WATERMARK_QUERIES_PROTOCOL);
    assert.equal(step.queriesPlanned, WATERMARK_QUERY_COUNT);
    assert.ok(step.queriesAnswered > WATERMARK_QUERY_COUNT * 0.8, `answered ${step.queriesAnswered}`);
    // v2: the step's counts beside the batteryCounts's, never in their place.
    const wq = st.counts?.watermarkQueries;
    const batteryCounts = st.counts?.watermark;
    assert.ok(wq && batteryCounts, "both count sets are in the statement");
    assert.equal(wq.allScored, step.pairsScored, "counts.watermark_queries are the step's");
    assert.equal(wq.gamma, batteryCounts.gamma);
    assert.ok(step.pairsScored > 10_000, `${step.pairsScored} pairs`);
    assert.ok(
      batteryCounts.allScored < step.pairsScored && batteryCounts.selectedScored >= 1,
      `counts.watermark are the battery's (${batteryCounts.allScored} pairs, the step ${step.pairsScored})`,
    );
    assert.ok(progress.includes("watermark queries"));
    // A copy of the member's watermarking teacher: its kept pairs are green under the key, in both sets.
    assert.ok(wq.allGreen / wq.allScored > member.watermark.gamma, `green ${wq.allGreen}/${wq.allScored}`);
    assert.ok(
      batteryCounts.allGreen / batteryCounts.allScored > member.watermark.gamma,
      `battery green ${batteryCounts.allGreen}/${batteryCounts.allScored}`,
    );
    // Its watermark test (the small testbed's copies learn little: the session's verdict is what the counts
    // give, which the hub re-derives below).
    const wmTest = st.evidence?.tests.find((t) => t.kind === TestKind.WATERMARK);
    assert.ok((wmTest?.pValue ?? 1) < 1e-3, `watermark p ${wmTest?.pValue}, verdict ${Verdict[st.verdict]}`);

    // The hub's log admits it: it re-derives the verdict from the counts under the logged policy.
    const logged = await log.appendAttestation({
      payloadType: env.payloadType,
      payload: env.payload,
      signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
    });
    assert.ok(logged.index > session.index);

    // A forged record (the member signs what it likes): the hub refuses it, naming what is wrong.
    const forge = async (change: Record<string, unknown>, re: RegExp) => {
      const forged = create(AttestationStatementSchema, {
        ...st,
        watermarkQueries: { ...step, ...change },
      });
      const fenv = signEnvelope(env.payloadType, toBinary(AttestationStatementSchema, forged), signing);
      await assert.rejects(
        log.appendAttestation(fenv),
        (e: unknown) => isLogError(e, "invalid_argument") && re.test((e as Error).message),
      );
    };
    await forge({ pairsScored: step.pairsScored + 1 }, /pairs_scored must equal/);
    await forge({ queriesPlanned: 50 }, /queries_planned must be 500/);
    await forge({ protocol: "lineage-watermark-queries/9" }, /unknown protocol/);
    await forge({ protocol: "toString" }, /unknown protocol/);
    await forge({ protocol: "x".repeat(65) }, /unknown protocol/);
    await forge({ queriesAnswered: 501 }, /queries_answered exceeds/);
    // Forged counts against the record: each refused naming the field.
    const forgeCounts = async (edit: (f: AttestationStatement) => void, re: RegExp) => {
      const forged = fromBinary(AttestationStatementSchema, env.payload);
      edit(forged);
      const fenv = signEnvelope(env.payloadType, toBinary(AttestationStatementSchema, forged), signing);
      await assert.rejects(
        log.appendAttestation(fenv),
        (e: unknown) => isLogError(e, "invalid_argument") && re.test((e as Error).message),
      );
    };
    await forgeCounts((f) => {
      if (f.counts) f.counts.watermarkQueries = undefined;
    }, /counts\.watermark_queries is missing/);
    await forgeCounts((f) => {
      f.watermarkQueries = undefined;
    }, /counts\.watermark_queries needs a watermark_queries step record/);
    await forgeCounts((f) => {
      if (f.watermarkQueries) f.watermarkQueries.protocol = WATERMARK_QUERIES_PROTOCOL_V1;
    }, /counts\.watermark_queries must be absent under lineage-watermark-queries\/1/);
    await forgeCounts((f) => {
      if (f.counts?.watermarkQueries) f.counts.watermarkQueries.gamma = 0.5;
    }, /counts\.watermark_queries\.gamma must equal counts\.watermark\.gamma/);
    // /3: the step's counts carry the green-mass histogram, summing to its counts; nothing else carries one.
    assert.equal(wq.massScored.length, 16);
    assert.equal(
      wq.massScored.reduce((a, b) => a + b, 0),
      wq.allScored,
    );
    assert.equal(
      wq.massGreen.reduce((a, b) => a + b, 0),
      wq.allGreen,
    );
    assert.equal(batteryCounts.massScored.length, 0);
    await forgeCounts((f) => {
      if (f.counts?.watermarkQueries) {
        f.counts.watermarkQueries.massScored = [];
        f.counts.watermarkQueries.massGreen = [];
      }
    }, /no mass histogram \(required under lineage-watermark-queries\/3\)/);
    await forgeCounts((f) => {
      if (f.watermarkQueries) f.watermarkQueries.protocol = WATERMARK_QUERIES_PROTOCOL_V2;
    }, /carries a mass histogram, which lineage-watermark-queries\/2 does not have/);
    await forgeCounts((f) => {
      if (f.counts?.watermark) {
        f.counts.watermark.massScored = [...wq.massScored];
        f.counts.watermark.massGreen = [...wq.massGreen];
      }
    }, /counts\.watermark must not carry a mass histogram/);
    await forgeCounts((f) => {
      // More green at the heaviest level than the counts say: the histogram no longer sums to all_green.
      const m = f.counts?.watermarkQueries;
      if (m) m.massGreen[15] = (m.massGreen[15] ?? 0) + 1;
    }, /mass does not sum to all_scored and all_green|green\[15\] exceeds/);
    // The hub's table and the node's constants are the same protocol.
    assert.equal(WATERMARK_QUERIES_PROTOCOL, "lineage-watermark-queries/3");
    assert.deepEqual(WATERMARK_QUERIES_PROTOCOLS[WATERMARK_QUERIES_PROTOCOL_V2], {
      queries: WATERMARK_QUERY_COUNT,
    });
    assert.deepEqual(WATERMARK_QUERIES_PROTOCOLS[WATERMARK_QUERIES_PROTOCOL], {
      queries: WATERMARK_QUERY_COUNT,
    });
    // /1 stays known (records logged under it are still read).
    assert.deepEqual(WATERMARK_QUERIES_PROTOCOLS[WATERMARK_QUERIES_PROTOCOL_V1], {
      queries: WATERMARK_QUERY_COUNT,
    });

    // A retried session (same id, nonce and logged session) gets the stored answer; nothing is asked again.
    const before = asked;
    const again = await services.sessions.run(request);
    assert.equal(again.outcome.case, "attestation");
    assert.deepEqual(again.outcome.value.payload, env.payload);
    assert.equal(asked, before, "the retry asked the suspect nothing");

    // Privacy: no extra prompt and no suspect answer in what the node sent or logged.
    const plan = watermarkQueryPlan(opened.seed, battery);
    const sent = [Buffer.from(env.payload).toString("latin1"), ...lines, ...progress].join("\n");
    for (const q of plan) assert.ok(!sent.includes(q.prompt), "an extra prompt left the node");
    for (const a of answers.filter((x) => x.length >= 16))
      assert.ok(!sent.includes(a), "a suspect answer left the node");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
