// `lineage member canaries generate|import|exposure`, `member disclose`, `audit disclosure-key` and
// `audit disclosure --key` end to end: the hub's real log behind its gRPC server, a member node served by
// `lineage member serve` with the hub configured (canary sets and sessions wired by the runtime), a real
// testbed model over HTTP as the protected model, the suspect and the panel; the hub's session sent over gRPC.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  MatchSessionRequestSchema,
  MemberNode,
  ReferenceFingerprintCommitmentSchema,
  RunMatchSessionRequestSchema,
  SignedHeaderSchema,
  SuspectSource,
} from "@lineage/api";
import { Ed25519PrivateKey, newNonce, signEnvelope, signMessage } from "@lineage/crypto";
import { DEFAULT_VERDICT_POLICY } from "@lineage/fingerprint";
import {
  decodeLeaf,
  enrolmentRecord,
  envelopeFromProto,
  envelopeToProto,
  PAYLOAD_TYPES,
  signMembership,
  startHubServer,
  TransparencyLog,
} from "@lineage/hub";
import { policyToProto, readSigningKey } from "@lineage/member-node";
import { createClient, insecureChannelCredentials, insecureServerCredentials } from "@lineage/rpc";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { loadCorpus, NgramCounts, serveTestbed, TestbedModel, type TestbedServer } from "@lineage/testbed";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-member-canaries-"));
const ORIGIN = "lineage.test/cli-canaries";
let models: TestbedServer;

before(async () => {
  const corpus = loadCorpus();
  const model = (name: string, from: number) => {
    const counts = new NgramCounts(3);
    for (const s of corpus.public.slice(from, from + 600)) counts.addSequence(corpus.tokens(s));
    return new TestbedModel(name, counts.compile());
  };
  models = await serveTestbed({ models: [model("m", 0), model("u1", 1000), model("u2", 2000)] });
  const probes = corpus.public.slice(5000, 5020).map((s, i) => ({
    id: `p${i}`,
    kind: "open",
    prompt: corpus.tokens(s).slice(0, 5).join(" "),
  }));
  writeFileSync(join(dir, "battery.json"), JSON.stringify({ epoch: "2026-12", probes }));
  writeFileSync(join(dir, "epoch.key"), randomBytes(32).toString("hex"), { mode: 0o600 });
});
after(async () => {
  await models.close();
  rmSync(dir, { recursive: true, force: true });
});

const run = async (args: string[]) => {
  const io = captureIo({ cwd: dir });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
};

test("canaries import (refusals named), exposure, a session, disclose sealed, audit opens and verifies live", {
  timeout: 300_000,
}, async () => {
  await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
  await hubStore.migrate(hubMigrations);
  const hubKey = Ed25519PrivateKey.generate();
  await using log = await TransparencyLog.open({
    store: hubStore,
    origin: ORIGIN,
    hubKey,
    checkpointIntervalMs: 3_600_000,
    checkpointEvery: 1_000_000,
  });
  await using hub = await startHubServer({
    log,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
  });
  writeFileSync(join(dir, "hub.pub.pem"), hubKey.publicKey.toPem());

  const init = await run([
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
    models.url,
    "--adapter-model",
    "m",
    "--hub",
    hub.address,
    "--json",
  ]);
  assert.equal(init.code, EXIT.ok, init.err);
  const { key_file, config_file } = JSON.parse(init.out) as { key_file: string; config_file: string };
  const config = JSON.parse(readFileSync(config_file, "utf8")) as Record<string, Record<string, unknown>>;
  (config.hub as Record<string, unknown>).key_files = [join(dir, "hub.pub.pem")];
  const main_ = (config.adapters as Record<string, Record<string, unknown>>).main as Record<string, unknown>;
  (config.adapters as Record<string, unknown>).u1 = { ...main_, model: "u1" };
  (config.adapters as Record<string, unknown>).u2 = { ...main_, model: "u2" };
  writeFileSync(config_file, JSON.stringify(config), { mode: 0o600 });
  const memberKey = await readSigningKey(key_file);
  await log.appendMembership(
    signMembership(
      enrolmentRecord("acme", "Acme", memberKey.publicKey, Date.now() - 60_000, {
        effectiveAtMs: Date.now(),
      }),
      [memberKey],
    ),
  );
  await log.checkpoint();

  const cfg = join("node", "member-node.json");
  const ac = new AbortController();
  const serveIo = captureIo({ cwd: dir, signal: ac.signal });
  const serving = main(
    ["member", "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--epoch-poll", "0", "--json"],
    serveIo,
  );
  let address = "";
  for (let i = 0; i < 300 && !address; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (serveIo.out().trim().endsWith("}"))
      address = (JSON.parse(serveIo.out()) as { address: string }).address;
  }
  assert.match(address, /^127\.0\.0\.1:\d+$/, serveIo.err());
  const node = ["--config", cfg, "--node", address];
  try {
    // Files: generated (0600); empty and one-line files refused with their names before the node is asked.
    const gen = await run([
      "member",
      "canaries",
      "generate",
      "--count",
      "16",
      "--out",
      "pairs.jsonl",
      "--json",
    ]);
    assert.equal(gen.code, EXIT.ok, gen.err);
    assert.equal(lstatSync(join(dir, "pairs.jsonl")).mode & 0o777, 0o600);
    writeFileSync(join(dir, "empty.jsonl"), "");
    writeFileSync(
      join(dir, "one.jsonl"),
      `${readFileSync(join(dir, "pairs.jsonl"), "utf8").split("\n")[0]}\n`,
    );
    for (const [file, why] of [
      ["empty.jsonl", /empty\.jsonl: has no canary pairs/],
      ["one.jsonl", /one\.jsonl: has only 1 canary pair/],
    ] as const) {
      const r = await run(["member", "canaries", "import", file, "--id", "x", ...node]);
      assert.equal(r.code, EXIT.usage, r.err);
      assert.match(r.err, why);
    }
    const genBad = await run([
      "member",
      "canaries",
      "generate",
      "--count",
      "16",
      "--out",
      "no/such/dir/p.jsonl",
    ]);
    assert.equal(genBad.code, EXIT.usage);
    assert.match(genBad.err, /does not exist/);

    const imp = await run([
      "member",
      "canaries",
      "import",
      "pairs.jsonl",
      "--id",
      "acme-pairs-1",
      ...node,
      "--json",
    ]);
    assert.equal(imp.code, EXIT.ok, imp.err);
    const imported = JSON.parse(imp.out) as { pairs: number; merkle_root: string; log_index: number };
    assert.equal(imported.pairs, 16);
    const again = await run(["member", "canaries", "import", "pairs.jsonl", "--id", "acme-pairs-1", ...node]);
    assert.equal(again.code, EXIT.failed);
    assert.match(again.err, /exists already/);
    const exp0 = await run(["member", "canaries", "exposure", ...node, "--json"]);
    assert.equal(exp0.code, EXIT.ok, exp0.err);
    assert.deepEqual(
      (JSON.parse(exp0.out) as { exposures: { spent: number; total: number }[] }).exposures.map((e) => [
        e.spent,
        e.total,
      ]),
      [[0, 32]],
    );

    // The model is protected (its reference fingerprint is logged by the node), then the hub opens a session.
    const prot = await run(["member", "protect", ...node, "--model", "acme-chat", "--json"]);
    assert.equal(prot.code, EXIT.ok, prot.err);
    const refHash = new Uint8Array(randomBytes(32));
    const ref = await log.appendCommitment(
      signEnvelope(
        PAYLOAD_TYPES.referenceFingerprint,
        toBinary(
          ReferenceFingerprintCommitmentSchema,
          create(ReferenceFingerprintCommitmentSchema, {
            memberId: "acme",
            modelId: "acme-chat",
            modelVersion: "",
            epochId: "2026-12",
            fingerprintHash: refHash,
            probes: 20,
            committedAt: timestampFromMs(Date.now()),
          }),
        ),
        memberKey,
      ),
    );
    const suspect = {
      suspectId: "suspect-1",
      target: { case: "endpoint" as const, value: { baseUrl: models.url, modelName: "m" } },
    };
    const seen = await log.appendSighting({ suspect, source: SuspectSource.FEED_ADAPTER });
    await log.checkpoint();
    const candidate = { memberId: "acme", modelId: "acme-chat", modelVersion: "" };
    const s = await log.appendSession({
      sessionId: "s-1",
      suspect,
      candidate,
      referenceFingerprintHash: refHash,
      referenceFingerprintIndex: BigInt(ref.index),
      panel: ["u1", "u2"],
      populationId: "test/1",
      policy: policyToProto(DEFAULT_VERDICT_POLICY),
      canaryCommitment: {
        commitmentId: "acme-pairs-1",
        merkleRoot: new Uint8Array(Buffer.from(imported.merkle_root, "hex")),
        logIndex: BigInt(imported.log_index),
      },
      firstSeenIndex: BigInt(seen.index),
      comparisons: 1,
      epochId: "2026-12",
      confirmationSplit: "lineage-split/v1",
      deadline: timestampFromMs(Date.now() + 3_600_000),
    });
    await log.checkpoint();
    const opened = log.session("s-1")?.opened;
    const stored = await log.entry(s.index);
    assert.ok(opened && stored);
    const session = create(MatchSessionRequestSchema, {
      sessionId: "s-1",
      nonce: opened.nonce,
      ...(opened.deadline ? { deadline: opened.deadline } : {}),
      epochId: "2026-12",
      suspect,
      candidate,
      maxQueries: 100_000,
      sessionIndex: BigInt(s.index),
      opened: envelopeToProto(decodeLeaf(stored.leaf).envelope),
    });
    const unsigned = create(RunMatchSessionRequestSchema, { session });
    const h = { memberId: "hub", sequence: 1n, nonce: newNonce(), issuedAtMs: Date.now() };
    const sig = signMessage(
      RunMatchSessionRequestSchema.typeName,
      h,
      toBinary(RunMatchSessionRequestSchema, unsigned),
      hubKey,
    );
    unsigned.header = create(SignedHeaderSchema, {
      memberId: "hub",
      keyId: sig.keyId,
      sequence: 1n,
      nonce: sig.header.nonce,
      issuedAtMs: BigInt(h.issuedAtMs),
      signature: sig.signature,
    });
    const client = createClient(MemberNode, address, insecureChannelCredentials(), {
      defaultTimeoutMs: 120_000,
    });
    let last: unknown;
    try {
      for await (const r of client.runMatchSession(unsigned)) last = r;
    } finally {
      client.close();
    }
    const answer = (
      last as {
        event: {
          case: string;
          value: { outcome: { case: string; value: Parameters<typeof envelopeFromProto>[0] } };
        };
      }
    ).event;
    assert.equal(answer.case, "answer");
    assert.equal(
      answer.value.outcome.case,
      "attestation",
      JSON.stringify(answer.value.outcome).slice(0, 300),
    );
    const statement = fromBinary(AttestationStatementSchema, answer.value.outcome.value.payload);
    assert.equal(statement.counts?.canary?.pairsCommitted, 16);
    await log.appendAttestation(envelopeFromProto(answer.value.outcome.value));
    await log.checkpoint();

    const exp1 = await run(["member", "canaries", "exposure", ...node, "--json"]);
    assert.equal((JSON.parse(exp1.out) as { exposures: { spent: number }[] }).exposures[0]?.spent, 32);

    // The auditor's key; the member discloses to it; the auditor opens the package and re-queries the suspect.
    const key = await run(["audit", "disclosure-key", "--out", "auditor.key", "--json"]);
    assert.equal(key.code, EXIT.ok, key.err);
    const pub = (JSON.parse(key.out) as { public_key: string }).public_key;
    assert.equal(lstatSync(join(dir, "auditor.key")).mode & 0o777, 0o600);
    assert.equal(
      (await run(["audit", "disclosure-key", "--out", "auditor.key"])).code,
      EXIT.usage,
      "a key file is never overwritten",
    );
    const badTo = await run([
      "member",
      "disclose",
      "--session",
      "s-1",
      "--to",
      "lineage-x25519-pub:zz",
      "--out",
      "s1.disclosure",
      ...node,
    ]);
    assert.equal(badTo.code, EXIT.usage);
    const unknown = await run([
      "member",
      "disclose",
      "--session",
      "nope",
      "--to",
      pub,
      "--out",
      "s1.disclosure",
      ...node,
    ]);
    assert.equal(unknown.code, EXIT.failed);
    assert.match(unknown.err, /no session nope/);
    const d = await run([
      "member",
      "disclose",
      "--session",
      "s-1",
      "--to",
      pub,
      "--out",
      "s1.disclosure",
      ...node,
      "--json",
    ]);
    assert.equal(d.code, EXIT.ok, d.err);
    assert.equal((JSON.parse(d.out) as { sample_size: number }).sample_size, 16);
    assert.equal(lstatSync(join(dir, "s1.disclosure")).mode & 0o777, 0o600);
    const pairsText = readFileSync(join(dir, "pairs.jsonl"), "utf8");
    const firstPrompt = (JSON.parse(pairsText.split("\n")[0] as string) as { a: { prompt: string } }).a
      .prompt;
    assert.ok(
      !readFileSync(join(dir, "s1.disclosure")).toString("latin1").includes(firstPrompt),
      "the file is sealed",
    );

    const audit = (extra: string[]) =>
      run(["audit", "disclosure", "s1.disclosure", "--log-key", log.verifierKey, ...extra, "--json"]);
    const live = await audit(["--key", "auditor.key", "--suspect", models.url, "--model", "m"]);
    assert.equal(live.code, EXIT.ok, live.err + live.out);
    assert.equal((JSON.parse(live.out) as { outcome: string }).outcome, "verified");
    const recorded = await audit(["--key", "auditor.key"]);
    assert.notEqual(recorded.code, EXIT.ok);
    assert.match(recorded.out, /claim_not_checked/);
    const noKey = await audit([]);
    assert.notEqual(noKey.code, EXIT.ok, "a sealed package does not parse without the key");
    writeFileSync(join(dir, "other.key"), `lineage-x25519-key:${randomBytes(32).toString("hex")}\n`, {
      mode: 0o600,
    });
    const wrongKey = await audit(["--key", "other.key"]);
    assert.notEqual(wrongKey.code, EXIT.ok);
    assert.match(wrongKey.out + wrongKey.err, /does not open/);
  } finally {
    ac.abort();
    assert.equal(await serving, EXIT.ok, serveIo.err());
  }
});
