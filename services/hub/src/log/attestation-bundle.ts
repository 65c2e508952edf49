/**
 * Attestation bundles (proto/lineage/v1/attestation_bundle.proto): everything an auditor needs to
 * check one attestation offline — the logged attestation, the membership records of its signing
 * key (addition and any revocation) and the canary commitment it relied on, each with an RFC 9162
 * inclusion proof against one signed checkpoint.
 */
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type AttestationBundle,
  AttestationBundleSchema,
  AttestationStatementSchema,
  LogEntryKind,
  type ProvenEntrySchema,
} from "@lineage/api";
import { LogError } from "./log-error.js";
import { decodeLeaf } from "./log-leaf.js";
import type { StoredEntry } from "./log-store.js";
import type { TransparencyLog } from "./transparency-log.js";

/** Most membership records of one key put in a bundle (the proto's bound). */
export const MAX_BUNDLE_MEMBERSHIP = 64;

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
  const membership = (await log.membershipOfKey(entry.keyId, MAX_BUNDLE_MEMBERSHIP)).filter(
    (m) => m.index < cp.treeSize,
  );
  const statement = fromBinary(AttestationStatementSchema, decodeLeaf(entry.leaf).envelope.payload);
  let commitment: MessageInitShape<typeof ProvenEntrySchema> | undefined;
  const ref = statement.canaryCommitment;
  if (ref !== undefined) {
    const c = await log.entry(Number(ref.logIndex));
    if (c === undefined || c.kind !== LogEntryKind.COMMITMENT) {
      throw new LogError("internal", `attestation ${index} names a commitment that is not logged`);
    }
    commitment = await proven(log, c, cp.treeSize);
  }
  return create(AttestationBundleSchema, {
    attestation: await proven(log, entry, cp.treeSize),
    checkpoint: { signedNote: new TextEncoder().encode(cp.note) },
    membership: await Promise.all(membership.map((m) => proven(log, m, cp.treeSize))),
    ...(commitment === undefined ? {} : { commitment }),
  });
}
