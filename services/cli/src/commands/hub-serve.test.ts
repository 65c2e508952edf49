// `lineage hub serve` running the whole hub (issue 10) as a real process on the embedded default: a member node
// reached through --members-file, testbed models over HTTP, the panel from --reference-file, a --feed file; a release the
// member reports over gRPC is probed, retrieved, turned into a logged session answered by the member's node,
// and lands as a case that `lineage hub cases list --hub` shows. Also: the serve flags' bad inputs.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { SubmitSuspectRequestSchema, SuspectSource } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { signRequest } from "@lineage/hub";
import { type MemberNodeDatabase, openStore } from "@lineage/store";
import { serveTestbed, type TestbedServer } from "@lineage/testbed";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";
import {
  corpusBattery,
  exposedFacts,
  freePort,
  type MemberWorld,
  spawnHub,
  startMemberWorld,
  trainModel,
} from "./hub-serve-world.js";

const ORIGIN = "lineage.test/hub-serve";
const dir = mkdtempSync(join(tmpdir(), "lineage-hub-serve-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = async (args: string[]) => {
  const io = captureIo({ cwd: dir });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
};

let hubKey: Ed25519PrivateKey;
before(() => {
  hubKey = Ed25519PrivateKey.generate();
  writeFileSync(join(dir, "hub.pem"), hubKey.toPem(), { mode: 0o600 });
});

test("hub serve runs the hub: a reported copy is scanned, sessioned with the member's node, attested LIKELY_DERIVED and listed as a case; an unrelated model from the feed opens none", async () => {
  const battery = corpusBattery("serve-e1", 24);
  writeFileSync(
    join(dir, "battery.json"),
    JSON.stringify({
      probes: battery.probes.map((p, index) => ({
        index,
        kind: "open_ended",
        prompt: p.prompt,
        max_tokens: 32,
      })),
    }),
  );
  const created = await cli([
    "hub",
    "epoch",
    "create",
    "--key",
    "hub.pem",
    "--origin",
    ORIGIN,
    "--data-dir",
    "hubdata",
    "--epoch-id",
    battery.epoch,
    "--battery",
    "battery.json",
  ]);
  assert.equal(created.code, EXIT.ok, created.err);

  // Models are served once the member's canary labels are drawn (the copy learns the exposed items).
  let models: TestbedServer | undefined;
  const modelsUrl = () => `${models?.url ?? "http://127.0.0.1:9"}/v1`;
  const [hubPort, nodePort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, "members.json"),
    JSON.stringify({ members: [{ member_id: "acme", address: `127.0.0.1:${nodePort}` }] }),
  );
  writeFileSync(join(dir, "feed.json"), JSON.stringify({ feed: "test-feed", releases: [] }));
  // The panel's endpoints are the testbed server's, known only later: the file names a fixed port.
  const modelsPort = await freePort();
  writeFileSync(
    join(dir, "reference.json"),
    JSON.stringify({
      models: ["panel-a", "panel-b", "panel-c"].map((id) => ({
        model_id: id,
        base_url: `http://127.0.0.1:${modelsPort}/v1`,
        model_name: id,
      })),
    }),
  );
  await using hub = await spawnHub(dir, [
    "--key",
    "hub.pem",
    "--origin",
    ORIGIN,
    "--data-dir",
    "hubdata",
    "--listen",
    `127.0.0.1:${hubPort}`,
    "--members-file",
    "members.json",
    "--reference-file",
    "reference.json",
    "--panel-size",
    "3",
    "--feed",
    "feed.json",
    "--feed-interval",
    "1",
  ]);
  const store = await openStore<MemberNodeDatabase>({ kind: "pglite" });
  let member: MemberWorld | undefined;
  try {
    member = await startMemberWorld({
      store,
      memberId: "acme",
      hubAddress: hub.address,
      hubOrigin: ORIGIN,
      hubVerifierKey: hub.verifierKey,
      hubPublicKey: hubKey.publicKey,
      modelsUrl,
      battery,
      port: nodePort,
    });
    const { pairs, labels } = await member.enrolAndCommit(hubKey);
    const facts = exposedFacts(pairs, labels);
    models = await serveTestbed({
      port: modelsPort,
      models: [
        trainModel("acme-chat", [0, 800], facts),
        // A copy of acme's model (its weights' recipe), served under another name.
        trainModel("suspect-1", [0, 800], facts),
        trainModel("panel-a", [800, 1600]),
        trainModel("panel-b", [1600, 2400]),
        trainModel("panel-c", [2400, 3200]),
        trainModel("unrelated-1", [3200, 4000]),
      ],
    });
    await member.protect();

    const t0 = performance.now();
    const m = member;
    await m.hub.submitSuspect(
      signRequest(
        SubmitSuspectRequestSchema,
        create(SubmitSuspectRequestSchema, {
          source: SuspectSource.MEMBER_REPORT,
          suspect: {
            target: {
              case: "endpoint",
              value: { baseUrl: modelsUrl(), modelName: "suspect-1", logprobs: true },
            },
          },
        }),
        { memberId: m.memberId, key: m.key },
      ),
    );
    // The hub reports each scan's end (after its sessions' attestations were logged and filed as cases).
    for (let i = 0; i < 360 && !/scanned suspect/.test(hub.stderr()); i++)
      await new Promise((r) => setTimeout(r, 500));
    const m2 = /scanned suspect (\S+): 1 candidates, 1 sessions; session \S+ attested (\w+)/.exec(
      hub.stderr(),
    );
    assert.ok(m2, `the release was not scanned into one attested session; hub stderr:\n${hub.stderr()}`);
    const verdict = m2[2] as string;
    console.log(`# report-to-attestation ${Math.round(performance.now() - t0)} ms; verdict ${verdict}`);
    // The case book over the running hub's gRPC: a case exactly when the verdict is one (INCONCLUSIVE opens none).
    const listed = await cli(["hub", "cases", "list", "--hub", hub.address, "--json"]);
    assert.equal(listed.code, EXIT.ok, listed.err);
    const rows = (JSON.parse(listed.out) as { cases: { case_id: string }[] }).cases;
    // The copy learned acme's exposed canary items: the paired canary test accuses it, and a case is open.
    assert.equal(verdict, "LIKELY_DERIVED", hub.stderr());
    assert.equal(rows.length, 1, listed.out);
    const shown = await cli(["hub", "cases", "show", "--hub", hub.address, "--case", rows[0]?.case_id ?? ""]);
    assert.equal(shown.code, EXIT.ok, shown.err);
    assert.match(shown.out, /acme/);

    // The registry feed, polled every second: a bad listing is reported naming the field and submits nothing;
    // then a listing of an unrelated model (the control) is scanned and opens no case.
    writeFileSync(
      join(dir, "feed.json"),
      JSON.stringify({ feed: "test-feed", releases: [{ registry: "hf" }] }),
    );
    for (let i = 0; i < 40 && !/feed feed\.json: releases\[0\]\.repo/.test(hub.stderr()); i++)
      await new Promise((r) => setTimeout(r, 250));
    assert.match(hub.stderr(), /hub: feed feed\.json: releases\[0\]\.repo must be a string/);
    writeFileSync(
      join(dir, "feed.json"),
      JSON.stringify({
        feed: "test-feed",
        releases: [
          {
            registry: "huggingface",
            repo: "someone/unrelated-1",
            revision: "main",
            endpoint: {
              base_url: modelsUrl(),
              model_name: "unrelated-1",
              api: "openai_chat",
              logprobs: true,
            },
          },
        ],
      }),
    );
    for (let i = 0; i < 360 && (hub.stderr().match(/scanned suspect/g) ?? []).length < 2; i++)
      await new Promise((r) => setTimeout(r, 500));
    const lines = hub
      .stderr()
      .split("\n")
      .filter((l) => l.includes("scanned suspect"));
    assert.equal(lines.length, 2, hub.stderr());
    assert.doesNotMatch(lines[1] ?? "", /LIKELY_DERIVED/);
    // Privacy: no canary prompt or answer of the member in what the hub printed or served.
    const seen = `${hub.stderr()}\n${listed.out}\n${shown.out}`;
    for (const p of pairs)
      for (const item of [p.a, p.b]) {
        assert.ok(item.prompt.length > 10 && item.expected.length > 2);
        assert.ok(!seen.includes(item.prompt) && !seen.includes(item.expected), "a canary leaked");
      }
    const again = await cli(["hub", "cases", "list", "--hub", hub.address, "--json"]);
    assert.equal((JSON.parse(again.out) as { cases: unknown[] }).cases.length, 1, again.out);
  } finally {
    await member?.[Symbol.asyncDispose]();
    await models?.close();
    assert.equal(await hub.stop(), 0, hub.stderr());
    await store.close();
  }
});

test("hub serve: bad NATS, members, reference and feed inputs are refused before anything opens", async () => {
  const base = ["hub", "serve", "--key", "hub.pem", "--origin", ORIGIN, "--data-dir", "hubdata-bad"];
  const write = (name: string, v: unknown) =>
    writeFileSync(join(dir, name), typeof v === "string" ? v : JSON.stringify(v));
  const refused = async (extra: string[], code: number, re: RegExp) => {
    const r = await cli([...base, ...extra]);
    assert.equal(r.code, code, `${extra.join(" ")}: ${r.err}`);
    assert.match(r.err, re, extra.join(" "));
  };
  await refused(
    ["--nats", "http://127.0.0.1:4222"],
    EXIT.usage,
    /--nats: .* must be a nats:\/\/ or tls:\/\/ URL/,
  );
  await refused(["--nats", "nats://u:secret@127.0.0.1:4222"], EXIT.usage, /must not carry a password/);
  await refused(
    ["--nats", "nats://10.0.0.9:4222"],
    EXIT.usage,
    /not loopback: use tls:\/\/ or give --nats-tls-ca/,
  );
  await refused(["--nats-user", "hub"], EXIT.usage, /--nats-user needs --nats/);
  await refused(
    ["--nats", "nats://127.0.0.1:4222", "--nats-user", "hub"],
    EXIT.usage,
    /LINEAGE_HUB_NATS_PASS/,
  );
  write("open.nk", "SUAEXAMPLE\n");
  chmodSync(join(dir, "open.nk"), 0o644);
  await refused(
    ["--nats", "nats://127.0.0.1:4222", "--nats-nkey", "open.nk"],
    EXIT.usage,
    /--nats-nkey .*open\.nk is accessible by group or others/,
  );
  await refused(["--nats-creds", "open.nk"], EXIT.usage, /--nats-creds needs --nats/);
  await refused(
    ["--nats", "nats://127.0.0.1:4222", "--nats-nkey", "open.nk", "--nats-creds", "open.nk"],
    EXIT.usage,
    /one way to authenticate, not --nats-nkey and --nats-creds/,
  );
  write("m1.json", "{not json");
  await refused(["--members-file", "m1.json"], EXIT.usage, /--members-file m1\.json is not JSON/);
  write("m2.json", { members: [{ member_id: "acme", address: "10.0.0.7:7450" }] });
  await refused(
    ["--members-file", "m2.json"],
    EXIT.usage,
    /members\[0\]: 10\.0\.0\.7:7450 is not loopback, so tls_ca_file is required/,
  );
  write("m3.json", { members: [{ member_id: "Acme!", address: "127.0.0.1:7450" }] });
  await refused(["--members-file", "m3.json"], EXIT.usage, /members\[0\]\.member_id must be/);
  write("m4.json", { members: [{ member_id: "acme", address: "127.0.0.1:7450", tls_ca_file: "nope.pem" }] });
  await refused(["--members-file", "m4.json"], EXIT.unavailable, /tls_ca_file/);
  write("m5.json", { members: [{ member_id: "acme", address: "127.0.0.1:7450", port: 1 }] });
  await refused(["--members-file", "m5.json"], EXIT.usage, /unknown field 'port'/);
  write("r1.json", { models: [{ model_id: "a", base_url: "ftp://x/v1", model_name: "a" }] });
  await refused(
    ["--reference-file", "r1.json"],
    EXIT.usage,
    /models\[0\]\.base_url must be an http\(s\) URL/,
  );
  write("r2.json", {
    models: [
      { model_id: "a", base_url: "http://x/v1", model_name: "a" },
      { model_id: "a", base_url: "http://y/v1", model_name: "b" },
    ],
  });
  await refused(["--reference-file", "r2.json"], EXIT.usage, /models\[1\]\.model_id a is listed twice/);
  await refused(
    ["--feed", "ftp://feeds.example/x.json"],
    EXIT.usage,
    /--feed must be an http\(s\) URL or a file/,
  );
  await refused(
    ["--feed-interval", "0", "--feed", "f.json"],
    EXIT.usage,
    /--feed-interval must be between 1 and 86400/,
  );
  await refused(["--panel-size", "1"], EXIT.usage, /--panel-size must be between 2 and 64/);
  await refused(["--population", "has space"], EXIT.usage, /--population must be/);
});
