/**
 * Sketch ingestion (issue 10): a member's signed sketch, from JetStream (SketchAnnouncement on
 * lineage.sketch.<member>.<model>) or gRPC (SubmitSketch / UploadSketches), is verified (sketch-verifier.ts),
 * committed in a batch (sketch-store.ts), counted (ingest-metrics.ts) and handed to the in-memory index.
 * A rejected message throws a non-retryable HubError (its consumer terms it: it would fail the same way on
 * every redelivery); a database failure throws a retryable one (nak, retry later).
 */
import { fromBinary } from "@bufbuild/protobuf";
import {
  type DsseEnvelope as ProtoEnvelope,
  type SignedHeader,
  type SketchAnnouncement,
  SketchAnnouncementSchema,
} from "@lineage/api";
import type { HubDatabase, Store } from "@lineage/store";
import type { EpochStore } from "../epochs/epoch-store.js";
import { CommitBatcher, type CommitBatcherOptions } from "./commit-batcher.js";
import { HubError, isHubError } from "./hub-error.js";
import { IngestMetrics } from "./ingest-metrics.js";
import type { MemberDirectory } from "./member-directory.js";
import {
  type CommitOutcome,
  type IndexedSketchRow,
  type PendingSketch,
  SketchStore,
} from "./sketch-store.js";
import {
  MAX_SKETCH_MESSAGE_BYTES,
  type SketchChannel,
  type VerifiedSketch,
  verifySketchMessage,
} from "./sketch-verifier.js";
import { withoutField } from "./sketch-wire.js";
import { verifyWithdrawal } from "./withdrawal-verifier.js";

/** What became of an accepted message. */
export interface IngestResult {
  readonly sketchId: string;
  /** True when the same sketch (or the same JetStream message) was indexed already. */
  readonly duplicate: boolean;
}

/** Options of {@link SketchIngestor}. */
export interface SketchIngestorOptions {
  readonly store: Store<HubDatabase>;
  /** The sketch table access to use (shared with a retriever); default one over `store`. */
  readonly sketches?: SketchStore;
  readonly epochs: EpochStore;
  readonly members: MemberDirectory;
  readonly metrics?: IngestMetrics;
  /** Called with each newly indexed sketch after its batch committed (the local index adds it). */
  readonly onIndexed?: (row: IndexedSketchRow) => void;
  /** Called with the id of each sketch a member withdrew (the local index drops it). */
  readonly onRetired?: (sketchId: string) => void;
  readonly batch?: CommitBatcherOptions;
  readonly now?: () => number;
}

/** Verifies, commits and counts members' sketches. */
export class SketchIngestor {
  readonly metrics: IngestMetrics;
  readonly sketches: SketchStore;
  readonly #epochs: EpochStore;
  readonly #members: MemberDirectory;
  readonly #onIndexed: ((row: IndexedSketchRow) => void) | undefined;
  readonly #onRetired: ((sketchId: string) => void) | undefined;
  readonly #now: () => number;
  readonly #batcher: CommitBatcher<PendingSketch, CommitOutcome>;

  constructor(options: SketchIngestorOptions) {
    this.metrics = options.metrics ?? new IngestMetrics();
    this.sketches = options.sketches ?? new SketchStore(options.store);
    this.#epochs = options.epochs;
    this.#members = options.members;
    this.#onIndexed = options.onIndexed;
    this.#onRetired = options.onRetired;
    this.#now = options.now ?? Date.now;
    this.#batcher = new CommitBatcher((items) => {
      this.metrics.commit(items.length);
      return this.sketches.commit(items);
    }, options.batch);
  }

  /**
   * Ingests a SketchAnnouncement as delivered by JetStream (`data` untrusted; `subject` names the
   * publishing member; `streamSeq` tells a redelivery from a replay).
   */
  async ingestAnnouncement(data: Uint8Array, subject: string, streamSeq: number): Promise<IngestResult> {
    return this.#counted(async () => {
      if (data.length > MAX_SKETCH_MESSAGE_BYTES) {
        throw new HubError(
          "too_large",
          `sketch message is ${data.length} bytes, limit ${MAX_SKETCH_MESSAGE_BYTES}`,
        );
      }
      let ann: SketchAnnouncement;
      try {
        ann = fromBinary(SketchAnnouncementSchema, data);
      } catch (cause) {
        throw new HubError("malformed", "message is not an encoded SketchAnnouncement", { cause });
      }
      // The bytes the header signs: what arrived, less the header field (no re-encoding).
      const body = withoutField(data, 1);
      return this.#verifyAndCommit(
        SketchAnnouncementSchema.typeName,
        ann.header,
        ann.sketch,
        body,
        data,
        { kind: "nats", subject },
        BigInt(streamSeq),
      );
    });
  }

  /**
   * Applies a member's SketchWithdrawal delivered by JetStream: the sketch leaves retrieval. A
   * redelivery is a duplicate; a replayed header, another member's model or an unknown sketch is rejected.
   */
  async ingestWithdrawal(data: Uint8Array, subject: string, streamSeq: number): Promise<IngestResult> {
    return this.#counted(async () => {
      const w = await verifyWithdrawal(data, subject, this.#members, this.#now());
      const r = await this.sketches.withdrawSigned(w, w.model, w.epochId, BigInt(streamSeq), w.reason);
      if (r.withdrawn) this.#onRetired?.(w.sketchId);
      return { sketchId: w.sketchId, duplicate: !r.withdrawn };
    });
  }

  /** Dispatches a JetStream message on a sketch subject: `<root>.sketch.<member>.<model>[.withdrawn]`. */
  ingestMessage(data: Uint8Array, subject: string, streamSeq: number): Promise<IngestResult> {
    const tokens = subject.split(".");
    if (tokens.length === 5 && tokens[4] === "withdrawn")
      return this.ingestWithdrawal(data, subject, streamSeq);
    return this.ingestAnnouncement(data, subject, streamSeq);
  }

  /**
   * Ingests one gRPC sketch message (SubmitSketchRequest or UploadSketchesRequest): `domain` is its full
   * message name, `body` its encoding without the header, `raw` its full encoding.
   */
  async ingestRequest(
    domain: string,
    header: SignedHeader | undefined,
    envelope: ProtoEnvelope | undefined,
    body: Uint8Array,
    raw: Uint8Array,
  ): Promise<IngestResult> {
    return this.#counted(() =>
      this.#verifyAndCommit(domain, header, envelope, body, raw, { kind: "grpc" }, undefined),
    );
  }

  async #counted(fn: () => Promise<IngestResult>): Promise<IngestResult> {
    this.metrics.received();
    try {
      const r = await fn();
      if (r.duplicate) this.metrics.duplicate();
      else this.metrics.indexed();
      return r;
    } catch (err) {
      // Database trouble is not the message's fault: not counted as a rejection (it will be retried).
      if (!(isHubError(err) && err.retryable)) this.metrics.rejected(isHubError(err) ? err.code : "internal");
      throw err;
    }
  }

  async #verifyAndCommit(
    domain: string,
    header: SignedHeader | undefined,
    envelope: ProtoEnvelope | undefined,
    body: Uint8Array,
    raw: Uint8Array,
    channel: SketchChannel,
    streamSeq: bigint | undefined,
  ): Promise<IngestResult> {
    const verified: VerifiedSketch = await verifySketchMessage(domain, header, envelope, body, raw, channel, {
      members: this.#members,
      epoch: await this.#epochs.current(),
      nowMs: this.#now(),
    });
    const outcome = await this.#batcher.submit({ verified, streamSeq });
    switch (outcome.kind) {
      case "replay":
        throw new HubError("replay", `sketch message: ${outcome.reason}`);
      case "duplicate":
        return { sketchId: outcome.sketchId, duplicate: true };
      case "indexed":
        this.#onIndexed?.({
          seq: outcome.seq,
          sketchId: outcome.sketchId,
          epochId: verified.epochId,
          model: verified.model,
          coarse: verified.sketch.coarse,
          sketch: verified.sketch,
        });
        return { sketchId: outcome.sketchId, duplicate: false };
    }
  }
}
