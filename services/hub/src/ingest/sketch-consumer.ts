/**
 * The hub's JetStream side of ingestion: the stream that captures members' sketches
 * (lineage.sketch.<member>.<model>, deploy/nats/nats-server.conf) and ONE durable pull consumer that every
 * hub replica pulls from — JetStream's form of a queue group: each stored message is delivered to one
 * replica at a time and redelivered (to any replica) until acked. A rejected message is termed (never
 * redelivered, counted by the ingestor); a database hiccup naks it for a later retry.
 */
import type { Bus, Consumption } from "@lineage/bus";
import type { SketchIngestor } from "./sketch-ingestor.js";
import { MAX_SKETCH_MESSAGE_BYTES } from "./sketch-verifier.js";

/** Stream capturing every member's sketches. */
export const SKETCH_STREAM = "LINEAGE_SKETCHES";
/** Subjects it captures. */
export const SKETCH_SUBJECTS = "lineage.sketch.>";
/** The durable consumer shared by every hub replica. */
export const SKETCH_CONSUMER = "hub-sketch-ingest";

/** Options of {@link startSketchConsumer}. */
export interface SketchConsumerOptions {
  /** Stream name (tests use their own). Default {@link SKETCH_STREAM}. */
  readonly stream?: string;
  /** Subject pattern the stream captures. Default {@link SKETCH_SUBJECTS}. */
  readonly subjects?: string;
  /** Durable consumer name. Default {@link SKETCH_CONSUMER}. */
  readonly durable?: string;
  /** Messages handled at once by this replica (they share commit batches). Default 256. */
  readonly concurrency?: number;
  /** How long a stream keeps sketches nobody acked (ms). Default 24 h (the verifier's queued-age bound). */
  readonly maxAgeMs?: number;
  /** Redeliver after this long without an ack (ms). Default 30 000. */
  readonly ackWaitMs?: number;
  /** Called with each rejected or failed message (after it was termed or nacked). */
  readonly onError?: (err: unknown, subject: string, disposition: "nak" | "term") => void;
}

/** Creates (or checks) the stream and the shared durable consumer, then consumes until stopped. */
export async function startSketchConsumer(
  bus: Bus,
  ingestor: SketchIngestor,
  options: SketchConsumerOptions = {},
): Promise<Consumption> {
  const stream = options.stream ?? SKETCH_STREAM;
  const durable = options.durable ?? SKETCH_CONSUMER;
  const concurrency = options.concurrency ?? 256;
  await bus.ensureStream({
    name: stream,
    subjects: [options.subjects ?? SKETCH_SUBJECTS],
    maxAgeMs: options.maxAgeMs ?? 24 * 3_600_000,
    maxMsgSize: MAX_SKETCH_MESSAGE_BYTES + 4096,
  });
  await bus.ensureConsumer(stream, {
    durable,
    ackWaitMs: options.ackWaitMs ?? 30_000,
    maxAckPending: Math.max(1000, concurrency * 4),
  });
  return bus.consume(
    stream,
    durable,
    // Resolving acks; a thrown HubError is termed (rejections) or nacked (database trouble) by the bus.
    async (msg) => {
      await ingestor.ingestMessage(msg.data, msg.subject, msg.seq);
    },
    {
      concurrency,
      prefetch: concurrency,
      ...(options.onError === undefined
        ? {}
        : { onError: (err, msg, disposition) => options.onError?.(err, msg.subject, disposition) }),
    },
  );
}
