/**
 * The protocol-v2 flow against a REAL hub TransparencyLog (services/hub), for the end-to-end tests: a
 * member logs its reference fingerprint and canary pairs (member-signed), the hub checkpoints, sights the
 * suspect, opens the session (the hub derives the seed), the member measures the suspect with the labels
 * the log drew and attests with the counts (member-signed, then admitted and countersigned by the hub).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  CanaryCommitmentSchema,
  CommitmentHashAlgorithm,
  ReferenceFingerprintCommitmentSchema,
  SuspectSource,
  Verdict,
} from "@lineage/api";
import {
  type CanaryPair,
  CanaryPairCommitment,
  canaryPairLabels,
  type Ed25519PrivateKey,
  referenceFingerprintDigest,
  signEnvelope,
} from "@lineage/crypto";
import {
  type CanaryPairCounts,
  canaryResponseHit,
  DEFAULT_VERDICT_POLICY,
  deriveVerdict,
  type ModelAdapter,
} from "@lineage/fingerprint";
import { PAYLOAD_TYPES, type TransparencyLog } from "@lineage/hub";
import { CANARY_REQUEST } from "../src/index.js";
import { policyToProto } from "./v2-fixture.js";

/** What the flow logged. */
export interface HubV2Flow {
  readonly committed: CanaryPairCommitment;
  readonly pairs: readonly CanaryPair[];
  readonly labels: readonly (0 | 1)[];
  readonly commitmentIndex: number;
  readonly sightingIndex: number;
  readonly sessionIndex: number;
  readonly attestationIndex: number;
  readonly counts: CanaryPairCounts;
}

/**
 * Runs the flow for `memberId` (already enrolled with `key`) on `pairs`, measuring the suspect `suspectOf`
 * gives for the labels the log drew (a copy trains on the exposed items only after they are drawn).
 */
export async function runHubV2Flow(
  log: TransparencyLog,
  key: Ed25519PrivateKey,
  memberId: string,
  pairs: readonly CanaryPair[],
  suspectOf: (labels: readonly (0 | 1)[]) => ModelAdapter,
  options: {
    readonly sessionId: string;
    readonly suspectId: string;
    readonly atMs: number;
    /** The member model's version (default "1"): a member's second flow logs another model's fingerprint. */
    readonly modelVersion?: string;
  },
): Promise<HubV2Flow> {
  const memberModel = { memberId, modelId: `${memberId}-model`, modelVersion: options.modelVersion ?? "1" };
  const refHash = referenceFingerprintDigest(new Uint8Array(32).fill(1), new TextEncoder().encode(memberId));
  const ref = await log.appendCommitment(
    signEnvelope(
      PAYLOAD_TYPES.referenceFingerprint,
      toBinary(
        ReferenceFingerprintCommitmentSchema,
        create(ReferenceFingerprintCommitmentSchema, {
          ...memberModel,
          epochId: "epoch-1",
          fingerprintHash: refHash,
          probes: 100,
          committedAt: timestampFromMs(options.atMs),
        }),
      ),
      key,
    ),
  );
  const committed = CanaryPairCommitment.create(pairs);
  const com = await log.appendCommitment(
    signEnvelope(
      PAYLOAD_TYPES.commitment,
      toBinary(
        CanaryCommitmentSchema,
        create(CanaryCommitmentSchema, {
          commitmentId: `${options.sessionId}-pairs`,
          memberId,
          merkleRoot: committed.root,
          canaryCount: BigInt(committed.size),
          hashAlgorithm: CommitmentHashAlgorithm.SHA256_RFC6962_PAIRS,
          committedAt: timestampFromMs(options.atMs),
        }),
      ),
      key,
    ),
  );
  await log.checkpoint();
  const first = await log.firstCoveringCheckpoint(com.index);
  const labels = canaryPairLabels({
    checkpointRoot: first.checkpoint.rootHash,
    checkpointSize: first.checkpoint.treeSize,
    commitmentRoot: committed.root,
    pairs: committed.size,
  });
  const suspectRef = {
    suspectId: options.suspectId,
    target: {
      case: "endpoint" as const,
      value: { baseUrl: "http://127.0.0.1/v1", modelName: options.suspectId },
    },
  };
  const seen = await log.appendSighting({ suspect: suspectRef, source: SuspectSource.SECRETARIAT });
  await log.checkpoint();
  const canaryRef = {
    commitmentId: `${options.sessionId}-pairs`,
    merkleRoot: committed.root,
    logIndex: BigInt(com.index),
  };
  const session = await log.appendSession({
    sessionId: options.sessionId,
    suspect: suspectRef,
    candidate: memberModel,
    referenceFingerprintHash: refHash,
    referenceFingerprintIndex: BigInt(ref.index),
    panel: ["ref/panel-a", "ref/panel-b"],
    populationId: "alliance-population/1",
    policy: policyToProto(DEFAULT_VERDICT_POLICY),
    canaryCommitment: canaryRef,
    firstSeenIndex: BigInt(seen.index),
    comparisons: 1,
    epochId: "epoch-1",
    confirmationSplit: "lineage-split/v1",
    deadline: timestampFromMs(options.atMs + 86_400_000),
  });
  const opened = log.session(options.sessionId);
  if (opened === undefined) throw new Error("flow: the session is not logged");

  // The member's measurement: both items of every pair, asked as the engine asks canaries.
  const suspect = suspectOf(labels);
  const counts = {
    pairs_committed: pairs.length,
    pairs_completed: 0,
    exposed_hits: 0,
    decoy_hits: 0,
    exposed_only: 0,
    decoy_only: 0,
  };
  for (const [i, p] of pairs.entries()) {
    const hit: boolean[] = [];
    for (const item of [p.a, p.b]) {
      hit.push(
        canaryResponseHit(item.expected, await suspect.generate({ ...CANARY_REQUEST, prompt: item.prompt })),
      );
    }
    const ex = labels[i] as 0 | 1;
    const e = hit[ex] === true;
    const d = hit[1 - ex] === true;
    counts.pairs_completed++;
    if (e) counts.exposed_hits++;
    if (d) counts.decoy_hits++;
    if (e && !d) counts.exposed_only++;
    if (d && !e) counts.decoy_only++;
  }
  const verdict = deriveVerdict({ canary: counts, comparisons: 1 }, DEFAULT_VERDICT_POLICY);
  const s = opened.opened;
  const statement = create(AttestationStatementSchema, {
    version: 2,
    sessionId: options.sessionId,
    sessionNonce: s.nonce,
    suspect: suspectRef,
    memberModel,
    verdict:
      verdict.verdict === "LIKELY_DERIVED"
        ? Verdict.LIKELY_DERIVED
        : verdict.verdict === "SIMILAR"
          ? Verdict.SIMILAR
          : Verdict.INCONCLUSIVE,
    backedBy: verdict.backed_by ?? "",
    canaryCommitment: canaryRef,
    epochId: "epoch-1",
    issuedAt: timestampFromMs(options.atMs),
    counts: {
      canary: {
        pairsCommitted: counts.pairs_committed,
        pairsCompleted: counts.pairs_completed,
        exposedHits: counts.exposed_hits,
        decoyHits: counts.decoy_hits,
        exposedOnly: counts.exposed_only,
        decoyOnly: counts.decoy_only,
      },
      comparisons: 1,
    },
    bound: {
      sessionIndex: BigInt(session.index),
      panel: s.panel,
      seed: s.seed,
      referenceFingerprintHash: refHash,
      policy: policyToProto(DEFAULT_VERDICT_POLICY),
    },
  });
  const att = await log.appendAttestation(
    signEnvelope(PAYLOAD_TYPES.attestation, toBinary(AttestationStatementSchema, statement), key),
  );
  return {
    committed,
    pairs,
    labels,
    commitmentIndex: com.index,
    sightingIndex: seen.index,
    sessionIndex: session.index,
    attestationIndex: att.index,
    counts,
  };
}
