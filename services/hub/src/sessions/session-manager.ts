/**
 * Match sessions bound before evidence (DESIGN.md "The match protocol", steps 2-4; issue 10 "Sessions bound
 * before evidence"). For a suspect and a candidate member model the hub:
 *   1. plans the session: a fresh session id and nonce, the panel it chooses from the alliance's reference
 *      population (reference-population.ts), the registered policy, the member's canary PAIRS (and watermark)
 *      commitment logged before the suspect's first sighting, the member's reference fingerprint commitment,
 *      the number of comparisons of the scan, the confirmation split (probes held out from retrieval:
 *      `lineage-split/v1`, so the confirmation needs no correction for the size of the index), a deadline;
 *   2. reserves the session's alpha in the member's ledger (ledger/alpha-ledger.ts) — refused past the
 *      budget — storing the planned SessionOpened;
 *   3. logs the SessionOpened (seed from a hub-signed checkpoint after the sighting) BEFORE the member sees
 *      anything, and stores the request it will send;
 *   4. sends the hub-signed request (session-transport.ts), retrying on transient failures with backoff until
 *      the deadline; a retry is the same logged session, and the node answers it from its store;
 *   5. checks the answer (session id and nonce), lets the log admit the attestation — it verifies the member's
 *      signature, re-derives the verdict from the counts under the logged policy, countersigns and logs it —
 *      hands the logged attestation to the cases, and records the outcome.
 * Every step is persisted before the next, and each is idempotent, so a hub killed at any point and
 * restarted (`resume()`) finishes each session with exactly one logged attestation: a planned session not yet
 * in the log is logged as planned; a logged attestation is found by its session id instead of logged twice.
 */
import { randomBytes } from "node:crypto";
import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  LogEntryKind,
  type MatchSessionAnswer,
  type MatchSessionProgress,
  type MatchSessionRequest,
  MatchSessionRequestSchema,
  type MemberModelRef,
  type VerdictPolicy as ProtoVerdictPolicy,
  type RetrievalEvidence,
  type SessionOpened,
  SessionOpenedSchema,
  type SuspectRef,
  SuspectRefSchema,
  type Verdict,
  VerdictPolicySchema,
} from "@lineage/api";
import { toHex } from "@lineage/crypto";
import {
  ACCUSING_TESTS,
  DEFAULT_VERDICT_POLICY,
  VERDICT_POLICY_2,
  type VerdictPolicy,
} from "@lineage/fingerprint";
import type { HubDatabase, Store } from "@lineage/store";
import { HubError, isHubError } from "../ingest/hub-error.js";
import type { AlphaLedger, LedgerBalance } from "../ledger/alpha-ledger.js";
import { isLogError } from "../log/log-error.js";
import { decodeLeaf, envelopeFromProto, envelopeToProto } from "../log/log-leaf.js";
import type { AppendedEntry, TransparencyLog } from "../log/transparency-log.js";
import type { ReferencePopulation } from "./reference-population.js";
import type { SessionTransport } from "./session-transport.js";

/** The rule that holds confirmation probes out of retrieval (libs/fingerprint splitBattery). */
export const CONFIRMATION_SPLIT = "lineage-split/v1";

/** A session the hub is asked to open. */
export interface SessionTarget {
  /** The suspect, its id set; its first sighting must be logged. */
  readonly suspect: SuspectRef;
  readonly candidate: MemberModelRef;
  readonly epochId: string;
  /** Hypotheses corrected for together in this scan (member models compared), >= 1. */
  readonly comparisons: number;
  readonly retrieval?: RetrievalEvidence;
}

/** How a session ended. */
export type SessionOutcome =
  | {
      readonly sessionId: string;
      readonly outcome: "attested";
      readonly sessionIndex: number;
      readonly attestationIndex: number;
      readonly verdict: Verdict;
    }
  | {
      readonly sessionId: string;
      readonly outcome: "declined";
      readonly sessionIndex: number;
      readonly note: string;
    }
  | {
      readonly sessionId: string;
      readonly outcome: "failed";
      readonly sessionIndex: number;
      readonly note: string;
    };

/** A logged attestation, as the cases receive it (idempotent: the same one may come twice after a restart). */
export interface LoggedAttestation {
  readonly sessionId: string;
  readonly logIndex: number;
  readonly suspect: SuspectRef;
  readonly memberModel: MemberModelRef;
}

export interface SessionManagerOptions {
  readonly store: Store<HubDatabase>;
  readonly log: TransparencyLog;
  readonly transport: SessionTransport;
  readonly population: ReferencePopulation;
  readonly ledger: AlphaLedger;
  /** Reference population the panels come from. */
  readonly populationId: string;
  /** Panel size (2..64, default 6). */
  readonly panelSize?: number;
  /**
   * The registered policy every session is opened under. Unset: {@link sessionPolicyFor} picks it per suspect
   * from what its logged sighting declares, before any evidence.
   */
  readonly policy?: VerdictPolicy;
  /** Time the member has to answer (default 1 hour). */
  readonly deadlineMs?: number;
  /** Most queries the member may send the suspect (default 100,000). */
  readonly maxQueries?: number;
  /** Attempts per run (default 5) and the first backoff (default 500 ms, doubling). */
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
  /** Called with each logged attestation before the outcome is recorded (must be idempotent). */
  readonly onAttestation?: (a: LoggedAttestation) => Promise<void>;
  readonly onProgress?: (sessionId: string, p: MatchSessionProgress) => void;
  readonly now?: () => number;
}

/**
 * The registered policy a session binds when the hub is not configured with one, decided from the suspect as its
 * sighting logged it — never from anything the suspect answered: a served endpoint that declares it serves no
 * log-probabilities cannot be scored for the canary rank test, and under the default policy (lineage-policy/3)
 * McNemar would then decide alone at weight 1 of 10; such a suspect is tested under lineage-policy/2, where
 * McNemar carries weight 4 of 7. Everything else (endpoints with log-probabilities, registry releases the hub
 * serves itself) binds the default.
 */
export function sessionPolicyFor(suspect: SuspectRef | undefined): VerdictPolicy {
  const t = suspect?.target;
  if (t?.case === "endpoint" && !t.value.logprobs) return VERDICT_POLICY_2;
  return DEFAULT_VERDICT_POLICY;
}

/** The registered policy as the session states it. */
export function policyProto(p: VerdictPolicy): ProtoVerdictPolicy {
  return create(VerdictPolicySchema, {
    policyId: p.id,
    alpha: p.alpha,
    minEffect: p.min_effect,
    weights: ACCUSING_TESTS.filter((t) => p.weights[t] !== undefined).map((t) => ({
      test: t,
      weight: p.weights[t] as number,
    })),
    minCanaryPairs: p.min_canary_pairs,
    minWatermarkPairs: p.min_watermark_pairs,
    leadAlpha: p.lead_alpha,
    minLeadNull: p.min_lead_null,
  });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Opens, runs and resumes match sessions. One per hub process. */
export class SessionManager {
  readonly #o: SessionManagerOptions;
  readonly #policy: VerdictPolicy | undefined;
  readonly #now: () => number;
  readonly #closing = new AbortController();
  readonly #running = new Map<string, Promise<SessionOutcome>>();

  constructor(options: SessionManagerOptions) {
    this.#o = options;
    this.#policy = options.policy;
    this.#now = options.now ?? Date.now;
  }

  get ledger(): AlphaLedger {
    return this.#o.ledger;
  }

  /** Plans, reserves, logs and runs one session (module header). Throws HubError before anything is logged. */
  async open(target: SessionTarget): Promise<SessionOutcome> {
    const sessionId = await this.plan(target);
    return this.run(sessionId);
  }

  /**
   * Steps 1-3: plans the session, reserves its alpha and logs it. Returns its id. Refusals (HubError):
   * `failed_precondition` — no sighting, no usable commitment, a too-small population, the alpha budget
   * exhausted; `already_exists` — a session for this suspect and model was opened before.
   */
  async plan(target: SessionTarget): Promise<string> {
    this.#checkOpen();
    const suspectId = target.suspect.suspectId;
    if (!/^[\x21-\x7e]{1,64}$/.test(suspectId))
      throw new HubError("invalid_argument", "suspect_id must be 1..64 printable characters");
    const c = target.candidate;
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(c.memberId))
      throw new HubError("invalid_argument", "candidate member_id is malformed");
    if (c.modelId.length < 1 || c.modelId.length > 256 || c.modelVersion.length > 128)
      throw new HubError("invalid_argument", "candidate model_id/model_version out of range");
    if (!Number.isInteger(target.comparisons) || target.comparisons < 1 || target.comparisons > 100_000)
      throw new HubError("invalid_argument", "comparisons must be in 1..100000");
    const log = this.#o.log;
    const firstSeen = log.sightingOf(suspectId);
    if (firstSeen === undefined)
      throw new HubError("failed_precondition", `suspect ${suspectId} has no logged sighting`);
    const refs = await this.#commitments(c, target.epochId, firstSeen);
    const sessionId = `s-${toHex(new Uint8Array(randomBytes(16)))}`;
    const panel = await this.#o.population.choosePanel({
      populationId: this.#o.populationId,
      sessionId,
      excludeModelIds: [suspectId],
      size: this.#o.panelSize ?? 6,
    });
    const now = this.#now();
    const policy = this.#policy ?? sessionPolicyFor(target.suspect);
    const planned = create(SessionOpenedSchema, {
      sessionId,
      nonce: new Uint8Array(randomBytes(32)),
      suspect: target.suspect,
      candidate: c,
      referenceFingerprintHash: refs.reference.hash,
      referenceFingerprintIndex: BigInt(refs.reference.index),
      panel,
      populationId: this.#o.populationId,
      policy: policyProto(policy),
      canaryCommitment: refs.canary,
      ...(refs.watermark ? { watermarkCommitment: refs.watermark } : {}),
      firstSeenIndex: BigInt(firstSeen),
      comparisons: target.comparisons,
      epochId: target.epochId,
      confirmationSplit: CONFIRMATION_SPLIT,
      openedAt: timestampFromMs(now),
      deadline: timestampFromMs(now + (this.#o.deadlineMs ?? 3_600_000)),
    });
    await this.#o.ledger.reserve({
      sessionId,
      memberId: c.memberId,
      epochId: target.epochId,
      alpha: policy.alpha,
      suspectId,
      modelId: c.modelId,
      modelVersion: c.modelVersion,
      planned: toBinary(SessionOpenedSchema, planned),
    });
    await this.#logPlanned(sessionId, planned, target.retrieval);
    return sessionId;
  }

  /** The member's balance (ledger). */
  balance(memberId: string, epochId: string): Promise<LedgerBalance> {
    return this.#o.ledger.balance(memberId, epochId);
  }

  /** Runs a planned session to its outcome (steps 3-5); concurrent calls for one session share one run. */
  run(sessionId: string): Promise<SessionOutcome> {
    let p = this.#running.get(sessionId);
    if (p === undefined) {
      p = this.#run(sessionId).finally(() => this.#running.delete(sessionId));
      this.#running.set(sessionId, p);
    }
    return p;
  }

  /** Finishes every session without an outcome (after a restart). Returns their outcomes. */
  async resume(): Promise<SessionOutcome[]> {
    this.#checkOpen();
    const rows = await this.#o.store.db
      .selectFrom("hub_alpha_ledger as l")
      .leftJoin("hub_session_outcomes as o", "o.session_id", "l.session_id")
      .select("l.session_id")
      .where("o.session_id", "is", null)
      .orderBy("l.reserved_at")
      .execute();
    const out: SessionOutcome[] = [];
    for (const r of rows) out.push(await this.run(r.session_id));
    return out;
  }

  /** The recorded outcome of a session, if it has one. */
  async outcome(sessionId: string): Promise<SessionOutcome | undefined> {
    const row = await this.#o.store.db
      .selectFrom("hub_session_outcomes as o")
      .innerJoin("hub_sessions as s", "s.session_id", "o.session_id")
      .select(["o.outcome", "o.attestation_index", "o.verdict", "o.note", "s.session_index"])
      .where("o.session_id", "=", sessionId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const sessionIndex = Number(row.session_index);
    if (row.outcome === "attested")
      return {
        sessionId,
        outcome: "attested",
        sessionIndex,
        attestationIndex: Number(row.attestation_index),
        verdict: row.verdict as Verdict,
      };
    return { sessionId, outcome: row.outcome, sessionIndex, note: row.note };
  }

  /** Stops: in-flight runs are cancelled (their sessions stay to be resumed). */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#running.values()]);
  }

  #checkOpen(): void {
    if (this.#closing.signal.aborted) throw new HubError("unavailable", "the session manager is closed");
  }

  /** The member's commitments a session binds (step 1). */
  async #commitments(c: MemberModelRef, epochId: string, firstSeen: number) {
    const log = this.#o.log;
    const rows = await this.#o.store.db
      .selectFrom("log_entries")
      .select("idx")
      .where("kind", "=", LogEntryKind.COMMITMENT)
      .where("member_id", "=", c.memberId)
      .orderBy("idx", "desc")
      .limit(10_000)
      .execute();
    let canary: { commitmentId: string; merkleRoot: Uint8Array; logIndex: bigint } | undefined;
    let watermark: { commitmentId: string; keyDigest: Uint8Array; logIndex: bigint } | undefined;
    let reference: { hash: Uint8Array; index: number } | undefined;
    let referenceOtherEpoch: { hash: Uint8Array; index: number } | undefined;
    for (const r of rows) {
      const index = Number(r.idx);
      const lc = log.loggedCommitment(index);
      if (lc === undefined) continue;
      if (lc.kind === "canary" && lc.pairs && index < firstSeen && canary === undefined)
        canary = { commitmentId: lc.commitmentId, merkleRoot: lc.root, logIndex: BigInt(index) };
      else if (lc.kind === "watermark" && index < firstSeen && watermark === undefined)
        watermark = { commitmentId: lc.commitmentId, keyDigest: lc.keyDigest, logIndex: BigInt(index) };
      else if (lc.kind === "reference" && lc.modelId === c.modelId && lc.modelVersion === c.modelVersion) {
        if (lc.epochId === epochId && reference === undefined) reference = { hash: lc.hash, index };
        else if (referenceOtherEpoch === undefined) referenceOtherEpoch = { hash: lc.hash, index };
      }
    }
    reference ??= referenceOtherEpoch;
    if (canary === undefined)
      throw new HubError(
        "failed_precondition",
        `member ${c.memberId} has no canary-pair commitment logged before the suspect's first sighting`,
      );
    if (reference === undefined)
      throw new HubError(
        "failed_precondition",
        `member ${c.memberId} has logged no reference fingerprint of ${c.modelId}@${c.modelVersion}`,
      );
    return { canary, watermark, reference };
  }

  /** Step 3: logs the planned session (unless already logged) and stores the request. */
  async #logPlanned(sessionId: string, planned: SessionOpened, retrieval?: RetrievalEvidence): Promise<void> {
    const log = this.#o.log;
    let view = log.session(sessionId);
    if (view === undefined) {
      // The seed comes from a checkpoint signed after the sighting.
      const cp = log.latestCheckpoint;
      if (cp === undefined || cp.treeSize <= Number(planned.firstSeenIndex)) await log.checkpoint();
      const { seed: _seed, seedCheckpointSize: _size, nonce, openedAt, $typeName: _t, ...rest } = planned;
      try {
        await log.appendSession({
          ...rest,
          nonce,
          openedAtMs: Number(openedAt?.seconds ?? 0n) * 1000 + Math.floor((openedAt?.nanos ?? 0) / 1e6),
        });
      } catch (err) {
        // Logged by this hub before a restart, or by a replica: read it back below.
        if (!isLogError(err, "already_exists")) throw err;
        await log.refresh();
      }
      view = log.session(sessionId);
      if (view === undefined)
        throw new HubError("internal", `session ${sessionId} is not in the log after logging it`);
    }
    // The member checks the session entry by an inclusion proof against a signed checkpoint covering it.
    const covering = log.latestCheckpoint;
    if (covering === undefined || covering.treeSize <= view.index) await log.checkpoint();
    const stored = await log.entry(view.index);
    if (stored === undefined) throw new HubError("internal", `session entry ${view.index} is not readable`);
    const opened = view.opened;
    const request = create(MatchSessionRequestSchema, {
      sessionId,
      nonce: opened.nonce,
      ...(opened.deadline ? { deadline: opened.deadline } : {}),
      epochId: opened.epochId,
      ...(opened.suspect ? { suspect: opened.suspect } : {}),
      ...(opened.candidate ? { candidate: opened.candidate } : {}),
      ...(retrieval ? { retrieval } : {}),
      maxQueries: this.#o.maxQueries ?? 100_000,
      sessionIndex: BigInt(view.index),
      opened: envelopeToProto(decodeLeaf(stored.leaf).envelope),
    });
    await this.#o.store.db
      .insertInto("hub_sessions")
      .values({
        session_id: sessionId,
        session_index: BigInt(view.index),
        request: toBinary(MatchSessionRequestSchema, request),
      })
      .onConflict((oc) => oc.column("session_id").doNothing())
      .execute();
  }

  async #run(sessionId: string): Promise<SessionOutcome> {
    this.#checkOpen();
    const done = await this.outcome(sessionId);
    if (done !== undefined) return done;
    const db = this.#o.store.db;
    let row = await db
      .selectFrom("hub_sessions")
      .selectAll()
      .where("session_id", "=", sessionId)
      .executeTakeFirst();
    if (row === undefined) {
      // Reserved but not logged when the hub stopped: log the planned session now.
      const planned = await db
        .selectFrom("hub_alpha_ledger")
        .select("planned")
        .where("session_id", "=", sessionId)
        .executeTakeFirst();
      if (planned === undefined) throw new HubError("not_found", `no session ${sessionId}`);
      await this.#logPlanned(sessionId, fromBinary(SessionOpenedSchema, planned.planned));
      row = await db
        .selectFrom("hub_sessions")
        .selectAll()
        .where("session_id", "=", sessionId)
        .executeTakeFirstOrThrow();
    }
    const request = fromBinary(MatchSessionRequestSchema, row.request);
    const sessionIndex = Number(row.session_index);
    const memberId = request.candidate?.memberId ?? "";
    // Logged before a restart? Then only the bookkeeping is left.
    const already = await this.#o.log.attestationOfSession(sessionId);
    if (already !== undefined) return this.#recordAttested(request, sessionIndex, already);

    const deadlineMs = request.deadline
      ? Number(request.deadline.seconds) * 1000 + Math.floor(request.deadline.nanos / 1e6)
      : this.#now() + 3_600_000;
    const attempts = this.#o.maxAttempts ?? 5;
    let backoff = this.#o.backoffMs ?? 500;
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.#checkOpen();
      const left = deadlineMs - this.#now();
      if (left <= 0) break;
      try {
        const answer = await this.#o.transport.run(memberId, clone(MatchSessionRequestSchema, request), {
          timeoutMs: left,
          signal: this.#closing.signal,
          onProgress: (p) => this.#o.onProgress?.(sessionId, p),
        });
        return await this.#accept(request, sessionIndex, answer);
      } catch (err) {
        last = err;
        if (this.#closing.signal.aborted)
          throw new HubError("unavailable", "the session manager is closing", { cause: err });
        if (!isHubError(err) || !err.retryable) break;
        await sleep(backoff, this.#closing.signal);
        backoff *= 2;
      }
    }
    // Not answered: a permanent refusal, the deadline, or the attempts ran out.
    const note = (
      last === undefined
        ? "deadline passed without an answer"
        : `${String((last as { code?: unknown }).code ?? (last as Error).name)}: ${(last as Error).message}`
    ).slice(0, 512);
    await db
      .insertInto("hub_session_outcomes")
      .values({ session_id: sessionId, outcome: "failed", attestation_index: null, note })
      .onConflict((oc) => oc.column("session_id").doNothing())
      .execute();
    return (await this.outcome(sessionId)) as SessionOutcome;
  }

  /** Step 5 for one answer (untrusted: checked against the logged session before the log admits it). */
  async #accept(
    request: MatchSessionRequest,
    sessionIndex: number,
    answer: MatchSessionAnswer,
  ): Promise<SessionOutcome> {
    const sessionId = request.sessionId;
    if (answer.sessionId !== sessionId)
      throw new HubError("invalid_argument", "the answer names another session");
    if (toHex(answer.nonce) !== toHex(request.nonce))
      throw new HubError("invalid_argument", "the answer's nonce is not the session's");
    if (answer.outcome.case === "declined") {
      const d = answer.outcome.value;
      await this.#o.store.db
        .insertInto("hub_session_outcomes")
        .values({
          session_id: sessionId,
          outcome: "declined",
          attestation_index: null,
          decline_reason: d.reason,
          note: d.note.slice(0, 256),
        })
        .onConflict((oc) => oc.column("session_id").doNothing())
        .execute();
      return (await this.outcome(sessionId)) as SessionOutcome;
    }
    if (answer.outcome.case !== "attestation")
      throw new HubError("invalid_argument", "the answer carries no outcome");
    let logged: AppendedEntry | undefined;
    try {
      logged = await this.#o.log.appendAttestation(envelopeFromProto(answer.outcome.value));
    } catch (err) {
      if (isLogError(err, "already_exists")) {
        const index = await this.#o.log.attestationOfSession(sessionId);
        if (index !== undefined) return this.#recordAttested(request, sessionIndex, index);
      }
      // The member's statement was refused by the log (bad signature, verdict not supported, ...): final.
      if (isLogError(err)) {
        await this.#o.store.db
          .insertInto("hub_session_outcomes")
          .values({
            session_id: sessionId,
            outcome: "failed",
            attestation_index: null,
            note: `refused: ${err.code}: ${err.message}`.slice(0, 512),
          })
          .onConflict((oc) => oc.column("session_id").doNothing())
          .execute();
        return (await this.outcome(sessionId)) as SessionOutcome;
      }
      throw err;
    }
    return this.#recordAttested(request, sessionIndex, logged.index);
  }

  async #recordAttested(
    request: MatchSessionRequest,
    sessionIndex: number,
    index: number,
  ): Promise<SessionOutcome> {
    const entry = await this.#o.log.entry(index);
    if (entry === undefined) throw new HubError("internal", `attestation ${index} is not readable`);
    const st = fromBinary(AttestationStatementSchema, decodeLeaf(entry.leaf).envelope.payload);
    const suspect = request.suspect ?? create(SuspectRefSchema, {});
    const memberModel = st.memberModel ?? request.candidate;
    if (memberModel === undefined) throw new HubError("internal", "the attestation names no member model");
    await this.#o.onAttestation?.({ sessionId: request.sessionId, logIndex: index, suspect, memberModel });
    await this.#o.store.db
      .insertInto("hub_session_outcomes")
      .values({
        session_id: request.sessionId,
        outcome: "attested",
        attestation_index: BigInt(index),
        verdict: st.verdict,
      })
      .onConflict((oc) => oc.column("session_id").doNothing())
      .execute();
    return {
      sessionId: request.sessionId,
      outcome: "attested",
      sessionIndex,
      attestationIndex: index,
      verdict: st.verdict,
    };
  }
}
