/** Real signed inputs for log tests: members with real Ed25519 keys, statements, commitments. */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type AttestationStatement,
  AttestationStatementSchema,
  CanaryCommitmentSchema,
  type CanaryPairCountsSchema,
  CommitmentHashAlgorithm,
  KeyAlgorithm,
  MembershipAction,
  ReferenceFingerprintCommitmentSchema,
  SuspectSource,
  Verdict,
  type VerdictPolicySchema,
  WatermarkKeyCommitmentSchema,
  WithdrawalSchema,
} from "@lineage/api";
import { type DsseEnvelope, Ed25519PrivateKey, sha256, signEnvelope } from "@lineage/crypto";

const utf8 = (s: string) => new TextEncoder().encode(s);

import { DEFAULT_VERDICT_POLICY, type VerdictPolicy } from "@lineage/fingerprint";
import {
  type HubDatabase,
  hubMigrations,
  openTestStore,
  postgresTestTarget,
  type Store,
} from "@lineage/store";
import {
  addKeyRecord,
  keyFingerprint,
  PAYLOAD_TYPES,
  revokeKeyRecord,
  signMembership,
  type TransparencyLog,
} from "../src/index.js";

export const DAY = 86_400_000;

/**
 * An enrol record for `memberId` with `key`, valid from `notBeforeMs`, signed by the new key itself
 * (proof of possession); the log adds its registrar signature. It takes effect now (the log's skew).
 */
export function enrolRecord(
  memberId: string,
  key: Ed25519PrivateKey,
  notBeforeMs: number,
  notAfterMs?: number,
  effectiveAtMs = Date.now(),
): DsseEnvelope {
  return signMembership(
    {
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
      effectiveAt: timestampFromMs(effectiveAtMs),
      confirmedFingerprint: keyFingerprint(key.publicKey.raw),
    },
    [key],
  );
}

/** A revoke record of `key` from `revokedAtMs`, signed by `by` (default: the revoked key itself). */
export function revokeRecord(
  memberId: string,
  key: Ed25519PrivateKey,
  revokedAtMs: number,
  by: Ed25519PrivateKey = key,
): DsseEnvelope {
  return signMembership(revokeKeyRecord(memberId, key.publicKey, by.keyId, revokedAtMs, "compromised"), [by]);
}

/** An add-key record of `newKey`, signed by `signers` (normally the member's current key and `newKey`). */
export function addKeyEnvelope(
  memberId: string,
  newKey: Ed25519PrivateKey,
  byKeyId: string,
  atMs: number,
  signers: readonly Ed25519PrivateKey[],
): DsseEnvelope {
  return signMembership(addKeyRecord(memberId, newKey.publicKey, byKeyId, atMs), signers);
}

/** A member-signed VERSION-1 attestation statement envelope (refused since protocol v2). */
export function attestationV1(
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

/** A member-signed canary commitment envelope (v1 canary set, or v2 pairs with `pairs`). */
export function commitment(
  key: Ed25519PrivateKey,
  memberId: string,
  id: string,
  root: Uint8Array,
  count: number,
  atMs: number,
  pairs = false,
): DsseEnvelope {
  const c = create(CanaryCommitmentSchema, {
    commitmentId: id,
    memberId,
    merkleRoot: root,
    canaryCount: BigInt(count),
    hashAlgorithm: pairs
      ? CommitmentHashAlgorithm.SHA256_RFC6962_PAIRS
      : CommitmentHashAlgorithm.SHA256_RFC6962,
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

/**
 * A backend a log test runs on. `skip` is set (with the reason) when the backend cannot run here: pass it
 * to node:test as `test(name, { skip: backend.skip ?? false }, fn)` so the runner counts a SKIPPED test
 * instead of the test silently vanishing (a printed note is not counted by anything).
 */
export interface LogBackend {
  readonly name: string;
  readonly skip?: string;
  readonly open: () => Promise<Store<HubDatabase>>;
}

/**
 * The backends a log test runs on: PGlite always, Postgres when reachable — otherwise a Postgres backend
 * that is skipped with the reason. Under any truthy `CI`, an unreachable Postgres rejects instead
 * (postgresTestTarget), so CI cannot pass having skipped its database tests.
 */
export async function backends(): Promise<LogBackend[]> {
  const out: LogBackend[] = [
    { name: "pglite", open: () => migrated(openTestStore<HubDatabase>("pglite-memory")) },
  ];
  const pg = await postgresTestTarget();
  if (pg.skip === undefined) {
    out.push({
      name: "postgres",
      open: () => migrated(openTestStore<HubDatabase>("postgres", { url: pg.url })),
    });
  } else {
    const reason = pg.skip;
    out.push({
      name: "postgres",
      skip: reason,
      open: () => Promise.reject(new Error(`postgres backend is skipped: ${reason}`)),
    });
  }
  return out;
}

async function migrated(p: Promise<Store<HubDatabase>>): Promise<Store<HubDatabase>> {
  const s = await p;
  await s.migrate(hubMigrations);
  return s;
}

/** A member-signed watermark key commitment envelope. */
export function watermarkCommitment(
  key: Ed25519PrivateKey,
  memberId: string,
  id: string,
  digest: Uint8Array,
  gamma: number,
  atMs: number,
): DsseEnvelope {
  const w = create(WatermarkKeyCommitmentSchema, {
    commitmentId: id,
    memberId,
    keyDigest: digest,
    gamma,
    scheme: "lineage-greenlist/v1",
    committedAt: timestampFromMs(atMs),
  });
  return signEnvelope(PAYLOAD_TYPES.watermarkCommitment, toBinary(WatermarkKeyCommitmentSchema, w), key);
}

/** A member-signed reference fingerprint commitment envelope. */
export function referenceCommitment(
  key: Ed25519PrivateKey,
  memberId: string,
  modelId: string,
  hash: Uint8Array,
  atMs: number,
  epochId = "epoch-1",
): DsseEnvelope {
  const r = create(ReferenceFingerprintCommitmentSchema, {
    memberId,
    modelId,
    modelVersion: "1",
    epochId,
    fingerprintHash: hash,
    probes: 120,
    committedAt: timestampFromMs(atMs),
  });
  return signEnvelope(
    PAYLOAD_TYPES.referenceFingerprint,
    toBinary(ReferenceFingerprintCommitmentSchema, r),
    key,
  );
}

/** Domain policy -> proto (test-side; the member node has its own conversion module). */
export function policyProto(
  p: VerdictPolicy = DEFAULT_VERDICT_POLICY,
): MessageInitShape<typeof VerdictPolicySchema> {
  return {
    policyId: p.id,
    alpha: p.alpha,
    minEffect: p.min_effect,
    weights: Object.entries(p.weights).map(([test, weight]) => ({ test, weight: weight as number })),
    minCanaryPairs: p.min_canary_pairs,
    minWatermarkPairs: p.min_watermark_pairs,
    leadAlpha: p.lead_alpha,
    minLeadNull: p.min_lead_null,
  };
}

/** Canary counts whose exact McNemar rejects at about 3.5e-8 (LIKELY_DERIVED under lineage-policy/2). */
export const ACCUSING_CANARY: MessageInitShape<typeof CanaryPairCountsSchema> = {
  pairsCommitted: 64,
  pairsCompleted: 64,
  exposedHits: 40,
  decoyHits: 10,
  exposedOnly: 32,
  decoyOnly: 2,
};

/** Canary counts that decide nothing (INCONCLUSIVE). */
export const WEAK_CANARY: MessageInitShape<typeof CanaryPairCountsSchema> = {
  pairsCommitted: 64,
  pairsCompleted: 64,
  exposedHits: 5,
  decoyHits: 4,
  exposedOnly: 3,
  decoyOnly: 2,
};

/** What {@link openProtocolSession} logged. */
export interface ProtocolSession {
  readonly memberId: string;
  readonly key: Ed25519PrivateKey;
  readonly sessionId: string;
  readonly sessionIndex: number;
  readonly canary: {
    readonly id: string;
    readonly root: Uint8Array;
    readonly logIndex: number;
    readonly count: number;
  };
  readonly watermark?: {
    readonly id: string;
    readonly digest: Uint8Array;
    readonly logIndex: number;
    readonly gamma: number;
  };
  readonly referenceHash: Uint8Array;
  readonly sighting: number;
}

/**
 * Logs, in protocol order, a member's reference fingerprint and canary pair commitment (and a watermark key
 * commitment with `watermark`), the suspect's sighting and a session binding them. The member must be
 * enrolled already.
 */
export async function openProtocolSession(
  log: TransparencyLog,
  key: Ed25519PrivateKey,
  memberId: string,
  nowMs: number,
  options: {
    sessionId?: string;
    suspectId?: string;
    watermark?: boolean;
    pairs?: number;
    comparisons?: number;
  } = {},
): Promise<ProtocolSession> {
  const sessionId = options.sessionId ?? "session-1";
  const suspectId = options.suspectId ?? `suspect-of-${sessionId}`;
  const count = options.pairs ?? 64;
  // One reference per session here (the log refuses the same reference twice): the fingerprint as of that session.
  const referenceHash = sha256(utf8(`fingerprint of ${memberId}/model-a for ${sessionId}`));
  const ref = await log.appendCommitment(referenceCommitment(key, memberId, "model-a", referenceHash, nowMs));
  const root = sha256(utf8(`pairs of ${memberId} ${sessionId}`));
  const cid = `pairs-${sessionId}`;
  const c = await log.appendCommitment(commitment(key, memberId, cid, root, count, nowMs, true));
  let watermark: ProtocolSession["watermark"];
  if (options.watermark === true) {
    const digest = sha256(utf8(`watermark of ${memberId}`));
    const w = await log.appendCommitment(
      watermarkCommitment(key, memberId, `wm-${sessionId}`, digest, 0.25, nowMs),
    );
    watermark = { id: `wm-${sessionId}`, digest, logIndex: w.index, gamma: 0.25 };
  }
  const sighting = await log.appendSighting({ suspect: { suspectId }, source: SuspectSource.FEED_ADAPTER });
  // A checkpoint covering the sighting: on a loaded machine the periodic timer may have signed only the
  // empty tree so far, which is no seed.
  await log.checkpoint();
  const session = await log.appendSession(
    sessionInit(memberId, sessionId, suspectId, referenceHash, ref.index, sighting.index, nowMs, {
      canary: { id: cid, root, logIndex: c.index },
      ...(watermark === undefined ? {} : { watermark }),
      comparisons: options.comparisons ?? 1,
    }),
  );
  return {
    memberId,
    key,
    sessionId,
    sessionIndex: session.index,
    canary: { id: cid, root, logIndex: c.index, count },
    ...(watermark === undefined ? {} : { watermark }),
    referenceHash,
    sighting: sighting.index,
  };
}

/** The SessionInit of a session (what the hub's session code passes to appendSession). */
export function sessionInit(
  memberId: string,
  sessionId: string,
  suspectId: string,
  referenceHash: Uint8Array,
  referenceIndex: number,
  sightingIndex: number,
  nowMs: number,
  bind: {
    canary?: { id: string; root: Uint8Array; logIndex: number };
    watermark?: { id: string; digest: Uint8Array; logIndex: number };
    comparisons?: number;
    policy?: MessageInitShape<typeof VerdictPolicySchema>;
  } = {},
): Parameters<TransparencyLog["appendSession"]>[0] {
  return {
    sessionId,
    suspect: { suspectId },
    candidate: { memberId, modelId: "model-a", modelVersion: "1" },
    referenceFingerprintHash: referenceHash,
    referenceFingerprintIndex: BigInt(referenceIndex),
    panel: ["panel-1", "panel-2", "panel-3"],
    populationId: "population-1",
    policy: bind.policy ?? policyProto(),
    ...(bind.canary === undefined
      ? {}
      : {
          canaryCommitment: {
            commitmentId: bind.canary.id,
            merkleRoot: bind.canary.root,
            logIndex: BigInt(bind.canary.logIndex),
          },
        }),
    ...(bind.watermark === undefined
      ? {}
      : {
          watermarkCommitment: {
            commitmentId: bind.watermark.id,
            keyDigest: bind.watermark.digest,
            logIndex: BigInt(bind.watermark.logIndex),
          },
        }),
    firstSeenIndex: BigInt(sightingIndex),
    comparisons: bind.comparisons ?? 1,
    epochId: "epoch-1",
    confirmationSplit: "lineage-split/v1",
    deadline: timestampFromMs(nowMs + DAY),
  };
}

/**
 * The version-2 statement answering a logged session, copied from the session entry; `edit` changes it
 * before signing (to tamper with one field).
 */
export function attestationV2(
  log: TransparencyLog,
  p: ProtocolSession,
  issuedAtMs: number,
  claim: {
    canary?: MessageInitShape<typeof CanaryPairCountsSchema>;
    verdict: Verdict;
    backedBy: string;
  },
  edit: (st: AttestationStatement) => void = () => {},
): DsseEnvelope {
  const view = log.session(p.sessionId);
  if (view === undefined) throw new Error(`session ${p.sessionId} is not logged`);
  const o = view.opened;
  const st = create(AttestationStatementSchema, {
    version: 2,
    sessionId: o.sessionId,
    sessionNonce: o.nonce,
    ...(o.suspect === undefined ? {} : { suspect: o.suspect }),
    ...(o.candidate === undefined ? {} : { memberModel: o.candidate }),
    verdict: claim.verdict,
    evidence: { combinedPValue: 1, combinedEffectSize: 0 },
    epochId: o.epochId,
    issuedAt: timestampFromMs(issuedAtMs),
    ...(o.canaryCommitment === undefined ? {} : { canaryCommitment: o.canaryCommitment }),
    ...(o.watermarkCommitment === undefined ? {} : { watermarkCommitment: o.watermarkCommitment }),
    counts: {
      ...(o.canaryCommitment === undefined ? {} : { canary: claim.canary ?? WEAK_CANARY }),
      ...(p.watermark === undefined
        ? {}
        : {
            watermark: {
              gamma: p.watermark.gamma,
              selectedScored: 10,
              selectedGreen: 3,
              allScored: 20,
              allGreen: 5,
            },
          }),
      comparisons: o.comparisons,
    },
    bound: {
      sessionIndex: BigInt(view.index),
      panel: o.panel,
      seed: o.seed,
      referenceFingerprintHash: o.referenceFingerprintHash,
      ...(o.policy === undefined ? {} : { policy: o.policy }),
    },
    backedBy: claim.backedBy,
  });
  edit(st);
  return signEnvelope(PAYLOAD_TYPES.attestation, toBinary(AttestationStatementSchema, st), p.key);
}

/** The claim an accusing canary count supports. */
export const ACCUSING_CLAIM = {
  canary: ACCUSING_CANARY,
  verdict: Verdict.LIKELY_DERIVED,
  backedBy: "canary_pairs",
};
/** The claim weak counts support. */
export const WEAK_CLAIM = { canary: WEAK_CANARY, verdict: Verdict.INCONCLUSIVE, backedBy: "" };
