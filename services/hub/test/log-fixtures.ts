/** Real signed inputs for log tests: members with real Ed25519 keys, statements, commitments. */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  CanaryCommitmentSchema,
  CommitmentHashAlgorithm,
  KeyAlgorithm,
  MembershipAction,
  type MembershipRecordSchema,
  Verdict,
  WithdrawalSchema,
} from "@lineage/api";
import { type DsseEnvelope, Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import {
  type HubDatabase,
  hubMigrations,
  openTestStore,
  postgresTestTarget,
  type Store,
} from "@lineage/store";
import { PAYLOAD_TYPES } from "../src/index.js";

export const DAY = 86_400_000;

/** An enrol record for `memberId` with `key`, valid from `notBeforeMs`. */
export function enrolRecord(
  memberId: string,
  key: Ed25519PrivateKey,
  notBeforeMs: number,
  notAfterMs?: number,
): MessageInitShape<typeof MembershipRecordSchema> {
  return {
    action: MembershipAction.ENROL,
    memberId,
    displayName: `Member ${memberId}`,
    key: {
      keyId: key.keyId,
      algorithm: KeyAlgorithm.ED25519,
      publicKey: key.publicKey.raw,
      notBefore: timestampFromMs(notBeforeMs),
      ...(notAfterMs === undefined ? {} : { notAfter: timestampFromMs(notAfterMs) }),
    },
    effectiveAt: timestampFromMs(notBeforeMs),
  };
}

/** A revoke record of `key` from `revokedAtMs`. */
export function revokeRecord(
  memberId: string,
  key: Ed25519PrivateKey,
  revokedAtMs: number,
): MessageInitShape<typeof MembershipRecordSchema> {
  return {
    action: MembershipAction.REVOKE_KEY,
    memberId,
    key: {
      keyId: key.keyId,
      algorithm: KeyAlgorithm.ED25519,
      publicKey: key.publicKey.raw,
      revokedAt: timestampFromMs(revokedAtMs),
      revocationReason: "compromised",
    },
    effectiveAt: timestampFromMs(revokedAtMs),
  };
}

/** A member-signed attestation statement envelope. */
export function attestation(
  key: Ed25519PrivateKey,
  memberId: string,
  sessionId: string,
  issuedAtMs: number,
  commitment?: { id: string; root: Uint8Array; logIndex: number },
): DsseEnvelope {
  const st = create(AttestationStatementSchema, {
    version: 1,
    sessionId,
    sessionNonce: new Uint8Array(16).fill(7),
    suspect: {},
    memberModel: { memberId, modelId: "model-a", modelVersion: "1" },
    verdict: Verdict.LIKELY_DERIVED,
    evidence: { combinedPValue: 1e-9, combinedEffectSize: 0.8 },
    epochId: "epoch-1",
    issuedAt: timestampFromMs(issuedAtMs),
    ...(commitment === undefined
      ? {}
      : {
          canaryCommitment: {
            commitmentId: commitment.id,
            merkleRoot: commitment.root,
            logIndex: BigInt(commitment.logIndex),
          },
        }),
  });
  return signEnvelope(PAYLOAD_TYPES.attestation, toBinary(AttestationStatementSchema, st), key);
}

/** A member-signed canary commitment envelope. */
export function commitment(
  key: Ed25519PrivateKey,
  memberId: string,
  id: string,
  root: Uint8Array,
  count: number,
  atMs: number,
): DsseEnvelope {
  const c = create(CanaryCommitmentSchema, {
    commitmentId: id,
    memberId,
    merkleRoot: root,
    canaryCount: BigInt(count),
    hashAlgorithm: CommitmentHashAlgorithm.SHA256_RFC6962,
    committedAt: timestampFromMs(atMs),
  });
  return signEnvelope(PAYLOAD_TYPES.commitment, toBinary(CanaryCommitmentSchema, c), key);
}

/** A member-signed withdrawal envelope. */
export function withdrawal(
  key: Ed25519PrivateKey,
  index: number,
  leafHash: Uint8Array,
  atMs: number,
): DsseEnvelope {
  const w = create(WithdrawalSchema, {
    withdrawnIndex: BigInt(index),
    withdrawnLeafHash: leafHash,
    reason: "false positive",
    withdrawnAt: timestampFromMs(atMs),
  });
  return signEnvelope(PAYLOAD_TYPES.withdrawal, toBinary(WithdrawalSchema, w), key);
}

/** A fresh member key. */
export function memberKey(): Ed25519PrivateKey {
  return Ed25519PrivateKey.generate();
}

/** The backends a log test runs on: PGlite always, Postgres when reachable (or CI). */
export async function backends(): Promise<Array<{ name: string; open: () => Promise<Store<HubDatabase>> }>> {
  const out: Array<{ name: string; open: () => Promise<Store<HubDatabase>> }> = [
    { name: "pglite", open: () => migrated(openTestStore<HubDatabase>("pglite-memory")) },
  ];
  const pg = await postgresTestTarget();
  if (pg.skip === undefined) {
    out.push({
      name: "postgres",
      open: () => migrated(openTestStore<HubDatabase>("postgres", { url: pg.url })),
    });
  } else {
    console.log(`# postgres log tests skipped: ${pg.skip}`);
  }
  return out;
}

async function migrated(p: Promise<Store<HubDatabase>>): Promise<Store<HubDatabase>> {
  const s = await p;
  await s.migrate(hubMigrations);
  return s;
}
