// `lineage member disclose --witness-key` end to end (issue 9, docs/specs/disclosure.md 2b): the hub's real log
// behind its gRPC server, two real witnesses (the witness service over HTTP on loopback) cosigning every
// checkpoint the hub signs, a member node served by `lineage member serve` (embedded default), real testbed
// models over HTTP; the member discloses a session with the witnessed (v2) sample and `lineage audit
// disclosure --witness-key` verifies it live, while the unwitnessed (v1) package is refused by that auditor.
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
  startWitnessing,
  TransparencyLog,
} from "@lineage/hub";
import { policyToProto, readSigningKey } from "@lineage/member-node";
import { createClient, insecureChannelCredentials, insecureServerCredentials } from "@lineage/rpc";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { loadCorpus, NgramCounts, serveTestbed, TestbedModel, type TestbedServer } from "@lineage/testbed";
import { startWitnessServer, Witness, WitnessState } from "@lineage/witness";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-member-disclose-witnessed-"));
const ORIGIN = "lineage.test/cli-disclose-witnessed";
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

test("member disclose --witness-key: the witnessed (v2) sample over two real witnesses' cosignatures, verified live by the auditor trusting them", {
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
  const witnesses = [];
  for (const name of ["witness.test/w1", "witness.test/w2"]) {
    const witness = new Witness({
      name,
      key: Ed25519PrivateKey.generate(),
      logs: new Map([[ORIGIN, log.verifierKey]]),
      state: new WitnessState(join(dir, name.replace(/\W/g, "_"))),
    });
    witnesses.push({ witness, server: await startWitnessServer({ witness }) });
  }
  const witnessErrors: unknown[] = [];
  const witnessing = startWitnessing({
    log,
    witnesses: witnesses.map((w) => ({ url: w.server.url, verifierKey: w.witness.verifierKey })),
    onError: (e) => witnessErrors.push(e),
  });
  const witnessKeys = witnesses.flatMap((w) => ["--witness-key", w.witness.verifierKey]);
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
    await witnessing.settled();
    const disclose = (out: string, extra: string[]) =>
      run(["member", "disclose", "--session", "s-1", "--to", pub, "--out", out, ...node, ...extra, "--json"]);
    const audit = (file: string, extra: string[]) =>
      run([
        "audit",
        "disclosure",
        file,
        "--log-key",
        log.verifierKey,
        "--key",
        "auditor.key",
        "--suspect",
        models.url,
        "--model",
        "m",
        ...extra,
        "--json",
      ]);

    // Bad witness arguments are refused with what is wrong, before anything is written.
    const badKey = await disclose("bad.disclosure", ["--witness-key", "not-a-key"]);
    assert.notEqual(badKey.code, EXIT.ok);
    assert.match(badKey.err, /witness_keys\[0\] is not a witness verifier key/);
    const noKeys = await disclose("bad.disclosure", ["--witness-quorum", "1"]);
    assert.equal(noKeys.code, EXIT.usage);
    const tooMany = await disclose("bad.disclosure", [...witnessKeys, "--witness-quorum", "3"]);
    assert.notEqual(tooMany.code, EXIT.ok);
    assert.match(tooMany.err, /witness_quorum must be 1\.\.2/);
    // A witness that never cosigned: the node refuses to build a package the auditor would refuse.
    const stranger = new Witness({
      name: "witness.test/stranger",
      key: Ed25519PrivateKey.generate(),
      logs: new Map([[ORIGIN, log.verifierKey]]),
      state: new WitnessState(join(dir, "stranger")),
    });
    const unwitnessed = await disclose("bad.disclosure", ["--witness-key", stranger.verifierKey]);
    assert.notEqual(unwitnessed.code, EXIT.ok);
    assert.match(unwitnessed.err, /0 cosignature\(s\) by the named witnesses, 1 required/);
    assert.throws(() => lstatSync(join(dir, "bad.disclosure")), "nothing was written");

    // The witnessed package: both witnesses' cosignatures of the seed checkpoint are mixed into the sample.
    const d2 = await disclose("s1-v2.disclosure", [...witnessKeys, "--witness-quorum", "2"]);
    assert.equal(d2.code, EXIT.ok, d2.err);
    const res2 = JSON.parse(d2.out) as { sample_size: number; seed: string };
    assert.equal(res2.sample_size, 16);
    assert.equal(res2.seed, "witnessed-v2");
    const v2 = await audit("s1-v2.disclosure", [...witnessKeys]);
    assert.equal(v2.code, EXIT.ok, v2.err + v2.out);
    assert.equal((JSON.parse(v2.out) as { outcome: string }).outcome, "verified");
    assert.match(v2.out, /witnessed seed \(v2\): 2 witness cosignature\(s\)/);
    // The same auditor refuses the unwitnessed (v1) package: its sample is not the witnessed one.
    const d1 = await disclose("s1-v1.disclosure", []);
    assert.equal(d1.code, EXIT.ok, d1.err);
    const v1 = await audit("s1-v1.disclosure", [...witnessKeys]);
    assert.notEqual(v1.code, EXIT.ok);
    assert.match(v1.out, /sample_mismatch/);
    // An auditor trusting no witness checks the v1 package (and says its seed could have been ground).
    const plain = await audit("s1-v1.disclosure", []);
    assert.equal(plain.code, EXIT.ok, plain.err + plain.out);
    assert.deepEqual(witnessErrors, []);
  } finally {
    ac.abort();
    assert.equal(await serving, EXIT.ok, serveIo.err());
    await witnessing.close();
    for (const w of witnesses) await w.server.close();
  }
});
