/**
 * `lineage audit log`: an auditor's walk over a hub's whole transparency log, trusting nothing the hub serves
 * but the key it was given (DESIGN.md flow 8, "Privacy and trust"). Every entry of the hub's latest checkpoint is
 * streamed (log-stream.ts), hashed into the auditor's own tree (tree-nodes.ts) and checked as it passes, in log
 * order, with the same functions `audit verify` uses on a bundle:
 *   - hub key statements build the hub's keys by purpose and its root rotations (hub-key-history.ts);
 *   - membership records build every member's keys and statuses, by log position (membership-replay.ts);
 *   - epoch statements and sketch suppressions are read strictly and their sequence checked (epoch-records.ts);
 *   - canary pair, watermark key and reference fingerprint commitments are opened under the member key valid
 *     at their position; sightings and sessions under the hub's sessions key, every session's seed recomputed
 *     from the walk's own tree (checkSessionSeed); review decisions under its membership key (proven-entry.ts);
 *   - every attestation is checked as verify-attestation.ts checks a bundle's, the entries it rests on taken
 *     from the log itself (read again by index when no longer held, and recognised by the leaf hash this walk
 *     computed) and the session's seed recomputed from the root of the walk's own tree at the seed size.
 * Then the tree: its root must be the root of the checkpoint, which must be signed by the trusted root (or the
 * root the log rotated to) and meet the witness quorum; with a saved state the tree must also pass through the
 * checkpoint saved earlier (`inconsistent_with_saved`, checked as soon as the walk reaches its size) and not be
 * smaller (`rollback`), and the new checkpoint is saved. A failing entry is recorded with its index and code and
 * the walk goes on; a failure of the tree or the checkpoint is fatal: nothing read under it can be trusted.
 * Withdrawals are counted, not checked.
 *
 * Memory: the tree's perfect-subtree hashes (64 bytes per entry), the member keys, hub keys and epochs, the
 * sketch ids suppressed, a bounded cache of recent session, sighting and commitment leaves (`cacheBytes`), and at
 * most `maxFailures` failures: never the log's leaves.
 */
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  AttestationStatementSchema,
  CanaryCommitmentSchema,
  LogEntryKind,
  ReferenceFingerprintCommitmentSchema,
  ReviewDecisionSchema,
  SessionOpenedSchema,
  SuspectSightingSchema,
  WatermarkKeyCommitmentSchema,
} from "@lineage/api";
import { bytesEqual, type Checkpoint, hashLeaf, parseCheckpoint, parseNote, toHex } from "@lineage/crypto";
import type { VerdictResult } from "@lineage/fingerprint";
import { type AuditCheck, AuditError, type AuditErrorCode, CheckList } from "./audit-error.js";
import type { AuditorState } from "./auditor-state.js";
import { EpochSequence } from "./epoch-records.js";
import { HubKeyHistory, trustWithRotations } from "./hub-key-history.js";
import {
  type AuditedKey,
  type AuditedLeaf,
  decodeAuditedLeaf,
  MAX_CHECKPOINT_BYTES,
  openHubCheckpoint,
  PAYLOAD_TYPES,
  type StatusChange,
} from "./log-records.js";
import type { LogEntryStream } from "./log-stream.js";
import { MAX_HISTORY_ENTRIES } from "./member-history.js";
import { replayMembership } from "./membership-replay.js";
import { decodePayload, type IndexedLeaf, openHubLeaf, openMemberLeaf, toIndex } from "./proven-entry.js";
import { TreeNodes } from "./tree-nodes.js";
import type { TrustRoot } from "./trust-root.js";
import { verifyAttestationEntry } from "./verify-attestation.js";
import { type BoundEntrySource, checkSessionSeed } from "./verify-bound-choices.js";
import type { CheckpointSource } from "./verify-consistency.js";
import { checkWitnessQuorum } from "./witness-quorum.js";

/** Default bytes of session, sighting and commitment leaves kept for the attestations that name them. */
export const DEFAULT_WALK_CACHE_BYTES = 32 * 1024 * 1024;
/** Default number of failures listed (the rest are counted). */
export const DEFAULT_MAX_FAILURES = 10_000;

/** Options of {@link auditLog}. */
export interface LogWalkOptions {
  /**
   * The auditor's memory (auditor-state.ts): the walk's tree must pass through the checkpoint saved there, and
   * the verified checkpoint is saved. Without it the checkpoint is trusted on first use, every run.
   */
  readonly state?: AuditorState;
  /** Distinct trusted witnesses that must have cosigned the checkpoint (default 1 when the trust root lists any). */
  readonly witnessQuorum?: number;
  /** Bytes of recent leaves kept for attestations to name (default 32 MiB); others are read again from the hub. */
  readonly cacheBytes?: number;
  /** Most failures listed in the report (default 10,000); beyond, only counted. */
  readonly maxFailures?: number;
}

/** One entry that failed, or the fatal failure of the tree or the checkpoint. */
export interface LogFailure {
  /** Log index of the entry; undefined for a failure of the checkpoint as a whole. */
  readonly index: number | undefined;
  /** What failed: an entry kind ("attestation", "membership", ...), "leaf", "tree" or "checkpoint". */
  readonly kind: string;
  readonly code: AuditErrorCode;
  /** The check that failed (e.g. "verdict.rederived"), when known. */
  readonly check?: string;
  readonly message: string;
}

/** How the walked checkpoint relates to the one this auditor saved. */
export type WalkSavedOutcome = "first_contact" | "same" | "consistent" | "no_state";

/** What {@link auditLog} found. */
export interface LogWalkReport {
  readonly origin: string;
  /** Entries walked: the checkpoint's size when the walk completed. */
  readonly size: number;
  /** Root of the walked tree, hex (equal to the checkpoint's when complete). */
  readonly rootHash: string;
  /** True when every entry was read and the tree, checkpoint and witnesses verified. */
  readonly complete: boolean;
  /** The failure that stopped the walk (tree, checkpoint, saved state); undefined when none. */
  readonly fatal?: LogFailure;
  readonly saved: WalkSavedOutcome;
  readonly witnesses: { readonly required: number; readonly cosigners: readonly string[] };
  /** Entries by kind name (lower case: "attestation", "membership", ...; "undecodable" for a leaf that is not). */
  readonly entries: Readonly<Record<string, number>>;
  readonly members: {
    readonly members: number;
    readonly keys: number;
    readonly revokedKeys: number;
    readonly statusChanges: number;
  };
  readonly hubKeys: {
    readonly statements: number;
    readonly delegations: number;
    readonly rootRotations: number;
  };
  readonly epochs: ReadonlyArray<{
    readonly index: number;
    readonly epochId: string;
    readonly number: number;
  }>;
  readonly suppressions: number;
  readonly commitments: {
    readonly canaryPairs: number;
    readonly watermarkKeys: number;
    readonly referenceFingerprints: number;
  };
  readonly sightings: number;
  readonly sessions: number;
  readonly reviewDecisions: number;
  readonly attestations: {
    readonly total: number;
    readonly verified: number;
    readonly failed: number;
    /** Verified attestations by the verdict their own counts give (equal to the stated one). */
    readonly byVerdict: Readonly<Record<VerdictResult["verdict"], number>>;
  };
  readonly failures: readonly LogFailure[];
  /** Failures beyond `maxFailures`, counted only. */
  readonly failuresOmitted: number;
}

/** A FIFO of recent leaves, bounded by bytes. */
class LeafCache {
  readonly #max: number;
  readonly #leaves = new Map<number, Uint8Array>();
  #bytes = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get(index: number): Uint8Array | undefined {
    return this.#leaves.get(index);
  }

  set(index: number, leaf: Uint8Array): void {
    const cost = leaf.length + LeafCache.ENTRY_OVERHEAD;
    if (cost > this.#max) return;
    this.#leaves.set(index, leaf);
    this.#bytes += cost;
    for (const [i, l] of this.#leaves) {
      if (this.#bytes <= this.#max) break;
      this.#leaves.delete(i);
      this.#bytes -= l.length + LeafCache.ENTRY_OVERHEAD;
    }
  }

  /** What one kept leaf costs beyond its bytes (map entry, typed array header): counted against the bound. */
  static readonly ENTRY_OVERHEAD = 160;
}

function kindName(kind: LogEntryKind): string {
  return (LogEntryKind[kind] ?? `kind_${kind}`).toLowerCase();
}

function asAuditError(err: unknown): AuditError {
  if (err instanceof AuditError) return err;
  return new AuditError("internal", `unexpected failure: ${(err as Error)?.message}`, { cause: err });
}

/** Decodes a payload or undefined: for reading ahead what an entry names (the checks decode it again). */
function peek<S extends DescMessage>(schema: S, payload: Uint8Array): MessageShape<S> | undefined {
  try {
    return fromBinary(schema, payload);
  } catch {
    return undefined;
  }
}

/**
 * Opens a member commitment (canary pairs, watermark key, reference fingerprint): signed by a key of the member
 * its body names, logged before it and valid at its committed_at (proven-entry.ts openMemberLeaf).
 */
function openCommitment<S extends DescMessage>(
  c: CheckList,
  e: IndexedLeaf,
  keys: ReadonlyMap<string, AuditedKey>,
  schema: S,
): void {
  const memberId = c.run(
    "commitment.decode",
    "malformed",
    () => (decodePayload(schema, e.leaf.envelope.payload, schema.name) as { memberId?: unknown }).memberId,
  );
  if (typeof memberId !== "string")
    c.fail("commitment.decode", "malformed", "the commitment names no member");
  openMemberLeaf(
    c,
    "commitment",
    e,
    keys,
    memberId,
    e.leaf.envelope.payloadType,
    schema,
    (b) => (b as { committedAt?: Timestamp }).committedAt,
  );
}

/**
 * Walks the whole log of the hub's latest checkpoint (`checkpoints`), reading its entries from `entries`. Returns
 * the report; a fatal failure (tree, checkpoint, witnesses, saved state) is in `report.fatal`. Throws AuditError
 * `unavailable` when the hub (or the state) cannot be read, `invalid_argument` for a bad option.
 */
export async function auditLog(
  checkpoints: CheckpointSource,
  entries: LogEntryStream,
  trust: TrustRoot,
  options: LogWalkOptions = {},
): Promise<LogWalkReport> {
  const required = options.witnessQuorum ?? ((trust.witnesses?.length ?? 0) > 0 ? 1 : 0);
  if (!Number.isSafeInteger(required) || required < 0 || required > 16)
    throw new AuditError("invalid_argument", "witnessQuorum must be an integer in 0..16");
  const cacheBytes = options.cacheBytes ?? DEFAULT_WALK_CACHE_BYTES;
  if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0 || cacheBytes > 2 ** 32)
    throw new AuditError("invalid_argument", "cacheBytes must be an integer in 0..2^32");
  const maxFailures = options.maxFailures ?? DEFAULT_MAX_FAILURES;
  if (!Number.isSafeInteger(maxFailures) || maxFailures < 0 || maxFailures > 1_000_000)
    throw new AuditError("invalid_argument", "maxFailures must be an integer in 0..1000000");
  const state = options.state;
  const start = state === undefined ? trust : await state.withSavedRoots(trust);

  const nodes = new TreeNodes();
  const hubKeys = HubKeyHistory.empty(trust);
  const keys = new Map<string, AuditedKey>();
  const statuses = new Map<string, StatusChange[]>();
  const epochs = new EpochSequence();
  const cache = new LeafCache(cacheBytes);
  const byKind: Record<string, number> = {};
  const failures: LogFailure[] = [];
  let failuresOmitted = 0;
  const counts = {
    canaryPairs: 0,
    watermarkKeys: 0,
    referenceFingerprints: 0,
    sightings: 0,
    sessions: 0,
    reviewDecisions: 0,
  };
  const attestations = {
    total: 0,
    verified: 0,
    failed: 0,
    byVerdict: { LIKELY_DERIVED: 0, SIMILAR: 0, INCONCLUSIVE: 0 },
  };
  let origin = "";
  let witnessCosigners: readonly string[] = [];
  let saved: Checkpoint | undefined;
  let savedNote: string | undefined;

  const record = (f: LogFailure): void => {
    if (failures.length < maxFailures) failures.push(f);
    else failuresOmitted++;
  };
  /** Records a failed entry; a hub that cannot be read, or a bug, stops the walk. */
  const failed = (index: number, kind: string, err: unknown): void => {
    const e = asAuditError(err);
    if (e.code === "unavailable" || e.code === "internal") throw e;
    let check: string | undefined;
    for (const c of e.checks as readonly AuditCheck[]) if (!c.passed) check = c.name;
    record({ index, kind, code: e.code, ...(check === undefined ? {} : { check }), message: e.message });
  };
  const report = (fatal?: LogFailure, outcome: WalkSavedOutcome = "no_state"): LogWalkReport => ({
    origin,
    size: nodes.size,
    rootHash: toHex(nodes.root()),
    complete: fatal === undefined,
    ...(fatal === undefined ? {} : { fatal }),
    saved: outcome,
    witnesses: { required, cosigners: witnessCosigners },
    entries: byKind,
    members: {
      members: new Set([...[...keys.values()].map((k) => k.memberId), ...statuses.keys()]).size,
      keys: keys.size,
      revokedKeys: [...keys.values()].filter((k) => k.revokedAtIndex !== undefined).length,
      statusChanges: [...statuses.values()].reduce((n, l) => n + l.length, 0),
    },
    hubKeys: {
      statements: hubKeys.statementIndexes.length,
      delegations: hubKeys.delegations.length,
      rootRotations: hubKeys.rotations.length,
    },
    epochs: epochs.epochs.map((e) => ({ index: e.index, epochId: e.epochId, number: e.number })),
    suppressions: epochs.suppressions,
    commitments: {
      canaryPairs: counts.canaryPairs,
      watermarkKeys: counts.watermarkKeys,
      referenceFingerprints: counts.referenceFingerprints,
    },
    sightings: counts.sightings,
    sessions: counts.sessions,
    reviewDecisions: counts.reviewDecisions,
    attestations,
    failures,
    failuresOmitted,
  });
  const fatal = (kind: string, err: unknown, index?: number): LogWalkReport => {
    const e = asAuditError(err);
    if (e.code === "unavailable" || e.code === "internal") throw e;
    return report({ index, kind, code: e.code, message: e.message });
  };

  // The checkpoint the walk ends at. It is opened now when the auditor already holds its root; a checkpoint
  // signed by a root the log rotated to opens only once the walk has read the rotation (at the end, always).
  const noteBytes = await checkpoints.latestCheckpoint();
  let claimed: Checkpoint;
  try {
    if (noteBytes.length > MAX_CHECKPOINT_BYTES)
      throw new AuditError("too_large", "checkpoint exceeds 16 KiB");
    claimed = parseCheckpoint(parseNote(noteBytes).text);
  } catch (err) {
    return fatal(
      "checkpoint",
      err instanceof AuditError
        ? err
        : new AuditError("malformed", `the hub's checkpoint: ${(err as Error).message}`, { cause: err }),
    );
  }
  origin = claimed.origin;
  try {
    openHubCheckpoint(noteBytes, start);
  } catch (err) {
    const code = (err as AuditError).code;
    if (code !== "unknown_key" && code !== "hub_key_not_valid") return fatal("checkpoint", err);
  }
  if (claimed.size > MAX_HISTORY_ENTRIES)
    return fatal(
      "checkpoint",
      new AuditError("too_large", `a log of ${claimed.size} entries is beyond the walk's bound`),
    );
  if (state !== undefined) {
    savedNote = await state.lastCheckpoint(start);
    if (savedNote !== undefined) saved = openHubCheckpoint(savedNote, start);
  }
  const contradiction = async (code: "inconsistent_with_saved" | "rollback", why: string) => {
    const file = await (state as AuditorState).saveEvidence(code, {
      "checkpoint saved earlier": savedNote ?? "",
      "checkpoint now served": new TextDecoder().decode(noteBytes),
    });
    return fatal("tree", new AuditError(code, `${why} (evidence kept in ${file})`), nodes.size);
  };

  /** The entries an attestation at `at` rests on, read ahead: from the cache, or again from the hub. */
  const readAhead = async (at: number, leaf: AuditedLeaf): Promise<Map<number, Uint8Array>> => {
    const got = new Map<number, Uint8Array>();
    const want = async (named: bigint | undefined): Promise<Uint8Array | undefined> => {
      if (named === undefined || named >= BigInt(at)) return undefined;
      const i = Number(named);
      let bytes = got.get(i) ?? cache.get(i);
      if (bytes === undefined) {
        const page = await entries.entries(i, i + 1);
        if (page.length !== 1 || page[0]?.index !== i)
          throw new AuditError("malformed", `the hub sent ${page.length} entries for [${i}, ${i + 1})`);
        bytes = page[0].leaf;
        // The same index served twice with other bytes: the hub shows two logs.
        if (!bytesEqual(hashLeaf(bytes), nodes.leafHash(i)))
          throw new AuditError("bad_proof", `entry ${i}, read again, is not the entry the walk hashed`);
      }
      got.set(i, bytes);
      return bytes;
    };
    const st = peek(AttestationStatementSchema, leaf.envelope.payload);
    if (st === undefined) return got;
    const sessionBytes = await want(st.bound?.sessionIndex);
    await want(st.canaryCommitment?.logIndex);
    await want(st.watermarkCommitment?.logIndex);
    if (sessionBytes === undefined) return got;
    let session: ReturnType<typeof peek<typeof SessionOpenedSchema>>;
    try {
      session = peek(SessionOpenedSchema, decodeAuditedLeaf(sessionBytes, "session").envelope.payload);
    } catch {
      return got;
    }
    await want(session?.firstSeenIndex);
    await want(session?.referenceFingerprintIndex);
    await want(session?.canaryCommitment?.logIndex);
    await want(session?.watermarkCommitment?.logIndex);
    return got;
  };
  const logSource = (at: number, got: ReadonlyMap<number, Uint8Array>): BoundEntrySource => ({
    entry: (c, name, named) =>
      c.run(`${name}.logged`, "wrong_entry", () => {
        const i = toIndex(named, `${name} index`);
        if (i >= at)
          throw new AuditError(
            i < claimed.size ? "out_of_order" : "wrong_entry",
            `the ${name} the attestation rests on (entry ${i}) is not logged before it (entry ${at})`,
          );
        const bytes = got.get(i);
        if (bytes === undefined) throw new AuditError("internal", `entry ${i} was not read ahead`);
        return { index: i, leaf: decodeAuditedLeaf(bytes, `log entry ${i}`) };
      }),
    seedTree: (c, size) =>
      c.run(
        "session.seed_tree",
        "seed_mismatch",
        () => {
          if (size < 1 || size > at)
            throw new AuditError(
              "seed_mismatch",
              `the session's seed tree of size ${size} is not below the attestation`,
            );
          return { size, rootHash: nodes.rootAt(size), origin: claimed.origin };
        },
        `the root of the log's own first ${size} entries`,
      ),
  });

  try {
    for await (const served of entries.stream(0, claimed.size)) {
      const index = served.index;
      nodes.append([hashLeaf(served.leaf)]);
      if (saved !== undefined && nodes.size === saved.size && !bytesEqual(nodes.root(), saved.rootHash)) {
        return await contradiction(
          "inconsistent_with_saved",
          `the log's first ${saved.size} entries do not hash to the root of the checkpoint of that size this auditor saved: the hub rewrote its history or shows another one`,
        );
      }
      let leaf: AuditedLeaf;
      try {
        leaf = decodeAuditedLeaf(served.leaf, `log entry ${index}`);
      } catch (err) {
        byKind.undecodable = (byKind.undecodable ?? 0) + 1;
        failed(index, "leaf", err);
        continue;
      }
      const kind = kindName(leaf.kind);
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      const e: IndexedLeaf = { index, leaf };
      const c = new CheckList();
      try {
        // Each check runs in the CheckList, so a throw that is not an AuditError (a key that is not a point,
        // say) is this entry's failure under the check's code, as in `audit verify`, never "could not check".
        switch (leaf.kind) {
          case LogEntryKind.HUB_KEY:
            c.run("hub_key.statement", "hub_key_unauthorized", () => hubKeys.append(e, claimed.origin));
            break;
          case LogEntryKind.MEMBERSHIP:
            c.run("membership.signature", "bad_signature", () =>
              replayMembership(keys, statuses, hubKeys, e),
            );
            break;
          case LogEntryKind.EPOCH:
          case LogEntryKind.SKETCH_SUPPRESSION:
            c.run(`${kind}.sequence`, "malformed", () =>
              epochs.add(index, leaf, hubKeys.keyFor("membership", index)),
            );
            break;
          case LogEntryKind.COMMITMENT: {
            cache.set(index, served.leaf);
            const type = leaf.envelope.payloadType;
            if (type === PAYLOAD_TYPES.canaryCommitment) {
              openCommitment(c, e, keys, CanaryCommitmentSchema);
              counts.canaryPairs++;
            } else if (type === PAYLOAD_TYPES.watermarkCommitment) {
              openCommitment(c, e, keys, WatermarkKeyCommitmentSchema);
              counts.watermarkKeys++;
            } else {
              openCommitment(c, e, keys, ReferenceFingerprintCommitmentSchema);
              counts.referenceFingerprints++;
            }
            break;
          }
          case LogEntryKind.SESSION: {
            cache.set(index, served.leaf);
            const session = openHubLeaf(
              c,
              "session",
              e,
              hubKeys,
              "sessions",
              leaf.kind,
              PAYLOAD_TYPES.session,
              SessionOpenedSchema,
            );
            // Every session's seed, answered or not, from the walk's own tree at its seed size.
            checkSessionSeed(c, session, logSource(index, new Map()).seedTree);
            counts.sessions++;
            break;
          }
          case LogEntryKind.SUSPECT_SIGHTING:
            cache.set(index, served.leaf);
            openHubLeaf(
              c,
              "sighting",
              e,
              hubKeys,
              "sessions",
              leaf.kind,
              PAYLOAD_TYPES.sighting,
              SuspectSightingSchema,
            );
            counts.sightings++;
            break;
          case LogEntryKind.REVIEW_DECISION:
            c.run("review_decision.signature", "bad_signature", () => {
              hubKeys.checkSigned(leaf.envelope, "membership", index, "review decision");
              decodePayload(ReviewDecisionSchema, leaf.envelope.payload, "ReviewDecision");
            });
            counts.reviewDecisions++;
            break;
          case LogEntryKind.ATTESTATION: {
            attestations.total++;
            let got: Map<number, Uint8Array>;
            try {
              got = await readAhead(index, leaf);
            } catch (err) {
              // Another leaf (or none) served again for an index the walk hashed: no longer one log.
              return fatal("tree", err, index);
            }
            try {
              const v = verifyAttestationEntry(c, e, {
                hubKeys,
                keys,
                statuses,
                entries: logSource(index, got),
              });
              attestations.verified++;
              attestations.byVerdict[v.bound.verdict.verdict]++;
            } catch (err) {
              attestations.failed++;
              throw err;
            }
            break;
          }
          default:
            // Withdrawals: counted, not checked.
            break;
        }
      } catch (err) {
        failed(index, kind, err);
      }
    }
  } catch (err) {
    // The stream itself broke its contract (indexes out of order, a leaf over the bound): no tree to trust.
    return fatal("tree", err, nodes.size);
  }
  if (nodes.size !== claimed.size)
    return fatal(
      "tree",
      new AuditError("malformed", `the hub sent ${nodes.size} of ${claimed.size} entries`),
    );

  // The tree and the checkpoint: nothing above holds unless these do.
  const full = trustWithRotations(trust, hubKeys);
  let cp: Checkpoint;
  try {
    cp = openHubCheckpoint(noteBytes, full);
  } catch (err) {
    return fatal("checkpoint", err);
  }
  if (!bytesEqual(nodes.root(), cp.rootHash)) {
    return fatal(
      "tree",
      new AuditError(
        "bad_proof",
        `the log's entries [0, ${cp.size}) do not hash to the checkpoint's root: the hub served another history than it signed`,
      ),
    );
  }
  try {
    witnessCosigners = checkWitnessQuorum(noteBytes, full, required).cosigners;
  } catch (err) {
    return fatal("checkpoint", err);
  }
  if (state === undefined) return report(undefined, "no_state");
  if (saved !== undefined && saved.size > cp.size)
    return await contradiction(
      "rollback",
      `the hub's tree has ${cp.size} entries; this auditor saved a checkpoint of ${saved.size}`,
    );
  const outcome: WalkSavedOutcome =
    saved === undefined ? "first_contact" : saved.size === cp.size ? "same" : "consistent";
  if (saved === undefined || cp.size > saved.size)
    await state.saveCheckpoint(full, new TextDecoder().decode(noteBytes));
  await state.saveRoots(full);
  return report(undefined, outcome);
}
