/**
 * The alpha ledger (DESIGN.md "The match protocol", step 5): per member and epoch, the sessions the hub opened
 * and the alpha they spent. Each session may falsely accuse with probability at most its policy's alpha, so
 * by the union bound a member's chance of any false accusation in an epoch is at most the sum spent; the
 * member's budget (a policy setting of the hub) caps that sum, and a session past it is refused with a clear
 * reason. The ledger's rows are the reservations the hub writes BEFORE it logs a session; the public copy is
 * the log itself (every SessionOpened names the member, the epoch and the policy with its alpha), so anyone
 * can re-add it from the log.
 *
 * Reservation is serialized per (member, epoch) with a transaction-scoped advisory lock, so hub replicas
 * sharing one database cannot overspend together.
 */

import type { HubDatabase, Store } from "@lineage/store";
import { type Kysely, sql } from "kysely";
import { HubError } from "../ingest/hub-error.js";

/** A member's spending in one epoch. */
export interface LedgerBalance {
  readonly memberId: string;
  readonly epochId: string;
  readonly sessions: number;
  readonly alphaSpent: number;
  readonly budget: number;
}

/** One reservation. */
export interface Reservation {
  readonly sessionId: string;
  readonly memberId: string;
  readonly epochId: string;
  readonly alpha: number;
  readonly suspectId: string;
  readonly modelId: string;
  readonly modelVersion: string;
  /** The planned SessionOpened (protobuf), kept so a restarted hub logs the same session. */
  readonly planned: Uint8Array;
}

/** Default budget of alpha per member and epoch: 1,000 sessions at lineage-policy/3's alpha of 1e-6. */
export const DEFAULT_ALPHA_BUDGET = 1e-3;

/** The alpha ledger over the hub's database. */
export class AlphaLedger {
  readonly #store: Store<HubDatabase>;
  readonly #budget: (memberId: string) => number;

  /** `budget`: alpha per member and epoch (a number for all, or a function of the member). */
  constructor(
    store: Store<HubDatabase>,
    budget: number | ((memberId: string) => number) = DEFAULT_ALPHA_BUDGET,
  ) {
    if (typeof budget === "number" && !(budget > 0 && budget <= 1))
      throw new HubError("invalid_argument", "the alpha budget must be in (0, 1]");
    this.#store = store;
    this.#budget = typeof budget === "number" ? () => budget : budget;
  }

  /** The member's budget per epoch. */
  budgetOf(memberId: string): number {
    return this.#budget(memberId);
  }

  /**
   * Reserves `r.alpha` of the member's budget for one session. Throws HubError `failed_precondition`
   * ("alpha budget exhausted ...") when it would exceed the budget, `already_exists` when a session for the
   * same suspect and member model was reserved before (its id is in the message).
   */
  async reserve(r: Reservation): Promise<LedgerBalance> {
    if (!(r.alpha > 0 && r.alpha < 1)) throw new HubError("invalid_argument", "alpha must be in (0, 1)");
    const budget = this.#budget(r.memberId);
    return this.#store.transaction(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${`lineage-ledger/${r.memberId}/${r.epochId}`}))`.execute(
        trx,
      );
      const earlier = await trx
        .selectFrom("hub_alpha_ledger")
        .select("session_id")
        .where("suspect_id", "=", r.suspectId)
        .where("member_id", "=", r.memberId)
        .where("model_id", "=", r.modelId)
        .where("model_version", "=", r.modelVersion)
        .executeTakeFirst();
      if (earlier !== undefined)
        throw new HubError(
          "already_exists",
          `a session for suspect ${r.suspectId} and ${r.memberId}/${r.modelId} was already opened (${earlier.session_id})`,
        );
      const spent = await balanceIn(trx, r.memberId, r.epochId);
      // A small tolerance for the floating sum: budgets are round multiples of alphas in practice.
      if (spent.alpha + r.alpha > budget * (1 + 1e-9)) {
        throw new HubError(
          "failed_precondition",
          `alpha budget exhausted: member ${r.memberId} has spent ${spent.alpha} of its ${budget} in epoch ${r.epochId} over ${spent.sessions} sessions; a session at alpha ${r.alpha} would exceed it`,
        );
      }
      await trx
        .insertInto("hub_alpha_ledger")
        .values({
          session_id: r.sessionId,
          member_id: r.memberId,
          epoch_id: r.epochId,
          alpha: r.alpha,
          suspect_id: r.suspectId,
          model_id: r.modelId,
          model_version: r.modelVersion,
          planned: r.planned,
        })
        .execute();
      return {
        memberId: r.memberId,
        epochId: r.epochId,
        sessions: spent.sessions + 1,
        alphaSpent: spent.alpha + r.alpha,
        budget,
      };
    });
  }

  /** The member's balance in an epoch. */
  async balance(memberId: string, epochId: string): Promise<LedgerBalance> {
    const b = await balanceIn(this.#store.db, memberId, epochId);
    return { memberId, epochId, sessions: b.sessions, alphaSpent: b.alpha, budget: this.#budget(memberId) };
  }

  /** Every (member, epoch) balance, for the secretariat's view. */
  async balances(): Promise<LedgerBalance[]> {
    const rows = await this.#store.db
      .selectFrom("hub_alpha_ledger")
      .select(["member_id", "epoch_id", sql<string>`count(*)`.as("n"), sql<number>`sum(alpha)`.as("spent")])
      .groupBy(["member_id", "epoch_id"])
      .orderBy("member_id")
      .orderBy("epoch_id")
      .execute();
    return rows.map((r) => ({
      memberId: r.member_id,
      epochId: r.epoch_id,
      sessions: Number(r.n),
      alphaSpent: Number(r.spent),
      budget: this.#budget(r.member_id),
    }));
  }
}

async function balanceIn(
  db: Kysely<HubDatabase>,
  memberId: string,
  epochId: string,
): Promise<{ sessions: number; alpha: number }> {
  const row = await db
    .selectFrom("hub_alpha_ledger")
    .select([sql<string>`count(*)`.as("n"), sql<number | null>`sum(alpha)`.as("spent")])
    .where("member_id", "=", memberId)
    .where("epoch_id", "=", epochId)
    .executeTakeFirst();
  return { sessions: Number(row?.n ?? 0), alpha: Number(row?.spent ?? 0) };
}
