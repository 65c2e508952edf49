// `lineage member init | serve | protect | models list | models withdraw` end to end on the embedded
// default: a real testbed model over HTTP, the node served in-process, the operator commands talking to it
// over gRPC with signed admin calls.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadCorpus, NgramCounts, serveTestbed, TestbedModel, type TestbedServer } from "@lineage/testbed";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-member-cli-"));
let server: TestbedServer;
const N = 20;

before(async () => {
  const corpus = loadCorpus();
  const counts = new NgramCounts(3);
  for (const s of corpus.public.slice(0, 600)) counts.addSequence(corpus.tokens(s));
  server = await serveTestbed({ models: [new TestbedModel("m", counts.compile())] });
  const probes = corpus.public.slice(5000, 5000 + N).map((s, i) => ({
    id: `p${i}`,
    kind: "open",
    prompt: corpus.tokens(s).slice(0, 5).join(" "),
  }));
  writeFileSync(join(dir, "battery.json"), JSON.stringify({ epoch: "2026-12", probes }));
  writeFileSync(join(dir, "epoch.key"), randomBytes(32).toString("hex"), { mode: 0o600 });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const run = async (args: string[], signal?: AbortSignal) => {
  const io = captureIo({ cwd: dir, signal });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
};

test("member init writes a private key and config (0600), prints no secret, refuses to overwrite or follow a symlink", async () => {
  const init = (extra: string[] = []) =>
    run([
      "member",
      "init",
      "--member-id",
      "acme",
      "--dir",
      "node",
      "--battery",
      "battery.json",
      "--epoch-key",
      "epoch.key",
      "--adapter-url",
      server.url,
      "--adapter-model",
      "m",
      "--adapter-key-env",
      "ACME_API_KEY",
      "--json",
      ...extra,
    ]);
  const first = await init();
  assert.equal(first.code, EXIT.ok, first.err);
  const out = JSON.parse(first.out) as { key_id: string; key_file: string; config_file: string };
  assert.match(out.key_id, /^[0-9a-f]{64}$/);
  for (const f of [out.key_file, out.config_file]) assert.equal(lstatSync(f).mode & 0o777, 0o600, f);
  const keyPem = readFileSync(out.key_file, "utf8");
  assert.ok(!first.out.includes(keyPem.split("\n")[1] as string), "the private key is never printed");
  assert.ok(!first.out.includes("PRIVATE KEY"));
  const config = JSON.parse(readFileSync(out.config_file, "utf8")) as {
    adapters: { main: Record<string, unknown> };
  };
  assert.equal(config.adapters.main.api_key_env, "ACME_API_KEY");

  const again = await init();
  assert.equal(again.code, EXIT.usage);
  assert.match(again.err, /exists \(use --force/);
  assert.equal(readFileSync(out.key_file, "utf8"), keyPem, "the key was not replaced");

  // A symlink planted at the key path is refused even with --force.
  const other = join(dir, "other");
  const r = await run(["member", "init", "--member-id", "acme", "--dir", "other"]);
  assert.equal(r.code, EXIT.ok, r.err);
  rmSync(join(other, "member-key.pem"));
  symlinkSync(join(dir, "elsewhere.pem"), join(other, "member-key.pem"));
  const planted = await run(["member", "init", "--member-id", "acme", "--dir", "other", "--force"]);
  assert.equal(planted.code, EXIT.usage);
  assert.match(planted.err, /symbolic link/);

  const badId = await run(["member", "init", "--member-id", "Bad_Id", "--dir", "bad"]);
  assert.equal(badId.code, EXIT.usage);
  assert.match(badId.err, /member_id/);
});

test("member serve + protect + models list/withdraw: progress lines, a published sketch, a clean stop", async () => {
  const cfg = join("node", "member-node.json");
  const ac = new AbortController();
  const serveIo = captureIo({ cwd: dir, signal: ac.signal });
  const serving = main(
    ["member", "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--epoch-poll", "0", "--json"],
    { ...serveIo, env: { ACME_API_KEY: "sk-test-not-a-real-key" } },
  );
  let address = "";
  for (let i = 0; i < 300 && !address; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (serveIo.out().trim().endsWith("}"))
      address = (JSON.parse(serveIo.out()) as { address: string }).address;
  }
  assert.match(address, /^127\.0\.0\.1:\d+$/, serveIo.err());
  try {
    const p = await run([
      "member",
      "protect",
      "--config",
      cfg,
      "--node",
      address,
      "--model",
      "acme/chat",
      "--json",
    ]);
    assert.equal(p.code, EXIT.ok, p.err);
    const res = JSON.parse(p.out) as { probes: number; sketch_sha256: string };
    assert.equal(res.probes, N);
    assert.match(res.sketch_sha256, /^[0-9a-f]{64}$/);

    const plain = await run([
      "member",
      "protect",
      "--config",
      cfg,
      "--node",
      address,
      "--model",
      "acme/chat",
    ]);
    assert.equal(plain.code, EXIT.ok, plain.err);
    assert.match(plain.err, /^fetching battery 0\/0$/m);
    assert.match(plain.err, /^done 20\/20$/m);
    assert.match(plain.out, new RegExp(`sketch ${res.sketch_sha256} published`));

    // On a terminal: a redrawn progress bar instead of lines.
    const ttyIo = captureIo({ cwd: dir });
    const tty = { ...ttyIo, stderr: Object.assign({ isTTY: true }, ttyIo.stderr) };
    assert.equal(
      await main(["member", "protect", "--config", cfg, "--node", address, "--model", "acme/chat"], tty),
      EXIT.ok,
      ttyIo.err(),
    );
    assert.match(ttyIo.err(), /\r\[#{30}\] 20\/20 done/);
    assert.doesNotMatch(ttyIo.err(), /^probing /m);

    const unknownAdapter = await run([
      "member",
      "protect",
      "--config",
      cfg,
      "--node",
      address,
      "--model",
      "x",
      "--adapter",
      "nope",
    ]);
    assert.equal(unknownAdapter.code, EXIT.usage);
    assert.match(unknownAdapter.err, /adapter nope is not configured/);

    const list = await run(["member", "models", "list", "--config", cfg, "--node", address, "--json"]);
    assert.equal(list.code, EXIT.ok, list.err);
    const models = (
      JSON.parse(list.out) as { models: { model_id: string; probes_done: number; withdrawn: boolean }[] }
    ).models;
    assert.deepEqual(
      models.map((m) => [m.model_id, m.probes_done, m.withdrawn]),
      [["acme/chat", N, false]],
    );
    const w = await run([
      "member",
      "models",
      "withdraw",
      "--config",
      cfg,
      "--node",
      address,
      "--model",
      "acme/chat",
      "--reason",
      "retired",
    ]);
    assert.equal(w.code, EXIT.ok, w.err);
    assert.match(w.out, /withdrew the sketches of epoch\(s\) 2026-12/);
    const missing = await run([
      "member",
      "models",
      "withdraw",
      "--config",
      cfg,
      "--node",
      address,
      "--model",
      "nope",
    ]);
    assert.equal(missing.code, EXIT.failed);
    assert.match(missing.err, /not protected by this node/);
  } finally {
    ac.abort();
    assert.equal(await serving, EXIT.ok, serveIo.err());
  }
  assert.match(serveIo.err(), /member node stopped/);
  assert.ok(!serveIo.err().includes("sk-test-not-a-real-key"), "the API key is never logged");
});
