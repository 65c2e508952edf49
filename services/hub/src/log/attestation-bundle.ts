/**
 * Attestation bundles (proto/lineage/v1/attestation_bundle.proto): everything an auditor needs to
 * check one attestation offline — the logged attestation, the membership records that establish its
 * signing key (see {@link bundleMembership}: the key's own records, the chain of keys that authorised
 * it back to the member's enrolment, and the member's status changes) and, for a version-2 statement, the session it answers, the suspect's
 * first sighting and every commitment the session binds (canary pairs, watermark key, reference
 * fingerprint), each with an RFC 9162 inclusion proof against one signed checkpoint, and the signed
 * checkpoint the session's seed was derived from with a consistency proof to that checkpoint.
 */
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type AttestationBundle,
  AttestationBundleSchema,
  AttestationStatementSchema,
  LogEntryKind,
  MembershipAction,
  type MembershipRecord,
  MembershipRecordSchema,
  type ProvenEntrySchema,
  SessionOpenedSchema,
} from "@lineage/api";
import { LogError } from "./log-error.js";
import { decodeLeaf } from "./log-leaf.js";
import type { StoredEntry } from "./log-store.js";
import type { TransparencyLog } from "./transparency-log.js";

/** Most membership records of one key put in a bundle (the proto's bound). */
export const MAX_BUNDLE_MEMBERSHIP = 64;

/** Entries read per page when looking for a member's status changes (SUSPEND / REINSTATE / REMOVE). */
const STATUS_SCAN_PAGE = 512;

const KEY_ID_RE = /^[0-9a-f]{64}$/;

/** Most hub key statements put in a bundle (the proto's bound). */
export const MAX_BUNDLE_HUB_KEYS = 64;

/**
 * Every hub key statement logged below `treeSize`, proven (docs/specs/hub-keys.md): the auditor replays them
 * over its trusted root to know which key signed each purpose where. More than the bound: `failed_precondition`
 * (an auditor then reads them from the log with --hub).
 */
async function bundleHubKeys(
  log: TransparencyLog,
  treeSize: number,
): Promise<Array<MessageInitShape<typeof ProvenEntrySchema>>> {
  const indexes = log.hubKeyStatementIndexes.filter((i) => i < treeSize);
  if (indexes.length > MAX_BUNDLE_HUB_KEYS)
    throw new LogError(
      "failed_precondition",
      `the log holds ${indexes.length} hub key statements, more than a bundle carries (${MAX_BUNDLE_HUB_KEYS})`,
    );
  const out: Array<MessageInitShape<typeof ProvenEntrySchema>> = [];
  for (const i of indexes) {
    const e = await log.entry(i);
    if (e === undefined || e.kind !== LogEntryKind.HUB_KEY)
      throw new LogError("internal", `hub key statement ${i} is not logged`);
    out.push(await proven(log, e, treeSize));
  }
  return out;
}

/** Which attestation. */
export type BundleSelector = { readonly logIndex: number } | { readonly sessionId: string };

async function proven(
  log: TransparencyLog,
  entry: StoredEntry,
  treeSize: number,
): Promise<MessageInitShape<typeof ProvenEntrySchema>> {
  const hashes = await log.inclusionProof(entry.index, treeSize);
  return {
    entry: { index: BigInt(entry.index), leaf: entry.leaf },
    inclusionProof: { leafIndex: BigInt(entry.index), treeSize: BigInt(treeSize), hashes },
  };
}

/**
 * Builds the bundle of one attestation against the latest checkpoint. Fails with `not_found`
 * (no such index or session), `invalid_argument` (the entry is not an attestation) or
 * `unavailable` with a retry hint when the attestation is not yet covered by a checkpoint.
 */
export async function buildAttestationBundle(
  log: TransparencyLog,
  selector: BundleSelector,
  retryAfterMs = 1000,
): Promise<AttestationBundle> {
  let index: number;
  if ("logIndex" in selector) {
    index = selector.logIndex;
  } else {
    const found = await log.attestationOfSession(selector.sessionId);
    if (found === undefined) throw new LogError("not_found", "no attestation is logged for that session");
    index = found;
  }
  const entry = index < log.size ? await log.entry(index) : undefined;
  if (entry === undefined) throw new LogError("not_found", `no entry at index ${index}`);
  if (entry.kind !== LogEntryKind.ATTESTATION) {
    throw new LogError("invalid_argument", `entry ${index} is not an attestation`);
  }
  const cp = log.latestCheckpoint;
  if (cp === undefined || cp.treeSize <= index) {
    throw new LogError("unavailable", `entry ${index} is not yet covered by a signed checkpoint`, {
      retryAfterMs,
    });
  }
  if (entry.keyId === null)
    throw new LogError("internal", `attestation ${index} has no signing key recorded`);
  const membership = await bundleMembership(log, entry.keyId, cp.treeSize);
  const hubKeys = await bundleHubKeys(log, cp.treeSize);
  const statement = fromBinary(AttestationStatementSchema, decodeLeaf(entry.leaf).envelope.payload);
  const at = (what: string, i: bigint | number, kind: LogEntryKind) =>
    provenAt(log, index, what, Number(i), kind, cp.treeSize);
  if (statement.version !== 2 || statement.bound === undefined) {
    // A version-1 statement logged before protocol v2: the attestation, its key and its canary commitment.
    const ref = statement.canaryCommitment;
    return create(AttestationBundleSchema, {
      attestation: await proven(log, entry, cp.treeSize),
      checkpoint: { signedNote: new TextEncoder().encode(cp.note) },
      membership: await Promise.all(membership.map((m) => proven(log, m, cp.treeSize))),
      hubKeys,
      ...(ref === undefined
        ? {}
        : { commitment: await at("canary commitment", ref.logIndex, LogEntryKind.COMMITMENT) }),
    });
  }
  // Version 2: the session it answers and everything the session binds, each proven against `cp`.
  const sessionEntry = await log.entry(Number(statement.bound.sessionIndex));
  if (sessionEntry === undefined || sessionEntry.kind !== LogEntryKind.SESSION)
    throw new LogError("internal", `attestation ${index} names a session that is not logged`);
  const opened = fromBinary(SessionOpenedSchema, decodeLeaf(sessionEntry.leaf).envelope.payload);
  return create(AttestationBundleSchema, {
    attestation: await proven(log, entry, cp.treeSize),
    checkpoint: { signedNote: new TextEncoder().encode(cp.note) },
    membership: await Promise.all(membership.map((m) => proven(log, m, cp.treeSize))),
    hubKeys,
    ...(opened.canaryCommitment === undefined
      ? {}
      : {
          commitment: await at(
            "canary commitment",
            opened.canaryCommitment.logIndex,
            LogEntryKind.COMMITMENT,
          ),
        }),
    session: await proven(log, sessionEntry, cp.treeSize),
    sighting: await at("sighting", opened.firstSeenIndex, LogEntryKind.SUSPECT_SIGHTING),
    ...(opened.watermarkCommitment === undefined
      ? {}
      : {
          watermarkCommitment: await at(
            "watermark commitment",
            opened.watermarkCommitment.logIndex,
            LogEntryKind.COMMITMENT,
          ),
        }),
    referenceFingerprint: await at(
      "reference fingerprint commitment",
      opened.referenceFingerprintIndex,
      LogEntryKind.COMMITMENT,
    ),
    ...(await seedCheckpoint(log, index, Number(opened.seedCheckpointSize), cp.treeSize)),
  });
}

/**
 * The hub-signed checkpoint the session's seed was derived from (tree size `size`) and a consistency proof
 * from it to the bundle's checkpoint, so an auditor recomputes the seed offline. The hub signs at most one
 * checkpoint per tree size, so the first checkpoint covering leaf `size - 1` is the one of size `size`
 * exactly; `internal` when the log holds none (the session could not have been admitted).
 */
async function seedCheckpoint(
  log: TransparencyLog,
  attestationIndex: number,
  size: number,
  bundleTreeSize: number,
): Promise<{ seedCheckpoint: { signedNote: Uint8Array }; seedCheckpointConsistency: Uint8Array[] }> {
  const missing = () =>
    new LogError(
      "internal",
      `attestation ${attestationIndex} answers a session whose seed checkpoint (size ${size}) is not signed`,
    );
  if (!Number.isSafeInteger(size) || size < 1 || size > bundleTreeSize) throw missing();
  let first: Awaited<ReturnType<TransparencyLog["firstCoveringCheckpoint"]>>;
  try {
    first = await log.firstCoveringCheckpoint(size - 1);
  } catch (cause) {
    if (cause instanceof LogError && cause.code === "not_found") throw missing();
    throw cause;
  }
  if (first.checkpoint.treeSize !== size) throw missing();
  return {
    seedCheckpoint: { signedNote: new TextEncoder().encode(first.checkpoint.note) },
    seedCheckpointConsistency: await log.consistencyProof(size, bundleTreeSize),
  };
}

/** The entry at `i` of the expected kind, proven against `treeSize`; `internal` when the log lacks it. */
async function provenAt(
  log: TransparencyLog,
  attestationIndex: number,
  what: string,
  i: number,
  kind: LogEntryKind,
  treeSize: number,
): Promise<MessageInitShape<typeof ProvenEntrySchema>> {
  const e = i < log.size ? await log.entry(i) : undefined;
  if (e === undefined || e.kind !== kind)
    throw new LogError(
      "internal",
      `attestation ${attestationIndex} names a ${what} that is not logged at ${i}`,
    );
  return proven(log, e, treeSize);
}

function membershipRecordOf(e: StoredEntry): MembershipRecord {
  return fromBinary(MembershipRecordSchema, decodeLeaf(e.leaf).envelope.payload);
}

/**
 * The membership records a bundle carries for the key `keyId`, all logged below `treeSize`, in log order,
 * at most {@link MAX_BUNDLE_MEMBERSHIP}. An auditor replays them offline (services/auditor verify-bundle.ts)
 * and accepts an ADD_KEY only when the key named by its `authorized_by_key_id` is established by an earlier
 * record, so the records of a rotated key alone fail as `membership_unauthorized`. Hence:
 *
 *  1. required: every record of the keys reached by following `authorized_by_key_id` from the signing key
 *     back to the ENROL (each key's addition and any revocation, and the keys that authorised those);
 *  2. then the member's status changes (SUSPEND / REINSTATE / REMOVE), so an offline auditor sees a
 *     suspension that covers the attestation;
 *  3. within the proto's bound: the additions on the signing key's chain must fit (`too_large` otherwise:
 *     an offline verification could not succeed); revocations and status changes are kept before any other.
 *
 * Offline, an auditor still cannot exclude records the hub left out; `lineage audit verify --hub` reads the
 * member's whole history from the log instead.
 */
export async function bundleMembership(
  log: TransparencyLog,
  keyId: string,
  treeSize: number,
): Promise<StoredEntry[]> {
  const found = new Map<number, { entry: StoredEntry; record: MembershipRecord }>();
  const addedBy = new Map<string, number>(); // key id -> index of the record that added it
  const seen = new Set<string>();
  const queue = [keyId];
  while (queue.length > 0) {
    const k = queue.shift() as string;
    if (seen.has(k)) continue;
    seen.add(k);
    for (const e of await log.membershipOfKey(k, MAX_BUNDLE_MEMBERSHIP)) {
      if (e.index >= treeSize || found.has(e.index)) continue;
      const record = membershipRecordOf(e);
      found.set(e.index, { entry: e, record });
      const adds = record.action === MembershipAction.ENROL || record.action === MembershipAction.ADD_KEY;
      if (adds && record.key !== undefined) addedBy.set(record.key.keyId, e.index);
      if (KEY_ID_RE.test(record.authorizedByKeyId)) queue.push(record.authorizedByKeyId);
    }
    if (seen.size > MAX_BUNDLE_MEMBERSHIP)
      throw new LogError("too_large", `key ${keyId} has more than ${MAX_BUNDLE_MEMBERSHIP} authorising keys`);
  }
  // The additions on the signing key's own chain: without them the key cannot be established offline.
  const required = new Set<number>();
  let memberId: string | undefined;
  let enrolIndex: number | undefined;
  for (let k: string | undefined = keyId; k !== undefined; ) {
    const at = addedBy.get(k);
    if (at === undefined || required.has(at)) break;
    required.add(at);
    const rec = (found.get(at) as { record: MembershipRecord }).record;
    memberId = rec.memberId;
    if (rec.action === MembershipAction.ENROL) {
      enrolIndex = at;
      break;
    }
    k = KEY_ID_RE.test(rec.authorizedByKeyId) ? rec.authorizedByKeyId : undefined;
  }
  if (required.size > MAX_BUNDLE_MEMBERSHIP)
    throw new LogError(
      "too_large",
      `the chain of keys authorising ${keyId} has more than ${MAX_BUNDLE_MEMBERSHIP} records`,
    );
  const statuses =
    memberId === undefined || enrolIndex === undefined
      ? []
      : await statusChanges(log, memberId, enrolIndex + 1, treeSize);
  const signingKeyRecords = [...found.values()].filter((f) => f.record.key?.keyId === keyId);
  const rest = [...found.values()].filter((f) => !required.has(f.entry.index));
  const byIndex = (a: StoredEntry, b: StoredEntry) => a.index - b.index;
  const ordered = [
    ...signingKeyRecords.map((f) => f.entry),
    ...statuses,
    ...rest.map((f) => f.entry).sort(byIndex),
  ];
  const out = new Map<number, StoredEntry>();
  for (const i of required) out.set(i, (found.get(i) as { entry: StoredEntry }).entry);
  for (const e of ordered) {
    if (out.size >= MAX_BUNDLE_MEMBERSHIP) break;
    out.set(e.index, e);
  }
  return [...out.values()].sort(byIndex);
}

/**
 * The member's SUSPEND / REINSTATE / REMOVE records in [from, to), newest kept when there are more than the
 * bound. These carry no key id, so they are selected by member (TransparencyLog.membershipDecisionsOf).
 */
async function statusChanges(
  log: TransparencyLog,
  memberId: string,
  from: number,
  to: number,
): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  for (let start = from; start < to; ) {
    const page = await log.membershipDecisionsOf(memberId, start, to, STATUS_SCAN_PAGE);
    for (const e of page) {
      const a = membershipRecordOf(e).action;
      if (a === MembershipAction.SUSPEND || a === MembershipAction.REINSTATE || a === MembershipAction.REMOVE)
        out.push(e);
    }
    if (page.length < STATUS_SCAN_PAGE) break;
    start = (page[page.length - 1] as StoredEntry).index + 1;
  }
  return out.slice(-MAX_BUNDLE_MEMBERSHIP);
}
