/**
 * gRPC handlers of cases and alerts (hub_service.proto): GetCase, ListCases, SubmitReviewDecision (the
 * secretariat's signed decision, logged hub-signed), WatchAlerts (a member's or the secretariat's stream).
 * Requests are untrusted: headers verified by the server's one RequestAuthenticator (forged -> UNAUTHENTICATED,
 * replay -> ALREADY_EXISTS), fields checked here with a message naming the field (INVALID_ARGUMENT).
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import {
  type Hub,
  ReviewDecisionSchema,
  SubmitReviewDecisionRequestSchema,
  WatchAlertsRequestSchema,
  WatchAlertsResponseSchema,
} from "@lineage/api";
import { type Ed25519PrivateKey, KeyRing, verifyEnvelope } from "@lineage/crypto";
import type { ServiceImpl } from "@lineage/rpc";
import type { AlertCenter } from "../alerts/alert-center.js";
import { HubError } from "../ingest/hub-error.js";
import { envelopeFromProto, PAYLOAD_TYPES } from "../log/log-leaf.js";
import type { TransparencyLog } from "../log/transparency-log.js";
import { type RequestAuthenticator, SECRETARIAT, signRequest } from "../membership/request-header.js";
import type { CaseBook } from "./case-book.js";

export type CaseHandlers = Pick<
  ServiceImpl<typeof Hub>,
  "getCase" | "listCases" | "submitReviewDecision" | "watchAlerts"
>;

export interface CaseHandlerOptions {
  readonly cases: CaseBook;
  readonly alerts: AlertCenter;
  readonly auth: RequestAuthenticator;
  readonly log: TransparencyLog;
  /** Signs each WatchAlerts response (the hub-signed header). */
  readonly hubKey: Ed25519PrivateKey;
  /** Called after a decision is logged and applied (alerts). */
  readonly onDecision?: (
    caseId: string,
    state: number,
    logIndex: number,
    memberIds: readonly string[],
  ) => Promise<void>;
}

/** Largest review decision envelope accepted. */
const MAX_DECISION_PAYLOAD = 16 * 1024;

export function caseHandlers(o: CaseHandlerOptions): CaseHandlers {
  return {
    async getCase(req) {
      if (req.caseId.length === 0) throw new HubError("invalid_argument", "case_id is required");
      return { case: await o.cases.get(req.caseId) };
    },
    async listCases(req) {
      const page = await o.cases.list({
        states: req.states,
        sharedOnly: req.sharedViolationOnly,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { cases: page.cases, nextPageToken: page.nextPageToken };
    },
    async submitReviewDecision(req) {
      const sender = await o.auth.verify(SubmitReviewDecisionRequestSchema, req);
      if (sender.memberId !== SECRETARIAT)
        throw new HubError(
          "permission_denied",
          'only the secretariat (header member_id "hub") may decide a case',
        );
      if (req.decision === undefined) throw new HubError("invalid_argument", "decision is required");
      if (req.decision.payloadType !== PAYLOAD_TYPES.reviewDecision)
        throw new HubError(
          "invalid_argument",
          `decision.payload_type must be ${PAYLOAD_TYPES.reviewDecision}`,
        );
      if (req.decision.payload.length > MAX_DECISION_PAYLOAD)
        throw new HubError("invalid_argument", `decision.payload exceeds ${MAX_DECISION_PAYLOAD} bytes`);
      // The decision itself is signed by the secretariat's key (the hub's membership key), as the header is.
      try {
        verifyEnvelope(envelopeFromProto(req.decision), {
          keys: new KeyRing([o.log.purposePublicKeys.membership]),
          payloadType: PAYLOAD_TYPES.reviewDecision,
        });
      } catch (cause) {
        throw new HubError("bad_signature", "the decision is not signed by the secretariat", { cause });
      }
      let decision: ReturnType<typeof fromBinary<typeof ReviewDecisionSchema>>;
      try {
        decision = fromBinary(ReviewDecisionSchema, req.decision.payload);
      } catch (cause) {
        throw new HubError("malformed", "decision.payload is not an encoded ReviewDecision", { cause });
      }
      const done = await o.cases.decide(decision);
      await o.onDecision?.(done.case.caseId, done.case.state, done.logIndex, done.case.memberIds);
      const entry = await o.log.entry(done.logIndex);
      return {
        case: done.case,
        logEntry: { index: BigInt(done.logIndex), ...(entry ? { leafHash: entry.leafHash } : {}) },
      };
    },
    async *watchAlerts(req, ctx) {
      const sender = await o.auth.verify(WatchAlertsRequestSchema, req);
      if (req.kinds.length > 16) throw new HubError("invalid_argument", "kinds: at most 16");
      for (const k of req.kinds)
        if (!(k >= 1 && k <= 6)) throw new HubError("invalid_argument", `kinds: unknown alert kind ${k}`);
      const filter = {
        kinds: req.kinds,
        ...(sender.memberId === SECRETARIAT ? {} : { memberId: sender.memberId }),
      };
      for await (const alert of o.alerts.watch(req.afterSequence, filter, ctx.signal)) {
        yield signRequest(WatchAlertsResponseSchema, create(WatchAlertsResponseSchema, { alert }), {
          memberId: SECRETARIAT,
          key: o.hubKey,
        });
      }
    },
  };
}
