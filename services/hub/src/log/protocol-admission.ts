/**
 * Admission of the match protocol's entries (DESIGN.md "The match protocol"; docs/specs/verdict.md,
 * docs/specs/canary-commitment.md): suspect sightings, member commitments of the three kinds, the hub's
 * sessions and version-2 attestations. Shape checks run before an entry is queued (every field is
 * attacker-controlled when it comes from a member, and checked here with the field named); state checks run
 * in the log's single writer, in log order, against {@link LogState}. The rules an attestation must meet:
 *
 *   canary / watermark commitment index < first sighting index < session index < attestation index;
 *   reference fingerprint commitment index < session index; one member throughout; commitments not
 *   withdrawn; the statement agrees with its session on session_id, nonce, suspect, candidate, panel, seed,
 *   reference fingerprint hash, policy, canary and watermark commitments; the policy is registered
 *   (checkBoundPolicy); counts.canary present iff a canary commitment is bound (pairs_committed = its
 *   canary_count), counts.watermark iff a watermark commitment is (gamma = its gamma); counts.watermark_queries
 *   iff a lineage-watermark-queries/2 step record is (its pairs_scored, watermark's gamma); counts.comparisons =
 *   the session's; deriveVerdict(counts, policy) gives the stated verdict and backed_by; one attestation
 *   per (member, session).
 *
 * Each broken rule has its own code (session_mismatch, policy_mismatch, verdict_not_supported,
 * commitment_after_sighting); services/hub/test/protocol-admission.test.ts forces each one.
 */
import { equals } from "@bufbuild/protobuf";
import {
  type AttestationStatement,
  type CanaryCommitment,
  CommitmentHashAlgorithm,
  MemberModelRefSchema,
  type ReferenceFingerprintCommitment,
  type SessionOpened,
  type SuspectRef,
  SuspectRefSchema,
  type SuspectSighting,
  VerdictPolicySchema,
  type WatermarkKeyCommitment,
} from "@lineage/api";
import { bytesEqual } from "@lineage/crypto";
import {
  checkBoundPolicy,
  checkWatermarkCounts,
  deriveVerdict,
  FingerprintError,
  type VerdictResult,
} from "@lineage/fingerprint";
import { LogError } from "./log-error.js";
import type { LogState } from "./log-state.js";
import type { MemberRegistry } from "./member-registry.js";
import { evidenceFromProto, policyFromProto, verdictFromProto, watermarkFromProto } from "./verdict-proto.js";

const ID64_RE = /^[\x21-\x7e]{1,64}$/;

function text(what: string, value: string, min: number, max: number): void {
  if (value.length < min || value.length > max)
    throw new LogError("invalid_argument", `${what} must be ${min}..${max} characters`);
}

function bytes32(what: string, value: Uint8Array): void {
  if (value.length !== 32) throw new LogError("invalid_argument", `${what} must be 32 bytes`);
}

function checkSuspect(what: string, s: SuspectRef | undefined): SuspectRef {
  if (s === undefined) throw new LogError("invalid_argument", `${what} is missing`);
  if (!ID64_RE.test(s.suspectId))
    throw new LogError("invalid_argument", `${what}.suspect_id must be 1..64 printable characters`);
  return s;
}

// ---- shapes (before queueing) ---------------------------------------------------------------------------

/** A canary commitment: v1 (one leaf per canary) or v2 (PAIRS, one leaf per pair). */
export function checkCanaryCommitment(c: CanaryCommitment): void {
  if (!ID64_RE.test(c.commitmentId))
    throw new LogError("invalid_argument", "commitment_id must be 1..64 printable characters");
  if (!ID64_RE.test(c.memberId))
    throw new LogError("invalid_argument", "commitment member_id must be 1..64 characters");
  bytes32("commitment merkle_root", c.merkleRoot);
  if (c.canaryCount < 1n || c.canaryCount > 1_000_000n)
    throw new LogError("invalid_argument", "commitment canary_count must be 1..1000000");
  if (
    c.hashAlgorithm !== CommitmentHashAlgorithm.SHA256_RFC6962 &&
    c.hashAlgorithm !== CommitmentHashAlgorithm.SHA256_RFC6962_PAIRS
  ) {
    throw new LogError(
      "invalid_argument",
      "commitment hash_algorithm must be SHA256_RFC6962 or SHA256_RFC6962_PAIRS",
    );
  }
  if (c.committedAt === undefined)
    throw new LogError("invalid_argument", "commitment committed_at is missing");
}

/** A watermark key commitment. */
export function checkWatermarkCommitment(w: WatermarkKeyCommitment): void {
  if (!ID64_RE.test(w.commitmentId))
    throw new LogError("invalid_argument", "watermark commitment_id must be 1..64 printable characters");
  if (!ID64_RE.test(w.memberId))
    throw new LogError("invalid_argument", "watermark member_id must be 1..64 characters");
  bytes32("watermark key_digest", w.keyDigest);
  if (!(w.gamma > 0 && w.gamma < 1))
    throw new LogError("invalid_argument", "watermark gamma must be in (0, 1)");
  text("watermark scheme", w.scheme, 1, 64);
  if (w.committedAt === undefined)
    throw new LogError("invalid_argument", "watermark committed_at is missing");
}

/** A reference fingerprint commitment. */
export function checkReferenceCommitment(r: ReferenceFingerprintCommitment): void {
  if (!ID64_RE.test(r.memberId))
    throw new LogError("invalid_argument", "reference member_id must be 1..64 characters");
  text("reference model_id", r.modelId, 1, 128);
  text("reference model_version", r.modelVersion, 0, 64);
  text("reference epoch_id", r.epochId, 1, 64);
  bytes32("reference fingerprint_hash", r.fingerprintHash);
  if (r.committedAt === undefined)
    throw new LogError("invalid_argument", "reference committed_at is missing");
}

/** A suspect sighting. */
export function checkSighting(s: SuspectSighting): void {
  checkSuspect("sighting suspect", s.suspect);
  text("sighting reporter", s.reporter, 0, 64);
  if (s.firstSeenAt === undefined)
    throw new LogError("invalid_argument", "sighting first_seen_at is missing");
}

/** A session as the hub opens it (its seed is checked by the log against the named checkpoint). */
export function checkSession(o: SessionOpened): void {
  if (!ID64_RE.test(o.sessionId))
    throw new LogError("invalid_argument", "session_id must be 1..64 printable characters");
  if (o.nonce.length !== 32) throw new LogError("invalid_argument", "session nonce must be 32 bytes");
  checkSuspect("session suspect", o.suspect);
  const cand = o.candidate;
  if (cand === undefined || !ID64_RE.test(cand.memberId))
    throw new LogError("invalid_argument", "session candidate.member_id must be 1..64 printable characters");
  text("session candidate.model_id", cand.modelId, 1, 128);
  bytes32("session reference_fingerprint_hash", o.referenceFingerprintHash);
  if (o.panel.length < 2 || o.panel.length > 64)
    throw new LogError("invalid_argument", "session panel must name 2..64 models");
  for (const [i, m] of o.panel.entries()) text(`session panel[${i}]`, m, 1, 256);
  if (new Set(o.panel).size !== o.panel.length)
    throw new LogError("invalid_argument", "session panel repeats a model");
  text("session population_id", o.populationId, 1, 128);
  bytes32("session seed", o.seed);
  if (o.seedCheckpointSize < 1n)
    throw new LogError("invalid_argument", "session seed_checkpoint_size must be >= 1");
  if (o.policy === undefined) throw new LogError("invalid_argument", "session policy is missing");
  if (o.canaryCommitment !== undefined)
    bytes32("session canary_commitment.merkle_root", o.canaryCommitment.merkleRoot);
  if (o.watermarkCommitment !== undefined)
    bytes32("session watermark_commitment.key_digest", o.watermarkCommitment.keyDigest);
  if (!(o.comparisons >= 1 && o.comparisons <= 1_000_000))
    throw new LogError("invalid_argument", "session comparisons must be 1..1000000");
  text("session epoch_id", o.epochId, 1, 64);
  text("session confirmation_split", o.confirmationSplit, 0, 128);
  if (o.openedAt === undefined || o.deadline === undefined)
    throw new LogError("invalid_argument", "session opened_at and deadline are required");
  if (o.deadline.seconds < o.openedAt.seconds)
    throw new LogError("invalid_argument", "session deadline is before opened_at");
}

/** A version-2 statement (version 1 is refused from protocol v2 on; logged ones still decode). */
export function checkStatementV2(st: AttestationStatement): void {
  if (st.version !== 2)
    throw new LogError(
      "invalid_argument",
      `statement version must be 2 (version ${st.version} is no longer accepted)`,
    );
  if (!ID64_RE.test(st.sessionId))
    throw new LogError("invalid_argument", "statement session_id must be 1..64 printable characters");
  if (st.sessionNonce.length < 16 || st.sessionNonce.length > 64)
    throw new LogError("invalid_argument", "statement session_nonce must be 16..64 bytes");
  if (st.issuedAt === undefined) throw new LogError("invalid_argument", "statement issued_at is missing");
  if (st.counts === undefined) throw new LogError("invalid_argument", "statement counts are missing");
  if (st.bound === undefined) throw new LogError("invalid_argument", "statement bound choices are missing");
  if (st.bound.policy === undefined)
    throw new LogError("invalid_argument", "statement bound.policy is missing");
  if (st.backedBy.length > 64)
    throw new LogError("invalid_argument", "statement backed_by exceeds 64 characters");
  if (st.bound.panel.length > 64) throw new LogError("too_large", "statement bound.panel exceeds 64 models");
  if (st.watermarkQueries !== undefined) checkWatermarkQueriesStep(st);
  else if (st.counts.watermarkQueries !== undefined)
    throw new LogError(
      "invalid_argument",
      `statement counts.watermark_queries needs a watermark_queries step record of ${WATERMARK_QUERIES_V2} or ${WATERMARK_QUERIES_V3}`,
    );
  const battery = st.counts.watermark;
  if (battery !== undefined && (battery.massScored.length > 0 || battery.massGreen.length > 0))
    throw new LogError(
      "invalid_argument",
      "statement counts.watermark must not carry a mass histogram (only the queries step's counts do, under /3)",
    );
}

/** The watermark queries protocols whose counts go beside the battery's (counts.watermark_queries). */
const WATERMARK_QUERIES_V2 = "lineage-watermark-queries/2";
/** /3: as /2, with the step's pairs scored by green mass (counts.watermark_queries.mass_scored/mass_green). */
const WATERMARK_QUERIES_V3 = "lineage-watermark-queries/3";

/**
 * The extra watermark queries steps a member node may record (services/member-node watermark-queries.ts, whose
 * test checks this table against its constants): the count each version fixes. /1 (the step's counts
 * replaced counts.watermark) is still admitted as before; /2 puts them in counts.watermark_queries.
 */
export const WATERMARK_QUERIES_PROTOCOLS: Readonly<Record<string, { readonly queries: number }>> =
  Object.freeze({
    "lineage-watermark-queries/1": Object.freeze({ queries: 500 }),
    [WATERMARK_QUERIES_V2]: Object.freeze({ queries: 500 }),
    [WATERMARK_QUERIES_V3]: Object.freeze({ queries: 500 }),
  });

/**
 * A statement's watermark queries record (attacker-controlled: a member signs what it likes): a known
 * protocol with the count it fixes, consistent counts, and the step's counts exactly the step's pairs — so
 * the counts the verdict is re-derived from are the ones the fixed rule made. Under /1 the step's counts are
 * counts.watermark (and counts.watermark_queries is absent); under /2 they are counts.watermark_queries, with
 * counts.watermark the battery's and one gamma for both (one key, one scheme); /2's queries_planned 0 says
 * "bound, not asked" (empty counts, a LIKELY_DERIVED claim).
 */
function checkWatermarkQueriesStep(st: AttestationStatement): void {
  const q = st.watermarkQueries as NonNullable<AttestationStatement["watermarkQueries"]>;
  const bad = (what: string): never => {
    throw new LogError("invalid_argument", `statement watermark_queries: ${what}`);
  };
  if (q.protocol.length > 64 || !Object.hasOwn(WATERMARK_QUERIES_PROTOCOLS, q.protocol))
    bad("unknown protocol");
  const fixed = WATERMARK_QUERIES_PROTOCOLS[q.protocol] as { readonly queries: number };
  if (st.watermarkCommitment === undefined || st.counts?.watermark === undefined)
    bad("recorded without a bound watermark key and its counts");
  // /2 binds the step whenever a key is bound and asks it only when the comparison is undecided without it:
  // planned 0 is "bound, not asked" (its counts then empty). /1 always asked.
  const beside = q.protocol === WATERMARK_QUERIES_V2 || q.protocol === WATERMARK_QUERIES_V3;
  const skipped = beside && q.queriesPlanned === 0;
  if (q.queriesPlanned !== fixed.queries && !skipped)
    bad(`queries_planned must be ${fixed.queries}${beside ? " (or 0: not asked)" : ""} under ${q.protocol}`);
  if (q.queriesAnswered > q.queriesPlanned) bad("queries_answered exceeds queries_planned");
  const wq = st.counts?.watermarkQueries;
  if (beside) {
    if (wq === undefined) bad(`counts.watermark_queries is missing (required under ${q.protocol})`);
    // /3's counts carry the green-mass histogram (its shape and sums are checked with the verdict's counts);
    // /2's never do, so one record is read by one test.
    const hasMass = (wq?.massScored.length ?? 0) > 0 || (wq?.massGreen.length ?? 0) > 0;
    if (q.protocol === WATERMARK_QUERIES_V3 && !hasMass)
      bad(`counts.watermark_queries has no mass histogram (required under ${q.protocol})`);
    if (q.protocol === WATERMARK_QUERIES_V2 && hasMass)
      bad(`counts.watermark_queries carries a mass histogram, which ${q.protocol} does not have`);
    if (wq !== undefined && hasMass) {
      try {
        checkWatermarkCounts(watermarkFromProto(wq));
      } catch (err) {
        bad(
          err instanceof FingerprintError
            ? err.message.replace(/^watermark\./, "counts.watermark_queries.")
            : String(err),
        );
      }
    }
    if (q.pairsScored !== wq?.allScored) bad("pairs_scored must equal counts.watermark_queries.all_scored");
    if (wq?.gamma !== st.counts?.watermark?.gamma)
      bad("counts.watermark_queries.gamma must equal counts.watermark.gamma (one key, one scheme)");
    if (skipped && (wq?.selectedScored !== 0 || wq?.allScored !== 0))
      bad("counts.watermark_queries must be empty when the step was not asked (queries_planned 0)");
    // Not asking is for a comparison already decided without the step (the re-derivation then reads the same
    // verdict from the empty counts); an undecided one must be asked, so the record means one thing.
    if (skipped && verdictFromProto(st.verdict) !== "LIKELY_DERIVED")
      bad("queries_planned 0 (not asked) is only for a comparison LIKELY_DERIVED without the step");
  } else {
    if (wq !== undefined) bad(`counts.watermark_queries must be absent under ${q.protocol}`);
    if (q.pairsScored !== st.counts?.watermark?.allScored)
      bad("pairs_scored must equal the watermark counts' all_scored");
  }
}

// ---- state (in the writer, in log order) ----------------------------------------------------------------

/** The sighting a session names: it must be the suspect's logged (first) sighting. */
function admitSighting(state: LogState, o: SessionOpened): number {
  const first = Number(o.firstSeenIndex);
  const suspectId = (o.suspect as SuspectRef).suspectId;
  if (state.suspectSightedAt(first) !== suspectId || state.sightingOf(suspectId) !== first) {
    throw new LogError(
      "failed_precondition",
      `no sighting of suspect ${suspectId} is logged at index ${first}`,
    );
  }
  return first;
}

/** The bound commitments of a session, re-checked at session and at attestation admission. */
function admitBoundCommitments(state: LogState, o: SessionOpened, memberId: string, firstSeen: number): void {
  const ref = Number(o.referenceFingerprintIndex);
  const r = state.commitment(ref);
  const cand = o.candidate;
  if (
    r?.kind !== "reference" ||
    r.memberId !== memberId ||
    cand === undefined ||
    r.modelId !== cand.modelId ||
    r.modelVersion !== cand.modelVersion ||
    r.epochId !== o.epochId ||
    !bytesEqual(r.hash, o.referenceFingerprintHash)
  ) {
    throw new LogError(
      "failed_precondition",
      `no reference fingerprint commitment of ${memberId}'s candidate model and epoch with that hash is logged at index ${ref}`,
    );
  }
  if (state.isWithdrawn(ref))
    throw new LogError("failed_precondition", "the reference fingerprint commitment was withdrawn");
  if (o.canaryCommitment !== undefined) {
    const at = Number(o.canaryCommitment.logIndex);
    const c = state.commitment(at);
    if (
      c?.kind !== "canary" ||
      c.memberId !== memberId ||
      c.commitmentId !== o.canaryCommitment.commitmentId ||
      !bytesEqual(c.root, o.canaryCommitment.merkleRoot)
    ) {
      throw new LogError(
        "failed_precondition",
        `no canary commitment of ${memberId} with that id and root is logged at index ${at}`,
      );
    }
    if (!c.pairs)
      throw new LogError(
        "failed_precondition",
        "a session must bind a canary PAIRS commitment (v2), not a v1 canary set",
      );
    if (state.isWithdrawn(at))
      throw new LogError("failed_precondition", "the canary commitment was withdrawn");
    if (at >= firstSeen)
      throw new LogError(
        "commitment_after_sighting",
        `canary commitment ${at} was logged after the suspect's first sighting ${firstSeen}`,
      );
  }
  if (o.watermarkCommitment !== undefined) {
    const at = Number(o.watermarkCommitment.logIndex);
    const w = state.commitment(at);
    if (
      w?.kind !== "watermark" ||
      w.memberId !== memberId ||
      w.commitmentId !== o.watermarkCommitment.commitmentId ||
      !bytesEqual(w.keyDigest, o.watermarkCommitment.keyDigest)
    ) {
      throw new LogError(
        "failed_precondition",
        `no watermark commitment of ${memberId} with that id and digest is logged at index ${at}`,
      );
    }
    if (state.isWithdrawn(at))
      throw new LogError("failed_precondition", "the watermark commitment was withdrawn");
    if (at >= firstSeen)
      throw new LogError(
        "commitment_after_sighting",
        `watermark commitment ${at} was logged after the suspect's first sighting ${firstSeen}`,
      );
  }
}

/** State checks of a session the hub opens at log index `index`. */
export function admitSession(
  state: LogState,
  registry: MemberRegistry,
  o: SessionOpened,
  index: number,
): void {
  if (state.sessionIndex(o.sessionId) !== undefined)
    throw new LogError("already_exists", `session ${o.sessionId} is already logged`);
  const memberId = (o.candidate as { memberId: string }).memberId;
  const member = registry.member(memberId);
  if (member === undefined) throw new LogError("unknown_member", `member ${memberId} is not enrolled`);
  if (member.status !== "active")
    throw new LogError("failed_precondition", `member ${memberId} is not active`);
  const bound = checkBoundPolicy(policyFromProto(o.policy as NonNullable<SessionOpened["policy"]>));
  if (!bound.ok) throw new LogError("policy_mismatch", bound.message);
  const firstSeen = admitSighting(state, o);
  admitBoundCommitments(state, o, memberId, firstSeen);
  state.addSession({ index, memberId, opened: o });
}

function mismatch(field: string): never {
  throw new LogError("session_mismatch", `statement ${field} does not match the logged session`);
}

const BACKED_BY_NONE = "";

/**
 * State checks of a version-2 attestation signed by `memberId` (see the module header). Returns the
 * re-derived verdict. `issuedMs` is the statement's issued_at.
 */
export function admitAttestationV2(
  state: LogState,
  st: AttestationStatement,
  memberId: string,
  issuedMs: number,
): VerdictResult {
  const bound = st.bound as NonNullable<AttestationStatement["bound"]>;
  const counts = st.counts as NonNullable<AttestationStatement["counts"]>;
  const sessionIndex = Number(bound.sessionIndex);
  const session = state.session(sessionIndex);
  if (session === undefined)
    throw new LogError("failed_precondition", `no session is logged at index ${sessionIndex}`);
  const o = session.opened;
  if (session.memberId !== memberId)
    throw new LogError("permission_denied", `session ${o.sessionId} compares another member's model`);
  if (state.isAttested(memberId, sessionIndex))
    throw new LogError("already_exists", `member ${memberId} already attested session ${o.sessionId}`);
  // The policy first: an unregistered policy or other numbers under a registered id is its own failure.
  const policyCheck = checkBoundPolicy(policyFromProto(bound.policy as NonNullable<typeof bound.policy>));
  if (!policyCheck.ok) throw new LogError("policy_mismatch", policyCheck.message);
  if (st.sessionId !== o.sessionId) mismatch("session_id");
  if (!bytesEqual(st.sessionNonce, o.nonce)) mismatch("session_nonce");
  if (st.suspect === undefined || o.suspect === undefined || !equals(SuspectRefSchema, st.suspect, o.suspect))
    mismatch("suspect");
  if (
    st.memberModel === undefined ||
    o.candidate === undefined ||
    !equals(MemberModelRefSchema, st.memberModel, o.candidate)
  )
    mismatch("member_model");
  if (st.epochId !== o.epochId) mismatch("epoch_id");
  if (bound.panel.length !== o.panel.length || bound.panel.some((m, i) => m !== o.panel[i]))
    mismatch("bound.panel");
  if (!bytesEqual(bound.seed, o.seed)) mismatch("bound.seed");
  if (!bytesEqual(bound.referenceFingerprintHash, o.referenceFingerprintHash))
    mismatch("bound.reference_fingerprint_hash");
  if (
    o.policy === undefined ||
    !equals(VerdictPolicySchema, bound.policy as NonNullable<typeof bound.policy>, o.policy)
  )
    mismatch("bound.policy");
  const sc = st.canaryCommitment;
  const oc = o.canaryCommitment;
  if (
    (sc === undefined) !== (oc === undefined) ||
    (sc !== undefined &&
      oc !== undefined &&
      (sc.commitmentId !== oc.commitmentId ||
        sc.logIndex !== oc.logIndex ||
        !bytesEqual(sc.merkleRoot, oc.merkleRoot)))
  )
    mismatch("canary_commitment");
  const sw = st.watermarkCommitment;
  const ow = o.watermarkCommitment;
  if (
    (sw === undefined) !== (ow === undefined) ||
    (sw !== undefined &&
      ow !== undefined &&
      (sw.commitmentId !== ow.commitmentId ||
        sw.logIndex !== ow.logIndex ||
        !bytesEqual(sw.keyDigest, ow.keyDigest)))
  )
    mismatch("watermark_commitment");
  // Counts present exactly for what the session bound, with the commitments' own numbers.
  if ((counts.canary !== undefined) !== (o.canaryCommitment !== undefined))
    mismatch("counts.canary (present iff the session binds a canary commitment)");
  if ((counts.watermark !== undefined) !== (o.watermarkCommitment !== undefined))
    mismatch("counts.watermark (present iff the session binds a watermark commitment)");
  if (counts.comparisons !== o.comparisons) mismatch("counts.comparisons");
  // The commitments again, as logged now: not withdrawn since, still before the first sighting.
  const firstSeen = Number(o.firstSeenIndex);
  admitBoundCommitments(state, o, memberId, firstSeen);
  if (counts.canary !== undefined && o.canaryCommitment !== undefined) {
    const c = state.commitment(Number(o.canaryCommitment.logIndex));
    if (c?.kind !== "canary" || counts.canary.pairsCommitted !== c.count)
      mismatch("counts.canary.pairs_committed");
  }
  if (counts.watermark !== undefined && o.watermarkCommitment !== undefined) {
    const w = state.commitment(Number(o.watermarkCommitment.logIndex));
    if (w?.kind !== "watermark" || counts.watermark.gamma !== w.gamma) mismatch("counts.watermark.gamma");
  }
  if (
    o.deadline !== undefined &&
    issuedMs > Number(o.deadline.seconds) * 1000 + Math.floor(o.deadline.nanos / 1e6)
  ) {
    throw new LogError("failed_precondition", `statement was issued after session ${o.sessionId}'s deadline`);
  }
  // Re-derive the verdict from the counts under the registered policy; the stated p-values are ignored.
  let derived: VerdictResult;
  try {
    derived = deriveVerdict(evidenceFromProto(counts), policyCheck.policy);
  } catch (err) {
    if (err instanceof FingerprintError)
      throw new LogError("invalid_argument", `statement counts: ${err.message}`, { cause: err });
    throw err;
  }
  const stated = verdictFromProto(st.verdict);
  if (stated !== derived.verdict || st.backedBy !== (derived.backed_by ?? BACKED_BY_NONE)) {
    throw new LogError(
      "verdict_not_supported",
      `statement says ${stated ?? "an invalid verdict"} backed by "${st.backedBy.slice(0, 64)}", its counts under ${policyCheck.policy.id} give ${derived.verdict} backed by "${derived.backed_by ?? BACKED_BY_NONE}"`,
    );
  }
  state.addAttested(memberId, sessionIndex);
  return derived;
}
