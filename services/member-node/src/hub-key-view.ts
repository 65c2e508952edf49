/**
 * The hub's key set as the member node reads it from the hub's log (docs/specs/hub-keys.md): a node configured
 * with the hub's ROOT key learns the keys the root delegated (sessions, membership, countersign), their
 * replacements and retirements and the root's own rotations, from the logged HubKeyStatements — so the hub can
 * give its sessions to a key of their own without every member editing its configuration, and a session signed
 * by a retired, replaced or other-purpose key is refused.
 *
 * The statements are found by reading every entry up to a hub-signed checkpoint and recomputing the tree root
 * from the leaves (a CompactRange): the hub cannot hide a retirement by leaving an entry out, nor add one that
 * the checkpoint does not commit to. Later syncs read only the new entries. Everything read is untrusted: each
 * statement must be signed by the root valid at its position (and, for a delegation or rotation, by the key it
 * names), name this log's origin, and keep a key to one role — the rules of the auditor's hub-key-history.ts.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  HubKeyAction,
  HubKeyPurpose,
  type HubKeyStatement,
  HubKeyStatementSchema,
  LogEntryKind,
  type LogLeaf,
  LogLeafSchema,
} from "@lineage/api";
import {
  bytesEqual,
  CompactRange,
  type DsseEnvelope,
  Ed25519PublicKey,
  hashLeaf,
  KeyRing,
  keyIdOf,
  verifyEnvelope,
} from "@lineage/crypto";
import { type HubLogClient, type HubLogTrust, openHubCheckpoint } from "./canaries/hub-log.js";
import { MemberNodeError } from "./member-node-error.js";

/** The purposes the hub's root delegates. */
export type HubKeyPurposeName = "membership" | "sessions" | "countersign";

/** DSSE payload type of hub key statements (the hub's log-leaf.ts). */
export const HUB_KEY_PAYLOAD_TYPE = "application/vnd.lineage.hub-key.v1+proto";

const PURPOSE_OF: Readonly<Record<number, HubKeyPurposeName>> = {
  [HubKeyPurpose.MEMBERSHIP]: "membership",
  [HubKeyPurpose.SESSIONS]: "sessions",
  [HubKeyPurpose.COUNTERSIGN]: "countersign",
};

/** Entries asked for per GetLogEntries call (the hub's bound). */
const PAGE = 10_000;
/** Largest leaf accepted (transparency_log.proto LogEntry.leaf). */
const MAX_LEAF_BYTES = 1_100_000;
/** Largest |issued_at - integrated_at| of a statement (the hub log's default clock skew). */
const MAX_SKEW_MS = 10 * 60_000;
/** Most hub key statements kept (a hub rotating daily for a century stays far below). */
const MAX_STATEMENTS = 100_000;

interface KeyEvent {
  readonly index: number;
  /** Undefined: the purpose was retired at `index`. */
  readonly key: Ed25519PublicKey | undefined;
}

/** What the view holds; copied before a sync so a sync that fails leaves the last good state. */
interface ViewState {
  range: CompactRange;
  roots: Array<{ key: Ed25519PublicKey; fromIndex: number }>;
  events: Map<HubKeyPurposeName, KeyEvent[]>;
  served: Set<string>;
  statements: number;
}

function signedBy(env: DsseEnvelope, key: Ed25519PublicKey): boolean {
  try {
    verifyEnvelope(env, { keys: new KeyRing([key]), requiredKeyIds: [key.keyId] });
    return true;
  } catch {
    return false;
  }
}

/** The hub key history read from the log (module header). */
export class HubKeyView {
  readonly #origin: string;
  #state: ViewState;
  #syncing: Promise<void> | undefined;

  /** @param root - the hub's root key as configured (the log's trust root). @param origin - the log's origin. */
  constructor(root: Ed25519PublicKey, origin: string) {
    this.#origin = origin;
    this.#state = {
      range: CompactRange.empty(),
      roots: [{ key: root, fromIndex: -1 }],
      events: new Map(),
      served: new Set([root.keyId]),
      statements: 0,
    };
  }

  /** Entries read so far (the tree size of the last checkpoint synced to). */
  get size(): number {
    return this.#state.range.size;
  }

  /** The root valid at log position `index`. */
  rootAt(index: number): Ed25519PublicKey {
    let root = (this.#state.roots[0] as { key: Ed25519PublicKey }).key;
    for (const r of this.#state.roots) if (r.fromIndex < index) root = r.key;
    return root;
  }

  /** The key that signs `purpose` at `index` (the root before any delegation); undefined once retired. */
  keyFor(purpose: HubKeyPurposeName, index: number): Ed25519PublicKey | undefined {
    let last: KeyEvent | undefined;
    for (const e of this.#state.events.get(purpose) ?? []) if (e.index < index) last = e;
    return last === undefined ? this.rootAt(index) : last.key;
  }

  /** The key that signs `purpose` after everything read (what a new request must be signed with). */
  currentKey(purpose: HubKeyPurposeName): Ed25519PublicKey | undefined {
    return this.keyFor(purpose, Number.MAX_SAFE_INTEGER);
  }

  /**
   * The key of `purpose` at `index` whose id is `keyId`, or a `bad_signature` that says why not: a key retired
   * or replaced before `index`, a key of another purpose (or the root after the purpose was delegated), or a
   * key the log never named. Call {@link sync} first so `index` is covered.
   */
  expect(purpose: HubKeyPurposeName, keyId: string, index: number, what: string): Ed25519PublicKey {
    const key = this.keyFor(purpose, index);
    if (key !== undefined && key.keyId === keyId) return key;
    for (const [p, events] of this.#state.events) {
      const e = events.find((x) => x.key?.keyId === keyId);
      if (e === undefined) continue;
      if (p !== purpose)
        throw new MemberNodeError(
          "bad_signature",
          `${what} is signed by the hub's ${p} key, not its ${purpose} key`,
        );
      throw new MemberNodeError(
        "bad_signature",
        e.index >= index
          ? `${what} (log index ${index}) is signed by a ${purpose} key delegated only at index ${e.index}`
          : `${what} (log index ${index}) is signed by a ${purpose} key retired or replaced before it`,
      );
    }
    if (this.#state.roots.some((r) => r.key.keyId === keyId))
      throw new MemberNodeError(
        "bad_signature",
        key === undefined
          ? `${what}: the hub's ${purpose} key was retired and none delegated since`
          : `${what} is signed by a hub root key, not the ${purpose} key valid at log index ${index}`,
      );
    throw new MemberNodeError("bad_signature", `${what} is not signed by a hub key the log names`);
  }

  /**
   * Reads the entries the hub's latest checkpoint adds since the last sync, checks they hash to its signed root,
   * and replays the hub key statements among them. One sync at a time (a caller arriving meanwhile waits for it).
   * `bad_signature` when the entries do not match the checkpoint or a statement breaks the rules, `unavailable`
   * when the hub cannot be asked.
   */
  async sync(hub: HubLogClient, trust: HubLogTrust, signal?: AbortSignal): Promise<void> {
    while (this.#syncing !== undefined) await this.#syncing.catch(() => {});
    this.#syncing = this.#sync(hub, trust, signal);
    try {
      await this.#syncing;
    } finally {
      this.#syncing = undefined;
    }
  }

  async #sync(hub: HubLogClient, trust: HubLogTrust, signal?: AbortSignal): Promise<void> {
    const opts = signal === undefined ? {} : { signal };
    let note: Uint8Array | undefined;
    try {
      note = (await hub.getCheckpoint({}, opts)).checkpoint?.signedNote;
    } catch (cause) {
      throw new MemberNodeError("unavailable", "the hub's checkpoint could not be read", { cause });
    }
    const cp = openHubCheckpoint(note, trust);
    const old = this.#state;
    if (cp.size < old.range.size)
      throw new MemberNodeError(
        "bad_signature",
        `the hub's checkpoint (size ${cp.size}) is behind what was read`,
      );
    if (cp.size === old.range.size) return;
    const s: ViewState = {
      range: old.range,
      roots: old.roots.map((r) => ({ ...r })),
      events: new Map([...old.events].map(([p, e]) => [p, [...e]])),
      served: new Set(old.served),
      statements: old.statements,
    };
    let next = s.range.size;
    while (next < cp.size) {
      const hashes: Uint8Array[] = [];
      const end = Math.min(next + PAGE, cp.size);
      try {
        for await (const r of hub.getLogEntries({ start: BigInt(next), end: BigInt(end) }, opts)) {
          const index = next + hashes.length;
          if (r.entry === undefined || r.entry.index !== BigInt(index) || index >= end)
            throw new MemberNodeError("malformed", `the hub answered log entry ${index} with another entry`);
          const bytes = r.entry.leaf;
          if (bytes.length > MAX_LEAF_BYTES)
            throw new MemberNodeError("malformed", `log entry ${index} is too large`);
          hashes.push(hashLeaf(bytes));
          // Every leaf is decoded (not peeked at): protobuf's last-wins rule would let a crafted leaf hide its kind.
          let leaf: LogLeaf;
          try {
            leaf = fromBinary(LogLeafSchema, bytes);
          } catch (cause) {
            throw new MemberNodeError("malformed", `log entry ${index} is not an encoded LogLeaf`, { cause });
          }
          if (leaf.kind === LogEntryKind.HUB_KEY) this.#apply(s, index, leaf);
        }
      } catch (cause) {
        if (cause instanceof MemberNodeError) throw cause;
        throw new MemberNodeError("unavailable", "the hub's log entries could not be read", { cause });
      }
      if (hashes.length === 0)
        throw new MemberNodeError("malformed", `the hub sent no entry from index ${next}`);
      s.range = s.range.append(hashes).range;
      next = s.range.size;
    }
    // Every leaf read, in order: their root must be the signed one, so no statement was left out or added.
    if (!bytesEqual(s.range.root(), cp.rootHash))
      throw new MemberNodeError(
        "bad_signature",
        "the hub's log entries do not hash to its signed checkpoint",
      );
    this.#state = s;
  }

  /** Replays the hub key statement of entry `index` (an untrusted leaf of kind HUB_KEY). */
  #apply(s: ViewState, index: number, leaf: LogLeaf): void {
    const what = `hub key statement ${index}`;
    const e = leaf.envelope;
    if (e === undefined || e.payloadType !== HUB_KEY_PAYLOAD_TYPE)
      throw new MemberNodeError("malformed", `${what} is not a hub key envelope`);
    let st: HubKeyStatement;
    try {
      st = fromBinary(HubKeyStatementSchema, e.payload);
    } catch (cause) {
      throw new MemberNodeError("malformed", `${what} does not decode`, { cause });
    }
    if (++s.statements > MAX_STATEMENTS)
      throw new MemberNodeError("too_large", `more than ${MAX_STATEMENTS} hub key statements`);
    const env: DsseEnvelope = {
      payloadType: e.payloadType,
      payload: e.payload,
      signatures: e.signatures.map((x) => ({ keyid: x.keyid, sig: x.sig })),
    };
    let root = (s.roots[0] as { key: Ed25519PublicKey }).key;
    for (const r of s.roots) if (r.fromIndex < index) root = r.key;
    if (st.rootKeyId !== root.keyId || !signedBy(env, root))
      throw new MemberNodeError(
        "bad_signature",
        `${what} is not signed by the hub's root key at that position`,
      );
    if (st.origin !== this.#origin) throw new MemberNodeError("bad_signature", `${what} names another log`);
    // No backdating: a statement's own time within the log's clock skew of its integration (as auditors check).
    if (st.issuedAt === undefined || leaf.integratedAt === undefined)
      throw new MemberNodeError("malformed", `${what}: issued_at or integrated_at is missing`);
    if (!(Math.abs(Number(timestampMs(st.issuedAt)) - Number(timestampMs(leaf.integratedAt))) <= MAX_SKEW_MS))
      throw new MemberNodeError(
        "stale",
        `${what}: issued_at is more than ${MAX_SKEW_MS} ms from its integration`,
      );
    let key: Ed25519PublicKey;
    try {
      key = Ed25519PublicKey.fromRaw(st.publicKey);
    } catch (cause) {
      throw new MemberNodeError("malformed", `${what}: public_key is not an Ed25519 key`, { cause });
    }
    if (st.keyId !== keyIdOf(st.publicKey))
      throw new MemberNodeError("malformed", `${what}: key_id is not its key's`);
    if (st.action === HubKeyAction.RETIRE) {
      const purpose = PURPOSE_OF[st.purpose];
      const events = purpose === undefined ? undefined : s.events.get(purpose);
      if (purpose === undefined || events?.at(-1)?.key?.keyId !== st.keyId)
        throw new MemberNodeError("bad_signature", `${what} retires a key that is not a current purpose key`);
      events?.push({ index, key: undefined });
      return;
    }
    if (st.action !== HubKeyAction.DELEGATE && st.action !== HubKeyAction.ROTATE_ROOT)
      throw new MemberNodeError("malformed", `${what}: unknown action ${st.action}`);
    if (!signedBy(env, key))
      throw new MemberNodeError("bad_signature", `${what} is not signed by the key it names`);
    if (s.served.has(key.keyId))
      throw new MemberNodeError("bad_signature", `${what} names a key that already served the hub`);
    s.served.add(key.keyId);
    if (st.action === HubKeyAction.ROTATE_ROOT) {
      if (st.purpose !== HubKeyPurpose.ROOT)
        throw new MemberNodeError("malformed", `${what}: a root rotation must name purpose ROOT`);
      s.roots.push({ key, fromIndex: index });
      return;
    }
    const purpose = PURPOSE_OF[st.purpose];
    if (purpose === undefined)
      throw new MemberNodeError("malformed", `${what} delegates no delegable purpose`);
    const events = s.events.get(purpose) ?? [];
    events.push({ index, key });
    s.events.set(purpose, events);
  }
}
