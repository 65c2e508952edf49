// Two `lineage hub serve` processes on one Postgres schema and one NATS JetStream (a private nats-server, so no
// other suite's streams meet the hub's fixed stream and consumer names): both join the one durable sketch
// consumer, and every sketch a member publishes on NATS is indexed exactly once between them (rows in
// Postgres, each replica's own count printed at stop). Needs Postgres and the nats-server binary: a visible
// skip outside CI, a failure under any truthy CI.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  EnrolMemberRequestSchema,
  GetEpochBatteryRequestSchema,
  ProbeKind,
  SketchAnnouncementSchema,
  SketchSchema,
} from "@lineage/api";
import { connectNatsBus } from "@lineage/bus";
import { Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import {
  buildSketch,
  createSketchContext,
  type Probe,
  parseReplay,
  probeModel,
  ReplayAdapter,
  sketchInputsFromFingerprint,
  splitBattery,
} from "@lineage/fingerprint";
import {
  enrolmentRecord,
  envelopeToProto,
  SECRETARIAT,
  SKETCH_PAYLOAD_TYPE,
  signHeader,
  signMembership,
  signRequest,
  sketchToProto,
} from "@lineage/hub";
import { type HubDatabase, openTestStore, postgresTestTarget } from "@lineage/store";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";
import { freePort, spawnHub } from "./hub-serve-world.js";

const ORIGIN = "lineage.test/hub-replicas";
const natsBin = process.env.LINEAGE_TEST_NATS_SERVER_BIN ?? "nats-server";
const pg = await postgresTestTarget();
const natsAvailable = spawnSync(natsBin, ["--version"], { encoding: "utf8" }).status === 0;
const reason =
  pg.skip ?? (natsAvailable ? undefined : `the nats-server binary (${natsBin}) is not available`);
const CI_FALSE = new Set(["", "0", "false", "no", "off"]);
const inCi = process.env.CI !== undefined && !CI_FALSE.has(process.env.CI.trim().toLowerCase());
if (reason !== undefined && inCi) throw new Error(`${reason} (CI is set: this test must run)`);

test("two hub serve replicas on Postgres + NATS share the sketch consumer: each sketch indexed once", {
  skip: reason ?? false,
}, async () => {
  const url = (pg as { url: string }).url;
  const dir = mkdtempSync(join(tmpdir(), "lineage-hub-replicas-"));
  const store = await openTestStore<HubDatabase>("postgres", { url });
  const schema = store.schema as string;
  const natsPort = await freePort();
  const nats: ChildProcess = spawn(natsBin, ["-a", "127.0.0.1", "-p", String(natsPort), "-js", "-sd", dir], {
    stdio: "ignore",
  });
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  const cli = async (args: string[]) => {
    const io = captureIo({ cwd: dir });
    const code = await main(args, io);
    return { code, out: io.out(), err: io.err() };
  };
  const hubKey = Ed25519PrivateKey.generate();
  writeFileSync(join(dir, "hub.pem"), hubKey.toPem(), { mode: 0o600 });
  const db = ["--pg", url, "--schema", schema];
  try {
    const migrated = await cli(["hub", "migrate", ...db]);
    assert.equal(migrated.code, EXIT.ok, migrated.err);
    const probes = Array.from({ length: 16 }, (_, index) => ({
      index,
      kind: "open_ended",
      prompt: `Describe thing number ${index}.`,
      max_tokens: 32,
    }));
    writeFileSync(join(dir, "battery.json"), JSON.stringify({ probes }));
    const created = await cli([
      "hub",
      "epoch",
      "create",
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      ...db,
      "--epoch-id",
      "replicas-e1",
      "--battery",
      "battery.json",
    ]);
    assert.equal(created.code, EXIT.ok, created.err);
    const serve = ["--key", "hub.pem", "--origin", ORIGIN, ...db, "--nats", natsUrl];
    await using a = await spawnHub(dir, [...serve, "--listen", "127.0.0.1:0"]);
    await using b = await spawnHub(dir, [...serve, "--listen", "127.0.0.1:0"]);

    // A member, enrolled through replica a by the secretariat; its sketches of N models go out on NATS.
    const key = Ed25519PrivateKey.generate();
    const now = Date.now();
    await a.client.enrolMember(
      signRequest(
        EnrolMemberRequestSchema,
        create(EnrolMemberRequestSchema, {
          memberId: "acme",
          displayName: "Acme",
          record: envelopeToProto(
            signMembership(
              enrolmentRecord("acme", "Acme", key.publicKey, now - 60_000, { effectiveAtMs: now }),
              [key],
            ),
          ),
        }),
        { memberId: SECRETARIAT, key: hubKey },
      ),
    );
    const res = await b.client.getEpochBattery(
      signRequest(GetEpochBatteryRequestSchema, create(GetEpochBatteryRequestSchema, {}), {
        memberId: "acme",
        key,
      }),
    );
    const epochId = res.battery?.epoch?.epochId ?? "";
    const all = (res.battery?.probes ?? []).map(
      (p, i): Probe => ({
        id: String(i),
        kind: p.kind === ProbeKind.OPEN_ENDED ? "open" : "completion",
        prompt: p.prompt,
      }),
    );
    const battery = splitBattery({ epoch: epochId, probes: all }, epochId).retrieval;
    const bus = await connectNatsBus({ servers: natsUrl, name: "replicas-test-member" });
    const total = 200;
    try {
      for (let i = 0; i < total; i++) {
        // Each model answers every probe in its own words (recorded outputs through the engine's replay adapter).
        const lines = battery.probes.map((p) =>
          JSON.stringify({
            id: p.id,
            prompt: p.prompt,
            output: `model ${i} says ${p.prompt} in words ${i * 7 + 3} and ${i % 13}`,
          }),
        );
        const fp = await probeModel(
          new ReplayAdapter(parseReplay(`${lines.join("\n")}\n`), `m${i}`),
          battery,
        );
        const sketch = buildSketch(
          sketchInputsFromFingerprint(battery, fp),
          createSketchContext(res.epochKey, epochId),
        );
        const model = { memberId: "acme", modelId: `model-${i}`, modelVersion: "1" };
        const env = signEnvelope(
          SKETCH_PAYLOAD_TYPE,
          toBinary(SketchSchema, sketchToProto(sketch, model, Date.now())),
          key,
        );
        const body = create(SketchAnnouncementSchema, { sketch: envelopeToProto(env) });
        const header = signHeader(
          SketchAnnouncementSchema.typeName,
          toBinary(SketchAnnouncementSchema, body),
          key,
          "acme",
          BigInt(i + 1),
          Date.now(),
        );
        await bus.publish(
          `lineage.sketch.acme.model-${i}`,
          toBinary(SketchAnnouncementSchema, { ...body, header }),
          { msgId: `acme-${i + 1}` },
        );
      }
    } finally {
      await bus.close();
    }
    const rows = async () =>
      Number(
        (
          await store.db
            .selectFrom("sketches")
            .select((eb) => eb.fn.countAll<string>().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const end = Date.now() + 60_000;
    while ((await rows()) < total && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    assert.equal(await rows(), total, `a: ${a.stderr()}\nb: ${b.stderr()}`);
    assert.equal(await a.stop(), 0, a.stderr());
    assert.equal(await b.stop(), 0, b.stderr());
    const counts = [a.stderr(), b.stderr()].map((e) => {
      const m = /ingested (\d+) sketches \((\d+) duplicates, (\d+) rejected\)/.exec(e);
      assert.ok(m, e);
      return { indexed: Number(m[1]), duplicates: Number(m[2]), rejected: Number(m[3]) };
    });
    console.log(`# replica a indexed ${counts[0]?.indexed}, replica b ${counts[1]?.indexed} of ${total}`);
    assert.equal((counts[0]?.indexed ?? 0) + (counts[1]?.indexed ?? 0), total);
    assert.ok((counts[0]?.indexed ?? 0) > 0 && (counts[1]?.indexed ?? 0) > 0, "both replicas took work");
    assert.equal((counts[0]?.duplicates ?? 0) + (counts[1]?.duplicates ?? 0), 0);
    assert.equal((counts[0]?.rejected ?? 0) + (counts[1]?.rejected ?? 0), 0);
  } finally {
    nats.kill("SIGTERM");
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
