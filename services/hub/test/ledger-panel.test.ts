/**
 * The alpha ledger, the reference population's panels and the check of a member's session reply, on the
 * embedded store and real Postgres (the same suite on both): concurrent reservations never overspend a
 * member's budget (the advisory lock serializes them across connections), a second session for the same
 * suspect and model is refused, panels are the hub's deterministic choice and never include the suspect, and
 * a reply signed by another member's key, by the hub, or altered after signing is refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { RunMatchSessionResponseSchema } from "@lineage/api";
import { Ed25519PrivateKey, signMessage } from "@lineage/crypto";
import {
  type HubDatabase,
  hubMigrations,
  openTestStore,
  postgresTestTarget,
  type TestBackend,
} from "@lineage/store";
import {
  AlphaLedger,
  enrolmentRecord,
  ReferencePopulation,
  signMembership,
  TransparencyLog,
  verifyMemberHeader,
} from "../src/index.js";

const pg = await postgresTestTarget();
const backends: { name: TestBackend; skip: string | false; url?: string }[] = [
  { name: "pglite-memory", skip: false },
  { name: "postgres", skip: pg.skip ?? false, ...(pg.skip === undefined ? { url: pg.url } : {}) },
];

const reservation = (sessionId: string, suspectId: string, memberId = "acme") => ({
  sessionId,
  memberId,
  epochId: "e1",
  alpha: 1e-6,
  suspectId,
  modelId: "m",
  modelVersion: "1",
  planned: new Uint8Array([1]),
});

for (const backend of backends) {
  test(`alpha ledger: budget per member and epoch, concurrent reservations, one session per suspect and model (${backend.name})`, {
    skip: backend.skip,
  }, async () => {
    await using store = await openTestStore<HubDatabase>(
      backend.name,
      backend.url ? { url: backend.url } : {},
    );
    await store.migrate(hubMigrations);
    const ledger = new AlphaLedger(store, (m) => (m === "acme" ? 3.5e-6 : 1e-3));
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => ledger.reserve(reservation(`s-${i}`, `sus-${i}`))),
    );
    const ok = results.filter((r) => r.status === "fulfilled").length;
    assert.equal(ok, 3, "three sessions fit a budget of 3.5 alphas, whatever the interleaving");
    for (const r of results)
      if (r.status === "rejected") {
        assert.equal((r.reason as { code: string }).code, "failed_precondition");
        assert.match((r.reason as Error).message, /^alpha budget exhausted: member acme has spent/);
      }
    const b = await ledger.balance("acme", "e1");
    assert.equal(b.sessions, 3);
    assert.ok(Math.abs(b.alphaSpent - 3e-6) < 1e-15);
    // Another member and another epoch have their own budgets.
    await ledger.reserve(reservation("s-bolt", "sus-0", "bolt"));
    await ledger.reserve({ ...reservation("s-e2", "sus-x"), epochId: "e2" });
    // The same suspect and model again: refused (already_exists), nothing spent.
    await assert.rejects(
      ledger.reserve(reservation("s-dup", "sus-0", "bolt")),
      (e: { code: string }) => e.code === "already_exists",
    );
    assert.equal((await ledger.balance("bolt", "e1")).sessions, 1);
    assert.throws(() => new AlphaLedger(store, 0), /alpha budget must be in/);
    await assert.rejects(
      ledger.reserve({ ...reservation("s-bad", "sus-y", "bolt"), alpha: 1 }),
      /alpha must be in/,
    );
  });

  test(`reference population: the hub's panel is deterministic, excludes the suspect, refuses a too-small population (${backend.name})`, {
    skip: backend.skip,
  }, async () => {
    await using store = await openTestStore<HubDatabase>(
      backend.name,
      backend.url ? { url: backend.url } : {},
    );
    await store.migrate(hubMigrations);
    const pop = new ReferencePopulation(store);
    for (const id of ["u-1", "u-2", "u-3", "u-4", "u-5"])
      await pop.add({ modelId: id, populationId: "p1", baseUrl: "https://models.example/v1", modelName: id });
    await pop.add({
      modelId: "u-1",
      populationId: "p1",
      baseUrl: "https://models.example/v1",
      modelName: "u-1",
    });
    await assert.rejects(
      pop.add({ modelId: "u-1", populationId: "p1", baseUrl: "https://other.example/v1", modelName: "u-1" }),
      (e: { code: string }) => e.code === "already_exists",
    );
    await assert.rejects(
      pop.add({ modelId: "u-9", populationId: "p1", baseUrl: "ftp://x", modelName: "u-9" }),
      (e: { code: string }) => e.code === "invalid_argument",
    );
    const a = await pop.choosePanel({
      populationId: "p1",
      sessionId: "s-1",
      excludeModelIds: ["u-3"],
      size: 3,
    });
    const again = await pop.choosePanel({
      populationId: "p1",
      sessionId: "s-1",
      excludeModelIds: ["u-3"],
      size: 3,
    });
    assert.deepEqual(a, again);
    assert.equal(a.length, 3);
    assert.ok(!a.includes("u-3"), "never the suspect itself");
    const panels = new Set<string>();
    for (let i = 0; i < 20; i++)
      panels.add(
        (
          await pop.choosePanel({ populationId: "p1", sessionId: `s-${i}`, excludeModelIds: [], size: 2 })
        ).join(),
      );
    assert.ok(panels.size > 1, "different sessions draw different panels");
    await assert.rejects(
      pop.choosePanel({
        populationId: "p1",
        sessionId: "s",
        excludeModelIds: ["u-1", "u-2", "u-3", "u-4"],
        size: 2,
      }),
      (e: { code: string }) => e.code === "failed_precondition",
    );
    await assert.rejects(
      pop.choosePanel({ populationId: "p1", sessionId: "s", excludeModelIds: [], size: 1 }),
      (e: { code: string }) => e.code === "invalid_argument",
    );
  });
}

test("a member's session reply must be signed by a key the log holds for THAT member, over the reply as sent", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const hubKey = Ed25519PrivateKey.generate();
  await using log = await TransparencyLog.open({ store, origin: "lineage.test/replies", hubKey });
  const keys = new Map<string, Ed25519PrivateKey>();
  for (const m of ["acme", "bolt"]) {
    const k = Ed25519PrivateKey.generate();
    keys.set(m, k);
    const now = Date.now();
    await log.appendMembership(
      signMembership(enrolmentRecord(m, m, k.publicKey, now - 60_000, { effectiveAtMs: now }), [k]),
    );
  }
  const reply = (memberId: string, key: Ed25519PrivateKey) => {
    const msg = create(RunMatchSessionResponseSchema, {
      event: { case: "progress", value: { sessionId: "s-1", queriesDone: 3 } },
    });
    const issuedAtMs = Date.now();
    const h = { memberId, sequence: 1n, nonce: new Uint8Array(16).fill(7), issuedAtMs };
    const signed = signMessage(
      RunMatchSessionResponseSchema.typeName,
      h,
      toBinary(RunMatchSessionResponseSchema, msg),
      key,
    );
    msg.header = {
      $typeName: "lineage.v1.SignedHeader",
      memberId,
      keyId: key.keyId,
      sequence: 1n,
      nonce: h.nonce,
      issuedAtMs: BigInt(issuedAtMs),
      signature: signed.signature,
    };
    return msg;
  };
  const acme = keys.get("acme") as Ed25519PrivateKey;
  const bolt = keys.get("bolt") as Ed25519PrivateKey;
  verifyMemberHeader(log, RunMatchSessionResponseSchema, reply("acme", acme), "acme");
  const code = (f: () => void) => {
    try {
      f();
      return "ok";
    } catch (e) {
      return (e as { code: string }).code;
    }
  };
  assert.equal(
    code(() => verifyMemberHeader(log, RunMatchSessionResponseSchema, reply("bolt", bolt), "acme")),
    "bad_signature",
  );
  assert.equal(
    code(() => verifyMemberHeader(log, RunMatchSessionResponseSchema, reply("acme", bolt), "acme")),
    "bad_signature",
  );
  assert.equal(
    code(() => verifyMemberHeader(log, RunMatchSessionResponseSchema, reply("acme", hubKey), "acme")),
    "bad_signature",
  );
  const altered = reply("acme", acme);
  if (altered.event.case === "progress") altered.event.value.queriesDone = 4;
  assert.equal(
    code(() => verifyMemberHeader(log, RunMatchSessionResponseSchema, altered, "acme")),
    "bad_signature",
  );
  const bare = create(RunMatchSessionResponseSchema, {});
  assert.equal(
    code(() => verifyMemberHeader(log, RunMatchSessionResponseSchema, bare, "acme")),
    "bad_signature",
  );
});
