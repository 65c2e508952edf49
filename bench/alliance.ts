/**
 * Load run of the alliance as separate processes (issue 12, "Privacy and faults": a bounded load run).
 *
 *   npm run bench:alliance -- [--json FILE] [--suspects N] [--copies K] [--timeout-s S]
 *
 * Starts the multi-process alliance of services/cli/test/alliance/alliance-world.ts — `lineage hub serve` and
 * three `lineage member serve` processes, each on its own Postgres database, mutual TLS gRPC, a private
 * JetStream nats-server — then lists N releases (default 50; K of them, default 15, copies of the members'
 * models in turn, the rest unrelated testbed models) in the hub's feed file at once, and waits until every
 * release is scanned and every session the hub logged has an outcome (bounded by --timeout-s, default 900).
 *
 * Figures (from the hub's database, whose clock stamps both ends of a session): sessions and their outcomes;
 * sessions_per_min = sessions / (release .. last outcome); p50/p99_session_ms = outcome time - the session's
 * log time (the member node's whole run: admission, canary queries to the suspect, scoring, attestation, and
 * the hub's admission and logging of it), also for attested sessions alone; release_to_last_outcome_ms.
 * "Nothing lost": every release scanned once, every logged session ended, each attested session logged
 * exactly one attestation, each LIKELY_DERIVED attestation raised its alert — else exit 1.
 * Note: a member node sends each canary item to at most 3 distinct suspects (its default reuse policy) and
 * admits a session only if every item still has room, so once three suspects hold a member's set its later
 * sessions end DECLINED at the start (budget exhausted) — counted apart, with the decline notes (`declines`);
 * the most distinct suspects any item of each member went to (canary_max_suspects_per_item) must stay <= 3.
 * Needs Postgres (LINEAGE_TEST_PG_URL's server), nats-server and openssl.
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";

/** The part of alliance-world.ts this benchmark uses (imported by URL: it lives in the CLI's test folder). */
interface AllianceLike extends AsyncDisposable {
  readonly hubDb: {
    query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  };
  memberDb(id: string): {
    query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  };
  hub(): { stderr(): string };
  release(models: readonly string[]): void;
  readonly timings: Record<string, number>;
}
interface WorldModule {
  readonly MEMBERS: readonly string[];
  startAlliance(o: {
    suspects: readonly { id: string; copyOf?: string }[];
    log?: (line: string) => void;
  }): Promise<AllianceLike>;
  scanLines(stderr: string): string[];
}

const { values } = parseArgs({
  options: {
    json: { type: "string" },
    suspects: { type: "string", default: "50" },
    copies: { type: "string", default: "15" },
    "timeout-s": { type: "string", default: "900" },
  },
});
const N = Number(values.suspects);
const K = Number(values.copies);
const timeoutMs = Number(values["timeout-s"]) * 1000;
if (!Number.isInteger(N) || N < 1 || N > 500) throw new Error("--suspects must be an integer in 1..500");
if (!Number.isInteger(K) || K < 0 || K > N) throw new Error("--copies must be an integer in 0..--suspects");

const world = (await import(
  new URL("../services/cli/test/alliance/alliance-world.ts", import.meta.url).href
)) as WorldModule;
const suspects = Array.from({ length: N }, (_, i) => {
  const id = `release-${String(i).padStart(3, "0")}`;
  const copyOf = i < K ? world.MEMBERS[i % world.MEMBERS.length] : undefined;
  return copyOf === undefined ? { id } : { id, copyOf };
});
const log = (l: string) => process.stderr.write(`${l}\n`);
const setupStart = performance.now();
const alliance = await world.startAlliance({ suspects, log });
const setupMs = Math.round(performance.now() - setupStart);
let failed = false;
try {
  const db = alliance.hubDb;
  const now = async () => (await db.query<{ t: Date }>("select clock_timestamp() as t")).rows[0]?.t as Date;
  const releasedAt = await now();
  const t0 = performance.now();
  alliance.release(suspects.map((s) => s.id));
  const unfinished = async () =>
    Number(
      (
        await db.query<{ n: number }>(
          "select count(*)::int as n from hub_sessions s left join hub_session_outcomes o using (session_id) where o.session_id is null",
        )
      ).rows[0]?.n,
    );
  let scanned = 0;
  for (;;) {
    scanned = world.scanLines(alliance.hub().stderr()).length;
    if (scanned >= N && (await unfinished()) === 0) break;
    if (performance.now() - t0 > timeoutMs) {
      log(
        `timed out after ${timeoutMs} ms: ${scanned}/${N} scanned, ${await unfinished()} sessions unfinished`,
      );
      failed = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const lines = world.scanLines(alliance.hub().stderr());
  const scannedIds = new Set(lines.map((l) => /scanned suspect (\S+):/.exec(l)?.[1]));
  const rows = (
    await db.query<{
      session_id: string;
      outcome: string | null;
      verdict: number | null;
      ms: number | null;
      attestations: number;
    }>(
      `select s.session_id, o.outcome, o.verdict,
              (extract(epoch from (o.decided_at - s.logged_at)) * 1000)::float8 as ms,
              (select count(*)::int from log_entries e where e.session_id = s.session_id and e.kind = 1) as attestations
         from hub_sessions s left join hub_session_outcomes o using (session_id)
        where s.logged_at >= $1`,
      [releasedAt],
    )
  ).rows;
  const lastOutcome = (
    await db.query<{ t: Date | null }>(
      "select max(decided_at) as t from hub_session_outcomes where decided_at >= $1",
      [releasedAt],
    )
  ).rows[0]?.t;
  const alerts = Number(
    (
      await db.query<{ n: number }>(
        "select count(*)::int as n from hub_alerts where kind = 1 and raised_at >= $1",
        [releasedAt],
      )
    ).rows[0]?.n,
  );
  const accused = (
    await db.query<{ model: string }>(
      `select distinct c.suspect as model from hub_case_attestations a join hub_cases c using (case_id)
        where a.verdict = 1 and a.added_at >= $1`,
      [releasedAt],
    )
  ).rows.length;
  // The members' canary reuse policy (each item to at most 3 distinct suspects by default), as spent.
  const maxSuspectsPerItem: Record<string, number> = {};
  for (const m of world.MEMBERS) {
    const r = await alliance
      .memberDb(m)
      .query<{ n: number | null }>(
        "select max(n)::int as n from (select count(distinct suspect_id) as n from canary_exposures group by commitment_id, pair_index, item) t",
      );
    maxSuspectsPerItem[m] = r.rows[0]?.n ?? 0;
  }
  // Why sessions were declined (DeclineReason number and the member's note, ids and counts only), most first.
  const declines = (
    await db.query<{ reason: number; note: string; n: number }>(
      `select o.decline_reason as reason, left(o.note, 160) as note, count(*)::int as n
         from hub_session_outcomes o join hub_sessions s using (session_id)
        where s.logged_at >= $1 and o.outcome = 'declined'
        group by 1, 2 order by 3 desc limit 10`,
      [releasedAt],
    )
  ).rows;
  const pct = (xs: number[], p: number) => {
    if (xs.length === 0) return null;
    const s = [...xs].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number);
  };
  const ended = rows.filter((r) => r.outcome !== null);
  const durations = ended.map((r) => r.ms as number);
  const attested = ended.filter((r) => r.outcome === "attested");
  const derived = attested.filter((r) => r.verdict === 1).length;
  const spanMs = lastOutcome ? lastOutcome.getTime() - releasedAt.getTime() : null;
  const lost = {
    releases_not_scanned: N - scannedIds.size,
    sessions_unfinished: rows.length - ended.length,
    attested_without_one_attestation: attested.filter((r) => r.attestations !== 1).length,
    likely_derived_without_alert: Math.max(0, derived - alerts),
  };
  const result = {
    suspects: N,
    copies: K,
    scanned: scannedIds.size,
    sessions: rows.length,
    sessions_attested: attested.length,
    sessions_declined: ended.filter((r) => r.outcome === "declined").length,
    sessions_failed: ended.filter((r) => r.outcome === "failed").length,
    likely_derived: derived,
    suspects_accused: accused,
    alerts_attestation_logged: alerts,
    canary_max_suspects_per_item: maxSuspectsPerItem,
    declines,
    sessions_per_min: spanMs ? Math.round((ended.length / spanMs) * 60_000 * 10) / 10 : null,
    p50_session_ms: pct(durations, 50),
    p99_session_ms: pct(durations, 99),
    p50_attested_session_ms: pct(
      attested.map((r) => r.ms as number),
      50,
    ),
    p99_attested_session_ms: pct(
      attested.map((r) => r.ms as number),
      99,
    ),
    release_to_last_outcome_ms: spanMs,
    setup_ms: setupMs,
    lost,
    nothing_lost: Object.values(lost).every((v) => v === 0) && !failed,
    cpus: cpus().length,
    load_average: loadavg().map((x) => Math.round(x * 10) / 10),
  };
  if (!result.nothing_lost) failed = true;
  const table = [
    ["suspects released (copies)", `${N} (${K})`],
    ["scanned", String(result.scanned)],
    [
      "sessions (attested / declined / failed)",
      `${result.sessions} (${result.sessions_attested} / ${result.sessions_declined} / ${result.sessions_failed})`,
    ],
    ["LIKELY_DERIVED / suspects accused / alerts", `${derived} / ${accused} / ${alerts}`],
    ["sessions per minute", String(result.sessions_per_min)],
    ["session p50 / p99 ms", `${result.p50_session_ms} / ${result.p99_session_ms}`],
    [
      "attested session p50 / p99 ms",
      `${result.p50_attested_session_ms} / ${result.p99_attested_session_ms}`,
    ],
    ["release to last outcome ms", String(spanMs)],
    ["canary items: most distinct suspects per item", JSON.stringify(maxSuspectsPerItem)],
    ["nothing lost", `${result.nothing_lost} ${JSON.stringify(lost)}`],
    ...declines.map((d) => [`declined (reason ${d.reason}) x${d.n}`, d.note]),
    ["load average", result.load_average.join(" ")],
  ];
  console.log(table.map(([k, v]) => `${(k as string).padEnd(44)} ${v}`).join("\n"));
  console.log(JSON.stringify(result));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await alliance[Symbol.asyncDispose]();
}
process.exit(failed ? 1 : 0);
