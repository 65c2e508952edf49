/**
 * The sighting check of session admission (session-request.ts, step 5): the commitment-before-sighting order
 * the session vouches for rests on first_seen_index, so the entry there must be THIS suspect's sighting.
 * The hub's own log refuses to log such a session (protocol-admission.ts), so the bad log is built by hand
 * here — real hub-signed envelopes, real RFC 6962 leaves, inclusion proofs and a hub-signed checkpoint, as a
 * dishonest hub would serve them: every entry verifies, only what sits at first_seen_index is wrong.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  LogEntryKind,
  MatchSessionRequestSchema,
  ReferenceFingerprintCommitmentSchema,
  SessionOpenedSchema,
  SuspectSightingSchema,
  SuspectSource,
} from "@lineage/api";
import {
  type DsseEnvelope,
  Ed25519PrivateKey,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  KeyRing,
  MerkleTree,
  signCheckpoint,
  signEnvelope,
} from "@lineage/crypto";
import { DEFAULT_VERDICT_POLICY } from "@lineage/fingerprint";
import { encodeLeaf, envelopeToProto, PAYLOAD_TYPES } from "@lineage/hub";
import { type MemberNodeDatabase, memberNodeMigrations, openTestStore } from "@lineage/store";
import type { HubLogClient } from "../src/canaries/hub-log.js";
import { isMemberNodeError } from "../src/member-node-error.js";
import { admitSession } from "../src/sessions/session-request.js";
import { policyToProto } from "../src/verdict-proto.js";

const ORIGIN = "lineage.test/hand-built-log";
const MEMBER = "acme";
const SUSPECT = { suspectId: "suspect-1" };
const hubKey = Ed25519PrivateKey.generate();
const memberKey = Ed25519PrivateKey.generate();

function sighting(suspectId: string): DsseEnvelope {
  const msg = create(SuspectSightingSchema, {
    suspect: { suspectId },
    source: SuspectSource.FEED_ADAPTER,
    firstSeenAt: timestampFromMs(Date.now() - 60_000),
  });
  return signEnvelope(PAYLOAD_TYPES.sighting, toBinary(SuspectSightingSchema, msg), hubKey);
}

function referenceCommitment(): DsseEnvelope {
  const msg = create(ReferenceFingerprintCommitmentSchema, {
    memberId: MEMBER,
    modelId: "acme-chat",
    modelVersion: "1",
    epochId: "e1",
    fingerprintHash: new Uint8Array(32).fill(3),
    probes: 26,
    committedAt: timestampFromMs(Date.now() - 120_000),
  });
  return signEnvelope(
    PAYLOAD_TYPES.referenceFingerprint,
    toBinary(ReferenceFingerprintCommitmentSchema, msg),
    memberKey,
  );
}

/**
 * A log of four entries — 0: another suspect's sighting, 1: this suspect's sighting, 2: the member's reference
 * fingerprint commitment (not a sighting), 3: the session, whose first_seen_index is `firstSeen` — served by
 * a HubLogClient over the hand-built tree (the reads admission makes), and the hub's request for the session.
 */
function handBuiltLog(firstSeen: bigint) {
  const now = Date.now();
  const opened = create(SessionOpenedSchema, {
    sessionId: "session-1",
    nonce: new Uint8Array(32).fill(7),
    suspect: SUSPECT,
    candidate: { memberId: MEMBER, modelId: "acme-chat", modelVersion: "1" },
    referenceFingerprintHash: new Uint8Array(32).fill(3),
    referenceFingerprintIndex: 2n,
    panel: ["unrelated-a", "unrelated-b"],
    populationId: "test-population/1",
    seed: new Uint8Array(32).fill(5),
    seedCheckpointSize: 3n,
    policy: policyToProto(DEFAULT_VERDICT_POLICY),
    firstSeenIndex: firstSeen,
    comparisons: 1,
    epochId: "e1",
    confirmationSplit: "lineage-split/v1",
    openedAt: timestampFromMs(now),
    deadline: timestampFromMs(now + 3_600_000),
  });
  const session = signEnvelope(PAYLOAD_TYPES.session, toBinary(SessionOpenedSchema, opened), hubKey);
  const leaves = [
    encodeLeaf(LogEntryKind.SUSPECT_SIGHTING, sighting("suspect-2"), now - 50_000),
    encodeLeaf(LogEntryKind.SUSPECT_SIGHTING, sighting(SUSPECT.suspectId), now - 40_000),
    encodeLeaf(LogEntryKind.COMMITMENT, referenceCommitment(), now - 30_000),
    encodeLeaf(LogEntryKind.SESSION, session, now - 20_000),
  ];
  const tree = MerkleTree.fromLeaves(leaves);
  const note = new TextEncoder().encode(
    signCheckpoint(
      {
        origin: ORIGIN,
        size: tree.size,
        rootHash: tree.root(),
        extensions: ["lineage-previous-size 0"],
      },
      [ed25519NoteSigner(ORIGIN, hubKey)],
    ),
  );
  const unused = () => {
    throw new Error("admission does not call this");
  };
  const client = {
    async *getLogEntries(req: { start: bigint; end: bigint }) {
      for (let i = Number(req.start); i < Math.min(Number(req.end), leaves.length); i++)
        yield { entry: { index: BigInt(i), leaf: leaves[i] as Uint8Array } };
    },
    async getInclusionProof(req: { leafIndex: bigint }) {
      const i = Number(req.leafIndex);
      return {
        proof: { leafIndex: BigInt(i), treeSize: BigInt(tree.size), hashes: tree.inclusionProof(i) },
        checkpoint: { signedNote: note },
      };
    },
    getCheckpoint: unused,
    getConsistencyProof: unused,
    getFirstCoveringCheckpoint: unused,
    getAttestationBundle: unused,
    logCanaryCommitment: unused,
  } as unknown as HubLogClient;
  const request = create(MatchSessionRequestSchema, {
    sessionId: opened.sessionId,
    nonce: opened.nonce,
    ...(opened.deadline === undefined ? {} : { deadline: opened.deadline }),
    epochId: opened.epochId,
    suspect: SUSPECT,
    candidate: opened.candidate,
    maxQueries: 1000,
    sessionIndex: 3n,
    opened: envelopeToProto(session),
  });
  return { client, request };
}

test("session admission: the entry at first_seen_index must be this suspect's sighting (hand-built log)", async () => {
  await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
  await store.migrate(memberNodeMigrations);
  const admit = (firstSeen: bigint) => {
    const { client, request } = handBuiltLog(firstSeen);
    return admitSession(request, {
      memberId: MEMBER,
      store,
      hub: client,
      hubLog: { origin: ORIGIN, verifier: ed25519NoteVerifier(ORIGIN, hubKey.publicKey) },
      hubKeys: new KeyRing([hubKey.publicKey]),
      nowMs: Date.now(),
    });
  };
  // Positive control: the same hand-built log, pointing at this suspect's sighting, is admitted.
  const ok = await admit(1n);
  assert.equal(ok.index, 3);
  assert.equal(ok.opened.firstSeenIndex, 1n);
  // Another suspect's sighting: it would let commitments logged after THIS suspect was seen pass as earlier.
  await assert.rejects(admit(0n), (e) => {
    assert.ok(isMemberNodeError(e, "session_mismatch"), String(e));
    assert.match((e as Error).message, /log entry 0 is not the suspect's sighting/);
    return true;
  });
  // An entry that is no sighting at all (the member's reference fingerprint commitment).
  await assert.rejects(admit(2n), (e) => {
    assert.ok(isMemberNodeError(e, "session_mismatch"), String(e));
    assert.match((e as Error).message, /log entry 2 is not the suspect's sighting/);
    return true;
  });
});
