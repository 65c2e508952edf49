/**
 * The hub's transparency log (DESIGN.md, "Transparency log"): an append-only RFC 6962/9162 Merkle
 * log in Postgres (or PGlite) of every attestation, canary commitment, membership change, review
 * decision and withdrawal, with C2SP signed-note checkpoints (c2sp.org/tlog-checkpoint).
 *
 * Appends go through ONE writer that groups whatever arrived meanwhile into one transaction: the
 * leaves, every perfect-subtree node the batch completes (from the in-memory compact range), and,
 * when due, a signed checkpoint. A caller's promise resolves only after that commit, so a resolved
 * append is durable. Proofs read O(log n) stored nodes and never need all leaves.
 *
 * Admission: signatures are verified concurrently (libuv thread pool) before queueing; the checks
 * that depend on log state (key valid at the statement's time, member active, commitment logged
 * before use, withdrawal target) run in the writer, in log order, against the member keys the log
 * itself established — the same keys an auditor rebuilds from the membership entries.
 */
import { createPrivateKey, type KeyObject, sign as nodeSign, randomBytes } from "node:crypto";
import { clone, create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  CanaryCommitmentSchema,
  type EpochStatement,
  EpochStatementSchema,
  LogEntryKind,
  MembershipRecordSchema,
  ReferenceFingerprintCommitmentSchema,
  type ReviewDecision,
  ReviewDecisionSchema,
  type SessionOpened,
  SessionOpenedSchema,
  type SketchSuppression,
  SketchSuppressionSchema,
  type SuspectSighting,
  SuspectSightingSchema,
  WatermarkKeyCommitmentSchema,
  type Withdrawal,
  WithdrawalSchema,
} from "@lineage/api";
import {
  addSignature,
  bytesEqual,
  type CompactRange,
  consistencyProofFromStore,
  type DsseEnvelope,
  type Ed25519PrivateKey,
  Ed25519PublicKey,
  ed25519NoteSigner,
  formatVerifierKey,
  hashLeaf,
  inclusionProofFromStore,
  isCryptoError,
  KeyRing,
  type MerkleNode,
  type NoteSigner,
  nodesForRoot,
  paeBytes,
  rootFromNodes,
  sessionSeed,
  signCheckpoint,
  signEnvelope,
  toHex,
  verifyEnvelopeAsync,
  verifyThenCountersign,
} from "@lineage/crypto";
import { type HubDatabase, Mutex, type Store } from "@lineage/store";
import { type Kysely, sql } from "kysely";
import { storeCosignatures, withStoredCosignatures } from "./cosignature-store.js";
import { checkEpochStatement, checkSketchSuppression } from "./epoch-statement.js";
import {
  delegationEnvelope,
  HUB_KEY_PURPOSES,
  type HubKeyPurposeName,
  type HubPurposeKeys,
  purposeStateName,
  ROOT_STATE_NAME,
  retirementEnvelope,
  rootRotationEnvelope,
} from "./hub-key-statement.js";
import { isLogError, LogError } from "./log-error.js";
import { PREVIOUS_SIZE_EXTENSION, storedHead, verifyStoredLog } from "./log-integrity.js";
import {
  decodeEntryPayload,
  encodeLeaf,
  kindOfPayloadType,
  LOG_DSSE_LIMITS,
  PAYLOAD_TYPES,
} from "./log-leaf.js";
import {
  commitmentKey,
  commitmentOfEnvelope,
  type LoggedCommitment,
  type LoggedSession,
  LogState,
  replayStoredEntry,
} from "./log-state.js";
import {
  attestationIndexOfSession,
  checkpointAt,
  checkpointBefore,
  fetchNodes,
  firstCheckpointCovering,
  insertBatch,
  type LeafColumns,
  readEntries,
  readEntriesOfKindAbout,
  readEntry,
  type StoredEntry,
} from "./log-store.js";
import {
  keyValidAt,
  keyValidAtIndex,
  type LoggedKey,
  type LoggedMember,
  MemberRegistry,
} from "./member-registry.js";
import {
  admitAttestationV2,
  admitSession,
  checkCanaryCommitment,
  checkReferenceCommitment,
  checkSession,
  checkSighting,
  checkStatementV2,
  checkWatermarkCommitment,
} from "./protocol-admission.js";

/** Options of {@link TransparencyLog.open}. */
export interface TransparencyLogOptions {
  /** The hub's store, migrated with `hubMigrations`. */
  readonly store: Store<HubDatabase>;
  /** Log identity, the checkpoints' first line (e.g. "lineage.example/log"), 1..256 chars. */
  readonly origin: string;
  /**
   * The hub's root key: signs checkpoints and the hub key statements; and every purpose not given in
   * `purposeKeys` (a single-key hub: membership/review records, sessions and sightings, countersignatures).
   */
  readonly hubKey: Ed25519PrivateKey;
  /**
   * Keys per purpose (docs/specs/hub-keys.md). On open, a purpose key the log has not delegated yet is
   * delegated by a logged statement (root- and key-signed) before it signs anything, so starting with a
   * new key file is a rotation. A purpose the log delegated that this process has no key for is refused
   * when it would sign it (`failed_precondition`).
   */
  readonly purposeKeys?: HubPurposeKeys;
  /**
   * The log's first root key (the auditors' `--log-key`), when `hubKey` is a later root: start-up follows the
   * logged ROTATE_ROOT chain from it (log-integrity.ts). Default: `hubKey`'s public key (a log never rotated).
   */
  readonly trustRoot?: Ed25519PublicKey;
  /**
   * A root rotation to perform on open (docs/specs/hub-keys.md): when the log's root is `hubKey`, the log
   * logs ROTATE_ROOT naming this key (signed by both) and signs everything after with it; when the log already
   * names it (a rotation logged by an earlier run that stopped before its key file was renamed), it is adopted.
   */
  readonly nextRoot?: Ed25519PrivateKey;
  /** The reason logged in that rotation's statement (at most 256 characters; default "hub root rotation"). */
  readonly nextRootReason?: string;
  /** Note key name of the checkpoint signature (default: the origin). */
  readonly keyName?: string;
  /** Sign a checkpoint once this many entries are not yet covered by one (default 1000). */
  readonly checkpointEvery?: number;
  /** Sign a checkpoint at most this long after an entry was appended (ms, default 1000). */
  readonly checkpointIntervalMs?: number;
  /** Most entries written in one transaction (default 2000). */
  readonly maxBatch?: number;
  /** Most appends waiting for the writer; further appends fail with `unavailable` (default 100000). */
  readonly maxQueue?: number;
  /** How far a statement's own time may be from the hub's clock (ms, default 10 minutes). */
  readonly maxClockSkewMs?: number;
  /** Clock (ms since the epoch); tests inject one. */
  readonly now?: () => number;
}

/** A signed checkpoint. */
export interface SignedCheckpoint {
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  /** The C2SP signed note. */
  readonly note: string;
}

export { PREVIOUS_SIZE_EXTENSION };

/** The first checkpoint covering a leaf, with the evidence that it is the first. */
export interface FirstCovering {
  readonly checkpoint: SignedCheckpoint;
  /** The checkpoint signed just before (undefined when `checkpoint` was the first of a non-empty tree). */
  readonly previous: SignedCheckpoint | undefined;
  /** Consistency proof from `previous` to `checkpoint` (empty without `previous`). */
  readonly previousConsistency: Uint8Array[];
}

/** Where an entry landed. */
export interface AppendedEntry {
  readonly index: number;
  readonly leafHash: Uint8Array;
  /** The encoded LogLeaf as hashed. */
  readonly leaf: Uint8Array;
  readonly kind: LogEntryKind;
  /** The envelope as logged (an attestation's carries the hub countersignature). */
  readonly envelope: DsseEnvelope;
  readonly integratedAtMs: number;
}

/** Fields of a leaf that the writer stores beside it for lookups. */
interface EntryMeta {
  readonly memberId: string | null;
  readonly keyId: string | null;
  readonly sessionId: string | null;
  readonly refIndex: number | null;
}

/** What the writer checks and stages for one entry. */
interface Staging {
  readonly registry: MemberRegistry;
  readonly index: number;
  readonly nowMs: number;
  /** The batch's staged state over the log's (merged only after the batch commits). */
  readonly state: LogState;
}

interface Prepared {
  readonly kind: LogEntryKind;
  readonly envelope: DsseEnvelope;
  readonly meta: EntryMeta;
  /** State checks, in log order; throws LogError. May change `s.registry` (membership only). */
  readonly admit: (s: Staging) => void;
}

interface Pending {
  readonly prepared: Prepared;
  readonly resolve: (e: AppendedEntry) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * What the hub states when it opens a session: SessionOpened without the seed, which the log derives itself
 * from a checkpoint (sessionSeed in @lineage/crypto), and with the nonce and times optional (the hub draws a
 * fresh 32-byte nonce and stamps opened_at now).
 */
export type SessionInit = Omit<
  MessageInitShape<typeof SessionOpenedSchema>,
  "seed" | "seedCheckpointSize" | "nonce" | "openedAt" | "$typeName"
> & {
  /** Tree size of the hub-signed checkpoint the seed comes from (default: the latest checkpoint). */
  readonly seedCheckpointSize?: number;
  /** 32 bytes; drawn at random when absent. */
  readonly nonce?: Uint8Array;
  /** Default: now. */
  readonly openedAtMs?: number;
};

/** A logged session, as the hub's session code and the member node read it. */
export interface SessionView {
  readonly index: number;
  readonly opened: SessionOpened;
}

const ORIGIN_RE = /^[\x21-\x7e][\x20-\x7e]{0,255}$/;
const ID64_RE = /^[\x21-\x7e]{1,64}$/;

function timeMs(ts: Timestamp | undefined, what: string): number {
  if (ts === undefined) throw new LogError("invalid_argument", `${what} is missing`);
  const ms = Number(timestampMs(ts));
  if (!Number.isFinite(ms)) throw new LogError("invalid_argument", `${what} is out of range`);
  return ms;
}

/** Maps a verification failure to the log's codes (the crypto codes are the same words). */
function mapCryptoError(err: unknown): never {
  if (isCryptoError(err)) {
    const code =
      err.code === "bad_signature" ||
      err.code === "unknown_key" ||
      err.code === "malformed" ||
      err.code === "too_large"
        ? err.code
        : "invalid_argument";
    throw new LogError(code, err.message, { cause: err });
  }
  throw err;
}

/**
 * The transparency log. Open it once per hub process (it is the single writer of the log tables);
 * read methods may be called concurrently from many requests.
 */
export class TransparencyLog implements AsyncDisposable {
  readonly origin: string;
  readonly #store: Store<HubDatabase>;
  /** The root key this process signs checkpoints and hub key statements with (changes on a root rotation). */
  #root: Ed25519PrivateKey;
  /** The purpose keys given; a purpose without one is signed by the current root. */
  readonly #given: HubPurposeKeys;
  /** node:crypto KeyObjects of the signing keys, for signing in libuv's thread pool (built once per key). */
  readonly #keyObjects = new WeakMap<Ed25519PrivateKey, KeyObject>();
  #noteSigner: NoteSigner;
  /** The root key the stored log's rotation chain ends at (log-integrity.ts): who may sign the next checkpoint. */
  #chainRoot: Ed25519PublicKey;
  /** A root this process is rotating to: it signs the checkpoint of a batch that admits its rotation. */
  #pendingRoot: Ed25519PrivateKey | undefined;
  readonly #keyName: string;
  readonly #checkpointEvery: number;
  readonly #checkpointIntervalMs: number;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #skewMs: number;
  readonly #now: () => number;

  #range: CompactRange;
  #registry: MemberRegistry;
  readonly #state: LogState;
  #checkpoint: SignedCheckpoint | undefined;
  #checkpointAtMs = 0;
  #lastIntegratedMs = 0;

  #queue: Pending[] = [];
  #draining: Promise<void> | undefined;
  #checkpointWanted: Array<{ resolve: (c: SignedCheckpoint) => void; reject: (e: unknown) => void }> = [];
  #closed = false;
  readonly #checkpointListeners: Array<(cp: SignedCheckpoint) => void> = [];
  readonly #cosigned = new Map<number, string>();
  readonly #timer: NodeJS.Timeout;
  /** Held while the log's in-memory state follows the store: by each write batch and by catching up. */
  readonly #sync = new Mutex();
  readonly #integrity: ReturnType<typeof integrityOptions>;

  private constructor(
    options: TransparencyLogOptions,
    state: {
      range: CompactRange;
      registry: MemberRegistry;
      state: LogState;
      checkpoint: SignedCheckpoint | undefined;
      lastIntegratedMs: number;
      rootKey: Ed25519PublicKey;
    },
  ) {
    this.origin = options.origin;
    this.#store = options.store;
    this.#root = options.hubKey;
    this.#given = { ...(options.purposeKeys ?? {}) };
    this.#keyName = options.keyName ?? options.origin;
    this.#noteSigner = ed25519NoteSigner(this.#keyName, options.hubKey);
    this.#checkpointEvery = options.checkpointEvery ?? 1000;
    this.#checkpointIntervalMs = options.checkpointIntervalMs ?? 1000;
    this.#maxBatch = options.maxBatch ?? 2000;
    this.#maxQueue = options.maxQueue ?? 100_000;
    this.#skewMs = options.maxClockSkewMs ?? 10 * 60_000;
    this.#now = options.now ?? Date.now;
    this.#range = state.range;
    this.#registry = state.registry;
    this.#state = state.state;
    this.#checkpoint = state.checkpoint;
    this.#checkpointAtMs = this.#now();
    this.#lastIntegratedMs = state.lastIntegratedMs;
    this.#chainRoot = state.rootKey;
    this.#integrity = integrityOptions(options);
    // Periodic checkpoints: an entry is covered by a signed checkpoint within the interval even
    // when no further appends arrive. unref(): the timer alone never keeps a process alive.
    this.#timer = setInterval(() => {
      if (this.#checkpoint === undefined || this.#range.size > this.#checkpoint.treeSize) {
        this.checkpoint().catch(() => {});
      }
    }, this.#checkpointIntervalMs);
    this.#timer.unref();
  }

  /**
   * Opens the log on a migrated hub store: rebuilds the compact range from stored nodes and the
   * member keys, commitments and withdrawals from the logged entries, and checks the stored tree
   * against the latest checkpoint (fails with `internal` if they disagree).
   */
  static async open(options: TransparencyLogOptions): Promise<TransparencyLog> {
    if (typeof options.origin !== "string" || !ORIGIN_RE.test(options.origin)) {
      throw new LogError("invalid_argument", "origin must be 1..256 printable ASCII characters");
    }
    for (const [name, v, min, max] of [
      ["checkpointEvery", options.checkpointEvery, 1, 1_000_000],
      ["checkpointIntervalMs", options.checkpointIntervalMs, 10, 3_600_000],
      ["maxBatch", options.maxBatch, 1, 10_000],
      ["maxQueue", options.maxQueue, 1, 10_000_000],
      ["maxClockSkewMs", options.maxClockSkewMs, 0, 86_400_000],
    ] as const) {
      if (v !== undefined && (!Number.isSafeInteger(v) || v < min || v > max)) {
        throw new LogError("invalid_argument", `${name} must be an integer in [${min}, ${max}]`);
      }
    }
    // Refuse to serve (or sign into) a log that does not verify against this hub's own checkpoints, and
    // rebuild the member keys and admission state from the same single read of the entries, in log order.
    const registry = new MemberRegistry();
    const state = new LogState();
    let lastIntegratedMs = 0;
    const verified = await verifyStoredLog(options.store.db, {
      ...integrityOptions(options),
      onEntry: (e) => {
        lastIntegratedMs = replayStoredEntry(registry, state, e);
      },
    });
    const range = verified.range;
    const checkpoint = verified.latest === undefined ? undefined : checkpointOfRow(verified.latest);
    const log = new TransparencyLog(options, {
      range,
      registry,
      state,
      checkpoint,
      lastIntegratedMs,
      rootKey: verified.rootKey,
    });
    try {
      const chainRoot = verified.rootKey.keyId;
      const next = options.nextRoot;
      if (next !== undefined && chainRoot === next.keyId) log.#useRoot(next);
      else if (chainRoot !== options.hubKey.keyId)
        throw new LogError(
          "unknown_key",
          `the log's root key is ${chainRoot.slice(0, 16)} (rotated at index ${verified.rotatedAt}), not this key ${options.hubKey.keyId.slice(0, 16)}: start the hub with the current root key file`,
        );
      else if (next !== undefined) await log.rotateRoot(next, options.nextRootReason ?? "hub root rotation");
      await log.#delegatePurposeKeys();
    } catch (err) {
      await log.close().catch(() => {});
      throw err;
    }
    return log;
  }

  /**
   * Logs a delegation for each purpose key given that the log does not hold as that purpose's current key
   * (first start of a key set, or a new key file: a rotation), before anything is signed with it.
   */
  async #delegatePurposeKeys(): Promise<void> {
    for (const p of HUB_KEY_PURPOSES) {
      const key = this.#key(p);
      if (key.keyId === this.#root.keyId) continue;
      await this.refresh();
      if (this.#state.hubKeyOf(purposeStateName(p))?.keyId === key.keyId) continue;
      const rootId = this.#root.keyId;
      if (
        HUB_KEY_PURPOSES.some((q) => q !== p && this.#key(q).keyId === key.keyId) ||
        key.keyId === rootId ||
        this.#state.wasHubKey(key.keyId) ||
        key.keyId === this.#integrity.hubPublicKey.keyId
      )
        throw new LogError(
          "invalid_argument",
          `the ${p} key serves (or served) another purpose or was retired: one key per purpose, once (hub keys rotate --purpose ${p} makes a new one)`,
        );
      const envelope = delegationEnvelope(p, key, this.#root, this.origin, this.#now(), "hub key set");
      const name = purposeStateName(p);
      await this.#enqueue({
        kind: LogEntryKind.HUB_KEY,
        envelope,
        meta: { memberId: null, keyId: key.keyId, sessionId: null, refIndex: null },
        admit: (s) => {
          if (s.state.hubKeyOf(name)?.keyId === key.keyId)
            throw new LogError("already_exists", `the ${p} key is already delegated`);
          const root = s.state.hubKeyOf(ROOT_STATE_NAME)?.keyId ?? this.#integrity.hubPublicKey.keyId;
          if (root !== rootId)
            throw new LogError(
              "failed_precondition",
              "this process does not hold the log's current root key",
            );
          s.state.setHubKey(name, key.keyId, s.index, key.publicKey.raw);
        },
      }).catch((err: unknown) => {
        // Another process (a replica on the same Postgres log) delegated the same key first.
        if (!(err instanceof LogError && err.code === "already_exists")) throw err;
      });
    }
  }

  /**
   * Refuses to sign `purpose` with a key the log does not hold as that purpose's current key (another
   * process rotated it, or this process was started without the key set): an auditor would refuse it.
   */
  #checkPurpose(state: LogState, purpose: HubKeyPurposeName, signed?: DsseEnvelope): void {
    const logged = state.hubKeyOf(purposeStateName(purpose));
    // Never delegated: the root valid at this position signs the purpose (after a rotation, the new root).
    const expected =
      logged?.keyId ?? state.hubKeyOf(ROOT_STATE_NAME)?.keyId ?? this.#integrity.hubPublicKey.keyId;
    // The envelope's own signature when given (it may have been signed before a rotation admitted meanwhile).
    const ok =
      expected !== "" &&
      (signed === undefined
        ? this.#key(purpose).keyId === expected
        : signed.signatures.some((sig) => sig.keyid === expected));
    if (!ok) {
      throw new LogError(
        "failed_precondition",
        logged === undefined
          ? `the hub's ${purpose} key is not delegated in the log, and this process's key is not the log's root (restart the hub with its key set)`
          : logged.keyId === ""
            ? `the hub's ${purpose} key was retired at log index ${logged.index}: nothing signs ${purpose} until a new key is delegated (lineage hub keys rotate --purpose ${purpose})`
            : `the log delegated ${purpose} to key ${logged.keyId.slice(0, 16)} at index ${logged.index}, which this process does not hold (restart the hub with the current key set)`,
      );
    }
  }

  /** Makes `key` this process's root: it signs checkpoints and hub key statements from now on. */
  #useRoot(key: Ed25519PrivateKey): void {
    this.#root = key;
    this.#chainRoot = key.publicKey;
    this.#noteSigner = ed25519NoteSigner(this.#keyName, key);
    if (this.#pendingRoot?.keyId === key.keyId) this.#pendingRoot = undefined;
  }

  /** The note signer of the root the staged state ends at, or undefined when this process holds no such key. */
  #checkpointSigner(state: LogState): NoteSigner | undefined {
    const rootId = state.hubKeyOf(ROOT_STATE_NAME)?.keyId ?? this.#integrity.hubPublicKey.keyId;
    if (rootId === this.#root.keyId) return this.#noteSigner;
    const pending = this.#pendingRoot;
    if (pending !== undefined && rootId === pending.keyId) return ed25519NoteSigner(this.#keyName, pending);
    return undefined;
  }

  /** After a batch or a catch-up: follow a rotation to the root this process is rotating to. */
  #followRoot(): void {
    const rootId = this.#state.hubKeyOf(ROOT_STATE_NAME)?.keyId;
    const pending = this.#pendingRoot;
    if (pending !== undefined && rootId === pending.keyId) this.#useRoot(pending);
  }

  /**
   * Rotates the hub's root (docs/specs/hub-keys.md, ROTATE_ROOT): logs a statement naming `newRoot`, signed by
   * the current root (the handover) and by `newRoot` (proof of possession); the batch that admits it and every
   * later checkpoint are signed by `newRoot`, and the old root signs nothing after it (auditors refuse it:
   * `hub_key_not_valid`). Purposes never delegated are signed by the new root from then on. Resolves once the
   * rotation and a checkpoint covering it, signed by the new root, are durable. Refused (`failed_precondition`)
   * when this process does not hold the log's current root, (`invalid_argument`) when `newRoot` is or was a
   * hub key.
   */
  async rotateRoot(newRoot: Ed25519PrivateKey, reason: string): Promise<AppendedEntry> {
    this.#checkOpen();
    await this.refresh();
    const old = this.#root;
    if (this.#chainRoot.keyId !== old.keyId)
      throw new LogError("failed_precondition", "this process does not hold the log's current root key");
    if (
      newRoot.keyId === old.keyId ||
      this.#state.wasHubKey(newRoot.keyId) ||
      newRoot.keyId === this.#integrity.hubPublicKey.keyId ||
      HUB_KEY_PURPOSES.some((p) => this.#given[p]?.keyId === newRoot.keyId)
    )
      throw new LogError(
        "invalid_argument",
        "the new root key serves (or served) the hub already: one key, one role",
      );
    if (this.#pendingRoot !== undefined && this.#pendingRoot.keyId !== newRoot.keyId)
      throw new LogError("failed_precondition", "another root rotation is in progress");
    this.#pendingRoot = newRoot;
    const envelope = rootRotationEnvelope(newRoot, old, this.origin, this.#now(), reason);
    let entry: AppendedEntry;
    try {
      entry = await this.#enqueue({
        kind: LogEntryKind.HUB_KEY,
        envelope,
        meta: { memberId: null, keyId: newRoot.keyId, sessionId: null, refIndex: null },
        admit: (s) => {
          const rootId = s.state.hubKeyOf(ROOT_STATE_NAME)?.keyId ?? this.#integrity.hubPublicKey.keyId;
          if (rootId !== old.keyId)
            throw new LogError(
              "failed_precondition",
              `the log's root was rotated to ${rootId.slice(0, 16)} meanwhile`,
            );
          s.state.setHubKey(ROOT_STATE_NAME, newRoot.keyId, s.index, newRoot.publicKey.raw);
        },
      });
    } catch (err) {
      if (this.#pendingRoot?.keyId === newRoot.keyId) this.#pendingRoot = undefined;
      throw err;
    }
    await this.checkpoint();
    return entry;
  }

  /**
   * Retires `purpose`'s current key (RETIRE, signed by the root): from its index on nothing signs the purpose
   * (appends needing it are refused with `failed_precondition`) until a new delegation (a new purpose key
   * file, `hub keys rotate`). `failed_precondition` when the purpose has no current delegated key.
   */
  async retire(purpose: HubKeyPurposeName, reason: string): Promise<AppendedEntry> {
    this.#checkOpen();
    await this.refresh();
    const name = purposeStateName(purpose);
    const current = this.#state.hubKeyOf(name);
    if (current === undefined || current.keyId === "" || current.publicKey === undefined)
      throw new LogError(
        "failed_precondition",
        current === undefined
          ? `${purpose} was never delegated (the root signs it): nothing to retire`
          : `${purpose}'s key was already retired at index ${current.index}`,
      );
    const { keyId, publicKey } = current;
    const envelope = retirementEnvelope(
      purpose,
      keyId,
      publicKey,
      this.#root,
      this.origin,
      this.#now(),
      reason,
    );
    return this.#enqueue({
      kind: LogEntryKind.HUB_KEY,
      envelope,
      meta: { memberId: null, keyId, sessionId: null, refIndex: null },
      admit: (s) => {
        if (s.state.hubKeyOf(name)?.keyId !== keyId)
          throw new LogError("failed_precondition", `${purpose}'s key changed meanwhile: nothing retired`);
        const rootId = s.state.hubKeyOf(ROOT_STATE_NAME)?.keyId ?? this.#integrity.hubPublicKey.keyId;
        if (rootId !== this.#root.keyId)
          throw new LogError("failed_precondition", "this process does not hold the log's current root key");
        s.state.setHubKey(name, "", s.index);
      },
    });
  }

  /** The last root rotation logged (the current root's key id and its statement's index); undefined: never. */
  get rootRotation(): { readonly keyId: string; readonly index: number } | undefined {
    const r = this.#state.hubKeyOf(ROOT_STATE_NAME);
    return r === undefined ? undefined : { keyId: r.keyId, index: r.index };
  }

  /** Indexes of every hub key statement logged (delegations, retirements, root rotations), in log order. */
  get hubKeyStatementIndexes(): number[] {
    return this.#state.hubKeyIndexes();
  }

  /**
   * The key this process signs `purpose` with (its purpose key, or the current root where none was given): the
   * hub's session request headers are signed with the sessions key, as the sessions it logs are.
   */
  signingKey(purpose: HubKeyPurposeName): Ed25519PrivateKey {
    return this.#key(purpose);
  }

  /** The public key of each purpose (the root's where none was delegated): what member nodes verify sessions with. */
  get purposePublicKeys(): Readonly<Record<HubKeyPurposeName, Ed25519PublicKey>> {
    return {
      membership: this.#key("membership").publicKey,
      sessions: this.#key("sessions").publicKey,
      countersign: this.#key("countersign").publicKey,
    };
  }

  /** Number of durable entries. */
  get size(): number {
    return this.#range.size;
  }

  /** The hub's public key (checkpoints, countersignatures, membership and review records). */
  get hubPublicKey(): Ed25519PublicKey {
    return this.#root.publicKey;
  }

  /** The C2SP verifier key of the checkpoints: `name+hex8(keyID)+base64(0x01||pubkey)`. */
  get verifierKey(): string {
    return formatVerifierKey(this.#keyName, this.#root.publicKey);
  }

  /** The logged key with this id (current or past), as the log established it. */
  memberKey(keyId: string): LoggedKey | undefined {
    return this.#registry.key(keyId);
  }

  /** A member as the log established it (call {@link refresh} first to include other processes' writes). */
  member(memberId: string): LoggedMember | undefined {
    return this.#registry.member(memberId);
  }

  /** Every enrolled member, in enrolment order. */
  members(): LoggedMember[] {
    return [...this.#registry.members()];
  }

  /** A member's keys (current and past), in log order. */
  memberKeys(memberId: string): LoggedKey[] {
    return this.#registry.keysOf(memberId);
  }

  /** The latest signed checkpoint, if any was signed yet. */
  get latestCheckpoint(): SignedCheckpoint | undefined {
    return this.#checkpoint;
  }

  /** Calls `fn` after each checkpoint is signed and durable (witness-client.ts asks witnesses to cosign it). */
  onCheckpoint(fn: (cp: SignedCheckpoint) => void): void {
    this.#checkpointListeners.push(fn);
  }

  /**
   * Records `note`, the checkpoint of `treeSize`'s note followed by witness cosignature lines (verified by
   * witness-client.ts): served as the latest checkpoint while it is, and by firstCoveringCheckpoint (the
   * witnessed disclosure seed); the lines are stored (cosignature-store.ts), the last 4096 notes cached.
   */
  async setCosignedCheckpoint(treeSize: number, note: string): Promise<void> {
    const cp = this.#checkpoint;
    if (cp !== undefined && cp.treeSize === treeSize && note.startsWith(cp.note))
      this.#checkpoint = { ...cp, note };
    this.#cosigned.set(treeSize, note);
    if (this.#cosigned.size > 4096) this.#cosigned.delete(this.#cosigned.keys().next().value as number);
    await storeCosignatures(this.#store.db, treeSize, note, this.#noteSigner);
  }

  // ---- appends --------------------------------------------------------------------------------

  /**
   * Logs a member-signed attestation (payload AttestationStatement, version 2). The member's signature must
   * verify under a logged key valid at the statement's `issued_at` (within the clock skew of now) and the
   * member must be active; the statement must answer a logged session of the same member and agree with it
   * on every bound choice, and its verdict must be what `deriveVerdict` gives on its own counts under the
   * registered policy (protocol-admission.ts lists every rule and its code). Version-1 statements are
   * refused. The hub countersigns; the countersigned envelope is what is logged and returned. `envelope` is
   * untrusted input from a member node.
   */
  async appendAttestation(envelope: DsseEnvelope): Promise<AppendedEntry> {
    this.#checkOpen();
    if (envelope.payloadType !== PAYLOAD_TYPES.attestation) {
      throw new LogError("invalid_argument", "envelope is not an attestation");
    }
    const st = decodeEntryPayload(AttestationStatementSchema, envelope, "AttestationStatement");
    checkStatementV2(st);
    const hubId = this.#key("countersign").keyId;
    let signer: LoggedKey;
    let countersigned: DsseEnvelope;
    if (envelope.signatures.some((s) => s.keyid === hubId)) {
      signer = await this.#verifyMemberSignature(envelope);
      countersigned = await this.#verifyHubSignature(envelope, "countersign");
    } else {
      // The usual case: the member's signature is verified once and the same PAE countersigned.
      await this.#refreshForKeys(envelope.signatures.map((sig) => sig.keyid));
      signer = this.#memberKeyOf(envelope);
      try {
        countersigned = await verifyThenCountersign(envelope, {
          key: signer.publicKey,
          countersignerKeyId: hubId,
          countersign: (m) => this.#sign(m, "countersign"),
          limits: LOG_DSSE_LIMITS,
        });
      } catch (err) {
        mapCryptoError(err);
      }
    }
    const issuedMs = timeMs(st.issuedAt, "statement issued_at");
    return this.#enqueue({
      kind: LogEntryKind.ATTESTATION,
      envelope: countersigned,
      meta: { memberId: signer.memberId, keyId: signer.keyId, sessionId: st.sessionId, refIndex: null },
      admit: (s) => {
        this.#checkPurpose(s.state, "countersign", countersigned);
        this.#admitMemberSigned(s, signer.keyId, issuedMs, "statement issued_at");
        if (st.memberModel !== undefined && st.memberModel.memberId !== signer.memberId) {
          throw new LogError("permission_denied", "statement member_model names another member");
        }
        admitAttestationV2(s.state, st, signer.memberId, issuedMs);
      },
    });
  }

  /**
   * Logs a member-signed commitment: a canary set or canary pairs (payload CanaryCommitment), a watermark
   * key (WatermarkKeyCommitment) or a reference fingerprint (ReferenceFingerprintCommitment), all as
   * COMMITMENT entries told apart by payload type. Ids are unique per member and kind. Untrusted input.
   */
  async appendCommitment(envelope: DsseEnvelope): Promise<AppendedEntry> {
    this.#checkOpen();
    let memberId: string;
    let atMs: number;
    switch (envelope.payloadType) {
      case PAYLOAD_TYPES.commitment: {
        const c = decodeEntryPayload(CanaryCommitmentSchema, envelope, "CanaryCommitment");
        checkCanaryCommitment(c);
        memberId = c.memberId;
        atMs = timeMs(c.committedAt, "commitment committed_at");
        break;
      }
      case PAYLOAD_TYPES.watermarkCommitment: {
        const w = decodeEntryPayload(WatermarkKeyCommitmentSchema, envelope, "WatermarkKeyCommitment");
        checkWatermarkCommitment(w);
        memberId = w.memberId;
        atMs = timeMs(w.committedAt, "watermark committed_at");
        break;
      }
      case PAYLOAD_TYPES.referenceFingerprint: {
        const r = decodeEntryPayload(
          ReferenceFingerprintCommitmentSchema,
          envelope,
          "ReferenceFingerprintCommitment",
        );
        checkReferenceCommitment(r);
        memberId = r.memberId;
        atMs = timeMs(r.committedAt, "reference committed_at");
        break;
      }
      default:
        throw new LogError("invalid_argument", "envelope is not a member commitment");
    }
    const logged: LoggedCommitment = commitmentOfEnvelope(envelope);
    const signer = await this.#verifyMemberSignature(envelope);
    if (signer.memberId !== memberId)
      throw new LogError("bad_signature", "commitment is signed by another member's key");
    return this.#enqueue({
      kind: LogEntryKind.COMMITMENT,
      envelope,
      meta: { memberId: signer.memberId, keyId: signer.keyId, sessionId: null, refIndex: null },
      admit: (s) => {
        this.#admitMemberSigned(s, signer.keyId, atMs, "commitment committed_at");
        if (s.state.hasCommitmentId(logged.kind, logged.memberId, commitmentKey(logged))) {
          throw new LogError(
            "already_exists",
            logged.kind === "reference"
              ? `reference fingerprint of ${logged.modelId}@${logged.modelVersion} for epoch ${logged.epochId} with this hash is already logged`
              : `${logged.kind} commitment ${logged.commitmentId} is already logged`,
          );
        }
        s.state.addCommitment(s.index, logged);
      },
    });
  }

  /**
   * Signs and logs the first sighting of a suspect (SuspectSighting, hub-signed). Commitments a session uses
   * must be logged before it. One sighting per suspect id (`already_exists` for a second: use
   * {@link sightingOf}); `first_seen_at` defaults to now.
   */
  async appendSighting(sighting: MessageInitShape<typeof SuspectSightingSchema>): Promise<AppendedEntry> {
    this.#checkOpen();
    const msg = create(SuspectSightingSchema, sighting);
    if (msg.firstSeenAt === undefined) msg.firstSeenAt = timestampFromMs(this.#now());
    checkSighting(msg);
    const envelope = await this.#signEnvelope(
      PAYLOAD_TYPES.sighting,
      toBinary(SuspectSightingSchema, msg),
      "sessions",
    );
    return this.#enqueueSighting(envelope, msg);
  }

  #enqueueSighting(envelope: DsseEnvelope, msg: SuspectSighting): Promise<AppendedEntry> {
    const suspectId = (msg.suspect as { suspectId: string }).suspectId;
    return this.#enqueue({
      kind: LogEntryKind.SUSPECT_SIGHTING,
      envelope,
      meta: { memberId: null, keyId: null, sessionId: null, refIndex: null },
      admit: (s) => {
        this.#checkPurpose(s.state, "sessions", envelope);
        const first = s.state.sightingOf(suspectId);
        if (first !== undefined)
          throw new LogError("already_exists", `suspect ${suspectId} was first sighted at index ${first}`);
        s.state.addSighting(s.index, suspectId);
      },
    });
  }

  /**
   * Signs and logs a match session (SessionOpened, hub-signed) BEFORE the member queries the suspect. The
   * log derives the seed itself: sessionSeed(root of the signed checkpoint of size `seedCheckpointSize`,
   * origin, session id). Admission checks the candidate member is active, the policy is registered
   * (`policy_mismatch`), the sighting is the suspect's first, the reference fingerprint commitment is the
   * candidate's, and the canary (PAIRS) and watermark commitments are the member's, not withdrawn and logged
   * before the sighting (`commitment_after_sighting`).
   */
  async appendSession(init: SessionInit): Promise<AppendedEntry> {
    this.#checkOpen();
    const { seedCheckpointSize, nonce, openedAtMs, ...rest } = init;
    const cp =
      seedCheckpointSize === undefined
        ? (this.#checkpoint ?? (await this.checkpoint()))
        : await this.#checkpointOfSize(seedCheckpointSize);
    const sessionId = typeof rest.sessionId === "string" ? rest.sessionId : "";
    if (!ID64_RE.test(sessionId))
      throw new LogError("invalid_argument", "session_id must be 1..64 printable characters");
    // A copy of the caller's objects: what is checked is what is signed and indexed.
    const msg = clone(
      SessionOpenedSchema,
      create(SessionOpenedSchema, {
        ...rest,
        nonce: nonce ?? new Uint8Array(randomBytes(32)),
        seed: sessionSeed({ checkpointRoot: cp.rootHash, origin: this.origin, sessionId }),
        seedCheckpointSize: BigInt(cp.treeSize),
        openedAt: timestampFromMs(openedAtMs ?? this.#now()),
      }),
    );
    checkSession(msg);
    const envelope = await this.#signEnvelope(
      PAYLOAD_TYPES.session,
      toBinary(SessionOpenedSchema, msg),
      "sessions",
    );
    return this.#enqueueSession(envelope, msg);
  }

  async #checkpointOfSize(size: number): Promise<SignedCheckpoint> {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new LogError("invalid_argument", "seedCheckpointSize must be a positive integer");
    const row = await this.#read(() => checkpointAt(this.#store.db, size));
    if (row === undefined) throw new LogError("not_found", `the hub signed no checkpoint of size ${size}`);
    return checkpointOfRow(row);
  }

  #enqueueSession(envelope: DsseEnvelope, msg: SessionOpened): Promise<AppendedEntry> {
    return this.#enqueue({
      kind: LogEntryKind.SESSION,
      envelope,
      meta: {
        memberId: msg.candidate?.memberId ?? null,
        keyId: null,
        sessionId: msg.sessionId,
        refIndex: null,
      },
      admit: (s) => {
        this.#checkPurpose(s.state, "sessions", envelope);
        admitSession(s.state, s.registry, msg, s.index);
      },
    });
  }

  /**
   * Logs a membership change (issue 8; member.proto, MembershipRecord, says who must sign each action).
   * `input` is either an envelope the member signed (ENROL by the new key, ADD_KEY by a current key and
   * the new key, REVOKE_KEY by a current key or the revoked one; untrusted input from the member), to
   * which the hub adds its registrar signature, or a bare record for the hub's own decisions (SUSPEND,
   * REINSTATE, REMOVE), which the hub signs alone. A key change without the member's signatures is
   * refused: `bad_signature` (no proof of possession by the new key), `permission_denied` (no signature
   * by a key of the member valid at the record's log position), `stale` (effective_at or revoked_at
   * further than the clock skew from the integration time: no backdated revocations).
   */
  async appendMembership(
    input: DsseEnvelope | MessageInitShape<typeof MembershipRecordSchema>,
  ): Promise<AppendedEntry> {
    this.#checkOpen();
    const envelope =
      "signatures" in input && "payloadType" in input
        ? (input as DsseEnvelope)
        : signEnvelope(
            PAYLOAD_TYPES.membership,
            toBinary(MembershipRecordSchema, create(MembershipRecordSchema, input)),
            this.#key("membership"),
          );
    return this.#enqueueMembership(envelope);
  }

  async #enqueueMembership(envelope: DsseEnvelope): Promise<AppendedEntry> {
    if (envelope.payloadType !== PAYLOAD_TYPES.membership) {
      throw new LogError("invalid_argument", "envelope is not a membership record");
    }
    const rec = decodeEntryPayload(MembershipRecordSchema, envelope, "MembershipRecord");
    // Keys whose signatures count: the key the record adds (proof of possession), the authorising key as
    // logged, and the hub's. Which of them MUST have signed is decided in the writer, at the record's position.
    const registrar = this.#key("membership");
    const candidates: Ed25519PublicKey[] = [registrar.publicKey];
    if (rec.key !== undefined && rec.key.publicKey.length === 32) {
      try {
        const k = Ed25519PublicKey.fromRaw(rec.key.publicKey);
        if (k.keyId !== registrar.keyId) candidates.push(k);
      } catch {
        // An invalid key is refused by the registry with its own message.
      }
    }
    await this.#refreshForKeys([rec.authorizedByKeyId]);
    const by = this.#registry.key(rec.authorizedByKeyId);
    if (by !== undefined && !candidates.some((k) => k.keyId === by.keyId)) candidates.push(by.publicKey);
    const hubId = registrar.keyId;
    let verified: readonly string[] = [];
    if (envelope.signatures.length > 0) {
      try {
        verified = (
          await verifyEnvelopeAsync(envelope, {
            keys: new KeyRing(candidates),
            limits: LOG_DSSE_LIMITS,
            ...(envelope.signatures.some((s) => s.keyid === hubId) ? { requiredKeyIds: [hubId] } : {}),
          })
        ).verifiedKeyIds;
      } catch (err) {
        mapCryptoError(err);
      }
    }
    const logged = verified.includes(hubId) ? envelope : addSignature(envelope, registrar);
    const signedBy = new Set([...verified, hubId]);
    return this.#enqueue({
      kind: LogEntryKind.MEMBERSHIP,
      envelope: logged,
      meta: {
        memberId: ID64_RE.test(rec.memberId) ? rec.memberId : null,
        keyId: rec.key !== undefined && /^[0-9a-f]{64}$/.test(rec.key.keyId) ? rec.key.keyId : null,
        sessionId: null,
        refIndex: null,
      },
      admit: (s) => {
        this.#checkPurpose(s.state, "membership");
        s.registry.apply(rec, s.index, {
          signedBy,
          hubKeyId: hubId,
          integratedAtMs: s.nowMs,
          skewMs: this.#skewMs,
        });
      },
    });
  }

  /** Signs and logs a review decision (the secretariat's, signed by the hub key). */
  async appendReviewDecision(
    decision: MessageInitShape<typeof ReviewDecisionSchema>,
  ): Promise<AppendedEntry> {
    this.#checkOpen();
    const msg = create(ReviewDecisionSchema, decision);
    checkReviewDecision(msg);
    const envelope = await this.#signEnvelope(
      PAYLOAD_TYPES.reviewDecision,
      toBinary(ReviewDecisionSchema, msg),
      "membership",
    );
    return this.#enqueue({
      kind: LogEntryKind.REVIEW_DECISION,
      envelope,
      meta: { memberId: null, keyId: null, sessionId: null, refIndex: null },
      admit: (s) => this.#checkPurpose(s.state, "membership", envelope),
    });
  }

  /**
   * Signs (membership purpose key) and logs an epoch the hub creates or rotates to (EpochStatement,
   * epoch-statement.ts), before the epoch is stored or handed to any member. Refused: an epoch id logged
   * before (`already_exists`), a number not above every logged epoch's (`failed_precondition`).
   */
  async appendEpoch(statement: MessageInitShape<typeof EpochStatementSchema>): Promise<AppendedEntry> {
    this.#checkOpen();
    const msg = create(EpochStatementSchema, statement);
    if (msg.issuedAt === undefined) msg.issuedAt = timestampFromMs(this.#now());
    checkEpochStatement(msg);
    const envelope = await this.#signEnvelope(
      PAYLOAD_TYPES.epoch,
      toBinary(EpochStatementSchema, msg),
      "membership",
    );
    return this.#enqueueEpoch(envelope, msg);
  }

  #enqueueEpoch(envelope: DsseEnvelope, msg: EpochStatement): Promise<AppendedEntry> {
    const epoch = msg.epoch as NonNullable<EpochStatement["epoch"]>;
    return this.#enqueue({
      kind: LogEntryKind.EPOCH,
      envelope,
      meta: { memberId: null, keyId: null, sessionId: null, refIndex: null },
      admit: (s) => {
        this.#checkPurpose(s.state, "membership");
        const prior = s.state.epoch(epoch.epochId);
        if (prior !== undefined)
          throw new LogError("already_exists", `epoch ${epoch.epochId} was logged at index ${prior.index}`);
        const top = s.state.topEpochNumber();
        if (Number(epoch.number) <= top)
          throw new LogError(
            "failed_precondition",
            `epoch ${epoch.epochId} has number ${epoch.number}, not above the last logged epoch's ${top}`,
          );
        s.state.addEpoch({ index: s.index, epochId: epoch.epochId, number: Number(epoch.number) });
      },
    });
  }

  /** The index of the logged statement of `epochId` (in memory). */
  epochEntryOf(epochId: string): number | undefined {
    return this.#state.epoch(epochId)?.index;
  }

  /** The index of the logged suppression of `sketchId` (in memory). */
  suppressionEntryOf(sketchId: string): number | undefined {
    return this.#state.suppressionOf(sketchId);
  }

  /**
   * Signs (membership purpose key) and logs the secretariat's suppression of one sketch (SketchSuppression:
   * who, which sketch, why). A sketch is suppressed once (`already_exists` for a second).
   */
  async appendSketchSuppression(
    suppression: MessageInitShape<typeof SketchSuppressionSchema>,
  ): Promise<AppendedEntry> {
    this.#checkOpen();
    const msg = create(SketchSuppressionSchema, suppression);
    if (msg.suppressedAt === undefined) msg.suppressedAt = timestampFromMs(this.#now());
    checkSketchSuppression(msg);
    const envelope = await this.#signEnvelope(
      PAYLOAD_TYPES.sketchSuppression,
      toBinary(SketchSuppressionSchema, msg),
      "membership",
    );
    return this.#enqueueSuppression(envelope, msg);
  }

  #enqueueSuppression(envelope: DsseEnvelope, msg: SketchSuppression): Promise<AppendedEntry> {
    return this.#enqueue({
      kind: LogEntryKind.SKETCH_SUPPRESSION,
      envelope,
      meta: { memberId: msg.model?.memberId ?? null, keyId: null, sessionId: null, refIndex: null },
      admit: (s) => {
        this.#checkPurpose(s.state, "membership");
        const prior = s.state.suppressionOf(msg.sketchId);
        if (prior !== undefined)
          throw new LogError("already_exists", `sketch ${msg.sketchId} was suppressed at index ${prior}`);
        s.state.addSuppression(msg.sketchId, s.index);
      },
    });
  }

  /**
   * Logs a withdrawal (payload Withdrawal) of an earlier attestation or commitment, signed by a
   * currently valid key of the member who logged it. The withdrawn entry stays; the new entry
   * points at it. Untrusted input.
   */
  async appendWithdrawal(envelope: DsseEnvelope): Promise<AppendedEntry> {
    this.#checkOpen();
    if (envelope.payloadType !== PAYLOAD_TYPES.withdrawal) {
      throw new LogError("invalid_argument", "envelope is not a withdrawal");
    }
    const w = decodeEntryPayload(WithdrawalSchema, envelope, "Withdrawal");
    checkWithdrawal(w);
    const target = Number(w.withdrawnIndex);
    if (target >= this.size) await this.refresh();
    if (target >= this.size) throw new LogError("not_found", `no entry at index ${w.withdrawnIndex}`);
    const entry = await this.#read(() => readEntry(this.#store.db, target));
    if (entry === undefined) throw new LogError("not_found", `no entry at index ${w.withdrawnIndex}`);
    if (toHex(entry.leafHash) !== toHex(w.withdrawnLeafHash)) {
      throw new LogError("invalid_argument", "withdrawn_leaf_hash is not the leaf hash of that entry");
    }
    if (entry.kind !== LogEntryKind.ATTESTATION && entry.kind !== LogEntryKind.COMMITMENT) {
      throw new LogError("failed_precondition", "only attestations and commitments can be withdrawn");
    }
    const signer = await this.#verifyMemberSignature(envelope);
    if (signer.memberId !== entry.memberId) {
      throw new LogError("bad_signature", "withdrawal is not signed by the member who logged the entry");
    }
    const atMs = timeMs(w.withdrawnAt, "withdrawal withdrawn_at");
    return this.#enqueue({
      kind: LogEntryKind.WITHDRAWAL,
      envelope,
      meta: { memberId: signer.memberId, keyId: signer.keyId, sessionId: null, refIndex: target },
      admit: (s) => {
        this.#admitMemberSigned(s, signer.keyId, atMs, "withdrawal withdrawn_at");
        if (s.state.isWithdrawn(target))
          throw new LogError("already_exists", `entry ${target} is already withdrawn`);
        s.state.addWithdrawn(target);
      },
    });
  }

  /**
   * Logs any signed envelope by its payload type (review, session and sighting records must be hub-signed;
   * membership records are checked as in {@link appendMembership}).
   */
  async append(envelope: DsseEnvelope): Promise<AppendedEntry> {
    switch (kindOfPayloadType(envelope.payloadType)) {
      case LogEntryKind.ATTESTATION:
        return this.appendAttestation(envelope);
      case LogEntryKind.COMMITMENT:
        return this.appendCommitment(envelope);
      case LogEntryKind.WITHDRAWAL:
        return this.appendWithdrawal(envelope);
      case LogEntryKind.SUSPECT_SIGHTING: {
        await this.#verifyHubSignature(envelope, "sessions");
        const msg = decodeEntryPayload(SuspectSightingSchema, envelope, "SuspectSighting");
        checkSighting(msg);
        return this.#enqueueSighting(envelope, msg);
      }
      case LogEntryKind.SESSION: {
        await this.#verifyHubSignature(envelope, "sessions");
        const msg = decodeEntryPayload(SessionOpenedSchema, envelope, "SessionOpened");
        checkSession(msg);
        // A session signed elsewhere (another hub replica) must carry the seed this log would derive.
        const cp = await this.#checkpointOfSize(Number(msg.seedCheckpointSize));
        const seed = sessionSeed({
          checkpointRoot: cp.rootHash,
          origin: this.origin,
          sessionId: msg.sessionId,
        });
        if (!bytesEqual(seed, msg.seed))
          throw new LogError("invalid_argument", "session seed is not derived from its seed checkpoint");
        return this.#enqueueSession(envelope, msg);
      }
      case LogEntryKind.MEMBERSHIP:
        return this.#enqueueMembership(envelope);
      case LogEntryKind.EPOCH: {
        await this.#verifyHubSignature(envelope, "membership");
        const msg = decodeEntryPayload(EpochStatementSchema, envelope, "EpochStatement");
        checkEpochStatement(msg);
        return this.#enqueueEpoch(envelope, msg);
      }
      case LogEntryKind.SKETCH_SUPPRESSION: {
        await this.#verifyHubSignature(envelope, "membership");
        const msg = decodeEntryPayload(SketchSuppressionSchema, envelope, "SketchSuppression");
        checkSketchSuppression(msg);
        return this.#enqueueSuppression(envelope, msg);
      }
      case LogEntryKind.HUB_KEY:
        throw new LogError(
          "invalid_argument",
          "hub key statements are logged by the hub itself (its key set)",
        );
      default: {
        await this.#verifyHubSignature(envelope, "membership");
        const d = decodeEntryPayload(ReviewDecisionSchema, envelope, "ReviewDecision");
        checkReviewDecision(d);
        return this.#enqueue({
          kind: LogEntryKind.REVIEW_DECISION,
          envelope,
          meta: { memberId: null, keyId: null, sessionId: null, refIndex: null },
          admit: (s) => this.#checkPurpose(s.state, "membership"),
        });
      }
    }
  }

  /** Signs a checkpoint of everything durable now (or returns the latest if nothing is new). */
  checkpoint(): Promise<SignedCheckpoint> {
    if (this.#closed) return Promise.reject(new LogError("cancelled", "the log is closed"));
    return new Promise((resolve, reject) => {
      this.#checkpointWanted.push({ resolve, reject });
      this.#kick();
    });
  }

  // ---- reads ----------------------------------------------------------------------------------

  /** Entries [start, end); the caller bounds the range. */
  entries(start: number, end: number): Promise<StoredEntry[]> {
    return this.#read(() => readEntries(this.#store.db, start, end));
  }

  /** One entry, or undefined beyond the log. */
  entry(index: number): Promise<StoredEntry | undefined> {
    return this.#read(() => readEntry(this.#store.db, index));
  }

  /** Membership records about one key (its addition, its revocation), in log order, at most `limit`. */
  membershipOfKey(keyId: string, limit: number): Promise<StoredEntry[]> {
    return this.#read(() =>
      readEntriesOfKindAbout(this.#store.db, LogEntryKind.MEMBERSHIP, { keyId }, limit),
    );
  }

  /** The hub's keyless membership decisions (SUSPEND / REINSTATE / REMOVE) about a member in [from, to). */
  membershipDecisionsOf(memberId: string, from: number, to: number, limit: number): Promise<StoredEntry[]> {
    return this.#read(() =>
      readEntriesOfKindAbout(this.#store.db, LogEntryKind.MEMBERSHIP, { memberId, from, to }, limit),
    );
  }

  /** The logged session with this id (in memory: no database read). */
  session(sessionId: string): SessionView | undefined {
    const index = this.#state.sessionIndex(sessionId);
    const s: LoggedSession | undefined = index === undefined ? undefined : this.#state.session(index);
    // A copy: callers must not be able to change what admission checks against.
    return s === undefined ? undefined : { index: s.index, opened: clone(SessionOpenedSchema, s.opened) };
  }

  /** Index of the suspect's first (and only) logged sighting. */
  sightingOf(suspectId: string): number | undefined {
    return this.#state.sightingOf(suspectId);
  }

  /** The member commitment logged at `index`, as admission reads it. */
  loggedCommitment(index: number): LoggedCommitment | undefined {
    return this.#state.commitment(index);
  }

  /** Index of the (first) attestation logged for a match session. */
  attestationOfSession(sessionId: string): Promise<number | undefined> {
    return this.#read(() => attestationIndexOfSession(this.#store.db, LogEntryKind.ATTESTATION, sessionId));
  }

  /** RFC 9162 inclusion proof of `index` in the tree of `treeSize` (<= size) leaves. */
  inclusionProof(index: number, treeSize: number): Promise<Uint8Array[]> {
    if (treeSize > this.size || index >= treeSize)
      throw new LogError("invalid_argument", "index/treeSize out of range");
    return this.#read(() =>
      inclusionProofFromStore((ids) => fetchNodes(this.#store.db, ids), index, treeSize),
    );
  }

  /** RFC 9162 consistency proof between tree sizes `oldSize` <= `newSize` <= size. */
  consistencyProof(oldSize: number, newSize: number): Promise<Uint8Array[]> {
    if (newSize > this.size || oldSize > newSize)
      throw new LogError("invalid_argument", "sizes out of range");
    return this.#read(() =>
      consistencyProofFromStore((ids) => fetchNodes(this.#store.db, ids), oldSize, newSize),
    );
  }

  /**
   * The first signed checkpoint whose tree covers leaf `index`, the one signed just before it and
   * a consistency proof between them. `not_found` when no checkpoint covers `index` yet.
   */
  async firstCoveringCheckpoint(index: number): Promise<FirstCovering> {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new LogError("invalid_argument", "index must be a non-negative integer");
    const row = await this.#read(() => firstCheckpointCovering(this.#store.db, index));
    if (row === undefined) {
      throw new LogError("not_found", `leaf ${index} is not yet covered by a signed checkpoint`, {
        retryable: true,
        retryAfterMs: this.#checkpointIntervalMs,
      });
    }
    const stored = checkpointOfRow(row);
    const cosigned =
      this.#cosigned.get(stored.treeSize) ??
      (await this.#read(() => withStoredCosignatures(this.#store.db, stored.treeSize, stored.note)));
    const checkpoint = cosigned.startsWith(stored.note) ? { ...stored, note: cosigned } : stored;
    const prevRow = await this.#read(() => checkpointBefore(this.#store.db, checkpoint.treeSize));
    const previous = prevRow === undefined || prevRow.tree_size === 0n ? undefined : checkpointOfRow(prevRow);
    const previousConsistency =
      previous === undefined ? [] : await this.consistencyProof(previous.treeSize, checkpoint.treeSize);
    return { checkpoint, previous, previousConsistency };
  }

  /** The root of the tree of `treeSize` leaves, from stored nodes. */
  root(treeSize: number): Promise<Uint8Array> {
    if (treeSize > this.size) throw new LogError("invalid_argument", "treeSize is beyond the log");
    return this.#read(() => rootFromStoreAt(this.#store.db, treeSize));
  }

  /** Stops the timer and waits for queued appends to be written; later appends fail with `cancelled`. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    while (this.#draining !== undefined) await this.#draining;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- internals ------------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new LogError("cancelled", "the log is closed");
  }

  async #read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      if (cause instanceof LogError) throw cause;
      throw new LogError("unavailable", "the log store could not be read", { cause });
    }
  }

  /**
   * Catches up on the stored log when an untrusted envelope names a key this process has not seen: another
   * hub process may have logged it. Bounded: at most 8 key ids looked at, one refresh.
   */
  async #refreshForKeys(keyIds: readonly string[]): Promise<void> {
    const hubIds = [this.#root.keyId, this.#key("countersign").keyId];
    if (
      keyIds.slice(0, 8).some((k) => k !== "" && !hubIds.includes(k) && this.#registry.key(k) === undefined)
    ) {
      await this.refresh();
    }
  }

  /** The logged key of the one member signature of an untrusted envelope (not yet verified). */
  #memberKeyOf(envelope: DsseEnvelope): LoggedKey {
    const hubIds = [this.#root.keyId, this.#key("countersign").keyId];
    const memberSigs = envelope.signatures.filter((s) => !hubIds.includes(s.keyid));
    if (memberSigs.length !== 1) {
      throw new LogError(
        "malformed",
        "envelope must carry exactly one member signature (plus at most the hub's)",
      );
    }
    const keyId = (memberSigs[0] as { keyid: string }).keyid;
    const key = this.#registry.key(keyId);
    if (key === undefined)
      throw new LogError("unknown_key", "envelope is signed by a key that is not logged");
    return key;
  }

  /** The one member signature of an untrusted envelope, verified under a logged key. */
  async #verifyMemberSignature(envelope: DsseEnvelope): Promise<LoggedKey> {
    await this.#refreshForKeys(envelope.signatures.map((sig) => sig.keyid));
    const key = this.#memberKeyOf(envelope);
    try {
      await verifyEnvelopeAsync(envelope, {
        keys: new KeyRing([key.publicKey]),
        requiredKeyIds: [key.keyId],
        limits: LOG_DSSE_LIMITS,
      });
    } catch (err) {
      mapCryptoError(err);
    }
    return key;
  }

  /** The key that signs `purpose` in this process: its purpose key, or the current root where none was given. */
  #key(purpose: HubKeyPurposeName): Ed25519PrivateKey {
    return this.#given[purpose] ?? this.#root;
  }

  /**
   * Signs `message` with `purpose`'s key in libuv's thread pool, so concurrent appends use every core and the
   * writer's thread is not held by Ed25519 (bench/log.ts: synchronous signing of sightings and sessions was a
   * fifth of the main thread's time).
   */
  #sign(message: Uint8Array, purpose: HubKeyPurposeName): Promise<Uint8Array> {
    const key = this.#key(purpose);
    let ko = this.#keyObjects.get(key);
    if (ko === undefined) {
      ko = createPrivateKey({ key: Buffer.from(key.toPkcs8()), format: "der", type: "pkcs8" });
      this.#keyObjects.set(key, ko);
    }
    return new Promise((resolve, reject) => {
      nodeSign(null, message, ko, (err, sig) => {
        if (err !== null)
          reject(new LogError("internal", `signing with the ${purpose} key failed`, { cause: err }));
        else resolve(new Uint8Array(sig.buffer, sig.byteOffset, sig.length));
      });
    });
  }

  /** A DSSE envelope over `payload` signed by `purpose`'s key (in the thread pool; same bytes as signEnvelope). */
  async #signEnvelope(
    payloadType: string,
    payload: Uint8Array,
    purpose: HubKeyPurposeName,
  ): Promise<DsseEnvelope> {
    const keyid = this.#key(purpose).keyId;
    const sig = await this.#sign(paeBytes(payloadType, payload), purpose);
    return { payloadType, payload, signatures: [{ keyid, sig }] };
  }

  /** Verifies the hub signature of `purpose` on an envelope signed elsewhere (another replica). */
  async #verifyHubSignature(envelope: DsseEnvelope, purpose: HubKeyPurposeName): Promise<DsseEnvelope> {
    const key = this.#key(purpose);
    try {
      await verifyEnvelopeAsync(envelope, {
        keys: new KeyRing([key.publicKey]),
        requiredKeyIds: [key.keyId],
        limits: LOG_DSSE_LIMITS,
      });
    } catch (err) {
      mapCryptoError(err);
    }
    return envelope;
  }

  /** State checks of a member-signed entry whose statement claims time `atMs`. */
  #admitMemberSigned(s: Staging, keyId: string, atMs: number, what: string): void {
    const key = s.registry.key(keyId);
    if (key === undefined) throw new LogError("unknown_key", "signing key is not logged");
    const member = s.registry.member(key.memberId);
    if (member?.status !== "active") {
      throw new LogError("failed_precondition", `member ${key.memberId} is not active`);
    }
    if (Math.abs(atMs - s.nowMs) > this.#skewMs) {
      throw new LogError(
        "failed_precondition",
        `${what} is more than ${this.#skewMs} ms from the hub's clock`,
      );
    }
    if (!keyValidAtIndex(key, s.index)) {
      throw new LogError(
        "failed_precondition",
        `signing key was revoked at log index ${key.revokedAtIndex} (before this entry)`,
      );
    }
    if (!keyValidAt(key, atMs)) {
      throw new LogError("failed_precondition", `signing key is not valid at ${what}`);
    }
  }

  #enqueue(prepared: Prepared): Promise<AppendedEntry> {
    this.#checkOpen();
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(
        new LogError("unavailable", "the log's write queue is full", { retryAfterMs: 100 }),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ prepared, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#draining !== undefined) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      if (this.#queue.length > 0 || this.#checkpointWanted.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 || this.#checkpointWanted.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      const waiters = this.#queue.length === 0 ? this.#checkpointWanted.splice(0) : [];
      try {
        await this.#writeBatch(batch, waiters.length > 0);
        const cp = this.#checkpoint;
        for (const w of waiters) {
          if (cp === undefined) w.reject(new LogError("internal", "no checkpoint was signed"));
          else w.resolve(cp);
        }
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
  }

  /**
   * Writes one batch. Several hub processes may share one Postgres log (issue 8: a Postgres hub sees
   * entries written by other processes), so the whole batch — catching up on entries others appended,
   * admission in log order, the insert — runs in one transaction holding a transaction-scoped advisory
   * lock of this log's schema: writers take turns, and each appends to the tree the previous one left,
   * never to a stale copy (which would fork the log). Test: services/hub/test/shared-log.test.ts.
   */
  async #writeBatch(batch: readonly Pending[], forceCheckpoint: boolean): Promise<void> {
    const release = await this.#sync.lock();
    // Set once admission ran: from then on only the admitted entries are pending (the others were rejected).
    const staged: { plan?: BatchPlan | undefined } = {};
    try {
      await this.#store.transaction(async (trx) => {
        await sql`select pg_advisory_xact_lock(${LOG_LOCK_CLASS}::int, hashtext(current_schema()))`.execute(
          trx,
        );
        await this.#catchUp(trx);
        staged.plan = this.#stage(batch, forceCheckpoint);
        const p = staged.plan;
        if (p !== undefined) await insertBatch(trx, p.columns, p.newNodes, p.checkpoint);
      });
    } catch (cause) {
      const err =
        isLogError(cause) && cause.code !== "internal"
          ? cause
          : new LogError("unavailable", "the log write failed; nothing was appended", { cause });
      const pending = "plan" in staged ? (staged.plan?.accepted.map((a) => a.p) ?? []) : batch;
      for (const p of pending) p.reject(err);
      throw err;
    } finally {
      release();
    }
    const plan = staged.plan;
    if (plan === undefined) return;
    const { range, registry, state, accepted, checkpoint, nowMs } = plan;
    this.#range = range;
    this.#registry = registry;
    state.mergeIntoParent();
    this.#followRoot();
    if (accepted.length > 0) this.#lastIntegratedMs = nowMs;
    if (checkpoint !== undefined) {
      this.#checkpoint = checkpoint;
      this.#checkpointAtMs = nowMs;
      for (const fn of this.#checkpointListeners) fn(checkpoint);
    }
    for (const a of accepted) a.p.resolve(a.entry);
  }

  /** Admission and leaf encoding of a batch against the (caught-up) state; undefined when nothing to write. */
  #stage(batch: readonly Pending[], forceCheckpoint: boolean): BatchPlan | undefined {
    const nowMs = Math.max(this.#lastIntegratedMs, this.#now());
    let registry = this.#registry;
    const state = this.#state.child();
    const accepted: Array<{ p: Pending; entry: AppendedEntry }> = [];
    const leaves: Uint8Array[] = [];
    const leafHashes: Uint8Array[] = [];
    const kinds: number[] = [];
    const memberIds: (string | null)[] = [];
    const keyIds: (string | null)[] = [];
    const sessionIds: (string | null)[] = [];
    const refIndexes: (number | null)[] = [];
    const base = this.#range.size;
    for (const p of batch) {
      const index = base + accepted.length;
      const { kind, envelope, meta, admit } = p.prepared;
      // Membership records change the registry: stage them on a copy until the batch commits.
      if (kind === LogEntryKind.MEMBERSHIP && registry === this.#registry) registry = registry.clone();
      // Each entry stages on its own child, merged into the batch's state only once it is admitted, so a
      // refused entry leaves nothing behind.
      const entryState = state.child();
      const staging: Staging = { registry, index, nowMs, state: entryState };
      try {
        admit(staging);
      } catch (err) {
        p.reject(err);
        continue;
      }
      entryState.mergeIntoParent();
      const leaf = encodeLeaf(kind, envelope, nowMs);
      const leafHash = hashLeaf(leaf);
      leaves.push(leaf);
      leafHashes.push(leafHash);
      kinds.push(kind);
      memberIds.push(meta.memberId);
      keyIds.push(meta.keyId);
      sessionIds.push(meta.sessionId !== null && ID64_RE.test(meta.sessionId) ? meta.sessionId : null);
      refIndexes.push(meta.refIndex);
      accepted.push({ p, entry: { index, leafHash, leaf, kind, envelope, integratedAtMs: nowMs } });
    }
    const { range, newNodes } = this.#range.append(leafHashes);
    const cpSize = this.#checkpoint?.treeSize ?? -1;
    const due =
      range.size > cpSize &&
      (forceCheckpoint ||
        range.size - Math.max(cpSize, 0) >= this.#checkpointEvery ||
        nowMs - this.#checkpointAtMs >= this.#checkpointIntervalMs);
    if (accepted.length === 0 && !due) return undefined;
    let checkpoint: SignedCheckpoint | undefined;
    if (due) {
      // Signed by the root the batch ends at (a batch admitting a rotation: the new root): a process that
      // does not hold it (another replica rotated the root) refuses to write rather than sign with a rotated-
      // out key that auditors and witnesses would refuse.
      const signer = this.#checkpointSigner(state);
      if (signer === undefined)
        throw new LogError(
          "failed_precondition",
          "the log's root key was rotated to a key this process does not hold: restart the hub with the current root key file",
          { retryable: false },
        );
      const rootHash = range.root();
      const extensions = [`${PREVIOUS_SIZE_EXTENSION} ${Math.max(cpSize, 0)}`];
      const note = signCheckpoint({ origin: this.origin, size: range.size, rootHash, extensions }, [signer]);
      checkpoint = { treeSize: range.size, rootHash, note };
    }
    const columns = {
      firstIndex: base,
      integratedAtMs: nowMs,
      kinds,
      leaves,
      leafHashes,
      memberIds,
      keyIds,
      sessionIds,
      refIndexes,
    };
    return { columns, newNodes, checkpoint, range, registry, state, accepted, nowMs };
  }

  /**
   * Verifies and replays entries and checkpoints another process stored since this log last looked
   * (log-integrity.ts, incremental: leaf hashes, nodes, checkpoint signatures and chain), so this
   * process's tree, member keys, admission state and latest checkpoint are the stored ones. Cheap when
   * nothing changed: one statement reading the stored size and latest checkpoint size. Call with the
   * sync mutex held.
   */
  async #catchUp(db: Kysely<HubDatabase>): Promise<void> {
    const head = await storedHead(db);
    const cpSize = this.#checkpoint?.treeSize ?? -1;
    if (head.size === this.#range.size && head.checkpointSize === cpSize) return;
    const registry = this.#registry.clone();
    const state = this.#state.child();
    let last = this.#lastIntegratedMs;
    const v = await verifyStoredLog(db, {
      ...this.#integrity,
      from: { range: this.#range, checkpointSize: cpSize, rootKey: this.#chainRoot },
      onEntry: (e) => {
        last = replayStoredEntry(registry, state, e);
      },
    });
    this.#range = v.range;
    this.#registry = registry;
    state.mergeIntoParent();
    this.#chainRoot = v.rootKey;
    this.#followRoot();
    this.#lastIntegratedMs = Math.max(this.#lastIntegratedMs, last);
    if (v.latest !== undefined) {
      const cp = checkpointOfRow(v.latest);
      this.#checkpoint = cp;
      this.#checkpointAtMs = this.#now();
      // Another process signed it; it is durable, so this replica's witnesses cosign it too (onCheckpoint).
      for (const fn of this.#checkpointListeners) fn(cp);
    }
  }

  /**
   * Brings this log up to what is stored (entries and checkpoints other hub processes appended to the same
   * Postgres log), verified as at start-up. Reads call it so a replica never serves a checkpoint older than
   * the stored one; one cheap statement when nothing changed.
   */
  async refresh(): Promise<void> {
    this.#checkOpen();
    const head = await storedHead(this.#store.db);
    if (head.size === this.#range.size && head.checkpointSize === (this.#checkpoint?.treeSize ?? -1)) return;
    const release = await this.#sync.lock();
    try {
      await this.#catchUp(this.#store.db);
    } finally {
      release();
    }
  }
}

/** What one batch will write and, once committed, make the log's state. */
interface BatchPlan {
  readonly columns: LeafColumns;
  readonly newNodes: readonly MerkleNode[];
  readonly checkpoint: SignedCheckpoint | undefined;
  readonly range: CompactRange;
  readonly registry: MemberRegistry;
  readonly state: LogState;
  readonly accepted: ReadonlyArray<{ p: Pending; entry: AppendedEntry }>;
  readonly nowMs: number;
}

/** First key of the log's advisory lock (the second is the hash of its schema): "LNLG". */
const LOG_LOCK_CLASS = 0x4c4e4c47;

function integrityOptions(options: TransparencyLogOptions) {
  return {
    origin: options.origin,
    keyName: options.keyName ?? options.origin,
    hubPublicKey: options.trustRoot ?? options.hubKey.publicKey,
  };
}

function checkpointOfRow(r: { tree_size: bigint; root_hash: Uint8Array; signed_note: string }) {
  return { treeSize: Number(r.tree_size), rootHash: r.root_hash, note: r.signed_note };
}

async function rootFromStoreAt(db: Store<HubDatabase>["db"], size: number): Promise<Uint8Array> {
  const ids = nodesForRoot(size);
  const hashes = await fetchNodes(db, ids);
  const byId = new Map(ids.map((id, i) => [`${id.level}/${id.index}`, hashes[i] as Uint8Array]));
  return rootFromNodes((l, i) => byId.get(`${l}/${i}`) as Uint8Array, size);
}

function checkWithdrawal(w: Withdrawal): void {
  if (w.withdrawnLeafHash.length !== 32)
    throw new LogError("invalid_argument", "withdrawn_leaf_hash must be 32 bytes");
  if (w.reason.length === 0 || w.reason.length > 1024)
    throw new LogError("invalid_argument", "withdrawal reason must be 1..1024 characters");
  if (w.withdrawnAt === undefined)
    throw new LogError("invalid_argument", "withdrawal withdrawn_at is missing");
}

function checkReviewDecision(d: ReviewDecision): void {
  if (!ID64_RE.test(d.caseId))
    throw new LogError("invalid_argument", "review case_id must be 1..64 printable characters");
  if (d.rationale.length > 4096) throw new LogError("too_large", "review rationale exceeds 4096 characters");
  if (d.reviewer.length === 0 || d.reviewer.length > 128)
    throw new LogError("invalid_argument", "reviewer must be 1..128 characters");
  if (d.decidedAt === undefined) throw new LogError("invalid_argument", "review decided_at is missing");
}
