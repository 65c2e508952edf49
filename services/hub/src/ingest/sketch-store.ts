/**
 * The database half of sketch ingestion: commits verified sketch messages in batches, one transaction per
 * batch, and decides for each whether it is new, a duplicate or a replay — in Postgres, so that every hub
 * replica sharing the JetStream consumer decides the same way:
 * - a header (member, sequence) or (member, nonce) accepted before is a REPLAY, unless it is the same
 *   signed message delivered again by JetStream (same digest, same stream sequence): a REDELIVERY, which
 *   is acknowledged as a duplicate (the hub crashed between commit and ack);
 * - a sequence more than REORDER_WINDOW below the member's highest accepted one is a replay too (replicas
 *   commit concurrently, so sequences arrive slightly out of order; each is accepted at most once);
 * - a sketch whose payload was indexed already (same sketch id) is a DUPLICATE: nothing new is indexed;
 * - a new sketch of a member model supersedes that model's active sketch of the epoch.
 * Also withdrawal (by the member) and suppression (by the secretariat), and the reads the index needs.
 */
import { bytesEqual } from "@lineage/crypto";
import { decodeSketch, type Sketch } from "@lineage/fingerprint";
import { type HubDatabase, isStoreError, type Store } from "@lineage/store";
import { sql } from "kysely";
import { HubError } from "./hub-error.js";
import type { ModelRef } from "./sketch-proto.js";
import type { VerifiedSketch } from "./sketch-verifier.js";

/** How far below a member's highest accepted sequence an unseen sequence is still accepted. */
export const REORDER_WINDOW = 4096n;

/** A verified message to commit, with the JetStream stream sequence it came with (none over gRPC). */
export interface PendingSketch {
  readonly verified: VerifiedSketch;
  readonly streamSeq: bigint | undefined;
}

/** What became of one message of a batch. */
export type CommitOutcome =
  | { readonly kind: "indexed"; readonly sketchId: string; readonly seq: bigint }
  | { readonly kind: "duplicate"; readonly sketchId: string }
  | { readonly kind: "replay"; readonly reason: string };

/** An active sketch as the index loads it. */
export interface IndexedSketchRow {
  readonly seq: bigint;
  readonly sketchId: string;
  readonly epochId: string;
  readonly model: ModelRef;
  readonly coarse: Uint8Array;
  /** The decoded sketch, when the reader asked for it (the index keeps its per-probe detail in memory). */
  readonly sketch?: Sketch;
}

/** A status change the index applies (the sketch leaves retrieval). */
export interface RetiredSketchRow {
  readonly seq: bigint;
  readonly sketchId: string;
  readonly status: string;
}

const COMMIT_ATTEMPTS = 3;

function unavailable(err: unknown): never {
  if (err instanceof HubError) throw err;
  if (isStoreError(err) && err.retryable) {
    throw new HubError("unavailable", "the hub database is unavailable; retry later", { cause: err });
  }
  throw new HubError("unavailable", "the sketch batch could not be committed", { cause: err });
}

/** An index row; the sketch decoded when it was read (stored rows were checked when committed). */
function indexedRow(r: {
  seq: bigint | string;
  sketch_id: string;
  epoch_id: string;
  member_id: string;
  model_id: string;
  model_version: string;
  coarse: Uint8Array;
  sketch?: Uint8Array;
}): IndexedSketchRow {
  return {
    seq: BigInt(r.seq),
    sketchId: r.sketch_id,
    epochId: r.epoch_id,
    model: { memberId: r.member_id, modelId: r.model_id, modelVersion: r.model_version },
    coarse: r.coarse,
    ...(r.sketch === undefined ? {} : { sketch: decodeSketch(r.sketch) }),
  };
}

const modelKey = (epochId: string, m: ModelRef) =>
  `${epochId}\u0000${m.memberId}\u0000${m.modelId}\u0000${m.modelVersion}`;

/** Sketches and accepted headers in the hub database. */
export class SketchStore {
  readonly #store: Store<HubDatabase>;

  constructor(store: Store<HubDatabase>) {
    this.#store = store;
  }

  /**
   * Commits a batch; one outcome per item, in order. A concurrent replica inserting the same model's
   * sketch makes the transaction conflict: it is retried, then reported `unavailable` (retryable).
   */
  async commit(batch: readonly PendingSketch[]): Promise<CommitOutcome[]> {
    if (batch.length === 0) return [];
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#store.transaction((tx) => this.#commitIn(tx, batch));
      } catch (err) {
        if (attempt < COMMIT_ATTEMPTS && isStoreError(err, "conflict")) continue;
        unavailable(err);
      }
    }
  }

  async #commitIn(
    tx: Parameters<Parameters<Store<HubDatabase>["transaction"]>[0]>[0],
    batch: readonly PendingSketch[],
  ) {
    const outcomes: (CommitOutcome | undefined)[] = new Array(batch.length).fill(undefined);
    const members = [...new Set(batch.map((b) => b.verified.memberId))];
    const highest = new Map<string, bigint>();
    for (const r of await tx
      .selectFrom("sketch_messages")
      .select(["member_id", (eb) => eb.fn.max("sequence").as("highest")])
      .where("member_id", "in", members)
      .groupBy("member_id")
      .execute()) {
      highest.set(r.member_id, BigInt(r.highest as bigint | string));
    }
    // 1. Claim each header; what cannot be claimed is a replay or a redelivery.
    const claimable: number[] = [];
    batch.forEach((b, i) => {
      const top = highest.get(b.verified.memberId);
      if (top !== undefined && b.verified.sequence + REORDER_WINDOW <= top) {
        outcomes[i] = {
          kind: "replay",
          reason: `sequence ${b.verified.sequence} is far below the member's last accepted one`,
        };
      } else claimable.push(i);
    });
    const claimed = new Set<string>();
    if (claimable.length > 0) {
      const rows = await tx
        .insertInto("sketch_messages")
        .values(
          claimable.map((i) => {
            const v = (batch[i] as PendingSketch).verified;
            return {
              member_id: v.memberId,
              sequence: v.sequence,
              nonce: v.nonce,
              message_digest: v.messageDigest,
              stream_seq: (batch[i] as PendingSketch).streamSeq ?? null,
              sketch_id: v.sketchId,
            };
          }),
        )
        .onConflict((oc) => oc.doNothing())
        .returning(["member_id", "sequence", "nonce"])
        .execute();
      for (const r of rows) claimed.add(`${r.member_id}/${r.sequence}`);
    }
    const fresh: number[] = [];
    for (const i of claimable) {
      const b = batch[i] as PendingSketch;
      const v = b.verified;
      // A header claimed by an earlier item of this batch with a different nonce is not ours.
      if (claimed.has(`${v.memberId}/${v.sequence}`)) {
        claimed.delete(`${v.memberId}/${v.sequence}`);
        fresh.push(i);
        continue;
      }
      const prior = await tx
        .selectFrom("sketch_messages")
        .select(["message_digest", "stream_seq", "sketch_id"])
        .where("member_id", "=", v.memberId)
        .where((eb) => eb.or([eb("sequence", "=", v.sequence), eb("nonce", "=", v.nonce)]))
        .executeTakeFirst();
      const redelivery =
        prior !== undefined &&
        b.streamSeq !== undefined &&
        prior.stream_seq !== null &&
        BigInt(prior.stream_seq) === b.streamSeq &&
        bytesEqual(prior.message_digest, v.messageDigest);
      outcomes[i] = redelivery
        ? { kind: "duplicate", sketchId: (prior as { sketch_id: string }).sketch_id }
        : { kind: "replay", reason: "header sequence or nonce was already used" };
    }
    // 2. Index the fresh messages' sketches; the last one of a model in the batch becomes its active sketch.
    if (fresh.length > 0) {
      const ids = fresh.map((i) => (batch[i] as PendingSketch).verified.sketchId);
      const known = new Set(
        (await tx.selectFrom("sketches").select("sketch_id").where("sketch_id", "in", ids).execute()).map(
          (r) => r.sketch_id,
        ),
      );
      const lastOfModel = new Map<string, number>();
      const toInsert: number[] = [];
      for (const i of fresh) {
        const v = (batch[i] as PendingSketch).verified;
        if (known.has(v.sketchId)) {
          outcomes[i] = { kind: "duplicate", sketchId: v.sketchId };
          continue;
        }
        known.add(v.sketchId);
        toInsert.push(i);
        const k = modelKey(v.epochId, v.model);
        const prev = lastOfModel.get(k);
        if (prev === undefined || (batch[prev] as PendingSketch).verified.sequence < v.sequence)
          lastOfModel.set(k, i);
      }
      if (toInsert.length > 0) {
        const winners = new Set(lastOfModel.values());
        const keys = [...winners].map((i) => {
          const v = (batch[i] as PendingSketch).verified;
          return sql`(${v.epochId}, ${v.model.memberId}, ${v.model.modelId}, ${v.model.modelVersion})`;
        });
        const active = await sql<{ seq: bigint | string }>`select seq from sketches where status = 'active'
          and (epoch_id, member_id, model_id, model_version) in (${sql.join(keys)})`.execute(tx);
        if (active.rows.length > 0) {
          await tx
            .updateTable("sketches")
            .set({
              status: "superseded",
              status_at: new Date(),
              status_reason: "a newer sketch of the model",
            })
            .where(
              "seq",
              "in",
              active.rows.map((r) => BigInt(r.seq)),
            )
            .execute();
        }
        const rows = await tx
          .insertInto("sketches")
          .values(
            toInsert.map((i) => {
              const v = (batch[i] as PendingSketch).verified;
              return {
                sketch_id: v.sketchId,
                epoch_id: v.epochId,
                member_id: v.model.memberId,
                model_id: v.model.modelId,
                model_version: v.model.modelVersion,
                key_id: v.keyId,
                sketch: v.encoded,
                coarse: v.sketch.coarse,
                envelope: v.envelope,
                status: winners.has(i) ? ("active" as const) : ("superseded" as const),
                ...(winners.has(i)
                  ? {}
                  : { status_at: new Date(), status_reason: "superseded in the same batch" }),
              };
            }),
          )
          .returning(["sketch_id", "seq"])
          .execute();
        const seqOf = new Map(rows.map((r) => [r.sketch_id, BigInt(r.seq)]));
        for (const i of toInsert) {
          const id = (batch[i] as PendingSketch).verified.sketchId;
          outcomes[i] = { kind: "indexed", sketchId: id, seq: seqOf.get(id) ?? 0n };
        }
      }
    }
    return outcomes.map((o) => o ?? { kind: "replay" as const, reason: "not committed" });
  }

  /**
   * Commits a member-signed withdrawal of one sketch (SketchWithdrawal): claims its header like a sketch
   * message (so a replayed withdrawal is refused and a JetStream redelivery is a duplicate), then retires
   * the member's sketch with that id. `withdrawn` is false for a redelivery; `not_found` when the member
   * has no such sketch.
   */
  async withdrawSigned(
    claim: Omit<VerifiedSketch, "model" | "sketch" | "encoded" | "envelope" | "keyId" | "epochId">,
    model: ModelRef,
    epochId: string,
    streamSeq: bigint | undefined,
    reason: string,
  ): Promise<{ readonly withdrawn: boolean }> {
    try {
      return await this.#store.transaction(async (tx) => {
        const claimed = await tx
          .insertInto("sketch_messages")
          .values({
            member_id: claim.memberId,
            sequence: claim.sequence,
            nonce: claim.nonce,
            message_digest: claim.messageDigest,
            stream_seq: streamSeq ?? null,
            sketch_id: claim.sketchId,
          })
          .onConflict((oc) => oc.doNothing())
          .returning("sequence")
          .execute();
        if (claimed.length === 0) {
          const prior = await tx
            .selectFrom("sketch_messages")
            .select(["message_digest", "stream_seq"])
            .where("member_id", "=", claim.memberId)
            .where((eb) => eb.or([eb("sequence", "=", claim.sequence), eb("nonce", "=", claim.nonce)]))
            .executeTakeFirst();
          const redelivery =
            prior !== undefined &&
            streamSeq !== undefined &&
            prior.stream_seq !== null &&
            BigInt(prior.stream_seq) === streamSeq &&
            bytesEqual(prior.message_digest, claim.messageDigest);
          if (redelivery) return { withdrawn: false };
          throw new HubError("replay", "withdrawal header sequence or nonce was already used");
        }
        const row = await tx
          .selectFrom("sketches")
          .select(["status"])
          .where("sketch_id", "=", claim.sketchId)
          .where("epoch_id", "=", epochId)
          .where("member_id", "=", model.memberId)
          .where("model_id", "=", model.modelId)
          .where("model_version", "=", model.modelVersion)
          .executeTakeFirst();
        if (row === undefined)
          throw new HubError("not_found", "the member has no such sketch of that model and epoch");
        if (row.status === "active" || row.status === "superseded") {
          await tx
            .updateTable("sketches")
            .set({ status: "withdrawn", status_reason: reason, status_at: new Date() })
            .where("sketch_id", "=", claim.sketchId)
            .execute();
        }
        return { withdrawn: row.status === "active" };
      });
    } catch (err) {
      unavailable(err);
    }
  }

  /**
   * Withdraws a member model's sketches (all epochs): they leave retrieval at once. Call only for a
   * request the member signed. Returns how many active sketches were withdrawn.
   */
  async withdraw(model: ModelRef, reason: string): Promise<number> {
    return this.#retire(
      (q) =>
        q
          .where("member_id", "=", model.memberId)
          .where("model_id", "=", model.modelId)
          .where("model_version", "=", model.modelVersion),
      "withdrawn",
      reason,
    );
  }

  /** Suppresses one sketch by id (the secretariat's decision, e.g. a source of false leads). */
  async suppress(sketchId: string, reason: string): Promise<number> {
    if (!/^[0-9a-f]{64}$/.test(sketchId))
      throw new HubError("invalid_argument", "sketch id must be 64 lowercase hex chars");
    return this.#retire((q) => q.where("sketch_id", "=", sketchId), "suppressed", reason);
  }

  /**
   * The secretariat's suppression of one active sketch (Hub.SuppressSketch): its model, or `not_found` /
   * `failed_precondition` naming why nothing was suppressed. The reason and reviewer stay with the sketch.
   */
  async suppressActive(
    sketchId: string,
    reason: string,
    reviewer: string,
    beforeUpdate?: (sketch: ModelRef & { readonly epochId: string }) => Promise<void>,
  ): Promise<ModelRef> {
    if (!/^[0-9a-f]{64}$/.test(sketchId))
      throw new HubError("invalid_argument", "sketch id must be 64 lowercase hex chars");
    if (typeof reason !== "string" || reason.length === 0 || reason.length > 1024)
      throw new HubError("invalid_argument", "reason must be 1..1024 characters");
    if (typeof reviewer !== "string" || reviewer.length === 0 || reviewer.length > 128)
      throw new HubError("invalid_argument", "reviewer must be 1..128 characters");
    try {
      // The row is locked while `beforeUpdate` logs the suppression: the log entry is durable before the
      // sketch leaves retrieval, and two replicas suppressing at once log it once (the log refuses a second).
      return await this.#store.transaction(async (tx) => {
        const row = await tx
          .selectFrom("sketches")
          .select(["member_id", "model_id", "model_version", "epoch_id", "status"])
          .where("sketch_id", "=", sketchId)
          .forUpdate()
          .executeTakeFirst();
        if (row === undefined) throw new HubError("not_found", `no sketch ${sketchId}`);
        if (row.status !== "active")
          throw new HubError("failed_precondition", `sketch ${sketchId} is ${row.status}, not active`);
        const model = { memberId: row.member_id, modelId: row.model_id, modelVersion: row.model_version };
        await beforeUpdate?.({ ...model, epochId: row.epoch_id });
        await tx
          .updateTable("sketches")
          .set({
            status: "suppressed",
            status_reason: `${reason} (reviewer: ${reviewer})`,
            status_at: new Date(),
          })
          .where("sketch_id", "=", sketchId)
          .execute();
        return model;
      });
    } catch (err) {
      unavailable(err);
    }
  }

  async #retire(
    // biome-ignore lint/suspicious/noExplicitAny: a kysely update builder narrowed by the caller.
    narrow: (q: any) => any,
    status: "withdrawn" | "suppressed",
    reason: string,
  ): Promise<number> {
    if (typeof reason !== "string" || reason.length === 0 || reason.length > 1024) {
      throw new HubError("invalid_argument", "reason must be 1..1024 characters");
    }
    try {
      const q = narrow(
        this.#store.db.updateTable("sketches").set({ status, status_reason: reason, status_at: new Date() }),
      );
      const res = await q.where("status", "=", "active").executeTakeFirst();
      return Number(res.numUpdatedRows ?? 0n);
    } catch (err) {
      unavailable(err);
    }
  }

  /** Active sketches of an epoch with seq above `afterSeq`, in seq order, at most `limit`. */
  async activeAfter(
    epochId: string,
    afterSeq: bigint,
    limit: number,
    withSketch = false,
  ): Promise<IndexedSketchRow[]> {
    try {
      const rows = await this.#store.db
        .selectFrom("sketches")
        .select(["seq", "sketch_id", "epoch_id", "member_id", "model_id", "model_version", "coarse"])
        .$if(withSketch, (q) => q.select("sketch"))
        .where("epoch_id", "=", epochId)
        .where("status", "=", "active")
        .where("seq", ">", afterSeq)
        .orderBy("seq")
        .limit(limit)
        .execute();
      return rows.map(indexedRow);
    } catch (err) {
      unavailable(err);
    }
  }

  /** Seqs and ids of an epoch's active sketches above `afterSeq`, in seq order, at most `limit`. */
  async activeIdsAfter(
    epochId: string,
    afterSeq: bigint,
    limit: number,
  ): Promise<{ seq: bigint; sketchId: string }[]> {
    try {
      const rows = await this.#store.db
        .selectFrom("sketches")
        .select(["seq", "sketch_id"])
        .where("epoch_id", "=", epochId)
        .where("status", "=", "active")
        .where("seq", ">", afterSeq)
        .orderBy("seq")
        .limit(limit)
        .execute();
      return rows.map((r) => ({ seq: BigInt(r.seq), sketchId: r.sketch_id }));
    } catch (err) {
      unavailable(err);
    }
  }

  /** The active sketches with these ids, as the index loads them. */
  async activeByIds(ids: readonly string[], withSketch = false): Promise<IndexedSketchRow[]> {
    if (ids.length === 0) return [];
    try {
      const rows = await this.#store.db
        .selectFrom("sketches")
        .select(["seq", "sketch_id", "epoch_id", "member_id", "model_id", "model_version", "coarse"])
        .$if(withSketch, (q) => q.select("sketch"))
        .where("sketch_id", "in", [...ids])
        .where("status", "=", "active")
        .orderBy("seq")
        .execute();
      return rows.map(indexedRow);
    } catch (err) {
      unavailable(err);
    }
  }

  /**
   * The highest seq of a sketch received before `beforeMs` (0 when none): no transaction still running can
   * commit a lower one, as none runs that long.
   */
  async settledSeq(beforeMs: number): Promise<bigint> {
    try {
      // Walks the primary key down from the newest row: only the last few seconds' rows are read.
      const r = await this.#store.db
        .selectFrom("sketches")
        .select("seq")
        .where("received_at", "<", new Date(beforeMs))
        .orderBy("seq", "desc")
        .limit(1)
        .executeTakeFirst();
      return r === undefined ? 0n : BigInt(r.seq);
    } catch (err) {
      unavailable(err);
    }
  }

  /** Sketches of an epoch that left retrieval (superseded, withdrawn, suppressed) since `sinceMs`. */
  async retiredSince(epochId: string, sinceMs: number): Promise<RetiredSketchRow[]> {
    try {
      const rows = await this.#store.db
        .selectFrom("sketches")
        .select(["seq", "sketch_id", "status"])
        .where("epoch_id", "=", epochId)
        .where("status", "!=", "active")
        .where("status_at", ">=", new Date(sinceMs))
        .execute();
      return rows.map((r) => ({ seq: BigInt(r.seq), sketchId: r.sketch_id, status: r.status }));
    } catch (err) {
      unavailable(err);
    }
  }

  /** The decoded sketches with these seqs (the few candidates' per-probe detail). */
  async sketchesBySeq(seqs: readonly bigint[]): Promise<Map<bigint, Sketch>> {
    const out = new Map<bigint, Sketch>();
    if (seqs.length === 0) return out;
    try {
      const rows = await this.#store.db
        .selectFrom("sketches")
        .select(["seq", "sketch"])
        .where("seq", "in", [...seqs])
        .execute();
      for (const r of rows) out.set(BigInt(r.seq), decodeSketch(r.sketch));
      return out;
    } catch (err) {
      unavailable(err);
    }
  }

  /** Counts of sketches by status (all epochs). */
  async counts(): Promise<Record<string, number>> {
    try {
      const rows = await sql<{
        status: string;
        n: string | bigint;
      }>`select status, count(*) as n from sketches group by status`.execute(this.#store.db);
      return Object.fromEntries(rows.rows.map((r) => [r.status, Number(r.n)]));
    } catch (err) {
      unavailable(err);
    }
  }
}
