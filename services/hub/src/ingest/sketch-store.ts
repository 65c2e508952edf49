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
import type { Sketch } from "@lineage/fingerprint";
import { type HubDatabase, isStoreError, type Store } from "@lineage/store";
import { sql } from "kysely";
import { HubError } from "./hub-error.js";
import type { ModelRef } from "./sketch-proto.js";
import type { VerifiedSketch } from "./sketch-verifier.js";
import { decodeMemberSketch, envelopePayload } from "./sketch-wire.js";

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

/** A stored sketch as read: its row, the stored envelope and its epoch's battery size. */
interface StoredSketchRow {
  readonly seq: bigint | string;
  readonly sketch_id: string;
  readonly epoch_id: string;
  readonly member_id: string;
  readonly model_id: string;
  readonly model_version: string;
  readonly envelope: Uint8Array;
  readonly probe_count: number;
}

/**
 * The sketch of a stored row, decoded from its envelope's payload (the only copy kept, migration 0013) with
 * the checks it passed when it was committed.
 */
function storedSketch(r: StoredSketchRow): Sketch {
  try {
    return decodeMemberSketch(envelopePayload(r.envelope), r.probe_count).sketch;
  } catch (cause) {
    throw new HubError("internal", `stored sketch ${r.sketch_id} does not decode`, { cause });
  }
}

/** An index row; the whole sketch kept when the reader asked for it. */
function indexedRow(r: StoredSketchRow, withSketch: boolean): IndexedSketchRow {
  const sketch = storedSketch(r);
  return {
    seq: BigInt(r.seq),
    sketchId: r.sketch_id,
    epochId: r.epoch_id,
    model: { memberId: r.member_id, modelId: r.model_id, modelVersion: r.model_version },
    coarse: sketch.coarse,
    ...(withSketch ? { sketch } : {}),
  };
}

/** The columns a stored sketch is read with (the epoch joined for its battery size). */
const STORED_COLUMNS = [
  "sketches.seq",
  "sketches.sketch_id",
  "sketches.epoch_id",
  "sketches.member_id",
  "sketches.model_id",
  "sketches.model_version",
  "sketches.envelope",
  "epochs.probe_count",
] as const;

/** Envelope bytes sent in one insert statement at most (a batch of large sketches takes several). */
const BYTES_PER_STATEMENT = 16 << 20;

/** `parts` end to end, as one buffer (pg sends it as one binary parameter). */
function concatBytes(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

/** Where each of `lens` starts when they are laid end to end. */
function offsetsOf(lens: readonly number[]): number[] {
  const out: number[] = [];
  let off = 0;
  for (const n of lens) {
    out.push(off);
    off += n;
  }
  return out;
}

/** The outcomes, every item decided (one left undecided is reported as a replay: it was not committed). */
function settled(outcomes: readonly (CommitOutcome | undefined)[]): CommitOutcome[] {
  return outcomes.map((o) => o ?? { kind: "replay" as const, reason: "not committed" });
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
    // Each member's highest accepted sequence: one descent of the primary key per member (max() with
    // GROUP BY read every header the member ever sent, so each batch cost more as the table grew).
    const highest = new Map<string, bigint>();
    const tops = await sql<{ member_id: string; highest: bigint | string | null }>`
      select m.member_id,
             (select s.sequence from sketch_messages s where s.member_id = m.member_id
              order by s.sequence desc limit 1) as highest
      from unnest(${members}::text[]) as m(member_id)`.execute(tx);
    for (const r of tops.rows) if (r.highest !== null) highest.set(r.member_id, BigInt(r.highest));
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
      // In columns (unnest), the nonces and digests as one bytea each sliced server-side: a VALUES list
      // with six parameters a row cost more to build, compile and serialise than the insert itself.
      const vs = claimable.map((i) => (batch[i] as PendingSketch).verified);
      const nonceLens = vs.map((v) => v.nonce.length);
      const rows = await sql<{ member_id: string; sequence: bigint | string }>`
        insert into sketch_messages (member_id, sequence, nonce, message_digest, stream_seq, sketch_id)
        select t.member_id, t.sequence, substring(${concatBytes(vs.map((v) => v.nonce))}::bytea from t.off + 1 for t.len),
               substring(${concatBytes(vs.map((v) => v.messageDigest))}::bytea from (t.i - 1)::int * 32 + 1 for 32),
               t.stream_seq, t.sketch_id
        from unnest(${vs.map((v) => v.memberId)}::text[], ${vs.map((v) => v.sequence)}::bigint[],
                    ${offsetsOf(nonceLens)}::int[], ${nonceLens}::int[],
                    ${claimable.map((i) => (batch[i] as PendingSketch).streamSeq ?? null)}::bigint[],
                    ${vs.map((v) => v.sketchId)}::text[])
             with ordinality as t(member_id, sequence, off, len, stream_seq, sketch_id, i)
        on conflict do nothing
        returning member_id, sequence`.execute(tx);
      for (const r of rows.rows) claimed.add(`${r.member_id}/${r.sequence}`);
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
    if (fresh.length === 0) return settled(outcomes);
    const freshIds = fresh.map((i) => (batch[i] as PendingSketch).verified.sketchId);
    const known = new Set(
      (
        await sql<{ sketch_id: string }>`
          select sketch_id from sketches where sketch_id = any(${freshIds}::text[])`.execute(tx)
      ).rows.map((r) => r.sketch_id),
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
    if (toInsert.length === 0) return settled(outcomes);
    const now = new Date();
    const winners = [...new Set(lastOfModel.values())].map((i) => (batch[i] as PendingSketch).verified);
    // The models' active sketches, found through the partial unique index (a join on the keys in columns:
    // a list of row constructors was planned as one OR per model).
    await sql`
      update sketches s set status = 'superseded', status_at = ${now}::timestamptz,
             status_reason = 'a newer sketch of the model'
      from unnest(${winners.map((v) => v.epochId)}::text[], ${winners.map((v) => v.model.memberId)}::text[],
                  ${winners.map((v) => v.model.modelId)}::text[], ${winners.map((v) => v.model.modelVersion)}::text[])
           as k(epoch_id, member_id, model_id, model_version)
      where s.status = 'active' and s.epoch_id = k.epoch_id and s.member_id = k.member_id
        and s.model_id = k.model_id and s.model_version = k.model_version`.execute(tx);
    const winnerSet = new Set(lastOfModel.values());
    const seqOf = new Map<string, bigint>();
    // The envelopes as one bytea per statement, sliced server-side (bounded: a sketch may be up to 1 MiB).
    for (let from = 0; from < toInsert.length; ) {
      let to = from;
      let bytes = 0;
      while (to < toInsert.length && (to === from || bytes < BYTES_PER_STATEMENT)) {
        bytes += (batch[toInsert[to] as number] as PendingSketch).verified.envelope.length;
        to++;
      }
      const part = toInsert.slice(from, to);
      const vs = part.map((i) => (batch[i] as PendingSketch).verified);
      const lens = vs.map((v) => v.envelope.length);
      const rows = await sql<{ sketch_id: string; seq: bigint | string }>`
        insert into sketches (sketch_id, epoch_id, member_id, model_id, model_version, key_id, envelope,
                              status, status_at, status_reason)
        select t.sketch_id, t.epoch_id, t.member_id, t.model_id, t.model_version, t.key_id,
               substring(${concatBytes(vs.map((v) => v.envelope))}::bytea from t.off + 1 for t.len),
               case when t.active then 'active' else 'superseded' end,
               case when t.active then null else ${now}::timestamptz end,
               case when t.active then null else 'superseded in the same batch' end
        from unnest(${vs.map((v) => v.sketchId)}::text[], ${vs.map((v) => v.epochId)}::text[],
                    ${vs.map((v) => v.model.memberId)}::text[], ${vs.map((v) => v.model.modelId)}::text[],
                    ${vs.map((v) => v.model.modelVersion)}::text[], ${vs.map((v) => v.keyId)}::text[],
                    ${offsetsOf(lens)}::int[], ${lens}::int[], ${part.map((i) => winnerSet.has(i))}::boolean[])
             as t(sketch_id, epoch_id, member_id, model_id, model_version, key_id, off, len, active)
        returning sketch_id, seq`.execute(tx);
      for (const r of rows.rows) seqOf.set(r.sketch_id, BigInt(r.seq));
      from = to;
    }
    for (const i of toInsert) {
      const id = (batch[i] as PendingSketch).verified.sketchId;
      outcomes[i] = { kind: "indexed", sketchId: id, seq: seqOf.get(id) ?? 0n };
    }
    return settled(outcomes);
  }

  /**
   * Commits a member-signed withdrawal of one sketch (SketchWithdrawal): claims its header like a sketch
   * message (so a replayed withdrawal is refused and a JetStream redelivery is a duplicate), then retires
   * the member's sketch with that id. `withdrawn` is false for a redelivery; `not_found` when the member
   * has no such sketch.
   */
  async withdrawSigned(
    claim: Omit<VerifiedSketch, "model" | "sketch" | "envelope" | "keyId" | "epochId">,
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
    return (await this.#activeRows(epochId, afterSeq, limit)).map((r) => indexedRow(r, withSketch));
  }

  /**
   * Every active sketch of an epoch with seq above `afterSeq`, in seq order, `pageSize` at a time: the index
   * rebuild. Each page is decoded while Postgres reads the next. With `sliceRows`, a page is decoded and
   * yielded that many rows at a time (a build behind a serving port yields the event loop between slices:
   * decoding an envelope is most of a row's cost).
   */
  async *activePages(
    epochId: string,
    afterSeq: bigint,
    pageSize: number,
    withSketch = false,
    sliceRows = pageSize,
  ): AsyncGenerator<IndexedSketchRow[], void, undefined> {
    // A page read ahead that the caller no longer wants must not fail as an unhandled rejection.
    const read = (after: bigint) => {
      const p = this.#activeRows(epochId, after, pageSize);
      p.catch(() => undefined);
      return p;
    };
    let pending = read(afterSeq);
    for (;;) {
      const rows = await pending;
      const last = rows[rows.length - 1];
      const more = rows.length === pageSize && last !== undefined;
      if (more) pending = read(BigInt(last.seq));
      for (let i = 0; i < rows.length; i += sliceRows)
        yield rows.slice(i, i + sliceRows).map((r) => indexedRow(r, withSketch));
      if (!more) return;
    }
  }

  async #activeRows(epochId: string, afterSeq: bigint, limit: number): Promise<StoredSketchRow[]> {
    try {
      return await this.#store.db
        .selectFrom("sketches")
        .innerJoin("epochs", "epochs.epoch_id", "sketches.epoch_id")
        .select(STORED_COLUMNS)
        .where("sketches.epoch_id", "=", epochId)
        .where("sketches.status", "=", "active")
        .where("sketches.seq", ">", afterSeq)
        .orderBy("sketches.seq")
        .limit(limit)
        .execute();
    } catch (err) {
      unavailable(err);
    }
  }

  /** How many active sketches an epoch has (the index build's progress denominator). */
  async activeCount(epochId: string): Promise<number> {
    try {
      const r = await this.#store.db
        .selectFrom("sketches")
        .select((eb) => eb.fn.countAll<string | number | bigint>().as("n"))
        .where("epoch_id", "=", epochId)
        .where("status", "=", "active")
        .executeTakeFirst();
      return Number(r?.n ?? 0);
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
        .innerJoin("epochs", "epochs.epoch_id", "sketches.epoch_id")
        .select(STORED_COLUMNS)
        .where("sketches.sketch_id", "in", [...ids])
        .where("sketches.status", "=", "active")
        .orderBy("sketches.seq")
        .execute();
      return rows.map((r) => indexedRow(r, withSketch));
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
        .innerJoin("epochs", "epochs.epoch_id", "sketches.epoch_id")
        .select(STORED_COLUMNS)
        .where("sketches.seq", "in", [...seqs])
        .execute();
      for (const r of rows) out.set(BigInt(r.seq), storedSketch(r));
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
