/**
 * Before any query (DESIGN.md flow 5, SESSION_PHASE_VERIFYING_REQUEST): a member node checks that the hub's
 * MatchSessionRequest is what the hub logged. The request is untrusted input from the network; the
 * SessionOpened it carries is hub-signed (application/vnd.lineage.session.v1+proto) and is what the log holds
 * at `session_index` (the caller checks that inclusion against a checkpoint it trusts). Every field the
 * member will act on must agree between the two, the deadline must not have passed, the session must compare
 * this member's own model under a registered policy, and every commitment it binds must precede the suspect's
 * first sighting — otherwise a verdict the member signs could rest on a choice made after the evidence.
 */
import { equals, fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type MatchSessionRequest,
  MemberModelRefSchema,
  type SessionOpened,
  SessionOpenedSchema,
  SuspectRefSchema,
} from "@lineage/api";
import { bytesEqual, type Ed25519PublicKey, isCryptoError, KeyRing, verifyEnvelope } from "@lineage/crypto";
import { checkBoundPolicy } from "@lineage/fingerprint";
import type { LoggedSessionRef } from "./attestation.js";
import type { HubKeyView } from "./hub-key-view.js";
import { MemberNodeError } from "./member-node-error.js";
import { policyFromProto } from "./verdict-proto.js";

/** DSSE payload type of the hub's session entries. */
export const SESSION_PAYLOAD_TYPE = "application/vnd.lineage.session.v1+proto";

/** What the member expects of a session besides the request itself. */
export interface SessionExpectation {
  /** This member's id. */
  readonly memberId: string;
  /**
   * The hub's signing key of sessions, as configured. Ignored when `hubKeys` is given: the sessions key is then
   * the one the log's hub key statements make valid at the session's index.
   */
  readonly hubKey: Ed25519PublicKey;
  /** The hub key history read from the log (hub-key-view.ts), synced to cover the session's index. */
  readonly hubKeys?: HubKeyView;
  /** Now, in ms since the epoch. */
  readonly nowMs: number;
  /** The member's own logged commitments, when it wants them checked by id and root/digest. */
  readonly canaryCommitment?: { readonly id: string; readonly root: Uint8Array };
  readonly watermarkCommitment?: { readonly id: string; readonly digest: Uint8Array };
  readonly referenceFingerprintHash?: Uint8Array;
}

function mismatch(field: string): never {
  throw new MemberNodeError("session_mismatch", `request ${field} does not match the logged session`);
}

/**
 * Checks a session request against its hub-signed SessionOpened (see the module header) and returns the
 * logged session to answer. Codes: `bad_signature` / `malformed` (the envelope; with `hubKeys`, also a session
 * signed by a retired, replaced or other-purpose hub key), `session_mismatch` (a
 * field disagrees), `stale` (deadline passed), `permission_denied` (another member's model or commitment),
 * `policy_mismatch` (unregistered policy), `commitment_after_sighting`.
 */
export function checkSessionRequest(
  request: MatchSessionRequest,
  expect: SessionExpectation,
): LoggedSessionRef {
  if (request.opened === undefined)
    throw new MemberNodeError("malformed", "request carries no logged session");
  if (request.opened.payloadType !== SESSION_PAYLOAD_TYPE)
    throw new MemberNodeError("malformed", "request.opened is not a session envelope");
  // With the log's key history: the sessions key valid at the session's index, else a refusal saying why
  // (retired or replaced, another purpose's key, the root after sessions was delegated). The index is the
  // request's claim; admitSession then proves this envelope is the log's entry there.
  const hubKey =
    expect.hubKeys === undefined
      ? expect.hubKey
      : expect.hubKeys.expect(
          "sessions",
          request.opened.signatures[0]?.keyid ?? "",
          Number(request.sessionIndex),
          "the session",
        );
  let payload: Uint8Array;
  try {
    payload = verifyEnvelope(
      {
        payloadType: request.opened.payloadType,
        payload: request.opened.payload,
        signatures: request.opened.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
      },
      { keys: new KeyRing([hubKey]), requiredKeyIds: [hubKey.keyId] },
    ).payload;
  } catch (err) {
    if (isCryptoError(err) && (err.code === "bad_signature" || err.code === "unknown_key"))
      throw new MemberNodeError("bad_signature", "the session is not signed by the hub", { cause: err });
    throw new MemberNodeError("malformed", "request.opened is not a valid envelope", { cause: err });
  }
  let o: SessionOpened;
  try {
    o = fromBinary(SessionOpenedSchema, payload);
  } catch (cause) {
    throw new MemberNodeError("malformed", "request.opened is not an encoded SessionOpened", { cause });
  }
  if (request.sessionId !== o.sessionId) mismatch("session_id");
  if (!bytesEqual(request.nonce, o.nonce)) mismatch("nonce");
  if (
    request.suspect === undefined ||
    o.suspect === undefined ||
    !equals(SuspectRefSchema, request.suspect, o.suspect)
  )
    mismatch("suspect");
  if (
    request.candidate === undefined ||
    o.candidate === undefined ||
    !equals(MemberModelRefSchema, request.candidate, o.candidate)
  )
    mismatch("candidate");
  if (request.epochId !== o.epochId) mismatch("epoch_id");
  const reqDeadline = request.deadline === undefined ? undefined : Number(timestampMs(request.deadline));
  const deadline = o.deadline === undefined ? undefined : Number(timestampMs(o.deadline));
  if (deadline === undefined || reqDeadline !== deadline) mismatch("deadline");
  if (expect.nowMs > deadline)
    throw new MemberNodeError("stale", `session ${o.sessionId}'s deadline has passed`);
  if (o.candidate.memberId !== expect.memberId)
    throw new MemberNodeError("permission_denied", "the session compares another member's model");
  if (o.policy === undefined) throw new MemberNodeError("malformed", "the session states no policy");
  const policy = checkBoundPolicy(policyFromProto(o.policy));
  if (!policy.ok) throw new MemberNodeError("policy_mismatch", policy.message);
  const firstSeen = o.firstSeenIndex;
  const index = request.sessionIndex;
  if (!(firstSeen < index)) mismatch("session_index (the session must follow the suspect's first sighting)");
  if (!(o.referenceFingerprintIndex < index))
    mismatch("reference_fingerprint_index (must precede the session)");
  for (const [what, at] of [
    ["canary commitment", o.canaryCommitment?.logIndex],
    ["watermark commitment", o.watermarkCommitment?.logIndex],
  ] as const) {
    if (at !== undefined && !(at < firstSeen)) {
      throw new MemberNodeError(
        "commitment_after_sighting",
        `the ${what} (log index ${at}) was not logged before the suspect's first sighting (${firstSeen})`,
      );
    }
  }
  const c = expect.canaryCommitment;
  if (c !== undefined && o.canaryCommitment !== undefined) {
    if (o.canaryCommitment.commitmentId !== c.id || !bytesEqual(o.canaryCommitment.merkleRoot, c.root))
      throw new MemberNodeError(
        "permission_denied",
        "the session binds a canary commitment that is not this member's",
      );
  }
  const w = expect.watermarkCommitment;
  if (w !== undefined && o.watermarkCommitment !== undefined) {
    if (o.watermarkCommitment.commitmentId !== w.id || !bytesEqual(o.watermarkCommitment.keyDigest, w.digest))
      throw new MemberNodeError(
        "permission_denied",
        "the session binds a watermark key that is not this member's",
      );
  }
  if (
    expect.referenceFingerprintHash !== undefined &&
    !bytesEqual(o.referenceFingerprintHash, expect.referenceFingerprintHash)
  )
    mismatch("reference_fingerprint_hash (not this member's logged fingerprint)");
  if (index > BigInt(Number.MAX_SAFE_INTEGER))
    throw new MemberNodeError("malformed", "session_index is too large");
  return { index: Number(index), opened: o };
}

/**
 * The engine's numeric seed (`compare({ seed })`) from the session's 32-byte seed: its first 6 bytes,
 * big-endian (a safe integer), so the probe and canary order is fixed by the logged seed, not by the member.
 */
export function compareSeedOf(seed: Uint8Array): number {
  if (!(seed instanceof Uint8Array) || seed.length !== 32)
    throw new MemberNodeError("invalid_argument", "seed must be 32 bytes");
  let v = 0;
  for (let i = 0; i < 6; i++) v = v * 256 + (seed[i] as number);
  return v;
}
