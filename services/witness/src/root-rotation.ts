/**
 * How a witness follows a logged rotation of a log's root key (docs/specs/witness.md, "Following a root
 * rotation"; the statement itself: docs/specs/hub-keys.md). The witness trusts one root per log; a checkpoint
 * signed by another key is cosigned only with proof that the trusted root handed over to it: the ROTATE_ROOT
 * statement(s), each signed by the root before it AND by the key it names, each included in the new
 * checkpoint's tree. The statements are checked by the auditor's own replay (`HubKeyHistory`,
 * `decodeAuditedLeaf` of `@lineage/auditor`), so a witness never accepts a rotation an auditor would refuse.
 *
 * Everything here is attacker-controlled (the request body, the unverified checkpoint's size and root): the
 * caller opens the checkpoint under the adopted key only after this returned, and checks consistency with the
 * witness's last cosigned checkpoint as for any other checkpoint.
 */
import { decodeAuditedLeaf, HubKeyHistory, type HubKeyRecord, isAuditError } from "@lineage/auditor";
import {
  type Checkpoint,
  ed25519NoteVerifier,
  hashLeaf,
  type RootRotationProof,
  verifyInclusion,
} from "@lineage/crypto";
import { WitnessError } from "./witness-error.js";
import type { TrustedRoot } from "./witness-state.js";

/** What {@link checkRootRotations} is given. */
export interface RotationCheck {
  readonly origin: string;
  /** The log's checkpoint key name (the first element of its verifier key). */
  readonly keyName: string;
  /** Every root this witness trusted for the log, oldest first; the last is the current one. */
  readonly roots: readonly TrustedRoot[];
  /** The rotations the request carries, in log order (witness-request.ts bounds their number and sizes). */
  readonly rotations: readonly RootRotationProof[];
  /** The request's checkpoint, parsed but NOT yet verified: only its size and root are used. */
  readonly checkpoint: Checkpoint;
  /** The size of the last checkpoint this witness cosigned for the log (0 before the first). */
  readonly lastSize: number;
}

/**
 * Checks the rotations from the current root on (those at or below the index that made it root were followed
 * already and are skipped) and returns the roots they hand over to, in order (empty when none is new). The last
 * one must sign the checkpoint; the caller checks that.
 * @throws WitnessError `rotation_unauthorized` (a statement not signed by the root before it, or not by the key
 * it names), `rotation_not_included` (an inclusion proof that does not reach the checkpoint's root),
 * `bad_rotation` (a leaf that is not a valid ROTATE_ROOT of this log, one logged below a checkpoint the old root
 * signed, or one naming a root this witness trusted before).
 */
export function checkRootRotations(c: RotationCheck): TrustedRoot[] {
  const current = c.roots.at(-1) as TrustedRoot;
  const pending = c.rotations.filter((r) => r.index > current.index);
  if (pending.length === 0) return [];
  const first = pending[0] as RootRotationProof;
  // The last cosigned checkpoint was signed by the current root, so its tree holds no rotation away from it
  // (hub-keys.md: a tree holding a rotation is signed by the new root only).
  if (first.index < c.lastSize)
    throw new WitnessError(
      "bad_rotation",
      `the rotation at index ${first.index} lies inside the tree of size ${c.lastSize} the old root signed`,
    );
  const records: HubKeyRecord[] = pending.map((r) => {
    try {
      return { index: r.index, leaf: decodeAuditedLeaf(r.leaf, `rotation statement ${r.index}`) };
    } catch (cause) {
      throw new WitnessError("bad_rotation", (cause as Error).message, { cause });
    }
  });
  let history: HubKeyHistory;
  try {
    history = HubKeyHistory.build(
      { log: ed25519NoteVerifier(c.keyName, current.key), hubKey: current.key, origin: c.origin },
      records,
      c.origin,
    );
  } catch (cause) {
    if (isAuditError(cause, "hub_key_unauthorized"))
      throw new WitnessError(
        "rotation_unauthorized",
        `${cause.message} (this witness trusts root ${current.key.keyId.slice(0, 16)})`,
        { cause },
      );
    if (isAuditError(cause)) throw new WitnessError("bad_rotation", cause.message, { cause });
    throw new WitnessError("internal", "unexpected failure checking a root rotation", { cause });
  }
  const adopted = history.rotations;
  if (adopted.length !== records.length)
    throw new WitnessError("bad_rotation", "a statement sent as a root rotation is not a ROTATE_ROOT");
  for (const r of adopted) {
    if (c.roots.some((k) => k.key.keyId === r.key.keyId))
      throw new WitnessError(
        "bad_rotation",
        `the rotation at index ${r.index} names a root this witness trusted before`,
      );
  }
  for (const r of pending) {
    try {
      verifyInclusion(hashLeaf(r.leaf), r.index, c.checkpoint.size, r.proof, c.checkpoint.rootHash);
    } catch (cause) {
      throw new WitnessError(
        "rotation_not_included",
        `the rotation at index ${r.index} is not proven included in the checkpoint of size ${c.checkpoint.size}`,
        { cause },
      );
    }
  }
  return adopted.map((r) => ({ key: r.key, index: r.index }));
}
