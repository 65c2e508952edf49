/**
 * The hub's session side, composed (issue 10): the reference population, the alpha ledger, the session
 * manager and its transport to member nodes, the case book and the alert center, wired so that every logged
 * attestation lands in its suspect's case and raises its alerts (each step idempotent: a restarted hub
 * replays the tail of a session without doubling anything), plus the gRPC handlers of cases and alerts.
 */

import { AlertKind, CaseState, Verdict } from "@lineage/api";
import type { Bus } from "@lineage/bus";
import type { Ed25519PrivateKey } from "@lineage/crypto";
import type { VerdictPolicy } from "@lineage/fingerprint";
import type { HubDatabase, Store } from "@lineage/store";
import { AlertCenter } from "../alerts/alert-center.js";
import { CaseBook } from "../cases/case-book.js";
import { type CaseHandlers, caseHandlers } from "../cases/case-handlers.js";
import { AlphaLedger, DEFAULT_ALPHA_BUDGET } from "../ledger/alpha-ledger.js";
import type { TransparencyLog } from "../log/transparency-log.js";
import type { RequestAuthenticator } from "../membership/request-header.js";
import { ReleaseScanner, type ReleaseScannerOptions, type ScanResult } from "../scan/release-scanner.js";
import { type ScanHandlers, scanHandlers } from "../scan/scan-handlers.js";
import { ReferencePopulation } from "./reference-population.js";
import { type LoggedAttestation, SessionManager, type SessionManagerOptions } from "./session-manager.js";
import type { SessionTransport } from "./session-transport.js";

export interface HubSessionsOptions {
  readonly store: Store<HubDatabase>;
  readonly log: TransparencyLog;
  readonly hubKey: Ed25519PrivateKey;
  readonly transport: SessionTransport;
  /** Alerts are published here (and other replicas' alerts heard) when set. */
  readonly bus?: Bus;
  readonly populationId: string;
  /** Alpha per member and epoch (default DEFAULT_ALPHA_BUDGET). */
  readonly alphaBudget?: number | ((memberId: string) => number);
  readonly policy?: VerdictPolicy;
  readonly panelSize?: number;
  readonly deadlineMs?: number;
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
  readonly onProgress?: SessionManagerOptions["onProgress"];
  readonly now?: () => number;
  /** Release scanning (SubmitSuspect): the epochs and index to probe and retrieve with, and suspect adapters. */
  readonly scan?: Pick<
    ReleaseScannerOptions,
    | "epochs"
    | "retriever"
    | "adapterFor"
    | "concurrency"
    | "maxCandidates"
    | "minAgreeingBands"
    | "onProgress"
  > & {
    readonly onScan?: (suspectId: string, result: Promise<ScanResult>) => void;
  };
}

export interface HubSessions {
  readonly population: ReferencePopulation;
  readonly ledger: AlphaLedger;
  readonly sessions: SessionManager;
  readonly cases: CaseBook;
  readonly alerts: AlertCenter;
  /** Present when `scan` was configured. */
  readonly scanner: ReleaseScanner | undefined;
  /** GetCase, ListCases, SubmitReviewDecision, WatchAlerts (and SubmitSuspect with a scanner). */
  handlers(auth: RequestAuthenticator): CaseHandlers & Partial<ScanHandlers>;
  close(): Promise<void>;
}

/** Builds the session side; call `sessions.resume()` to finish what a previous run left. */
export async function openHubSessions(o: HubSessionsOptions): Promise<HubSessions> {
  const population = new ReferencePopulation(o.store);
  const ledger = new AlphaLedger(o.store, o.alphaBudget ?? DEFAULT_ALPHA_BUDGET);
  const cases = new CaseBook({ store: o.store, log: o.log, ...(o.now ? { now: o.now } : {}) });
  const alerts = new AlertCenter({
    store: o.store,
    hubKey: o.hubKey,
    ...(o.bus ? { bus: o.bus } : {}),
    ...(o.now ? { now: o.now } : {}),
  });
  await alerts.start();
  const onAttestation = async (a: LoggedAttestation) => {
    const change = await cases.recordAttestation(a);
    if (change === undefined) return;
    if (change.verdict === Verdict.LIKELY_DERIVED) {
      await alerts.raise({
        alertId: `attestation/${a.logIndex}`,
        kind: AlertKind.ATTESTATION_LOGGED,
        caseId: change.caseId,
        suspect: change.suspect,
        memberIds: [change.memberId],
        logIndex: a.logIndex,
        summary: `LIKELY_DERIVED attestation by ${change.memberId} about suspect ${change.suspect.suspectId} (case ${change.caseId})`,
      });
    }
    if (change.memberIds.length >= 2) {
      // One alert per set of members attributed together (a third member makes a new one).
      await alerts.raise({
        alertId: `shared/${change.caseId}/${change.memberIds.length}`.slice(0, 64),
        kind: AlertKind.SHARED_VIOLATION,
        caseId: change.caseId,
        suspect: change.suspect,
        memberIds: change.memberIds,
        logIndex: a.logIndex,
        summary: `shared violation: models of ${change.memberIds.join(", ")} found in suspect ${change.suspect.suspectId} after Holm correction`,
      });
    }
  };
  const sessions = new SessionManager({
    store: o.store,
    log: o.log,
    transport: o.transport,
    population,
    ledger,
    populationId: o.populationId,
    onAttestation,
    ...(o.policy ? { policy: o.policy } : {}),
    ...(o.panelSize ? { panelSize: o.panelSize } : {}),
    ...(o.deadlineMs ? { deadlineMs: o.deadlineMs } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.backoffMs ? { backoffMs: o.backoffMs } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.now ? { now: o.now } : {}),
  });
  const onDecision = async (
    caseId: string,
    state: CaseState,
    logIndex: number,
    memberIds: readonly string[],
  ) => {
    if (state !== CaseState.CONFIRMED && state !== CaseState.DISMISSED) return;
    const confirmed = state === CaseState.CONFIRMED;
    await alerts.raise({
      alertId: `decision/${logIndex}`,
      kind: confirmed ? AlertKind.CASE_CONFIRMED : AlertKind.CASE_DISMISSED,
      caseId,
      memberIds,
      logIndex,
      summary: `case ${caseId} ${confirmed ? "confirmed" : "dismissed"} by the secretariat`,
    });
  };
  const scanner = o.scan === undefined ? undefined : new ReleaseScanner({ ...o.scan, log: o.log, sessions });
  return {
    population,
    ledger,
    sessions,
    cases,
    alerts,
    scanner,
    handlers: (auth) => ({
      ...caseHandlers({ cases, alerts, auth, log: o.log, hubKey: o.hubKey, onDecision }),
      ...(scanner
        ? scanHandlers({ scanner, auth, ...(o.scan?.onScan ? { onScan: o.scan.onScan } : {}) })
        : {}),
    }),
    async close() {
      await sessions.close();
      await alerts.close();
      o.transport.close();
    },
  };
}
