/**
 * The protect flow end to end, as one suite run on each backend (CONVENTIONS 13): the embedded default
 * (PGlite + in-process bus) and real Postgres + NATS JetStream. A real node (startMemberNode) probes a real
 * testbed model over HTTP, and the tests check what it stored and what it announced — by verifying the
 * announcement's signatures like the hub would.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type ProtectModelResponse,
  ProtectPhase,
  SketchAnnouncementSchema,
  SketchSchema,
  SketchWithdrawalSchema,
} from "@lineage/api";
import type { BusEvent } from "@lineage/bus";
import { KeyRing, verifyEnvelope, verifyMessage } from "@lineage/crypto";
import { PROBE_BANDS, PROBE_DIGEST_BYTES, splitBattery } from "@lineage/fingerprint";
import { insecureChannelCredentials } from "@lineage/rpc";
import pg from "pg";
import {
  connectMemberNode,
  jsonLineLogger,
  memberSketchStream,
  readMemberNodeConfig,
  SKETCH_PAYLOAD_TYPE,
  startMemberNode,
  watchEpochs,
} from "../src/index.js";
import { modelEndpoint, nodeFiles, testBattery, testMemberId, testSchema } from "./protect-fixture.js";

/** Where the suite runs. */
export interface Backend {
  readonly name: string;
  /** Config fields for the database and bus of this backend (given a fresh schema name). */
  config(schema: string): Record<string, unknown>;
  readonly skip?: string;
  readonly pgUrl?: string;
}

/** Verifies a message's member-signed header like the hub does; returns the decoded message. */
export function verifyAnnouncement(data: Uint8Array, memberId: string, key: KeyRing) {
  const msg = fromBinary(SketchAnnouncementSchema, data);
  assert.ok(msg.header, "announcement has a header");
  const unsigned = toBinary(
    SketchAnnouncementSchema,
    create(SketchAnnouncementSchema, { ...msg, header: undefined }),
  );
  verifyMessage(
    "lineage.v1.SketchAnnouncement",
    {
      header: {
        memberId: msg.header.memberId,
        sequence: msg.header.sequence,
        nonce: msg.header.nonce,
        issuedAtMs: Number(msg.header.issuedAtMs),
      },
      payload: unsigned,
      keyId: msg.header.keyId,
      signature: msg.header.signature,
    },
    (m) => (m === memberId ? key : undefined),
  );
  assert.ok(msg.sketch);
  const env = {
    payloadType: msg.sketch.payloadType,
    payload: msg.sketch.payload,
    signatures: msg.sketch.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  };
  verifyEnvelope(env, { keys: key, payloadType: SKETCH_PAYLOAD_TYPE });
  return { msg, sketch: fromBinary(SketchSchema, msg.sketch.payload) };
}

async function dropSchema(url: string | undefined, schema: string) {
  if (url === undefined) return;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`drop schema if exists ${schema} cascade`);
  await c.end();
}

async function collect(it: AsyncIterable<ProtectModelResponse>): Promise<ProtectModelResponse[]> {
  const out: ProtectModelResponse[] = [];
  for await (const m of it) out.push(m);
  return out;
}

/** Registers the suite for `backend`. */
export function protectSuite(backend: Backend): void {
  const opts = backend.skip !== undefined ? { skip: backend.skip } : {};

  test(
    `[${backend.name}] protect: every probe stored once, signed sketch announced, re-publish deduplicated, listed, epoch rotation re-publishes, withdraw`,
    opts,
    async () => {
      const memberId = testMemberId();
      const schema = testSchema();
      const n = 30;
      await using endpoint = await modelEndpoint();
      await using files = nodeFiles(memberId, endpoint, testBattery(n));
      const config = await readMemberNodeConfig(files.writeConfig(backend.config(schema)), {});
      const lines: string[] = [];
      try {
        await using node = await startMemberNode({
          config,
          env: {},
          logger: jsonLineLogger((l) => lines.push(l)),
          epochPollMs: 0,
        });
        const seen: BusEvent[] = [];
        const sub = await node.deps.bus.subscribe(`lineage.sketch.${memberId}.>`, (e) => {
          seen.push(e);
        });
        using client = connectMemberNode(node.address, insecureChannelCredentials(), files.key, memberId);
        const ref = { memberId, modelId: "acme/chat.v2", modelVersion: "2026-01" };

        const progress = await collect(client.protect({ model: ref, adapter: "main" }));
        const phases = progress.map((p) => p.phase);
        assert.equal(phases[0], ProtectPhase.FETCHING_BATTERY);
        assert.ok(phases.includes(ProtectPhase.PROBING));
        assert.deepEqual(phases.slice(-3), [
          ProtectPhase.SKETCHING,
          ProtectPhase.PUBLISHING,
          ProtectPhase.DONE,
        ]);
        const last = progress.at(-1) as ProtectModelResponse;
        assert.equal(last.probesDone, n);
        assert.equal(last.probesTotal, n);
        assert.equal(last.sketchSha256.length, 32);
        const probing = progress.filter((p) => p.phase === ProtectPhase.PROBING).map((p) => p.probesDone);
        assert.deepEqual(
          probing,
          [...probing].sort((a, b) => a - b),
          "probe counts only grow",
        );
        assert.equal(endpoint.prompts.length, n, "one request per probe");

        const db = node.deps.store.db;
        const results = await db.selectFrom("probe_results").select(["probe_index"]).execute();
        assert.equal(results.length, n);
        assert.equal(new Set(results.map((r) => r.probe_index)).size, n);
        const run = await db.selectFrom("probe_runs").selectAll().executeTakeFirstOrThrow();
        assert.equal(run.state, "done");
        assert.equal(run.reference_hash?.length, 32);
        assert.ok(
          lines.some((l) => l.includes(Buffer.from(run.reference_hash as Uint8Array).toString("hex"))),
          "reference hash logged",
        );

        // The announcement: on the model's subject, header and envelope signed by the member's key.
        await waitFor(() => seen.length >= 1);
        const ann = seen[0] as BusEvent;
        assert.equal(ann.subject, `lineage.sketch.${memberId}.acme/chat~2Ev2`);
        const ring = new KeyRing([files.key.publicKey]);
        const { msg, sketch } = verifyAnnouncement(ann.data, memberId, ring);
        assert.equal(msg.header?.memberId, memberId);
        assert.equal(
          createHash("sha256")
            .update(msg.sketch?.payload as Uint8Array)
            .digest("hex"),
          hex(last.sketchSha256),
        );
        assert.equal(sketch.epochId, "e1");
        assert.equal(sketch.subject.case, "memberModel");
        assert.deepEqual(
          sketch.subject.case === "memberModel"
            ? { ...sketch.subject.value, $typeName: undefined }
            : undefined,
          { ...ref, $typeName: undefined },
        );
        // Only the retrieval part of the battery (lineage-split/v1): confirmation probes never reach the hub.
        const wireIds = Array.from({ length: n }, (_, i) => ({
          id: String(i),
          kind: "open" as const,
          prompt: "",
        }));
        const retrieval = splitBattery({ epoch: "e1", probes: wireIds }, "e1").retrieval.probes.map((p) =>
          Number(p.id),
        );
        // Version 2 lists no edge-case probe (its shingles feed only the coarse signature: docs/privacy.md).
        const kinds = testBattery(n).probes.map((p) => p.kind);
        const listedProbes = retrieval.filter((i) => kinds[i] !== "edge");
        assert.ok(
          retrieval.length > 0 && retrieval.length < n,
          `${retrieval.length} of ${n} probes in retrieval`,
        );
        assert.deepEqual(
          sketch.probes.map((p) => p.probeIndex),
          listedProbes,
          "one entry per retrieval probe that is not an edge case, by battery index",
        );
        assert.ok(sketch.probes.filter((p) => p.bandDigests.length > 0).length > retrieval.length / 2);
        const wrong = sketch.wrongAnswers.map((w) => Buffer.from(w.digest));
        assert.deepEqual(
          wrong,
          [...wrong].sort(Buffer.compare),
          "wrong answers in the domain's canonical order",
        );
        for (const p of sketch.probes) {
          assert.ok(p.probeIndex < n);
          assert.ok(
            [0, PROBE_BANDS].includes(p.bandDigests.length),
            "all bands, or none for an empty response",
          );
          assert.ok(p.bandDigests.every((d) => d.length === PROBE_DIGEST_BYTES));
        }
        const stream = memberSketchStream(memberId).name;
        assert.equal((await node.deps.bus.streamInfo(stream)).messages, 1);

        // Protect again: nothing probed again, the same sketch re-announced and deduplicated by its msg id.
        const again = await collect(client.protect({ model: ref, adapter: "main" }));
        assert.equal(hex(again.at(-1)?.sketchSha256), hex(last.sketchSha256));
        assert.equal(endpoint.prompts.length, n, "no probe asked twice");
        assert.equal((await node.deps.bus.streamInfo(stream)).messages, 1, "re-publish deduplicated");

        const listed = await client.listModels();
        assert.equal(listed.models.length, 1);
        assert.equal(listed.models[0]?.model?.modelId, ref.modelId);
        assert.equal(listed.models[0]?.probesDone, n);
        assert.equal(listed.models[0]?.withdrawn, false);

        // Epoch rotation: a new battery; the watcher re-protects and publishes the e2 sketch.
        const watcher = watchEpochs(node.deps, node.protect, 3_600_000);
        await watcher.check();
        assert.equal(watcher.epoch, "e1");
        files.writeBattery(testBattery(n, "e2", 6000));
        await watcher.check();
        await watcher.stop();
        assert.equal(watcher.epoch, "e2");
        assert.equal((await node.deps.bus.streamInfo(stream)).messages, 2);
        const e2 = await db.selectFrom("published_sketches").select("epoch_id").orderBy("epoch_id").execute();
        assert.deepEqual(
          e2.map((r) => r.epoch_id),
          ["e1", "e2"],
        );

        // Withdraw: one signed withdrawal per published epoch; the model is then listed as withdrawn.
        const w = await client.withdraw({ model: ref, reason: "model retired" });
        assert.deepEqual([...w.epochIds].sort(), ["e1", "e2"]);
        await waitFor(() => seen.filter((e) => e.subject.endsWith(".withdrawn")).length === 2);
        const wd = seen.find((e) => e.subject.endsWith(".withdrawn")) as BusEvent;
        const withdrawal = fromBinary(SketchWithdrawalSchema, wd.data);
        assert.equal(withdrawal.model?.modelId, ref.modelId);
        assert.equal(withdrawal.reason, "model retired");
        assert.equal(wd.headers["Lineage-Kind"], "sketch-withdrawal");
        assert.deepEqual((await client.withdraw({ model: ref, reason: "again" })).epochIds, []);
        assert.equal((await client.listModels()).models[0]?.withdrawn, true);
        await sub.stop();
      } finally {
        await dropSchema(backend.pgUrl, schema);
      }
    },
  );
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("hex");

/** Polls `cond` until it holds (5 s). */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
