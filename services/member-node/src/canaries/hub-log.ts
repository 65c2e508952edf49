/**
 * The member node's view of the hub's transparency log: the Hub RPCs it calls (a seam, so the same code runs
 * on a gRPC client or, in tests, on a real in-process log) and the checks it makes on what comes back. Every
 * answer of the hub is untrusted: a checkpoint counts only once its note verifies under the hub's log key,
 * and an entry only once its leaf bytes decode to the expected envelope and its inclusion proof reaches a
 * verified checkpoint's root.
 */
import { fromBinary } from "@bufbuild/protobuf";
import type { Hub, LogLeaf } from "@lineage/api";
import { LogLeafSchema } from "@lineage/api";
import {
  type Checkpoint,
  type Ed25519PublicKey,
  ed25519NoteVerifier,
  hashLeaf,
  isCryptoError,
  type NoteVerifier,
  openCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from "@lineage/crypto";
import type { ServiceClient } from "@lineage/rpc";
import { MemberNodeError } from "../member-node-error.js";

/** The Hub RPCs a member node calls (a generated gRPC client satisfies it). */
export type HubLogClient = Pick<
  ServiceClient<typeof Hub>,
  | "logCanaryCommitment"
  | "getCheckpoint"
  | "getLogEntries"
  | "getInclusionProof"
  | "getConsistencyProof"
  | "getFirstCoveringCheckpoint"
  | "getAttestationBundle"
>;

/** What the node trusts about the log: its origin and the hub's note verifier (C2SP signed note). */
export interface HubLogTrust {
  readonly origin: string;
  /** The hub's configured root (the log's trust root). */
  readonly verifier: NoteVerifier;
  /**
   * The root rotations the node followed (hub-key-view.ts, checked there as the auditor checks them), in log
   * order: a checkpoint of a tree holding the rotation at index r is signed by its key only, an older one by the
   * root before it (docs/specs/hub-keys.md).
   */
  readonly rotations?: readonly { readonly index: number; readonly key: Ed25519PublicKey }[];
}

/** The extension line of hub checkpoints naming the previous checkpoint's size (transparency_log.proto). */
export const PREVIOUS_SIZE_EXTENSION = "lineage-previous-size";
const PREVIOUS_SIZE_RE = /^lineage-previous-size (0|[1-9][0-9]{0,15})$/;
/** Largest leaf accepted from the hub (transparency_log.proto LogEntry.leaf). */
const MAX_LEAF_BYTES = 1_100_000;

/** Opens a hub checkpoint note (untrusted bytes); `bad_signature` unless the hub's log key signed it. */
export function openHubCheckpoint(note: Uint8Array | undefined, trust: HubLogTrust): Checkpoint {
  if (note === undefined || note.length === 0)
    throw new MemberNodeError("malformed", "the hub sent no checkpoint");
  const log = trust.verifier; // may throw `unavailable` (node-match.ts)
  const spans = [
    { log, from: -1 },
    ...(trust.rotations ?? []).map((r) => ({ log: ed25519NoteVerifier(log.name, r.key), from: r.index })),
  ];
  let first: unknown;
  for (const [i, span] of spans.entries()) {
    let cp: Checkpoint;
    try {
      cp = openCheckpoint(note, { log: span.log, origin: trust.origin }).checkpoint;
    } catch (cause) {
      first ??= cause;
      if (isCryptoError(cause, "unknown_key")) continue;
      first = cause;
      break;
    }
    // The root whose span covers the size, only (the same rule as the auditor's openHubCheckpoint).
    const until = spans[i + 1]?.from;
    if (!(cp.size > span.from && (until === undefined || cp.size <= until)))
      throw new MemberNodeError(
        "bad_signature",
        `a checkpoint from the hub (size ${cp.size}) is signed by a root key not valid for that size`,
      );
    return cp;
  }
  if (isCryptoError(first) && (first.code === "bad_signature" || first.code === "unknown_key"))
    throw new MemberNodeError("bad_signature", "a checkpoint from the hub is not signed by its log key", {
      cause: first,
    });
  throw new MemberNodeError("malformed", "a checkpoint from the hub is not a valid signed note", {
    cause: first,
  });
}

/** The signed "previous size" of a hub checkpoint (`malformed` when absent or repeated). */
export function previousSizeOf(cp: Checkpoint): number {
  const lines = (cp.extensions ?? []).filter((e) => e.startsWith(`${PREVIOUS_SIZE_EXTENSION} `));
  const m = lines.length === 1 ? PREVIOUS_SIZE_RE.exec(lines[0] as string) : null;
  if (m === null || Number(m[1]) >= cp.size)
    throw new MemberNodeError(
      "malformed",
      `a hub checkpoint lacks one valid "${PREVIOUS_SIZE_EXTENSION}" line`,
    );
  return Number(m[1]);
}

/** A log entry whose inclusion in a hub-signed checkpoint was verified. */
export interface VerifiedEntry {
  readonly index: number;
  /** The leaf bytes exactly as hashed. */
  readonly leafBytes: Uint8Array;
  readonly leaf: LogLeaf;
  /** The checkpoint the inclusion was verified against. */
  readonly checkpoint: Checkpoint;
}

function hubFailure(what: string, cause: unknown): MemberNodeError {
  if (cause instanceof MemberNodeError) return cause;
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === "not_found")
    return new MemberNodeError("not_found", `${what}: the hub does not have it`, { cause });
  return new MemberNodeError("unavailable", `${what}: the hub could not be asked`, { cause });
}

/**
 * Fetches entry `index` and proves it is in the log: the leaf bytes, an inclusion proof and the checkpoint it
 * reaches, whose signature is checked. `not_found` when the hub has no such entry (or no checkpoint covers
 * it yet: retry later), `bad_signature`/`malformed` when the hub's answer does not hold together.
 */
export async function verifiedEntry(
  hub: HubLogClient,
  trust: HubLogTrust,
  index: number,
  signal?: AbortSignal,
): Promise<VerifiedEntry> {
  const opts = signal === undefined ? {} : { signal };
  let leafBytes: Uint8Array | undefined;
  try {
    for await (const r of hub.getLogEntries({ start: BigInt(index), end: BigInt(index + 1) }, opts)) {
      if (r.entry === undefined || r.entry.index !== BigInt(index) || leafBytes !== undefined)
        throw new MemberNodeError("malformed", `the hub answered log entry ${index} with another entry`);
      leafBytes = r.entry.leaf;
    }
  } catch (cause) {
    throw hubFailure(`log entry ${index}`, cause);
  }
  if (leafBytes === undefined) throw new MemberNodeError("not_found", `log entry ${index} is not in the log`);
  if (leafBytes.length > MAX_LEAF_BYTES)
    throw new MemberNodeError("malformed", `log entry ${index} is too large`);
  let leaf: LogLeaf;
  try {
    leaf = fromBinary(LogLeafSchema, leafBytes);
  } catch (cause) {
    throw new MemberNodeError("malformed", `log entry ${index} is not an encoded LogLeaf`, { cause });
  }
  let proofRes: Awaited<ReturnType<HubLogClient["getInclusionProof"]>>;
  try {
    proofRes = await hub.getInclusionProof({ leafIndex: BigInt(index), treeSize: 0n }, opts);
  } catch (cause) {
    throw hubFailure(`the inclusion proof of entry ${index}`, cause);
  }
  let checkpoint: Checkpoint;
  if (proofRes.checkpoint !== undefined) {
    checkpoint = openHubCheckpoint(proofRes.checkpoint.signedNote, trust);
  } else {
    let cp: Awaited<ReturnType<HubLogClient["getCheckpoint"]>>;
    try {
      cp = await hub.getCheckpoint({}, opts);
    } catch (cause) {
      throw hubFailure("the latest checkpoint", cause);
    }
    checkpoint = openHubCheckpoint(cp.checkpoint?.signedNote, trust);
  }
  const proof = proofRes.proof;
  if (proof === undefined || proof.leafIndex !== BigInt(index) || proof.treeSize !== BigInt(checkpoint.size))
    throw new MemberNodeError(
      "malformed",
      `the inclusion proof of entry ${index} is not for the checkpoint sent`,
    );
  if (proof.hashes.length > 64)
    throw new MemberNodeError("malformed", "inclusion proof has more than 64 hashes");
  try {
    verifyInclusion(hashLeaf(leafBytes), index, checkpoint.size, proof.hashes, checkpoint.rootHash);
  } catch (cause) {
    throw new MemberNodeError(
      "bad_signature",
      `log entry ${index} is not included in the hub's signed checkpoint`,
      {
        cause,
      },
    );
  }
  return { index, leafBytes, leaf, checkpoint };
}

/** The first hub-signed checkpoint covering leaf `index`, verified to be the first (its signed previous size). */
export async function firstCoveringCheckpoint(
  hub: HubLogClient,
  trust: HubLogTrust,
  index: number,
  signal?: AbortSignal,
  referenceSize = 0,
): Promise<{
  checkpoint: Checkpoint;
  response: Awaited<ReturnType<HubLogClient["getFirstCoveringCheckpoint"]>>;
}> {
  let res: Awaited<ReturnType<HubLogClient["getFirstCoveringCheckpoint"]>>;
  try {
    res = await hub.getFirstCoveringCheckpoint(
      { leafIndex: BigInt(index), referenceSize: BigInt(referenceSize) },
      signal === undefined ? {} : { signal },
    );
  } catch (cause) {
    throw hubFailure(`the first checkpoint covering entry ${index}`, cause);
  }
  const first = res.first;
  if (first?.checkpoint === undefined || first.leafIndex !== BigInt(index))
    throw new MemberNodeError("malformed", `the hub answered for another entry than ${index}`);
  const cp = openHubCheckpoint(first.checkpoint.signedNote, trust);
  const prevSize = previousSizeOf(cp);
  if (cp.size <= index || prevSize > index)
    throw new MemberNodeError(
      "malformed",
      `the checkpoint of size ${cp.size} is not the first covering entry ${index}`,
    );
  // The evidence that it is the first: the checkpoint signed before it (of the size its signed line names)
  // and a consistency proof between the two, so the hub cannot hide an earlier covering checkpoint.
  if (prevSize > 0) {
    const prev = openHubCheckpoint(first.previous?.signedNote, trust);
    if (prev.size !== prevSize)
      throw new MemberNodeError(
        "malformed",
        `the previous checkpoint has size ${prev.size}, not ${prevSize}`,
      );
    try {
      if (first.previousConsistency.length > 64) throw new Error("proof too long");
      verifyConsistency(prev.size, cp.size, first.previousConsistency, prev.rootHash, cp.rootHash);
    } catch (cause) {
      throw new MemberNodeError("malformed", "the checkpoint does not extend the one signed before it", {
        cause,
      });
    }
  }
  return { checkpoint: cp, response: res };
}
