/**
 * The hub's key set as the member node reads it from the hub's log (docs/specs/hub-keys.md): a node configured
 * with the hub's ROOT key learns the keys the root delegated (sessions, membership, countersign), their
 * replacements and retirements and the root's own rotations, from the logged HubKeyStatements — so the hub can
 * give its sessions to a key of their own, or rotate its root, without every member editing its configuration,
 * and a session signed by a retired, replaced or other-purpose key is refused.
 *
 * The statements are found by reading every entry up to a hub-signed checkpoint and recomputing the tree root
 * from the leaves (a CompactRange): the hub cannot hide a retirement by leaving an entry out, nor add one that
 * the checkpoint does not commit to. Later syncs read only the new entries. Everything read is untrusted, and
 * checked by the auditor's own code (`@lineage/auditor`: `HubKeyHistory` replays the statements, each signed by
 * the root valid at its position and, for a delegation or rotation, by the key it names; `openHubCheckpoint`
 * opens the checkpoint under the root valid at its size), so a node and an auditor cannot disagree on the keys.
 *
 * Root rotations: a checkpoint signed by a root the log rotated to is opened once the entries it covers show the
 * rotation, signed by the root before it. The rotations followed are saved (HubRootStore, the node's `node_meta`):
 * after a restart the node requires the log to still show them, so a hub (or a thief of a rotated-out root)
 * cannot take the node back to an older root by serving a history without the rotation.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { LogEntryKind, type LogLeaf, LogLeafSchema } from "@lineage/api";
import {
  type AuditedLeaf,
  decodeAuditedLeaf,
  HubKeyHistory,
  type HubKeyRecord,
  isAuditError,
  openHubCheckpoint as openAuditedCheckpoint,
  type RootRotation,
  type TrustRoot,
  trustWithRotations,
} from "@lineage/auditor";
import {
  bytesEqual,
  type Checkpoint,
  CompactRange,
  Ed25519PublicKey,
  fromHex,
  hashLeaf,
  parseCheckpoint,
  parseNote,
  sha256,
  toHex,
} from "@lineage/crypto";
import type { MemberNodeDatabase, Store } from "@lineage/store";
import type { HubLogClient, HubLogTrust } from "./canaries/hub-log.js";
import { MemberNodeError } from "./member-node-error.js";

/** The purposes the hub's root delegates. */
export type HubKeyPurposeName = "membership" | "sessions" | "countersign";

/** DSSE payload type of hub key statements (the hub's log-leaf.ts). */
export const HUB_KEY_PAYLOAD_TYPE = "application/vnd.lineage.hub-key.v1+proto";

/** Entries asked for per GetLogEntries call (the hub's bound). */
const PAGE = 10_000;
/** Largest leaf accepted (transparency_log.proto LogEntry.leaf). */
const MAX_LEAF_BYTES = 1_100_000;
/** Most root rotations saved for one log. */
const MAX_SAVED_ROTATIONS = 1000;

/** Where a node keeps the root rotations it followed (so a restart keeps following them). */
export interface HubRootStore {
  /** The rotations followed so far, in log order (empty before the first). */
  load(): Promise<readonly RootRotation[]>;
  /** Replaces them (called with a longer list after a sync that followed a new rotation). */
  save(rotations: readonly RootRotation[]): Promise<void>;
}

/** Options of {@link HubKeyView}. */
export interface HubKeyViewOptions {
  /** Saves and restores the followed rotations; without it they are relearned from the log after a restart. */
  readonly roots?: HubRootStore;
}

/** What the view holds; replaced whole after a sync, so a sync that fails leaves the last good state. */
interface ViewState {
  readonly range: CompactRange;
  readonly records: readonly HubKeyRecord[];
  readonly history: HubKeyHistory;
}

/** The auditor's codes, as the node's (only safe messages: they are the auditor's own). */
function fromAudit(cause: unknown, what: string): MemberNodeError {
  if (cause instanceof MemberNodeError) return cause;
  if (!isAuditError(cause)) return new MemberNodeError("malformed", `${what}: unexpected failure`, { cause });
  const code =
    cause.code === "stale" || cause.code === "too_large" || cause.code === "malformed"
      ? cause.code
      : "bad_signature";
  return new MemberNodeError(code, cause.message, { cause });
}

/** The hub key history read from the log (module header). */
export class HubKeyView {
  readonly #origin: string;
  readonly #root: Ed25519PublicKey;
  readonly #roots: HubRootStore | undefined;
  /** The rotations this node followed before (from the store; loaded on the first sync). */
  #followed: readonly RootRotation[] | undefined;
  #state: ViewState;
  #syncing: Promise<void> | undefined;

  /**
   * @param root - the hub's root key as configured (the log's trust root). @param origin - the log's origin.
   */
  constructor(root: Ed25519PublicKey, origin: string, options: HubKeyViewOptions = {}) {
    this.#origin = origin;
    this.#root = root;
    this.#roots = options.roots;
    this.#state = {
      range: CompactRange.empty(),
      records: [],
      history: HubKeyHistory.build(this.#trust(undefined), [], origin),
    };
  }

  #trust(trust: HubLogTrust | undefined): TrustRoot {
    // The checkpoints' key name is the configured verifier's; the statements need only the key.
    const log = trust?.verifier ?? { name: this.#origin, keyId: 0, verify: () => false };
    return { log, hubKey: this.#root, origin: this.#origin };
  }

  /** Entries read so far (the tree size of the last checkpoint synced to). */
  get size(): number {
    return this.#state.range.size;
  }

  /** The root valid at log position `index`. */
  rootAt(index: number): Ed25519PublicKey {
    return this.#state.history.rootAt(index);
  }

  /** The hub's current root: the configured one, or the last the log rotated to. */
  get currentRoot(): Ed25519PublicKey {
    return this.rootAt(Number.MAX_SAFE_INTEGER);
  }

  /** The root rotations read from the log, in log order. */
  get rotations(): readonly RootRotation[] {
    return this.#state.history.rotations;
  }

  /** The key that signs `purpose` at `index` (the root before any delegation); undefined once retired. */
  keyFor(purpose: HubKeyPurposeName, index: number): Ed25519PublicKey | undefined {
    return this.#state.history.keyFor(purpose, index);
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
    const h = this.#state.history;
    const key = h.keyFor(purpose, index);
    if (key !== undefined && key.keyId === keyId) return key;
    const d = h.delegations.find((x) => x.key.keyId === keyId);
    if (d !== undefined) {
      if (d.purpose !== purpose)
        throw new MemberNodeError(
          "bad_signature",
          `${what} is signed by the hub's ${d.purpose} key, not its ${purpose} key`,
        );
      throw new MemberNodeError(
        "bad_signature",
        d.fromIndex >= index
          ? `${what} (log index ${index}) is signed by a ${purpose} key delegated only at index ${d.fromIndex}`
          : `${what} (log index ${index}) is signed by a ${purpose} key retired or replaced before it`,
      );
    }
    if (keyId === this.#root.keyId || h.rotations.some((r) => r.key.keyId === keyId))
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
   * `bad_signature` when the entries do not match the checkpoint, a statement breaks the rules, the checkpoint is
   * not signed by the root valid at its size, or the log no longer shows a rotation this node followed;
   * `unavailable` when the hub cannot be asked.
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
    if (trust.origin !== this.#origin)
      throw new MemberNodeError("invalid_argument", "the log trust names another origin than the view's");
    if (this.#followed === undefined) {
      const saved = (await this.#roots?.load()) ?? [];
      if (saved.length > MAX_SAVED_ROTATIONS)
        throw new MemberNodeError("too_large", "more saved root rotations than the node keeps");
      this.#followed = saved;
    }
    let note: Uint8Array | undefined;
    try {
      note = (await hub.getCheckpoint({}, opts)).checkpoint?.signedNote;
    } catch (cause) {
      throw new MemberNodeError("unavailable", "the hub's checkpoint could not be read", { cause });
    }
    if (note === undefined || note.length === 0)
      throw new MemberNodeError("malformed", "the hub sent no checkpoint");
    // Parsed only: its signature is checked once the statements it covers are read (a rotation may be among
    // them), and nothing read is kept unless it verifies.
    let claimed: Checkpoint;
    try {
      claimed = parseCheckpoint(parseNote(note).text);
    } catch (cause) {
      throw new MemberNodeError("malformed", "a checkpoint from the hub is not a valid signed note", {
        cause,
      });
    }
    const old = this.#state;
    if (claimed.size < old.range.size)
      throw new MemberNodeError(
        "bad_signature",
        `the hub's checkpoint (size ${claimed.size}) is behind what was read`,
      );
    let range = old.range;
    const records = [...old.records];
    let next = range.size;
    while (next < claimed.size) {
      const hashes: Uint8Array[] = [];
      const end = Math.min(next + PAGE, claimed.size);
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
          if (leaf.kind === LogEntryKind.HUB_KEY) {
            let audited: AuditedLeaf;
            try {
              audited = decodeAuditedLeaf(bytes, `hub key statement ${index}`);
            } catch (cause) {
              throw fromAudit(cause, `hub key statement ${index}`);
            }
            records.push({ index, leaf: audited });
          }
        }
      } catch (cause) {
        if (cause instanceof MemberNodeError) throw cause;
        throw new MemberNodeError("unavailable", "the hub's log entries could not be read", { cause });
      }
      if (hashes.length === 0)
        throw new MemberNodeError("malformed", `the hub sent no entry from index ${next}`);
      range = range.append(hashes).range;
      next = range.size;
    }
    // Every leaf read, in order: their root must be the claimed one, so no statement was left out or added.
    if (!bytesEqual(range.root(), claimed.rootHash))
      throw new MemberNodeError(
        "bad_signature",
        "the hub's log entries do not hash to its signed checkpoint",
      );
    let history: HubKeyHistory;
    try {
      history = HubKeyHistory.build(this.#trust(trust), records, this.#origin);
    } catch (cause) {
      throw fromAudit(cause, "the hub's key statements");
    }
    // The checkpoint under the root valid at its size (the configured root, or one the log rotated to).
    try {
      openAuditedCheckpoint(note, trustWithRotations(this.#trust(trust), history));
    } catch (cause) {
      throw fromAudit(cause, "the hub's checkpoint");
    }
    const rotations = history.rotations;
    const followed = this.#followed;
    for (const [i, f] of followed.entries()) {
      const r = rotations[i];
      if (r === undefined || r.index !== f.index || r.key.keyId !== f.key.keyId)
        throw new MemberNodeError(
          "bad_signature",
          `the hub's log does not show the root rotation at index ${f.index} this node followed`,
        );
    }
    if (rotations.length > followed.length) {
      if (rotations.length > MAX_SAVED_ROTATIONS)
        throw new MemberNodeError("too_large", "more root rotations than the node keeps");
      await this.#roots?.save(rotations);
      this.#followed = rotations;
    }
    this.#state = { range, records, history };
  }
}

/**
 * A {@link HubRootStore} in the node's `node_meta` (one row per log origin: the rotations as JSON, keys in hex).
 * What it holds came from statements the view checked; it is read back as untrusted all the same.
 */
export function nodeMetaRootStore(store: Store<MemberNodeDatabase>, origin: string): HubRootStore {
  const key = `hub_root_rotations:${toHex(sha256(new TextEncoder().encode(origin))).slice(0, 32)}`;
  return {
    async load() {
      const row = await store.db
        .selectFrom("node_meta")
        .select("value")
        .where("key", "=", key)
        .executeTakeFirst();
      if (row === undefined) return [];
      try {
        const v = JSON.parse(row.value) as {
          origin?: unknown;
          rotations?: Array<{ index: unknown; key: unknown }>;
        };
        if (v.origin !== origin || !Array.isArray(v.rotations)) throw new Error("not this log's rotations");
        return v.rotations.map((r) => {
          if (typeof r.index !== "number" || !Number.isSafeInteger(r.index) || typeof r.key !== "string")
            throw new Error("a rotation is damaged");
          return { index: r.index, key: Ed25519PublicKey.fromRaw(fromHex(r.key)) };
        });
      } catch (cause) {
        throw new MemberNodeError("malformed", "the saved hub root rotations are damaged", { cause });
      }
    },
    async save(rotations) {
      const value = JSON.stringify({
        origin,
        rotations: rotations.map((r) => ({ index: r.index, key: toHex(r.key.raw) })),
      });
      await store.db
        .insertInto("node_meta")
        .values({ key, value })
        .onConflict((oc) => oc.column("key").doUpdateSet({ value, updated_at: new Date() }))
        .execute();
    },
  };
}
