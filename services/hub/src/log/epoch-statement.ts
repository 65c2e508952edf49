/**
 * The hub's epoch and sketch-suppression statements in the log (issue 10; proto/lineage/v1/epoch.proto
 * EpochStatement, sketch.proto SketchSuppression; transparency_log.proto LOG_ENTRY_KIND_EPOCH = 9 and
 * LOG_ENTRY_KIND_SKETCH_SUPPRESSION = 10). An epoch is logged before its battery is handed to any member,
 * naming the battery by its digest and the key by a commitment, so a member can check what it is handed and
 * an auditor can see every epoch the alliance ran and when. Both are signed by the hub's membership purpose
 * key (the secretariat's decisions, like review decisions). These checks run on everything the log appends
 * of the two kinds, including envelopes another replica signed (untrusted until checked).
 */
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  EpochAction,
  type EpochStatement,
  type SketchParameters,
  SketchParametersSchema,
  type SketchSuppression,
} from "@lineage/api";
import { sha256 } from "@lineage/crypto";
import {
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  COARSE_ROWS_PER_BAND,
  EPOCH_KEY_BYTES,
  LSH_V1,
  PROBE_DIGEST_BYTES,
  PROBE_ROWS,
  PROBE_ROWS_PER_BAND,
  SHINGLE_SIZE,
  SKETCH_VERSION,
} from "@lineage/fingerprint";
import { LogError } from "./log-error.js";

/** Domain of the epoch key commitment (epoch.proto EpochStatement.epoch_key_commitment). */
export const EPOCH_KEY_COMMITMENT_DOMAIN = "lineage-epoch-key/v1";

const EPOCH_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const MEMBER_ID_RE = /^[\x21-\x7e]{1,64}$/;
const SKETCH_ID_RE = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();

/**
 * SHA-256("lineage-epoch-key/v1" || 0x00 || epoch_id || 0x00 || key): what the log holds instead of the key.
 * The key is 32 random bytes, so the commitment reveals nothing testable; the epoch id binds it to one epoch.
 */
export function epochKeyCommitment(epochId: string, epochKey: Uint8Array): Uint8Array {
  if (!EPOCH_ID_RE.test(epochId)) throw new LogError("invalid_argument", "epochId is not a valid epoch id");
  if (epochKey.length !== EPOCH_KEY_BYTES)
    throw new LogError("invalid_argument", `epochKey must be ${EPOCH_KEY_BYTES} bytes`);
  const d = encoder.encode(EPOCH_KEY_COMMITMENT_DOMAIN);
  const id = encoder.encode(epochId);
  const buf = new Uint8Array(d.length + 1 + id.length + 1 + epochKey.length);
  buf.set(d, 0);
  buf.set(id, d.length + 1);
  buf.set(epochKey, d.length + 2 + id.length);
  return sha256(buf);
}

/** The sketch definition this hub builds and retrieves with (libs/fingerprint), as logged with each epoch. */
export function currentSketchParameters(): SketchParameters {
  return create(SketchParametersSchema, {
    version: SKETCH_VERSION,
    shingleSize: SHINGLE_SIZE,
    probeRows: PROBE_ROWS,
    probeRowsPerBand: PROBE_ROWS_PER_BAND,
    probeDigestBytes: PROBE_DIGEST_BYTES,
    coarseBands: COARSE_BANDS,
    coarseRowsPerBand: COARSE_ROWS_PER_BAND,
    coarseDigestBytes: COARSE_DIGEST_BYTES,
    minAgreeingBands: LSH_V1.minAgreeingBands,
  });
}

function bad(message: string): never {
  throw new LogError("invalid_argument", message);
}

/** Checks an epoch statement's fields (an envelope's payload is attacker-controlled until this passes). */
export function checkEpochStatement(st: EpochStatement): void {
  if (st.action !== EpochAction.CREATE && st.action !== EpochAction.ROTATE)
    bad("epoch statement action must be CREATE or ROTATE");
  const e = st.epoch;
  if (e === undefined) bad("epoch statement epoch is missing");
  if (!EPOCH_ID_RE.test(e.epochId))
    bad("epoch statement epoch_id must be 1..64 characters of [A-Za-z0-9._:-]");
  if (e.number < 1n || e.number > BigInt(Number.MAX_SAFE_INTEGER))
    bad("epoch statement number must be 1..2^53-1");
  if (e.notBefore === undefined || e.notAfter === undefined) bad("epoch statement window is missing");
  if (timestampMs(e.notAfter) <= timestampMs(e.notBefore))
    bad("epoch statement not_after must be after not_before");
  if (e.batteryDigest.length !== 32) bad("epoch statement battery_digest must be 32 bytes");
  const first = st.action === EpochAction.CREATE;
  if (first !== (e.previousEpochId === ""))
    bad("epoch statement previous_epoch_id must be empty for CREATE and set for ROTATE");
  if (!first && !EPOCH_ID_RE.test(e.previousEpochId))
    bad("epoch statement previous_epoch_id is not a valid epoch id");
  if (e.previousEpochId === e.epochId) bad("epoch statement previous_epoch_id is the epoch itself");
  if (first && e.number !== 1n) bad("epoch statement CREATE must be epoch number 1");
  if (st.probeCount < 1 || st.probeCount > 4096) bad("epoch statement probe_count must be 1..4096");
  const p = st.sketchParameters;
  if (p === undefined) bad("epoch statement sketch_parameters is missing");
  if (p.version < 1 || p.version > 255) bad("epoch statement sketch_parameters.version must be 1..255");
  for (const [name, v] of [
    ["shingle_size", p.shingleSize],
    ["probe_rows", p.probeRows],
    ["probe_rows_per_band", p.probeRowsPerBand],
    ["probe_digest_bytes", p.probeDigestBytes],
    ["coarse_bands", p.coarseBands],
    ["coarse_rows_per_band", p.coarseRowsPerBand],
    ["coarse_digest_bytes", p.coarseDigestBytes],
    ["min_agreeing_bands", p.minAgreeingBands],
  ] as const) {
    if (v < 1 || v > 65_536) bad(`epoch statement sketch_parameters.${name} must be 1..65536`);
  }
  if (p.minAgreeingBands > p.coarseBands)
    bad("epoch statement sketch_parameters.min_agreeing_bands exceeds coarse_bands");
  if (st.epochKeyCommitment.length !== 32) bad("epoch statement epoch_key_commitment must be 32 bytes");
  if (st.issuedAt === undefined) bad("epoch statement issued_at is missing");
}

/** Checks a sketch suppression's fields (attacker-controlled until this passes). */
export function checkSketchSuppression(s: SketchSuppression): void {
  if (!SKETCH_ID_RE.test(s.sketchId)) bad("suppression sketch_id must be 64 lowercase hex characters");
  const m = s.model;
  if (m === undefined) bad("suppression model is missing");
  if (!MEMBER_ID_RE.test(m.memberId)) bad("suppression model.member_id must be 1..64 printable characters");
  if (m.modelId.length < 1 || m.modelId.length > 128)
    bad("suppression model.model_id must be 1..128 characters");
  if (m.modelVersion.length > 64) bad("suppression model.model_version must be at most 64 characters");
  if (!EPOCH_ID_RE.test(s.epochId)) bad("suppression epoch_id must be 1..64 characters of [A-Za-z0-9._:-]");
  if (s.reason.trim().length < 1 || s.reason.length > 1024)
    bad("suppression reason must be 1..1024 characters");
  if (s.reviewer.trim().length < 1 || s.reviewer.length > 128)
    bad("suppression reviewer must be 1..128 characters");
  if (s.suppressedAt === undefined) bad("suppression suppressed_at is missing");
}
