/**
 * Canary pair labels (docs/specs/canary-commitment.md, "Labels: who chose which item is exposed?
 * Nobody."). For pair i of a commitment whose root is `commitment_root`, with the FIRST hub-signed
 * checkpoint whose tree covers the commitment entry (root, size):
 *
 *   bit_i = SHA-256("lineage/canary-labels/v2" || 0x00 || checkpoint_root(32) || u64be(checkpoint_size)
 *                   || commitment_root(32) || u32be(i))[0] & 1        0: item a exposed, 1: item b exposed
 *
 * The member cannot pick the labels (its root is fixed before the checkpoint exists) and the hub cannot aim
 * them (it does not know the pairs; the root is salted). The checkpoint must be the first covering one
 * (TransparencyLog.firstCoveringCheckpoint, with its previous-size evidence) or a member could shop among
 * later checkpoints; checking that is the caller's job — this function only hashes.
 */
import { checkBytes, checkInteger, concatBytes, sha256, u32be, u64be, utf8 } from "./bytes.js";
import { MAX_CANARY_PAIRS } from "./canary-pair.js";

/** Domain separation of pair labels. */
export const CANARY_LABEL_DOMAIN = "lineage/canary-labels/v2";

const PREFIX = utf8(`${CANARY_LABEL_DOMAIN}\0`);

/** Which item of a pair is exposed: 0 = item a, 1 = item b. */
export type CanaryPairLabel = 0 | 1;

/** Inputs of {@link canaryPairLabels}. */
export interface CanaryPairLabelInput {
  /** Root hash of the first signed checkpoint covering the commitment entry (32 bytes). */
  readonly checkpointRoot: Uint8Array;
  /** That checkpoint's tree size (> the commitment's log index). */
  readonly checkpointSize: number;
  /** The logged commitment root (32 bytes). */
  readonly commitmentRoot: Uint8Array;
  /** Number of pairs (the logged canary_count), 0..1,000,000. */
  readonly pairs: number;
}

/** The label of every pair, in pair order (see the module header). */
export function canaryPairLabels(input: CanaryPairLabelInput): CanaryPairLabel[] {
  const cp = checkBytes("checkpointRoot", input.checkpointRoot, 32);
  const size = checkInteger("checkpointSize", input.checkpointSize, 1);
  const root = checkBytes("commitmentRoot", input.commitmentRoot, 32);
  const n = checkInteger("pairs", input.pairs, 0, MAX_CANARY_PAIRS);
  const fixed = concatBytes(PREFIX, cp, u64be(size), root);
  const out: CanaryPairLabel[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = ((sha256(fixed, u32be(i))[0] as number) & 1) as CanaryPairLabel;
  return out;
}
