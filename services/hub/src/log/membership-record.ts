/** Membership records the secretariat logs (DESIGN.md flow 1, "Enrol"). */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { KeyAlgorithm, MembershipAction, type MembershipRecordSchema } from "@lineage/api";
import type { Ed25519PublicKey } from "@lineage/crypto";

/** The record enrolling `memberId` with an Ed25519 key valid from `effectiveAtMs` (no expiry). */
export function enrolmentRecord(
  memberId: string,
  displayName: string,
  key: Ed25519PublicKey,
  effectiveAtMs: number,
): MessageInitShape<typeof MembershipRecordSchema> {
  const at = timestampFromMs(effectiveAtMs);
  return {
    action: MembershipAction.ENROL,
    memberId,
    displayName,
    key: { keyId: key.keyId, algorithm: KeyAlgorithm.ED25519, publicKey: key.raw, notBefore: at },
    effectiveAt: at,
  };
}
