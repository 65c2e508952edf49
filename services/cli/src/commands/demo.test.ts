// `lineage demo` on the real services (issue 12): the small size, run for real — a hub, three member nodes, the
// testbed over HTTP, the registry feed, sessions over gRPC, bundles audited through the hub's API. The small
// population commits 12 canary pairs per member, so the paired canary test cannot reach the policy's alpha
// (its best p-value is 2^-12): the demo must say so and exit 1, naming the copies it missed — never fake the
// story — while everything it can show holds: every release scanned and attested by the members' nodes, every
// attestation verified with only the hub's verifier key, the log consistent, no false accusation.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-demo-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Summary {
  rows: {
    release: string;
    member: string;
    verdict: string;
    log_index: number;
    audit: string;
    outcome: string;
  }[];
  checks: { check: string; ok: boolean; detail: string }[];
  story_ok: boolean;
  audit: { bundles: number; verified: number; consistency: string };
  cases: unknown[];
  out_dir: string;
  hub: { verifier_key: string };
  hub_report: string[];
}

test("demo --size small runs the alliance on the real services, audits every attestation, accuses no one falsely, and exits 1 naming the copies small cannot catch", async () => {
  const io = captureIo({ cwd: dir });
  const code = await main(["demo", "--size", "small", "--out", "run", "--json"], io);
  const r = JSON.parse(io.out()) as Summary;
  const err = io.err();
  assert.match(err, /--size small: .*cannot/);
  // Five releases, each scanned by the hub; sessions with the three members' nodes, every one attested.
  assert.equal(new Set(r.rows.map((x) => x.release)).size, 5, JSON.stringify(r.rows));
  const attested = r.rows.filter((x) => x.log_index >= 0);
  assert.ok(attested.length >= 5, `${attested.length} attestations`);
  assert.equal(r.audit.bundles, attested.length);
  assert.equal(r.audit.verified, attested.length, JSON.stringify(r.rows));
  assert.ok(attested.every((x) => x.audit === "verified"));
  assert.match(r.audit.consistency, /^verified \(size \d+ -> \d+\)$/);
  // Honesty: no false accusation, the independent model not accused; the story's verdict follows the checks.
  assert.ok(r.rows.every((x) => x.outcome !== "FALSE ACCUSATION"));
  const check = (name: RegExp) => r.checks.find((c) => name.test(c.check));
  assert.equal(check(/independent model not accused/)?.ok, true);
  assert.equal(check(/no false accusation/)?.ok, true);
  assert.equal(check(/every attestation audited/)?.ok, true);
  assert.equal(
    r.story_ok,
    r.checks.every((c) => c.ok),
  );
  assert.equal(code, r.story_ok ? EXIT.ok : EXIT.failed);
  // A copy the table marks as missed fails its check, and the demo does not pretend otherwise.
  for (const name of [/plain distillation/, /paraphrased/, /weights copy/]) {
    const rowCaught = r.rows.some(
      (x) => name.test(x.release) && /^A /.test(x.member) && x.verdict === "LIKELY_DERIVED",
    );
    assert.equal(check(name)?.ok, rowCaught, name.source);
    if (!rowCaught) assert.ok(r.rows.some((x) => name.test(x.release) && x.outcome === "MISS"));
  }
  if (check(/shared violation/)?.ok) assert.ok(r.rows.length > 0);
  // The folder it names holds one verified bundle per attestation and the keys, private.
  assert.equal(r.out_dir, join(dir, "run"));
  const bundles = readdirSync(join(r.out_dir, "bundles"));
  assert.equal(bundles.length, attested.length);
  for (const m of ["member-1", "member-2", "member-3"]) {
    const key = join(r.out_dir, m, "signing-key.pem");
    assert.equal(statSync(key).mode & 0o077, 0, `${key} is private`);
  }
  // Nothing the hub reported or the summary printed holds a canary prompt or answer of a member.
  const shown = `${io.out()}\n${err}`;
  for (const m of ["member-1", "member-2", "member-3"]) {
    const lines = readFileSync(join(r.out_dir, m, "canary-pairs.jsonl"), "utf8")
      .trim()
      .split("\n");
    assert.ok(lines.length >= 12);
    for (const l of lines) {
      const p = JSON.parse(l) as Record<string, Record<string, string>>;
      for (const item of [p.a, p.b])
        for (const text of [item?.prompt, item?.expected])
          if (text !== undefined && text.length > 12) assert.ok(!shown.includes(text), "a canary leaked");
    }
  }
});

test("demo: Ctrl-C stops it cleanly (servers and databases closed) and a bad flag is a usage error", async () => {
  const ac = new AbortController();
  const io = captureIo({ cwd: dir, signal: ac.signal });
  const running = main(["demo", "--size", "small", "--out", "interrupted"], io);
  for (let i = 0; i < 600 && !/\[2\/7\]/.test(io.err()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(io.err(), /\[2\/7\]/);
  const t0 = Date.now();
  ac.abort();
  assert.equal(await running, EXIT.failed);
  assert.match(io.err(), /interrupted: servers and databases closed/);
  assert.ok(Date.now() - t0 < 30_000, "stopped promptly");

  const bad = captureIo({ cwd: dir });
  assert.equal(await main(["demo", "--size", "huge"], bad), EXIT.usage);
  assert.match(bad.err(), /--size/);
  const again = captureIo({ cwd: dir });
  assert.equal(await main(["demo", "--size", "small", "--out", "interrupted"], again), EXIT.usage);
  assert.match(again.err(), /exists/);
});
