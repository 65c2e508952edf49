// The epoch battery from the hub (GetEpochBattery): a node configured with a hub and no battery files asks
// it with a member-signed header and trusts the answer only when the hub's signature verifies. The hub here
// is a real gRPC server with real keys serving just that method (it checks the member's signature as the
// hub does); the node then protects a real testbed model on the hub's battery.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EpochAction,
  EpochBatterySchema,
  EpochStatementSchema,
  type GetEpochBatteryRequest,
  GetEpochBatteryRequestSchema,
  GetEpochBatteryResponseSchema,
  Hub,
  type LogCanaryCommitmentRequest,
  LogEntryKind,
  LogLeafSchema,
  ProbeKind,
  ProbeSchema,
  type ReferenceFingerprintCommitment,
  ReferenceFingerprintCommitmentSchema,
  SignedHeaderSchema,
} from "@lineage/api";
import {
  Ed25519PrivateKey,
  KeyRing,
  newNonce,
  sha256,
  signEnvelope,
  signMessage,
  verifyEnvelope,
  verifyMessage,
} from "@lineage/crypto";
import {
  addService,
  createServer,
  insecureChannelCredentials,
  insecureServerCredentials,
  type RpcError,
  silentRpcLogger,
  withUnimplemented,
} from "@lineage/rpc";
import {
  connectMemberNode,
  loggedReference,
  readMemberNodeConfig,
  silentNodeLogger,
  startMemberNode,
} from "../src/index.js";
import { EPOCH_STATEMENT_PAYLOAD_TYPE, epochKeyCommitmentOf } from "../src/protect/epoch-entry-check.js";
import { modelEndpoint, nodeFiles, testBattery } from "./protect-fixture.js";

type Mode = "good" | "forged" | "stale" | "unordered" | "no-entry" | "other-key" | "other-battery";

/**
 * The epoch's log entry as the hub logs it (EpochStatement, kind 9) for `probes` and `epochKey`: the digest of
 * the battery's canonical encoding, a commitment to the key, the sketch parameters members build.
 */
function epochEntry(
  hubKey: Ed25519PrivateKey,
  epochId: string,
  probes: MessageInitShape<typeof ProbeSchema>[],
  epochKey: Uint8Array,
) {
  const batteryDigest = sha256(
    toBinary(
      EpochBatterySchema,
      create(EpochBatterySchema, { probes: probes.map((p) => create(ProbeSchema, p)) }),
    ),
  );
  const st = create(EpochStatementSchema, {
    action: EpochAction.CREATE,
    epoch: {
      epochId,
      number: 1n,
      notBefore: timestampFromMs(Date.now()),
      notAfter: timestampFromMs(Date.now() + 86_400_000),
      batteryDigest,
    },
    probeCount: probes.length,
    sketchParameters: {
      version: 2,
      shingleSize: 2,
      probeRows: 32,
      probeRowsPerBand: 1,
      probeDigestBytes: 4,
      coarseBands: 512,
      coarseRowsPerBand: 1,
      coarseDigestBytes: 8,
      minAgreeingBands: 19,
    },
    epochKeyCommitment: epochKeyCommitmentOf(epochId, epochKey),
    issuedAt: timestampFromMs(Date.now()),
  });
  const envelope = signEnvelope(EPOCH_STATEMENT_PAYLOAD_TYPE, toBinary(EpochStatementSchema, st), hubKey);
  const leaf = toBinary(
    LogLeafSchema,
    create(LogLeafSchema, {
      kind: LogEntryKind.EPOCH,
      envelope: { ...envelope, signatures: [...envelope.signatures] },
      integratedAt: timestampFromMs(Date.now()),
    }),
  );
  return { index: 3n, leaf };
}

async function fakeHub(memberKey: Ed25519PrivateKey, hubKey: Ed25519PrivateKey, mode: { current: Mode }) {
  const battery = testBattery(12, "2026-12");
  const epochKey = new Uint8Array(32).fill(9);
  const seen: bigint[] = [];
  const commitments: ReferenceFingerprintCommitment[] = [];
  const server = createServer({ logger: silentRpcLogger });
  addService(
    server,
    Hub,
    withUnimplemented(Hub, {
      async logCanaryCommitment(req: LogCanaryCommitmentRequest) {
        // As the hub: the member-signed envelope must verify; its payload is what gets logged.
        const env = req.commitment;
        assert.ok(env);
        verifyEnvelope(
          {
            payloadType: env.payloadType,
            payload: env.payload,
            signatures: env.signatures.map((x) => ({ keyid: x.keyid, sig: x.sig })),
          },
          {
            keys: new KeyRing([memberKey.publicKey]),
            payloadType: "application/vnd.lineage.reference-fingerprint.v1+proto",
          },
        );
        commitments.push(fromBinary(ReferenceFingerprintCommitmentSchema, env.payload));
        return { logEntry: { index: BigInt(40 + commitments.length), leafHash: new Uint8Array(32) } };
      },
      async getEpochBattery(req: GetEpochBatteryRequest) {
        // As the hub: the member's header must verify over the request without it.
        const h = req.header;
        assert.ok(h);
        verifyMessage(
          GetEpochBatteryRequestSchema.typeName,
          {
            header: {
              memberId: h.memberId,
              sequence: h.sequence,
              nonce: h.nonce,
              issuedAtMs: Number(h.issuedAtMs),
            },
            payload: toBinary(
              GetEpochBatteryRequestSchema,
              create(GetEpochBatteryRequestSchema, { ...req, header: undefined }),
            ),
            keyId: h.keyId,
            signature: h.signature,
          },
          () => new KeyRing([memberKey.publicKey]),
        );
        seen.push(h.sequence);
        const probes = battery.probes.map((p, i) => ({
          index: mode.current === "unordered" ? (i + 1) % battery.probes.length : i,
          kind:
            p.kind === "edge"
              ? ProbeKind.EDGE_CASE
              : p.kind === "open"
                ? ProbeKind.OPEN_ENDED
                : ProbeKind.SHORT_COMPLETION,
          prompt: p.prompt,
          referenceAnswer: p.reference ?? "",
          maxTokens: 40 + i,
          topLogprobs: p.kind === "completion" ? 3 : 0,
        }));
        const logged =
          mode.current === "other-battery" ? probes.map((p) => ({ ...p, prompt: `${p.prompt}!` })) : probes;
        const res = create(GetEpochBatteryResponseSchema, {
          battery: { epoch: { epochId: battery.epoch, number: 1n }, probes },
          epochKey,
          ...(mode.current === "no-entry"
            ? {}
            : {
                epochEntry: epochEntry(
                  hubKey,
                  battery.epoch,
                  logged,
                  mode.current === "other-key" ? new Uint8Array(32).fill(7) : epochKey,
                ),
              }),
        });
        const signer = mode.current === "forged" ? Ed25519PrivateKey.generate() : hubKey;
        const issuedAtMs = mode.current === "stale" ? Date.now() - 3_600_000 : Date.now();
        const header = { memberId: "hub", sequence: BigInt(seen.length), nonce: newNonce(), issuedAtMs };
        const signed = signMessage(
          GetEpochBatteryResponseSchema.typeName,
          header,
          toBinary(GetEpochBatteryResponseSchema, res),
          signer,
        );
        res.header = create(SignedHeaderSchema, {
          memberId: "hub",
          keyId: hubKey.keyId,
          sequence: header.sequence,
          nonce: signed.header.nonce,
          issuedAtMs: BigInt(issuedAtMs),
          signature: signed.signature,
        });
        return res;
      },
    }),
  );
  const port = await server.listen("127.0.0.1:0", insecureServerCredentials());
  return { address: `127.0.0.1:${port}`, seen, commitments, close: () => server.shutdown(100) };
}

test("battery from the hub: a verified answer is probed and sketched; forged, stale and malformed answers are refused before probing", async () => {
  await using endpoint = await modelEndpoint();
  await using files = nodeFiles("acme", endpoint, testBattery(3));
  const hubKey = Ed25519PrivateKey.generate();
  writeFileSync(join(files.dir, "hub.pub.pem"), hubKey.publicKey.toPem());
  const mode = { current: "good" as Mode };
  const hub = await fakeHub(files.key, hubKey, mode);
  try {
    const config = await readMemberNodeConfig(
      files.writeConfig({ battery: undefined, hub: { address: hub.address, key_files: ["hub.pub.pem"] } }),
      {},
    );
    await using node = await startMemberNode({ config, env: {}, logger: silentNodeLogger, epochPollMs: 0 });
    using client = connectMemberNode(node.address, insecureChannelCredentials(), files.key, "acme");
    const model = { memberId: "acme", modelId: "from-hub" };
    let last: { probesDone: number; probesTotal: number } | undefined;
    for await (const p of client.protect({ model, adapter: "main" })) last = p;
    assert.deepEqual([last?.probesDone, last?.probesTotal], [12, 12]);
    assert.equal(endpoint.prompts.length, 12);
    // The battery's per-probe settings are what the model was asked with.
    const asked = new Map(endpoint.requests.map((r, i) => [endpoint.prompts[i], r]));
    testBattery(12, "2026-12").probes.forEach((p, i) => {
      const r = asked.get(p.prompt);
      assert.equal(r?.max_tokens, 40 + i, `probe ${i} max_tokens`);
      if (p.kind === "completion") assert.equal(r?.logprobs, 3, `probe ${i} top logprobs`);
    });
    const run = await node.deps.store.db
      .selectFrom("probe_runs")
      .select(["epoch_id", "reference_hash"])
      .executeTakeFirstOrThrow();
    assert.equal(run.epoch_id, "2026-12");
    // The reference fingerprint hash was logged through the hub, once, before the sketch went out.
    assert.equal(hub.commitments.length, 1);
    const c = hub.commitments[0];
    assert.deepEqual([c?.memberId, c?.modelId, c?.epochId, c?.probes], ["acme", "from-hub", "2026-12", 12]);
    assert.equal(
      Buffer.from(c?.fingerprintHash ?? []).toString("hex"),
      Buffer.from(run.reference_hash ?? []).toString("hex"),
    );
    assert.equal((await loggedReference(node.deps, "from-hub", "2026-12"))?.logIndex, 41n);
    for await (const _ of client.protect({ model, adapter: "main" })) {
      // re-publish
    }
    assert.equal(hub.commitments.length, 1, "not logged twice");
    assert.ok(
      hub.seen.length >= 1 && hub.seen.every((s, i) => i === 0 || s > (hub.seen[i - 1] as bigint)),
      "sequences increase",
    );

    for (const [m, status] of [
      ["forged", 16], // UNAUTHENTICATED (bad_signature)
      ["stale", 9], // FAILED_PRECONDITION (stale)
      ["unordered", 3], // INVALID_ARGUMENT (malformed)
      // The battery or key is not what the hub logged for the epoch, or no log entry is shown.
      ["no-entry", 3],
      ["other-key", 3],
      ["other-battery", 3],
    ] as const) {
      mode.current = m;
      await assert.rejects(
        async () => {
          for await (const _ of client.protect({
            model: { memberId: "acme", modelId: `m-${m}` },
            adapter: "main",
          })) {
            // drain
          }
        },
        (e: RpcError) => {
          assert.equal(e.grpcStatus, status, `${m}: ${e.code} ${e.message}`);
          return true;
        },
      );
    }
    assert.equal(endpoint.prompts.length, 12, "nothing probed on a refused battery");
  } finally {
    await hub.close();
  }
});
