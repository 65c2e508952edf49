import assert from "node:assert/strict";
import { test } from "node:test";
import { clone, create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  MatchSessionRequestSchema,
  type SessionOpened,
  SessionOpenedSchema,
  TestWeightSchema,
} from "@lineage/api";
import { Ed25519PrivateKey, signEnvelope, toHex } from "@lineage/crypto";
import { DEFAULT_VERDICT_POLICY } from "@lineage/fingerprint";
import {
  checkSessionRequest,
  compareSeedOf,
  isMemberNodeError,
  policyToProto,
  referenceFingerprintBytes,
  referenceFingerprintHash,
  SESSION_PAYLOAD_TYPE,
} from "../src/index.js";

const code = (c: string) => (e: unknown) => isMemberNodeError(e, c as never);
const hub = Ed25519PrivateKey.generate();
const NOW = Date.UTC(2025, 0, 1);

function opened(edit: (o: SessionOpened) => void = () => {}): SessionOpened {
  const o = create(SessionOpenedSchema, {
    sessionId: "s-1",
    nonce: new Uint8Array(32).fill(9),
    suspect: { suspectId: "sus-1" },
    candidate: { memberId: "alice", modelId: "model-a", modelVersion: "1" },
    referenceFingerprintHash: new Uint8Array(32).fill(3),
    referenceFingerprintIndex: 2n,
    panel: ["p1", "p2"],
    populationId: "pop",
    seed: new Uint8Array(32).fill(5),
    seedCheckpointSize: 5n,
    policy: policyToProto(DEFAULT_VERDICT_POLICY),
    canaryCommitment: { commitmentId: "pairs", merkleRoot: new Uint8Array(32).fill(1), logIndex: 1n },
    watermarkCommitment: { commitmentId: "wm", keyDigest: new Uint8Array(32).fill(2), logIndex: 0n },
    firstSeenIndex: 4n,
    comparisons: 1,
    epochId: "e1",
    openedAt: timestampFromMs(NOW),
    deadline: timestampFromMs(NOW + 60_000),
  });
  edit(o);
  return o;
}

function request(
  o: SessionOpened,
  edit: (r: ReturnType<typeof create<typeof MatchSessionRequestSchema>>) => void = () => {},
  signer = hub,
) {
  const env = signEnvelope(SESSION_PAYLOAD_TYPE, toBinary(SessionOpenedSchema, o), signer);
  const c = clone(SessionOpenedSchema, o); // edits of the request must not reach the session's objects
  const r = create(MatchSessionRequestSchema, {
    sessionId: o.sessionId,
    nonce: o.nonce,
    ...(o.deadline === undefined ? {} : { deadline: o.deadline }),
    epochId: o.epochId,
    ...(c.suspect === undefined ? {} : { suspect: c.suspect }),
    ...(c.candidate === undefined ? {} : { candidate: c.candidate }),
    maxQueries: 1000,
    sessionIndex: 6n,
    opened: { payloadType: env.payloadType, payload: env.payload, signatures: [...env.signatures] },
  });
  edit(r);
  return r;
}

const expect = {
  memberId: "alice",
  hubKey: hub.publicKey,
  nowMs: NOW + 1000,
  canaryCommitment: { id: "pairs", root: new Uint8Array(32).fill(1) },
  watermarkCommitment: { id: "wm", digest: new Uint8Array(32).fill(2) },
  referenceFingerprintHash: new Uint8Array(32).fill(3),
};

test("a request that matches its hub-signed logged session passes and yields it", () => {
  const s = checkSessionRequest(request(opened()), expect);
  assert.equal(s.index, 6);
  assert.equal(s.opened.sessionId, "s-1");
});

test("each disagreement, a late answer, a forged session or a late commitment is refused with its code", () => {
  const o = opened();
  for (const [what, edit] of [
    [
      "session_id",
      (r) => {
        r.sessionId = "s-2";
      },
    ],
    [
      "nonce",
      (r) => {
        r.nonce = new Uint8Array(32);
      },
    ],
    [
      "suspect",
      (r) => {
        if (r.suspect) r.suspect.suspectId = "other";
      },
    ],
    [
      "candidate",
      (r) => {
        if (r.candidate) r.candidate.modelId = "model-b";
      },
    ],
    [
      "epoch",
      (r) => {
        r.epochId = "e2";
      },
    ],
    [
      "deadline",
      (r) => {
        r.deadline = timestampFromMs(NOW + 120_000);
      },
    ],
    [
      "index before the sighting",
      (r) => {
        r.sessionIndex = 4n;
      },
    ],
  ] as Array<[string, (r: ReturnType<typeof request>) => void]>) {
    assert.throws(() => checkSessionRequest(request(o, edit), expect), code("session_mismatch"), what);
  }
  assert.throws(() => checkSessionRequest(request(o), { ...expect, nowMs: NOW + 60_001 }), code("stale"));
  assert.throws(
    () =>
      checkSessionRequest(
        request(o, () => {}, Ed25519PrivateKey.generate()),
        expect,
      ),
    code("bad_signature"),
  );
  assert.throws(
    () => checkSessionRequest(request(o), { ...expect, memberId: "bob" }),
    code("permission_denied"),
  );
  assert.throws(
    () =>
      checkSessionRequest(request(o), {
        ...expect,
        canaryCommitment: { id: "pairs", root: new Uint8Array(32) },
      }),
    code("permission_denied"),
  );
  // Sessions the hub signed with one field changed: each is refused with its own code.
  for (const [what, edit, refused] of [
    [
      "canary commitment at the sighting",
      (x) => {
        if (x.canaryCommitment) x.canaryCommitment.logIndex = 4n;
      },
      "commitment_after_sighting",
    ],
    [
      "watermark commitment after the sighting",
      (x) => {
        if (x.watermarkCommitment) x.watermarkCommitment.logIndex = 5n;
      },
      "commitment_after_sighting",
    ],
    [
      "unregistered alpha",
      (x) => {
        if (x.policy) x.policy.alpha = 0.01;
      },
      "policy_mismatch",
    ],
  ] as Array<[string, (x: SessionOpened) => void, string]>) {
    assert.throws(() => checkSessionRequest(request(opened(edit)), expect), code(refused), what);
  }
  // A weight for a test that does not exist (in place of canary_watermark=2) is refused, not dropped: a
  // plain object ignores "__proto__", which would leave the registered policy minus one test.
  for (const test of ["__proto__", "similarity"]) {
    assert.throws(
      () =>
        checkSessionRequest(
          request(
            opened((x) => {
              if (x.policy) x.policy.weights[2] = create(TestWeightSchema, { test, weight: 2 });
            }),
          ),
          expect,
        ),
      code("malformed"),
      test,
    );
  }
  // Before it was refused, an extra "__proto__" weight beside the registered three passed as the registered
  // policy: what the hub signed and what the member checked were not the same policy.
  assert.throws(
    () =>
      checkSessionRequest(
        request(
          opened((x) => {
            x.policy?.weights.push(create(TestWeightSchema, { test: "__proto__", weight: 1 }));
          }),
        ),
        expect,
      ),
    code("malformed"),
  );
  assert.throws(
    () => checkSessionRequest(request(o), { ...expect, referenceFingerprintHash: new Uint8Array(32) }),
    code("session_mismatch"),
  );
});

test("compareSeedOf reads the first 6 bytes big-endian", () => {
  const seed = new Uint8Array(32);
  seed.set([1, 2, 3, 4, 5, 6, 7]);
  assert.equal(compareSeedOf(seed), 0x010203040506);
  assert.throws(() => compareSeedOf(new Uint8Array(16)), code("invalid_argument"));
});

// Expected hex printed by `python3 scripts/vectors/lineage_vectors.py` (fingerprint.bytes, fingerprint.hash):
// ids sorted by UTF-8 bytes, so "p-\uFFFD" sorts before "p-😀" (JavaScript's UTF-16 order would swap them).
test("reference fingerprint bytes and hash match the independent vectors", () => {
  const responses = [
    { probeId: "p-b", text: "beta" },
    { probeId: "p-a", text: "alpha é" },
    { probeId: "p-\u{1F600}", text: "emoji" },
    { probeId: "p-\uFFFD", text: "replacement" },
  ];
  assert.equal(
    toHex(referenceFingerprintBytes(responses)),
    "00000003702d6100000008616c70686120c3a900000003702d62000000046265746100000005702defbfbd0000000b7265706c6163656d656e7400000006702df09f988000000005656d6f6a69",
  );
  assert.equal(
    toHex(referenceFingerprintHash(new Uint8Array(32).fill(0x44), responses)),
    "e5b6c7ee3b1edd40d3071a670bb330d3a5f4828593ff73af0cbfa959f73c7b07",
  );
  assert.throws(
    () => referenceFingerprintBytes([...responses, { probeId: "p-a", text: "again" }]),
    code("invalid_argument"),
  );
  assert.throws(() => referenceFingerprintBytes([]), code("invalid_argument"));
});
