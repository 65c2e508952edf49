// `lineage member watermark keygen|commit` end to end (issue 9, "Watermark keys"): the hub's real log behind
// its gRPC server, a member node served by `lineage member serve` (embedded default), real testbed models over
// HTTP. The member makes a key (file 0600, imported by the node), commits it through the hub, then serves a
// copy of its model watermarked with that key; the hub opens a session binding the commitment on that copy
// (LIKELY_DERIVED on the watermark test, with the extra watermark queries step on as it is by default) and one
// on the unwatermarked model (no accusation: the control).
// Everything the node said — CLI output, serve's log lines, session answers and progress, every log entry —
// is searched for the key.
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
  type RunMatchSessionResponse,
  RunMatchSessionResponseSchema,
  SignedHeaderSchema,
  SuspectSource,
  Verdict,
} from "@lineage/api";
import { Ed25519PrivateKey, newNonce, signEnvelope, signMessage } from "@lineage/crypto";
import { DEFAULT_VERDICT_POLICY } from "@lineage/fingerprint";
import {
  decodeLeaf,
  enrolmentRecord,
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

const dir = mkdtempSync(join(tmpdir(), "lineage-member-watermark-"));
const ORIGIN = "lineage.test/cli-watermark";
let models: TestbedServer;
let counts: ReturnType<NgramCounts["compile"]>;

before(async () => {
  const corpus = loadCorpus();
  const model = (name: string, from: number, size: number) => {
    const c = new NgramCounts(3);
    for (const s of corpus.public.slice(from, from + size)) c.addSequence(corpus.tokens(s));
    if (name === "m") counts = c.compile();
    return new TestbedModel(name, c.compile());
  };
  models = await serveTestbed({
    models: [model("m", 0, 3000), model("u1", 1000, 600), model("u2", 2000, 600)],
  });
  // Greedy answers of a small n-gram model are short and repetitive: the watermark test needs at least 50
  // distinct selected pairs in the confirmation half, hence a battery of ~1,000 short prompts.
  const prompts = [
    ...new Set(corpus.public.slice(5000, 6000).map((s) => corpus.tokens(s).slice(0, 3).join(" "))),
  ];
  const probes = prompts.map((prompt, i) => ({ id: `p${i}`, kind: "open", prompt }));
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

test("watermark keygen -> commit -> a session on a watermarked copy accuses with the extra watermark queries step on (the default), on the original does not; the key never leaves", {
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
  const said: string[] = []; // everything the node and the CLI said, for the privacy search
  const cli = async (args: string[]) => {
    const r = await run(args);
    said.push(r.out, r.err);
    return r;
  };

  const init = await cli([
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
  let copies: TestbedServer | undefined;
  const answers: Uint8Array[] = [];
  try {
    const prot = await cli(["member", "protect", ...node, "--model", "acme-chat", "--json"]);
    assert.equal(prot.code, EXIT.ok, prot.err);

    // keygen: the key file (0600), stored by the node; only the digest is printed.
    const kg = await cli([
      "member",
      "watermark",
      "keygen",
      "--id",
      "acme-wm-1",
      "--out",
      "wm.key",
      ...node,
      "--json",
    ]);
    assert.equal(kg.code, EXIT.ok, kg.err);
    assert.equal(lstatSync(join(dir, "wm.key")).mode & 0o777, 0o600);
    const keyHex = readFileSync(join(dir, "wm.key"), "utf8").trim();
    const key = new Uint8Array(Buffer.from(keyHex, "hex"));
    assert.equal(key.length, 32);
    const made = JSON.parse(kg.out) as { key_digest: string; gamma: number };
    assert.equal(made.gamma, 0.25);
    // Bad input, each refused with what is wrong.
    const again = await cli([
      "member",
      "watermark",
      "keygen",
      "--id",
      "acme-wm-1",
      "--out",
      "wm.key",
      ...node,
    ]);
    assert.equal(again.code, EXIT.usage);
    assert.match(again.err, /never overwritten/);
    const taken = await cli([
      "member",
      "watermark",
      "keygen",
      "--id",
      "acme-wm-1",
      "--out",
      "wm2.key",
      ...node,
    ]);
    assert.equal(taken.code, EXIT.failed);
    assert.match(taken.err, /watermark key acme-wm-1 exists already/);
    assert.throws(() => lstatSync(join(dir, "wm2.key")), "a key the node refused is not left on disk");
    const badGamma = await cli([
      "member",
      "watermark",
      "keygen",
      "--id",
      "acme-wm-2",
      "--out",
      "wm3.key",
      "--gamma",
      "1",
      ...node,
    ]);
    assert.equal(badGamma.code, EXIT.usage);
    const unknown = await cli(["member", "watermark", "commit", "--id", "nope", ...node]);
    assert.equal(unknown.code, EXIT.failed);
    assert.match(unknown.err, /no watermark key nope/);

    // commit: logged through the hub (member-signed), idempotent.
    const cm = await cli(["member", "watermark", "commit", "--id", "acme-wm-1", ...node, "--json"]);
    assert.equal(cm.code, EXIT.ok, cm.err);
    const committed = JSON.parse(cm.out) as { key_digest: string; log_index: number };
    assert.equal(committed.key_digest, made.key_digest);
    const cm2 = await cli(["member", "watermark", "commit", "--id", "acme-wm-1", ...node, "--json"]);
    assert.equal((JSON.parse(cm2.out) as { log_index: number }).log_index, committed.log_index);
    const leaf = decodeLeaf((await log.entry(committed.log_index))?.leaf ?? new Uint8Array());
    assert.equal(leaf.envelope.payloadType, PAYLOAD_TYPES.watermarkCommitment);

    // The member's model, served watermarked with its key: a copy of it is what a suspect would serve.
    copies = await serveTestbed({
      models: [new TestbedModel("wm-copy", counts, { watermark: { key, gamma: 0.25, delta: 2 } })],
    });
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
            probes: 1000,
            committedAt: timestampFromMs(Date.now()),
          }),
        ),
        memberKey,
      ),
    );
    const candidate = { memberId: "acme", modelId: "acme-chat", modelVersion: "" };
    const session = async (sessionId: string, baseUrl: string, modelName: string) => {
      const suspect = {
        suspectId: `suspect-${sessionId}`,
        target: { case: "endpoint" as const, value: { baseUrl, modelName } },
      };
      const seen = await log.appendSighting({ suspect, source: SuspectSource.FEED_ADAPTER });
      await log.checkpoint();
      const s = await log.appendSession({
        sessionId,
        suspect,
        candidate,
        referenceFingerprintHash: refHash,
        referenceFingerprintIndex: BigInt(ref.index),
        panel: ["u1", "u2"],
        populationId: "test/1",
        policy: policyToProto(DEFAULT_VERDICT_POLICY),
        watermarkCommitment: {
          commitmentId: "acme-wm-1",
          keyDigest: new Uint8Array(Buffer.from(committed.key_digest, "hex")),
          logIndex: BigInt(committed.log_index),
        },
        firstSeenIndex: BigInt(seen.index),
        comparisons: 1,
        epochId: "2026-12",
        confirmationSplit: "lineage-split/v1",
        deadline: timestampFromMs(Date.now() + 3_600_000),
      });
      await log.checkpoint();
      const opened = log.session(sessionId)?.opened;
      const stored = await log.entry(s.index);
      assert.ok(opened && stored);
      const request = create(MatchSessionRequestSchema, {
        sessionId,
        nonce: opened.nonce,
        ...(opened.deadline ? { deadline: opened.deadline } : {}),
        epochId: "2026-12",
        suspect,
        candidate,
        maxQueries: 100_000,
        sessionIndex: BigInt(s.index),
        opened: envelopeToProto(decodeLeaf(stored.leaf).envelope),
      });
      const unsigned = create(RunMatchSessionRequestSchema, { session: request });
      const h = { memberId: "hub", sequence: BigInt(Date.now()), nonce: newNonce(), issuedAtMs: Date.now() };
      const sig = signMessage(
        RunMatchSessionRequestSchema.typeName,
        h,
        toBinary(RunMatchSessionRequestSchema, unsigned),
        hubKey,
      );
      unsigned.header = create(SignedHeaderSchema, {
        memberId: "hub",
        keyId: sig.keyId,
        sequence: h.sequence,
        nonce: sig.header.nonce,
        issuedAtMs: BigInt(h.issuedAtMs),
        signature: sig.signature,
      });
      const client = createClient(MemberNode, address, insecureChannelCredentials(), {
        defaultTimeoutMs: 120_000,
      });
      let last: RunMatchSessionResponse | undefined;
      try {
        for await (const r of client.runMatchSession(unsigned)) {
          answers.push(toBinary(RunMatchSessionResponseSchema, r));
          last = r;
        }
      } finally {
        client.close();
      }
      const event = last?.event;
      assert.equal(event?.case, "answer");
      const outcome = event?.case === "answer" ? event.value.outcome : undefined;
      assert.equal(outcome?.case, "attestation", JSON.stringify(outcome).slice(0, 300));
      return fromBinary(
        AttestationStatementSchema,
        outcome?.case === "attestation" ? outcome.value.payload : new Uint8Array(),
      );
    };

    // The watermarked copy: the watermark test (key committed before the suspect was seen) accuses.
    const copy = await session("s-copy", copies.url, "wm-copy");
    const wm = copy.counts?.watermark;
    assert.ok(wm !== undefined, "the attestation carries the watermark counts");
    assert.equal(wm.gamma, 0.25);
    assert.ok(wm.selectedScored >= 50, `scored ${wm.selectedScored}`);
    assert.ok(wm.selectedGreen / wm.selectedScored > 0.5, `${wm.selectedGreen}/${wm.selectedScored} green`);
    assert.equal(copy.verdict, Verdict.LIKELY_DERIVED);
    assert.equal(copy.watermarkCommitment?.commitmentId, "acme-wm-1");
    // The extra watermark queries step (on by default, lineage-watermark-queries/3) is bound with the key and
    // asked only when the comparison is undecided without it: here the battery's own effect decides (the case
    // of fe864c5, whose diluted step counts under /1 replaced the battery's and made this copy INCONCLUSIVE),
    // so the suspect is not asked the 500 extra queries and the record says so (planned 0, empty counts).
    assert.equal(copy.watermarkQueries?.protocol, "lineage-watermark-queries/3");
    assert.equal(copy.watermarkQueries?.queriesPlanned, 0, "decided by the battery: the step is not asked");
    const cq = copy.counts?.watermarkQueries;
    assert.ok(cq !== undefined, "the attestation carries the step's (empty) counts beside the battery's");
    assert.equal(cq.allScored, 0);
    assert.equal(cq.selectedScored, 0);
    assert.equal(copy.backedBy, "watermark");
    // The control: the same model unwatermarked is near gamma and not accused.
    const plain = await session("s-plain", models.url, "m");
    const pw = plain.counts?.watermark;
    assert.ok(pw !== undefined && pw.selectedScored >= 50);
    assert.ok(pw.selectedGreen / pw.selectedScored < 0.45, `${pw.selectedGreen}/${pw.selectedScored} green`);
    assert.notEqual(plain.verdict, Verdict.LIKELY_DERIVED);
    // Undecided without the step: the control is asked its 500 queries, and their pairs are counted.
    assert.equal(plain.watermarkQueries?.queriesPlanned, 500, "the step is asked on the undecided control");
    const pq = plain.counts?.watermarkQueries;
    assert.ok(pq !== undefined && pq.allScored > pw.allScored, `the step's ${pq?.allScored} pairs`);
  } finally {
    ac.abort();
    assert.equal(await serving, EXIT.ok, serveIo.err());
    await copies?.close();
  }

  // Privacy: the key (hex, base64, raw bytes) is in nothing the node or the CLI said, nor in the hub's log.
  const key = new Uint8Array(Buffer.from(readFileSync(join(dir, "wm.key"), "utf8").trim(), "hex"));
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < log.size; i++) leaves.push((await log.entry(i))?.leaf ?? new Uint8Array());
  const text = [...said, serveIo.out(), serveIo.err()].join("\n");
  const bytes = Buffer.concat([...answers, ...leaves]);
  const hex = Buffer.from(key).toString("hex");
  for (const needle of [hex, hex.toUpperCase(), Buffer.from(key).toString("base64")]) {
    assert.ok(!text.includes(needle), "the key is not in any output or log line");
    assert.ok(!bytes.toString("latin1").includes(needle), "the key is not in any answer or log entry");
  }
  assert.equal(bytes.indexOf(Buffer.from(key)), -1, "the raw key is not in any answer or log entry");
  assert.ok(answers.length > 2 && leaves.length > 5, "the search covered the answers and the log");
  // Positive control: the search finds what is there.
  assert.ok(readFileSync(join(dir, "wm.key"), "utf8").includes(hex));
});
