/**
 * The member's check of the battery the hub hands it against the epoch's log entry (issue 10;
 * epoch.proto EpochStatement, transparency_log.proto LOG_ENTRY_KIND_EPOCH): GetEpochBattery carries the entry
 * the hub logged before handing the epoch out, and the node refuses a battery whose probes do not hash to the
 * logged battery digest, whose probe count or epoch differ, whose key does not open the logged key commitment,
 * or whose sketch parameters are not the ones this node builds. So the hub cannot hand one member a battery or
 * key other than the one every auditor sees logged. The entry's inclusion in a signed checkpoint can be proved
 * with Hub.GetInclusionProof (the response is hub-signed, covering the entry). Attacker-controlled until checked.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  EpochBatterySchema,
  type EpochStatement,
  EpochStatementSchema,
  type GetEpochBatteryResponse,
  LogEntryKind,
  LogLeafSchema,
} from "@lineage/api";
import { bytesEqual, sha256 } from "@lineage/crypto";
import {
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  COARSE_ROWS_PER_BAND,
  PROBE_DIGEST_BYTES,
  PROBE_ROWS,
  PROBE_ROWS_PER_BAND,
  SHINGLE_SIZE,
  SKETCH_VERSIONS,
} from "@lineage/fingerprint";
import { MemberNodeError } from "../member-node-error.js";

/** Payload type of an epoch statement (dsse.proto). */
export const EPOCH_STATEMENT_PAYLOAD_TYPE = "application/vnd.lineage.epoch.v1+proto";
const MAX_LEAF_BYTES = 64 * 1024;
const MAX_STATEMENT_BYTES = 8 * 1024;

function refused(message: string): never {
  throw new MemberNodeError("malformed", `GetEpochBattery response: ${message}`);
}

/** SHA-256("lineage-epoch-key/v1" || 0x00 || epoch_id || 0x00 || key): the logged commitment to the key. */
export function epochKeyCommitmentOf(epochId: string, epochKey: Uint8Array): Uint8Array {
  const enc = new TextEncoder();
  const d = enc.encode("lineage-epoch-key/v1");
  const id = enc.encode(epochId);
  const buf = new Uint8Array(d.length + 2 + id.length + epochKey.length);
  buf.set(d, 0);
  buf.set(id, d.length + 1);
  buf.set(epochKey, d.length + 2 + id.length);
  return sha256(buf);
}

function hasUnknown(v: unknown, depth = 0): boolean {
  if (depth > 8 || v === null || typeof v !== "object" || v instanceof Uint8Array) return false;
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.$unknown) && o.$unknown.length > 0) return true;
  return Object.entries(o).some(([k, x]) => k !== "$unknown" && hasUnknown(x, depth + 1));
}

/**
 * Checks `res` (its hub signature already verified) against its epoch entry; returns the logged statement.
 * @throws MemberNodeError `malformed` naming what disagrees.
 */
export function checkEpochEntry(res: GetEpochBatteryResponse): EpochStatement {
  const entry = res.epochEntry;
  if (entry === undefined) refused("no epoch_entry: the hub did not show the epoch's log entry");
  if (entry.leaf.length === 0 || entry.leaf.length > MAX_LEAF_BYTES)
    refused(`epoch_entry.leaf must be 1..${MAX_LEAF_BYTES} bytes`);
  let st: EpochStatement;
  try {
    const leaf = fromBinary(LogLeafSchema, entry.leaf);
    if (leaf.kind !== LogEntryKind.EPOCH || leaf.envelope?.payloadType !== EPOCH_STATEMENT_PAYLOAD_TYPE)
      refused("epoch_entry is not an epoch statement");
    if (leaf.envelope.payload.length > MAX_STATEMENT_BYTES) refused("epoch_entry statement is too large");
    st = fromBinary(EpochStatementSchema, leaf.envelope.payload);
  } catch (cause) {
    if (cause instanceof MemberNodeError) throw cause;
    throw new MemberNodeError("malformed", "GetEpochBattery response: epoch_entry does not decode", {
      cause,
    });
  }
  if (hasUnknown(st)) refused("epoch_entry statement carries unknown fields");
  const b = res.battery;
  const e = st.epoch;
  if (b?.epoch === undefined || e === undefined) refused("no epoch in the battery or its statement");
  if (e.epochId !== b.epoch.epochId || e.number !== b.epoch.number)
    refused(`the battery's epoch ${b.epoch.epochId} is not the logged epoch ${e.epochId}`);
  if (st.probeCount !== b.probes.length)
    refused(`the battery holds ${b.probes.length} probes; the log says ${st.probeCount}`);
  const digest = sha256(toBinary(EpochBatterySchema, create(EpochBatterySchema, { probes: b.probes })));
  if (!bytesEqual(digest, e.batteryDigest))
    refused("the battery's probes do not hash to the logged battery digest");
  if (!bytesEqual(epochKeyCommitmentOf(e.epochId, res.epochKey), st.epochKeyCommitment))
    refused("the epoch key does not match the logged key commitment");
  const p = st.sketchParameters;
  const mine = [
    SHINGLE_SIZE,
    PROBE_ROWS,
    PROBE_ROWS_PER_BAND,
    PROBE_DIGEST_BYTES,
    COARSE_BANDS,
    COARSE_ROWS_PER_BAND,
    COARSE_DIGEST_BYTES,
  ];
  if (
    p === undefined ||
    !(SKETCH_VERSIONS as readonly number[]).includes(p.version) ||
    [
      p.shingleSize,
      p.probeRows,
      p.probeRowsPerBand,
      p.probeDigestBytes,
      p.coarseBands,
      p.coarseRowsPerBand,
      p.coarseDigestBytes,
    ].some((v, i) => v !== mine[i])
  )
    refused("the logged sketch parameters are not the ones this node builds");
  return st;
}
