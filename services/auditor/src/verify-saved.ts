/**
 * `audit verify` against the auditor's memory (issue 8): the bundle's checkpoint must be consistent with
 * the last checkpoint this auditor saved for the log (auditor-state.ts) — same root for the same size, and
 * a consistency proof (from the hub, checked against both signed roots, so the hub cannot lie with it)
 * between different sizes. A contradiction is `inconsistent_with_saved`, and both signed checkpoints are
 * kept as evidence. A newer consistent checkpoint becomes the saved one; on first contact the bundle's is
 * saved (trust on first use, said so).
 */
import { bytesEqual, type Checkpoint, toBase64 } from "@lineage/crypto";
import { type AuditCheck, AuditError, CheckList } from "./audit-error.js";
import type { AuditorState } from "./auditor-state.js";
import { openHubCheckpoint } from "./log-records.js";
import type { TrustRoot } from "./trust-root.js";
import { type CheckpointSource, checkExtends } from "./verify-consistency.js";

/** How the bundle's checkpoint relates to the saved one. */
export type SavedOutcome =
  /** Nothing saved for this log: the bundle's checkpoint is saved now. */
  | "first_contact"
  /** Same size and root as the saved checkpoint. */
  | "same"
  /** Proven consistent with the saved checkpoint (either extends the other). */
  | "consistent"
  /** Sizes differ and no hub was given for a consistency proof: not checked. */
  | "not_checked_offline";

/** What {@link checkAgainstSaved} found. */
export interface SavedCheck {
  readonly checks: readonly AuditCheck[];
  readonly outcome: SavedOutcome;
  readonly saved?: Checkpoint;
}

const decode = (b: Uint8Array | string) => (typeof b === "string" ? b : new TextDecoder().decode(b));

/**
 * Checks the hub-signed checkpoint `note` against the saved state. `proofs` (a hub) supplies consistency
 * proofs between different sizes; without it those are `not_checked_offline`.
 * @throws AuditError `inconsistent_with_saved` (evidence saved), `unavailable`, `bad_signature`, ...
 */
export async function checkAgainstSaved(
  state: AuditorState,
  trust: TrustRoot,
  note: Uint8Array | string,
  proofs?: Pick<CheckpointSource, "consistencyProof">,
): Promise<SavedCheck> {
  const c = new CheckList();
  const current = c.run("saved.checkpoint", "bad_signature", () => openHubCheckpoint(note, trust));
  const savedNote = await state.lastCheckpoint(trust);
  if (savedNote === undefined) {
    await state.saveCheckpoint(trust, decode(note));
    c.pass(
      "saved.first_contact",
      "no checkpoint of this log saved before: saving this one (trust on first use)",
    );
    return { checks: c.checks, outcome: "first_contact" };
  }
  const saved = c.run("saved.previous", "bad_signature", () => openHubCheckpoint(savedNote, trust));
  const contradiction = async (
    why: string,
    proof: readonly Uint8Array[],
    cause?: unknown,
  ): Promise<never> => {
    const file = await state.saveEvidence("inconsistent_with_saved", {
      "checkpoint saved earlier": savedNote,
      "checkpoint in the bundle": decode(note),
      "consistency proof (base64)": proof.map(toBase64).join("\n"),
    });
    return c.fail("saved.consistency", "inconsistent_with_saved", `${why} (evidence kept in ${file})`, cause);
  };
  if (current.size === saved.size) {
    if (!bytesEqual(current.rootHash, saved.rootHash))
      await contradiction(`two different roots signed for tree size ${current.size}`, []);
    c.pass("saved.consistency", `same checkpoint as saved (size ${saved.size})`);
    return { checks: c.checks, outcome: "same", saved };
  }
  if (proofs === undefined) {
    c.pass(
      "saved.consistency",
      `NOT CHECKED OFFLINE: saved size ${saved.size}, bundle size ${current.size}; a consistency proof needs --hub`,
    );
    return { checks: c.checks, outcome: "not_checked_offline", saved };
  }
  const [older, newer] = current.size < saved.size ? [current, saved] : [saved, current];
  const proof = older.size === 0 ? [] : await proofs.consistencyProof(older.size, newer.size);
  try {
    checkExtends(older, newer, proof);
  } catch (err) {
    if (err instanceof AuditError && (err.code === "split_view" || err.code === "rollback"))
      await contradiction(err.message, proof, err);
    throw err;
  }
  c.pass("saved.consistency", `saved size ${saved.size} and bundle size ${current.size} are consistent`);
  if (current.size > saved.size) await state.saveCheckpoint(trust, decode(note));
  return { checks: c.checks, outcome: "consistent", saved };
}
