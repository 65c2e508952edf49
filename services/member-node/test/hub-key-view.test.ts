/**
 * A member node configured with the hub's ROOT key only learns the hub's purpose keys from the log's hub key
 * statements (src/hub-key-view.ts) on a REAL hub (TransparencyLog on PGlite behind the hub's gRPC server): a
 * session signed by the delegated sessions key is accepted; one signed by the membership key, by the root after
 * sessions was delegated, or by the sessions key after its retirement is refused (bad_signature, saying why);
 * a hub that serves the log with a statement altered or left out is caught by the checkpoint's root.
 * A logged root rotation is followed (checked by the auditor's code) and saved, so a restarted node refuses a
 * history without it; a forged rotation (not signed by the trusted root) is refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { clone, create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  Hub,
  HubKeyAction,
  HubKeyPurpose,
  HubKeyStatementSchema,
  LogEntryKind,
  LogLeafSchema,
  MatchSessionRequestSchema,
  type SessionOpened,
  SessionOpenedSchema,
  SuspectSource,
} from "@lineage/api";
import {
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatVerifierKey,
  MerkleTree,
  parseVerifierKey,
  signCheckpoint,
  signEnvelope,
} from "@lineage/crypto";
import { DEFAULT_VERDICT_POLICY } from "@lineage/fingerprint";
import {
  envelopeToProto,
  PAYLOAD_TYPES,
  rootRotationEnvelope,
  startHubServer,
  TransparencyLog,
} from "@lineage/hub";
import { createClient, insecureChannelCredentials, insecureServerCredentials } from "@lineage/rpc";
import {
  type HubDatabase,
  hubMigrations,
  type MemberNodeDatabase,
  memberNodeMigrations,
  openTestStore,
} from "@lineage/store";
import { type HubLogClient, openHubCheckpoint } from "../src/canaries/hub-log.js";
import { HubKeyView, nodeMetaRootStore } from "../src/hub-key-view.js";
import { isMemberNodeError } from "../src/member-node-error.js";
import { checkSessionRequest, SESSION_PAYLOAD_TYPE } from "../src/session-check.js";
import { policyToProto } from "../src/verdict-proto.js";

const ORIGIN = "lineage.test/hub-key-view";
const refused = (re: RegExp) => (e: unknown) => isMemberNodeError(e, "bad_signature") && re.test(e.message);

function opened(nowMs: number): SessionOpened {
  return create(SessionOpenedSchema, {
    sessionId: "s-1",
    nonce: new Uint8Array(32).fill(9),
    suspect: { suspectId: "sus-1" },
    candidate: { memberId: "alice", modelId: "model-a", modelVersion: "1" },
    referenceFingerprintHash: new Uint8Array(32).fill(3),
    referenceFingerprintIndex: 0n,
    panel: ["p1", "p2"],
    populationId: "pop",
    seed: new Uint8Array(32).fill(5),
    seedCheckpointSize: 1n,
    policy: policyToProto(DEFAULT_VERDICT_POLICY),
    firstSeenIndex: 1n,
    comparisons: 1,
    epochId: "e1",
    openedAt: timestampFromMs(nowMs),
    deadline: timestampFromMs(nowMs + 600_000),
  });
}

/** A session request whose SessionOpened is signed by `signer`, claiming log index `index`. */
function request(o: SessionOpened, signer: Ed25519PrivateKey, index: number) {
  const env = signEnvelope(SESSION_PAYLOAD_TYPE, toBinary(SessionOpenedSchema, o), signer);
  const c = clone(SessionOpenedSchema, o);
  return create(MatchSessionRequestSchema, {
    sessionId: o.sessionId,
    nonce: o.nonce,
    ...(o.deadline === undefined ? {} : { deadline: o.deadline }),
    epochId: o.epochId,
    ...(c.suspect === undefined ? {} : { suspect: c.suspect }),
    ...(c.candidate === undefined ? {} : { candidate: c.candidate }),
    maxQueries: 1000,
    sessionIndex: BigInt(index),
    opened: { payloadType: env.payloadType, payload: env.payload, signatures: [...env.signatures] },
  });
}

test("a node holding only the hub's root learns the sessions key from the log and refuses retired or wrong-purpose keys", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const root = Ed25519PrivateKey.generate();
  const keys = {
    membership: Ed25519PrivateKey.generate(),
    sessions: Ed25519PrivateKey.generate(),
    countersign: Ed25519PrivateKey.generate(),
  };
  await using log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey: root,
    purposeKeys: keys,
    checkpointIntervalMs: 3_600_000,
    checkpointEvery: 1_000_000,
  });
  const server = await startHubServer({
    log,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
  });
  const client = createClient(Hub, server.address, insecureChannelCredentials(), {
    defaultTimeoutMs: 20_000,
  });
  try {
    const trust = { origin: ORIGIN, verifier: parseVerifierKey(log.verifierKey) };
    await log.appendSighting({ suspect: { suspectId: "sus-1" }, source: SuspectSource.FEED_ADAPTER });
    await log.checkpoint();
    const view = new HubKeyView(root.publicKey, ORIGIN);
    await view.sync(client, trust);
    assert.equal(view.size, log.size);
    assert.equal(view.currentKey("sessions")?.keyId, keys.sessions.keyId, "learned from the delegation");
    const nowMs = Date.now();
    const at = log.size; // a session logged next
    const base = { memberId: "alice", hubKey: root.publicKey, nowMs, hubKeys: view };
    assert.equal(checkSessionRequest(request(opened(nowMs), keys.sessions, at), base).index, at);
    assert.throws(
      () => checkSessionRequest(request(opened(nowMs), keys.membership, at), base),
      refused(/membership key, not its sessions key/),
    );
    assert.throws(
      () => checkSessionRequest(request(opened(nowMs), root, at), base),
      refused(/root key, not the sessions key/),
    );
    assert.throws(
      () => checkSessionRequest(request(opened(nowMs), Ed25519PrivateKey.generate(), at), base),
      refused(/not signed by a hub key the log names/),
    );
    // The hub retires its sessions key: a session signed by it after the retirement is refused; one logged
    // before it (validity by log position) still checks.
    const retired = await log.retire("sessions", "compromised");
    await log.checkpoint();
    await view.sync(client, trust);
    assert.equal(view.currentKey("sessions"), undefined);
    assert.throws(
      () => checkSessionRequest(request(opened(nowMs), keys.sessions, retired.index + 1), base),
      refused(/retired or replaced/),
    );
    assert.equal(checkSessionRequest(request(opened(nowMs), keys.sessions, at), base).index, at);

    // A hub serving the log with the retirement's leaf swapped for another entry's: the leaves no longer hash
    // to its signed checkpoint, and a fresh node learns nothing from it.
    const lying: HubLogClient = {
      ...client,
      getCheckpoint: (req, o) => client.getCheckpoint(req, o),
      async *getLogEntries(req, o) {
        for await (const r of client.getLogEntries(req, o)) {
          if (r.entry !== undefined && Number(r.entry.index) === retired.index) {
            const other = await log.entry(retired.index - 1);
            yield { ...r, entry: { ...r.entry, leaf: other?.leaf ?? new Uint8Array(0) } };
          } else yield r;
        }
      },
    } as HubLogClient;
    const fresh = new HubKeyView(root.publicKey, ORIGIN);
    await assert.rejects(fresh.sync(lying, trust), refused(/do not hash to its signed checkpoint/));
    assert.equal(fresh.size, 0, "nothing kept from a sync that failed");
    // A node given a key that is not the log's root cannot accept the statements the real root signed.
    const wrongRoot = new HubKeyView(Ed25519PrivateKey.generate().publicKey, ORIGIN);
    await assert.rejects(wrongRoot.sync(client, trust), refused(/not signed by the hub's root key/));
  } finally {
    client.close();
    await server.close();
  }
});

/** An entry of no interest to the view (a leaf of another kind). */
const filler = (i: number) =>
  toBinary(
    LogLeafSchema,
    create(LogLeafSchema, { kind: LogEntryKind.SUSPECT_SIGHTING, integratedAt: timestampFromMs(i) }),
  );

/** A hub serving a log of `leaves` under `note` (its GetCheckpoint and GetLogEntries; nothing else is called). */
function servedLog(leaves: readonly Uint8Array[], note: string): HubLogClient {
  return {
    getCheckpoint: async () => ({ checkpoint: { signedNote: new TextEncoder().encode(note) } }),
    async *getLogEntries(req: { start: bigint; end: bigint }) {
      for (let i = Number(req.start); i < Number(req.end); i++)
        yield { entry: { index: BigInt(i), leaf: leaves[i] as Uint8Array } };
    },
  } as unknown as HubLogClient;
}

test("a node follows a logged root rotation, saves it, and after a restart refuses a history without it", async () => {
  await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
  await hubStore.migrate(hubMigrations);
  await using nodeStore = await openTestStore<MemberNodeDatabase>("pglite-memory");
  await nodeStore.migrate(memberNodeMigrations);
  const r0 = Ed25519PrivateKey.generate();
  const r1 = Ed25519PrivateKey.generate();
  const sessions = Ed25519PrivateKey.generate();
  await using log = await TransparencyLog.open({
    store: hubStore,
    origin: ORIGIN,
    hubKey: r0,
    purposeKeys: { sessions },
    checkpointIntervalMs: 3_600_000,
    checkpointEvery: 1_000_000,
  });
  const server = await startHubServer({
    log,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
  });
  const client = createClient(Hub, server.address, insecureChannelCredentials(), {
    defaultTimeoutMs: 20_000,
  });
  try {
    // The node's configuration names R0 only, for ever.
    const trust = { origin: ORIGIN, verifier: parseVerifierKey(log.verifierKey) };
    const roots = nodeMetaRootStore(nodeStore, ORIGIN);
    await log.appendSighting({ suspect: { suspectId: "sus-1" }, source: SuspectSource.FEED_ADAPTER });
    await log.checkpoint();
    const view = new HubKeyView(r0.publicKey, ORIGIN, { roots });
    await view.sync(client, trust);
    assert.equal(view.currentRoot.keyId, r0.keyId);
    const rotation = await log.rotateRoot(r1, "scheduled");
    await log.appendSighting({ suspect: { suspectId: "sus-2" }, source: SuspectSource.FEED_ADAPTER });
    await log.checkpoint();
    // The checkpoint is R1's now: the node opens it because the entries it covers show R0's handover.
    await view.sync(client, trust);
    assert.equal(view.currentRoot.keyId, r1.keyId);
    assert.equal(view.rootAt(rotation.index).keyId, r0.keyId, "R0 signs up to the rotation's own position");
    assert.equal(view.currentKey("sessions")?.keyId, sessions.keyId, "delegations made by R0 still stand");
    assert.deepEqual(
      (await roots.load()).map((r) => [r.index, r.key.keyId]),
      [[rotation.index, r1.keyId]],
    );
    // The node's other checkpoint reads (canaries, watermarks, sessions: hub-log.ts) open the new root's
    // checkpoints with the rotations the view followed, and refuse the old root for a tree holding its rotation.
    const latest = (await client.getCheckpoint({})).checkpoint?.signedNote;
    assert.throws(() => openHubCheckpoint(latest, trust), refused(/not signed by its log key/));
    const followed = { ...trust, rotations: view.rotations };
    assert.equal(openHubCheckpoint(latest, followed).size, log.size);
    const cp = openHubCheckpoint(latest, followed);
    const byOldRoot = signCheckpoint(
      { origin: ORIGIN, size: cp.size, rootHash: cp.rootHash, extensions: cp.extensions ?? [] },
      [ed25519NoteSigner(ORIGIN, r0)],
    );
    assert.throws(
      () => openHubCheckpoint(new TextEncoder().encode(byOldRoot), followed),
      refused(/signed by a root key not valid for that size/),
    );
    // A restarted node (a new view over the same store) follows the same log...
    const restarted = new HubKeyView(r0.publicKey, ORIGIN, { roots });
    await restarted.sync(client, trust);
    assert.equal(restarted.currentRoot.keyId, r1.keyId);
    // ...and refuses a history signed by R0 that does not show the rotation (a thief of the rotated-out root
    // serving a fork), which a node that saved nothing would take.
    const forkLeaves = [0, 1, 2].map(filler);
    const forkNote = signCheckpoint(
      { origin: ORIGIN, size: 3, rootHash: MerkleTree.fromLeaves(forkLeaves).root(), extensions: [] },
      [ed25519NoteSigner(ORIGIN, r0)],
    );
    const fork = servedLog(forkLeaves, forkNote);
    await assert.rejects(
      new HubKeyView(r0.publicKey, ORIGIN, { roots }).sync(fork, trust),
      refused(/does not show the root rotation at index/),
    );
    await new HubKeyView(r0.publicKey, ORIGIN).sync(fork, trust);
  } finally {
    client.close();
    await server.close();
  }
});

test("a forged root rotation (not signed by the trusted root) is refused, and its checkpoint with it", async () => {
  const r0 = Ed25519PrivateKey.generate();
  const r1 = Ed25519PrivateKey.generate();
  const mallory = Ed25519PrivateKey.generate();
  const trust = { origin: ORIGIN, verifier: parseVerifierKey(formatVerifierKey(ORIGIN, r0.publicKey)) };
  const leafOf = (env: ReturnType<typeof signEnvelope>) =>
    toBinary(
      LogLeafSchema,
      create(LogLeafSchema, {
        kind: LogEntryKind.HUB_KEY,
        envelope: envelopeToProto(env),
        integratedAt: timestampFromMs(Date.now()),
      }),
    );
  const selfMade = toBinary(
    HubKeyStatementSchema,
    create(HubKeyStatementSchema, {
      action: HubKeyAction.ROTATE_ROOT,
      purpose: HubKeyPurpose.ROOT,
      keyId: r1.keyId,
      publicKey: r1.publicKey.raw,
      rootKeyId: r0.keyId,
      origin: ORIGIN,
      issuedAt: timestampFromMs(Date.now()),
      reason: "self-made",
    }),
  );
  const forgeries = [
    // Handed over by a key that is not the root.
    rootRotationEnvelope(r1, mallory, ORIGIN, Date.now(), "forged"),
    // Naming the root as signer, signed by the new key only.
    signEnvelope(PAYLOAD_TYPES.hubKey, selfMade, r1),
  ];
  for (const env of forgeries) {
    const leaves = [filler(0), leafOf(env), filler(2)];
    const note = signCheckpoint(
      { origin: ORIGIN, size: 3, rootHash: MerkleTree.fromLeaves(leaves).root(), extensions: [] },
      [ed25519NoteSigner(ORIGIN, r1)],
    );
    const view = new HubKeyView(r0.publicKey, ORIGIN);
    await assert.rejects(
      view.sync(servedLog(leaves, note), trust),
      refused(/not signed by the hub's root key/),
    );
    assert.equal(view.currentRoot.keyId, r0.keyId);
    assert.equal(view.size, 0);
  }
});
