/**
 * `lineage audit verify`: checks an attestation bundle (attestation_bundle.proto) trusting only the
 * hub's verifier key (DESIGN.md flow 8):
 *   1. the checkpoint is signed by the hub;
 *   1b. the hub's keys by purpose come from the logged hub key statements (hub-key-history.ts,
 *      docs/specs/hub-keys.md): every hub signature below must be by the key of its purpose valid at the
 *      entry's log position (membership records, sessions and sightings, the countersignature);
 *   2. every membership record is hub-signed, signed by the member it changes (member.proto) and
 *      included in that checkpoint; they establish the signing key (logged before the attestation),
 *      its revocation and the member's suspensions BY LOG POSITION. Offline these are the bundle's
 *      records; with `options.history` they are all the log's (member-history.ts);
 *   3. the attestation is included in the checkpoint, signed by that member key and countersigned
 *      by the hub; the key was valid at the statement's issued_at;
 *   4. the statement is version 2 (a version-1 statement carries no counts: `legacy_statement`);
 *   5. the canary commitment it relied on (if any) is logged before it, by the same member, with
 *      the same id and root, and included in the checkpoint;
 *   6. every choice the verdict was bound to, and the verdict itself, re-derived from the logged
 *      session, sighting and commitments, and the session's seed recomputed from the hub-signed seed
 *      checkpoint the bundle carries (verify-bound-choices.ts).
 * The bundle is attacker-controlled: every field is bounded and checked.
 */
import type { AttestationBundle, AttestationStatement, CanaryCommitment } from "@lineage/api";
import { bytesEqual, type Checkpoint } from "@lineage/crypto";
import { type AuditCheck, AuditError, CheckList } from "./audit-error.js";
import { HubKeyHistory, trustWithRotations } from "./hub-key-history.js";
import {
  type AuditedKey,
  type AuditedLeaf,
  decodeAuditedLeaf,
  openHubCheckpoint,
  type StatusChange,
} from "./log-records.js";
import type { MemberHistory } from "./member-history.js";
import { replayMembership } from "./membership-replay.js";
import { checkProven, type OpenedEntry, toIndex } from "./proven-entry.js";
import type { TrustRoot } from "./trust-root.js";
import { verifyAttestationEntry } from "./verify-attestation.js";
import { type BoundVerification, bundleEntrySource } from "./verify-bound-choices.js";
import { checkWitnessQuorum, type WitnessQuorum } from "./witness-quorum.js";

/** Most membership records a bundle may carry (proto bound). */
export const MAX_BUNDLE_MEMBERSHIP = 64;
/** Most hub key statements a bundle may carry (proto bound). */
export const MAX_BUNDLE_HUB_KEYS = 64;

/** The first line of a checkpoint note (its origin), read before the note is verified. */
function noteFirstLine(note: Uint8Array | undefined): string {
  if (note === undefined) return "";
  const nl = note.indexOf(0x0a);
  return new TextDecoder().decode(note.subarray(0, nl < 0 ? Math.min(note.length, 257) : Math.min(nl, 257)));
}

/** A verified attestation. */
export interface BundleVerification {
  readonly checks: readonly AuditCheck[];
  /**
   * Whether the member's whole membership history was read from the log (options.history). When
   * false, a revocation or suspension the bundle left out cannot be excluded.
   */
  readonly historyChecked: boolean;
  readonly checkpoint: Checkpoint;
  readonly attestationIndex: number;
  /** When the log integrated the attestation (ms since the epoch, from its leaf). */
  readonly attestationIntegratedAtMs: number;
  readonly statement: AttestationStatement;
  /** The logged key that signed it. */
  readonly memberKey: AuditedKey;
  /** The canary commitment it relied on, verified; undefined when none. */
  readonly commitment?: OpenedEntry<CanaryCommitment>;
  /** The witnesses that cosigned the checkpoint (and how many were required). */
  readonly witnesses: WitnessQuorum;
  /**
   * The session, sighting, commitments and the re-derived verdict (version-2 statements; a bundle
   * that verifies always has them).
   */
  readonly bound: BoundVerification;
  /** The hub's keys by purpose the verification relied on (from the log with `history`, else the bundle). */
  readonly hubKeys: HubKeyHistory;
}

/** Options of {@link verifyBundle}. */
export interface VerifyBundleOptions {
  /**
   * Every membership record of the log up to the bundle's checkpoint, read and proven by
   * {@link readMemberHistory}. Without it the verification is offline: `historyChecked` is false.
   */
  readonly history?: MemberHistory;
  /**
   * How many distinct witnesses of the trust root must have cosigned the bundle's checkpoint (issue 8).
   * Default: 1 when the trust root lists any witness, else 0. A forged cosignature by a trusted witness
   * fails whatever the number (`bad_cosignature`).
   */
  readonly witnessQuorum?: number;
}

/**
 * The trust root extended with the root rotations among the bundle's hub key statements (each checked to be
 * signed by the root before it, from `trust`'s): what opens the bundle's checkpoint when the hub rotated its
 * root since the auditor took its key. Throws AuditError as {@link HubKeyHistory.build}.
 */
export function trustFromBundle(bundle: AttestationBundle, trust: TrustRoot): TrustRoot {
  if (bundle.hubKeys.length > MAX_BUNDLE_HUB_KEYS)
    throw new AuditError("too_large", `more than ${MAX_BUNDLE_HUB_KEYS} hub key statements`);
  const records = bundle.hubKeys.map((pe, i) => ({
    index: toIndex(pe.entry?.index ?? 0n, "hub key entry index"),
    leaf: decodeAuditedLeaf(pe.entry?.leaf ?? new Uint8Array(0), `hub_keys[${i}] leaf`),
  }));
  return trustWithRotations(
    trust,
    HubKeyHistory.build(trust, records, noteFirstLine(bundle.checkpoint?.signedNote)),
  );
}

/** Verifies a bundle; throws {@link AuditError} (with the checks so far) on the first failure. */
export function verifyBundle(
  bundle: AttestationBundle,
  trust: TrustRoot,
  options: VerifyBundleOptions = {},
): BundleVerification {
  const c = new CheckList();
  // The hub's keys: the bundle's hub key statements, replayed over the trusted root (their signatures need
  // no checkpoint; their inclusion is checked below, once the checkpoint is open). Root rotations among
  // them let a checkpoint signed by a later root open.
  if (bundle.hubKeys.length > MAX_BUNDLE_HUB_KEYS) {
    c.fail("hub_keys.count", "too_large", `more than ${MAX_BUNDLE_HUB_KEYS} hub key statements`);
  }
  const bundleHubKeys = bundle.hubKeys.map((pe, i) => ({
    name: `hub_keys[${i}]`,
    index: toIndex(pe.entry?.index ?? 0n, "hub key entry index"),
    leafBytes: pe.entry?.leaf,
    leaf: c.run(`hub_keys[${i}].decode`, "malformed", () =>
      decodeAuditedLeaf(pe.entry?.leaf ?? new Uint8Array(0), `hub_keys[${i}] leaf`),
    ),
  }));
  const noteOrigin = noteFirstLine(bundle.checkpoint?.signedNote);
  let hubKeys = c.run("hub_keys.statements", "hub_key_unauthorized", () =>
    HubKeyHistory.build(trust, bundleHubKeys, noteOrigin),
  );
  const cp = c.run("checkpoint.signature", "bad_signature", () => {
    if (bundle.checkpoint === undefined) throw new AuditError("malformed", "bundle has no checkpoint");
    return openHubCheckpoint(bundle.checkpoint.signedNote, trustWithRotations(trust, hubKeys));
  });
  bundle.hubKeys.forEach((pe, i) => {
    checkProven(c, `hub_keys[${i}]`, pe, cp);
  });
  const required = options.witnessQuorum ?? ((trust.witnesses?.length ?? 0) > 0 ? 1 : 0);
  if (!Number.isSafeInteger(required) || required < 0 || required > 16)
    throw new AuditError("invalid_argument", "witnessQuorum must be an integer in 0..16");
  let witnesses: WitnessQuorum;
  try {
    witnesses = checkWitnessQuorum(
      bundle.checkpoint?.signedNote ?? new Uint8Array(0),
      trustWithRotations(trust, hubKeys),
      required,
    );
  } catch (err) {
    if (err instanceof AuditError) c.fail("checkpoint.witnesses", err.code, err.message, err);
    throw err;
  }
  c.pass(
    "checkpoint.witnesses",
    required === 0
      ? `NO WITNESS REQUIRED: ${witnesses.cosigners.length} trusted cosignature(s) present`
      : `${witnesses.cosigners.length} trusted witness cosignature(s), ${required} required: ${witnesses.cosigners.join(", ")}`,
  );

  // Membership records establish the member keys and statuses; replayed in log order. With a history
  // read from the log (member-history.ts) they are ALL the log's membership records up to the bundle's
  // checkpoint, so a bundle cannot hide a revocation or a suspension; without one, only the bundle's.
  if (bundle.membership.length > MAX_BUNDLE_MEMBERSHIP) {
    c.fail("membership.count", "too_large", `more than ${MAX_BUNDLE_MEMBERSHIP} membership records`);
  }
  const keys = new Map<string, AuditedKey>();
  const statuses = new Map<string, StatusChange[]>();
  const fromBundle = bundle.membership.map((pe, i) => {
    const { index, leaf } = checkProven(c, `membership[${i}]`, pe, cp);
    return { name: `membership[${i}]`, index, leaf, leafBytes: pe.entry?.leaf };
  });
  const history = options.history;
  let records: Array<{ name: string; index: number; leaf: AuditedLeaf }> = fromBundle;
  if (history !== undefined) {
    records = c.run(
      "membership.history",
      "wrong_entry",
      () => {
        if (history.treeSize !== cp.size || !bytesEqual(history.rootHash, cp.rootHash)) {
          throw new AuditError("wrong_entry", "the history was not read against the bundle's checkpoint");
        }
        const byIndex = new Map(history.records.map((r) => [r.index, r]));
        for (const r of fromBundle) {
          const h = byIndex.get(r.index);
          if (h === undefined || r.leafBytes === undefined || !bytesEqual(h.leafBytes, r.leafBytes)) {
            throw new AuditError("wrong_entry", `${r.name} is not the log's entry ${r.index}`);
          }
        }
        return history.records.map((r) => ({ name: `log[${r.index}]`, index: r.index, leaf: r.leaf }));
      },
      `all ${history.records.length} membership records of the log up to size ${cp.size}, read from the hub`,
    );
    // The log's own hub key history replaces the bundle's: a delegation, retirement or root rotation the
    // bundle left out is still applied, and the checkpoint must be signed by the root the whole log names.
    hubKeys = c.run(
      "hub_keys.history",
      "wrong_entry",
      () => {
        const byIndex = new Map(history.hubKeys.map((r) => [r.index, r]));
        for (const r of bundleHubKeys) {
          const h = byIndex.get(r.index);
          if (h === undefined || r.leafBytes === undefined || !bytesEqual(h.leafBytes, r.leafBytes))
            throw new AuditError("wrong_entry", `${r.name} is not the log's entry ${r.index}`);
        }
        const full = HubKeyHistory.build(trust, history.hubKeys, cp.origin);
        openHubCheckpoint(
          bundle.checkpoint?.signedNote ?? new Uint8Array(0),
          trustWithRotations(trust, full),
        );
        return full;
      },
      `all ${history.hubKeys.length} hub key statements of the log up to size ${cp.size}, read from the hub`,
    );
  } else {
    c.pass(
      "membership.history",
      "not checked offline: revocations or suspensions omitted from the bundle cannot be excluded (use --hub)",
    );
  }
  records = records.slice().sort((x, y) => x.index - y.index);
  for (const r of records) {
    c.run(`${r.name}.signature`, "bad_signature", () => replayMembership(keys, statuses, hubKeys, r));
  }

  const att = checkProven(c, "attestation", bundle.attestation, cp);
  const v = verifyAttestationEntry(c, att, {
    hubKeys,
    keys,
    statuses,
    entries: bundleEntrySource(bundle, cp, trustWithRotations(trust, hubKeys)),
  });
  return {
    ...v,
    checks: c.checks,
    historyChecked: history !== undefined,
    witnesses,
    checkpoint: cp,
    hubKeys,
  };
}
