/**
 * `lineage compare` / `lineage fingerprint` end to end: against a live testbed server (real Kneser–Ney
 * models served over the OpenAI-compatible HTTP API) and on replay files, including bad input.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadCorpus, NgramCounts, serveTestbed, TestbedModel, type TestbedServer } from "@lineage/testbed";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-compare-"));
let server: TestbedServer;
let battery: string;

function io(): CapturedIo {
  return captureIo({ cwd: dir });
}

before(async () => {
  const corpus = loadCorpus();
  const model = (id: string, from: number, to: number) => {
    const counts = new NgramCounts(3);
    for (const s of corpus.public.slice(from, to)) counts.addSequence(corpus.tokens(s));
    return new TestbedModel(id, counts.compile());
  };
  // The teacher and an exact weight copy; two unrelated models trained on other text.
  server = await serveTestbed({
    models: [
      model("teacher", 0, 1500),
      model("copy", 0, 1500),
      model("other-a", 1500, 3000),
      model("other-b", 3000, 4500),
    ],
    port: 0,
  });
  const probes = corpus.public.slice(5000, 5060).map((s, i) => ({
    id: `p${i}`,
    kind: "open",
    prompt: corpus.tokens(s).slice(0, 4).join(" "),
  }));
  battery = join(dir, "battery.json");
  writeFileSync(battery, JSON.stringify({ epoch: "e1", probes }));
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const spec = (m: string) => `${server.url}/v1?model=${m}`;

test("compare over HTTP: similarity alone never accuses, even for a weight copy; the verdict fields are reported", async () => {
  const a = io();
  const code = await main(
    [
      "compare",
      "--suspect",
      spec("copy"),
      "--reference",
      spec("teacher"),
      "--panel",
      spec("other-a"),
      "--panel",
      spec("other-b"),
      "--battery",
      battery,
      "--batch-size",
      "10",
      "--json",
    ],
    a,
  );
  assert.equal(code, EXIT.ok, a.err());
  const r = JSON.parse(a.out()) as {
    decision: string;
    verdict: string;
    backed_by: string | null;
    lead_score: number | null;
    stopped_early: boolean;
    queries: { suspect: number };
    signals: { name: string; available: boolean; p_value: number | null }[];
    bound: { suspect: string; reference: string; panel: string[] };
  };
  // No canaries, no watermark key: nothing bound can accuse, and only accusing tests stop early.
  assert.notEqual(r.decision, "LIKELY_DERIVED");
  assert.equal(r.verdict, r.decision);
  assert.notEqual(r.backed_by, "canary_pairs");
  assert.equal(r.stopped_early, false);
  assert.equal(r.queries.suspect, 60);
  assert.equal(typeof r.lead_score, "number");
  assert.equal(r.bound.panel.length, 2);
  const canary = r.signals.find((s) => s.name === "canary_pairs");
  assert.equal(canary?.available, false);
  assert.equal(canary?.p_value, null);
  assert.match(a.err(), /comparing/);

  const b = io();
  assert.equal(
    await main(
      [
        "compare",
        "--suspect",
        spec("other-b"),
        "--reference",
        spec("teacher"),
        "--panel",
        spec("other-a"),
        "--battery",
        battery,
        "--json",
      ],
      b,
    ),
    EXIT.ok,
  );
  assert.equal((JSON.parse(b.out()) as { decision: string }).decision, "INCONCLUSIVE");
  // The copy scores a higher lead than the unrelated model against the same reference.
  const lead = (out: string) => (JSON.parse(out) as { lead_score: number }).lead_score;
  assert.ok(lead(a.out()) > lead(b.out()), `copy ${lead(a.out())} vs unrelated ${lead(b.out())}`);
});

test("fingerprint saves the responses; compare runs on replay files; bad input exits non-zero with a clear message", async () => {
  const f = io();
  assert.equal(
    await main(
      ["fingerprint", "--model", spec("teacher"), "--battery", battery, "--out", "fp.json", "--json"],
      f,
    ),
    EXIT.ok,
    f.err(),
  );
  const fp = JSON.parse(readFileSync(join(dir, "fp.json"), "utf8")) as {
    responses: Record<string, { text: string }>;
  };
  assert.equal(Object.keys(fp.responses).length, 60);
  const lines = Object.entries(fp.responses).map(([id, r]) =>
    JSON.stringify({ id, prompt: id, output: r.text }),
  );
  writeFileSync(join(dir, "t.jsonl"), lines.join("\n"));
  // The same outputs under another name: a verbatim copy of the teacher (one file twice is refused).
  writeFileSync(join(dir, "t-copy.jsonl"), lines.join("\n"));
  writeFileSync(
    join(dir, "p.jsonl"),
    lines.map((l, i) => l.replace(/"output":".*"/, `"output":"unrelated text ${i}"`)).join("\n"),
  );
  const c = io();
  assert.equal(
    await main(
      [
        "compare",
        "--suspect",
        "replay:t-copy.jsonl",
        "--reference",
        "replay:t.jsonl",
        "--panel",
        "replay:p.jsonl",
        "--fixed",
        "--json",
      ],
      c,
    ),
    EXIT.ok,
    c.err(),
  );
  // A verbatim copy, but no canaries or watermark key and one panel model: never LIKELY_DERIVED.
  assert.notEqual((JSON.parse(c.out()) as { decision: string }).decision, "LIKELY_DERIVED");
  const same = io();
  assert.equal(
    await main(
      [
        "compare",
        "--suspect",
        "replay:t.jsonl",
        "--reference",
        "replay:./t.jsonl",
        "--panel",
        "replay:p.jsonl",
      ],
      same,
    ),
    EXIT.usage,
  );
  assert.match(same.err(), /--suspect and --reference/);

  writeFileSync(
    join(dir, "bad.jsonl"),
    '{"id":"a","prompt":"p","output":"o"}\n{"id":"b","prompt":3,"output":"o"}\n',
  );
  const d = io();
  const code = await main(
    [
      "compare",
      "--suspect",
      "replay:bad.jsonl",
      "--reference",
      "replay:t.jsonl",
      "--panel",
      "replay:p.jsonl",
    ],
    d,
  );
  assert.equal(code, EXIT.usage);
  assert.match(d.err(), /line 2/);
  const e = io();
  assert.equal(
    await main(["compare", "--suspect", "replay:t.jsonl", "--reference", "replay:t.jsonl"], e),
    EXIT.usage,
  );
  const g = io();
  assert.equal(
    await main(
      ["compare", "--suspect", "gopher://x", "--reference", "replay:t.jsonl", "--panel", "replay:p.jsonl"],
      g,
    ),
    EXIT.usage,
  );
  const h = io();
  assert.equal(
    await main(
      [
        "compare",
        "--suspect",
        "http://127.0.0.1:1/v1?model=x",
        "--reference",
        "replay:t.jsonl",
        "--panel",
        "replay:p.jsonl",
        "--timeout-ms",
        "200",
      ],
      h,
    ),
    EXIT.unavailable,
  );
});
