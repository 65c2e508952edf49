/**
 * Cases (DESIGN.md "Concepts: Case", flows 6-7; proto/lineage/v1/case.proto): one per suspect, holding the
 * attestations logged about it, its review state (OPEN -> UNDER_REVIEW -> CONFIRMED | DISMISSED with a reason)
 * and whether it is a SHARED VIOLATION — several members' models found inside one suspect after Holm's
 * correction across the members (libs/fingerprint attributeMembers), so naming several members at once does
 * not inflate false attributions. Each attestation's verdict is re-derived here from its logged counts under
 * its logged policy, never read from what the member stated. SIMILAR results are listed as leads and never
 * count towards a violation. A case opens at the first LIKELY_DERIVED or SIMILAR attestation about a suspect;
 * INCONCLUSIVE ones are kept on an open case and open none.
 *
 * Review decisions are the secretariat's, hub-signed and logged (TransparencyLog.appendReviewDecision) before
 * the case changes; a decision names the state it expects the case in (optimistic concurrency).
 *
 * Storage is insert-only (migration 0006): a case's current state is its latest `hub_case_events` row.
 */
import { createHash } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  type Case,
  CaseSchema,
  CaseState,
  DismissalReason,
  LogEntryKind,
  type ReviewDecision,
  ReviewDecisionSchema,
  type SuspectRef,
  SuspectRefSchema,
  Verdict,
} from "@lineage/api";
import {
  attributeMembers,
  checkBoundPolicy,
  deriveVerdict,
  samePolicyNumbers,
  type VerdictResult,
} from "@lineage/fingerprint";
import type { HubDatabase, Store } from "@lineage/store";
import { type Kysely, sql } from "kysely";
import { HubError } from "../ingest/hub-error.js";
import { decodeLeaf } from "../log/log-leaf.js";
import type { TransparencyLog } from "../log/transparency-log.js";
import { evidenceFromProto, policyFromProto } from "../log/verdict-proto.js";
import type { LoggedAttestation } from "../sessions/session-manager.js";

/** What changed in a case with one attestation (for alerts). */
export interface CaseChange {
  readonly caseId: string;
  readonly suspect: SuspectRef;
  /** Whether this attestation was new (false: seen before, e.g. after a restart). */
  readonly added: boolean;
  /** The attestation's re-derived verdict. */
  readonly verdict: Verdict;
  readonly memberId: string;
  /** The case became a shared violation with this attestation. */
  readonly becameShared: boolean;
  /** Members attributed LIKELY_DERIVED after Holm, now. */
  readonly memberIds: readonly string[];
}

/** Filters of {@link CaseBook.list}. */
export interface CaseQuery {
  readonly states?: readonly CaseState[];
  readonly sharedOnly?: boolean;
  /** 1..500 (default 100). */
  readonly pageSize?: number;
  /** Opaque token of a previous page. */
  readonly pageToken?: string;
}

const MAX_CASE_ATTESTATIONS = 1024;

const verdictProto: Record<VerdictResult["verdict"], Verdict> = {
  LIKELY_DERIVED: Verdict.LIKELY_DERIVED,
  SIMILAR: Verdict.SIMILAR,
  INCONCLUSIVE: Verdict.INCONCLUSIVE,
};

/** The case id of a suspect: fixed by its id, so replicas agree without coordination. */
export function caseIdOf(suspectId: string): string {
  return `case-${createHash("sha256").update(suspectId).digest("hex").slice(0, 24)}`;
}

interface Derived {
  readonly memberId: string;
  readonly result: VerdictResult;
}

/** The case book over the hub's database and log. */
export class CaseBook {
  readonly #store: Store<HubDatabase>;
  readonly #log: TransparencyLog;
  readonly #now: () => number;

  constructor(options: {
    readonly store: Store<HubDatabase>;
    readonly log: TransparencyLog;
    readonly now?: () => number;
  }) {
    this.#store = options.store;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The verdict of a logged attestation, re-derived from its counts under its policy. Reads the leaf with
   * `db` (the store's handle, or the open transaction's: the log's own reads cannot run inside one).
   */
  async derive(
    logIndex: number,
    db: Kysely<HubDatabase> = this.#store.db,
  ): Promise<
    Derived & { readonly sessionId: string; readonly modelId: string; readonly modelVersion: string }
  > {
    const entry = await db
      .selectFrom("log_entries")
      .select("leaf")
      .where("idx", "=", BigInt(logIndex))
      .where("kind", "=", LogEntryKind.ATTESTATION)
      .executeTakeFirst();
    if (entry === undefined) throw new HubError("not_found", `no attestation at log index ${logIndex}`);
    const st = fromBinary(AttestationStatementSchema, decodeLeaf(entry.leaf).envelope.payload);
    const policy = st.bound?.policy;
    if (policy === undefined || st.counts === undefined || st.memberModel === undefined)
      throw new HubError("failed_precondition", `entry ${logIndex} is not a version-2 attestation`);
    const check = checkBoundPolicy(policyFromProto(policy));
    if (!check.ok) throw new HubError("failed_precondition", check.message);
    return {
      memberId: st.memberModel.memberId,
      modelId: st.memberModel.modelId,
      modelVersion: st.memberModel.modelVersion,
      sessionId: st.sessionId,
      result: deriveVerdict(evidenceFromProto(st.counts), check.policy),
    };
  }

  /**
   * Adds a logged attestation to its suspect's case (idempotent), recomputing the Holm attribution across the
   * members. Returns undefined when the attestation opens no case (INCONCLUSIVE, no case yet).
   */
  async recordAttestation(a: LoggedAttestation): Promise<CaseChange | undefined> {
    const suspectId = a.suspect.suspectId;
    const d = await this.derive(a.logIndex);
    const verdict = verdictProto[d.result.verdict];
    const caseId = caseIdOf(suspectId);
    return this.#store.transaction(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${`lineage-case/${caseId}`}))`.execute(trx);
      const existing = await trx
        .selectFrom("hub_cases")
        .select("case_id")
        .where("case_id", "=", caseId)
        .executeTakeFirst();
      if (existing === undefined) {
        if (d.result.verdict === "INCONCLUSIVE") return undefined;
        await trx
          .insertInto("hub_cases")
          .values({ case_id: caseId, suspect_id: suspectId, suspect: toBinary(SuspectRefSchema, a.suspect) })
          .execute();
      }
      if (existing === undefined) {
        // Attestations about this suspect that came before the case opened (INCONCLUSIVE ones open none).
        const earlier = await trx
          .selectFrom("hub_session_outcomes as o")
          .innerJoin("hub_alpha_ledger as l", "l.session_id", "o.session_id")
          .select(["o.session_id", "o.attestation_index"])
          .where("l.suspect_id", "=", suspectId)
          .where("o.outcome", "=", "attested")
          .execute();
        for (const e of earlier) {
          if (e.attestation_index === null || Number(e.attestation_index) === a.logIndex) continue;
          const x = await this.derive(Number(e.attestation_index), trx);
          await trx
            .insertInto("hub_case_attestations")
            .values({
              log_index: e.attestation_index,
              case_id: caseId,
              session_id: e.session_id,
              member_id: x.memberId,
              model_id: x.modelId,
              model_version: x.modelVersion,
              verdict: verdictProto[x.result.verdict],
              combined_p: x.result.p_value,
            })
            .onConflict((oc) => oc.column("log_index").doNothing())
            .execute();
        }
      }
      const inserted = await trx
        .insertInto("hub_case_attestations")
        .values({
          log_index: BigInt(a.logIndex),
          case_id: caseId,
          session_id: a.sessionId,
          member_id: d.memberId,
          model_id: d.modelId,
          model_version: d.modelVersion,
          verdict,
          combined_p: d.result.p_value,
        })
        .onConflict((oc) => oc.column("log_index").doNothing())
        .returning("log_index")
        .execute();
      const added = inserted.length > 0;
      const rows = await trx
        .selectFrom("hub_case_attestations")
        .select(["log_index"])
        .where("case_id", "=", caseId)
        .orderBy("log_index")
        .limit(MAX_CASE_ATTESTATIONS)
        .execute();
      const all: Derived[] = [];
      for (const r of rows) {
        const x = Number(r.log_index) === a.logIndex ? d : await this.derive(Number(r.log_index), trx);
        all.push({ memberId: x.memberId, result: x.result });
      }
      const { members, leads } = attribute(all);
      const last = await latestEvent(trx, caseId);
      const shared = members.length >= 2;
      const memberJson = JSON.stringify(members);
      const leadJson = JSON.stringify(leads);
      if (
        last === undefined ||
        last.member_ids !== memberJson ||
        last.leads !== leadJson ||
        last.shared_violation !== shared
      ) {
        await trx
          .insertInto("hub_case_events")
          .values({
            case_id: caseId,
            seq: (last?.seq ?? 0) + 1,
            state: last?.state ?? CaseState.OPEN,
            shared_violation: shared,
            member_ids: memberJson,
            leads: leadJson,
            dismissal_reason: last?.dismissal_reason ?? 0,
            rationale: last?.rationale ?? "",
            reviewer: last?.reviewer ?? "",
            decision_log_index: last?.decision_log_index ?? null,
          })
          .execute();
      }
      return {
        caseId,
        suspect: a.suspect,
        added,
        verdict,
        memberId: d.memberId,
        becameShared: shared && last?.shared_violation !== true,
        memberIds: members,
      };
    });
  }

  /**
   * Applies a secretariat review decision: checks it (allowed transitions OPEN -> UNDER_REVIEW,
   * UNDER_REVIEW -> CONFIRMED | DISMISSED; a dismissal needs a reason; CONFIRMED and DISMISSED need a
   * rationale; `from_state` must be the case's state), logs it hub-signed, then records it. Returns the case
   * and the decision's log index.
   */
  async decide(d: ReviewDecision): Promise<{ readonly case: Case; readonly logIndex: number }> {
    checkDecision(d);
    const current = await this.get(d.caseId);
    if (current.state !== d.fromState)
      throw new HubError(
        "failed_precondition",
        `case ${d.caseId} is ${CaseState[current.state]}, not ${CaseState[d.fromState] ?? d.fromState}`,
      );
    // A decision logged for this case from its current state but not applied (the hub stopped in between) is
    // applied instead of logging another: the log holds each review step once.
    const pending = await this.#unapplied(d.caseId, d.fromState);
    if (pending !== undefined && pending.decision.toState !== d.toState)
      throw new HubError(
        "failed_precondition",
        `case ${d.caseId} has a logged decision to ${CaseState[pending.decision.toState]} not yet applied`,
      );
    const applied = pending?.decision ?? d;
    const logged =
      pending === undefined
        ? await this.#log.appendReviewDecision({
            caseId: d.caseId,
            fromState: d.fromState,
            toState: d.toState,
            dismissalReason: d.dismissalReason,
            rationale: d.rationale,
            reviewer: d.reviewer,
            decidedAt: d.decidedAt ?? timestampFromMs(this.#now()),
          })
        : { index: pending.index };
    await this.#store.transaction(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${`lineage-case/${d.caseId}`}))`.execute(trx);
      const last = await latestEvent(trx, d.caseId);
      if (last === undefined || last.state !== d.fromState)
        throw new HubError("failed_precondition", `case ${d.caseId} changed while the decision was logged`);
      await trx
        .insertInto("hub_case_events")
        .values({
          case_id: d.caseId,
          seq: last.seq + 1,
          state: applied.toState,
          shared_violation: last.shared_violation,
          member_ids: last.member_ids,
          leads: last.leads,
          dismissal_reason: applied.toState === CaseState.DISMISSED ? applied.dismissalReason : 0,
          rationale: applied.rationale,
          reviewer: applied.reviewer,
          decision_log_index: BigInt(logged.index),
        })
        .execute();
    });
    return { case: await this.get(d.caseId), logIndex: logged.index };
  }

  /** A logged decision for `caseId` from `fromState` after the case's last applied one, if any. */
  async #unapplied(
    caseId: string,
    fromState: CaseState,
  ): Promise<{ readonly index: number; readonly decision: ReviewDecision } | undefined> {
    const last = await latestEvent(this.#store.db, caseId);
    // A decision about the case comes after its first attestation (and after its last applied decision).
    const first = await this.#store.db
      .selectFrom("hub_case_attestations")
      .select(sql<string | null>`min(log_index)`.as("m"))
      .where("case_id", "=", caseId)
      .executeTakeFirst();
    if (last === undefined || first?.m == null) return undefined;
    const after = last.decision_log_index ?? BigInt(first.m);
    const rows = await this.#store.db
      .selectFrom("log_entries")
      .select(["idx", "leaf"])
      .where("kind", "=", LogEntryKind.REVIEW_DECISION)
      .where("idx", ">", after)
      .orderBy("idx")
      .limit(10_000)
      .execute();
    for (const r of rows) {
      const decision = fromBinary(ReviewDecisionSchema, decodeLeaf(r.leaf).envelope.payload);
      if (decision.caseId === caseId && decision.fromState === fromState)
        return { index: Number(r.idx), decision };
    }
    return undefined;
  }

  /** The case with this id (`not_found` otherwise). */
  async get(caseId: string): Promise<Case> {
    if (caseId.length < 1 || caseId.length > 64)
      throw new HubError("invalid_argument", "case_id must be 1..64 characters");
    const c = await this.#store.db
      .selectFrom("hub_cases")
      .selectAll()
      .where("case_id", "=", caseId)
      .executeTakeFirst();
    if (c === undefined) throw new HubError("not_found", `no case ${caseId}`);
    return this.#toProto(c);
  }

  /** Leads (SIMILAR, never violations) of a case. */
  async leadsOf(caseId: string): Promise<string[]> {
    const last = await latestEvent(this.#store.db, caseId);
    return last === undefined ? [] : (JSON.parse(last.leads) as string[]);
  }

  /** Cases by id, filtered (CaseQuery). */
  async list(q: CaseQuery = {}): Promise<{ readonly cases: Case[]; readonly nextPageToken: string }> {
    const size = q.pageSize === undefined || q.pageSize === 0 ? 100 : q.pageSize;
    if (!Number.isInteger(size) || size < 1 || size > 500)
      throw new HubError("invalid_argument", "page_size must be 0..500");
    if ((q.states?.length ?? 0) > 4) throw new HubError("invalid_argument", "states: at most 4");
    for (const s of q.states ?? [])
      if (!(s >= CaseState.OPEN && s <= CaseState.DISMISSED))
        throw new HubError("invalid_argument", `unknown case state ${s}`);
    const after = q.pageToken ?? "";
    if (after.length > 256 || (after !== "" && !/^case-[0-9a-f]{24}$/.test(after)))
      throw new HubError("invalid_argument", "page_token is not a token this hub issued");
    const out: Case[] = [];
    let cursor = after;
    // Filters apply to the current state, so scan in id order until the page is full.
    for (;;) {
      const rows = await this.#store.db
        .selectFrom("hub_cases")
        .selectAll()
        .where("case_id", ">", cursor)
        .orderBy("case_id")
        .limit(500)
        .execute();
      for (const r of rows) {
        cursor = r.case_id;
        const c = await this.#toProto(r);
        if (q.states && q.states.length > 0 && !q.states.includes(c.state)) continue;
        if (q.sharedOnly && !c.sharedViolation) continue;
        out.push(c);
        if (out.length === size) return { cases: out, nextPageToken: cursor };
      }
      if (rows.length < 500) return { cases: out, nextPageToken: "" };
    }
  }

  async #toProto(c: { case_id: string; suspect: Uint8Array; opened_at: Date }): Promise<Case> {
    const db = this.#store.db;
    const last = await latestEvent(db, c.case_id);
    const atts = await db
      .selectFrom("hub_case_attestations")
      .selectAll()
      .where("case_id", "=", c.case_id)
      .orderBy("log_index")
      .limit(MAX_CASE_ATTESTATIONS)
      .execute();
    return create(CaseSchema, {
      caseId: c.case_id,
      suspect: fromBinary(SuspectRefSchema, c.suspect),
      state: (last?.state ?? CaseState.OPEN) as CaseState,
      attestations: atts.map((a) => ({
        logIndex: a.log_index,
        memberModel: { memberId: a.member_id, modelId: a.model_id, modelVersion: a.model_version },
        verdict: a.verdict as Verdict,
        combinedPValue: a.combined_p,
        withdrawn: false,
      })),
      sharedViolation: last?.shared_violation ?? false,
      memberIds: last === undefined ? [] : (JSON.parse(last.member_ids) as string[]),
      dismissalReason: (last?.dismissal_reason ?? 0) as DismissalReason,
      rationale: last?.rationale ?? "",
      ...(last?.decision_log_index == null ? {} : { lastDecisionLogIndex: BigInt(last.decision_log_index) }),
      openedAt: timestampFromMs(c.opened_at.getTime()),
      updatedAt: timestampFromMs((last?.at ?? c.opened_at).getTime()),
    });
  }
}

/** Holm across the members of a case: who is attributed, who is a lead (module header). */
function attribute(all: readonly Derived[]): { members: string[]; leads: string[] } {
  // One result per member: its strongest (lowest p) attestation about this suspect.
  const best = new Map<string, Derived>();
  for (const x of all) {
    const prior = best.get(x.memberId);
    if (prior === undefined || x.result.p_value < prior.result.p_value) best.set(x.memberId, x);
  }
  const list = [...best.values()];
  const first = list[0];
  if (first === undefined) return { members: [], leads: [] };
  // Members decided under other policy numbers cannot be corrected together: only the first policy's count.
  const same = list.filter((x) => samePolicyNumbers(x.result.policy, first.result.policy));
  const att = attributeMembers(same, first.result.policy);
  const members = att
    .filter((m) => m.verdict === "LIKELY_DERIVED")
    .map((m) => m.memberId)
    .sort();
  const leads = list
    .filter((x) => !members.includes(x.memberId) && x.result.lead?.is_lead === true)
    .map((x) => x.memberId)
    .sort();
  return { members, leads };
}

// biome-ignore lint/suspicious/noExplicitAny: a Kysely handle or a transaction of the hub database.
async function latestEvent(db: any, caseId: string) {
  return (await db
    .selectFrom("hub_case_events")
    .selectAll()
    .where("case_id", "=", caseId)
    .orderBy("seq", "desc")
    .limit(1)
    .executeTakeFirst()) as
    | {
        seq: number;
        state: number;
        shared_violation: boolean;
        member_ids: string;
        leads: string;
        dismissal_reason: number;
        rationale: string;
        reviewer: string;
        decision_log_index: bigint | null;
        at: Date;
      }
    | undefined;
}

/** Checks a review decision where it arrives (untrusted: from the secretariat's CLI over gRPC). */
export function checkDecision(d: ReviewDecision): void {
  if (d.caseId.length < 1 || d.caseId.length > 64)
    throw new HubError("invalid_argument", "case_id must be 1..64 characters");
  const allowed =
    (d.fromState === CaseState.OPEN && d.toState === CaseState.UNDER_REVIEW) ||
    (d.fromState === CaseState.UNDER_REVIEW &&
      (d.toState === CaseState.CONFIRMED || d.toState === CaseState.DISMISSED));
  if (!allowed)
    throw new HubError(
      "invalid_argument",
      `transition ${CaseState[d.fromState] ?? d.fromState} -> ${CaseState[d.toState] ?? d.toState} is not allowed (OPEN -> UNDER_REVIEW -> CONFIRMED | DISMISSED)`,
    );
  if (d.toState === CaseState.DISMISSED) {
    if (d.dismissalReason === DismissalReason.UNSPECIFIED || DismissalReason[d.dismissalReason] === undefined)
      throw new HubError("invalid_argument", "a dismissal needs a dismissal_reason");
  } else if (d.dismissalReason !== DismissalReason.UNSPECIFIED)
    throw new HubError("invalid_argument", "dismissal_reason is only for a dismissal");
  if (
    (d.toState === CaseState.CONFIRMED || d.toState === CaseState.DISMISSED) &&
    d.rationale.trim().length === 0
  )
    throw new HubError("invalid_argument", "a confirmation or dismissal needs a rationale");
  if (d.rationale.length > 4096) throw new HubError("invalid_argument", "rationale exceeds 4096 characters");
  if (d.reviewer.length < 1 || d.reviewer.length > 128)
    throw new HubError("invalid_argument", "reviewer must be 1..128 characters");
}
