/**
 * The alliance as separate OS processes (issue 12, "The real deployment" and "Privacy and faults"): a `lineage
 * hub serve` and three `lineage member serve` processes, each on its own Postgres database, mutual TLS gRPC
 * between them, a private JetStream nats-server (alliance-world.ts). One alliance serves every test of this
 * file, in order: the scenario, then the faults, then the privacy search over everything that was sent.
 * Needs Postgres, nats-server and openssl: a visible skip outside CI, a failure under any truthy CI.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Verdict } from "@lineage/api";
import { type Alliance, allianceSkipReason, scanLines, startAlliance, waitFor } from "./alliance-world.js";

const skip = await allianceSkipReason();
let world: Alliance;
const log = (l: string) => console.log(`# ${l}`);
const ATTESTATION_KIND = 1; // LogEntryKind.ATTESTATION

before(async () => {
  if (skip !== undefined) return;
  world = await startAlliance({
    suspects: [{ id: "copy-of-acme", copyOf: "acme" }, { id: "unrelated-1" }],
    log,
  });
});
after(async () => {
  await world?.[Symbol.asyncDispose]();
});

/** Attested sessions of the hub's database: session id, member, verdict, and how many attestations it logged. */
async function attestedSessions(w: Alliance) {
  const r = await w.hubDb.query<{ session_id: string; member_id: string; verdict: number; logged: number }>(
    `select o.session_id, a.member_id, o.verdict,
            (select count(*)::int from log_entries e where e.session_id = o.session_id and e.kind = $1) as logged
       from hub_session_outcomes o join log_entries a on a.idx = o.attestation_index
      where o.outcome = 'attested'`,
    [ATTESTATION_KIND],
  );
  return r.rows;
}

test("three member nodes and the hub as processes over mTLS: a released copy of acme's model is scanned, sessioned, attested LIKELY_DERIVED and opens a case; an unrelated release opens none", {
  skip: skip ?? false,
}, async () => {
  const t0 = performance.now();
  world.release(["copy-of-acme", "unrelated-1"]);
  const lines = await waitFor(
    () => `two scans; hub stderr:\n${world.hub().stderr()}`,
    () => {
      const l = scanLines(world.hub().stderr());
      return l.length >= 2 ? l : undefined;
    },
    150_000,
  );
  log(`release-to-attestation ${Math.round(performance.now() - t0)} ms`);
  for (const l of lines) log(l);
  assert.equal(lines.length, 2, world.hub().stderr());
  for (const l of lines) assert.match(l, /: [1-3] candidates, [1-3] sessions(; session \S+ attested \w+)+$/);

  // Every session ended with exactly one logged attestation; acme's says the copy is LIKELY_DERIVED, and only it.
  const sessions = await attestedSessions(world);
  const sessionCount = lines.reduce((n, l) => n + Number(/(\d) sessions/.exec(l)?.[1]), 0);
  assert.equal(sessions.length, sessionCount);
  for (const s of sessions) assert.equal(s.logged, 1, `session ${s.session_id}`);
  const derived = sessions.filter((s) => s.verdict === Verdict.LIKELY_DERIVED);
  assert.deepEqual(
    derived.map((s) => s.member_id),
    ["acme"],
    JSON.stringify(sessions),
  );

  // The case book, read by the secretariat over mTLS: one case, acme's, on the copy.
  const hub = world.hubClient("hub");
  const { cases } = await hub.listCases({
    states: [],
    sharedViolationOnly: false,
    pageSize: 50,
    pageToken: "",
  });
  assert.equal(cases.length, 1, JSON.stringify(cases.map((c) => c.caseId)));
  const c = cases[0];
  assert.deepEqual(c?.memberIds, ["acme"]);
  assert.equal(c?.suspect?.target.case, "endpoint");
  assert.equal(
    c?.suspect?.target.case === "endpoint" ? c.suspect.target.value.modelName : "",
    "copy-of-acme",
  );
  assert.equal(c?.attestations[0]?.verdict, Verdict.LIKELY_DERIVED);
  // The alert it raised is stored for every watcher.
  const alerts = await world.hubDb.query<{ n: number }>("select count(*)::int as n from hub_alerts");
  assert.ok((alerts.rows[0]?.n ?? 0) >= 1, "an attestation_logged alert was stored");

  // The member's operator sees its canaries spent on the suspects, as counts.
  const exposure = await world.cli(["member", "canaries", "exposure", ...world.nodeFlags("acme"), "--json"]);
  assert.equal(exposure.code, 0, exposure.err);
  const spent = (JSON.parse(exposure.out) as { exposures: { spent: number }[] }).exposures[0]?.spent ?? 0;
  assert.ok(spent > 0, exposure.out);
});
