/**
 * SubmitSuspect (hub_service.proto): a member reports a suspect, or the hub's own feed adapter (the
 * secretariat's key) submits one. The header is verified by the server's RequestAuthenticator (forged ->
 * UNAUTHENTICATED, replay -> ALREADY_EXISTS); the source must match the sender (a member may only send
 * MEMBER_REPORT; FEED_ADAPTER and SECRETARIAT are the secretariat's) — PERMISSION_DENIED otherwise; the
 * suspect is checked field by field (INVALID_ARGUMENT naming the field). The scan runs after the answer.
 */
import { type Hub, SubmitSuspectRequestSchema, SuspectSource } from "@lineage/api";
import type { ServiceImpl } from "@lineage/rpc";
import { HubError } from "../ingest/hub-error.js";
import { type RequestAuthenticator, SECRETARIAT } from "../membership/request-header.js";
import type { ReleaseScanner, ScanResult } from "./release-scanner.js";

export type ScanHandlers = Pick<ServiceImpl<typeof Hub>, "submitSuspect">;

export function scanHandlers(o: {
  readonly scanner: ReleaseScanner;
  readonly auth: RequestAuthenticator;
  /** Each background scan's end (errors included), for the hub's log and tests. */
  readonly onScan?: (suspectId: string, result: Promise<ScanResult>) => void;
}): ScanHandlers {
  return {
    async submitSuspect(req) {
      const sender = await o.auth.verify(SubmitSuspectRequestSchema, req);
      if (req.suspect === undefined) throw new HubError("invalid_argument", "suspect is required");
      if (req.feed.length > 64) throw new HubError("invalid_argument", "feed must be at most 64 characters");
      if (req.note.length > 1024)
        throw new HubError("invalid_argument", "note must be at most 1024 characters");
      const bySecretariat = sender.memberId === SECRETARIAT;
      if (req.source === SuspectSource.MEMBER_REPORT && bySecretariat)
        throw new HubError("permission_denied", "a MEMBER_REPORT must be sent by a member");
      if (
        (req.source === SuspectSource.FEED_ADAPTER || req.source === SuspectSource.SECRETARIAT) &&
        !bySecretariat
      )
        throw new HubError("permission_denied", "a member may only submit a MEMBER_REPORT");
      const s = await o.scanner.submit({
        suspect: req.suspect,
        source: req.source,
        ...(bySecretariat ? {} : { reporter: sender.memberId }),
      });
      if (s.scan !== undefined) {
        s.scan.catch(() => undefined);
        o.onScan?.(s.suspectId, s.scan);
      }
      return { suspectId: s.suspectId, alreadyKnown: s.alreadyKnown };
    },
  };
}
