/**
 * The one error type of the auditor. A failed check is an AuditError whose `code` says which
 * property failed; tests and scripts branch on `code` (and the exit code derived from it), never on
 * the message. Messages are safe to print: no canary text, no key material.
 */

/** Every way an audit can fail. */
export type AuditErrorCode =
  /** Input (bundle, package, checkpoint, hub response) does not follow its format. */
  | "malformed"
  /** Input exceeds a size or count bound. */
  | "too_large"
  /** A signature (checkpoint, envelope, record) does not verify under the key that should have made it. */
  | "bad_signature"
  /** A signature is by a key that is not trusted or not logged. */
  | "unknown_key"
  /** A Merkle inclusion proof does not lead to the signed root. */
  | "bad_proof"
  /** The member key was not valid (not yet, expired or revoked) at the statement's time. */
  | "key_not_valid"
  /**
   * A membership record changes a member's keys without that member's signature (issue 8): no proof of
   * possession by the new key, or no signature by a key of the member valid at the record's position.
   */
  | "membership_unauthorized"
  /**
   * A hub signature by a hub key of another purpose (docs/specs/hub-keys.md): e.g. a membership record
   * signed by the sessions key, or by the root after membership was delegated.
   */
  | "wrong_purpose_key"
  /**
   * A hub key used outside its logged span: a purpose key before its delegation or after its retirement
   * (or replacement), a root key after it was rotated away.
   */
  | "hub_key_not_valid"
  /** A hub key statement not signed by the root key valid at its position, or not by the key it names. */
  | "hub_key_unauthorized"
  /** A stated time is further than the skew from its entry's integration time (e.g. a backdated revocation). */
  | "stale"
  /**
   * Checked offline: revocations or suspensions the bundle leaves out cannot be excluded. Re-run with
   * --hub to read the member's whole history, or pass --offline to accept the limitation.
   */
  | "history_unchecked"
  /** An entry is not what it should be (wrong kind, index, member or commitment reference). */
  | "wrong_entry"
  /** Two checkpoints signed by the hub cannot both be true: a split view or rewritten history. */
  | "split_view"
  /** The hub now shows a smaller tree than it once signed: history was rolled back. */
  | "rollback"
  /**
   * The checkpoint carries fewer cosignatures by witnesses of the trust root than required (missing, or
   * only by unknown keys): no independent party vouched that it extends what it saw before.
   */
  | "witness_quorum"
  /** A cosignature line under a witness key of the trust root does not verify: a forged cosignature. */
  | "bad_cosignature"
  /**
   * A witnessed disclosure seed (docs/specs/disclosure.md, v2): a counted cosignature of the seed checkpoint is
   * timestamped before the attestation was integrated or more than SEED_COSIGN_WINDOW_S after it.
   */
  | "seed_not_witnessed"
  /**
   * The bundle's checkpoint contradicts the checkpoint this auditor saved earlier (another root for the
   * same size, a tree that does not extend it, or one it does not extend): a split view.
   */
  | "inconsistent_with_saved"
  /** A disclosure's sample is not the one the log-derived seed selects. */
  | "sample_mismatch"
  /**
   * A disclosure's seed checkpoint is not the FIRST the hub signed covering the attestation (a
   * later one was picked, or the evidence that it is the first is missing or contradicts it).
   */
  | "seed_not_first"
  /** The suspect's answers to the disclosed canaries do not reproduce the claimed hits. */
  | "hits_not_reproduced"
  /** A version-1 statement: it carries no counts, so no verdict can be re-derived from it. */
  | "legacy_statement"
  /** The stated verdict or what backs it is not what the statement's own counts give under its policy. */
  | "verdict_not_supported"
  /** The statement's counts contradict each other or what the session and commitments bound. */
  | "counts_inconsistent"
  /** The policy id is not a registered policy. */
  | "policy_unknown"
  /** The policy's numbers are not its id's registered numbers, or differ from the session's. */
  | "policy_mismatch"
  /** The statement's panel is not the one the hub logged in the session. */
  | "panel_mismatch"
  /** The statement's seed is not the session's, or the session's seed checkpoint postdates it. */
  | "seed_mismatch"
  /** The statement does not answer its logged session (id, nonce, suspect, model, commitments...). */
  | "session_mismatch"
  /** A canary or watermark commitment was logged after the suspect was first seen. */
  | "commitment_after_sighting"
  /** Sighting, reference fingerprint, session and attestation are not in the protocol's log order. */
  | "out_of_order"
  /** An epoch id logged a second time (epoch-records.ts): the battery and key of an epoch are fixed once. */
  | "duplicate_epoch"
  /** A sketch suppressed a second time (epoch-records.ts): each suppression is one logged decision. */
  | "duplicate_suppression"
  /** A disclosure's label checkpoint is not the FIRST the hub signed covering the commitment. */
  | "label_mismatch"
  /** A disclosure does not hold exactly the protocol's number of pairs. */
  | "sample_size_mismatch"
  /**
   * Everything checkable was checked, but the suspect's answers came from the package (recorded by the
   * member), not from the suspect: a claim, not checked against the suspect. Only a live re-query verifies.
   */
  | "claim_not_checked"
  /** A caller passed a bad argument (flag value, option). */
  | "invalid_argument"
  /** A hub, suspect endpoint or file could not be reached or read: nothing was checked. */
  | "unavailable"
  /** A bug in the auditor. */
  | "internal";

/** One verification step, as reported. */
export interface AuditCheck {
  /** Stable name, e.g. "checkpoint.signature", "attestation.inclusion". */
  readonly name: string;
  readonly passed: boolean;
  /** Failure code; absent when passed. */
  readonly code?: AuditErrorCode;
  /** Safe detail. */
  readonly detail?: string;
}

/** Options of {@link AuditError}. */
export interface AuditErrorOptions {
  readonly cause?: unknown;
  /** The checks run before (and including) the failing one. */
  readonly checks?: readonly AuditCheck[];
}

/** Error raised by every auditor function. */
export class AuditError extends Error {
  override readonly name = "AuditError";
  readonly code: AuditErrorCode;
  /** Whether retrying later may help (only when nothing could be checked). */
  readonly retryable: boolean;
  readonly checks: readonly AuditCheck[];

  constructor(code: AuditErrorCode, message: string, options: AuditErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = code === "unavailable";
    this.checks = options.checks ?? [];
  }
}

/** True when `err` is an {@link AuditError}, optionally with the given code. */
export function isAuditError(err: unknown, code?: AuditErrorCode): err is AuditError {
  return err instanceof AuditError && (code === undefined || err.code === code);
}

/** Exit codes of `lineage audit`: 0 verified, 1 failed verification, 2 usage, 3 could not check. */
export const AUDIT_EXIT = { verified: 0, failed: 1, usage: 2, couldNotCheck: 3 } as const;

/** The exit code an audit failure maps to. */
export function exitCodeFor(code: AuditErrorCode): number {
  switch (code) {
    case "invalid_argument":
      return AUDIT_EXIT.usage;
    case "unavailable":
    case "internal":
      return AUDIT_EXIT.couldNotCheck;
    default:
      return AUDIT_EXIT.failed;
  }
}

/**
 * Records checks in order; {@link fail} throws an AuditError carrying them. Used by every verifier
 * so a report always says what passed before the failure.
 */
export class CheckList {
  readonly #checks: AuditCheck[] = [];

  get checks(): readonly AuditCheck[] {
    return this.#checks.slice();
  }

  pass(name: string, detail?: string): void {
    this.#checks.push(detail === undefined ? { name, passed: true } : { name, passed: true, detail });
  }

  fail(name: string, code: AuditErrorCode, detail: string, cause?: unknown): never {
    this.#checks.push({ name, passed: false, code, detail });
    throw new AuditError(code, `${name}: ${detail}`, { checks: this.checks, cause });
  }

  /** Runs `fn`; a thrown error becomes a failed check with `code` (or the error's own audit code). */
  run<T>(name: string, code: AuditErrorCode, fn: () => T, detail?: string): T {
    let out: T;
    try {
      out = fn();
    } catch (err) {
      if (err instanceof AuditError) this.fail(name, err.code, err.message, err);
      const m = err instanceof Error ? err.message : String(err);
      this.fail(name, code, m, err);
    }
    this.pass(name, detail);
    return out;
  }
}
