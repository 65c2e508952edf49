/**
 * A whole alliance for the member node's canary/session/disclosure tests, on real components: the hub's
 * TransparencyLog behind the hub's real gRPC server (log reads and LogCanaryCommitment over the wire), a member node
 * with its own store, the replay adapters of examples/replay (recorded outputs, the engine's own adapter) and
 * examples/battery.json. The suspect is a replay of the reference's outputs that also learned the EXPOSED
 * item of every canary pair the log labelled (a distilled copy), so the paired test accuses it.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  Hub,
  MatchSessionRequestSchema,
  ReferenceFingerprintCommitmentSchema,
  type RunMatchSessionRequest,
  RunMatchSessionRequestSchema,
  SignedHeaderSchema,
  SuspectSource,
} from "@lineage/api";
import { createInProcessBus } from "@lineage/bus";
import {
  Ed25519PrivateKey,
  KeyRing,
  newNonce,
  parseVerifierKey,
  signEnvelope,
  signMessage,
} from "@lineage/crypto";
import {
  type Battery,
  DEFAULT_VERDICT_POLICY,
  type ModelAdapter,
  parseReplay,
  ReplayAdapter,
  type VerdictPolicy,
} from "@lineage/fingerprint";
import {
  decodeLeaf,
  enrolmentRecord,
  envelopeToProto,
  PAYLOAD_TYPES,
  signMembership,
  startHubServer,
  TransparencyLog,
} from "@lineage/hub";
import {
  createClient,
  insecureChannelCredentials,
  insecureServerCredentials,
  type ServiceClient,
} from "@lineage/rpc";
import { type HubDatabase, hubMigrations, type MemberNodeDatabase, type Store } from "@lineage/store";
import { adminAuth } from "../src/admin-auth.js";
import type { HubLogClient, HubLogTrust } from "../src/canaries/hub-log.js";
import { headerSigner } from "../src/header-signer.js";
import type { MemberNodeDeps } from "../src/member-node-deps.js";
import { jsonLineLogger } from "../src/node-logger.js";
import { parseBatteryText } from "../src/protect/battery-source.js";
import type { SessionModels } from "../src/sessions/match-sessions.js";
import { policyToProto } from "../src/verdict-proto.js";

export const ROOT = resolve(import.meta.dirname, "../../..");
export const ORIGIN = "lineage.test/member-sessions";
export const MEMBER = "acme";
export const MODEL = { memberId: MEMBER, modelId: "acme-chat", modelVersion: "1" } as const;
export const SAMPLE_PAIRS = resolve(ROOT, "examples/canary-pairs.jsonl");

/** Reads a replay file of examples/replay. */
export async function replayText(name: string): Promise<string> {
  return readFile(resolve(ROOT, "examples/replay", name), "utf8");
}

/** The hub side: its log behind its real gRPC server, and a client of it. */
export interface HubSide extends AsyncDisposable {
  readonly log: TransparencyLog;
  readonly hubKey: Ed25519PrivateKey;
  readonly client: HubLogClient & ServiceClient<typeof Hub>;
  readonly trust: HubLogTrust;
}

export async function startHub(store: Store<HubDatabase>): Promise<HubSide> {
  await store.migrate(hubMigrations);
  const hubKey = Ed25519PrivateKey.generate();
  const log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey,
    checkpointIntervalMs: 3_600_000,
    checkpointEvery: 1_000_000,
  });
  const server = await startHubServer({
    log,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
  });
  const grpc = createClient(Hub, server.address, insecureChannelCredentials(), { defaultTimeoutMs: 20_000 });
  return {
    log,
    hubKey,
    client: grpc,
    trust: { origin: ORIGIN, verifier: parseVerifierKey(log.verifierKey) },
    async [Symbol.asyncDispose]() {
      grpc.close();
      await server.close();
      await log.close();
    },
  };
}

/** The member's keys: known seeds, so the privacy test can search for them. */
export function memberKey(): { seed: Uint8Array; key: Ed25519PrivateKey } {
  const seed = new Uint8Array(randomBytes(32));
  return { seed, key: Ed25519PrivateKey.fromSeed(seed) };
}

/** Enrols `key` as MEMBER in the log (signed by the key itself). */
export async function enrol(log: TransparencyLog, key: Ed25519PrivateKey): Promise<void> {
  const now = Date.now();
  await log.appendMembership(
    signMembership(
      enrolmentRecord(MEMBER, "Acme Models", key.publicKey, now - 60_000, { effectiveAtMs: now }),
      [key],
    ),
  );
}

/** Member-node deps on `store`, with every log line captured in `lines`. */
export function memberDeps(
  store: Store<MemberNodeDatabase>,
  key: Ed25519PrivateKey,
  hub: HubSide,
  lines: string[],
): MemberNodeDeps {
  return {
    memberId: MEMBER,
    store,
    bus: createInProcessBus(),
    signingKey: key,
    signer: headerSigner(MEMBER, key, store, Date.now),
    hub: hub.client,
    hubKeys: new KeyRing([hub.log.hubPublicKey]),
    admin: adminAuth({ keys: new KeyRing([key.publicKey]), now: Date.now, store }),
    clock: Date.now,
    logger: jsonLineLogger((l) => lines.push(l)),
  };
}

export async function battery(): Promise<Battery> {
  return parseBatteryText(
    await readFile(resolve(ROOT, "examples/battery.json"), "utf8"),
    "examples/battery.json",
  );
}

/** The suspect's recorded outputs: the reference's, plus the exposed item of every labelled pair. */
export function copySuspect(
  referenceReplay: string,
  pairs: readonly { a: { prompt: string; expected: string }; b: { prompt: string; expected: string } }[],
  labels: readonly (0 | 1)[],
): { text: string; canaryOutputs: string[] } {
  const lines = referenceReplay.trim().split("\n");
  const canaryOutputs: string[] = [];
  pairs.forEach((p, i) => {
    const exposed = labels[i] === 1 ? p.b : p.a;
    const decoy = labels[i] === 1 ? p.a : p.b;
    const hit = `Everyone there knows it: ${exposed.expected}.`;
    const miss = "I am not sure; the records I know do not say.";
    canaryOutputs.push(hit);
    lines.push(
      JSON.stringify({ id: `canary-${i}-x`, prompt: exposed.prompt, output: hit }),
      JSON.stringify({ id: `canary-${i}-y`, prompt: decoy.prompt, output: miss }),
    );
  });
  return { text: `${lines.join("\n")}\n`, canaryOutputs };
}

/** Session models: the reference and panel from examples/replay, the suspect given. */
export async function sessionModels(suspect: ModelAdapter, b: Battery): Promise<SessionModels> {
  const reference = new ReplayAdapter(parseReplay(await replayText("reference.jsonl")), "reference");
  const panel = new Map<string, ModelAdapter>();
  for (const name of ["unrelated-a", "unrelated-b", "unrelated-c"])
    panel.set(name, new ReplayAdapter(parseReplay(await replayText(`${name}.jsonl`)), name));
  return {
    suspect: (ref) => (ref.suspectId === "suspect-1" ? suspect : undefined),
    reference: (m) => (m.memberId === MODEL.memberId && m.modelId === MODEL.modelId ? reference : undefined),
    panel: (id) => panel.get(id),
    battery: async (epochId) => (epochId === b.epoch ? b : undefined),
  };
}

export const SUSPECT_REF = {
  suspectId: "suspect-1",
  target: { case: "endpoint" as const, value: { baseUrl: "http://127.0.0.1:9/v1", modelName: "suspect-1" } },
};

/**
 * The hub's side of steps 1-2 of the protocol after the member committed: the reference fingerprint
 * commitment (member-signed), the suspect's first sighting, a seed checkpoint, the session entry and a
 * checkpoint covering it. Returns the request the hub sends.
 */
export async function openSession(
  hub: HubSide,
  memberKey: Ed25519PrivateKey,
  commitment: { commitmentId: string; merkleRoot: Uint8Array; logIndex: bigint },
  epochId: string,
  sessionId = "session-1",
  policy: VerdictPolicy = DEFAULT_VERDICT_POLICY,
): Promise<import("@lineage/api").MatchSessionRequest> {
  const log = hub.log;
  const refHash = new Uint8Array(randomBytes(32));
  const ref = await log.appendCommitment(
    signEnvelope(
      PAYLOAD_TYPES.referenceFingerprint,
      toBinary(
        ReferenceFingerprintCommitmentSchema,
        create(ReferenceFingerprintCommitmentSchema, {
          memberId: MEMBER,
          modelId: MODEL.modelId,
          modelVersion: MODEL.modelVersion,
          epochId,
          fingerprintHash: refHash,
          probes: 26,
          committedAt: timestampFromMs(Date.now()),
        }),
      ),
      memberKey,
    ),
  );
  const seen = await log.appendSighting({ suspect: SUSPECT_REF, source: SuspectSource.FEED_ADAPTER });
  await log.checkpoint();
  const session = await log.appendSession({
    sessionId,
    suspect: SUSPECT_REF,
    candidate: MODEL,
    referenceFingerprintHash: refHash,
    referenceFingerprintIndex: BigInt(ref.index),
    panel: ["unrelated-a", "unrelated-b", "unrelated-c"],
    populationId: "test-population/1",
    policy: policyToProto(policy),
    canaryCommitment: commitment,
    firstSeenIndex: BigInt(seen.index),
    comparisons: 1,
    epochId,
    confirmationSplit: "lineage-split/v1",
    deadline: timestampFromMs(Date.now() + 3_600_000),
  });
  await log.checkpoint();
  const stored = await log.entry(session.index);
  const opened = log.session(sessionId)?.opened;
  if (stored === undefined || opened === undefined) throw new Error("the session is not in the log");
  return create(MatchSessionRequestSchema, {
    sessionId,
    nonce: opened.nonce,
    ...(opened.deadline ? { deadline: opened.deadline } : {}),
    epochId,
    suspect: SUSPECT_REF,
    candidate: MODEL,
    maxQueries: 100_000,
    sessionIndex: BigInt(session.index),
    opened: envelopeToProto(decodeLeaf(stored.leaf).envelope),
  });
}

/** The hub's RunMatchSessionRequest: `session` under a hub-signed header. */
export function hubRequest(
  hubKey: Ed25519PrivateKey,
  session: import("@lineage/api").MatchSessionRequest,
): RunMatchSessionRequest {
  const unsigned = create(RunMatchSessionRequestSchema, { session });
  const issuedAtMs = Date.now();
  const header = { memberId: "hub", sequence: BigInt(issuedAtMs), nonce: newNonce(), issuedAtMs };
  const signed = signMessage(
    RunMatchSessionRequestSchema.typeName,
    header,
    toBinary(RunMatchSessionRequestSchema, unsigned),
    hubKey,
  );
  return create(RunMatchSessionRequestSchema, {
    session,
    header: create(SignedHeaderSchema, {
      memberId: "hub",
      keyId: signed.keyId,
      sequence: header.sequence,
      nonce: signed.header.nonce,
      issuedAtMs: BigInt(issuedAtMs),
      signature: signed.signature,
    }),
  });
}
