/**
 * The auditor's own reading of the hub's epoch and sketch-suppression entries (issue 10;
 * proto/lineage/v1/epoch.proto EpochStatement, sketch.proto SketchSuppression; transparency_log.proto kinds 9
 * and 10). Re-implemented here rather than imported from the hub, so a hub bug cannot hide itself. Everything
 * is attacker-controlled input: the payload is bounded before decoding, decoded strictly (a field this auditor
 * does not know is refused: it would be signed and hashed but read by nobody), and every field checked; the
 * hub's signature is verified under the key the caller says signed the hub's decisions at that log position
 * (HubKeyHistory.keyFor("membership", index)). {@link EpochSequence} (and {@link checkEpochLog} over a list)
 * then checks the sequence: epoch ids logged once, numbers rising, each rotation naming the epoch logged
 * before it, a sketch suppressed once.
 */
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  EpochAction,
  EpochStatementSchema,
  LogEntryKind,
  type SketchParameters,
  SketchSuppressionSchema,
} from "@lineage/api";
import { type Ed25519PublicKey, KeyRing, sha256, toHex, verifyEnvelope } from "@lineage/crypto";
import { AuditError } from "./audit-error.js";
import { AUDIT_DSSE_LIMITS, type AuditedLeaf, PAYLOAD_TYPES } from "./log-records.js";

/** Largest payload of an epoch statement or a sketch suppression the auditor decodes (the hub's cap). */
export const MAX_EPOCH_PAYLOAD_BYTES = 8 * 1024;
/** Most epoch statements or suppressions one check reads. */
export const MAX_EPOCH_RECORDS = 1_000_000;

const EPOCH_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const MEMBER_ID_RE = /^[\x21-\x7e]{1,64}$/;
const SKETCH_ID_RE = /^[0-9a-f]{64}$/;

/** An epoch statement as the auditor read it. */
export interface AuditedEpoch {
  readonly index: number;
  readonly action: "create" | "rotate";
  readonly epochId: string;
  readonly number: number;
  readonly previousEpochId: string | undefined;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** SHA-256 of the battery's canonical encoding, hex. */
  readonly batteryDigest: string;
  readonly probeCount: number;
  readonly sketchParameters: SketchParameters;
  /** SHA-256 commitment to the epoch key, hex (never the key). */
  readonly epochKeyCommitment: string;
  readonly issuedAtMs: number;
}

/** A sketch suppression as the auditor read it. */
export interface AuditedSuppression {
  readonly index: number;
  readonly sketchId: string;
  readonly memberId: string;
  readonly modelId: string;
  readonly modelVersion: string;
  readonly epochId: string;
  readonly reason: string;
  readonly reviewer: string;
  readonly suppressedAtMs: number;
}

function malformed(what: string, message: string): never {
  throw new AuditError("malformed", `${what}: ${message}`);
}

/** Path of the first message in `v` holding unknown fields (binary decoding keeps them in `$unknown`). */
function unknownFieldAt(v: unknown, path: string, depth: number): string | undefined {
  if (depth > 16 || v === null || typeof v !== "object" || v instanceof Uint8Array) return undefined;
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.$unknown) && o.$unknown.length > 0) return path;
  for (const [k, x] of Object.entries(o)) {
    if (k === "$unknown" || k === "$typeName") continue;
    const at = unknownFieldAt(x, `${path}.${k}`, depth + 1);
    if (at !== undefined) return at;
  }
  return undefined;
}

function strictPayload<Desc extends DescMessage>(
  schema: Desc,
  leaf: AuditedLeaf,
  kind: LogEntryKind,
  payloadType: string,
  what: string,
): MessageShape<Desc> {
  if (leaf.kind !== kind || leaf.envelope.payloadType !== payloadType)
    throw new AuditError("wrong_entry", `${what} is not a ${schema.name} entry`);
  const payload = leaf.envelope.payload;
  if (payload.length > MAX_EPOCH_PAYLOAD_BYTES)
    throw new AuditError("too_large", `${what}: payload exceeds ${MAX_EPOCH_PAYLOAD_BYTES} bytes`);
  let msg: MessageShape<Desc>;
  try {
    msg = fromBinary(schema, payload);
  } catch (cause) {
    throw new AuditError("malformed", `${what}: payload is not an encoded ${schema.name}`, { cause });
  }
  const at = unknownFieldAt(msg, schema.name, 0);
  if (at !== undefined) malformed(what, `unknown field in ${at}`);
  return msg;
}

function verifyHub(leaf: AuditedLeaf, key: Ed25519PublicKey | undefined, what: string): void {
  if (key === undefined)
    throw new AuditError("unknown_key", `${what}: no hub key signed the hub's decisions at this position`);
  try {
    verifyEnvelope(leaf.envelope, {
      keys: new KeyRing([key]),
      requiredKeyIds: [key.keyId],
      limits: AUDIT_DSSE_LIMITS,
    });
  } catch (cause) {
    throw new AuditError("bad_signature", `${what} is not signed by the hub's membership key`, { cause });
  }
}

/**
 * Reads the epoch statement logged at `index` (`leaf` decoded by decodeAuditedLeaf), checking the hub's
 * signature under `hubKey`, the size cap, strict decoding and every field.
 */
export function readEpochStatement(
  index: number,
  leaf: AuditedLeaf,
  hubKey: Ed25519PublicKey | undefined,
): AuditedEpoch {
  const what = `epoch statement ${index}`;
  const st = strictPayload(EpochStatementSchema, leaf, LogEntryKind.EPOCH, PAYLOAD_TYPES.epoch, what);
  verifyHub(leaf, hubKey, what);
  const e = st.epoch;
  if (e === undefined) malformed(what, "epoch is missing");
  if (st.action !== EpochAction.CREATE && st.action !== EpochAction.ROTATE)
    malformed(what, "action must be CREATE or ROTATE");
  if (!EPOCH_ID_RE.test(e.epochId)) malformed(what, "epoch_id is not 1..64 characters of [A-Za-z0-9._:-]");
  if (e.number < 1n || e.number > BigInt(Number.MAX_SAFE_INTEGER)) malformed(what, "number is out of range");
  const create = st.action === EpochAction.CREATE;
  if (create !== (e.previousEpochId === ""))
    malformed(what, "previous_epoch_id must be empty for CREATE and set for ROTATE");
  if (!create && (!EPOCH_ID_RE.test(e.previousEpochId) || e.previousEpochId === e.epochId))
    malformed(what, "previous_epoch_id is not another valid epoch id");
  if (create && e.number !== 1n) malformed(what, "CREATE must be epoch number 1");
  if (e.notBefore === undefined || e.notAfter === undefined) malformed(what, "validity window is missing");
  const notBeforeMs = Number(timestampMs(e.notBefore));
  const notAfterMs = Number(timestampMs(e.notAfter));
  if (!(notAfterMs > notBeforeMs)) malformed(what, "not_after is not after not_before");
  if (e.batteryDigest.length !== 32) malformed(what, "battery_digest is not 32 bytes");
  if (st.probeCount < 1 || st.probeCount > 4096) malformed(what, "probe_count is not 1..4096");
  const p = st.sketchParameters;
  if (p === undefined) malformed(what, "sketch_parameters is missing");
  if (p.version < 1 || p.version > 255) malformed(what, "sketch_parameters.version is not 1..255");
  for (const [name, v] of Object.entries({
    shingle_size: p.shingleSize,
    probe_rows: p.probeRows,
    probe_rows_per_band: p.probeRowsPerBand,
    probe_digest_bytes: p.probeDigestBytes,
    coarse_bands: p.coarseBands,
    coarse_rows_per_band: p.coarseRowsPerBand,
    coarse_digest_bytes: p.coarseDigestBytes,
    min_agreeing_bands: p.minAgreeingBands,
  })) {
    if (v < 1 || v > 65_536) malformed(what, `sketch_parameters.${name} is not 1..65536`);
  }
  if (p.minAgreeingBands > p.coarseBands) malformed(what, "min_agreeing_bands exceeds coarse_bands");
  if (st.epochKeyCommitment.length !== 32) malformed(what, "epoch_key_commitment is not 32 bytes");
  if (st.issuedAt === undefined) malformed(what, "issued_at is missing");
  return {
    index,
    action: create ? "create" : "rotate",
    epochId: e.epochId,
    number: Number(e.number),
    previousEpochId: create ? undefined : e.previousEpochId,
    notBeforeMs,
    notAfterMs,
    batteryDigest: toHex(e.batteryDigest),
    probeCount: st.probeCount,
    sketchParameters: p,
    epochKeyCommitment: toHex(st.epochKeyCommitment),
    issuedAtMs: Number(timestampMs(st.issuedAt)),
  };
}

/** Reads the sketch suppression logged at `index`, as {@link readEpochStatement} does an epoch. */
export function readSketchSuppression(
  index: number,
  leaf: AuditedLeaf,
  hubKey: Ed25519PublicKey | undefined,
): AuditedSuppression {
  const what = `sketch suppression ${index}`;
  const s = strictPayload(
    SketchSuppressionSchema,
    leaf,
    LogEntryKind.SKETCH_SUPPRESSION,
    PAYLOAD_TYPES.sketchSuppression,
    what,
  );
  verifyHub(leaf, hubKey, what);
  if (!SKETCH_ID_RE.test(s.sketchId)) malformed(what, "sketch_id is not 64 lowercase hex characters");
  const m = s.model;
  if (m === undefined || !MEMBER_ID_RE.test(m.memberId))
    malformed(what, "model.member_id is missing or invalid");
  if (m.modelId.length < 1 || m.modelId.length > 128)
    malformed(what, "model.model_id is not 1..128 characters");
  if (m.modelVersion.length > 64) malformed(what, "model.model_version exceeds 64 characters");
  if (!EPOCH_ID_RE.test(s.epochId)) malformed(what, "epoch_id is not a valid epoch id");
  if (s.reason.trim() === "" || s.reason.length > 1024) malformed(what, "reason is not 1..1024 characters");
  if (s.reviewer.trim() === "" || s.reviewer.length > 128)
    malformed(what, "reviewer is not 1..128 characters");
  if (s.suppressedAt === undefined) malformed(what, "suppressed_at is missing");
  return {
    index,
    sketchId: s.sketchId,
    memberId: m.memberId,
    modelId: m.modelId,
    modelVersion: m.modelVersion,
    epochId: s.epochId,
    reason: s.reason,
    reviewer: s.reviewer,
    suppressedAtMs: Number(timestampMs(s.suppressedAt)),
  };
}

/** What {@link checkEpochLog} found. */
export interface EpochLogReport {
  readonly epochs: readonly AuditedEpoch[];
  readonly suppressions: readonly AuditedSuppression[];
}

/**
 * The epoch and suppression sequence read one entry at a time, in log order (an auditor's walk over the whole
 * log feeds it as entries stream by; {@link checkEpochLog} feeds it a list). It keeps only what the sequence
 * rules need: the epochs by id (few) and the index of each suppressed sketch id. An entry that fails is not
 * applied, so the entries after it are still checked against the sequence as logged before it.
 */
export class EpochSequence {
  readonly #byId = new Map<string, AuditedEpoch>();
  readonly #suppressed = new Map<string, number>();
  #last: AuditedEpoch | undefined;
  #prevIndex = -1;
  #count = 0;

  /** The epochs read so far, in log order. */
  get epochs(): AuditedEpoch[] {
    return [...this.#byId.values()];
  }

  /** How many sketches were suppressed so far. */
  get suppressions(): number {
    return this.#suppressed.size;
  }

  /**
   * Reads and checks the entry at `index` (entries of other kinds are ignored: undefined). `hubKey`: the key
   * that signed the hub's decisions at that position. Throws AuditError: `duplicate_epoch` for an epoch id
   * logged twice, `duplicate_suppression` for a sketch suppressed twice, `wrong_entry` when a number does not
   * rise, a rotation names another epoch than the one logged before it, a second CREATE, or a suppression
   * names an epoch not logged before it while epochs are logged; what {@link readEpochStatement} and
   * {@link readSketchSuppression} throw.
   */
  add(
    index: number,
    leaf: AuditedLeaf,
    hubKey: Ed25519PublicKey | undefined,
  ): AuditedEpoch | AuditedSuppression | undefined {
    if (!Number.isSafeInteger(index) || index <= this.#prevIndex)
      throw new AuditError("malformed", "entries are not in log order");
    this.#prevIndex = index;
    if (leaf.kind !== LogEntryKind.EPOCH && leaf.kind !== LogEntryKind.SKETCH_SUPPRESSION) return undefined;
    if (this.#count >= MAX_EPOCH_RECORDS)
      throw new AuditError("too_large", `more than ${MAX_EPOCH_RECORDS} epoch and suppression entries`);
    this.#count++;
    const last = this.#last;
    if (leaf.kind === LogEntryKind.EPOCH) {
      const ep = readEpochStatement(index, leaf, hubKey);
      const prior = this.#byId.get(ep.epochId);
      if (prior !== undefined)
        throw new AuditError(
          "duplicate_epoch",
          `epoch ${ep.epochId} is logged twice (${prior.index}, ${ep.index})`,
        );
      if (last !== undefined && ep.number <= last.number)
        throw new AuditError(
          "wrong_entry",
          `epoch statement ${ep.index}: number ${ep.number} does not rise above ${last.number} (index ${last.index})`,
        );
      if (ep.action === "rotate" && last !== undefined && ep.previousEpochId !== last.epochId)
        throw new AuditError(
          "wrong_entry",
          `epoch statement ${ep.index}: rotates from ${ep.previousEpochId}, but the epoch logged before is ${last.epochId}`,
        );
      if (ep.action === "create" && last !== undefined)
        throw new AuditError(
          "wrong_entry",
          `epoch statement ${ep.index}: a second CREATE after ${last.epochId}`,
        );
      this.#byId.set(ep.epochId, ep);
      this.#last = ep;
      return ep;
    }
    const s = readSketchSuppression(index, leaf, hubKey);
    const prior = this.#suppressed.get(s.sketchId);
    if (prior !== undefined)
      throw new AuditError(
        "duplicate_suppression",
        `sketch ${s.sketchId} is suppressed twice (${prior}, ${s.index})`,
      );
    if (this.#byId.size > 0 && !this.#byId.has(s.epochId))
      throw new AuditError(
        "wrong_entry",
        `sketch suppression ${s.index} names epoch ${s.epochId}, not logged before it`,
      );
    this.#suppressed.set(s.sketchId, s.index);
    return s;
  }
}

/**
 * Reads and checks every epoch statement and sketch suppression of `entries` (all the log's entries of the
 * two kinds, in log order; others are ignored) with an {@link EpochSequence}, stopping at the first failure.
 * `hubKeyAt(index)`: the key that signed the hub's decisions at that position.
 */
export function checkEpochLog(
  entries: readonly { readonly index: number; readonly leaf: AuditedLeaf }[],
  hubKeyAt: (index: number) => Ed25519PublicKey | undefined,
): EpochLogReport {
  const seq = new EpochSequence();
  const epochs: AuditedEpoch[] = [];
  const suppressions: AuditedSuppression[] = [];
  for (const e of entries) {
    const r = seq.add(
      e.index,
      e.leaf,
      e.leaf.kind === LogEntryKind.EPOCH || e.leaf.kind === LogEntryKind.SKETCH_SUPPRESSION
        ? hubKeyAt(e.index)
        : undefined,
    );
    if (r === undefined) continue;
    if (e.leaf.kind === LogEntryKind.EPOCH) epochs.push(r as AuditedEpoch);
    else suppressions.push(r as AuditedSuppression);
  }
  return { epochs, suppressions };
}

/**
 * The commitment a member checks the key it was handed against (epoch.proto EpochStatement.epoch_key_commitment):
 * SHA-256("lineage-epoch-key/v1" || 0x00 || epoch_id || 0x00 || key), re-implemented here.
 */
export function auditedEpochKeyCommitment(epochId: string, epochKey: Uint8Array): string {
  const enc = new TextEncoder();
  const d = enc.encode("lineage-epoch-key/v1");
  const id = enc.encode(epochId);
  const buf = new Uint8Array(d.length + 2 + id.length + epochKey.length);
  buf.set(d, 0);
  buf.set(id, d.length + 1);
  buf.set(epochKey, d.length + 2 + id.length);
  return toHex(sha256(buf));
}
