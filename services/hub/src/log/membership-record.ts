/**
 * Membership records (DESIGN.md flow 1, "Enrol"; proto/lineage/v1/member.proto, MembershipRecord) and
 * the member signatures they carry (issue 8): the hub is only the registrar, so every change to a
 * member's keys is signed by that member — enrolment by the new key itself (proof of possession), a
 * rotation by a current key and the new one, a revocation by a current key (or the revoked one).
 */
import { createHash } from "node:crypto";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { KeyAlgorithm, MembershipAction, MembershipRecordSchema } from "@lineage/api";
import {
  addSignature,
  type DsseEnvelope,
  type Ed25519PrivateKey,
  type Ed25519PublicKey,
} from "@lineage/crypto";
import { PAYLOAD_TYPES } from "./log-leaf.js";

/**
 * The fingerprint of a public key that the secretariat and the member compare out of band (read
 * aloud, on a call the secretariat placed to a number it already knew): 16 dash-separated groups of
 * 4 lowercase hex digits of SHA-256(raw key), i.e. all 256 bits, so no second key can match it.
 */
export function keyFingerprint(publicKey: Uint8Array): string {
  const hex = createHash("sha256").update(publicKey).digest("hex");
  return (hex.match(/.{4}/g) as string[]).join("-");
}

/**
 * The record enrolling `memberId` with an Ed25519 key valid from `notBeforeMs` (no expiry), taking
 * effect at `effectiveAtMs` (default `notBeforeMs`; the log refuses it if that is further than its
 * clock skew from when it is logged). `confirmedFingerprint` is what the member read out; it
 * defaults to the key's own fingerprint for callers that confirmed it by other means.
 */
export function enrolmentRecord(
  memberId: string,
  displayName: string,
  key: Ed25519PublicKey,
  notBeforeMs: number,
  options: { readonly effectiveAtMs?: number; readonly confirmedFingerprint?: string } = {},
): MessageInitShape<typeof MembershipRecordSchema> {
  return {
    action: MembershipAction.ENROL,
    memberId,
    displayName,
    key: {
      keyId: key.keyId,
      algorithm: KeyAlgorithm.ED25519,
      publicKey: key.raw,
      notBefore: timestampFromMs(notBeforeMs),
    },
    effectiveAt: timestampFromMs(options.effectiveAtMs ?? notBeforeMs),
    confirmedFingerprint: options.confirmedFingerprint ?? keyFingerprint(key.raw),
  };
}

/** The record adding `newKey` to `memberId`, authorised by the member's current key `byKeyId`. */
export function addKeyRecord(
  memberId: string,
  newKey: Ed25519PublicKey,
  byKeyId: string,
  atMs: number,
  reason = "rotation",
): MessageInitShape<typeof MembershipRecordSchema> {
  const at = timestampFromMs(atMs);
  return {
    action: MembershipAction.ADD_KEY,
    memberId,
    key: { keyId: newKey.keyId, algorithm: KeyAlgorithm.ED25519, publicKey: newKey.raw, notBefore: at },
    effectiveAt: at,
    reason,
    authorizedByKeyId: byKeyId,
  };
}

/** The record revoking `key` of `memberId` from `revokedAtMs`, authorised by `byKeyId`. */
export function revokeKeyRecord(
  memberId: string,
  key: Ed25519PublicKey,
  byKeyId: string,
  revokedAtMs: number,
  reason = "rotated",
): MessageInitShape<typeof MembershipRecordSchema> {
  const at = timestampFromMs(revokedAtMs);
  return {
    action: MembershipAction.REVOKE_KEY,
    memberId,
    key: {
      keyId: key.keyId,
      algorithm: KeyAlgorithm.ED25519,
      publicKey: key.raw,
      revokedAt: at,
      revocationReason: reason,
    },
    effectiveAt: at,
    reason,
    authorizedByKeyId: byKeyId,
  };
}

/**
 * A membership record signed by the member's key(s), ready for {@link TransparencyLog.appendMembership}
 * (which checks who must have signed and adds the hub's registrar signature). ENROL: sign with the new
 * key; ADD_KEY: with the authorising key and the new key; REVOKE_KEY: with the authorising key.
 */
export function signMembership(
  record: MessageInitShape<typeof MembershipRecordSchema>,
  signers: readonly Ed25519PrivateKey[],
): DsseEnvelope {
  const payload = toBinary(MembershipRecordSchema, create(MembershipRecordSchema, record));
  let env: DsseEnvelope = { payloadType: PAYLOAD_TYPES.membership, payload, signatures: [] };
  for (const k of signers) env = addSignature(env, k);
  return env;
}
