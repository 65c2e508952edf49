/**
 * The hub's epoch, ingestion and retrieval machinery composed for one hub process (issue 10): the epoch
 * store, the sketch ingestor feeding this process's in-memory index, the JetStream consumer shared with
 * the other replicas (when a bus is given), a periodic catch-up of the index with other replicas' commits,
 * and the gRPC handlers (GetEpochBattery, RotateEpoch, SubmitSketch, UploadSketches, SuppressSketch).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Hub, type SketchSuppressionSchema, SuppressSketchRequestSchema } from "@lineage/api";
import type { Bus, Consumption } from "@lineage/bus";
import type { Ed25519PrivateKey } from "@lineage/crypto";
import type { ServiceImpl } from "@lineage/rpc";
import type { HubDatabase, Store } from "@lineage/store";
import { type EpochHandlers, epochHandlers } from "../epochs/epoch-handlers.js";
import { EpochStore } from "../epochs/epoch-store.js";
import { HubError } from "../ingest/hub-error.js";
import { IngestMetrics } from "../ingest/ingest-metrics.js";
import { logMemberDirectory, type MemberDirectory } from "../ingest/member-directory.js";
import { type SketchConsumerOptions, startSketchConsumer } from "../ingest/sketch-consumer.js";
import { type SketchHandlers, sketchHandlers } from "../ingest/sketch-handlers.js";
import { SketchIngestor } from "../ingest/sketch-ingestor.js";
import { SketchStore } from "../ingest/sketch-store.js";
import { isLogError } from "../log/log-error.js";
import type { TransparencyLog } from "../log/transparency-log.js";
import { type RequestAuthenticator, SECRETARIAT } from "../membership/request-header.js";
import { SketchRetriever } from "./sketch-retriever.js";

/** Options of {@link openHubIndex}. */
export interface HubIndexOptions {
  readonly store: Store<HubDatabase>;
  readonly log: TransparencyLog;
  readonly hubKey: Ed25519PrivateKey;
  /** The bus: when given, this process joins the shared sketch consumer and announces rotations. */
  readonly bus?: Bus;
  readonly consumer?: SketchConsumerOptions;
  /** How often the index catches up with other replicas (ms); 0 disables. Default 2000. */
  readonly refreshIntervalMs?: number;
  readonly now?: () => number;
  /**
   * When the index is first built: "open" (default) before this resolves; "background" when {@link
   * HubIndex.load} is called (startHubServer calls it once it listens, issue 12) or at the first catch-up
   * tick, whichever comes first. Until then ingestion works as ever and retrieval waits (sketch-retriever.ts).
   */
  readonly build?: "open" | "background";
  /** One line per secretariat action worth an operator's eye (suppressions). */
  readonly report?: (line: string) => void;
}

/** Hub.SuppressSketch. */
export type SuppressHandlers = Pick<ServiceImpl<typeof Hub>, "suppressSketch">;

/** The running machinery. */
export interface HubIndex extends AsyncDisposable {
  readonly epochs: EpochStore;
  readonly members: MemberDirectory;
  readonly ingestor: SketchIngestor;
  readonly retriever: SketchRetriever;
  readonly metrics: IngestMetrics;
  /**
   * Starts the index's first build if it has not started (idempotent); resolves when it ends. A failed build
   * is retried at the next catch-up tick.
   */
  load(): Promise<void>;
  /** The gRPC handlers, verifying request headers with `auth` (the server's one replay guard). */
  handlers(auth: RequestAuthenticator): EpochHandlers & SketchHandlers & SuppressHandlers;
  close(): Promise<void>;
}

/**
 * Logs a suppression; a suppression of the same sketch logged before (a replica or a crash between the log and
 * the database update) is that entry, not an error. Other refusals keep their code.
 */
async function logSuppression(
  log: TransparencyLog,
  s: MessageInitShape<typeof SketchSuppressionSchema>,
): Promise<number> {
  try {
    return (await log.appendSketchSuppression(s)).index;
  } catch (err) {
    if (isLogError(err, "already_exists")) {
      await log.refresh();
      const prior = log.suppressionEntryOf(s.sketchId ?? "");
      if (prior !== undefined) return prior;
    }
    if (isLogError(err)) {
      const code =
        err.code === "invalid_argument" || err.code === "failed_precondition" ? err.code : "unavailable";
      throw new HubError(code, `the suppression could not be logged: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** Opens the index (rebuilt from Postgres) and, with a bus, starts consuming members' sketches. */
export async function openHubIndex(options: HubIndexOptions): Promise<HubIndex> {
  const now = options.now ?? Date.now;
  const epochs = new EpochStore(options.store, options.hubKey, { now, log: options.log });
  const members = logMemberDirectory(options.log);
  const metrics = new IngestMetrics();
  const sketches = new SketchStore(options.store);
  const retriever = new SketchRetriever(sketches, epochs, now);
  const ingestor = new SketchIngestor({
    store: options.store,
    sketches,
    epochs,
    members,
    metrics,
    now,
    onIndexed: (row) => retriever.add(row),
    onRetired: (id) => retriever.remove(id),
  });
  let loading: Promise<void> | undefined;
  const load = (): Promise<void> => {
    if (retriever.loadState.ready) return Promise.resolve();
    if (loading === undefined) {
      loading = retriever.rebuild({ background: options.build === "background" }).finally(() => {
        loading = undefined;
      });
    }
    return loading;
  };
  if (options.build !== "background") await load();
  let consumption: Consumption | undefined;
  if (options.bus !== undefined)
    consumption = await startSketchConsumer(options.bus, ingestor, options.consumer);
  const every = options.refreshIntervalMs ?? 2000;
  let refreshing = false;
  const timer =
    every > 0
      ? setInterval(() => {
          if (refreshing) return;
          refreshing = true;
          retriever
            .refresh()
            .catch(() => undefined)
            .finally(() => {
              refreshing = false;
            });
        }, every)
      : undefined;
  timer?.unref();
  const close = async () => {
    if (timer !== undefined) clearInterval(timer);
    await consumption?.stop();
  };
  return {
    epochs,
    members,
    ingestor,
    retriever,
    metrics,
    load,
    handlers: (auth) => ({
      ...epochHandlers({
        epochs,
        auth,
        members,
        log: options.log,
        hubKey: options.hubKey,
        ...(options.bus ? { bus: options.bus } : {}),
        now,
      }),
      ...sketchHandlers(ingestor),
      // Hub.SuppressSketch: the secretariat's; the sketch leaves this replica's index now and the others'
      // at their next catch-up (retiredSince).
      async suppressSketch(req) {
        const sender = await auth.verify(SuppressSketchRequestSchema, req);
        if (sender.memberId !== SECRETARIAT)
          throw new HubError("permission_denied", "only the secretariat suppresses sketches");
        // Logged (who, which sketch, why) while the row is locked, before the sketch leaves retrieval.
        let logIndex: number | undefined;
        const model = await sketches.suppressActive(req.sketchId, req.reason, req.reviewer, async (sk) => {
          logIndex = await logSuppression(options.log, {
            sketchId: req.sketchId,
            model: { memberId: sk.memberId, modelId: sk.modelId, modelVersion: sk.modelVersion },
            epochId: sk.epochId,
            reason: req.reason,
            reviewer: req.reviewer,
            suppressedAt: timestampFromMs(now()),
          });
        });
        retriever.remove(req.sketchId);
        options.report?.(
          `suppressed sketch ${req.sketchId} of ${model.memberId}/${model.modelId}@${model.modelVersion} (reviewer ${req.reviewer}; log index ${logIndex})`,
        );
        const entry = logIndex === undefined ? undefined : await options.log.entry(logIndex);
        return {
          sketchId: req.sketchId,
          ...model,
          ...(entry === undefined
            ? {}
            : { logEntry: { index: BigInt(entry.index), leafHash: entry.leafHash } }),
        };
      },
    }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
