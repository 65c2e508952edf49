/**
 * Epochs in the transparency log (issue 10): the EpochStatement of an epoch record (battery digest, probe
 * count, sketch parameters, a commitment to the key — never the key), and the rule that an epoch is handed to
 * members only once its statement is logged (epoch-handlers.ts asks {@link ensureEpochLogged} before every
 * GetEpochBattery answer; EpochStore logs it before storing a new epoch when it has the log).
 */
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EpochAction,
  EpochStatementSchema,
  type LogEntry,
  LogEntryKind,
  LogEntrySchema,
  LogLeafSchema,
} from "@lineage/api";
import { bytesEqual } from "@lineage/crypto";
import { HubError } from "../ingest/hub-error.js";
import { currentSketchParameters, epochKeyCommitment } from "../log/epoch-statement.js";
import { isLogError } from "../log/log-error.js";
import type { TransparencyLog } from "../log/transparency-log.js";
import type { EpochRecord } from "./epoch-store.js";

/** What epochs need of the log. */
export type EpochLog = Pick<TransparencyLog, "appendEpoch" | "epochEntryOf" | "refresh" | "entry">;

/** The statement logged for `record` (CREATE for epoch number 1, ROTATE after). */
export function epochStatementOf(
  record: EpochRecord,
  issuedAtMs: number,
): MessageInitShape<typeof EpochStatementSchema> {
  return {
    action: record.previousEpochId === undefined ? EpochAction.CREATE : EpochAction.ROTATE,
    epoch: {
      epochId: record.epochId,
      number: BigInt(record.number),
      notBefore: timestampFromMs(record.notBeforeMs),
      notAfter: timestampFromMs(record.notAfterMs),
      batteryDigest: record.batteryDigest,
      previousEpochId: record.previousEpochId ?? "",
    },
    probeCount: record.probeCount,
    sketchParameters: currentSketchParameters(),
    epochKeyCommitment: epochKeyCommitment(record.epochId, record.epochKey),
    issuedAt: timestampFromMs(issuedAtMs),
  };
}

function hubErrorOf(err: unknown): never {
  if (isLogError(err)) {
    const code =
      err.code === "already_exists" || err.code === "failed_precondition" || err.code === "invalid_argument"
        ? err.code
        : "unavailable";
    throw new HubError(code, `the epoch could not be logged: ${err.message}`, { cause: err });
  }
  throw err;
}

/**
 * Logs the statement of a new epoch (CREATE/ROTATE) before it is stored. Any refusal is an error with the log's
 * code: an id logged before is `already_exists` (its statement cannot name this record's fresh key).
 */
export async function logNewEpoch(log: EpochLog, record: EpochRecord, nowMs: number): Promise<number> {
  try {
    return (await log.appendEpoch(epochStatementOf(record, nowMs))).index;
  } catch (err) {
    hubErrorOf(err);
  }
}

/**
 * The log entry of `record`'s statement, logging it first when it is not logged yet (an epoch stored before
 * epochs were logged, or by a process without the log). Checks the logged statement names this record's
 * battery digest, probe count and key: a statement that disagrees is `failed_precondition`, and the battery is
 * not handed out.
 */
export async function ensureEpochLogged(
  log: EpochLog,
  record: EpochRecord,
  nowMs: number,
): Promise<LogEntry> {
  let index = log.epochEntryOf(record.epochId);
  if (index === undefined) {
    await log.refresh();
    index = log.epochEntryOf(record.epochId);
  }
  if (index === undefined) {
    try {
      index = (await log.appendEpoch(epochStatementOf(record, nowMs))).index;
    } catch (err) {
      // Another replica logged it first: use its entry (checked below like any other).
      if (!isLogError(err, "already_exists")) hubErrorOf(err);
      await log.refresh();
      index = log.epochEntryOf(record.epochId);
      if (index === undefined) hubErrorOf(err);
    }
  }
  const stored = await log.entry(index);
  if (stored === undefined) throw new HubError("unavailable", `log entry ${index} could not be read`);
  const leaf = fromBinary(LogLeafSchema, stored.leaf);
  const st =
    leaf.kind === LogEntryKind.EPOCH && leaf.envelope !== undefined
      ? fromBinary(EpochStatementSchema, leaf.envelope.payload)
      : undefined;
  if (
    st?.epoch === undefined ||
    st.epoch.epochId !== record.epochId ||
    Number(st.epoch.number) !== record.number ||
    st.probeCount !== record.probeCount ||
    !bytesEqual(st.epoch.batteryDigest, record.batteryDigest) ||
    !bytesEqual(st.epochKeyCommitment, epochKeyCommitment(record.epochId, record.epochKey))
  ) {
    throw new HubError(
      "failed_precondition",
      `the log's statement of epoch ${record.epochId} (index ${index}) does not match the stored epoch`,
    );
  }
  return create(LogEntrySchema, { index: BigInt(index), leaf: stored.leaf });
}
