import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const cache = mkdtempSync(join(tmpdir(), "lineage-tb-"));
after(() => rmSync(cache, { recursive: true, force: true }));

function io(signal?: AbortSignal): CapturedIo {
  return captureIo({ cwd: process.cwd(), signal });
}

test("testbed serve answers OpenAI-style requests until interrupted", async () => {
  const ac = new AbortController();
  const a = io(ac.signal);
  const running = main(["testbed", "serve", "--port", "0", "--cache-dir", cache, "--json"], a);
  let url = "";
  for (let i = 0; i < 600 && !url; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (a.out().trim().endsWith("}")) url = (JSON.parse(a.out()) as { url: string }).url;
  }
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
  const served = (JSON.parse(a.out()) as { models: { id: string; role: string }[] }).models;
  assert.deepEqual(
    models.data.map((m) => m.id),
    served.map((m) => m.id),
  );
  assert.ok(served.some((m) => m.role === "positive") && served.some((m) => m.role === "negative"));
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: served[0]?.id, prompt: "the city is", max_tokens: 5, logprobs: 2 }),
  });
  assert.equal(res.status, 200);
  ac.abort();
  assert.equal(await running, EXIT.ok);
  await assert.rejects(fetch(`${url}/v1/models`), "the server is closed after the interrupt");
});

test("testbed flags are validated", async () => {
  const a = io();
  assert.equal(await main(["testbed", "list", "--split", "bogus"], a), EXIT.usage);
  assert.match(a.err(), /--split must be one of calibration, test/);
  const b = io();
  assert.equal(await main(["testbed", "serve", "--port", "70000"], b), EXIT.usage);
  assert.match(b.err(), /--port must be between 0 and 65535/);
});
