/**
 * Counters of sketch ingestion (issue 10: rejected messages are "counted"): messages received, sketches
 * indexed, duplicates, and rejections by code (malformed, too_large, bad_signature, unknown_key, replay,
 * stale, permission_denied, ...), and the database commits the accepted messages went in (fewer, larger batches cost
 * Postgres less per sketch). Read them with {@link IngestMetrics.snapshot} or as Prometheus text.
 */

/** A point-in-time copy of the counters. */
export interface IngestMetricsSnapshot {
  readonly received: number;
  readonly indexed: number;
  readonly duplicates: number;
  /** Rejections by error code. */
  readonly rejected: Readonly<Record<string, number>>;
  readonly rejectedTotal: number;
  /** Batch commits run (each one transaction), and the verified messages they carried. */
  readonly commits: number;
  readonly committedMessages: number;
}

/** Ingestion counters of one hub process. */
export class IngestMetrics {
  #received = 0;
  #indexed = 0;
  #duplicates = 0;
  readonly #rejected = new Map<string, number>();
  #commits = 0;
  #committedMessages = 0;

  received(): void {
    this.#received++;
  }
  indexed(): void {
    this.#indexed++;
  }
  duplicate(): void {
    this.#duplicates++;
  }
  rejected(code: string): void {
    this.#rejected.set(code, (this.#rejected.get(code) ?? 0) + 1);
  }
  /** A batch of `messages` verified messages goes to the database. */
  commit(messages: number): void {
    this.#commits++;
    this.#committedMessages += messages;
  }

  snapshot(): IngestMetricsSnapshot {
    let total = 0;
    for (const n of this.#rejected.values()) total += n;
    return {
      received: this.#received,
      indexed: this.#indexed,
      duplicates: this.#duplicates,
      rejected: Object.fromEntries([...this.#rejected].sort(([a], [b]) => (a < b ? -1 : 1))),
      rejectedTotal: total,
      commits: this.#commits,
      committedMessages: this.#committedMessages,
    };
  }

  /** The counters in the Prometheus text exposition format. */
  toPrometheus(): string {
    const s = this.snapshot();
    const lines = [
      "# TYPE lineage_hub_sketch_messages_total counter",
      `lineage_hub_sketch_messages_total ${s.received}`,
      "# TYPE lineage_hub_sketches_indexed_total counter",
      `lineage_hub_sketches_indexed_total ${s.indexed}`,
      "# TYPE lineage_hub_sketch_duplicates_total counter",
      `lineage_hub_sketch_duplicates_total ${s.duplicates}`,
      "# TYPE lineage_hub_sketch_commits_total counter",
      `lineage_hub_sketch_commits_total ${s.commits}`,
      "# TYPE lineage_hub_sketch_committed_messages_total counter",
      `lineage_hub_sketch_committed_messages_total ${s.committedMessages}`,
      "# TYPE lineage_hub_sketch_rejections_total counter",
      ...Object.entries(s.rejected).map(
        ([code, n]) => `lineage_hub_sketch_rejections_total{code="${code}"} ${n}`,
      ),
    ];
    return `${lines.join("\n")}\n`;
  }
}
