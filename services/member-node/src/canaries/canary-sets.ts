/**
 * The member's canary pair sets (DESIGN.md "Canary set", flow 3; docs/specs/canary-commitment.md):
 *   import  -> the pairs and fresh salts are stored; the v2 root is computed (state `imported`);
 *   commit  -> a member-signed CanaryCommitment is logged through the hub (LogCanaryCommitment) and the
 *              node checks that the log really holds it (leaf bytes + inclusion in a signed checkpoint);
 *   labels  -> only once the FIRST hub-signed checkpoint covering the commitment exists does the node learn
 *              which item of each pair is exposed (canaryPairLabels), and only then records it (`labelled`).
 * Spending: each canary item is reserved against the suspect before it is sent (canary_exposures, one
 * atomic reservation per item and suspect: {@link CanarySets.reserve}); a reuse policy bounds how many
 * distinct suspects may see one item, and a session that would exceed it is refused.
 *
 * Pairs, salts and answers never leave this module except as prompts to a suspect and, on disclosure, to an
 * auditor (encrypted). Errors carry ids and counts only.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type CanaryCommitmentRef,
  CanaryCommitmentSchema,
  type CanaryExposure,
  CommitmentHashAlgorithm,
  LogCanaryCommitmentRequestSchema,
  type LogEntryRef,
} from "@lineage/api";
import {
  bytesEqual,
  type CanaryPair,
  CanaryPairCommitment,
  canaryPairLabels,
  type Ed25519PrivateKey,
  hashLeaf,
  signEnvelope,
} from "@lineage/crypto";
import { type CanarySet, canaryScoringPrompt } from "@lineage/fingerprint";
import { isStoreError, type MemberNodeDatabase, type Store } from "@lineage/store";
import {
  DEFAULT_MAX_SUSPECTS_PER_CANARY,
  MAX_SUSPECTS_PER_CANARY_LIMIT,
} from "../config/member-node-config.js";
import type { HeaderSigner } from "../header-signer.js";
import { MemberNodeError } from "../member-node-error.js";
import { firstCoveringCheckpoint, type HubLogClient, type HubLogTrust, verifiedEntry } from "./hub-log.js";

/** DSSE payload type of canary commitments (the hub's PAYLOAD_TYPES.commitment). */
export const CANARY_COMMITMENT_PAYLOAD_TYPE = "application/vnd.lineage.canary-commitment.v1+proto";

/** Commitment ids: 1..64 characters, no control characters. */
export const COMMITMENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export { DEFAULT_MAX_SUSPECTS_PER_CANARY };

/** What the canary service needs. */
export interface CanarySetsDeps {
  readonly memberId: string;
  readonly store: Store<MemberNodeDatabase>;
  readonly signingKey: Ed25519PrivateKey;
  /** The hub's log RPCs; undefined when no hub is configured (commit then fails `failed_precondition`). */
  readonly hub: HubLogClient | undefined;
  readonly hubLog: HubLogTrust;
  /** Signs the LogCanaryCommitment request header (the hub requires a member-signed header). */
  readonly signer: HeaderSigner;
  readonly clock: () => number;
  /** Reuse policy (default {@link DEFAULT_MAX_SUSPECTS_PER_CANARY}). */
  readonly maxSuspectsPerCanary?: number;
}

/** A labelled set, as the engine takes it, with each engine item id mapped back to (pair index, item). */
export interface LabelledCanaries {
  readonly commitmentId: string;
  readonly set: CanarySet;
  /** Engine item id -> where it lives in the commitment. */
  readonly items: ReadonlyMap<string, { readonly pairIndex: number; readonly item: 0 | 1 }>;
  /** Prompt -> the same (the engine asks by prompt). */
  readonly byPrompt: ReadonlyMap<string, { readonly pairIndex: number; readonly item: 0 | 1 }>;
  /**
   * Scoring prompt (prompt + answer, the rank test's query) -> the same, with the answer's offset in it:
   * sending it spends the item too.
   */
  readonly byScoringPrompt: ReadonlyMap<
    string,
    { readonly pairIndex: number; readonly item: 0 | 1; readonly answerStart: number }
  >;
}

export function checkCommitmentId(id: unknown): string {
  if (typeof id !== "string" || !COMMITMENT_ID_RE.test(id))
    throw new MemberNodeError(
      "invalid_argument",
      "commitment_id must be 1..64 characters: letters, digits, '.', '_', ':', '-' (starting with a letter or digit)",
    );
  return id;
}

function hubOf(deps: CanarySetsDeps): HubLogClient {
  if (deps.hub === undefined)
    throw new MemberNodeError(
      "failed_precondition",
      "no hub is configured: a commitment must be logged through the hub",
    );
  return deps.hub;
}

/** The member's canary sets (module header). */
export class CanarySets {
  readonly #d: CanarySetsDeps;
  /** Sessions admitted in this process ({@link CanarySets.admit}), by session id. */
  readonly #admitted = new Map<string, { readonly commitmentId: string; readonly suspectId: string }>();
  /** The tail of each set's admission queue (admissions of one set run one at a time). */
  readonly #admitting = new Map<string, Promise<void>>();

  constructor(deps: CanarySetsDeps) {
    const max = deps.maxSuspectsPerCanary ?? DEFAULT_MAX_SUSPECTS_PER_CANARY;
    if (!Number.isInteger(max) || max < 1 || max > MAX_SUSPECTS_PER_CANARY_LIMIT)
      throw new MemberNodeError(
        "invalid_argument",
        `maxSuspectsPerCanary must be an integer in 1..${MAX_SUSPECTS_PER_CANARY_LIMIT}`,
      );
    this.#d = deps;
  }

  get maxSuspectsPerCanary(): number {
    return this.#d.maxSuspectsPerCanary ?? DEFAULT_MAX_SUSPECTS_PER_CANARY;
  }

  /** Stores `pairs` under `commitmentId` with fresh salts; `already_exists` when the id is taken. */
  async import(
    commitmentId: string,
    pairs: readonly CanaryPair[],
  ): Promise<{ root: Uint8Array; pairs: number }> {
    checkCommitmentId(commitmentId);
    let c: CanaryPairCommitment;
    try {
      c = CanaryPairCommitment.create(pairs);
    } catch (cause) {
      throw new MemberNodeError(
        "invalid_argument",
        `canary set ${commitmentId}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const salts = c.salts;
    const stored = c.pairs;
    try {
      await this.#d.store.transaction(async (trx) => {
        await trx
          .insertInto("canary_sets")
          .values({ commitment_id: commitmentId, pair_count: c.size, merkle_root: c.root, state: "imported" })
          .execute();
        const rows = stored.map((p, i) => ({
          commitment_id: commitmentId,
          pair_index: i,
          pair_id: p.pairId,
          salt: salts[i] as Uint8Array,
          prompt_a: p.a.prompt,
          expected_a: p.a.expected,
          prompt_b: p.b.prompt,
          expected_b: p.b.expected,
          exposed: null,
        }));
        for (let i = 0; i < rows.length; i += 500)
          await trx
            .insertInto("canary_pairs")
            .values(rows.slice(i, i + 500))
            .execute();
      });
    } catch (cause) {
      if (isStoreError(cause) && cause.code === "conflict")
        throw new MemberNodeError("already_exists", `canary set ${commitmentId} exists already`, { cause });
      throw cause;
    }
    return { root: c.root, pairs: c.size };
  }

  async #setRow(commitmentId: string) {
    const row = await this.#d.store.db
      .selectFrom("canary_sets")
      .selectAll()
      .where("commitment_id", "=", commitmentId)
      .executeTakeFirst();
    if (row === undefined) throw new MemberNodeError("not_found", `no canary set ${commitmentId}`);
    return row;
  }

  /** The commitment re-opened from the stored pairs and salts (its root is checked against the stored one). */
  async commitment(commitmentId: string): Promise<CanaryPairCommitment> {
    const set = await this.#setRow(commitmentId);
    const rows = await this.#d.store.db
      .selectFrom("canary_pairs")
      .selectAll()
      .where("commitment_id", "=", commitmentId)
      .orderBy("pair_index")
      .execute();
    const c = CanaryPairCommitment.create(
      rows.map((r) => ({
        pairId: r.pair_id,
        a: { prompt: r.prompt_a, expected: r.expected_a },
        b: { prompt: r.prompt_b, expected: r.expected_b },
      })),
      rows.map((r) => r.salt),
    );
    if (!bytesEqual(c.root, set.merkle_root))
      throw new MemberNodeError(
        "failed_precondition",
        `canary set ${commitmentId} no longer opens its stored root`,
      );
    return c;
  }

  /**
   * Logs the set's commitment through the hub and checks the log holds it. Idempotent: a set already
   * committed returns its reference without logging twice.
   */
  async commit(
    commitmentId: string,
    signal?: AbortSignal,
  ): Promise<{ ref: CanaryCommitmentRef; entry: LogEntryRef; pairs: number }> {
    const set = await this.#setRow(commitmentId);
    if (set.log_index !== null) {
      const entry = await verifiedEntry(hubOf(this.#d), this.#d.hubLog, Number(set.log_index), signal);
      return {
        ref: {
          $typeName: "lineage.v1.CanaryCommitmentRef",
          commitmentId,
          merkleRoot: set.merkle_root,
          logIndex: set.log_index,
        },
        entry: {
          $typeName: "lineage.v1.LogEntryRef",
          index: set.log_index,
          leafHash: hashLeaf(entry.leafBytes),
        },
        pairs: set.pair_count,
      };
    }
    const payload = toBinary(
      CanaryCommitmentSchema,
      create(CanaryCommitmentSchema, {
        commitmentId,
        memberId: this.#d.memberId,
        merkleRoot: set.merkle_root,
        canaryCount: BigInt(set.pair_count),
        hashAlgorithm: CommitmentHashAlgorithm.SHA256_RFC6962_PAIRS,
        committedAt: timestampFromMs(this.#d.clock()),
      }),
    );
    const env = signEnvelope(CANARY_COMMITMENT_PAYLOAD_TYPE, payload, this.#d.signingKey);
    const hub = hubOf(this.#d);
    let res: Awaited<ReturnType<HubLogClient["logCanaryCommitment"]>>;
    try {
      const request = create(LogCanaryCommitmentRequestSchema, {
        commitment: {
          payloadType: env.payloadType,
          payload: env.payload,
          signatures: env.signatures.map((x) => ({ keyid: x.keyid, sig: x.sig })),
        },
      });
      const signed = await this.#d.signer.sign(LogCanaryCommitmentRequestSchema, request);
      res = await hub.logCanaryCommitment(signed, signal === undefined ? {} : { signal });
    } catch (cause) {
      const code = (cause as { code?: unknown } | null)?.code;
      const retry = code === "unavailable" || code === "timeout";
      throw new MemberNodeError(
        retry ? "unavailable" : "failed_precondition",
        `the hub did not log canary set ${commitmentId} (${String(code ?? "error")})`,
        { cause },
      );
    }
    const at = res.logEntry?.index;
    if (at === undefined || at > BigInt(Number.MAX_SAFE_INTEGER))
      throw new MemberNodeError("malformed", "the hub's answer names no log entry");
    // The hub's word is not enough: the entry must be in a signed checkpoint and hold exactly our envelope.
    const entry = await verifiedEntry(hub, this.#d.hubLog, Number(at), signal);
    const logged = entry.leaf.envelope;
    if (
      logged === undefined ||
      logged.payloadType !== env.payloadType ||
      !bytesEqual(logged.payload, env.payload)
    )
      throw new MemberNodeError(
        "malformed",
        `log entry ${at} does not hold canary set ${commitmentId}'s commitment`,
      );
    await this.#d.store.db
      .updateTable("canary_sets")
      .set({ state: "committed", log_index: at })
      .where("commitment_id", "=", commitmentId)
      .where("state", "=", "imported")
      .execute();
    return {
      ref: {
        $typeName: "lineage.v1.CanaryCommitmentRef",
        commitmentId,
        merkleRoot: set.merkle_root,
        logIndex: at,
      },
      entry: { $typeName: "lineage.v1.LogEntryRef", index: at, leafHash: hashLeaf(entry.leafBytes) },
      pairs: set.pair_count,
    };
  }

  /**
   * Learns which item of each pair is exposed from the first hub-signed checkpoint covering the commitment,
   * and records it. Before that checkpoint exists nothing is recorded (`not_found`, retry later). Idempotent.
   * @returns the labels (0: item a exposed, 1: item b).
   */
  async learnLabels(commitmentId: string, signal?: AbortSignal): Promise<readonly (0 | 1)[]> {
    const set = await this.#setRow(commitmentId);
    if (set.log_index === null)
      throw new MemberNodeError("failed_precondition", `canary set ${commitmentId} is not committed yet`);
    if (set.state === "labelled") {
      const rows = await this.#d.store.db
        .selectFrom("canary_pairs")
        .select("exposed")
        .where("commitment_id", "=", commitmentId)
        .orderBy("pair_index")
        .execute();
      return rows.map((r) => (r.exposed === 1 ? 1 : 0));
    }
    const { checkpoint } = await firstCoveringCheckpoint(
      hubOf(this.#d),
      this.#d.hubLog,
      Number(set.log_index),
      signal,
    );
    const labels = canaryPairLabels({
      checkpointRoot: checkpoint.rootHash,
      checkpointSize: checkpoint.size,
      commitmentRoot: set.merkle_root,
      pairs: set.pair_count,
    });
    await this.#d.store.transaction(async (trx) => {
      for (const bit of [0, 1] as const) {
        const idx = labels.flatMap((b, i) => (b === bit ? [i] : []));
        for (let i = 0; i < idx.length; i += 1000)
          await trx
            .updateTable("canary_pairs")
            .set({ exposed: bit })
            .where("commitment_id", "=", commitmentId)
            .where("pair_index", "in", idx.slice(i, i + 1000))
            .execute();
      }
      await trx
        .updateTable("canary_sets")
        .set({
          state: "labelled",
          label_checkpoint_size: BigInt(checkpoint.size),
          label_checkpoint_root: checkpoint.rootHash,
        })
        .where("commitment_id", "=", commitmentId)
        .execute();
    });
    return labels.map((b) => (b === 1 ? 1 : 0));
  }

  /** The labelled set as the engine takes it; `failed_precondition` until the labels are learned. */
  async labelled(commitmentId: string): Promise<LabelledCanaries> {
    const set = await this.#setRow(commitmentId);
    if (set.state !== "labelled")
      throw new MemberNodeError(
        "failed_precondition",
        `canary set ${commitmentId} has no labels from the log yet`,
      );
    const rows = await this.#d.store.db
      .selectFrom("canary_pairs")
      .selectAll()
      .where("commitment_id", "=", commitmentId)
      .orderBy("pair_index")
      .execute();
    const items = new Map<string, { pairIndex: number; item: 0 | 1 }>();
    const byPrompt = new Map<string, { pairIndex: number; item: 0 | 1 }>();
    const byScoringPrompt = new Map<string, { pairIndex: number; item: 0 | 1; answerStart: number }>();
    const pairs = rows.map((r) => {
      const a = { id: `${r.pair_index}a`, prompt: r.prompt_a, answer: r.expected_a };
      const b = { id: `${r.pair_index}b`, prompt: r.prompt_b, answer: r.expected_b };
      items.set(a.id, { pairIndex: r.pair_index, item: 0 });
      items.set(b.id, { pairIndex: r.pair_index, item: 1 });
      byPrompt.set(a.prompt, { pairIndex: r.pair_index, item: 0 });
      byPrompt.set(b.prompt, { pairIndex: r.pair_index, item: 1 });
      const sa = canaryScoringPrompt(a);
      const sb = canaryScoringPrompt(b);
      byScoringPrompt.set(sa.prompt, { pairIndex: r.pair_index, item: 0, answerStart: sa.answerStart });
      byScoringPrompt.set(sb.prompt, { pairIndex: r.pair_index, item: 1, answerStart: sb.answerStart });
      return r.exposed === 1
        ? { id: r.pair_id, exposed: b, decoy: a }
        : { id: r.pair_id, exposed: a, decoy: b };
    });
    return { commitmentId, set: { memberId: this.#d.memberId, pairs }, items, byPrompt, byScoringPrompt };
  }

  /**
   * Checks the reuse policy before a session sends the set's canaries to `suspectId`: refused
   * (`failed_precondition`, naming the set, the count and the policy) when some item has already been sent
   * to the policy's number of OTHER suspects. Sending again to the same suspect spends nothing new.
   */
  async checkReuse(commitmentId: string, suspectId: string): Promise<void> {
    const max = this.maxSuspectsPerCanary;
    const rows = await this.#d.store.db
      .selectFrom("canary_exposures")
      .select(["pair_index", "item"])
      .select((eb) => eb.fn.count<string>("suspect_id").as("suspects"))
      .where("commitment_id", "=", commitmentId)
      .where("suspect_id", "!=", suspectId)
      .groupBy(["pair_index", "item"])
      .having((eb) => eb.fn.count("suspect_id"), ">=", max)
      .execute();
    if (rows.length > 0)
      throw new MemberNodeError(
        "failed_precondition",
        `canary set ${commitmentId}: ${rows.length} canaries were already sent to ${max} other suspect(s); the reuse policy allows at most ${max} suspects per canary`,
      );
  }

  /**
   * Admits a session that may send the set's canaries to `suspectId`: refused (`failed_precondition`, nothing
   * spent) unless every item could still go to this suspect when the sessions already admitted in this
   * process for OTHER suspects each take it too. Without it, a burst of concurrent sessions for more suspects
   * than the policy allows each claim different items first (every session asks in its own seeded order) and
   * nearly all of them run out mid-way — canaries spent for nothing (bench:alliance: 122 of 122 declined).
   * Admissions of one set run one at a time; `release(sessionId)` ends one (the session answered or stopped).
   * A retried session id is admitted again without counting twice. {@link reserve} stays the hard guarantee
   * (across processes too).
   */
  async admit(commitmentId: string, suspectId: string, sessionId: string): Promise<void> {
    checkCommitmentId(commitmentId);
    const prev = this.#admitting.get(commitmentId) ?? Promise.resolve();
    const run = prev.then(() => this.#admitNow(commitmentId, suspectId, sessionId));
    const tail = run.catch(() => undefined);
    this.#admitting.set(commitmentId, tail);
    void tail.then(() => {
      if (this.#admitting.get(commitmentId) === tail) this.#admitting.delete(commitmentId);
    });
    return run;
  }

  async #admitNow(commitmentId: string, suspectId: string, sessionId: string): Promise<void> {
    if (this.#admitted.has(sessionId)) return;
    const max = this.maxSuspectsPerCanary;
    const others = new Set<string>();
    for (const a of this.#admitted.values())
      if (a.commitmentId === commitmentId && a.suspectId !== suspectId) others.add(a.suspectId);
    const refuse = (n: number) =>
      new MemberNodeError(
        "failed_precondition",
        `canary set ${commitmentId}: ${n} canaries were already sent to, or are held by running sessions for, ${max} other suspect(s); the reuse policy allows at most ${max} suspects per canary`,
      );
    const set = await this.#setRow(commitmentId);
    if (others.size >= max) throw refuse(set.pair_count * 2);
    const rows = await this.#d.store.db
      .selectFrom("canary_exposures")
      .select(["pair_index", "item", "suspect_id"])
      .where("commitment_id", "=", commitmentId)
      .execute();
    const holders = new Map<string, Set<string>>();
    for (const r of rows) {
      const k = `${r.pair_index}/${r.item}`;
      holders.set(k, (holders.get(k) ?? new Set()).add(r.suspect_id));
    }
    let full = 0;
    for (const h of holders.values()) {
      if (h.has(suspectId)) continue;
      const claim = new Set([...h, ...others]);
      if (claim.size >= max) full++;
    }
    if (full > 0) throw refuse(full);
    this.#admitted.set(sessionId, { commitmentId, suspectId });
  }

  /** Ends a session's admission ({@link admit}); a no-op for a session never admitted. */
  release(sessionId: string): void {
    this.#admitted.delete(sessionId);
  }

  /**
   * Reserves one canary item for `suspectId` before it is sent: the reservation is the exposure row, written
   * ahead of the send (a crash between the two over-counts, never under-counts). Atomic under concurrency:
   * the item's pair row is locked (`SELECT ... FOR UPDATE`; PGlite runs transactions one after another) while
   * the distinct suspects already holding the item are counted, so sessions for different suspects running
   * at once — in this process or another on the same database — cannot together send an item to more suspects
   * than the policy allows (the race bench:alliance showed when the policy was only checked at session start).
   * An item this suspect already holds — a retried or resumed session, or another session on the same
   * suspect — is reused and spends nothing new.
   * @returns true when the item was newly reserved, false when this suspect already held it
   * @throws MemberNodeError `failed_precondition` (the item already went to the policy's number of other
   *   suspects; nothing is recorded), `not_found` (no such pair), `invalid_argument` (bad ids or item)
   */
  async reserve(
    commitmentId: string,
    pairIndex: number,
    item: 0 | 1,
    suspectId: string,
    sessionId: string,
  ): Promise<boolean> {
    checkCommitmentId(commitmentId);
    if (!Number.isInteger(pairIndex) || pairIndex < 0)
      throw new MemberNodeError("invalid_argument", "pair index must be a non-negative integer");
    if (item !== 0 && item !== 1) throw new MemberNodeError("invalid_argument", "item must be 0 or 1");
    for (const [name, v] of [
      ["suspect id", suspectId],
      ["session id", sessionId],
    ] as const)
      if (typeof v !== "string" || v.length === 0 || v.length > 64)
        throw new MemberNodeError("invalid_argument", `${name} must be 1..64 characters`);
    const max = this.maxSuspectsPerCanary;
    return this.#d.store.transaction(async (trx) => {
      const pair = await trx
        .selectFrom("canary_pairs")
        .select("pair_index")
        .where("commitment_id", "=", commitmentId)
        .where("pair_index", "=", pairIndex)
        .forUpdate()
        .executeTakeFirst();
      if (pair === undefined)
        throw new MemberNodeError("not_found", `canary set ${commitmentId} has no pair ${pairIndex}`);
      // Read after the lock: under read committed this statement sees every reservation committed before it.
      const holders = await trx
        .selectFrom("canary_exposures")
        .select("suspect_id")
        .where("commitment_id", "=", commitmentId)
        .where("pair_index", "=", pairIndex)
        .where("item", "=", item)
        .execute();
      if (holders.some((h) => h.suspect_id === suspectId)) return false;
      if (holders.length >= max)
        throw new MemberNodeError(
          "failed_precondition",
          `canary set ${commitmentId}: a canary was already sent to ${holders.length} other suspect(s); the reuse policy allows at most ${max} suspects per canary`,
        );
      await trx
        .insertInto("canary_exposures")
        .values({
          commitment_id: commitmentId,
          pair_index: pairIndex,
          item,
          suspect_id: suspectId,
          session_id: sessionId,
        })
        .execute();
      return true;
    });
  }

  /** Exposure of the given sets (all when empty): counts and recent events only, never canaries. */
  async exposure(commitmentIds: readonly string[]): Promise<CanaryExposure[]> {
    if (commitmentIds.length > 256)
      throw new MemberNodeError("invalid_argument", "at most 256 commitment ids");
    for (const id of commitmentIds) checkCommitmentId(id);
    let q = this.#d.store.db.selectFrom("canary_sets").selectAll().orderBy("commitment_id");
    if (commitmentIds.length > 0) q = q.where("commitment_id", "in", [...commitmentIds]);
    const sets = await q.limit(256).execute();
    const found = new Set(sets.map((s) => s.commitment_id));
    const missing = commitmentIds.find((id) => !found.has(id));
    if (missing !== undefined) throw new MemberNodeError("not_found", `no canary set ${missing}`);
    const out: CanaryExposure[] = [];
    for (const s of sets) {
      const spentRow = await this.#d.store.db
        .selectFrom((eb) =>
          eb
            .selectFrom("canary_exposures")
            .select(["pair_index", "item"])
            .where("commitment_id", "=", s.commitment_id)
            .groupBy(["pair_index", "item"])
            .as("spent_items"),
        )
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .executeTakeFirstOrThrow();
      const events = await this.#d.store.db
        .selectFrom("canary_exposures")
        .select(["session_id", "suspect_id"])
        .select((eb) => eb.fn.countAll<string>().as("sent"))
        .select((eb) => eb.fn.max("exposed_at").as("at"))
        .where("commitment_id", "=", s.commitment_id)
        .groupBy(["session_id", "suspect_id"])
        .orderBy("at", "desc")
        .limit(100)
        .execute();
      const total = BigInt(s.pair_count * 2);
      const spent = BigInt(spentRow.n);
      out.push({
        $typeName: "lineage.v1.CanaryExposure",
        ...(s.log_index === null
          ? {}
          : {
              commitment: {
                $typeName: "lineage.v1.CanaryCommitmentRef",
                commitmentId: s.commitment_id,
                merkleRoot: s.merkle_root,
                logIndex: s.log_index,
              },
            }),
        total,
        spent,
        remaining: total - spent,
        recentEvents: events.map((e) => ({
          $typeName: "lineage.v1.CanaryExposureEvent",
          sessionId: e.session_id,
          suspectId: e.suspect_id,
          canariesSent: Number(e.sent),
          exposedAt: timestampFromMs(new Date(e.at as unknown as string | Date).getTime()),
        })),
      } as CanaryExposure);
    }
    return out;
  }
}
