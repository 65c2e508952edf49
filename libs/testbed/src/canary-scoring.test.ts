/**
 * The canary rank test end to end over HTTP: compare() with `canaryScoring` against testbed models served by
 * the OpenAI-compatible server (legacy completions with echo score the prompt), under lineage-policy/3.
 * Real models, real server, the engine's own HTTP adapter.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import {
  type Battery,
  compare,
  deriveVerdict,
  FingerprintError,
  HttpAdapter,
  VERDICT_POLICY_3,
} from "@lineage/fingerprint";
import { serveTestbed, type TestbedServer } from "./openai-server.js";
import { buildPopulation, type Population, pairedCanarySet } from "./population.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-canary-scoring-"));
let pop: Population;
let server: TestbedServer;

before(async () => {
  pop = await buildPopulation({ split: "calibration", size: "small", cacheDir: dir });
  server = await serveTestbed({ models: pop.entries.map((e) => e.model) });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const adapter = (model: string) => new HttpAdapter({ baseUrl: server.url, model, concurrency: 2 });
const { id: _id, ...policy3 } = VERDICT_POLICY_3;

it("scores every canary item of a served suspect and derives the rank test from the counts", async () => {
  const student = pop.entries.find((e) => e.scenario === "direct");
  assert.ok(student);
  const memberId = student.members[0]?.memberId;
  const member = pop.members.find((m) => m.memberId === memberId);
  assert.ok(member);
  const negatives = pop.entries.filter((e) => e.role === "negative").slice(0, 2);
  const battery: Battery = { epoch: "t", probes: pop.probes.slice(0, 8) };
  const canaries = pairedCanarySet(member, member.memberId);
  const run = (suspect: string, canaryScoring: boolean) =>
    compare({
      suspect: adapter(suspect),
      reference: adapter(member.teacherId),
      panel: negatives.map((n) => adapter(n.model.id)),
      battery,
      canaries,
      policy: policy3,
      canaryScoring,
      sequential: false,
    });
  const r = await run(student.model.id, true);
  assert.equal(r.policy.id, "lineage-policy/3");
  const c = r.evidence.canary;
  assert.ok(c);
  // Every completed pair was scored (the testbed serves echo), and each item cost two queries.
  assert.equal(c.scored_pairs, c.pairs_completed);
  assert.equal(r.queries.canaries, 4 * canaries.pairs.length);
  assert.ok(c.rank_signs !== undefined && c.rank_signs.length > 0);
  const ranks = r.tests.find((t) => t.test === "canary_ranks");
  assert.equal(ranks?.available, true);
  // The verdict is the shared function of the counts, and the student's exposed answers score higher.
  assert.deepEqual(deriveVerdict(r.evidence, VERDICT_POLICY_3).tests, r.tests);
  const e = [...c.rank_signs].filter((x) => x === "E").length;
  assert.ok(e > c.rank_signs.length / 2, `exposed scored higher on ${e} of ${c.rank_signs.length} pairs`);
  // Without scoring: no rank counts, the rank test is reported unavailable, one query per item.
  const plain = await run(student.model.id, false);
  assert.equal(plain.evidence.canary?.rank_signs, undefined);
  assert.equal(plain.queries.canaries, 2 * canaries.pairs.length);
  assert.equal(plain.tests.find((t) => t.test === "canary_ranks")?.available, false);
});

it("refuses canaryScoring with the sequential canary test, and a non-boolean canaryScoring", async () => {
  const m = pop.members[0];
  assert.ok(m);
  const input = {
    suspect: adapter(m.teacherId),
    reference: adapter(m.teacherId),
    panel: [],
    battery: { epoch: "t", probes: pop.probes.slice(0, 2) },
    canaries: pairedCanarySet(m, m.memberId),
  };
  const invalid = (e: unknown) => e instanceof FingerprintError && e.code === "INVALID_ARGUMENT";
  await assert.rejects(compare({ ...input, canaryScoring: true, canaryTest: "sequential" }), invalid);
  await assert.rejects(compare({ ...input, canaryScoring: "yes" as unknown as boolean }), invalid);
});
