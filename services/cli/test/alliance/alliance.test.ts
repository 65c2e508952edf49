/**
 * The alliance as separate OS processes (issue 12, "The real deployment" and "Privacy and faults"): a `lineage
 * hub serve` and three `lineage member serve` processes, each on its own Postgres database, mutual TLS gRPC
 * between them, a private JetStream nats-server (alliance-world.ts). One alliance serves every test of this
 * file, in order: the scenario, then the faults, then the privacy search over everything that was sent.
 * Needs Postgres, nats-server and openssl: a visible skip outside CI, a failure under any truthy CI.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Verdict, WatchAlertsRequestSchema } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { SECRETARIAT, signRequest } from "@lineage/hub";
import {
  type Alliance,
  allianceSkipReason,
  MEMBERS,
  type MemberId,
  scanLines,
  startAlliance,
  waitFor,
} from "./alliance-world.js";

const skip = await allianceSkipReason();
let world: Alliance;
const log = (l: string) => console.log(`# ${l}`);
const ATTESTATION_KIND = 1; // LogEntryKind.ATTESTATION

before(async () => {
  if (skip !== undefined) return;
  world = await startAlliance({
    suspects: [
      { id: "copy-of-acme", copyOf: "acme" },
      { id: "unrelated-1" },
      { id: "copy-of-globex", copyOf: "globex" },
      { id: "copy-of-initech", copyOf: "initech" },
    ],
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

test("three member nodes and the hub as processes over mTLS: a released copy of acme's model is scanned, sessioned with every candidate, attested LIKELY_DERIVED by acme alone and opens one case", {
  skip: skip ?? false,
}, async () => {
  const t0 = performance.now();
  // (Each member's canary items go to at most 3 suspects by default, and every member is a candidate for every
  // release here: this file releases 3 suspects that need canaries, then one that may be declined.)
  world.release(["copy-of-acme"]);
  const lines = await scans(world, 1);
  log(`release-to-attestation ${Math.round(performance.now() - t0)} ms`);
  for (const l of lines) log(l);
  assert.equal(lines.length, 1, world.hub().stderr());
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
  // Both candidates' sessions on the copy are in its case; acme's is the accusation.
  assert.deepEqual(
    c?.attestations.filter((a) => a.verdict === Verdict.LIKELY_DERIVED).map((a) => a.memberModel?.memberId),
    ["acme"],
  );
  // The alert it raised is stored for every watcher.
  const alerts = await world.hubDb.query<{ n: number }>("select count(*)::int as n from hub_alerts");
  assert.ok((alerts.rows[0]?.n ?? 0) >= 1, "an attestation_logged alert was stored");

  // The member's operator sees its canaries spent on the suspects, as counts.
  const exposure = await world.cli(["member", "canaries", "exposure", ...world.nodeFlags("acme"), "--json"]);
  assert.equal(exposure.code, 0, `member canaries exposure: ${exposure.err}${exposure.out}`);
  const spent = (JSON.parse(exposure.out) as { exposures: { spent: number }[] }).exposures[0]?.spent ?? 0;
  assert.ok(spent > 0, exposure.out);
});

/** Where `needle` occurs in `hay` not preceded or followed by a letter, digit, "+" or "/"; -1 if nowhere. */
function wordAt(hay: Buffer, needle: Buffer): number {
  const inWord = (b: number | undefined) =>
    b !== undefined && (/[A-Za-z0-9+/]/.test(String.fromCharCode(b)) || b >= 0x80);
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1))
    if (!inWord(at > 0 ? hay[at - 1] : undefined) && !inWord(hay[at + needle.length])) return at;
  return -1;
}

/** Restarts NATS and the hub when a test before stopped there (each fault test starts from a running alliance). */
async function ensureRunning(w: Alliance): Promise<void> {
  if (!w.nats().running) await w.startNats();
  if (!w.hub().running) await w.startHub();
}

/** Sessions the hub logged with no outcome yet. */
async function unfinished(w: Alliance): Promise<string[]> {
  const r = await w.hubDb.query<{ session_id: string }>(
    "select s.session_id from hub_sessions s left join hub_session_outcomes o using (session_id) where o.session_id is null",
  );
  return r.rows.map((x) => x.session_id);
}

/** Waits until the hub has `n` scan lines in its current process's stderr. */
async function scans(w: Alliance, n: number, timeoutMs = 150_000): Promise<string[]> {
  return waitFor(
    () => `${n} scans; hub stderr:\n${w.hub().stderr()}`,
    () => {
      const l = scanLines(w.hub().stderr());
      return l.length >= n ? l : undefined;
    },
    timeoutMs,
  );
}

test("kill -9 of the hub in the middle of a session, then a restart: the session completes with exactly one logged attestation", {
  skip: skip ?? false,
}, async () => {
  const before = new Set((await attestedSessions(world)).map((s) => s.session_id));
  world.release(["copy-of-globex"]);
  // The moment a session is logged and not yet answered: the member node is running it.
  const midway = await waitFor(
    "a logged session of copy-of-globex to be running",
    async () => {
      const u = await unfinished(world);
      return u.length > 0 ? u : undefined;
    },
    120_000,
    20,
  );
  await world.hub().kill9();
  const interrupted = (await unfinished(world)).filter((id) => midway.includes(id));
  log(`hub killed with ${interrupted.length} session(s) unfinished: ${interrupted.join(", ")}`);
  assert.ok(interrupted.length >= 1, "the hub was killed before any logged session finished");

  const t0 = performance.now();
  const hub = await world.startHub();
  await waitFor(
    () => `the interrupted sessions to finish; hub stderr:\n${hub.stderr()}`,
    async () => {
      const u = await unfinished(world);
      return interrupted.every((id) => !u.includes(id));
    },
    120_000,
  );
  log(
    `restart-to-outcome ${Math.round(performance.now() - t0)} ms; ${hub.stderr().match(/resumed \d+ unfinished sessions/)?.[0] ?? "(resumed line not printed)"}`,
  );
  const after = await attestedSessions(world);
  for (const id of interrupted) {
    const s = after.find((x) => x.session_id === id);
    assert.ok(s !== undefined, `session ${id} has no attestation`);
    assert.equal(s.logged, 1, `session ${id}: attestations logged`);
  }
  // Every session of the run so far: exactly one attestation each, none twice.
  for (const s of after) assert.equal(s.logged, 1, `session ${s.session_id}`);
  const globex = after.filter(
    (s) => !before.has(s.session_id) && s.member_id === "globex" && s.verdict === Verdict.LIKELY_DERIVED,
  );
  assert.equal(globex.length, 1, JSON.stringify(after));
});

test("NATS restart (the private nats-server, on its store folder): a withdrawal published while the hub was down is ingested after both restart; an alert raised while NATS is down reaches a live watcher; the nodes publish again", {
  skip: skip ?? false,
}, async () => {
  await ensureRunning(world);
  const count = async (table: string) =>
    Number((await world.hubDb.query(`select count(*)::int as n from ${table}`)).rows[0]?.n);
  const status = async (model: string) =>
    (
      await world.hubDb.query<{ status: string }>("select status from sketches where model_id = $1", [model])
    ).rows.map((r) => r.status);
  const protect = async (m: MemberId, model: string) => {
    // An operator retries a protect whose publish timed out (right after a NATS restart the node's connection
    // may still be reconnecting: seen once in four runs; the retries are logged).
    let r = { code: -1, out: "", err: "" };
    for (let attempt = 1; attempt <= 3 && r.code !== 0; attempt++) {
      if (attempt > 1) {
        log(`${m} protect ${model}: retry ${attempt - 1} after: ${r.err.trim()}`);
        await new Promise((ok) => setTimeout(ok, 3000));
      }
      r = await world.cli([
        "member",
        "protect",
        "--model",
        model,
        "--version",
        "1",
        "--adapter",
        "main",
        ...world.nodeFlags(m),
        "--json",
      ]);
    }
    assert.equal(r.code, 0, `${m} protect ${model}: ${r.err}`);
    await waitFor(`${model}'s sketch to be indexed`, async () => (await status(model)).length === 1, 60_000);
  };
  // 1. initech protects a second model; then the hub stops and initech withdraws it: the withdrawal waits in
  //    JetStream (the hub's durable consumer is not pulling).
  await protect("initech", "initech-base");
  assert.equal(await world.hub().stop(), 0, world.hub().stderr());
  const w = await world.cli([
    "member",
    "models",
    "withdraw",
    "--model",
    "initech-base",
    "--reason",
    "retired",
    ...world.nodeFlags("initech"),
    "--json",
  ]);
  assert.equal(w.code, 0, `withdraw while the hub is down: ${w.err}`);
  assert.deepEqual(await status("initech-base"), ["active"]);
  // 2. NATS restarts on its store folder, then the hub: the stored withdrawal is ingested.
  assert.equal(await world.nats().stop(), 0, world.nats().stderr());
  await world.startNats();
  const hub = await world.startHub();
  await waitFor(
    () => `the stored withdrawal to be ingested; hub stderr:\n${hub.stderr()}`,
    async () => (await status("initech-base"))[0] === "withdrawn",
    60_000,
  );
  // 3. A watcher (the secretariat, resuming after sequence 1) streams alerts across a NATS outage: NATS goes
  //    down while the hub serves, a copy of initech is released and accused, NATS comes back.
  const key = Ed25519PrivateKey.fromPem(readFileSync(join(world.dir, "hub.pem"), "utf8"));
  const seen: bigint[] = [];
  const ac = new AbortController();
  const watching = (async () => {
    const watch = world.hubClient("hub").watchAlerts(
      signRequest(
        WatchAlertsRequestSchema,
        create(WatchAlertsRequestSchema, { kinds: [], afterSequence: 1n }),
        {
          memberId: SECRETARIAT,
          key,
        },
      ),
      { signal: ac.signal, timeoutMs: 300_000 },
    );
    try {
      for await (const r of watch) if (r.alert !== undefined) seen.push(r.alert.sequence);
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
  })();
  const alerts0 = await count("hub_alerts");
  await waitFor("the watcher to catch up", () => seen.length === alerts0 - 1, 20_000);
  assert.equal(await world.nats().stop(), 0);
  world.release(["copy-of-initech"]);
  const lines = await scans(world, 1);
  log(lines.at(-1) ?? "");
  await waitFor("the accusation's alert", async () => (await count("hub_alerts")) > alerts0, 30_000);
  await world.startNats();
  const total = await count("hub_alerts");
  try {
    await waitFor(
      () => `alerts 2..${total}, watched ${seen.join(",")}`,
      () => seen.length >= total - 1,
      20_000,
    );
  } finally {
    ac.abort();
    await watching;
  }
  assert.deepEqual(
    seen,
    Array.from({ length: total - 1 }, (_, i) => BigInt(i + 2)),
  );
  const initech = (await attestedSessions(world)).filter(
    (s) => s.member_id === "initech" && s.verdict === Verdict.LIKELY_DERIVED,
  );
  assert.equal(initech.length, 1, lines.at(-1));
  // 4. The nodes reconnected on their own: acme publishes a new sketch over the restarted NATS.
  await protect("acme", "acme-base");
});

test("Postgres restart, simulated by terminating every connection to the hub's and the nodes' databases (pg_terminate_backend): both recover and carry on", {
  skip: skip ?? false,
}, async () => {
  const dbs = (await world.hubDb.query<{ d: string }>("select current_database() as d")).rows[0]?.d ?? "";
  const names = [
    dbs.replace(/_hub$/, "_acme"),
    dbs.replace(/_hub$/, "_globex"),
    dbs.replace(/_hub$/, "_initech"),
    dbs,
  ];
  const killed = await world.hubDb.query<{ n: number }>(
    "select count(*)::int as n from (select pg_terminate_backend(pid) from pg_stat_activity where datname = any($1) and pid <> pg_backend_pid()) t",
    [names],
  );
  log(`terminated ${killed.rows[0]?.n} backends`);
  // (Idle pool connections close after a while, so a process may hold none at this instant.)
  assert.ok((killed.rows[0]?.n ?? 0) >= 1, "no connection to terminate");
  const cases0 = Number((await world.hubDb.query("select count(*)::int as n from hub_cases")).rows[0]?.n);
  const n0 = scanLines(world.hub().stderr()).length;
  // The hub carries on: a release is scanned, sessioned with the nodes and attested (sessions write both databases).
  world.release(["unrelated-1"]);
  const lines = await scans(world, n0 + 1);
  const last = lines.at(-1) ?? "";
  log(last);
  // Every session ended: attested, or declined (the members' canary budgets are spent by now); no case opened.
  // (A decline's reason may itself hold "; ", so the line is split on each "; session ".)
  const [head, ...sessions] = last.split("; session ");
  assert.match(head ?? "", /\d+ candidates, [1-9] sessions$/);
  assert.ok(sessions.length >= 1, last);
  for (const s of sessions) assert.match(s, /^\S+ (attested \w+|declined: .+)$/);
  assert.doesNotMatch(last, /LIKELY_DERIVED/);
  const cases1 = Number((await world.hubDb.query("select count(*)::int as n from hub_cases")).rows[0]?.n);
  assert.equal(cases1, cases0);
  // A node's admin writes still work: globex protects another model, whose sketch the hub indexes.
  const p = await world.cli([
    "member",
    "protect",
    "--model",
    "globex-base",
    "--version",
    "1",
    "--adapter",
    "main",
    ...world.nodeFlags("globex"),
    "--json",
  ]);
  assert.equal(p.code, 0, p.err);
  for (const s of await attestedSessions(world)) assert.equal(s.logged, 1, `session ${s.session_id}`);
  for (const [id, proc] of [["hub", world.hub()], ...world.members] as const)
    assert.ok(proc.running, `${id} exited`);
});

test("privacy across processes: no canary prompt or answer, raw model response or private key in any NATS message, gRPC message or process output of the whole run", {
  skip: skip ?? false,
}, async () => {
  const secrets = world.secrets();
  // Raw model responses the members hold: their models' probe answers and the suspects' canary answers.
  const responses: string[] = [];
  for (const m of MEMBERS) {
    const db = world.memberDb(m);
    const probe = await db.query<{ response: string }>("select response from probe_results");
    const canary = await db.query<{ response: string }>("select response from session_canary_answers");
    for (const r of [...probe.rows, ...canary.rows])
      if (r.response.trim().length >= 20) responses.push(r.response);
  }
  assert.ok(responses.length >= 3 * 12, `responses held by the members: ${responses.length}`);
  assert.ok(secrets.canaryPrompts.length >= 3 * 32 * 2 && secrets.canaryAnswers.length >= 3 * 32 * 2);

  const sent = world.sent();
  // The capture is real: the hub's sessions to the nodes, the nodes' calls to the hub, sketches and alerts on NATS.
  const paths = new Set(sent.rpc.map((r) => `${r.kind} ${r.path}`));
  for (const p of [
    "request /lineage.v1.MemberNode/RunMatchSession",
    "response /lineage.v1.MemberNode/RunMatchSession",
    "request /lineage.v1.Hub/LogCanaryCommitment",
    "response /lineage.v1.Hub/GetEpochBattery",
  ])
    assert.ok(paths.has(p), `captured gRPC lacks ${p}: ${[...paths].join(", ")}`);
  const subjects = sent.nats.map((b) => b.subarray(0, b.indexOf(10)).toString());
  assert.ok(
    subjects.some((s) => s.startsWith("lineage.sketch.")),
    "no sketch captured on NATS",
  );
  assert.ok(
    subjects.some((s) => s.startsWith("lineage.alert.")),
    "no alert captured on NATS",
  );
  log(
    `captured ${sent.rpc.length} gRPC messages, ${sent.nats.length} NATS messages, ${sent.output.length} process outputs`,
  );

  const haystacks: [string, Buffer][] = [
    ["NATS", Buffer.concat(sent.nats.flatMap((b) => [b, Buffer.from([0])]))],
    ["gRPC", Buffer.concat(sent.rpc.flatMap((r) => [r.bytes, Buffer.from([0])]))],
    ...sent.output.map((b, i): [string, Buffer] => [`output of ${world.processes[i]?.name}`, b]),
  ];
  const needles: [string, Buffer][] = [
    ...secrets.canaryPrompts.map((t): [string, Buffer] => ["a canary prompt", Buffer.from(t)]),
    ...secrets.canaryAnswers.map((t): [string, Buffer] => ["a canary answer", Buffer.from(t)]),
    ...responses.map((t): [string, Buffer] => ["a raw model response", Buffer.from(t)]),
    ...secrets.keyTexts.map((t): [string, Buffer] => ["a private key (PEM)", Buffer.from(t)]),
    ...secrets.keyBytes.map((b): [string, Buffer] => ["a private key (bytes)", Buffer.from(b)]),
  ];
  // The search finds what is there: the members' own files hold their canaries and keys.
  const own = Buffer.concat(
    MEMBERS.flatMap((m) => [
      readFileSync(join(world.dir, m, "pairs.jsonl")),
      readFileSync(join(world.dir, m, "member-key.pem")),
    ]),
  );
  const found = needles.filter(([, n]) => own.includes(n)).map(([what]) => what);
  assert.ok(
    found.includes("a canary prompt") &&
      found.includes("a canary answer") &&
      found.includes("a private key (PEM)"),
    String(found),
  );
  for (const [where, hay] of haystacks)
    for (const [what, needle] of needles) {
      // A canary answer is a short pseudo-word: found as a word, not inside base64 text or a longer token.
      const at = what === "a canary answer" ? wordAt(hay, needle) : hay.indexOf(needle);
      assert.ok(
        at < 0,
        `${what} appears in the ${where} captured: ...${hay.subarray(Math.max(0, at - 300), at + needle.length + 100).toString()}...`,
      );
    }
});
