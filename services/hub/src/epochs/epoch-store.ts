/**
 * The hub's epochs (DESIGN.md "Epoch battery"): created and rotated by the secretariat, stored in the hub
 * database with their battery and per-epoch sketch key (both confidential to the alliance), signed by the
 * hub. The current epoch is the highest-numbered one whose window holds now; a rotation starts the next
 * number now, so sketches of the previous epoch become stale from that moment.
 */
import { randomBytes } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Epoch, type EpochBattery, EpochBatterySchema, EpochSchema, type Probe } from "@lineage/api";
import type { Ed25519PrivateKey } from "@lineage/crypto";
import { type HubDatabase, isStoreError, type Store } from "@lineage/store";
import { type Kysely, sql } from "kysely";
import { HubError } from "../ingest/hub-error.js";
import { batteryDigest, checkEpochId, checkProbes, signEpoch } from "./epoch-battery.js";
import { EPOCH_KEY_BYTES, type EpochKek, epochKek, unwrapEpochKey, wrapEpochKey } from "./epoch-key-wrap.js";
import { type EpochLog, logNewEpoch } from "./epoch-log.js";

/** An epoch as stored. `epochKey` and `battery` are secrets of the alliance: never log them. */
export interface EpochRecord {
  readonly epochId: string;
  readonly number: number;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly probeCount: number;
  readonly batteryDigest: Uint8Array;
  readonly previousEpochId: string | undefined;
  /** The hub's signature over the Epoch record (epoch-battery.ts signEpoch). */
  readonly hubSignature: Uint8Array;
  /** The per-epoch HMAC key of sketch digests, 32 bytes. */
  readonly epochKey: Uint8Array;
  /** Encoded EpochBattery (epoch + probes). */
  readonly battery: Uint8Array;
}

/** What a rotation needs. */
export interface RotationInput {
  readonly epochId: string;
  readonly probes: readonly Probe[];
  /** Validity end (ms); must be after now. */
  readonly notAfterMs: number;
}

/** Longest validity accepted for one epoch (a battery kept longer lets a copier learn it). */
export const MAX_EPOCH_VALIDITY_MS = 400 * 86_400_000;
/** How long a replica trusts its cached current epoch before re-reading it. */
const CURRENT_CACHE_MS = 1000;

type Row = {
  epoch_id: string;
  number: bigint;
  not_before: Date;
  not_after: Date;
  probe_count: number;
  battery_digest: Uint8Array;
  previous_epoch_id: string | null;
  hub_signature: Uint8Array;
  epoch_key: Uint8Array;
  battery: Uint8Array;
};

/**
 * The record of a row; its epochKey unwrapped with `kek` (epoch-key-wrap.ts). Without the KEK a wrapped key
 * stays unreadable: reading `epochKey` throws `failed_precondition` (ingestion and retrieval never need it).
 */
function toRecord(r: Row, kek: EpochKek | undefined, plainKey?: Uint8Array): EpochRecord {
  const readable = plainKey !== undefined || kek !== undefined || r.epoch_key.length === EPOCH_KEY_BYTES;
  const record = {
    epochId: r.epoch_id,
    number: Number(r.number),
    notBeforeMs: r.not_before.getTime(),
    notAfterMs: r.not_after.getTime(),
    probeCount: r.probe_count,
    batteryDigest: r.battery_digest,
    previousEpochId: r.previous_epoch_id ?? undefined,
    hubSignature: r.hub_signature,
    battery: r.battery,
  };
  if (readable) {
    return { ...record, epochKey: plainKey ?? unwrapEpochKey(kek, r.epoch_id, r.epoch_key) };
  }
  return Object.defineProperty(record, "epochKey", {
    enumerable: false,
    get: () => unwrapEpochKey(undefined, r.epoch_id, r.epoch_key),
  }) as EpochRecord;
}

/** The Epoch message of a record (what members and the NATS announcement see). */
export function epochMessage(r: EpochRecord): Epoch {
  return create(EpochSchema, {
    epochId: r.epochId,
    number: BigInt(r.number),
    notBefore: timestampFromMs(r.notBeforeMs),
    notAfter: timestampFromMs(r.notAfterMs),
    batteryDigest: r.batteryDigest,
    previousEpochId: r.previousEpochId ?? "",
  });
}

/** The battery of a record, decoded. */
export function batteryOf(r: EpochRecord): EpochBattery {
  return fromBinary(EpochBatterySchema, r.battery);
}

function unavailable(cause: unknown): never {
  if (cause instanceof HubError) throw cause;
  throw new HubError("unavailable", "the hub database could not be read or written", { cause });
}

/** Epoch batteries in the hub database. */
export class EpochStore {
  readonly #store: Store<HubDatabase>;
  readonly #hubKey: Ed25519PrivateKey | undefined;
  readonly #kek: EpochKek | undefined;
  #upgraded = false;
  readonly #now: () => number;
  #current: { record: EpochRecord | undefined; atMs: number } | undefined;

  readonly #log: EpochLog | undefined;

  /**
   * @param hubKey - signs new epochs; without it the store only reads (create/rotate fail).
   * @param options - `now`: the clock; `log`: the transparency log, where each new epoch's statement is logged
   *   before the epoch is stored (without it, epoch-handlers.ts logs an epoch before first handing it out).
   */
  constructor(
    store: Store<HubDatabase>,
    hubKey?: Ed25519PrivateKey,
    options: (() => number) | { readonly now?: () => number; readonly log?: EpochLog } = {},
  ) {
    this.#store = store;
    this.#hubKey = hubKey;
    this.#kek = hubKey === undefined ? undefined : epochKek(hubKey);
    const o = typeof options === "function" ? { now: options } : options;
    this.#now = o.now ?? Date.now;
    this.#log = o.log;
  }

  /** Creates the first epoch; `already_exists` when an epoch exists (rotate instead). */
  create(input: RotationInput): Promise<EpochRecord> {
    return this.#insert(input, true);
  }

  /** Starts the next epoch now (the first one too, when none exists). */
  rotate(input: RotationInput): Promise<EpochRecord> {
    return this.#insert(input, false);
  }

  async #insert(input: RotationInput, first: boolean): Promise<EpochRecord> {
    const hubKey = this.#hubKey;
    if (hubKey === undefined)
      throw new HubError("failed_precondition", "this epoch store has no hub key to sign with");
    const epochId = checkEpochId(input.epochId);
    const probes = checkProbes(input.probes);
    const nowMs = this.#now();
    const notAfterMs = input.notAfterMs;
    if (!Number.isSafeInteger(notAfterMs) || notAfterMs <= nowMs) {
      throw new HubError("invalid_argument", "not_after must be in the future");
    }
    if (notAfterMs - nowMs > MAX_EPOCH_VALIDITY_MS) {
      throw new HubError(
        "invalid_argument",
        `an epoch is valid at most ${MAX_EPOCH_VALIDITY_MS / 86_400_000} days`,
      );
    }
    const digest = batteryDigest(probes);
    let record: EpochRecord;
    try {
      // The row is planned on a read, logged, then inserted in a transaction that re-checks the plan. The log
      // is written outside the transaction (its writer needs a connection of its own: on PGlite the only one),
      // and it is the arbiter between racing rotations: it refuses a second statement of an id or number. A
      // process without the log that wins the insert race leaves a logged epoch never handed out (the
      // auditor sees it; no member can be handed an epoch the log does not hold: epoch-handlers.ts).
      const plan = async (db: Kysely<HubDatabase>) => {
        const last = await db
          .selectFrom("epochs")
          .select(["epoch_id", "number"])
          .orderBy("number", "desc")
          .limit(1)
          .executeTakeFirst();
        if (first && last !== undefined) {
          throw new HubError("already_exists", `an epoch exists already (${last.epoch_id}): rotate instead`);
        }
        const dup = await db
          .selectFrom("epochs")
          .select("epoch_id")
          .where("epoch_id", "=", epochId)
          .executeTakeFirst();
        if (dup !== undefined) throw new HubError("already_exists", `epoch ${epochId} exists already`);
        return last;
      };
      const last = await plan(this.#store.db);
      const number = last === undefined ? 1 : Number(last.number) + 1;
      const epoch = create(EpochSchema, {
        epochId,
        number: BigInt(number),
        notBefore: timestampFromMs(nowMs),
        notAfter: timestampFromMs(notAfterMs),
        batteryDigest: digest,
        previousEpochId: last?.epoch_id ?? "",
      });
      const battery = toBinary(EpochBatterySchema, create(EpochBatterySchema, { epoch, probes }));
      const plainKey = new Uint8Array(randomBytes(32));
      const row: Row = {
        epoch_id: epochId,
        number: BigInt(number),
        not_before: new Date(nowMs),
        not_after: new Date(notAfterMs),
        probe_count: probes.length,
        battery_digest: digest,
        previous_epoch_id: last?.epoch_id ?? null,
        hub_signature: signEpoch(epoch, hubKey),
        epoch_key: wrapEpochKey(this.#kek as EpochKek, epochId, plainKey),
        battery,
      };
      record = toRecord(row, this.#kek, plainKey);
      if (this.#log !== undefined) await logNewEpoch(this.#log, record, nowMs);
      await this.#store.transaction(async (tx) => {
        const now = await plan(tx);
        if ((now?.epoch_id ?? null) !== (last?.epoch_id ?? null))
          throw new HubError("already_exists", "another rotation won the race: retry");
        await tx.insertInto("epochs").values(row).execute();
      });
    } catch (err) {
      // Two secretariat processes rotating at once: the unique epoch number decides; the loser retries.
      if (isStoreError(err, "conflict"))
        throw new HubError("already_exists", "another rotation won the race: retry", { cause: err });
      unavailable(err);
    }
    this.#current = undefined;
    this.#reading = undefined;
    return record;
  }

  /** The epoch with this id, or undefined. */
  async get(epochId: string): Promise<EpochRecord | undefined> {
    checkEpochId(epochId);
    try {
      const r = await this.#store.db
        .selectFrom("epochs")
        .selectAll()
        .where("epoch_id", "=", epochId)
        .executeTakeFirst();
      await this.#upgrade();
      return r === undefined ? undefined : toRecord(r, this.#kek);
    } catch (err) {
      unavailable(err);
    }
  }

  /** The current epoch (highest number whose window holds now), cached for a second. */
  async current(): Promise<EpochRecord | undefined> {
    const nowMs = this.#now();
    const c = this.#current;
    if (c !== undefined && nowMs - c.atMs < CURRENT_CACHE_MS && nowMs >= c.atMs) {
      if (c.record === undefined || nowMs < c.record.notAfterMs) return c.record;
    }
    // One read when the cache lapses, however many messages in flight ask at that moment.
    if (this.#reading === undefined) {
      this.#reading = this.#readCurrent(nowMs).finally(() => {
        this.#reading = undefined;
      });
    }
    return this.#reading;
  }

  #reading: Promise<EpochRecord | undefined> | undefined;

  async #readCurrent(nowMs: number): Promise<EpochRecord | undefined> {
    let record: EpochRecord | undefined;
    try {
      const r = await this.#store.db
        .selectFrom("epochs")
        .selectAll()
        .where("not_before", "<=", new Date(nowMs))
        .orderBy("number", "desc")
        .limit(1)
        .executeTakeFirst();
      await this.#upgrade();
      record = r === undefined || r.not_after.getTime() <= nowMs ? undefined : toRecord(r, this.#kek);
    } catch (err) {
      unavailable(err);
    }
    this.#current = { record, atMs: nowMs };
    return record;
  }

  /** Every epoch, newest first, at most `limit`. */
  async list(limit = 100): Promise<EpochRecord[]> {
    try {
      const rows = await this.#store.db
        .selectFrom("epochs")
        .selectAll()
        .orderBy("number", "desc")
        .limit(limit)
        .execute();
      await this.#upgrade();
      return rows.map((r) => toRecord(r, this.#kek));
    } catch (err) {
      unavailable(err);
    }
  }

  /**
   * Wraps, once per store opened with the hub key, the plaintext keys of epochs created before migration
   * 0011 (the update is conditional on the stored value: replicas doing it at once agree).
   */
  async #upgrade(): Promise<void> {
    if (this.#upgraded || this.#kek === undefined) return;
    const kek = this.#kek;
    try {
      const legacy = await this.#store.db
        .selectFrom("epochs")
        .select(["epoch_id", "epoch_key"])
        .where(sql<boolean>`octet_length(epoch_key) = ${EPOCH_KEY_BYTES}`)
        .execute();
      for (const r of legacy) {
        await this.#store.db
          .updateTable("epochs")
          .set({ epoch_key: wrapEpochKey(kek, r.epoch_id, r.epoch_key) })
          .where("epoch_id", "=", r.epoch_id)
          .where("epoch_key", "=", r.epoch_key)
          .execute();
      }
    } catch {
      // A least-privilege service role may not UPDATE epochs (migration 0009 grants it sketch status only):
      // those rows stay readable as they are, and are wrapped when the secretariat's role next opens them.
    }
    this.#upgraded = true;
  }
}
