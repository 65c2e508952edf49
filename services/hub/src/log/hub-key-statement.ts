/**
 * The hub's key set (docs/specs/hub-keys.md; hub_key.proto): the root key signs checkpoints and delegates
 * each purpose below to a key of its own by a logged HubKeyStatement, signed by the root and by the named
 * key (proof of possession). Until a purpose's first delegation the root signs it (a single-key hub's log
 * stays valid); after it, only the delegated key counts (services/auditor/src/hub-key-history.ts).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { HubKeyAction, HubKeyPurpose, HubKeyStatementSchema } from "@lineage/api";
import { addSignature, type DsseEnvelope, type Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import { PAYLOAD_TYPES } from "./log-leaf.js";

/** The purposes the root delegates. */
export type HubKeyPurposeName = "membership" | "sessions" | "countersign";

/** Every delegable purpose, in the order the hub delegates them. */
export const HUB_KEY_PURPOSES: readonly HubKeyPurposeName[] = ["membership", "sessions", "countersign"];

/** What each purpose's key signs (for help texts and the spec). */
export const HUB_KEY_PURPOSE_SIGNS: Readonly<Record<HubKeyPurposeName, string>> = {
  membership: "membership records (the registrar signature) and review decisions",
  sessions: "suspect sightings and match sessions",
  countersign: "the countersignature on member attestations",
};

/** The proto enum of a purpose. */
export const HUB_KEY_PURPOSE_ENUM: Readonly<Record<HubKeyPurposeName, HubKeyPurpose>> = {
  membership: HubKeyPurpose.MEMBERSHIP,
  sessions: HubKeyPurpose.SESSIONS,
  countersign: HubKeyPurpose.COUNTERSIGN,
};

/** The purpose's name in the log's admission state (the enum's name, as replayStoredEntry records it). */
export function purposeStateName(p: HubKeyPurposeName): string {
  return HubKeyPurpose[HUB_KEY_PURPOSE_ENUM[p]];
}

/** Purpose keys given to the log; a purpose without one is signed by the root (until delegated). */
export type HubPurposeKeys = Partial<Record<HubKeyPurposeName, Ed25519PrivateKey>>;

/**
 * A DELEGATE statement of `key` for `purpose`, signed by `root` then by `key`. `nowMs`: issued_at (the log
 * refuses one further than its clock skew from the integration time).
 */
export function delegationEnvelope(
  purpose: HubKeyPurposeName,
  key: Ed25519PrivateKey,
  root: Ed25519PrivateKey,
  origin: string,
  nowMs: number,
  reason: string,
): DsseEnvelope {
  const bytes = toBinary(
    HubKeyStatementSchema,
    create(HubKeyStatementSchema, {
      action: HubKeyAction.DELEGATE,
      purpose: HUB_KEY_PURPOSE_ENUM[purpose],
      keyId: key.keyId,
      publicKey: key.publicKey.raw,
      rootKeyId: root.keyId,
      origin,
      issuedAt: timestampFromMs(nowMs),
      reason: reason.slice(0, 256),
    }),
  );
  return addSignature(signEnvelope(PAYLOAD_TYPES.hubKey, bytes, root), key);
}

/** Name of the root in the log's admission state (HubKeyPurpose.ROOT's enum name, as replayStoredEntry records it). */
export const ROOT_STATE_NAME = HubKeyPurpose[HubKeyPurpose.ROOT];

/**
 * A ROTATE_ROOT statement naming `newRoot`, signed by `oldRoot` (the root valid at its position: the handover)
 * then by `newRoot` (proof of possession). From its index on, checkpoints and statements are the new root's only.
 */
export function rootRotationEnvelope(
  newRoot: Ed25519PrivateKey,
  oldRoot: Ed25519PrivateKey,
  origin: string,
  nowMs: number,
  reason: string,
): DsseEnvelope {
  const bytes = toBinary(
    HubKeyStatementSchema,
    create(HubKeyStatementSchema, {
      action: HubKeyAction.ROTATE_ROOT,
      purpose: HubKeyPurpose.ROOT,
      keyId: newRoot.keyId,
      publicKey: newRoot.publicKey.raw,
      rootKeyId: oldRoot.keyId,
      origin,
      issuedAt: timestampFromMs(nowMs),
      reason: reason.slice(0, 256),
    }),
  );
  return addSignature(signEnvelope(PAYLOAD_TYPES.hubKey, bytes, oldRoot), newRoot);
}

/**
 * A RETIRE statement of `purpose`'s current key (`keyId`, raw `publicKey`), signed by the root alone: from its
 * index on nothing signs the purpose until a new delegation.
 */
export function retirementEnvelope(
  purpose: HubKeyPurposeName,
  keyId: string,
  publicKey: Uint8Array,
  root: Ed25519PrivateKey,
  origin: string,
  nowMs: number,
  reason: string,
): DsseEnvelope {
  const bytes = toBinary(
    HubKeyStatementSchema,
    create(HubKeyStatementSchema, {
      action: HubKeyAction.RETIRE,
      purpose: HUB_KEY_PURPOSE_ENUM[purpose],
      keyId,
      publicKey,
      rootKeyId: root.keyId,
      origin,
      issuedAt: timestampFromMs(nowMs),
      reason: reason.slice(0, 256),
    }),
  );
  return signEnvelope(PAYLOAD_TYPES.hubKey, bytes, root);
}
