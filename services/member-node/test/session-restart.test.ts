/**
 * A node stopped mid-session finishes it after restart (issue 9): the session is interrupted (its signal
 * aborts after the suspect answered some canaries), the node's on-disk embedded database is closed and
 * reopened — a restart of the store, not a reused connection — and a new node resumes the session from the
 * database. Counted at the suspect: every canary item is asked exactly once across both runs.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { AttestationStatementSchema, DeclineReason, Verdict } from "@lineage/api";
import {
  type GenerateRequest,
  type ModelAdapter,
  type ModelResponse,
  parseReplay,
  ReplayAdapter,
  VERDICT_POLICY_3,
} from "@lineage/fingerprint";
import {
  type HubDatabase,
  type MemberNodeDatabase,
  memberNodeMigrations,
  openStore,
  openTestStore,
} from "@lineage/store";
import { parseCanaryPairsJsonl } from "../src/canaries/canary-file.js";
import { isMemberNodeError } from "../src/member-node-error.js";
import { matchServices } from "../src/sessions/session-handlers.js";
import {
  battery,
  copySuspect,
  enrol,
  memberDeps,
  memberKey,
  openSession,
  replayText,
  SAMPLE_PAIRS,
  sessionModels,
  startHub,
} from "./match-world.js";

test("a session interrupted mid-run is finished after the store is closed and reopened, spending no canary twice", {
  timeout: 240_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-member-restart-"));
  try {
    await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
    await using hub = await startHub(hubStore);
    const { key } = memberKey();
    await enrol(hub.log, key);
    const b = await battery();
    const pairs = parseCanaryPairsJsonl("sample", await readFile(SAMPLE_PAIRS, "utf8"));
    const prompts = new Set(pairs.flatMap((p) => [p.a.prompt, p.b.prompt]));

    // The suspect endpoint, counting every canary it is asked; `stopAfter` interrupts the run.
    const asked = new Map<string, number>();
    let inner: ReplayAdapter | undefined;
    let stopAfter = 10;
    const controller = new AbortController();
    const endpoint: ModelAdapter = {
      describe: () => ({ kind: "replay", target: "suspect-1", logprobs: false }),
      async generate(r: GenerateRequest) {
        const out = await (inner as ReplayAdapter).generate(r);
        if (prompts.has(r.prompt)) {
          asked.set(r.prompt, (asked.get(r.prompt) ?? 0) + 1);
          if (--stopAfter === 0) controller.abort();
        }
        return out;
      },
    };
    const models = await sessionModels(endpoint, b);

    // First life of the node.
    const first = await openStore<MemberNodeDatabase>({ kind: "pglite", dataDir: dir });
    await first.migrate(memberNodeMigrations);
    const a = matchServices(memberDeps(first, key, hub, []), { hubLog: hub.trust, models, concurrency: 2 });
    await a.canaries.import("pairs-1", pairs);
    const { ref } = await a.canaries.commit("pairs-1");
    const labels = await a.canaries.learnLabels("pairs-1");
    inner = new ReplayAdapter(
      parseReplay(copySuspect(await replayText("reference.jsonl"), pairs, labels).text),
      "suspect-1",
    );
    const request = await openSession(hub, key, ref, b.epoch);
    await assert.rejects(
      a.sessions.run(request, () => {}, controller.signal),
      (err) => isMemberNodeError(err, "unavailable"),
    );
    await new Promise((r) => setTimeout(r, 300)); // let queries already in flight land
    const mid = await first.db.selectFrom("match_sessions").select(["state"]).executeTakeFirstOrThrow();
    assert.equal(mid.state, "running");
    const answeredBefore = await first.db.selectFrom("session_canary_answers").select("item").execute();
    assert.ok(
      answeredBefore.length >= 10 && answeredBefore.length < 64,
      `interrupted mid-canaries (${answeredBefore.length} answered)`,
    );
    await first.close();

    // Second life: a new store on the same folder, a new node, resuming what was left running.
    await using second = await openStore<MemberNodeDatabase>({ kind: "pglite", dataDir: dir });
    await second.migrate(memberNodeMigrations);
    const c = matchServices(memberDeps(second, key, hub, []), { hubLog: hub.trust, models, concurrency: 2 });
    stopAfter = Number.POSITIVE_INFINITY;
    const answers = await c.sessions.resumeInterrupted();
    assert.equal(answers.length, 1);
    const att = answers[0]?.outcome;
    assert.equal(att?.case, "attestation");
    const statement = fromBinary(
      AttestationStatementSchema,
      att?.case === "attestation" ? att.value.payload : new Uint8Array(),
    );
    assert.equal(statement.verdict, Verdict.LIKELY_DERIVED);
    assert.equal(statement.counts?.canary?.pairsCompleted, 32);

    assert.equal(asked.size, 64, "every canary item was asked");
    for (const [, n] of asked) assert.equal(n, 1, "no canary item was sent twice across the restart");
    const spent = await second.db.selectFrom("canary_exposures").select("item").execute();
    assert.equal(spent.length, 64);
    const row = await second.db
      .selectFrom("match_sessions")
      .select(["state", "attempts"])
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { state: "answered", attempts: 2 });
    // And a retry now returns the stored answer without asking anything.
    const before = [...asked.values()].reduce((x, y) => x + y, 0);
    const again = await c.sessions.run(request);
    assert.deepEqual(again.outcome.value, answers[0]?.outcome.value);
    assert.equal(
      [...asked.values()].reduce((x, y) => x + y, 0),
      before,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a session whose deadline passed while the node was stopped is answered with a DEADLINE decline on resume", {
  timeout: 240_000,
}, async () => {
  await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
  await using hub = await startHub(hubStore);
  await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
  await store.migrate(memberNodeMigrations);
  const { key } = memberKey();
  await enrol(hub.log, key);
  const b = await battery();
  const pairs = parseCanaryPairsJsonl("sample", await readFile(SAMPLE_PAIRS, "utf8"));
  const controller = new AbortController();
  let inner: ReplayAdapter | undefined;
  let left = 5;
  const endpoint: ModelAdapter = {
    describe: () => ({ kind: "replay", target: "suspect-1", logprobs: false }),
    async generate(r: GenerateRequest) {
      const out = await (inner as ReplayAdapter).generate(r);
      if (pairs.some((p) => p.a.prompt === r.prompt || p.b.prompt === r.prompt) && --left === 0)
        controller.abort();
      return out;
    },
  };
  const models = await sessionModels(endpoint, b);
  const a = matchServices(memberDeps(store, key, hub, []), { hubLog: hub.trust, models, concurrency: 2 });
  await a.canaries.import("pairs-1", pairs);
  const { ref } = await a.canaries.commit("pairs-1");
  const labels = await a.canaries.learnLabels("pairs-1");
  inner = new ReplayAdapter(
    parseReplay(copySuspect(await replayText("reference.jsonl"), pairs, labels).text),
    "s",
  );
  const request = await openSession(hub, key, ref, b.epoch);
  await assert.rejects(a.sessions.run(request, () => {}, controller.signal));
  await new Promise((r) => setTimeout(r, 300));
  // The node comes back two hours later (the session's deadline was one hour).
  const late = { ...memberDeps(store, key, hub, []), clock: () => Date.now() + 2 * 3_600_000 };
  const c = matchServices(late, { hubLog: hub.trust, models, concurrency: 2 });
  const [answer] = await c.sessions.resumeInterrupted();
  assert.equal(answer?.outcome.case, "declined");
  assert.equal(
    answer?.outcome.case === "declined" ? answer.outcome.value.reason : undefined,
    DeclineReason.DEADLINE,
  );
  assert.equal(
    (await c.sessions.answerOf(request.sessionId))?.outcome.case,
    "declined",
    "the decline is stored",
  );
});

test("a session under lineage-policy/3 runs under that policy (not the member's default) and records the rank test's scoring queries as spent", {
  timeout: 240_000,
}, async () => {
  await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
  await using hub = await startHub(hubStore);
  await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
  await store.migrate(memberNodeMigrations);
  const { key } = memberKey();
  await enrol(hub.log, key);
  const b = await battery();
  const pairs = parseCanaryPairsJsonl("sample", await readFile(SAMPLE_PAIRS, "utf8"));
  let inner: ReplayAdapter | undefined;
  const asked: string[] = [];
  const endpoint: ModelAdapter = {
    describe: () => ({ kind: "replay", target: "suspect-1", logprobs: false }),
    async generate(r: GenerateRequest) {
      asked.push(r.prompt);
      return (inner as ReplayAdapter).generate(r);
    },
  };
  const a = matchServices(memberDeps(store, key, hub, []), {
    hubLog: hub.trust,
    models: await sessionModels(endpoint, b),
  });
  await a.canaries.import("pairs-1", pairs);
  const { ref } = await a.canaries.commit("pairs-1");
  const labels = await a.canaries.learnLabels("pairs-1");
  inner = new ReplayAdapter(
    parseReplay(copySuspect(await replayText("reference.jsonl"), pairs, labels).text),
    "s",
  );
  const request = await openSession(hub, key, ref, b.epoch, "session-p3", VERDICT_POLICY_3);
  const answer = await a.sessions.run(request);
  assert.equal(answer.outcome.case, "attestation");
  const statement = fromBinary(
    AttestationStatementSchema,
    answer.outcome.case === "attestation" ? answer.outcome.value.payload : new Uint8Array(),
  );
  assert.equal(statement.evidence?.policy?.policyId, "lineage-policy/3");
  const scoring = asked.filter((p) =>
    pairs.some((x) => p === `${x.a.prompt} ${x.a.expected}` || p === `${x.b.prompt} ${x.b.expected}`),
  );
  assert.equal(scoring.length, 64, "each item was also asked as a scoring query");
  const spent = await store.db.selectFrom("canary_exposures").select("item").execute();
  assert.equal(spent.length, 64, "spending is per item and suspect: the scoring query spends the same items");
});

test("a lineage-policy/3 session interrupted mid-run re-uses the stored scoring answers on resume: no scoring query is asked twice", {
  timeout: 240_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-member-restart-p3-"));
  try {
    await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
    await using hub = await startHub(hubStore);
    const { key } = memberKey();
    await enrol(hub.log, key);
    const b = await battery();
    const pairs = parseCanaryPairsJsonl("sample", await readFile(SAMPLE_PAIRS, "utf8"));
    let labels: readonly (0 | 1)[] = [];
    // Scoring prompt -> (pair, exposed?): the endpoint scores the exposed item's answer higher (a copy that
    // learned it), each pair by a different margin so every pair ranks.
    const scoring = new Map<string, { pair: number; item: 0 | 1 }>();
    pairs.forEach((p, i) => {
      scoring.set(`${p.a.prompt} ${p.a.expected}`, { pair: i, item: 0 });
      scoring.set(`${p.b.prompt} ${p.b.expected}`, { pair: i, item: 1 });
    });
    const asked = new Map<string, number>();
    let inner: ReplayAdapter | undefined;
    let stopAfter = 30;
    const controller = new AbortController();
    const endpoint: ModelAdapter = {
      describe: () => ({ kind: "replay", target: "suspect-1", logprobs: true }),
      async generate(r: GenerateRequest) {
        const s = scoring.get(r.prompt);
        let out: ModelResponse;
        if (s === undefined) out = await (inner as ReplayAdapter).generate(r);
        else {
          const p = pairs[s.pair] as (typeof pairs)[number];
          const item = s.item === 0 ? p.a : p.b;
          const start = item.prompt.length + 1;
          const logprob = labels[s.pair] === s.item ? -0.2 - s.pair / 100 : -3;
          out = {
            text: "",
            promptTokens: [
              { token: item.prompt, logprob: -1, top: [], offset: 0 },
              { token: ` ${item.expected}`, logprob, top: [], offset: start - 1 },
              { token: item.expected, logprob, top: [], offset: start },
            ],
          };
          asked.set(r.prompt, (asked.get(r.prompt) ?? 0) + 1);
          if (--stopAfter === 0) controller.abort();
        }
        return out;
      },
    };
    const models = await sessionModels(endpoint, b);

    const first = await openStore<MemberNodeDatabase>({ kind: "pglite", dataDir: dir });
    await first.migrate(memberNodeMigrations);
    const a = matchServices(memberDeps(first, key, hub, []), { hubLog: hub.trust, models, concurrency: 2 });
    await a.canaries.import("pairs-1", pairs);
    const { ref } = await a.canaries.commit("pairs-1");
    labels = await a.canaries.learnLabels("pairs-1");
    inner = new ReplayAdapter(
      parseReplay(copySuspect(await replayText("reference.jsonl"), pairs, labels).text),
      "suspect-1",
    );
    const request = await openSession(hub, key, ref, b.epoch, "session-p3r", VERDICT_POLICY_3);
    await assert.rejects(
      a.sessions.run(request, () => {}, controller.signal),
      (err) => isMemberNodeError(err, "unavailable"),
    );
    await new Promise((r) => setTimeout(r, 300));
    const scoredBefore = await first.db.selectFrom("session_canary_scores").select("item").execute();
    assert.ok(
      scoredBefore.length >= 30 && scoredBefore.length < 64,
      `interrupted mid-scoring (${scoredBefore.length} scored)`,
    );
    await first.close();

    await using second = await openStore<MemberNodeDatabase>({ kind: "pglite", dataDir: dir });
    await second.migrate(memberNodeMigrations);
    const c = matchServices(memberDeps(second, key, hub, []), { hubLog: hub.trust, models, concurrency: 2 });
    stopAfter = Number.POSITIVE_INFINITY;
    const [answer] = await c.sessions.resumeInterrupted();
    assert.equal(answer?.outcome.case, "attestation");
    const statement = fromBinary(
      AttestationStatementSchema,
      answer?.outcome.case === "attestation" ? answer.outcome.value.payload : new Uint8Array(),
    );
    assert.equal(statement.evidence?.policy?.policyId, "lineage-policy/3");
    // Every pair is scored, from stored answers (first life) and fresh ones (second life) alike: a stored
    // answer that lost its scores would drop its pair out of the rank test.
    assert.equal(statement.counts?.canary?.scoredPairs, 32);
    assert.equal(statement.counts?.canary?.rankSigns, "E".repeat(32));
    assert.equal(asked.size, 64, "every scoring query was asked");
    for (const [, n] of asked) assert.equal(n, 1, "no scoring query was asked twice across the restart");
    const scored = await second.db.selectFrom("session_canary_scores").select("item").execute();
    assert.equal(scored.length, 64);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
