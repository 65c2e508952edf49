/**
 * The member's watermark keys (DESIGN.md "The match protocol", step 1; issue 9 "Watermark keys"): committed
 * before use, kept, used only to test suspects' outputs.
 *
 * - import: a key file on the node's own filesystem (hex, 16..64 bytes; `lineage member watermark keygen`
 *   writes it 0600) is stored in `watermark_keys` with a fresh salt and its digest
 *   SHA-256("lineage/watermark-key/v1" || 0x00 || salt || key) (libs/crypto commitment-digest.ts);
 * - commit: a member-signed WatermarkKeyCommitment is logged through the hub's LogCanaryCommitment, and the
 *   node checks the log holds exactly it (inclusion in a hub-signed checkpoint) before recording the index;
 * - use: a session gets the key only when the commitment it binds is this key's — same id, digest and log
 *   index — and the key was committed; anything else is no key (the session declines).
 *
 * The key and salt never leave the node: responses, log lines and errors carry ids, digests and indices.
 */
import { randomBytes } from "node:crypto";
import { lstat, readFile } from "node:fs/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  LogCanaryCommitmentRequestSchema,
  type LogEntryRef,
  type WatermarkKeyCommitmentRef,
  WatermarkKeyCommitmentSchema,
} from "@lineage/api";
import {
  bytesEqual,
  COMMITMENT_SALT_SIZE,
  type Ed25519PrivateKey,
  hashLeaf,
  signEnvelope,
  watermarkKeyDigest,
} from "@lineage/crypto";
import { WATERMARK_VERSION } from "@lineage/fingerprint";
import type { MemberNodeDatabase, Store } from "@lineage/store";
import { checkCommitmentId } from "../canaries/canary-sets.js";
import { type HubLogClient, type HubLogTrust, verifiedEntry } from "../canaries/hub-log.js";
import type { HeaderSigner } from "../header-signer.js";
import { MemberNodeError } from "../member-node-error.js";

/** DSSE payload type of a WatermarkKeyCommitment (the hub logs it as a COMMITMENT). */
export const WATERMARK_COMMITMENT_PAYLOAD_TYPE = "application/vnd.lineage.watermark-commitment.v1+proto";
/** The green-list scheme the engine's watermark test implements. */
export const WATERMARK_SCHEME = `lineage-greenlist/v${WATERMARK_VERSION}`;
/** Key sizes accepted (the engine needs >= 16 bytes; the table allows up to 64). */
export const MIN_WATERMARK_KEY_BYTES = 16;
export const MAX_WATERMARK_KEY_BYTES_STORED = 64;

/** What the watermark key service needs. */
export interface WatermarkKeysDeps {
  readonly memberId: string;
  readonly store: Store<MemberNodeDatabase>;
  readonly signingKey: Ed25519PrivateKey;
  readonly hub: HubLogClient | undefined;
  readonly hubLog: HubLogTrust;
  readonly signer: HeaderSigner;
  readonly clock: () => number;
}

/** What the node says about a key (never the key). */
export interface WatermarkKeyInfo {
  readonly commitmentId: string;
  readonly keyDigest: Uint8Array;
  readonly gamma: number;
  readonly logIndex: bigint | null;
}

/** Parses a key file's text: hex of 16..64 bytes, surrounding whitespace allowed. `what` names the file. */
export function parseWatermarkKeyText(what: string, text: string): Uint8Array {
  const hex = text.trim();
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex))
    throw new MemberNodeError("invalid_argument", `${what}: a watermark key file holds the key as hex`);
  const key = new Uint8Array(Buffer.from(hex, "hex"));
  if (key.length < MIN_WATERMARK_KEY_BYTES || key.length > MAX_WATERMARK_KEY_BYTES_STORED)
    throw new MemberNodeError(
      "invalid_argument",
      `${what}: a watermark key is ${MIN_WATERMARK_KEY_BYTES}..${MAX_WATERMARK_KEY_BYTES_STORED} bytes, this one ${key.length}`,
    );
  return key;
}

function checkGamma(gamma: unknown): number {
  if (typeof gamma !== "number" || !Number.isFinite(gamma) || gamma <= 0 || gamma >= 1)
    throw new MemberNodeError("invalid_argument", "gamma must be a number in (0, 1)");
  return gamma;
}

/** The node's watermark keys (module header). */
export class WatermarkKeys {
  readonly #d: WatermarkKeysDeps;

  constructor(deps: WatermarkKeysDeps) {
    this.#d = deps;
  }

  /**
   * Stores the key of the file at `path` (on this node's filesystem: untrusted operator input, checked) under
   * `commitmentId`. The file must be a regular file no one but its owner can read.
   */
  async importFile(path: unknown, commitmentId: unknown, gamma: unknown): Promise<WatermarkKeyInfo> {
    const id = checkCommitmentId(commitmentId);
    const g = checkGamma(gamma);
    if (typeof path !== "string" || path.length === 0 || path.length > 4096)
      throw new MemberNodeError("invalid_argument", "key_path must be 1..4096 characters");
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined || !st.isFile())
      throw new MemberNodeError("invalid_argument", `key_path ${path.slice(0, 256)} is not a regular file`);
    if ((st.mode & 0o077) !== 0)
      throw new MemberNodeError(
        "invalid_argument",
        `key_path ${path.slice(0, 256)} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`,
      );
    if (st.size > 1024)
      throw new MemberNodeError("invalid_argument", `key_path ${path.slice(0, 256)} is too large for a key`);
    const key = parseWatermarkKeyText(`key_path ${path.slice(0, 256)}`, await readFile(path, "utf8"));
    return this.add(id, key, g);
  }

  /** Stores `key` under `commitmentId` with a fresh salt; `already_exists` when the id is taken. */
  async add(commitmentId: string, key: Uint8Array, gamma: number): Promise<WatermarkKeyInfo> {
    const id = checkCommitmentId(commitmentId);
    const g = checkGamma(gamma);
    if (
      !(key instanceof Uint8Array) ||
      key.length < MIN_WATERMARK_KEY_BYTES ||
      key.length > MAX_WATERMARK_KEY_BYTES_STORED
    )
      throw new MemberNodeError(
        "invalid_argument",
        `a watermark key is ${MIN_WATERMARK_KEY_BYTES}..${MAX_WATERMARK_KEY_BYTES_STORED} bytes`,
      );
    const salt = new Uint8Array(randomBytes(COMMITMENT_SALT_SIZE));
    const digest = watermarkKeyDigest(salt, key);
    const inserted = await this.#d.store.db
      .insertInto("watermark_keys")
      .values({ commitment_id: id, secret_key: key, salt, key_digest: digest, gamma: g, log_index: null })
      .onConflict((oc) => oc.column("commitment_id").doNothing())
      .returning("commitment_id")
      .executeTakeFirst();
    if (inserted === undefined)
      throw new MemberNodeError("already_exists", `watermark key ${id} exists already`);
    return { commitmentId: id, keyDigest: digest, gamma: g, logIndex: null };
  }

  /**
   * Logs the key's commitment through the hub and checks the log holds it. Idempotent: a key already
   * committed returns its reference without logging twice.
   */
  async commit(
    commitmentId: unknown,
    signal?: AbortSignal,
  ): Promise<{ ref: WatermarkKeyCommitmentRef; entry: LogEntryRef }> {
    const id = checkCommitmentId(commitmentId);
    const row = await this.#d.store.db
      .selectFrom("watermark_keys")
      .select(["key_digest", "gamma", "log_index"])
      .where("commitment_id", "=", id)
      .executeTakeFirst();
    if (row === undefined) throw new MemberNodeError("not_found", `no watermark key ${id} on this node`);
    const hub = this.#d.hub;
    if (hub === undefined)
      throw new MemberNodeError(
        "failed_precondition",
        "no hub is configured: a commitment is logged by the hub",
      );
    const ref = (index: bigint): WatermarkKeyCommitmentRef => ({
      $typeName: "lineage.v1.WatermarkKeyCommitmentRef",
      commitmentId: id,
      keyDigest: row.key_digest,
      logIndex: index,
    });
    const entryRef = (index: bigint, leafBytes: Uint8Array): LogEntryRef => ({
      $typeName: "lineage.v1.LogEntryRef",
      index,
      leafHash: hashLeaf(leafBytes),
    });
    if (row.log_index !== null) {
      const e = await verifiedEntry(hub, this.#d.hubLog, Number(row.log_index), signal);
      return { ref: ref(row.log_index), entry: entryRef(row.log_index, e.leafBytes) };
    }
    const payload = toBinary(
      WatermarkKeyCommitmentSchema,
      create(WatermarkKeyCommitmentSchema, {
        commitmentId: id,
        memberId: this.#d.memberId,
        keyDigest: row.key_digest,
        gamma: row.gamma,
        scheme: WATERMARK_SCHEME,
        committedAt: timestampFromMs(this.#d.clock()),
      }),
    );
    const env = signEnvelope(WATERMARK_COMMITMENT_PAYLOAD_TYPE, payload, this.#d.signingKey);
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
        `the hub did not log watermark key ${id}'s commitment (${String(code ?? "error")})`,
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
        `log entry ${at} does not hold watermark key ${id}'s commitment`,
      );
    await this.#d.store.db
      .updateTable("watermark_keys")
      .set({ log_index: at })
      .where("commitment_id", "=", id)
      .where("log_index", "is", null)
      .execute();
    return { ref: ref(at), entry: entryRef(at, entry.leafBytes) };
  }

  /**
   * The key a session may use for the commitment it binds: only this node's committed key with the same id,
   * digest and log index; undefined otherwise.
   */
  async forSession(
    bound: Pick<WatermarkKeyCommitmentRef, "commitmentId" | "keyDigest" | "logIndex">,
  ): Promise<{ readonly key: Uint8Array; readonly gamma: number } | undefined> {
    const row = await this.#d.store.db
      .selectFrom("watermark_keys")
      .select(["secret_key", "key_digest", "gamma", "log_index"])
      .where("commitment_id", "=", bound.commitmentId)
      .executeTakeFirst();
    if (
      row === undefined ||
      row.log_index === null ||
      row.log_index !== bound.logIndex ||
      !bytesEqual(row.key_digest, bound.keyDigest)
    )
      return undefined;
    return { key: row.secret_key, gamma: row.gamma };
  }

  /** The node's keys, without key material. */
  async list(): Promise<WatermarkKeyInfo[]> {
    const rows = await this.#d.store.db
      .selectFrom("watermark_keys")
      .select(["commitment_id", "key_digest", "gamma", "log_index"])
      .orderBy("commitment_id")
      .execute();
    return rows.map((r) => ({
      commitmentId: r.commitment_id,
      keyDigest: r.key_digest,
      gamma: r.gamma,
      logIndex: r.log_index,
    }));
  }
}
