/**
 * Match sessions on the member node (DESIGN.md flow 5, "The match protocol"): admit the hub's request
 * (session-request.ts), then run the private tests with the session's panel, seed and policy — never the
 * member's own — through the engine (`compare`), sign the version-2 attestation (DSSE) and answer.
 *
 * State is persisted as it advances (match_sessions, session_canary_answers, session_canary_scores,
 * canary_exposures):
 * - a retried session (same id, nonce and logged session) gets the answer stored the first time, byte for byte;
 * - a node stopped mid-session finishes it on the next attempt or on `resumeInterrupted()`: canary items the
 *   suspect already answered — and rank-test scoring queries already scored — are served from the stored
 *   answers, never sent again, so no canary is spent twice;
 * - another session reusing a nonce, or the same id with other content, is a replay (`already_exists`).
 * Each canary item is reserved against the suspect BEFORE it is sent (write-ahead: a crash between the two
 * over-counts, never under-counts), atomically under the reuse policy (checked for the whole set before the
 * first query too), so concurrent sessions on other suspects cannot push an item past it.
 *
 * Only counts leave: progress notes, decline notes and errors carry ids and numbers, never canary text,
 * responses or keys.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  DeclineReason,
  type MatchSessionAnswer,
  MatchSessionAnswerSchema,
  type MatchSessionProgress,
  MatchSessionProgressSchema,
  type MatchSessionRequest,
  MatchSessionRequestSchema,
  type MemberModelRef,
  SessionPhase,
  type SuspectRef,
} from "@lineage/api";
import { bytesEqual, type Ed25519PrivateKey, type KeyRing } from "@lineage/crypto";
import {
  type Battery,
  CANARY_LOGPROB_POSITIONS,
  type CompareResult,
  checkBoundPolicy,
  compare,
  type GenerateRequest,
  type ModelAdapter,
  type ModelResponse,
  splitEpochBattery,
} from "@lineage/fingerprint";
import type { MemberNodeDatabase, Store } from "@lineage/store";
import { attestationStatement, type LoggedSessionRef, signAttestation } from "../attestation.js";
import type { CanarySets, LabelledCanaries } from "../canaries/canary-sets.js";
import type { HubLogClient, HubLogTrust } from "../canaries/hub-log.js";
import type { HubKeyView } from "../hub-key-view.js";
import { isMemberNodeError, MemberNodeError } from "../member-node-error.js";
import { compareSeedOf } from "../session-check.js";
import { policyFromProto } from "../verdict-proto.js";
import type { WatermarkKeys } from "../watermark/watermark-keys.js";
import { admitSession } from "./session-request.js";
import { watermarkQueryStep, withWatermarkQueries } from "./watermark-query-step.js";

type MaybeAsync<T> = T | Promise<T>;

/** Least time between two progress messages of one phase. */
export const PROGRESS_INTERVAL_MS = 250;

/** Scored prompt tokens kept per scoring answer (an answer of a canary is short; this bounds the row). */
const MAX_SCORED_TOKENS = 512;

/** Where the node reaches the models a session names (configured on the node; none are sent by the hub). */
export interface SessionModels {
  /** The suspect, from the logged session's reference (endpoint or registry release). */
  suspect(ref: SuspectRef): MaybeAsync<ModelAdapter | undefined>;
  /** The member's own model the session compares; undefined when the node does not protect it. */
  reference(model: MemberModelRef): MaybeAsync<ModelAdapter | undefined>;
  /** A panel model (the hub's reference population) by id. */
  panel(modelId: string): MaybeAsync<ModelAdapter | undefined>;
  /** The epoch battery the session names. */
  battery(epochId: string): Promise<Battery | undefined>;
  /** The member's watermark key for a committed key id, if it watermarks. */
  watermarkKey?(commitmentId: string): { readonly key: Uint8Array; readonly gamma: number } | undefined;
}

/** What the session service needs. */
export interface MatchSessionsDeps {
  readonly memberId: string;
  readonly store: Store<MemberNodeDatabase>;
  readonly signingKey: Ed25519PrivateKey;
  readonly hub: HubLogClient | undefined;
  readonly hubLog: HubLogTrust;
  readonly hubKeys: KeyRing;
  /**
   * The hub key history from the log (hub-key-view.ts), once the log's trust is known (undefined before, or
   * when no configured key is the log's root): sessions are checked against it when there is one.
   */
  readonly hubKeyView?: () => HubKeyView | undefined;
  readonly canaries: CanarySets;
  /** The node's committed watermark keys (a session binding one of them tests with it). */
  readonly watermarks?: WatermarkKeys;
  readonly models: SessionModels;
  readonly clock: () => number;
  /** Queries in flight per model (default 8). */
  readonly concurrency?: number;
  /**
   * Sessions binding a watermark key also run the extra watermark queries (watermark-query-step.ts); set by
   * the node's config before any session (default true; false: the battery's watermark counts alone decide).
   */
  readonly watermarkQueries?: boolean;
}

/** An event of a running session: progress, then exactly one answer. */
export type SessionEvent =
  | { readonly kind: "progress"; readonly progress: MatchSessionProgress }
  | { readonly kind: "answer"; readonly answer: MatchSessionAnswer };

class Declined extends Error {
  constructor(
    readonly reason: DeclineReason,
    readonly note: string,
  ) {
    super(note);
  }
}

function progress(
  sessionId: string,
  phase: SessionPhase,
  done: number,
  planned: number,
  note: string,
): SessionEvent {
  return {
    kind: "progress",
    progress: create(MatchSessionProgressSchema, {
      sessionId,
      phase,
      queriesDone: done,
      queriesPlanned: planned,
      note,
    }),
  };
}

/** A stored canary answer as the engine's hit rule reads it. */
function storedResponse(text: string, positionsJson: string): ModelResponse {
  const positions = JSON.parse(positionsJson) as {
    token: string;
    top: { token: string; logprob: number }[];
  }[];
  return positions.length === 0 ? { text } : { text, tokens: positions };
}

/** The member node's match sessions (module header). */
export class MatchSessions {
  readonly #d: MatchSessionsDeps;
  /** Sessions running in this process: a concurrent retry joins the run instead of starting another. */
  readonly #running = new Map<string, Promise<MatchSessionAnswer>>();

  constructor(deps: MatchSessionsDeps) {
    this.#d = deps;
  }

  /** The hub key history sessions are checked against (hub-key-view.ts), and the log trust it syncs under. */
  get hubKeys(): { readonly view: HubKeyView | undefined; readonly trust: HubLogTrust } {
    return { view: this.#d.hubKeyView?.(), trust: this.#d.hubLog };
  }

  /**
   * Admits `request` and runs (or resumes, or replays the stored answer of) its session, reporting progress
   * through `onProgress`. Throws MemberNodeError for a request that is refused outright; a session that is
   * admitted but cannot be run is answered with a decline.
   */
  async run(
    request: MatchSessionRequest | undefined,
    onProgress: (p: MatchSessionProgress) => void = () => {},
    signal?: AbortSignal,
  ): Promise<MatchSessionAnswer> {
    const d = this.#d;
    const checked = await admitSession(request, {
      memberId: d.memberId,
      store: d.store,
      hub: d.hub,
      hubLog: d.hubLog,
      hubKeys: d.hubKeys,
      hubKeyView: d.hubKeyView?.(),
      nowMs: d.clock(),
      ...(signal === undefined ? {} : { signal }),
    });
    const req = request as MatchSessionRequest;
    const candidate = checked.opened.candidate as MemberModelRef;
    if ((await d.models.reference(candidate)) === undefined)
      throw new MemberNodeError(
        "not_found",
        `model ${candidate.modelId.slice(0, 128)} is not protected by this node`,
      );
    const stored = await this.#claim(req, checked);
    if (stored !== undefined) return stored;
    const joined = this.#running.get(req.sessionId);
    if (joined !== undefined) return joined;
    const p = this.#execute(req, checked, onProgress, signal).finally(() => {
      this.#running.delete(req.sessionId);
      this.#d.canaries.release(req.sessionId);
    });
    this.#running.set(req.sessionId, p);
    return p;
  }

  /**
   * Records the session (or recognises a retry). Returns the stored answer of an answered session; throws
   * `already_exists` for a replay.
   */
  async #claim(req: MatchSessionRequest, checked: LoggedSessionRef): Promise<MatchSessionAnswer | undefined> {
    const db = this.#d.store.db;
    const row = await db
      .selectFrom("match_sessions")
      .selectAll()
      .where("session_id", "=", req.sessionId)
      .executeTakeFirst();
    if (row !== undefined) {
      const before = fromBinary(MatchSessionRequestSchema, row.request);
      const same =
        bytesEqual(row.nonce, req.nonce) &&
        before.sessionIndex === req.sessionIndex &&
        before.opened !== undefined &&
        req.opened !== undefined &&
        bytesEqual(before.opened.payload, req.opened.payload);
      if (!same)
        throw new MemberNodeError(
          "already_exists",
          `session ${req.sessionId} was already answered with another nonce or session`,
        );
      if (row.answer !== null) return fromBinary(MatchSessionAnswerSchema, row.answer);
      await db
        .updateTable("match_sessions")
        .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
        .where("session_id", "=", req.sessionId)
        .execute();
      return undefined;
    }
    const other = await db
      .selectFrom("match_sessions")
      .select("session_id")
      .where("nonce", "=", req.nonce)
      .executeTakeFirst();
    if (other !== undefined)
      throw new MemberNodeError("already_exists", "the session nonce was already used by another session");
    const o = checked.opened;
    try {
      await db
        .insertInto("match_sessions")
        .values({
          session_id: req.sessionId,
          nonce: req.nonce,
          session_index: BigInt(checked.index),
          suspect_id: o.suspect?.suspectId ?? "",
          commitment_id: o.canaryCommitment?.commitmentId ?? null,
          request: toBinary(MatchSessionRequestSchema, req),
          state: "running",
          answer: null,
        })
        .execute();
    } catch (cause) {
      throw new MemberNodeError("already_exists", `session ${req.sessionId} or its nonce was already used`, {
        cause,
      });
    }
    return undefined;
  }

  async #execute(
    req: MatchSessionRequest,
    checked: LoggedSessionRef,
    onProgress: (p: MatchSessionProgress) => void,
    signal: AbortSignal | undefined,
  ): Promise<MatchSessionAnswer> {
    // Each progress message is member-signed (a header sequence taken from the database): a phase change
    // always goes out, ticks within a phase at most every PROGRESS_INTERVAL_MS.
    let lastPhase: SessionPhase | undefined;
    let lastAt = 0;
    const emit = (e: SessionEvent) => {
      if (e.kind !== "progress") return;
      const now = Date.now();
      if (e.progress.phase === lastPhase && now - lastAt < PROGRESS_INTERVAL_MS) return;
      lastPhase = e.progress.phase;
      lastAt = now;
      onProgress(e.progress);
    };
    emit(progress(req.sessionId, SessionPhase.VERIFYING_REQUEST, 0, 0, "session verified against the log"));
    let answer: MatchSessionAnswer;
    try {
      const result = await this.#compare(req, checked, emit, signal);
      emit(
        progress(
          req.sessionId,
          SessionPhase.SIGNING,
          result.queries.total,
          result.queries.total,
          "signing the attestation",
        ),
      );
      const statement = withWatermarkQueries(
        attestationStatement({ memberId: this.#d.memberId, issuedAtMs: this.#d.clock() }, result, checked),
        result,
      );
      const env = signAttestation(statement, this.#d.signingKey);
      answer = create(MatchSessionAnswerSchema, {
        sessionId: req.sessionId,
        nonce: req.nonce,
        outcome: {
          case: "attestation",
          value: {
            payloadType: env.payloadType,
            payload: env.payload,
            signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
          },
        },
      });
    } catch (err) {
      if (!(err instanceof Declined)) throw err;
      answer = create(MatchSessionAnswerSchema, {
        sessionId: req.sessionId,
        nonce: req.nonce,
        outcome: { case: "declined", value: { reason: err.reason, note: err.note.slice(0, 256) } },
      });
    }
    // The first answer stored wins: a concurrent run in another process answers with the same bytes.
    await this.#d.store.db
      .updateTable("match_sessions")
      .set({
        state: "answered",
        answer: toBinary(MatchSessionAnswerSchema, answer),
        answered_at: new Date(this.#d.clock()),
      })
      .where("session_id", "=", req.sessionId)
      .where("state", "=", "running")
      .execute();
    const row = await this.#d.store.db
      .selectFrom("match_sessions")
      .select("answer")
      .where("session_id", "=", req.sessionId)
      .executeTakeFirstOrThrow();
    return fromBinary(MatchSessionAnswerSchema, row.answer as Uint8Array);
  }

  async #compare(
    req: MatchSessionRequest,
    checked: LoggedSessionRef,
    emit: (e: SessionEvent) => void,
    signal: AbortSignal | undefined,
  ): Promise<CompareResult> {
    const o = checked.opened;
    const m = this.#d.models;
    const sessionId = req.sessionId;
    const suspectRef = o.suspect as SuspectRef;
    const candidate = o.candidate as MemberModelRef;
    const reference = await m.reference(candidate);
    if (reference === undefined)
      throw new Declined(
        DeclineReason.UNKNOWN_MODEL,
        `model ${candidate.modelId.slice(0, 128)} is not protected by this node`,
      );
    const suspect = await m.suspect(suspectRef);
    if (suspect === undefined)
      throw new Declined(DeclineReason.SUSPECT_UNREACHABLE, "the suspect cannot be reached from this node");
    const panel: ModelAdapter[] = [];
    for (const id of o.panel) {
      const a = await m.panel(id);
      if (a === undefined)
        throw new Declined(
          DeclineReason.POLICY,
          `panel model ${id.slice(0, 128)} is not reachable from this node`,
        );
      panel.push(a);
    }
    const battery = await m.battery(o.epochId);
    if (battery === undefined)
      throw new Declined(DeclineReason.POLICY, `no battery for epoch ${o.epochId.slice(0, 64)}`);
    const split = splitEpochBattery(battery, o.epochId);
    const bound = checkBoundPolicy(policyFromProto(o.policy as NonNullable<typeof o.policy>));
    if (!bound.ok) throw new MemberNodeError("policy_mismatch", bound.message);
    const { id: _policyId, ...policyNumbers } = bound.policy;

    let canaries: LabelledCanaries | undefined;
    const commitmentId = o.canaryCommitment?.commitmentId;
    if (commitmentId !== undefined) {
      try {
        await this.#d.canaries.learnLabels(commitmentId, signal);
        await this.#d.canaries.admit(commitmentId, suspectRef.suspectId, sessionId);
      } catch (err) {
        if (isMemberNodeError(err, "failed_precondition"))
          throw new Declined(DeclineReason.BUDGET_EXHAUSTED, err.message);
        throw err;
      }
      canaries = await this.#d.canaries.labelled(commitmentId);
    }
    let watermark: { key: Uint8Array; gamma: number } | undefined;
    if (o.watermarkCommitment !== undefined) {
      // The node's own committed key whose id, digest and log index are the session's; else the hook's.
      watermark =
        (await this.#d.watermarks?.forSession(o.watermarkCommitment)) ??
        m.watermarkKey?.(o.watermarkCommitment.commitmentId);
      if (watermark === undefined)
        throw new Declined(DeclineReason.POLICY, "the session binds a watermark key this node does not hold");
    }
    emit(
      progress(
        sessionId,
        canaries ? SessionPhase.CANARY_TEST : SessionPhase.PROBE_COMPARISON,
        0,
        req.maxQueries,
        "querying the suspect",
      ),
    );
    const recorded = await this.#recordedAnswers(sessionId);
    const recordedScores = await this.#recordedScores(sessionId);
    const suspectAdapter = this.#suspectAdapter(
      suspect,
      sessionId,
      suspectRef.suspectId,
      canaries,
      recorded,
      recordedScores,
      req.maxQueries,
    );
    try {
      const compared = await compare({
        suspect: suspectAdapter,
        reference,
        panel,
        battery: split.confirmation,
        ...(canaries === undefined ? {} : { canaries: canaries.set }),
        ...(watermark === undefined ? {} : { watermarkKey: watermark.key, watermarkGamma: watermark.gamma }),
        comparisons: o.comparisons,
        // The session's registered policy, never the member's: its numbers resolve to the same registered id.
        policy: policyNumbers,
        ...(canaries !== undefined && policyNumbers.weights.canary_ranks !== undefined
          ? { canaryScoring: true }
          : {}),
        seed: compareSeedOf(o.seed),
        concurrency: this.#d.concurrency ?? 8,
        ...(signal === undefined ? {} : { signal }),
        onProgress: (p) =>
          emit(progress(sessionId, SessionPhase.PROBE_COMPARISON, p.done, p.total, p.stage.slice(0, 64))),
      });
      // The extra watermark queries (watermark-query-step.ts) whenever the session binds a key.
      if (watermark === undefined || this.#d.watermarkQueries === false) return compared;
      return await watermarkQueryStep({
        result: compared,
        seed: o.seed,
        battery,
        suspect: suspectAdapter,
        key: watermark.key,
        gamma: watermark.gamma,
        concurrency: this.#d.concurrency ?? 8,
        ...(signal === undefined ? {} : { signal }),
        onProgress: (done, total) =>
          emit(progress(sessionId, SessionPhase.PROBE_COMPARISON, done, total, "watermark queries")),
      });
    } catch (err) {
      if (err instanceof Declined) throw err;
      if ((err as { cause?: unknown }).cause instanceof Declined) throw (err as { cause: Declined }).cause;
      if (signal?.aborted)
        throw new MemberNodeError(
          "unavailable",
          `session ${sessionId} was interrupted; it resumes on retry`,
          { cause: err },
        );
      throw new Declined(
        DeclineReason.SUSPECT_UNREACHABLE,
        `the comparison failed (${String((err as { code?: unknown }).code ?? "error")})`,
      );
    }
  }

  async #recordedAnswers(sessionId: string): Promise<Map<string, ModelResponse>> {
    const rows = await this.#d.store.db
      .selectFrom("session_canary_answers")
      .selectAll()
      .where("session_id", "=", sessionId)
      .execute();
    return new Map(
      rows.map((r) => [`${r.pair_index}/${r.item}`, storedResponse(r.response, r.first_positions)]),
    );
  }

  /** The stored answers to this session's scoring queries, as responses the engine's score reads. */
  async #recordedScores(sessionId: string): Promise<Map<string, ModelResponse>> {
    const rows = await this.#d.store.db
      .selectFrom("session_canary_scores")
      .selectAll()
      .where("session_id", "=", sessionId)
      .execute();
    return new Map(
      rows.map((r) => {
        const tokens = JSON.parse(r.prompt_tokens) as {
          token: string;
          logprob?: number | null;
          top: { token: string; logprob: number }[];
          offset?: number;
        }[];
        const promptTokens = tokens.map(({ logprob, ...t }) => ({
          ...t,
          logprob: logprob === null || logprob === undefined ? Number.NaN : logprob,
        }));
        return [`${r.pair_index}/${r.item}`, { text: "", promptTokens }];
      }),
    );
  }

  /**
   * The suspect as the engine sees it: canary prompts are recorded as spent before they are sent, their
   * answers are stored for disclosure, and an item already answered in this session is served from the
   * store (a resumed session sends no canary twice). The session's query budget is enforced here.
   */
  #suspectAdapter(
    inner: ModelAdapter,
    sessionId: string,
    suspectId: string,
    canaries: LabelledCanaries | undefined,
    recorded: Map<string, ModelResponse>,
    recordedScores: Map<string, ModelResponse>,
    maxQueries: number,
  ): ModelAdapter {
    let sent = 0;
    const sets = this.#d.canaries;
    const db = this.#d.store.db;
    // Atomic reservation under the reuse policy (CanarySets.reserve): an item that reached its limit meanwhile
    // (another session on another suspect) declines this session instead of being sent.
    const reserve = async (at: { readonly pairIndex: number; readonly item: 0 | 1 }) => {
      if (canaries === undefined) return;
      try {
        await sets.reserve(canaries.commitmentId, at.pairIndex, at.item, suspectId, sessionId);
      } catch (err) {
        if (isMemberNodeError(err, "failed_precondition"))
          throw new Declined(DeclineReason.BUDGET_EXHAUSTED, err.message);
        throw err;
      }
    };
    return {
      describe: () => inner.describe(),
      generate: async (request: GenerateRequest): Promise<ModelResponse> => {
        const at = canaries?.byPrompt.get(request.prompt);
        if (at !== undefined && canaries !== undefined) {
          const key = `${at.pairIndex}/${at.item}`;
          const have = recorded.get(key);
          if (have !== undefined) return have;
          if (++sent > maxQueries)
            throw new Declined(
              DeclineReason.BUDGET_EXHAUSTED,
              `the session's budget of ${maxQueries} queries is spent`,
            );
          await reserve(at);
          const r = await inner.generate(request);
          const positions = (r.tokens ?? []).slice(0, CANARY_LOGPROB_POSITIONS).map((t) => ({
            token: t.token.slice(0, 256),
            top: t.top.slice(0, 20).map((x) => ({ token: x.token.slice(0, 256), logprob: x.logprob })),
          }));
          const text = r.text.slice(0, 16_384);
          await db
            .insertInto("session_canary_answers")
            .values({
              session_id: sessionId,
              pair_index: at.pairIndex,
              item: at.item,
              response: text,
              first_positions: JSON.stringify(positions),
            })
            .onConflict((oc) => oc.columns(["session_id", "pair_index", "item"]).doNothing())
            .execute();
          const out: ModelResponse = positions.length === 0 ? { text } : { text, tokens: positions };
          recorded.set(key, out);
          return r;
        }
        // The rank test's scoring query carries a canary's prompt AND answer: it spends the item too. Its
        // answer (the scored tokens from the answer's start on: all the score reads) is stored, so a resumed
        // session re-uses it instead of asking again.
        const scored = canaries?.byScoringPrompt.get(request.prompt);
        const scoredKey = scored === undefined ? undefined : `${scored.pairIndex}/${scored.item}`;
        const have = scoredKey === undefined ? undefined : recordedScores.get(scoredKey);
        if (have !== undefined) return have;
        if (++sent > maxQueries)
          throw new Declined(
            DeclineReason.BUDGET_EXHAUSTED,
            `the session's budget of ${maxQueries} queries is spent`,
          );
        if (scored === undefined || scoredKey === undefined || canaries === undefined)
          return inner.generate(request);
        await reserve(scored);
        const r = await inner.generate(request);
        const promptTokens = (r.promptTokens ?? [])
          .filter((t) => (t.offset ?? -1) >= scored.answerStart)
          .slice(0, MAX_SCORED_TOKENS)
          .map((t) => ({
            token: t.token.slice(0, 256),
            ...(t.logprob === undefined ? {} : { logprob: t.logprob }),
            top: t.top.slice(0, 20).map((x) => ({ token: x.token.slice(0, 256), logprob: x.logprob })),
            ...(t.offset === undefined ? {} : { offset: t.offset }),
          }));
        await db
          .insertInto("session_canary_scores")
          .values({
            session_id: sessionId,
            pair_index: scored.pairIndex,
            item: scored.item,
            // JSON has no infinities: a non-finite log-probability is stored as null (the score is then null,
            // as it would have been from the live answer).
            prompt_tokens: JSON.stringify(promptTokens, (_k, v) =>
              typeof v === "number" && !Number.isFinite(v) ? null : v,
            ),
          })
          .onConflict((oc) => oc.columns(["session_id", "pair_index", "item"]).doNothing())
          .execute();
        recordedScores.set(scoredKey, { text: "", promptTokens });
        return r;
      },
    };
  }

  /**
   * Sessions left `running` by a stopped node, resumed (each from its stored request, admitted again). A
   * session whose deadline passed while the node was down is answered with a DEADLINE decline (stored, so a
   * retry gets it); any other failure leaves it running for the next attempt and does not stop the others.
   */
  async resumeInterrupted(signal?: AbortSignal): Promise<MatchSessionAnswer[]> {
    const rows = await this.#d.store.db
      .selectFrom("match_sessions")
      .select(["session_id", "request"])
      .where("state", "=", "running")
      .execute();
    const out: MatchSessionAnswer[] = [];
    for (const r of rows) {
      const req = fromBinary(MatchSessionRequestSchema, r.request);
      try {
        out.push(await this.run(req, () => {}, signal));
      } catch (err) {
        if (!isMemberNodeError(err, "stale")) continue;
        const declined = create(MatchSessionAnswerSchema, {
          sessionId: req.sessionId,
          nonce: req.nonce,
          outcome: {
            case: "declined",
            value: { reason: DeclineReason.DEADLINE, note: "the deadline passed while the node was stopped" },
          },
        });
        await this.#d.store.db
          .updateTable("match_sessions")
          .set({
            state: "answered",
            answer: toBinary(MatchSessionAnswerSchema, declined),
            answered_at: new Date(this.#d.clock()),
          })
          .where("session_id", "=", r.session_id)
          .where("state", "=", "running")
          .execute();
        out.push(declined);
      }
    }
    return out;
  }

  /** The stored answer of a session; `not_found` when the node never admitted it. */
  async answerOf(sessionId: string): Promise<MatchSessionAnswer | undefined> {
    const row = await this.#d.store.db
      .selectFrom("match_sessions")
      .select(["answer"])
      .where("session_id", "=", sessionId)
      .executeTakeFirst();
    if (row === undefined) throw new MemberNodeError("not_found", `no session ${sessionId.slice(0, 64)}`);
    return row.answer === null ? undefined : fromBinary(MatchSessionAnswerSchema, row.answer);
  }
}
