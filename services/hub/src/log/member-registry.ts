/**
 * The member keys as the log itself establishes them: rebuilt from the logged membership records
 * (proto/lineage/v1/member.proto, MembershipRecord) in log order, exactly as an auditor rebuilds
 * them, so the hub admits an attestation only under a key an auditor will also accept.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { KeyAlgorithm, MembershipAction, type MembershipRecord } from "@lineage/api";
import { Ed25519PublicKey, keyIdOf } from "@lineage/crypto";
import { LogError } from "./log-error.js";
import { keyFingerprint } from "./membership-record.js";

/** A member key and its validity window, as logged. */
export interface LoggedKey {
  readonly memberId: string;
  readonly keyId: string;
  readonly publicKey: Ed25519PublicKey;
  /** Signatures before this time (ms) are not accepted. */
  readonly notBeforeMs: number;
  /** Signatures at or after this time are not accepted; undefined: no expiry. */
  readonly notAfterMs: number | undefined;
  /** Signatures at or after this time are rejected; undefined: not revoked. */
  readonly revokedAtMs: number | undefined;
  /** Log index of the record that added the key. */
  readonly addedAtIndex: number;
  /** Log index of the record that revoked it. */
  readonly revokedAtIndex: number | undefined;
}

/** State of a member. */
export type LoggedMemberStatus = "active" | "suspended" | "removed";

/** A member as logged. */
export interface LoggedMember {
  readonly memberId: string;
  readonly status: LoggedMemberStatus;
  readonly enrolledAtIndex: number;
  /** The ENROL record's display name. */
  readonly displayName: string;
  /** The ENROL record's effective_at (ms). */
  readonly enrolledAtMs: number;
}

const MEMBER_ID_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * What the writer knows about a membership record being admitted (absent when replaying records the
 * log admitted before): whose signatures verified, and when it is integrated.
 */
export interface MembershipAdmission {
  /** Key ids whose signatures over the record verified (member keys and/or the hub's). */
  readonly signedBy: ReadonlySet<string>;
  /** The hub key id (its registrar signature). */
  readonly hubKeyId: string;
  /** The record's integration time (ms). */
  readonly integratedAtMs: number;
  /** Largest allowed distance between a record's stated times and its integration (ms). */
  readonly skewMs: number;
}

/**
 * Whether `key` is valid for an entry at log position `index` (issue 8): added at a smaller index and
 * not revoked at a smaller one. Unlike a revocation time, a position cannot be backdated.
 */
export function keyValidAtIndex(key: LoggedKey, index: number): boolean {
  return key.addedAtIndex < index && (key.revokedAtIndex === undefined || key.revokedAtIndex >= index);
}

/** Whether `key` accepts a signature made at `atMs`. */
export function keyValidAt(key: LoggedKey, atMs: number): boolean {
  if (atMs < key.notBeforeMs) return false;
  if (key.notAfterMs !== undefined && atMs >= key.notAfterMs) return false;
  if (key.revokedAtMs !== undefined && atMs >= key.revokedAtMs) return false;
  return true;
}

/** Mutable registry of logged members and keys; {@link clone} it to stage a batch. */
export class MemberRegistry {
  readonly #members: Map<string, LoggedMember>;
  readonly #keys: Map<string, LoggedKey>;

  constructor(members = new Map<string, LoggedMember>(), keys = new Map<string, LoggedKey>()) {
    this.#members = members;
    this.#keys = keys;
  }

  /** A copy that can be changed without touching this one. */
  clone(): MemberRegistry {
    return new MemberRegistry(new Map(this.#members), new Map(this.#keys));
  }

  member(memberId: string): LoggedMember | undefined {
    return this.#members.get(memberId);
  }

  key(keyId: string): LoggedKey | undefined {
    return this.#keys.get(keyId);
  }

  /** Every logged key (current or past). */
  keys(): IterableIterator<LoggedKey> {
    return this.#keys.values();
  }

  /** Every enrolled member (any status), in enrolment order. */
  members(): IterableIterator<LoggedMember> {
    return this.#members.values();
  }

  /** The keys of one member (current and past), in the order they were logged. */
  keysOf(memberId: string): LoggedKey[] {
    const out: LoggedKey[] = [];
    for (const k of this.#keys.values()) if (k.memberId === memberId) out.push(k);
    return out.sort((a, b) => a.addedAtIndex - b.addedAtIndex);
  }

  /**
   * Checks a membership record against the current state and applies it. `index` is the record's
   * log index. Throws {@link LogError} naming what is wrong; the registry is unchanged then.
   */
  apply(record: MembershipRecord, index: number, admission?: MembershipAdmission): void {
    const memberId = record.memberId;
    if (admission !== undefined) this.#authorise(record, index, admission);
    if (!MEMBER_ID_RE.test(memberId)) {
      throw new LogError("invalid_argument", "membership member_id must match [a-z0-9][a-z0-9-]{0,63}");
    }
    if (record.effectiveAt === undefined)
      throw new LogError("invalid_argument", "membership effective_at is missing");
    if (record.reason.length > 512)
      throw new LogError("too_large", "membership reason exceeds 512 characters");
    const member = this.#members.get(memberId);
    const needMember = (): LoggedMember => {
      if (member === undefined) throw new LogError("unknown_member", `member ${memberId} is not enrolled`);
      if (member.status === "removed")
        throw new LogError("failed_precondition", `member ${memberId} was removed`);
      return member;
    };
    switch (record.action) {
      case MembershipAction.ENROL: {
        if (member !== undefined)
          throw new LogError("already_exists", `member ${memberId} is already enrolled`);
        if (record.displayName.length === 0 || record.displayName.length > 256) {
          throw new LogError("invalid_argument", "membership display_name must be 1..256 characters");
        }
        const key = this.#newKey(record, memberId, index, admission === undefined);
        this.#members.set(memberId, {
          memberId,
          status: "active",
          enrolledAtIndex: index,
          displayName: record.displayName,
          enrolledAtMs: Number(timestampMs(record.effectiveAt)),
        });
        this.#keys.set(key.keyId, key);
        return;
      }
      case MembershipAction.ADD_KEY: {
        needMember();
        const key = this.#newKey(record, memberId, index, admission === undefined);
        this.#keys.set(key.keyId, key);
        return;
      }
      case MembershipAction.REVOKE_KEY: {
        needMember();
        const keyId = record.key?.keyId ?? "";
        const key = this.#keys.get(keyId);
        if (key === undefined || key.memberId !== memberId) {
          throw new LogError("not_found", `key ${keyId.slice(0, 64)} is not a logged key of ${memberId}`);
        }
        if (key.revokedAtMs !== undefined)
          throw new LogError("already_exists", `key ${keyId} is already revoked`);
        const at = record.key?.revokedAt;
        if (at === undefined) throw new LogError("invalid_argument", "revoked key has no revoked_at");
        if (record.key?.revocationReason === undefined || record.key.revocationReason.length > 512) {
          throw new LogError("too_large", "revocation_reason exceeds 512 characters");
        }
        this.#keys.set(keyId, { ...key, revokedAtMs: Number(timestampMs(at)), revokedAtIndex: index });
        return;
      }
      case MembershipAction.SUSPEND:
      case MembershipAction.REINSTATE:
      case MembershipAction.REMOVE: {
        const m = needMember();
        const to: LoggedMemberStatus =
          record.action === MembershipAction.SUSPEND
            ? "suspended"
            : record.action === MembershipAction.REINSTATE
              ? "active"
              : "removed";
        if (record.action === MembershipAction.SUSPEND && m.status !== "active") {
          throw new LogError("failed_precondition", `member ${memberId} is not active`);
        }
        if (record.action === MembershipAction.REINSTATE && m.status !== "suspended") {
          throw new LogError("failed_precondition", `member ${memberId} is not suspended`);
        }
        this.#members.set(memberId, { ...m, status: to });
        return;
      }
      default:
        throw new LogError("invalid_argument", "membership action is not set or not known");
    }
  }

  /**
   * Who must have signed, by action (member.proto, MembershipRecord): the hub cannot change a member's
   * keys alone. `bad_signature`: no proof of possession by the new key; `permission_denied`: no signature
   * by a key of the member valid at this position; `stale`: a stated time too far from integration.
   */
  #authorise(record: MembershipRecord, index: number, a: MembershipAdmission): void {
    if (!a.signedBy.has(a.hubKeyId)) {
      throw new LogError("bad_signature", "membership record lacks the hub's registrar signature");
    }
    // A key addition may be logged some time after the member signed it (the secretariat confirms the
    // fingerprint out of band first): only a future effective_at is refused. Validity starts at the
    // record's position anyway. Revocations and the hub's decisions take effect when logged, within the skew.
    if (record.effectiveAt !== undefined) {
      const at = Number(timestampMs(record.effectiveAt));
      const addsKey = record.action === MembershipAction.ENROL || record.action === MembershipAction.ADD_KEY;
      if (addsKey ? at - a.integratedAtMs > a.skewMs : !(Math.abs(at - a.integratedAtMs) <= a.skewMs)) {
        throw new LogError(
          "stale",
          `membership effective_at is more than ${a.skewMs} ms from its integration time`,
        );
      }
    }
    const newKeyId = record.key?.keyId ?? "";
    const needPossession = () => {
      if (!a.signedBy.has(newKeyId)) {
        throw new LogError(
          "bad_signature",
          "membership record is not signed by the key it adds (no proof of possession)",
        );
      }
    };
    const needAuthoriser = (allowSelf: boolean) => {
      const by = record.authorizedByKeyId;
      const key = this.#keys.get(by);
      const ok =
        key !== undefined &&
        key.memberId === record.memberId &&
        keyValidAtIndex(key, index) &&
        (allowSelf || by !== newKeyId) &&
        a.signedBy.has(by);
      if (!ok) {
        throw new LogError(
          "permission_denied",
          `membership record is not signed by a key of ${record.memberId} valid at index ${index} (authorized_by_key_id)`,
        );
      }
    };
    switch (record.action) {
      case MembershipAction.ENROL: {
        needPossession();
        const key = record.key;
        if (key !== undefined && record.confirmedFingerprint !== keyFingerprint(key.publicKey)) {
          throw new LogError(
            "invalid_argument",
            "confirmed_fingerprint is not the fingerprint of the enrolled key",
          );
        }
        return;
      }
      case MembershipAction.ADD_KEY:
        needAuthoriser(false);
        needPossession();
        return;
      case MembershipAction.REVOKE_KEY: {
        needAuthoriser(true);
        const revokedAt = record.key?.revokedAt;
        if (revokedAt !== undefined) {
          const at = Number(timestampMs(revokedAt));
          if (!(Math.abs(at - a.integratedAtMs) <= a.skewMs)) {
            throw new LogError(
              "stale",
              `revoked_at is more than ${a.skewMs} ms from the revocation's integration time (backdated?)`,
            );
          }
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * The logged key of an ENROL or ADD_KEY record. Admitted records have their key imported (point on the curve,
   * not small-order) before they are logged. A replayed record (`replay`: start-up and catch-up, entries
   * already verified against the hub's signed checkpoints, so admitted by these checks when they were logged)
   * imports its key at first use instead: a hub replays every key ever enrolled, ~0.3 ms of curve arithmetic
   * each, and most verify nothing in that process (bench:startup: 1,000 enrolments were a third of a restart).
   * A key that fails the import then is refused at that use (log_corrupt), never used.
   */
  #newKey(record: MembershipRecord, memberId: string, index: number, replay: boolean): LoggedKey {
    const k = record.key;
    if (k === undefined) throw new LogError("invalid_argument", "membership record has no key");
    if (k.algorithm !== KeyAlgorithm.ED25519)
      throw new LogError("invalid_argument", "key algorithm must be Ed25519");
    const importKey = (): Ed25519PublicKey => {
      try {
        return Ed25519PublicKey.fromRaw(k.publicKey);
      } catch (cause) {
        throw new LogError(
          replay ? "log_corrupt" : "invalid_argument",
          `key ${replay ? `${k.keyId.slice(0, 64)} logged at index ${index}: ` : ""}public_key is not a valid Ed25519 public key`,
          { cause },
        );
      }
    };
    const admitted = replay ? undefined : importKey();
    if (k.publicKey.length !== 32 || k.keyId !== keyIdOf(k.publicKey)) {
      throw new LogError("invalid_argument", "key key_id is not the hex SHA-256 of public_key");
    }
    if (this.#keys.has(k.keyId)) throw new LogError("already_exists", `key ${k.keyId} is already logged`);
    if (k.notBefore === undefined) throw new LogError("invalid_argument", "key not_before is missing");
    if (k.revokedAt !== undefined)
      throw new LogError("invalid_argument", "a new key cannot be revoked already");
    const notBeforeMs = Number(timestampMs(k.notBefore));
    const notAfterMs = k.notAfter === undefined ? undefined : Number(timestampMs(k.notAfter));
    if (notAfterMs !== undefined && notAfterMs <= notBeforeMs) {
      throw new LogError("invalid_argument", "key not_after must be after not_before");
    }
    let imported = admitted;
    return {
      memberId,
      keyId: k.keyId,
      get publicKey(): Ed25519PublicKey {
        imported ??= importKey();
        return imported;
      },
      notBeforeMs,
      notAfterMs,
      revokedAtMs: undefined,
      addedAtIndex: index,
      revokedAtIndex: undefined,
    };
  }
}
