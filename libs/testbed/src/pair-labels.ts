/**
 * Canary pair labels: which item of each committed pair is exposed (trained on) and which is the decoy.
 *
 * DESIGN.md "Deciding copied: who chose the null?": the label of each pair is a hash of the first signed
 * checkpoint after the commitment, so neither the member nor the hub picks it, and the member exposes the
 * chosen items only afterwards. The testbed plays that protocol: it commits the pairs (generateCanaryPairs),
 * draws the labels from a 32-byte stand-in for that checkpoint's hash (one per split, from the split's
 * seed), and only then trains each member's teacher on the exposed items.
 *
 *   label(pair) = "a" if SHA-256(DOMAIN || 0x00 || checkpoint || u32be(len(id)) || id)[0] & 1 = 0, else "b"
 *
 * A local stand-in with the shape libs/crypto's canaryPairLabels(checkpointHash, pairIds) is meant to have
 * (that function had not landed when this was written); the bit is one uniform coin per pair under SHA-256,
 * and the length prefix keeps distinct ids from colliding into one hash input.
 */
import { createHash } from "node:crypto";
import type { Canary, CanaryPair } from "./facts.js";
import { TestbedError } from "./testbed-error.js";

/** Domain separation of the label hash. Changing it changes every label (and every testbed teacher). */
export const CANARY_PAIR_LABEL_DOMAIN = "lineage/canary-pair-label/v1";

/** Which item of a pair is exposed. */
export type PairSide = "a" | "b";

/** Bytes of a checkpoint hash. */
export const CHECKPOINT_HASH_BYTES = 32;

/**
 * The label of every pair, in order, from a checkpoint hash (32 bytes) and the pair ids of the commitment.
 * Throws `invalid_argument` on a hash of the wrong length, an empty or duplicate id.
 */
export function canaryPairLabels(checkpointHash: Uint8Array, pairIds: readonly string[]): PairSide[] {
  if (!(checkpointHash instanceof Uint8Array) || checkpointHash.length !== CHECKPOINT_HASH_BYTES) {
    throw new TestbedError("invalid_argument", `checkpointHash must be ${CHECKPOINT_HASH_BYTES} bytes`);
  }
  const seen = new Set<string>();
  return pairIds.map((id) => {
    if (typeof id !== "string" || id.length === 0 || id.length > 256)
      throw new TestbedError("invalid_argument", "pair ids must be strings of 1..256 characters");
    if (seen.has(id)) throw new TestbedError("invalid_argument", `duplicate pair id ${JSON.stringify(id)}`);
    seen.add(id);
    const idBytes = Buffer.from(id, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(idBytes.length);
    const h = createHash("sha256")
      .update(CANARY_PAIR_LABEL_DOMAIN)
      .update(Buffer.from([0]))
      .update(checkpointHash)
      .update(len)
      .update(idBytes)
      .digest();
    return ((h[0] as number) & 1) === 0 ? "a" : "b";
  });
}

/**
 * The testbed's stand-in for the hash of the first signed checkpoint after a split's commitments: fixed
 * by the split's seed, so a new seed draws new labels.
 */
export function checkpointStandIn(seed: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(`${seed}/first-checkpoint-after-commitment`).digest());
}

/** A pair with its drawn label applied: the shape of a paired canary set's items. */
export interface LabelledPair {
  readonly id: string;
  readonly exposed: Canary;
  readonly decoy: Canary;
}

/** Applies labels to pairs (same order and length). */
export function applyPairLabels(pairs: readonly CanaryPair[], labels: readonly PairSide[]): LabelledPair[] {
  if (pairs.length !== labels.length)
    throw new TestbedError("invalid_argument", `${pairs.length} pairs but ${labels.length} labels`);
  return pairs.map((p, i) =>
    labels[i] === "a" ? { id: p.id, exposed: p.a, decoy: p.b } : { id: p.id, exposed: p.b, decoy: p.a },
  );
}
