/**
 * One running hub process (`lineage hub serve`, issue 10), composed: the sketch index (index/hub-index.ts) on
 * the bus's shared durable consumer, the session side (sessions/hub-sessions.ts) with release scanning, the
 * routing of each match session to its member node, the reference population the secretariat configured, and
 * the registry feed polled at an interval. The bus is NATS in a deployment (replicas share the sketch
 * consumer, hear each other's alerts, and reach member nodes by request-reply) or the in-process bus of the
 * embedded default (the same behaviour inside one process).
 *
 * How the hub reaches a member node: the membership records in the log carry no node address, so the
 * secretariat configures them (members file: member id -> gRPC address + TLS trust, read and checked by the
 * CLI); a member absent from it is reached over the bus (`lineage.session.<member>.request`), which is how a
 * member node with only a NATS connection serves its sessions.
 */
import type { ChannelCredentials } from "@grpc/grpc-js";
import { type MatchSessionAnswer, type MatchSessionRequest, type SuspectRef, Verdict } from "@lineage/api";
import type { Bus } from "@lineage/bus";
import type { Ed25519PrivateKey } from "@lineage/crypto";
import { HttpAdapter, type ModelAdapter } from "@lineage/fingerprint";
import type { HubDatabase, Store } from "@lineage/store";
import { type HubIndex, openHubIndex } from "./index/hub-index.js";
import type { SketchConsumerOptions } from "./ingest/sketch-consumer.js";
import type { TransparencyLog } from "./log/transparency-log.js";
import { submitFeed } from "./scan/registry-feed.js";
import type { ScanResult } from "./scan/release-scanner.js";
import { type HubSessions, openHubSessions } from "./sessions/hub-sessions.js";
import type { ReferenceModel } from "./sessions/reference-population.js";
import {
  BusSessionTransport,
  GrpcSessionTransport,
  type RunOptions,
  type SessionTransport,
} from "./sessions/session-transport.js";

/** Where the hub reaches one member's node over gRPC, and how it trusts it. */
export interface MemberNodeEndpoint {
  readonly address: string;
  readonly credentials: ChannelCredentials;
}

/** The registry feed: where its listing is read, and how often. */
export interface FeedSource {
  /** Names the source in messages (URL or file). */
  readonly name: string;
  /** Reads the current listing (bounded by the caller). */
  read(): Promise<string>;
  /** Poll interval (ms, >= 1000). */
  readonly intervalMs: number;
}

/** Options of {@link openHubRuntime}. */
export interface HubRuntimeOptions {
  readonly store: Store<HubDatabase>;
  readonly log: TransparencyLog;
  readonly hubKey: Ed25519PrivateKey;
  /** NATS (deployment) or the in-process bus (embedded default). */
  readonly bus: Bus;
  /** Member nodes reached over gRPC; every other member is reached over the bus. */
  readonly members: ReadonlyMap<string, MemberNodeEndpoint>;
  /** The reference population sessions draw their panels from. */
  readonly populationId: string;
  /** Reference models registered at start (idempotent; a conflicting one is an error). */
  readonly reference?: readonly ReferenceModel[];
  readonly panelSize?: number;
  /** Candidates retrieved per suspect (ReleaseScannerOptions; default 10). */
  readonly maxCandidates?: number;
  /** Coarse bands a candidate must share with the suspect (ReleaseScannerOptions; default LSH_V1's). */
  readonly minAgreeingBands?: number;
  readonly alphaBudget?: number;
  readonly deadlineMs?: number;
  readonly feed?: FeedSource;
  readonly consumer?: SketchConsumerOptions;
  /** Index catch-up with other replicas (ms; default 2000). */
  readonly refreshIntervalMs?: number;
  /** How the hub probes a suspect endpoint (default: the engine's OpenAI-compatible HTTP adapter). */
  readonly suspectAdapter?: (ref: SuspectRef) => ModelAdapter | undefined;
  /** One line per event worth an operator's eye (scan ends, feed trouble); never a canary or response. */
  readonly report?: (line: string) => void;
  /** Each scan's end (tests). */
  readonly onScan?: (suspectId: string, result: Promise<ScanResult>) => void;
  /** Called as each start-up phase ends (`index`, `sessions`): `lineage hub serve` traces them (issue 12). */
  readonly onPhase?: (phase: string) => void;
}

/** The running hub machinery (the gRPC server is started over it by the caller). */
export interface HubRuntime extends AsyncDisposable {
  readonly index: HubIndex;
  readonly sessions: HubSessions;
  /** Reads and submits the feed once now (also what the timer does); resolves to the new suspects' ids. */
  pollFeed(): Promise<string[]>;
  close(): Promise<void>;
}

/** Routes each member's session: gRPC to a configured node, else bus request-reply. */
class RoutedSessionTransport implements SessionTransport {
  readonly #grpc = new Map<string, GrpcSessionTransport>();
  readonly #bus: BusSessionTransport;

  constructor(o: HubRuntimeOptions) {
    for (const [memberId, ep] of o.members)
      this.#grpc.set(
        memberId,
        new GrpcSessionTransport({
          log: o.log,
          hubKey: o.hubKey,
          addresses: (m) => (m === memberId ? ep.address : undefined),
          credentials: ep.credentials,
        }),
      );
    this.#bus = new BusSessionTransport({ log: o.log, hubKey: o.hubKey, bus: o.bus });
  }

  run(memberId: string, request: MatchSessionRequest, options: RunOptions): Promise<MatchSessionAnswer> {
    return (this.#grpc.get(memberId) ?? this.#bus).run(memberId, request, options);
  }

  close(): void {
    for (const t of this.#grpc.values()) t.close();
    this.#bus.close();
  }
}

/** The engine's adapter for an endpoint suspect; a registry release without endpoint cannot be probed. */
function httpSuspect(ref: SuspectRef): ModelAdapter | undefined {
  if (ref.target.case !== "endpoint") return undefined;
  try {
    return new HttpAdapter({
      baseUrl: ref.target.value.baseUrl,
      model: ref.target.value.modelName,
      concurrency: 8,
    });
  } catch {
    return undefined;
  }
}

/** Opens the hub's machinery over an opened log (module header); resumes sessions a previous run left. */
export async function openHubRuntime(o: HubRuntimeOptions): Promise<HubRuntime> {
  const report = o.report ?? (() => {});
  const index = await openHubIndex({
    store: o.store,
    log: o.log,
    hubKey: o.hubKey,
    bus: o.bus,
    consumer: {
      onError: (err, subject, disposition) =>
        report(
          `sketch on ${subject} ${disposition === "term" ? "rejected" : "retried"}: ${(err as Error).message}`,
        ),
      ...o.consumer,
    },
    ...(o.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: o.refreshIntervalMs }),
    // Not on the restart's critical path (issue 12): startHubServer starts the build once the port answers.
    build: "background",
  });
  o.onPhase?.("index");
  const onScan = (suspectId: string, result: Promise<ScanResult>) => {
    result.then(
      (r) =>
        report(
          `scanned suspect ${suspectId}: ${r.candidates.length} candidates, ${r.sessions.length} sessions` +
            r.sessions
              .map((x) =>
                "error" in x
                  ? `; ${x.model.memberId}: ${x.error}`
                  : x.outcome === "attested"
                    ? `; session ${x.sessionId} attested ${Verdict[x.verdict]}`
                    : `; session ${x.sessionId} ${x.outcome}: ${x.note}`,
              )
              .join(""),
        ),
      (err: unknown) => report(`scan of suspect ${suspectId} failed: ${(err as Error).message}`),
    );
    o.onScan?.(suspectId, result);
  };
  let sessions: HubSessions;
  try {
    sessions = await openHubSessions({
      store: o.store,
      log: o.log,
      hubKey: o.hubKey,
      transport: new RoutedSessionTransport(o),
      bus: o.bus,
      populationId: o.populationId,
      ...(o.panelSize === undefined ? {} : { panelSize: o.panelSize }),
      ...(o.alphaBudget === undefined ? {} : { alphaBudget: o.alphaBudget }),
      ...(o.deadlineMs === undefined ? {} : { deadlineMs: o.deadlineMs }),
      scan: {
        epochs: index.epochs,
        retriever: index.retriever,
        adapterFor: o.suspectAdapter ?? httpSuspect,
        ...(o.maxCandidates === undefined ? {} : { maxCandidates: o.maxCandidates }),
        ...(o.minAgreeingBands === undefined ? {} : { minAgreeingBands: o.minAgreeingBands }),
        onScan,
      },
    });
    for (const m of o.reference ?? []) await sessions.population.add(m);
    o.onPhase?.("sessions");
  } catch (err) {
    await index.close();
    throw err;
  }
  const scanner = sessions.scanner;
  if (scanner === undefined) throw new Error("unreachable: the session side was opened without its scanner");
  // Sessions a previous run logged but did not finish (in the background: a node may be slow to answer).
  sessions.sessions.resume().then(
    (done) => {
      if (done.length > 0) report(`resumed ${done.length} unfinished sessions`);
    },
    (err: unknown) => report(`resuming sessions failed: ${(err as Error).message}`),
  );
  const pollFeed = async (): Promise<string[]> => {
    if (o.feed === undefined) return [];
    const { scans } = await submitFeed(scanner, await o.feed.read());
    for (const s of scans) onScan(s.suspectId, s.scan);
    return scans.map((s) => s.suspectId);
  };
  let polling = false;
  const feedTimer =
    o.feed === undefined
      ? undefined
      : setInterval(() => {
          if (polling) return;
          polling = true;
          pollFeed()
            .catch((err: unknown) => report(`feed ${o.feed?.name}: ${(err as Error).message}`))
            .finally(() => {
              polling = false;
            });
        }, o.feed.intervalMs);
  feedTimer?.unref();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (feedTimer !== undefined) clearInterval(feedTimer);
    await sessions.close();
    await index.close();
  };
  return { index, sessions, pollFeed, close, [Symbol.asyncDispose]: close };
}
