/**
 * The hub's key set as the log establishes it (docs/specs/hub-keys.md, hub_key.proto): the root key the
 * auditor trusts signs checkpoints and HubKeyStatements; each other purpose (membership and review records,
 * sessions and sightings, attestation countersignatures) is signed by the key the root delegated to it. A
 * hub signature counts only when made by the key delegated for the entry's purpose AT THE ENTRY'S LOG
 * POSITION: after that key's delegation and before the next delegation or retirement of the purpose. The
 * root rotates by a statement the old root signs; a checkpoint of size s must be signed by the root after
 * every rotation logged below s.
 *
 * Logs written before hub keys existed (one key signing everything) stay valid: until a purpose's first
 * delegation, the root itself is that purpose's key. After it, the root signing that purpose is refused
 * (`wrong_purpose_key`), so a delegation really takes the purpose away from the root's online uses.
 *
 * Every statement is attacker-controlled input (read from a bundle or from the hub), checked here.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  HubKeyAction,
  HubKeyPurpose,
  type HubKeyStatement,
  HubKeyStatementSchema,
  LogEntryKind,
} from "@lineage/api";
import { Ed25519PublicKey, KeyRing, keyIdOf, verifyEnvelope } from "@lineage/crypto";
import { AuditError } from "./audit-error.js";
import { AUDIT_DSSE_LIMITS, type AuditedLeaf, MAX_STATED_SKEW_MS, PAYLOAD_TYPES } from "./log-records.js";
import type { RootRotation, TrustRoot } from "./trust-root.js";

/** The purposes a hub signature on a log entry serves. */
export type HubPurpose = "membership" | "sessions" | "countersign";

/** Most hub key statements a history holds (a hub rotating daily for a century stays far below). */
export const MAX_HUB_KEY_STATEMENTS = 100_000;

const PURPOSE_OF: Readonly<Record<number, HubPurpose>> = {
  [HubKeyPurpose.MEMBERSHIP]: "membership",
  [HubKeyPurpose.SESSIONS]: "sessions",
  [HubKeyPurpose.COUNTERSIGN]: "countersign",
};

/** A hub key statement as read from the log: its index and decoded leaf. */
export interface HubKeyRecord {
  readonly index: number;
  readonly leaf: AuditedLeaf;
}

/** One delegation of a purpose, with the position it ends at (the next delegation or a retirement). */
export interface HubKeyDelegation {
  readonly purpose: HubPurpose;
  readonly key: Ed25519PublicKey;
  /** Index of the delegating statement: the key signs entries at indexes above it. */
  readonly fromIndex: number;
  /** Index of the statement that replaced or retired it; undefined while current. */
  untilIndex?: number;
}

/** One root key and the indexes its rule covers. */
interface RootSpan {
  readonly key: Ed25519PublicKey;
  /** Index of the rotation statement that made it root (-1 for the trust root). */
  readonly fromIndex: number;
  untilIndex?: number;
}

function signedBy(env: AuditedLeaf["envelope"], key: Ed25519PublicKey): boolean {
  try {
    verifyEnvelope(env, { keys: new KeyRing([key]), requiredKeyIds: [key.keyId], limits: AUDIT_DSSE_LIMITS });
    return true;
  } catch {
    return false;
  }
}

/**
 * The hub key history: built from the trust root and the HUB_KEY entries of the log (all of them up to a
 * checkpoint when read from the hub, or the ones a bundle carries), in log order.
 */
export class HubKeyHistory {
  readonly #roots: RootSpan[];
  readonly #delegations: HubKeyDelegation[] = [];
  /** Events per purpose in log order: a delegation, or a retirement (key undefined). */
  readonly #events = new Map<HubPurpose, Array<{ index: number; delegation?: HubKeyDelegation }>>();
  readonly #statementIndexes: number[] = [];

  private constructor(rootKey: Ed25519PublicKey) {
    this.#roots = [{ key: rootKey, fromIndex: -1 }];
  }

  /**
   * Replays `records` (HUB_KEY entries, any order; sorted here) over the trust root's key. `origin`: the
   * log's origin, which every statement must name. Throws AuditError: `hub_key_unauthorized` for a
   * statement not signed by the root valid at its position (or, for a delegation or root rotation, not
   * signed by the key it names), `stale` for an issued_at far from its integration time, `wrong_entry`
   * for a statement that contradicts the history (a key given two purposes, retiring a key that is not
   * current, another log's origin), `malformed` for one that does not decode.
   */
  static build(trust: TrustRoot, records: readonly HubKeyRecord[], origin: string): HubKeyHistory {
    if (records.length > MAX_HUB_KEY_STATEMENTS)
      throw new AuditError("too_large", `more than ${MAX_HUB_KEY_STATEMENTS} hub key statements`);
    const h = new HubKeyHistory(trust.hubKey);
    const sorted = records.slice().sort((a, b) => a.index - b.index);
    for (const [i, r] of sorted.entries()) {
      if (i > 0 && (sorted[i - 1] as HubKeyRecord).index === r.index)
        throw new AuditError("wrong_entry", `hub key statement ${r.index} is given twice`);
      h.#apply(r, origin);
    }
    return h;
  }

  /**
   * An empty history over the trust root's key, to which a walk over the log {@link append}s the HUB_KEY
   * entries as they stream by.
   */
  static empty(trust: TrustRoot): HubKeyHistory {
    return new HubKeyHistory(trust.hubKey);
  }

  /**
   * Applies the next HUB_KEY entry (its index above every statement applied so far); throws as
   * {@link build}. A statement that fails leaves the delegations and roots as they were.
   */
  append(record: HubKeyRecord, origin: string): void {
    const last = this.#statementIndexes.at(-1);
    if (last !== undefined && record.index <= last)
      throw new AuditError("wrong_entry", `hub key statement ${record.index} is not after ${last}`);
    if (this.#statementIndexes.length >= MAX_HUB_KEY_STATEMENTS)
      throw new AuditError("too_large", `more than ${MAX_HUB_KEY_STATEMENTS} hub key statements`);
    this.#apply(record, origin);
  }

  /** Indexes of the statements replayed. */
  get statementIndexes(): readonly number[] {
    return this.#statementIndexes;
  }

  /** Every delegation, in log order. */
  get delegations(): readonly HubKeyDelegation[] {
    return this.#delegations;
  }

  /** The root rotations, for a trust root that opens checkpoints signed by later roots. */
  get rotations(): RootRotation[] {
    return this.#roots.slice(1).map((r) => ({ index: r.fromIndex, key: r.key }));
  }

  /** The root that signs statements at log position `index` (the last rotated to below it). */
  rootAt(index: number): Ed25519PublicKey {
    let root = (this.#roots[0] as RootSpan).key;
    for (const r of this.#roots) if (r.fromIndex < index) root = r.key;
    return root;
  }

  /** The key that must sign an entry of `purpose` at `index`; undefined when the purpose's key was retired. */
  keyFor(purpose: HubPurpose, index: number): Ed25519PublicKey | undefined {
    let last: { index: number; delegation?: HubKeyDelegation } | undefined;
    for (const e of this.#events.get(purpose) ?? []) if (e.index < index) last = e;
    if (last === undefined) return this.rootAt(index); // no delegation yet: the legacy single key
    return last.delegation?.key;
  }

  /** Whether `keyId` is, or ever was, one of the hub's keys (root or delegated). */
  isHubKeyId(keyId: string): boolean {
    return (
      this.#roots.some((r) => r.key.keyId === keyId) || this.#delegations.some((d) => d.key.keyId === keyId)
    );
  }

  /**
   * Checks that `envelope` (of an entry at `index` whose hub signature serves `purpose`) carries a valid
   * signature by the purpose's key at that position, and returns that key. Attacker-controlled envelope.
   * @throws AuditError `wrong_purpose_key` (signed by a hub key of another purpose, or by the root after
   * the purpose was delegated), `hub_key_not_valid` (by the purpose's key before its delegation or after
   * its retirement, or the purpose has no key there), `unknown_key` (no hub key signed it),
   * `bad_signature` (the right key id, a signature that does not verify).
   */
  checkSigned(
    envelope: AuditedLeaf["envelope"],
    purpose: HubPurpose,
    index: number,
    what: string,
  ): Ed25519PublicKey {
    const expected = this.keyFor(purpose, index);
    if (expected !== undefined && envelope.signatures.some((s) => s.keyid === expected.keyId)) {
      if (!signedBy(envelope, expected))
        throw new AuditError("bad_signature", `${what}: the hub's ${purpose} signature does not verify`);
      return expected;
    }
    for (const s of envelope.signatures) {
      const own = this.#delegations.find((d) => d.key.keyId === s.keyid && d.purpose === purpose);
      if (own !== undefined) {
        throw new AuditError(
          "hub_key_not_valid",
          own.fromIndex >= index
            ? `${what} (log index ${index}) is signed by the ${purpose} key delegated only at index ${own.fromIndex}: used before its delegation`
            : `${what} (log index ${index}) is signed by the ${purpose} key retired at index ${own.untilIndex}: used after its retirement`,
        );
      }
      const other = this.#delegations.find((d) => d.key.keyId === s.keyid);
      if (other !== undefined) {
        throw new AuditError(
          "wrong_purpose_key",
          `${what} (log index ${index}) is signed by the hub's ${other.purpose} key, not its ${purpose} key`,
        );
      }
      const root = this.#roots.find((r) => r.key.keyId === s.keyid);
      if (root !== undefined) {
        const delegatedAt = (this.#events.get(purpose) ?? []).find((e) => e.index < index)?.index;
        if (delegatedAt !== undefined)
          throw new AuditError(
            "wrong_purpose_key",
            `${what} (log index ${index}) is signed by the hub's root key, but ${purpose} was delegated at index ${delegatedAt}`,
          );
        throw new AuditError(
          "hub_key_not_valid",
          `${what} (log index ${index}) is signed by a root key that was not the root at that position`,
        );
      }
    }
    if (expected === undefined)
      throw new AuditError(
        "hub_key_not_valid",
        `${what} (log index ${index}): the hub's ${purpose} key was retired and none delegated since`,
      );
    throw new AuditError(
      "unknown_key",
      `${what} (log index ${index}) is not signed by the hub's ${purpose} key`,
    );
  }

  #apply(r: HubKeyRecord, origin: string): void {
    const what = `hub key statement ${r.index}`;
    if (r.leaf.kind !== LogEntryKind.HUB_KEY || r.leaf.envelope.payloadType !== PAYLOAD_TYPES.hubKey)
      throw new AuditError("wrong_entry", `${what} is not a hub key entry`);
    let st: HubKeyStatement;
    try {
      st = fromBinary(HubKeyStatementSchema, r.leaf.envelope.payload);
    } catch (cause) {
      throw new AuditError("malformed", `${what}: payload is not a HubKeyStatement`, { cause });
    }
    const root = this.rootAt(r.index);
    if (st.rootKeyId !== root.keyId || !signedBy(r.leaf.envelope, root)) {
      throw new AuditError(
        "hub_key_unauthorized",
        `${what} (${HubKeyAction[st.action] ?? st.action}) is not signed by the hub's root key at that position`,
      );
    }
    if (st.origin !== origin) throw new AuditError("wrong_entry", `${what} names another log's origin`);
    if (st.issuedAt === undefined) throw new AuditError("malformed", `${what}: issued_at is missing`);
    if (!(Math.abs(Number(timestampMs(st.issuedAt)) - r.leaf.integratedAtMs) <= MAX_STATED_SKEW_MS))
      throw new AuditError(
        "stale",
        `${what}: issued_at is more than ${MAX_STATED_SKEW_MS} ms from its integration`,
      );
    if (st.reason.length > 256) throw new AuditError("too_large", `${what}: reason exceeds 256 characters`);
    let key: Ed25519PublicKey;
    try {
      key = Ed25519PublicKey.fromRaw(st.publicKey);
    } catch (cause) {
      throw new AuditError("malformed", `${what}: public_key is not an Ed25519 key`, { cause });
    }
    if (st.keyId !== keyIdOf(st.publicKey))
      throw new AuditError("wrong_entry", `${what}: key_id is not SHA-256 of the key`);
    if (st.action === HubKeyAction.RETIRE) {
      const purpose = PURPOSE_OF[st.purpose];
      if (purpose === undefined) throw new AuditError("malformed", `${what}: retires no delegable purpose`);
      const events = this.#events.get(purpose) ?? [];
      const current = events.at(-1)?.delegation;
      if (current === undefined || current.key.keyId !== st.keyId)
        throw new AuditError("wrong_entry", `${what} retires a key that is not the current ${purpose} key`);
      current.untilIndex = r.index;
      events.push({ index: r.index });
      this.#events.set(purpose, events);
      this.#statementIndexes.push(r.index);
      return;
    }
    if (st.action !== HubKeyAction.DELEGATE && st.action !== HubKeyAction.ROTATE_ROOT)
      throw new AuditError("malformed", `${what}: unknown action ${st.action}`);
    // Proof of possession: the root cannot name (and so frame) a key whose holder did not sign.
    if (!signedBy(r.leaf.envelope, key))
      throw new AuditError(
        "hub_key_unauthorized",
        `${what} is not signed by the key it names (no proof of possession)`,
      );
    // One key, one role: a key serving two purposes (or root and a purpose) would undo the split.
    if (this.isHubKeyId(key.keyId))
      throw new AuditError("wrong_entry", `${what} names a key that already serves the hub`);
    if (st.action === HubKeyAction.ROTATE_ROOT) {
      if (st.purpose !== HubKeyPurpose.ROOT)
        throw new AuditError("malformed", `${what}: a root rotation must name purpose ROOT`);
      const last = this.#roots.at(-1) as RootSpan;
      last.untilIndex = r.index;
      this.#roots.push({ key, fromIndex: r.index });
      this.#statementIndexes.push(r.index);
      return;
    }
    const purpose = PURPOSE_OF[st.purpose];
    if (purpose === undefined) throw new AuditError("malformed", `${what}: delegates no delegable purpose`);
    const events = this.#events.get(purpose) ?? [];
    const current = events.at(-1)?.delegation;
    if (current !== undefined && current.untilIndex === undefined) current.untilIndex = r.index;
    const d: HubKeyDelegation = { purpose, key, fromIndex: r.index };
    this.#delegations.push(d);
    events.push({ index: r.index, delegation: d });
    this.#events.set(purpose, events);
    this.#statementIndexes.push(r.index);
  }
}

/**
 * A trust root that also opens checkpoints signed by the roots `history` rotated to (each only for the
 * tree sizes its rule covers; openHubCheckpoint enforces it).
 */
export function trustWithRotations(trust: TrustRoot, history: HubKeyHistory): TrustRoot {
  const rotations = history.rotations;
  return rotations.length === 0 ? trust : { ...trust, rotations };
}
