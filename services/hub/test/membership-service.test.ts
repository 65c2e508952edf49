/**
 * The hub's membership and commitment writes over real gRPC on real PGlite and Postgres (issue 8,
 * "writers go through the running hub"; issue 10, Membership). Each bad input fails at arrival with its
 * own code: forged or missing signature → UNAUTHENTICATED, replay → ALREADY_EXISTS, malformed or
 * oversized → INVALID_ARGUMENT, unknown member → NOT_FOUND, a sender asking for what it may not →
 * PERMISSION_DENIED; nothing of a refused request is logged.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  clone,
  create,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import {
  AddMemberKeyRequestSchema,
  EnrolMemberRequestSchema,
  GetMemberRequestSchema,
  Hub,
  LogCanaryCommitmentRequestSchema,
  MemberStatus,
  MembershipAction,
  RevokeMemberKeyRequestSchema,
  SetMemberStatusRequestSchema,
} from "@lineage/api";
import {
  type Ed25519PrivateKey,
  hashLeaf,
  openCheckpoint,
  parseVerifierKey,
  signEnvelope,
  verifyInclusion,
} from "@lineage/crypto";
import { createClient, insecureChannelCredentials, insecureServerCredentials, RpcError } from "@lineage/rpc";
import {
  envelopeToProto,
  PAYLOAD_TYPES,
  RequestAuthenticator,
  revokeKeyRecord,
  SECRETARIAT,
  signMembership,
  signRequest,
  startHubServer,
  TransparencyLog,
} from "../src/index.js";
import { addKeyEnvelope, backends, commitment, DAY, enrolRecord, memberKey } from "./log-fixtures.js";

const ORIGIN = "lineage.test/membership";

async function rpcError(p: Promise<unknown>, what: string): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RpcError, `${what}: expected an RpcError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${what}: the call succeeded`);
}

async function refused(p: Promise<unknown>, grpc: status, code: string, what: string): Promise<void> {
  const err = await rpcError(p, what);
  assert.equal(err.grpcStatus, grpc, `${what}: status ${err.grpcStatus} (${err.code}: ${err.message})`);
  assert.equal(err.code, code, `${what}: ${err.message}`);
}

/** A request of `schema` from `init`, with a header signed by `memberId`'s `key`. */
function signed<S extends DescMessage>(
  schema: S,
  init: MessageInitShape<S>,
  memberId: string,
  key: Ed25519PrivateKey,
  nowMs?: number,
): MessageShape<S> {
  return signRequest(schema, create(schema, init), { memberId, key }, nowMs === undefined ? {} : { nowMs });
}

for (const backend of await backends()) {
  test(`membership writes through the running hub: each bad input refused with its code (${backend.name})`, {
    skip: backend.skip ?? false,
  }, async () => {
    await using store = await backend.open();
    const hubKey = memberKey();
    await using log = await TransparencyLog.open({
      store,
      origin: ORIGIN,
      hubKey,
      checkpointIntervalMs: 3_600_000,
    });
    await using server = await startHubServer({
      log,
      listen: "127.0.0.1:0",
      credentials: insecureServerCredentials(),
      auth: new RequestAuthenticator({ log }),
    });
    using client = createClient(Hub, server.address, insecureChannelCredentials());
    const now = Date.now();
    const alice = memberKey();
    const enrolEnv = enrolRecord("alice", alice, now - DAY);
    const enrolInit = { memberId: "alice", displayName: "Member alice", record: envelopeToProto(enrolEnv) };

    // Who may ask: a member cannot enrol anyone; no header at all is unauthenticated.
    await refused(
      client.enrolMember(create(EnrolMemberRequestSchema, enrolInit)),
      status.UNAUTHENTICATED,
      "unauthenticated",
      "no header",
    );
    const stranger = memberKey();
    await refused(
      client.enrolMember(signed(EnrolMemberRequestSchema, enrolInit, "alice", alice)),
      status.NOT_FOUND,
      "unknown_member",
      "header of a member that is not enrolled",
    );
    // A forged header: signed by another key than the hub's.
    await refused(
      client.enrolMember(signed(EnrolMemberRequestSchema, enrolInit, SECRETARIAT, stranger)),
      status.UNAUTHENTICATED,
      "unknown_key",
      "header not signed by the hub key",
    );
    // A header whose signature no longer covers the request (record swapped after signing).
    const swapped = signed(EnrolMemberRequestSchema, enrolInit, SECRETARIAT, hubKey);
    swapped.displayName = "Someone else";
    await refused(
      client.enrolMember(swapped),
      status.UNAUTHENTICATED,
      "bad_signature",
      "request edited after signing",
    );

    // The record: the hub cannot enrol a key the member did not sign for (no proof of possession).
    const forgedRecord = signMembership(
      {
        action: MembershipAction.ENROL,
        memberId: "mallory",
        displayName: "Mallory",
        key: {
          keyId: stranger.keyId,
          algorithm: 1,
          publicKey: stranger.publicKey.raw,
          notBefore: timestampFromMs(now - DAY),
        },
        effectiveAt: timestampFromMs(now),
      },
      [hubKey],
    );
    await refused(
      client.enrolMember(
        signed(
          EnrolMemberRequestSchema,
          { memberId: "mallory", displayName: "Mallory", record: envelopeToProto(forgedRecord) },
          SECRETARIAT,
          hubKey,
        ),
      ),
      status.UNAUTHENTICATED,
      "bad_signature",
      "enrolment not signed by the enrolled key",
    );
    // Malformed and oversized records.
    const junk = signEnvelope(PAYLOAD_TYPES.membership, new Uint8Array([0xff, 0xff, 0xff]), alice);
    await refused(
      client.enrolMember(
        signed(
          EnrolMemberRequestSchema,
          { ...enrolInit, record: envelopeToProto(junk) },
          SECRETARIAT,
          hubKey,
        ),
      ),
      status.INVALID_ARGUMENT,
      "malformed",
      "record payload is not a MembershipRecord",
    );
    const big = signEnvelope(PAYLOAD_TYPES.membership, new Uint8Array(20 * 1024), alice);
    await refused(
      client.enrolMember(
        signed(EnrolMemberRequestSchema, { ...enrolInit, record: envelopeToProto(big) }, SECRETARIAT, hubKey),
      ),
      status.INVALID_ARGUMENT,
      "invalid_argument",
      "record payload over its 16 KiB cap",
    );
    await refused(
      client.enrolMember(
        signed(EnrolMemberRequestSchema, { ...enrolInit, memberId: "bob" }, SECRETARIAT, hubKey),
      ),
      status.INVALID_ARGUMENT,
      "invalid_argument",
      "request member_id is not the record's",
    );
    const badHeader = signed(EnrolMemberRequestSchema, enrolInit, SECRETARIAT, hubKey);
    if (badHeader.header) badHeader.header.signature = new Uint8Array(10);
    await refused(
      client.enrolMember(badHeader),
      status.INVALID_ARGUMENT,
      "malformed",
      "a 10-byte header signature",
    );
    // A record padded with a field MembershipRecord does not have (signed as is by the member's key).
    const padded = signEnvelope(
      PAYLOAD_TYPES.membership,
      new Uint8Array([...enrolEnv.payload, 0xfa, 0x3f, 0x03, 0x61, 0x62, 0x63]),
      alice,
    );
    await refused(
      client.enrolMember(
        signed(
          EnrolMemberRequestSchema,
          { ...enrolInit, record: envelopeToProto(padded) },
          SECRETARIAT,
          hubKey,
        ),
      ),
      status.INVALID_ARGUMENT,
      "malformed",
      "record with an unknown field",
    );
    assert.equal(log.size, 0, "nothing refused was logged");

    // The secretariat enrols alice from her own signed record.
    const ok = signed(EnrolMemberRequestSchema, enrolInit, SECRETARIAT, hubKey);
    const enrolled = await client.enrolMember(ok);
    assert.equal(enrolled.member?.memberId, "alice");
    assert.equal(enrolled.member?.status, MemberStatus.ACTIVE);
    assert.equal(enrolled.member?.keys[0]?.keyId, alice.keyId);
    assert.equal(enrolled.logEntry?.index, 0n);
    // The same request again is a replay; a fresh header on the same record is a second enrolment.
    await refused(client.enrolMember(ok), status.ALREADY_EXISTS, "replay", "replayed request");
    await refused(
      client.enrolMember(signed(EnrolMemberRequestSchema, enrolInit, SECRETARIAT, hubKey)),
      status.ALREADY_EXISTS,
      "already_exists",
      "second enrolment",
    );
    // A stale header.
    await refused(
      client
        .getMember({ memberId: "alice" })
        .then(() =>
          client.addMemberKey(
            signed(AddMemberKeyRequestSchema, { memberId: "alice" }, "alice", alice, now - 3_600_000),
          ),
        ),
      status.FAILED_PRECONDITION,
      "stale",
      "header an hour old",
    );

    // Key rotation asked by alice herself: the new key and her current key must both sign the record.
    const alice2 = memberKey();
    const addAlone = addKeyEnvelope("alice", alice2, alice.keyId, Date.now(), [alice2]);
    await refused(
      client.addMemberKey(
        signed(
          AddMemberKeyRequestSchema,
          { memberId: "alice", record: envelopeToProto(addAlone) },
          "alice",
          alice,
        ),
      ),
      status.PERMISSION_DENIED,
      "permission_denied",
      "ADD_KEY not signed by a current key of the member",
    );
    const added = await client.addMemberKey(
      signed(
        AddMemberKeyRequestSchema,
        {
          memberId: "alice",
          record: envelopeToProto(addKeyEnvelope("alice", alice2, alice.keyId, Date.now(), [alice, alice2])),
        },
        "alice",
        alice,
      ),
    );
    assert.equal(added.member?.keys.length, 2);
    // Unknown member: a key for a member nobody enrolled.
    const ghost = memberKey();
    await refused(
      client.addMemberKey(
        signed(
          AddMemberKeyRequestSchema,
          {
            memberId: "ghost",
            record: envelopeToProto(addKeyEnvelope("ghost", ghost, ghost.keyId, Date.now(), [ghost])),
          },
          SECRETARIAT,
          hubKey,
        ),
      ),
      status.NOT_FOUND,
      "unknown_member",
      "key for a member that is not enrolled",
    );
    // Another member (or the secretariat on its own) cannot sign alice's key changes.
    const bob = memberKey();
    await client.enrolMember(
      signed(
        EnrolMemberRequestSchema,
        {
          memberId: "bob",
          displayName: "Member bob",
          record: envelopeToProto(enrolRecord("bob", bob, now - DAY)),
        },
        SECRETARIAT,
        hubKey,
      ),
    );
    await refused(
      client.addMemberKey(
        signed(
          AddMemberKeyRequestSchema,
          { memberId: "alice", record: envelopeToProto(addAlone) },
          "bob",
          bob,
        ),
      ),
      status.PERMISSION_DENIED,
      "permission_denied",
      "bob asks for a change of alice's keys",
    );

    // Commitments: by the member itself, answered with an inclusion proof against a checkpoint.
    const cEnv = commitment(alice2, "alice", "c0", new Uint8Array(32), 10, Date.now());
    const logged = await client.logCanaryCommitment(
      signed(LogCanaryCommitmentRequestSchema, { commitment: envelopeToProto(cEnv) }, "alice", alice2),
    );
    const cp = openCheckpoint(new TextDecoder().decode(logged.checkpoint?.signedNote), {
      log: parseVerifierKey(log.verifierKey),
      origin: ORIGIN,
    }).checkpoint;
    const leaf = (await log.entry(Number(logged.logEntry?.index)))?.leaf as Uint8Array;
    verifyInclusion(
      hashLeaf(leaf),
      Number(logged.inclusionProof?.leafIndex),
      cp.size,
      logged.inclusionProof?.hashes ?? [],
      cp.rootHash,
    );
    await refused(
      client.logCanaryCommitment(
        signed(LogCanaryCommitmentRequestSchema, { commitment: envelopeToProto(cEnv) }, "alice", alice2),
      ),
      status.ALREADY_EXISTS,
      "already_exists",
      "the same commitment id again",
    );
    await refused(
      client.logCanaryCommitment(
        signed(
          LogCanaryCommitmentRequestSchema,
          {
            commitment: envelopeToProto(
              commitment(alice2, "alice", "c1", new Uint8Array(32), 10, Date.now()),
            ),
          },
          "bob",
          bob,
        ),
      ),
      status.PERMISSION_DENIED,
      "permission_denied",
      "bob logs a commitment of alice",
    );
    await refused(
      client.logCanaryCommitment(
        signed(
          LogCanaryCommitmentRequestSchema,
          { commitment: envelopeToProto(commitment(bob, "alice", "c2", new Uint8Array(32), 10, Date.now())) },
          "alice",
          alice2,
        ),
      ),
      status.UNAUTHENTICATED,
      "bad_signature",
      "alice's commitment signed by bob's key",
    );

    // Revocation: a backdated revoked_at is refused; a current one is logged.
    const backdated = signMembership(revokeKeyRecord("alice", alice.publicKey, alice2.keyId, now - DAY), [
      alice2,
    ]);
    await refused(
      client.revokeMemberKey(
        signed(
          RevokeMemberKeyRequestSchema,
          { memberId: "alice", keyId: alice.keyId, record: envelopeToProto(backdated) },
          "alice",
          alice2,
        ),
      ),
      status.FAILED_PRECONDITION,
      "stale",
      "revocation backdated by a day",
    );
    const revoked = await client.revokeMemberKey(
      signed(
        RevokeMemberKeyRequestSchema,
        {
          memberId: "alice",
          keyId: alice.keyId,
          record: envelopeToProto(
            signMembership(revokeKeyRecord("alice", alice.publicKey, alice2.keyId, Date.now()), [alice2]),
          ),
        },
        "alice",
        alice2,
      ),
    );
    assert.ok(revoked.member?.keys.find((k) => k.keyId === alice.keyId)?.revokedAt !== undefined);
    // The revoked key can no longer sign a request header.
    await refused(
      client.logCanaryCommitment(
        signed(LogCanaryCommitmentRequestSchema, { commitment: envelopeToProto(cEnv) }, "alice", alice),
      ),
      status.UNAUTHENTICATED,
      "unknown_key",
      "header signed by a revoked key",
    );

    // The secretariat's decisions: only it may suspend; a suspended member's commitments are refused.
    await refused(
      client.setMemberStatus(
        signed(
          SetMemberStatusRequestSchema,
          { memberId: "alice", action: MembershipAction.SUSPEND, reason: "x" },
          "bob",
          bob,
        ),
      ),
      status.PERMISSION_DENIED,
      "permission_denied",
      "a member suspends another",
    );
    const suspended = await client.setMemberStatus(
      signed(
        SetMemberStatusRequestSchema,
        { memberId: "alice", action: MembershipAction.SUSPEND, reason: "unpaid dues" },
        SECRETARIAT,
        hubKey,
      ),
    );
    assert.equal(suspended.member?.status, MemberStatus.SUSPENDED);
    await refused(
      client.logCanaryCommitment(
        signed(
          LogCanaryCommitmentRequestSchema,
          {
            commitment: envelopeToProto(
              commitment(alice2, "alice", "c3", new Uint8Array(32), 10, Date.now()),
            ),
          },
          "alice",
          alice2,
        ),
      ),
      status.FAILED_PRECONDITION,
      "failed_precondition",
      "commitment of a suspended member",
    );
    await refused(
      client.setMemberStatus(
        signed(
          SetMemberStatusRequestSchema,
          { memberId: "alice", action: MembershipAction.ENROL, reason: "x" },
          SECRETARIAT,
          hubKey,
        ),
      ),
      status.INVALID_ARGUMENT,
      "invalid_argument",
      "status action that is not a status",
    );

    // Reads.
    const listed = await client.listMembers({ pageSize: 1 });
    assert.deepEqual(
      listed.members.map((m) => m.memberId),
      ["alice"],
    );
    const rest = await client.listMembers({ pageSize: 1, pageToken: listed.nextPageToken });
    assert.deepEqual(
      rest.members.map((m) => m.memberId),
      ["bob"],
    );
    assert.equal(rest.nextPageToken, "");
    await refused(
      client.getMember(create(GetMemberRequestSchema, { memberId: "nobody" })),
      status.NOT_FOUND,
      "unknown_member",
      "GetMember of nobody",
    );
    await refused(
      client.listMembers({ pageToken: "zz" }),
      status.INVALID_ARGUMENT,
      "invalid_argument",
      "bad page token",
    );
    // A request edited in transit (signature over another body) stays refused even when re-sent by clone.
    const edited = clone(EnrolMemberRequestSchema, ok);
    edited.memberId = "bob";
    await refused(client.enrolMember(edited), status.UNAUTHENTICATED, "bad_signature", "edited clone");
  });
}
