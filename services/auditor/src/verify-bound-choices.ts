/**
 * Protocol v2 checks of an attestation (DESIGN.md "The match protocol: every choice is bound before
 * the evidence"; docs/specs/verdict.md; docs/specs/canary-commitment.md "Ordering"). Given an attestation
 * whose signatures, inclusion and key validity already verified (verify-attestation.ts), this opens the entries
 * it rests on — the hub's SessionOpened and SuspectSighting, the member's reference fingerprint, canary pair
 * and watermark key commitments — from a {@link BoundEntrySource} (a bundle's proven entries, each proven
 * against the bundle's checkpoint; or the log itself, read by the auditor's walk), each signed by whom it must
 * be, and checks, each with its own failure code:
 *   - log order: canary/watermark commitment < first sighting (`commitment_after_sighting`); sighting <
 *     session < attestation and reference fingerprint < session (`out_of_order`);
 *   - the statement answers its session: session id, nonce, suspect, member model, reference fingerprint
 *     hash, canary and watermark commitments (`session_mismatch`), panel (`panel_mismatch`), seed
 *     (`seed_mismatch`), policy (`policy_mismatch`);
 *   - the session's seed is sessionSeed(root of the tree of the session's seed_checkpoint_size, origin,
 *     session id), that root given by the source (a bundle's hub-signed seed checkpoint with a consistency
 *     proof to the bundle's: `seed_mismatch`, `split_view`; the walk's own tree) (`seed_mismatch`);
 *   - the policy is the registered policy of its id (`policy_unknown`, `policy_mismatch`);
 *   - counts are present exactly for what the session bound, with the commitments' pair count and gamma
 *     and the session's comparisons, and the extra watermark queries record consistent with them (/2: its
 *     counts in watermark_queries beside the battery's; /1: they are watermark's) (`counts_inconsistent`);
 *   - `deriveVerdict(counts, policy)` gives the stated verdict and backed_by (`verdict_not_supported`).
 * Every input is attacker-controlled; the hub that logged these entries is not trusted either (its
 * admission runs the same rules; this is the independent re-check).
 */
import { equals } from "@bufbuild/protobuf";
import {
  type AttestationBundle,
  type AttestationStatement,
  type CanaryCommitment,
  CanaryCommitmentRefSchema,
  CommitmentHashAlgorithm,
  LogEntryKind,
  MemberModelRefSchema,
  type ReferenceFingerprintCommitment,
  ReferenceFingerprintCommitmentSchema,
  type SessionOpened,
  SessionOpenedSchema,
  SuspectRefSchema,
  type SuspectSighting,
  SuspectSightingSchema,
  type WatermarkKeyCommitment,
  WatermarkKeyCommitmentRefSchema,
  WatermarkKeyCommitmentSchema,
} from "@lineage/api";
import { bytesEqual, type Checkpoint, sessionSeed } from "@lineage/crypto";
import {
  checkBoundPolicy,
  deriveVerdict,
  FingerprintError,
  samePolicyNumbers,
  type VerdictEvidence,
  type VerdictPolicy,
  type VerdictResult,
} from "@lineage/fingerprint";
import { AuditError, type CheckList } from "./audit-error.js";
import type { HubKeyHistory } from "./hub-key-history.js";
import { type AuditedKey, openHubCheckpoint, PAYLOAD_TYPES } from "./log-records.js";
import {
  checkProven,
  type IndexedLeaf,
  type OpenedEntry,
  openHubLeaf,
  openMemberLeaf,
  toIndex,
} from "./proven-entry.js";
import { verdictEvidenceFromProto, verdictFromProto, verdictPolicyFromProto } from "./statement-domain.js";
import type { TrustRoot } from "./trust-root.js";
import { checkExtends } from "./verify-consistency.js";

/** Most panel models a session may name (match_session.proto). */
export const MAX_PANEL = 64;

/** Most hashes in the seed checkpoint's consistency proof (attestation_bundle.proto). */
const MAX_PROOF_HASHES = 64;

/** The entries an attestation rests on, by the name its checks carry. */
export type BoundEntryName =
  | "commitment"
  | "session"
  | "sighting"
  | "reference_fingerprint"
  | "watermark_commitment";

/** The root of a tree of `size` entries of the log `origin`. */
export interface TreeRoot {
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly origin: string;
}

/**
 * Where the entries an attestation names come from, each established to be in the log being checked: a
 * bundle's proven entries ({@link bundleEntrySource}), or the entries an auditor's walk over the whole log
 * read and hashed itself (log-walk.ts). The checks that make them (inclusion, reading) are recorded in `c`.
 */
export interface BoundEntrySource {
  /**
   * The entry `name` at the log index `named` the statement or the session gives. A source may return
   * another index (a bundle carries what it carries): the binding checks compare.
   */
  entry(c: CheckList, name: BoundEntryName, named: bigint): IndexedLeaf;
  /** The root of the log's first `size` entries: the tree the session's seed was derived from. */
  seedTree(c: CheckList, size: number): TreeRoot;
}

/**
 * The entries of a bundle, each proven against the bundle's checkpoint `cp`; its seed checkpoint opened under
 * `trust` (hub-signed), of the named size and origin, with a consistency proof to `cp`.
 */
export function bundleEntrySource(
  bundle: AttestationBundle,
  cp: Checkpoint,
  trust: TrustRoot,
): BoundEntrySource {
  const proven = {
    commitment: bundle.commitment,
    session: bundle.session,
    sighting: bundle.sighting,
    reference_fingerprint: bundle.referenceFingerprint,
    watermark_commitment: bundle.watermarkCommitment,
  } as const;
  return {
    entry: (c, name) => checkProven(c, name, proven[name], cp),
    seedTree(c, size) {
      // The seed itself is recomputed from the hub-signed checkpoint it came from, which the bundle carries with
      // a consistency proof to its own checkpoint (a seed the hub chose freely would let it pick the probes).
      const seedCp = c.run("session.seed_checkpoint", "bad_signature", () => {
        if (bundle.seedCheckpoint === undefined) {
          throw new AuditError(
            "malformed",
            "the bundle carries no seed checkpoint: the session's seed cannot be recomputed",
          );
        }
        return openHubCheckpoint(bundle.seedCheckpoint.signedNote, trust);
      });
      c.run("session.seed_checkpoint_size", "seed_mismatch", () => {
        if (seedCp.size !== size) {
          throw new AuditError(
            "seed_mismatch",
            `the seed checkpoint has ${seedCp.size} entries, the session names one of ${size}`,
          );
        }
        if (seedCp.origin !== cp.origin)
          throw new AuditError("seed_mismatch", "the seed checkpoint is of another log than the bundle's");
      });
      c.run("session.seed_checkpoint_consistency", "split_view", () => {
        if (bundle.seedCheckpointConsistency.length > MAX_PROOF_HASHES) {
          throw new AuditError(
            "too_large",
            `the seed consistency proof has more than ${MAX_PROOF_HASHES} hashes`,
          );
        }
        checkExtends(seedCp, cp, bundle.seedCheckpointConsistency);
      });
      return seedCp;
    },
  };
}

/** What verify-attestation.ts already established about the attestation. */
export interface VerifiedAttestation {
  readonly attestationIndex: number;
  readonly statement: AttestationStatement;
  readonly memberKey: AuditedKey;
  readonly keys: ReadonlyMap<string, AuditedKey>;
  readonly commitment?: OpenedEntry<CanaryCommitment>;
  /** The hub's keys by purpose, as the log established them (hub-key-history.ts). */
  readonly hubKeys: HubKeyHistory;
}

/** The bound choices of a version-2 attestation, verified, and the verdict re-derived from its counts. */
export interface BoundVerification {
  readonly session: OpenedEntry<SessionOpened>;
  readonly sighting: OpenedEntry<SuspectSighting>;
  readonly referenceFingerprint: OpenedEntry<ReferenceFingerprintCommitment>;
  readonly watermarkCommitment?: OpenedEntry<WatermarkKeyCommitment>;
  /** The registered policy the statement names. */
  readonly policy: VerdictPolicy;
  /** The counts, as the verdict module read them. */
  readonly evidence: VerdictEvidence;
  /** The verdict the counts give: equal to the stated one (otherwise the bundle failed). */
  readonly verdict: VerdictResult;
}

/** Both unset, or both set and equal. */
function sameOptional<T>(a: T | undefined, b: T | undefined, eq: (x: T, y: T) => boolean): boolean {
  return a === undefined || b === undefined ? a === b : eq(a, b);
}

/**
 * The session's seed, recomputed: sessionSeed(root of the tree of the session's seed_checkpoint_size, its origin,
 * session id), that tree logged before the session (`seed_mismatch` otherwise). `seedTree` gives the root (a
 * bundle's hub-signed seed checkpoint, or the walk's own tree, which checks every session it passes this way).
 */
export function checkSessionSeed(
  c: CheckList,
  session: OpenedEntry<SessionOpened>,
  seedTree: BoundEntrySource["seedTree"],
): TreeRoot {
  const s = session.body;
  const size = c.run("session.seed_size", "seed_mismatch", () => {
    if (s.seed.length !== 32) throw new AuditError("seed_mismatch", "the session's seed is not 32 bytes");
    const k = toIndex(s.seedCheckpointSize, "seed_checkpoint_size");
    if (k > session.index) {
      throw new AuditError(
        "seed_mismatch",
        `the session's seed checkpoint (size ${s.seedCheckpointSize}) covers the session itself: it did not exist when the session was logged`,
      );
    }
    return k;
  });
  const seedCp = seedTree(c, size);
  c.run(
    "session.seed_derived",
    "seed_mismatch",
    () => {
      const expected = sessionSeed({
        checkpointRoot: seedCp.rootHash,
        origin: seedCp.origin,
        sessionId: s.sessionId,
      });
      if (!bytesEqual(expected, s.seed)) {
        throw new AuditError(
          "seed_mismatch",
          `the session's seed is not derived from the root of its seed checkpoint (size ${seedCp.size})`,
        );
      }
    },
    `from checkpoint ${seedCp.size}`,
  );
  return seedCp;
}

/** Runs the checks of the module header; throws {@link AuditError} (with the checks so far) on the first failure. */
export function verifyBoundChoices(
  c: CheckList,
  entries: BoundEntrySource,
  a: VerifiedAttestation,
): BoundVerification {
  const st = a.statement;
  const memberId = a.memberKey.memberId;
  const { bound, counts, memberModel, suspect } = c.run("statement.fields", "malformed", () => {
    const { bound: b, counts: k, memberModel: m, suspect: s } = st;
    if (b === undefined || k === undefined || b.policy === undefined || m === undefined || s === undefined) {
      throw new AuditError(
        "malformed",
        "a version-2 statement needs bound choices (with the policy), counts, the suspect and the member model",
      );
    }
    if (b.panel.length > MAX_PANEL)
      throw new AuditError("too_large", `the panel names more than ${MAX_PANEL} models`);
    return { bound: { ...b, policy: b.policy }, counts: k, memberModel: m, suspect: s };
  });

  // The policy: registered, its numbers exactly its id's.
  const policy = c.run(
    "policy.registered",
    "policy_mismatch",
    () => {
      const stated = verdictPolicyFromProto(bound.policy);
      const r = checkBoundPolicy(stated);
      if (!r.ok)
        throw new AuditError(r.reason === "unknown" ? "policy_unknown" : "policy_mismatch", r.message);
      return r.policy;
    },
    bound.policy.policyId,
  );

  // The session the statement answers: logged by the hub before the attestation.
  const session = openHubLeaf(
    c,
    "session",
    entries.entry(c, "session", bound.sessionIndex),
    a.hubKeys,
    "sessions",
    LogEntryKind.SESSION,
    PAYLOAD_TYPES.session,
    SessionOpenedSchema,
  );
  const s = session.body;
  c.run("session.binding", "wrong_entry", () => {
    if (session.index !== toIndex(bound.sessionIndex, "bound session_index")) {
      throw new AuditError("wrong_entry", "the session entry is not the one the statement names");
    }
  });
  c.run("session.order", "out_of_order", () => {
    if (session.index >= a.attestationIndex) {
      throw new AuditError("out_of_order", "the session was logged after the attestation answering it");
    }
  });
  c.run("session.answer", "session_mismatch", () => {
    const bad = (what: string): never => {
      throw new AuditError("session_mismatch", `the statement's ${what} is not the session's`);
    };
    if (st.sessionId !== s.sessionId) bad("session id");
    if (!bytesEqual(st.sessionNonce, s.nonce)) bad("nonce");
    if (s.suspect === undefined || !equals(SuspectRefSchema, suspect, s.suspect)) bad("suspect");
    if (s.candidate === undefined || !equals(MemberModelRefSchema, memberModel, s.candidate))
      bad("member model");
    if (s.candidate?.memberId !== memberId) bad("member (the session is for another member)");
    if (!bytesEqual(bound.referenceFingerprintHash, s.referenceFingerprintHash))
      bad("reference fingerprint hash");
    if (
      !sameOptional(st.canaryCommitment, s.canaryCommitment, (x, y) =>
        equals(CanaryCommitmentRefSchema, x, y),
      )
    )
      bad("canary commitment");
    if (
      !sameOptional(st.watermarkCommitment, s.watermarkCommitment, (x, y) =>
        equals(WatermarkKeyCommitmentRefSchema, x, y),
      )
    )
      bad("watermark commitment");
  });
  c.run(
    "session.panel",
    "panel_mismatch",
    () => {
      if (bound.panel.length !== s.panel.length || bound.panel.some((p, i) => p !== s.panel[i])) {
        throw new AuditError(
          "panel_mismatch",
          "the statement's panel is not the panel the hub logged for the session",
        );
      }
    },
    `${s.panel.length} models chosen by the hub`,
  );
  c.run("session.seed", "seed_mismatch", () => {
    if (s.seed.length !== 32 || !bytesEqual(bound.seed, s.seed)) {
      throw new AuditError("seed_mismatch", "the statement's seed is not the session's logged seed");
    }
  });
  checkSessionSeed(c, session, entries.seedTree);
  c.run("session.policy", "policy_mismatch", () => {
    if (s.policy === undefined) throw new AuditError("policy_mismatch", "the session logged no policy");
    const logged = verdictPolicyFromProto(s.policy);
    if (logged.id !== policy.id || !samePolicyNumbers(logged, policy)) {
      throw new AuditError(
        "policy_mismatch",
        `the session bound policy "${logged.id.slice(0, 64)}", not the statement's`,
      );
    }
  });

  // When the suspect was first seen: every commitment the session uses must come before.
  const sighting = openHubLeaf(
    c,
    "sighting",
    entries.entry(c, "sighting", s.firstSeenIndex),
    a.hubKeys,
    "sessions",
    LogEntryKind.SUSPECT_SIGHTING,
    PAYLOAD_TYPES.sighting,
    SuspectSightingSchema,
  );
  c.run("sighting.binding", "wrong_entry", () => {
    if (sighting.index !== toIndex(s.firstSeenIndex, "first_seen_index")) {
      throw new AuditError("wrong_entry", "the sighting is not the first sighting the session names");
    }
    const id = sighting.body.suspect?.suspectId;
    if (id === undefined || id === "" || id !== s.suspect?.suspectId) {
      throw new AuditError("wrong_entry", "the sighting is of another suspect than the session's");
    }
  });
  c.run("sighting.order", "out_of_order", () => {
    if (sighting.index >= session.index) {
      throw new AuditError("out_of_order", "the suspect's first sighting is not logged before the session");
    }
  });

  // The member's reference fingerprint, logged before the session compared a suspect with it.
  const referenceFingerprint = openMemberLeaf(
    c,
    "reference_fingerprint",
    entries.entry(c, "reference_fingerprint", s.referenceFingerprintIndex),
    a.keys,
    memberId,
    PAYLOAD_TYPES.referenceFingerprint,
    ReferenceFingerprintCommitmentSchema,
    (b) => b.committedAt,
  );
  c.run("reference_fingerprint.binding", "wrong_entry", () => {
    const r = referenceFingerprint.body;
    if (referenceFingerprint.index !== toIndex(s.referenceFingerprintIndex, "reference_fingerprint_index")) {
      throw new AuditError("wrong_entry", "the reference fingerprint is not the entry the session names");
    }
    if (
      r.memberId !== memberId ||
      r.modelId !== memberModel.modelId ||
      r.modelVersion !== memberModel.modelVersion
    ) {
      throw new AuditError("wrong_entry", "the reference fingerprint is of another member model");
    }
    if (!bytesEqual(r.fingerprintHash, s.referenceFingerprintHash)) {
      throw new AuditError(
        "session_mismatch",
        "the session binds another reference fingerprint hash than the member logged",
      );
    }
  });
  c.run("reference_fingerprint.order", "out_of_order", () => {
    if (referenceFingerprint.index >= session.index) {
      throw new AuditError("out_of_order", "the reference fingerprint was logged after the session");
    }
  });

  // Canary pairs: the commitment (opened by verify-attestation.ts) is v2 and precedes the sighting.
  const com = a.commitment;
  if (com !== undefined) {
    c.run("commitment.algorithm", "wrong_entry", () => {
      if (com.body.hashAlgorithm !== CommitmentHashAlgorithm.SHA256_RFC6962_PAIRS) {
        throw new AuditError("wrong_entry", "a version-2 session needs a canary PAIRS commitment (v2)");
      }
    });
    c.run("commitment.before_sighting", "commitment_after_sighting", () => {
      if (com.index >= sighting.index) {
        throw new AuditError(
          "commitment_after_sighting",
          `the canary commitment (entry ${com.index}) was logged after the suspect was first seen (entry ${sighting.index})`,
        );
      }
    });
  }

  // Watermark key: committed before the suspect was first seen.
  let watermarkCommitment: OpenedEntry<WatermarkKeyCommitment> | undefined;
  const wref = st.watermarkCommitment;
  if (wref !== undefined) {
    const w = openMemberLeaf(
      c,
      "watermark_commitment",
      entries.entry(c, "watermark_commitment", wref.logIndex),
      a.keys,
      memberId,
      PAYLOAD_TYPES.watermarkCommitment,
      WatermarkKeyCommitmentSchema,
      (b) => b.committedAt,
    );
    watermarkCommitment = c.run("watermark_commitment.binding", "wrong_entry", () => {
      if (w.index !== toIndex(wref.logIndex, "watermark commitment log_index")) {
        throw new AuditError("wrong_entry", "the watermark commitment is not the entry the statement names");
      }
      if (w.body.memberId !== memberId || w.body.commitmentId !== wref.commitmentId) {
        throw new AuditError(
          "wrong_entry",
          "the watermark commitment's member or id differs from the statement's",
        );
      }
      if (!bytesEqual(w.body.keyDigest, wref.keyDigest)) {
        throw new AuditError(
          "wrong_entry",
          "the watermark commitment's key digest differs from the statement's",
        );
      }
      return w;
    });
    c.run("watermark_commitment.before_sighting", "commitment_after_sighting", () => {
      if (w.index >= sighting.index) {
        throw new AuditError(
          "commitment_after_sighting",
          `the watermark key commitment (entry ${w.index}) was logged after the suspect was first seen (entry ${sighting.index})`,
        );
      }
    });
  }

  // Counts: exactly for what the session bound.
  const evidence = c.run("counts.binding", "counts_inconsistent", () => {
    const bad = (what: string): never => {
      throw new AuditError("counts_inconsistent", what);
    };
    if ((counts.canary !== undefined) !== (com !== undefined)) {
      bad(
        com === undefined
          ? "canary counts are given but the session bound no canary commitment"
          : "the session bound a canary commitment but the statement gives no canary counts",
      );
    }
    if (com !== undefined && BigInt(counts.canary?.pairsCommitted ?? -1) !== com.body.canaryCount) {
      bad(`pairs_committed is not the commitment's ${com.body.canaryCount} pairs`);
    }
    if ((counts.watermark !== undefined) !== (watermarkCommitment !== undefined)) {
      bad(
        watermarkCommitment === undefined
          ? "watermark counts are given but the session bound no watermark key commitment"
          : "the session bound a watermark key commitment but the statement gives no watermark counts",
      );
    }
    if (watermarkCommitment !== undefined && counts.watermark?.gamma !== watermarkCommitment.body.gamma) {
      bad(`gamma is not the committed scheme's ${watermarkCommitment.body.gamma}`);
    }
    if (counts.comparisons !== s.comparisons) {
      bad(`comparisons ${counts.comparisons} is not the session's ${s.comparisons}`);
    }
    checkWatermarkQueriesRecord(st, bad);
    return verdictEvidenceFromProto(counts);
  });

  // The verdict, re-derived from the counts under the registered policy.
  let verdict: VerdictResult;
  try {
    verdict = deriveVerdict(evidence, policy);
  } catch (cause) {
    if (!(cause instanceof FingerprintError)) throw cause;
    c.fail("verdict.rederived", "counts_inconsistent", `the counts are not valid: ${cause.message}`, cause);
  }
  const stated = verdictFromProto(st.verdict);
  if (stated === undefined) {
    c.fail(
      "verdict.rederived",
      "verdict_not_supported",
      `verdict ${st.verdict} is not one Lineage can state`,
    );
  }
  if (stated !== verdict.verdict || st.backedBy !== (verdict.backed_by ?? "")) {
    c.fail(
      "verdict.rederived",
      "verdict_not_supported",
      `the statement says ${stated}${st.backedBy ? ` backed by ${st.backedBy.slice(0, 32)}` : ""}; its own counts give ${verdict.explanation}`,
    );
  }
  c.pass("verdict.rederived", verdict.explanation);
  return {
    session,
    sighting,
    referenceFingerprint,
    ...(watermarkCommitment === undefined ? {} : { watermarkCommitment }),
    policy,
    evidence,
    verdict,
  };
}

/** Extra watermark queries protocols and the count each fixes (services/member-node watermark-queries.ts). */
const WATERMARK_QUERIES_PROTOCOLS: ReadonlyMap<string, number> = new Map([
  ["lineage-watermark-queries/1", 500],
  ["lineage-watermark-queries/2", 500],
  ["lineage-watermark-queries/3", 500],
]);

/**
 * The statement's extra watermark queries record against its counts, as the hub admits them (the auditor
 * checks the hub, on its own code): under /1 the step's counts are counts.watermark and counts.watermark_queries
 * is absent; under /2 they are counts.watermark_queries (pairs_scored = its all_scored, gamma = the battery's),
 * beside counts.watermark; /3 as /2 with the green-mass histogram in counts.watermark_queries (which /2 never
 * has, nor counts.watermark); counts.watermark_queries without a /2 or /3 record is refused. Attacker-controlled.
 */
function checkWatermarkQueriesRecord(st: AttestationStatement, bad: (what: string) => never): void {
  const counts = st.counts;
  const q = st.watermarkQueries;
  const wq = counts?.watermarkQueries;
  const battery = counts?.watermark;
  if (battery !== undefined && (battery.massScored.length > 0 || battery.massGreen.length > 0))
    bad("the battery's watermark counts carry a mass histogram (only a /3 step's counts do)");
  if (q === undefined) {
    if (wq !== undefined)
      bad("watermark_queries counts are given without a lineage-watermark-queries/2 or /3 step record");
    return;
  }
  const fixed = WATERMARK_QUERIES_PROTOCOLS.get(q.protocol);
  if (fixed === undefined)
    bad(`the watermark queries step names an unknown protocol "${q.protocol.slice(0, 64)}"`);
  if (counts?.watermark === undefined) bad("the watermark queries step is recorded without watermark counts");
  // /2 binds the step with every key and asks it only when undecided without it: planned 0 = not asked.
  const beside = q.protocol === "lineage-watermark-queries/2" || q.protocol === "lineage-watermark-queries/3";
  const skipped = beside && q.queriesPlanned === 0;
  if (q.queriesPlanned !== fixed && !skipped)
    bad(`the watermark queries step's queries_planned is not ${q.protocol}'s ${fixed}`);
  if (q.queriesAnswered > q.queriesPlanned)
    bad("the watermark queries step answered more queries than it planned");
  if (beside) {
    if (wq === undefined) bad(`the ${q.protocol} step is recorded without watermark_queries counts`);
    const hasMass = wq.massScored.length > 0 || wq.massGreen.length > 0;
    if (q.protocol === "lineage-watermark-queries/3" && !hasMass)
      bad(`the ${q.protocol} step's watermark_queries counts have no mass histogram`);
    if (q.protocol === "lineage-watermark-queries/2" && hasMass)
      bad(`the ${q.protocol} step's watermark_queries counts carry a mass histogram, which it does not have`);
    if (q.pairsScored !== wq.allScored)
      bad("the watermark queries step's pairs_scored is not watermark_queries.all_scored");
    if (wq.gamma !== counts?.watermark?.gamma)
      bad("watermark_queries.gamma is not watermark.gamma (one key, one scheme)");
    if (skipped && (wq.selectedScored !== 0 || wq.allScored !== 0))
      bad("watermark_queries counts are not empty though the step was not asked (queries_planned 0)");
    if (skipped && verdictFromProto(st.verdict) !== "LIKELY_DERIVED")
      bad(
        "the watermark queries step was not asked (queries_planned 0) though the comparison is not LIKELY_DERIVED without it",
      );
  } else {
    if (wq !== undefined)
      bad(`watermark_queries counts are given under ${q.protocol}, whose counts are watermark's`);
    if (q.pairsScored !== counts?.watermark?.allScored)
      bad("the watermark queries step's pairs_scored is not watermark.all_scored");
  }
}
