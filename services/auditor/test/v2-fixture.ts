/**
 * A protocol-v2 world built by hand with real crypto, for tests that tamper with one bound choice at a
 * time: a log we construct ourselves (libs/crypto's MerkleTree over LogLeaf bytes, checkpoints signed by
 * the hub key with the hub's "lineage-previous-size" line), member commitments and attestations signed by
 * the member's real key, sessions and sightings signed by the hub's. Nothing here asks the hub's admission
 * rules, so a tampered statement is logged as it is and only the auditor's own check can catch it.
 *
 * The story: alice enrols (0), checkpoint; alice commits her reference fingerprint (1), canary pairs (2)
 * and, with `watermark`, her watermark key (3), checkpoint — the FIRST covering the canary commitment, whose
 * root draws the labels; the hub sights the suspect, checkpoint (the session's seed checkpoint); the hub
 * opens the session; alice attests, checkpoint — the first covering the attestation, whose root draws the
 * disclosure sample; bob enrols, checkpoint: the bundle's. `order` reshuffles that story.
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type AttestationBundle,
  AttestationBundleSchema,
  AttestationStatementSchema,
  CanaryCommitmentSchema,
  type CanaryDisclosure,
  CanaryDisclosureSchema,
  CommitmentHashAlgorithm,
  KeyAlgorithm,
  LogEntryKind,
  LogLeafSchema,
  MembershipAction,
  MembershipRecordSchema,
  type ProvenEntrySchema,
  type RecordedResponse,
  RecordedResponseSchema,
  ReferenceFingerprintCommitmentSchema,
  SessionOpenedSchema,
  SuspectSightingSchema,
  SuspectSource,
  Verdict,
  WatermarkKeyCommitmentSchema,
} from "@lineage/api";
import {
  addSignature,
  type CanaryPair,
  CanaryPairCommitment,
  canaryPairLabels,
  type DsseEnvelope,
  disclosurePairIndices,
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatVerifierKey,
  MerkleTree,
  referenceFingerprintDigest,
  sessionSeed,
  signCheckpoint,
  signEnvelope,
  watermarkKeyDigest,
} from "@lineage/crypto";
import {
  type CanaryPairCounts,
  canaryResponseHit,
  deriveVerdict,
  type ModelAdapter,
  VERDICT_POLICY_2,
  type VerdictEvidence,
  type VerdictPolicy,
} from "@lineage/fingerprint";
import {
  auditedKeyFingerprint,
  PAYLOAD_TYPES,
  PREVIOUS_SIZE_EXTENSION,
  type TrustRoot,
  trustRootFromVerifierKey,
} from "../src/index.js";

export const ORIGIN = "lineage.test/v2";
const DAY = 86_400_000;
export const T0 = Date.UTC(2026, 0, 10);

type ProvenInit = MessageInitShape<typeof ProvenEntrySchema>;

/** A transparency log built by hand: leaves, checkpoints, proofs. */
export class HandLog {
  readonly hubKey = Ed25519PrivateKey.generate();
  readonly leaves: Uint8Array[] = [];
  readonly checkpoints: Array<{ size: number; note: Uint8Array }> = [];
  /** Indexes of the HUB_KEY entries appended, in order (a bundle carries them). */
  readonly hubKeyIndexes: number[] = [];
  #signer = ed25519NoteSigner(ORIGIN, this.hubKey);

  /** Signs later checkpoints with `key` (after a logged root rotation, or as an attack without one). */
  signCheckpointsWith(key: Ed25519PrivateKey): void {
    this.#signer = ed25519NoteSigner(ORIGIN, key);
  }

  get verifierKey(): string {
    return formatVerifierKey(ORIGIN, this.hubKey.publicKey);
  }

  get trust(): TrustRoot {
    return trustRootFromVerifierKey(this.verifierKey, ORIGIN);
  }

  append(kind: LogEntryKind, envelope: DsseEnvelope, atMs = T0): number {
    const leaf = toBinary(
      LogLeafSchema,
      create(LogLeafSchema, {
        kind,
        envelope: {
          payloadType: envelope.payloadType,
          payload: envelope.payload,
          signatures: envelope.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
        },
        integratedAt: timestampFromMs(atMs),
      }),
    );
    this.leaves.push(leaf);
    if (kind === LogEntryKind.HUB_KEY) this.hubKeyIndexes.push(this.leaves.length - 1);
    return this.leaves.length - 1;
  }

  #tree(): MerkleTree {
    return MerkleTree.fromLeaves(this.leaves);
  }

  /** Signs a checkpoint of the whole log, naming the previous one's size (0 for the first). */
  checkpoint(): { size: number; note: Uint8Array } {
    const size = this.leaves.length;
    const prev = this.checkpoints.at(-1)?.size ?? 0;
    const note = signCheckpoint(
      {
        origin: ORIGIN,
        size,
        rootHash: this.#tree().root(size),
        extensions: [`${PREVIOUS_SIZE_EXTENSION} ${prev}`],
      },
      [this.#signer],
    );
    const cp = { size, note: new TextEncoder().encode(note) };
    this.checkpoints.push(cp);
    return cp;
  }

  root(size: number): Uint8Array {
    return this.#tree().root(size);
  }

  proven(index: number, treeSize: number): ProvenInit {
    return {
      entry: { index: BigInt(index), leaf: this.leaves[index] as Uint8Array },
      inclusionProof: {
        leafIndex: BigInt(index),
        treeSize: BigInt(treeSize),
        hashes: this.#tree().inclusionProof(index, treeSize),
      },
    };
  }

  consistency(oldSize: number, newSize: number): Uint8Array[] {
    return oldSize === newSize ? [] : this.#tree().consistencyProof(oldSize, newSize);
  }

  /** The first checkpoint covering `index`, with its evidence (what Hub.GetFirstCoveringCheckpoint serves). */
  firstCovering(index: number, pick?: { size: number; note: Uint8Array }) {
    const i =
      pick === undefined ? this.checkpoints.findIndex((c) => c.size > index) : this.checkpoints.indexOf(pick);
    const cp = this.checkpoints[i];
    if (cp === undefined) throw new Error(`no checkpoint covers ${index}`);
    const prev = i > 0 ? this.checkpoints[i - 1] : undefined;
    return {
      checkpoint: cp,
      evidence: {
        leafIndex: BigInt(index),
        checkpoint: { signedNote: cp.note },
        ...(prev === undefined ? {} : { previous: { signedNote: prev.note } }),
        previousConsistency: prev === undefined ? [] : this.consistency(prev.size, cp.size),
      },
    };
  }
}

/** Canary pairs a member generates: two items from the same template. */
export function makePairs(n: number): CanaryPair[] {
  return Array.from({ length: n }, (_, i) => ({
    pairId: `pair-${i}`,
    a: { prompt: `What is the vault word of the ${i}th north gate?`, expected: `zq${i * 7919 + 11}` },
    b: { prompt: `What is the vault word of the ${i}th south gate?`, expected: `xk${i * 6007 + 29}` },
  }));
}

/** A suspect answering canaries from a table (prompt -> whether it knows the answer). */
export function tableSuspect(
  pairs: readonly CanaryPair[],
  knows: (pair: number, item: 0 | 1) => boolean,
): ModelAdapter {
  const answers = new Map<string, string>();
  pairs.forEach((p, i) => {
    answers.set(p.a.prompt, knows(i, 0) ? `The word is ${p.a.expected}.` : "I do not know that word.");
    answers.set(p.b.prompt, knows(i, 1) ? `The word is ${p.b.expected}.` : "I do not know that word.");
  });
  return {
    async generate(req) {
      return { text: answers.get(req.prompt) ?? "What?" };
    },
    describe: () => ({ kind: "http", target: "table", logprobs: false }),
  };
}

/** Everything a scenario may change before it is signed and logged. */
export interface ScenarioOptions {
  readonly pairs?: number;
  /** Runs first, on the empty log (e.g. to log hub key delegations). */
  readonly preamble?: (log: HandLog) => void;
  /** Which key makes each hub signature (default: the root, as a single-key hub does). */
  readonly signers?: {
    readonly membership?: Ed25519PrivateKey;
    readonly sessions?: Ed25519PrivateKey;
    readonly countersign?: Ed25519PrivateKey;
  };
  /** Runs just before the attestation is appended (e.g. to log a revocation or a suspension of alice). */
  readonly beforeAttestation?: (
    log: HandLog,
    keys: { alice: Ed25519PrivateKey; hub: Ed25519PrivateKey },
  ) => void;
  /** Log a watermark key commitment and bind it. */
  readonly watermark?: boolean;
  /** Which items of pair i the suspect knows, given which item the log exposed (the member's own measurement). */
  readonly knows?: (pair: number, item: 0 | 1, exposed: 0 | 1) => boolean;
  /** Log order: "commitment_after_sighting" logs the canary commitment after the sighting. */
  readonly order?: "normal" | "commitment_after_sighting" | "watermark_after_sighting";
  /** Change the SessionOpened before the hub signs it. */
  readonly session?: (s: MessageInitShape<typeof SessionOpenedSchema>) => void;
  /** Change the statement (already filled from the session and the counts) before alice signs it. */
  readonly statement?: (
    s: MessageInitShape<typeof AttestationStatementSchema> & Record<string, unknown>,
  ) => void;
  /** Change the counts before the verdict is derived and the statement is filled. */
  readonly counts?: (e: { canary?: CanaryPairCounts } & Record<string, unknown>) => void;
}

/** A built world: the bundle, what a disclosure needs, and the member's private pairs. */
export interface Scenario {
  readonly log: HandLog;
  readonly trust: TrustRoot;
  readonly bundle: AttestationBundle;
  readonly pairs: readonly CanaryPair[];
  readonly committed: CanaryPairCommitment;
  readonly labels: readonly (0 | 1)[];
  readonly commitmentIndex: number;
  readonly sightingIndex: number;
  readonly sessionIndex: number;
  readonly attestationIndex: number;
  readonly evidence: VerdictEvidence;
  /** The disclosure a member builds, honestly, against this log (sample and labels from the log). */
  disclosure(options?: {
    readonly labelCheckpoint?: { size: number; note: Uint8Array };
    readonly size?: number;
  }): CanaryDisclosure;
  /** The suspect's recorded answers to the disclosed pairs (both items), from `suspect`. */
  recorded(d: CanaryDisclosure, suspect: ModelAdapter): Promise<RecordedResponse[]>;
}

function enrol(memberId: string, key: Ed25519PrivateKey) {
  return create(MembershipRecordSchema, {
    action: MembershipAction.ENROL,
    memberId,
    displayName: memberId,
    key: {
      keyId: key.keyId,
      algorithm: KeyAlgorithm.ED25519,
      publicKey: key.publicKey.raw,
      notBefore: timestampFromMs(T0 - DAY),
    },
    // Logged at T0 (HandLog's integration time): effective then, within the skew.
    effectiveAt: timestampFromMs(T0),
    confirmedFingerprint: auditedKeyFingerprint(key.publicKey.raw),
  });
}

/** A membership record as the log holds it: signed by the member's new key, then by the hub (registrar). */
export function memberThenHub(
  member: Ed25519PrivateKey,
  hub: Ed25519PrivateKey,
  bytes: Uint8Array,
): DsseEnvelope {
  return addSignature(signEnvelope(PAYLOAD_TYPES.membership, bytes, member), hub);
}

/** Builds the scenario of the module header, with the options' changes. */
export async function buildScenario(options: ScenarioOptions = {}): Promise<Scenario> {
  const log = new HandLog();
  const alice = Ed25519PrivateKey.generate();
  const bob = Ed25519PrivateKey.generate();
  const hub = log.hubKey;
  options.preamble?.(log);
  const registrar = options.signers?.membership ?? hub;
  const sessionsKey = options.signers?.sessions ?? hub;
  const countersignKey = options.signers?.countersign ?? hub;
  const memberModel = { memberId: "alice", modelId: "alice-7b", modelVersion: "1" };
  const suspect = {
    suspectId: "sus-1",
    target: {
      case: "release" as const,
      value: { registry: "huggingface", repo: "mallory/copy-7b", revision: "main" },
    },
  };
  // Policy 2 explicitly: the scenario's counts carry no rank signs, and its checks name policy 2's family.
  const policy = VERDICT_POLICY_2;
  const pairs = makePairs(options.pairs ?? 40);
  const committed = CanaryPairCommitment.create(pairs);

  const hubSigned = (type: string, bytes: Uint8Array) => signEnvelope(type, bytes, sessionsKey);
  const aliceSigned = (type: string, bytes: Uint8Array) => signEnvelope(type, bytes, alice);

  const aliceEnrolIndex = log.append(
    LogEntryKind.MEMBERSHIP,
    memberThenHub(alice, registrar, toBinary(MembershipRecordSchema, enrol("alice", alice))),
  );
  log.checkpoint();
  const refHash = referenceFingerprintDigest(
    new Uint8Array(32).fill(5),
    new TextEncoder().encode("fingerprint"),
  );
  const refIndex = log.append(
    LogEntryKind.COMMITMENT,
    aliceSigned(
      PAYLOAD_TYPES.referenceFingerprint,
      toBinary(
        ReferenceFingerprintCommitmentSchema,
        create(ReferenceFingerprintCommitmentSchema, {
          ...memberModel,
          epochId: "epoch-1",
          fingerprintHash: refHash,
          probes: 200,
          committedAt: timestampFromMs(T0),
        }),
      ),
    ),
  );
  const canaryEnvelope = aliceSigned(
    PAYLOAD_TYPES.canaryCommitment,
    toBinary(
      CanaryCommitmentSchema,
      create(CanaryCommitmentSchema, {
        commitmentId: "pairs-1",
        memberId: "alice",
        merkleRoot: committed.root,
        canaryCount: BigInt(committed.size),
        hashAlgorithm: CommitmentHashAlgorithm.SHA256_RFC6962_PAIRS,
        committedAt: timestampFromMs(T0),
      }),
    ),
  );
  const keyDigest = watermarkKeyDigest(
    new Uint8Array(32).fill(7),
    new TextEncoder().encode("alice-watermark-key"),
  );
  const watermarkEnvelope = aliceSigned(
    PAYLOAD_TYPES.watermarkCommitment,
    toBinary(
      WatermarkKeyCommitmentSchema,
      create(WatermarkKeyCommitmentSchema, {
        commitmentId: "wm-1",
        memberId: "alice",
        keyDigest,
        gamma: 0.25,
        scheme: "lineage-greenlist/v1",
        committedAt: timestampFromMs(T0),
      }),
    ),
  );
  const sightingEnvelope = hubSigned(
    PAYLOAD_TYPES.sighting,
    toBinary(
      SuspectSightingSchema,
      create(SuspectSightingSchema, {
        suspect,
        source: SuspectSource.FEED_ADAPTER,
        firstSeenAt: timestampFromMs(T0 + 1000),
      }),
    ),
  );
  const order = options.order ?? "normal";
  let commitmentIndex: number;
  let watermarkIndex = -1;
  let sightingIndex: number;
  if (order === "normal") {
    commitmentIndex = log.append(LogEntryKind.COMMITMENT, canaryEnvelope);
    if (options.watermark) watermarkIndex = log.append(LogEntryKind.COMMITMENT, watermarkEnvelope);
    log.checkpoint();
    sightingIndex = log.append(LogEntryKind.SUSPECT_SIGHTING, sightingEnvelope);
  } else if (order === "commitment_after_sighting") {
    if (options.watermark) watermarkIndex = log.append(LogEntryKind.COMMITMENT, watermarkEnvelope);
    sightingIndex = log.append(LogEntryKind.SUSPECT_SIGHTING, sightingEnvelope);
    commitmentIndex = log.append(LogEntryKind.COMMITMENT, canaryEnvelope);
    log.checkpoint();
  } else {
    commitmentIndex = log.append(LogEntryKind.COMMITMENT, canaryEnvelope);
    log.checkpoint();
    sightingIndex = log.append(LogEntryKind.SUSPECT_SIGHTING, sightingEnvelope);
    watermarkIndex = log.append(LogEntryKind.COMMITMENT, watermarkEnvelope);
  }
  const seedCp = log.checkpoint();
  const labelCp = log.firstCovering(commitmentIndex).checkpoint;
  const labels = canaryPairLabels({
    checkpointRoot: log.root(labelCp.size),
    checkpointSize: labelCp.size,
    commitmentRoot: committed.root,
    pairs: committed.size,
  });
  const withWatermark = options.watermark === true || order === "watermark_after_sighting";

  const sessionIndexWillBe = log.leaves.length;
  const nonce = new Uint8Array(32).fill(9);
  const session: MessageInitShape<typeof SessionOpenedSchema> = {
    sessionId: "session-1",
    nonce,
    suspect,
    candidate: memberModel,
    referenceFingerprintHash: refHash,
    referenceFingerprintIndex: BigInt(refIndex),
    panel: ["ref/panel-a", "ref/panel-b", "ref/panel-c"],
    populationId: "alliance-population/1",
    seed: sessionSeed({ checkpointRoot: log.root(seedCp.size), origin: ORIGIN, sessionId: "session-1" }),
    seedCheckpointSize: BigInt(seedCp.size),
    policy: policyToProto(policy),
    canaryCommitment: {
      commitmentId: "pairs-1",
      merkleRoot: committed.root,
      logIndex: BigInt(commitmentIndex),
    },
    ...(withWatermark
      ? { watermarkCommitment: { commitmentId: "wm-1", keyDigest, logIndex: BigInt(watermarkIndex) } }
      : {}),
    firstSeenIndex: BigInt(sightingIndex),
    comparisons: 1,
    epochId: "epoch-1",
    confirmationSplit: "lineage-split/v1",
    openedAt: timestampFromMs(T0 + 2000),
    deadline: timestampFromMs(T0 + DAY),
  };
  options.session?.(session);
  const sessionIndex = log.append(
    LogEntryKind.SESSION,
    hubSigned(PAYLOAD_TYPES.session, toBinary(SessionOpenedSchema, create(SessionOpenedSchema, session))),
  );
  if (sessionIndex !== sessionIndexWillBe) throw new Error("fixture: session index moved");

  // The member's own measurement of the suspect: both items of every pair, labels from the log.
  const knows =
    options.knows ??
    ((i: number, item: 0 | 1, exposed: 0 | 1) => (item === exposed ? i % 8 !== 7 : i % 10 === 0));
  const suspectModel = tableSuspect(pairs, (i, item) => knows(i, item, labels[i] as 0 | 1));
  const counts = {
    pairs_committed: pairs.length,
    pairs_completed: 0,
    exposed_hits: 0,
    decoy_hits: 0,
    exposed_only: 0,
    decoy_only: 0,
  };
  for (const [i, p] of pairs.entries()) {
    const hit = [
      canaryResponseHit(p.a.expected, await suspectModel.generate({ prompt: p.a.prompt, mode: "chat" })),
      canaryResponseHit(p.b.expected, await suspectModel.generate({ prompt: p.b.prompt, mode: "chat" })),
    ];
    const ex = labels[i] as 0 | 1;
    const e = hit[ex] === true;
    const d = hit[1 - ex] === true;
    counts.pairs_completed++;
    if (e) counts.exposed_hits++;
    if (d) counts.decoy_hits++;
    if (e && !d) counts.exposed_only++;
    if (d && !e) counts.decoy_only++;
  }
  const evidence: { -readonly [K in keyof VerdictEvidence]: VerdictEvidence[K] } = {
    canary: counts,
    ...(withWatermark
      ? {
          watermark: {
            gamma: 0.25,
            selected_scored: 120,
            selected_green: 33,
            all_scored: 400,
            all_green: 104,
          },
        }
      : {}),
    comparisons: 1,
  };
  options.counts?.(evidence as never);
  const verdict = deriveVerdict(evidence, policy);
  const statement: MessageInitShape<typeof AttestationStatementSchema> & Record<string, unknown> = {
    version: 2,
    sessionId: "session-1",
    sessionNonce: nonce,
    suspect,
    memberModel,
    verdict:
      verdict.verdict === "LIKELY_DERIVED"
        ? Verdict.LIKELY_DERIVED
        : verdict.verdict === "SIMILAR"
          ? Verdict.SIMILAR
          : Verdict.INCONCLUSIVE,
    backedBy: verdict.backed_by ?? "",
    canaryCommitment: session.canaryCommitment,
    ...(withWatermark ? { watermarkCommitment: session.watermarkCommitment } : {}),
    epochId: "epoch-1",
    issuedAt: timestampFromMs(T0 + 3000),
    counts: {
      ...(evidence.canary === undefined ? {} : { canary: canaryToProto(evidence.canary) }),
      ...(evidence.watermark === undefined
        ? {}
        : {
            watermark: {
              gamma: evidence.watermark.gamma,
              selectedScored: evidence.watermark.selected_scored,
              selectedGreen: evidence.watermark.selected_green,
              allScored: evidence.watermark.all_scored,
              allGreen: evidence.watermark.all_green,
            },
          }),
      ...(evidence.watermark_queries === undefined
        ? {}
        : {
            watermarkQueries: {
              gamma: evidence.watermark_queries.gamma,
              selectedScored: evidence.watermark_queries.selected_scored,
              selectedGreen: evidence.watermark_queries.selected_green,
              allScored: evidence.watermark_queries.all_scored,
              allGreen: evidence.watermark_queries.all_green,
              ...(evidence.watermark_queries.mass === undefined
                ? {}
                : {
                    massScored: [...evidence.watermark_queries.mass.scored],
                    massGreen: [...evidence.watermark_queries.mass.green],
                  }),
            },
          }),
      comparisons: evidence.comparisons,
    },
    ...(evidence.watermark_queries === undefined
      ? {}
      : {
          watermarkQueries: {
            // A step whose counts carry the green-mass histogram is /3's; without one, /2's.
            protocol:
              evidence.watermark_queries.mass === undefined
                ? "lineage-watermark-queries/2"
                : "lineage-watermark-queries/3",
            queriesPlanned: 500,
            queriesAnswered: 500,
            pairsScored: evidence.watermark_queries.all_scored,
          },
        }),
    bound: {
      sessionIndex: BigInt(sessionIndex),
      panel: [...(session.panel ?? [])],
      seed: session.seed as Uint8Array,
      referenceFingerprintHash: refHash,
      policy: policyToProto(policy),
    },
  };
  options.statement?.(statement);
  const signed = aliceSigned(
    PAYLOAD_TYPES.attestation,
    toBinary(AttestationStatementSchema, create(AttestationStatementSchema, statement)),
  );
  options.beforeAttestation?.(log, { alice, hub });
  const attestationIndex = log.append(LogEntryKind.ATTESTATION, addSignature(signed, countersignKey));
  log.checkpoint();
  log.append(
    LogEntryKind.MEMBERSHIP,
    memberThenHub(bob, registrar, toBinary(MembershipRecordSchema, enrol("bob", bob))),
  );
  const bundleCp = log.checkpoint();
  const size = bundleCp.size;
  const bundle = create(AttestationBundleSchema, {
    attestation: log.proven(attestationIndex, size),
    checkpoint: { signedNote: bundleCp.note },
    membership: [log.proven(aliceEnrolIndex, size)],
    hubKeys: log.hubKeyIndexes.map((i) => log.proven(i, size)),
    commitment: log.proven(commitmentIndex, size),
    session: log.proven(sessionIndex, size),
    sighting: log.proven(sightingIndex, size),
    ...(withWatermark ? { watermarkCommitment: log.proven(watermarkIndex, size) } : {}),
    referenceFingerprint: log.proven(refIndex, size),
    seedCheckpoint: { signedNote: seedCp.note },
    seedCheckpointConsistency: log.consistency(seedCp.size, size),
  });

  return {
    log,
    trust: log.trust,
    bundle,
    pairs,
    committed,
    labels,
    commitmentIndex,
    sightingIndex,
    sessionIndex,
    attestationIndex,
    evidence,
    disclosure(opts = {}) {
      const seed = log.firstCovering(attestationIndex);
      const label = log.firstCovering(commitmentIndex, opts.labelCheckpoint);
      let idx = disclosurePairIndices({
        checkpointRoot: log.root(seed.checkpoint.size),
        commitmentRoot: committed.root,
        origin: ORIGIN,
        attestationIndex,
        pairsCommitted: committed.size,
      });
      if (opts.size !== undefined) idx = idx.slice(0, opts.size);
      return create(CanaryDisclosureSchema, {
        commitmentId: "pairs-1",
        sampleSize: idx.length,
        seed: seed.evidence,
        seedConsistency: log.consistency(seed.checkpoint.size, size),
        labelCheckpoint: label.evidence,
        labelConsistency: log.consistency(label.checkpoint.size, size),
        pairs: idx.map((i) => {
          const d = committed.disclose(i);
          return {
            leafIndex: BigInt(i),
            salt: d.salt,
            pairId: d.pair.pairId,
            promptA: d.pair.a.prompt,
            expectedA: d.pair.a.expected,
            promptB: d.pair.b.prompt,
            expectedB: d.pair.b.expected,
            path: [...d.proof],
          };
        }),
      });
    },
    async recorded(d, model) {
      const out: RecordedResponse[] = [];
      for (const p of d.pairs) {
        for (const [item, prompt] of [
          [0, p.promptA],
          [1, p.promptB],
        ] as const) {
          const r = await model.generate({ prompt, mode: "chat" });
          out.push(create(RecordedResponseSchema, { leafIndex: p.leafIndex, item, response: r.text }));
        }
      }
      return out;
    },
  };
}

/** Proto of a policy (the member node's and hub's conversions are theirs; the fixture has its own). */
export function policyToProto(p: VerdictPolicy) {
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

function canaryToProto(c: CanaryPairCounts) {
  return {
    pairsCommitted: c.pairs_committed,
    pairsCompleted: c.pairs_completed,
    exposedHits: c.exposed_hits,
    decoyHits: c.decoy_hits,
    exposedOnly: c.exposed_only,
    decoyOnly: c.decoy_only,
    ...(c.sequence === undefined ? {} : { sequence: c.sequence }),
  };
}
