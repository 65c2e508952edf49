/**
 * Opening log entries: a bundle's (attestation_bundle.proto ProvenEntry) are first proven against the bundle's
 * checkpoint ({@link checkProven}); a walk over the log establishes its entries itself (log-walk.ts). Either way
 * an entry is then decoded and its envelope verified under the key that must have signed it — the hub's key of
 * the entry's purpose for entries the hub writes (sessions, sightings), a member key established by the logged
 * membership records for entries a member writes (commitments). Everything here is attacker-controlled input.
 */
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { LogEntryKind, type ProvenEntry } from "@lineage/api";
import { type Checkpoint, hashLeaf, KeyRing, verifyEnvelope, verifyInclusion } from "@lineage/crypto";
import { AuditError, type CheckList } from "./audit-error.js";
import type { HubKeyHistory, HubPurpose } from "./hub-key-history.js";
import {
  AUDIT_DSSE_LIMITS,
  type AuditedKey,
  type AuditedLeaf,
  decodeAuditedLeaf,
  keyValidity,
  requiredMs,
} from "./log-records.js";

/** A safe integer from a uint64 field, `malformed` beyond 2^53. */
export function toIndex(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new AuditError("malformed", `${what} is too large`);
  return Number(v);
}

/** Checks that a proven entry is in the checkpoint; returns its decoded leaf and index. */
export function checkProven(
  c: CheckList,
  name: string,
  pe: ProvenEntry | undefined,
  cp: Checkpoint,
): { index: number; leaf: AuditedLeaf } {
  return c.run(`${name}.inclusion`, "bad_proof", () => {
    if (pe?.entry === undefined || pe.inclusionProof === undefined) {
      throw new AuditError("malformed", "entry or inclusion proof is missing");
    }
    const index = toIndex(pe.entry.index, "entry index");
    const proof = pe.inclusionProof;
    if (toIndex(proof.leafIndex, "proof leaf_index") !== index) {
      throw new AuditError("wrong_entry", "the proof is for another index than the entry");
    }
    if (toIndex(proof.treeSize, "proof tree_size") !== cp.size) {
      throw new AuditError("wrong_entry", "the proof is not against the bundle's checkpoint");
    }
    if (proof.hashes.length > 64)
      throw new AuditError("too_large", "inclusion proof has more than 64 hashes");
    const leaf = decodeAuditedLeaf(pe.entry.leaf, `${name} leaf`);
    try {
      verifyInclusion(hashLeaf(pe.entry.leaf), index, cp.size, proof.hashes, cp.rootHash);
    } catch (cause) {
      throw new AuditError("bad_proof", "the entry is not in the signed checkpoint's tree", { cause });
    }
    return { index, leaf };
  });
}

/** Verifies an envelope's signatures by `required` key ids of `ring`, mapping crypto codes to audit codes. */
export function verifySigs(env: AuditedLeaf["envelope"], ring: KeyRing, required: string[]): void {
  try {
    verifyEnvelope(env, { keys: ring, requiredKeyIds: required, limits: AUDIT_DSSE_LIMITS });
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    throw new AuditError(
      code === "unknown_key"
        ? "unknown_key"
        : code === "malformed" || code === "too_large"
          ? code
          : "bad_signature",
      (cause as Error).message,
      { cause },
    );
  }
}

/** Decodes a verified payload; `malformed` when it is not a `schema` message. */
export function decodePayload<S extends DescMessage>(
  schema: S,
  payload: Uint8Array,
  what: string,
): MessageShape<S> {
  try {
    return fromBinary(schema, payload);
  } catch (cause) {
    throw new AuditError("malformed", `payload is not a ${what}`, { cause });
  }
}

/** An opened entry. */
export interface OpenedEntry<T> {
  readonly index: number;
  readonly body: T;
}

/** A log entry at a known position, decoded (from a bundle's proven entry, or read from the log itself). */
export interface IndexedLeaf {
  readonly index: number;
  readonly leaf: AuditedLeaf;
}

/**
 * Opens a hub-written entry whose place in the tree is already established (`e`; by {@link checkProven} for a
 * bundle's): of `kind` and `payloadType`, signed by the hub key of `purpose` valid at its position
 * (hub-key-history.ts), decoded. Records `${name}.signature`.
 */
export function openHubLeaf<S extends DescMessage>(
  c: CheckList,
  name: string,
  e: IndexedLeaf,
  hubKeys: HubKeyHistory,
  purpose: HubPurpose,
  kind: LogEntryKind,
  payloadType: string,
  schema: S,
): OpenedEntry<MessageShape<S>> {
  return c.run(`${name}.signature`, "bad_signature", () => {
    if (e.leaf.kind !== kind || e.leaf.envelope.payloadType !== payloadType) {
      throw new AuditError("wrong_entry", `entry ${e.index} is not a ${schema.name} entry`);
    }
    hubKeys.checkSigned(e.leaf.envelope, purpose, e.index, `${name} entry`);
    return { index: e.index, body: decodePayload(schema, e.leaf.envelope.payload, schema.name) };
  });
}

/**
 * Opens a member-written COMMITMENT entry of one payload type whose place in the tree is already established
 * (`e`; by {@link checkProven} for a bundle's): signed by a key of `memberId` logged before the entry and valid
 * at the time `committedAt` reads from the body, decoded. `memberId` undefined: whichever member's logged key
 * signed it. Records `${name}.signature`.
 */
export function openMemberLeaf<S extends DescMessage>(
  c: CheckList,
  name: string,
  e: IndexedLeaf,
  keys: ReadonlyMap<string, AuditedKey>,
  memberId: string | undefined,
  payloadType: string,
  schema: S,
  committedAt: (body: MessageShape<S>) => Parameters<typeof requiredMs>[0],
): OpenedEntry<MessageShape<S>> {
  return c.run(`${name}.signature`, "bad_signature", () => {
    if (e.leaf.kind !== LogEntryKind.COMMITMENT || e.leaf.envelope.payloadType !== payloadType) {
      throw new AuditError("wrong_entry", `entry ${e.index} is not a ${schema.name} entry`);
    }
    const ofMember = (keyId: string) => {
      const k = keys.get(keyId);
      return k !== undefined && (memberId === undefined || k.memberId === memberId);
    };
    const sig = e.leaf.envelope.signatures.find((s) => ofMember(s.keyid));
    const key = sig === undefined ? undefined : keys.get(sig.keyid);
    if (key === undefined) {
      throw new AuditError(
        "unknown_key",
        `the ${schema.name} is not signed by a logged key of ${memberId === undefined ? "any member" : `member ${memberId}`}`,
      );
    }
    if (key.addedAtIndex >= e.index)
      throw new AuditError("unknown_key", "the signing key was logged after the entry");
    verifySigs(e.leaf.envelope, new KeyRing([key.publicKey]), [key.keyId]);
    const body = decodePayload(schema, e.leaf.envelope.payload, schema.name);
    const why = keyValidity(key, requiredMs(committedAt(body), `${schema.name} committed_at`), e.index);
    if (why !== undefined) throw new AuditError("key_not_valid", `${schema.name}: ${why}`);
    return { index: e.index, body };
  });
}
