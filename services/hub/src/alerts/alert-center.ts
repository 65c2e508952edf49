/**
 * Alerts (issue 10 "Alerts"; proto/lineage/v1/alert.proto): the hub raises one when a LIKELY_DERIVED
 * attestation is logged, when a case becomes a shared violation, and when a case is confirmed or dismissed.
 * Each alert is stored with a strictly increasing sequence (WatchAlerts resumes from it) and a unique id per
 * event (raising the same event twice — after a restart, or on two replicas — stores and publishes it once),
 * then published hub-signed (AlertEvent) on NATS `lineage.alert.<member>.<kind>` for every member concerned
 * (`lineage.alert.hub.<kind>` when none). Watchers read the stored alerts: a publish is only a wake-up, so a
 * watcher never misses or reorders one, whichever replica raised it.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Alert, AlertEventSchema, AlertKind, AlertSchema, type SuspectRef } from "@lineage/api";
import type { Bus, BusSubscription } from "@lineage/bus";
import type { Ed25519PrivateKey } from "@lineage/crypto";
import type { HubDatabase, Store } from "@lineage/store";
import { sql } from "kysely";
import { HubError } from "../ingest/hub-error.js";
import { SECRETARIAT, signRequest } from "../membership/request-header.js";

/** Subject tokens of the alert kinds. */
export const ALERT_KIND_TOKENS: Readonly<Record<number, string>> = {
  [AlertKind.ATTESTATION_LOGGED]: "attestation_logged",
  [AlertKind.SHARED_VIOLATION]: "shared_violation",
  [AlertKind.CASE_CONFIRMED]: "case_confirmed",
  [AlertKind.CASE_DISMISSED]: "case_dismissed",
  [AlertKind.KEY_REVOKED]: "key_revoked",
  [AlertKind.EPOCH_ROTATED]: "epoch_rotated",
};

/** The subject an alert of `kind` concerning `memberId` is published on. */
export function alertSubject(memberId: string, kind: AlertKind): string {
  return `lineage.alert.${memberId}.${ALERT_KIND_TOKENS[kind] ?? "unknown"}`;
}

/** Pattern of every alert subject. */
export const ALERT_SUBJECTS = "lineage.alert.>";

/** What raising an alert says. */
export interface AlertInput {
  /** Unique per event, 1..64 chars (e.g. "attestation/<log index>"). */
  readonly alertId: string;
  readonly kind: AlertKind;
  readonly caseId?: string;
  readonly suspect?: SuspectRef;
  readonly memberIds: readonly string[];
  readonly logIndex?: number;
  /** Safe summary (no canary or response text), at most 512 chars. */
  readonly summary: string;
}

/** Which alerts a watcher wants. */
export interface AlertFilter {
  /** Empty: all kinds. */
  readonly kinds: readonly AlertKind[];
  /** A member sees alerts naming it; the secretariat (undefined) sees all. */
  readonly memberId?: string;
}

export class AlertCenter {
  readonly #store: Store<HubDatabase>;
  readonly #bus: Bus | undefined;
  readonly #hubKey: Ed25519PrivateKey;
  readonly #now: () => number;
  readonly #wakers = new Set<() => void>();
  #subscription: BusSubscription | undefined;

  constructor(options: {
    readonly store: Store<HubDatabase>;
    readonly hubKey: Ed25519PrivateKey;
    readonly bus?: Bus;
    readonly now?: () => number;
  }) {
    this.#store = options.store;
    this.#bus = options.bus;
    this.#hubKey = options.hubKey;
    this.#now = options.now ?? Date.now;
  }

  /** Listens on the bus for alerts other replicas raise (wake-ups for watchers). */
  async start(): Promise<void> {
    if (this.#bus === undefined || this.#subscription !== undefined) return;
    this.#subscription = await this.#bus.subscribe(ALERT_SUBJECTS, () => this.#wake());
  }

  /** Stores and publishes an alert; returns it (the stored one when it was raised before). */
  async raise(input: AlertInput): Promise<Alert> {
    if (input.alertId.length < 1 || input.alertId.length > 64)
      throw new HubError("invalid_argument", "alert id must be 1..64 characters");
    if (input.memberIds.length > 1024)
      throw new HubError("invalid_argument", "an alert names at most 1024 members");
    const { alert, fresh } = await this.#store.transaction(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext('lineage-alerts'))`.execute(trx);
      const prior = await trx
        .selectFrom("hub_alerts")
        .select("alert")
        .where("alert_id", "=", input.alertId)
        .executeTakeFirst();
      if (prior !== undefined) return { alert: fromBinary(AlertSchema, prior.alert), fresh: false };
      const top = await trx
        .selectFrom("hub_alerts")
        .select(sql<string | null>`max(sequence)`.as("m"))
        .executeTakeFirst();
      const sequence = BigInt(top?.m ?? 0) + 1n;
      const a = create(AlertSchema, {
        alertId: input.alertId,
        sequence,
        kind: input.kind,
        caseId: input.caseId ?? "",
        ...(input.suspect ? { suspect: input.suspect } : {}),
        memberIds: [...input.memberIds],
        ...(input.logIndex === undefined ? {} : { logIndex: BigInt(input.logIndex) }),
        raisedAt: timestampFromMs(this.#now()),
        summary: input.summary.slice(0, 512),
      });
      await trx
        .insertInto("hub_alerts")
        .values({
          sequence,
          alert_id: input.alertId,
          kind: input.kind,
          member_ids: JSON.stringify(input.memberIds),
          alert: toBinary(AlertSchema, a),
        })
        .execute();
      return { alert: a, fresh: true };
    });
    if (fresh) {
      this.#wake();
      await this.#publish(alert);
    }
    return alert;
  }

  async #publish(alert: Alert): Promise<void> {
    if (this.#bus === undefined) return;
    const event = signRequest(AlertEventSchema, create(AlertEventSchema, { alert }), {
      memberId: SECRETARIAT,
      key: this.#hubKey,
    });
    const data = toBinary(AlertEventSchema, event);
    const members = alert.memberIds.length > 0 ? alert.memberIds : [SECRETARIAT];
    for (const m of members) await this.#bus.emit(alertSubject(m, alert.kind), data);
  }

  #wake(): void {
    for (const w of [...this.#wakers]) w();
  }

  /** Stored alerts after `afterSequence` matching `filter`, oldest first, at most `limit`. */
  async after(afterSequence: bigint, filter: AlertFilter, limit = 500): Promise<Alert[]> {
    let q = this.#store.db
      .selectFrom("hub_alerts")
      .select(["alert", "member_ids"])
      .where("sequence", ">", afterSequence);
    if (filter.kinds.length > 0) q = q.where("kind", "in", [...filter.kinds]);
    const rows = await q.orderBy("sequence").limit(limit).execute();
    return rows
      .filter(
        (r) =>
          filter.memberId === undefined || (JSON.parse(r.member_ids) as string[]).includes(filter.memberId),
      )
      .map((r) => fromBinary(AlertSchema, r.alert));
  }

  /** The highest sequence stored (0 when none). */
  async lastSequence(): Promise<bigint> {
    const top = await this.#store.db
      .selectFrom("hub_alerts")
      .select(sql<string | null>`max(sequence)`.as("m"))
      .executeTakeFirst();
    return BigInt(top?.m ?? 0);
  }

  /**
   * Alerts after `afterSequence`, then live ones, until `signal` aborts. Sequences start at 1, so 0 replays
   * every stored alert first: a subscriber that connects late misses none (test/alert-replay.test.ts). Each is
   * read from the store, so the order is the sequence order.
   */
  async *watch(afterSequence: bigint, filter: AlertFilter, signal: AbortSignal): AsyncGenerator<Alert> {
    let cursor = afterSequence;
    let pending = true;
    let wake: (() => void) | undefined;
    const waker = () => {
      pending = true;
      wake?.();
    };
    this.#wakers.add(waker);
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (!pending) {
          await new Promise<void>((r) => {
            wake = r;
            // Also poll now and then: a wake-up lost on the bus (core NATS is at most once) is only late.
            setTimeout(r, 2000).unref?.();
          });
          wake = undefined;
          if (signal.aborted) return;
        }
        pending = false;
        for (;;) {
          const batch = await this.after(cursor, { kinds: [] }, 500);
          for (const a of batch) {
            cursor = a.sequence;
            const kindOk = filter.kinds.length === 0 || filter.kinds.includes(a.kind);
            const memberOk = filter.memberId === undefined || a.memberIds.includes(filter.memberId);
            if (kindOk && memberOk) yield a;
          }
          if (batch.length < 500) break;
        }
      }
    } finally {
      this.#wakers.delete(waker);
      signal.removeEventListener("abort", onAbort);
    }
  }

  async close(): Promise<void> {
    await this.#subscription?.stop();
    this.#subscription = undefined;
    this.#wake();
  }
}
