/**
 * `lineage audit consistency`: fetch the hub's latest checkpoint and a consistency proof (RFC 9162
 * section 2.1.4) from the last checkpoint this auditor verified, and check that the new tree extends
 * the old one. A contradiction between two hub-signed checkpoints — same size with another root,
 * a proof that fails (a fork / split view / rewritten history), or a smaller tree than one the hub
 * signed before (rollback) — is reported with code `split_view` or `rollback`, and both signed
 * checkpoints are kept as evidence. The state only advances after a successful check.
 */
import type { ChannelCredentials } from "@grpc/grpc-js";
import { Hub } from "@lineage/api";
import { type Checkpoint, toBase64, verifyConsistency } from "@lineage/crypto";
import { createClient, RpcError } from "@lineage/rpc";
import { type AuditCheck, AuditError, CheckList } from "./audit-error.js";
import type { AuditorState } from "./auditor-state.js";
import { openHubCheckpoint } from "./log-records.js";
import type { TrustRoot } from "./trust-root.js";
import { checkWitnessQuorum } from "./witness-quorum.js";

/** Where checkpoints and proofs come from (a hub over gRPC, or anything else for offline use). */
export interface CheckpointSource {
  /** The latest signed checkpoint note. */
  latestCheckpoint(): Promise<Uint8Array>;
  /** Consistency proof hashes between two sizes. */
  consistencyProof(oldSize: number, newSize: number): Promise<Uint8Array[]>;
}

/** Outcome of a successful consistency audit. */
export interface ConsistencyReport {
  readonly checks: readonly AuditCheck[];
  /** The previously seen checkpoint; undefined on first contact (trust on first use). */
  readonly previous?: Checkpoint;
  readonly current: Checkpoint;
  /** The note now stored as the latest seen. */
  readonly currentNote: string;
}

/**
 * Checks that a hub-signed checkpoint `newer` extends `older` given consistency proof `proof`
 * (attacker-controlled). Throws `split_view` or `rollback`.
 */
export function checkExtends(older: Checkpoint, newer: Checkpoint, proof: readonly Uint8Array[]): void {
  if (newer.size < older.size) {
    throw new AuditError(
      "rollback",
      `the hub now signs a tree of ${newer.size} entries after one of ${older.size}`,
    );
  }
  if (proof.length > 64) throw new AuditError("too_large", "consistency proof has more than 64 hashes");
  try {
    verifyConsistency(older.size, newer.size, proof, older.rootHash, newer.rootHash);
  } catch (cause) {
    throw new AuditError(
      "split_view",
      newer.size === older.size
        ? `two different roots signed for tree size ${newer.size}`
        : `the tree of ${newer.size} entries does not extend the tree of ${older.size} entries seen before`,
      { cause },
    );
  }
}

/**
 * Runs the consistency audit against `source`, remembering the result in `state`. With witnesses in the trust
 * root the served checkpoint must also carry `witnessQuorum` trusted cosignatures (default 1; 0 waives it),
 * checked before it is saved (`witness_quorum`, `bad_cosignature`).
 */
export async function auditConsistency(
  source: CheckpointSource,
  trust: TrustRoot,
  state: AuditorState,
  witnessQuorum: number = (trust.witnesses?.length ?? 0) > 0 ? 1 : 0,
): Promise<ConsistencyReport> {
  const c = new CheckList();
  const previousNote = await state.lastCheckpoint(trust);
  const previous =
    previousNote === undefined
      ? undefined
      : c.run("state.previous_checkpoint", "bad_signature", () => openHubCheckpoint(previousNote, trust));
  const noteBytes = await source.latestCheckpoint();
  const current = c.run("checkpoint.signature", "bad_signature", () => openHubCheckpoint(noteBytes, trust));
  const currentNote = new TextDecoder().decode(noteBytes);
  if (witnessQuorum > 0) {
    c.run(
      "checkpoint.witnesses",
      "witness_quorum",
      () => checkWitnessQuorum(noteBytes, trust, witnessQuorum),
      `at least ${witnessQuorum} trusted witness cosignature(s)`,
    );
  }
  if (previous !== undefined && previousNote !== undefined) {
    let proof: Uint8Array[] = [];
    if (current.size > previous.size && previous.size > 0) {
      proof = await source.consistencyProof(previous.size, current.size);
    }
    try {
      c.run(
        "log.consistency",
        "split_view",
        () => checkExtends(previous, current, proof),
        `${previous.size} -> ${current.size}`,
      );
    } catch (err) {
      if (err instanceof AuditError && (err.code === "split_view" || err.code === "rollback")) {
        const file = await state.saveEvidence(err.code, {
          "previously verified checkpoint": previousNote,
          "checkpoint now served": currentNote,
          "consistency proof (base64)": proof.map(toBase64).join("\n"),
        });
        throw new AuditError(err.code, `${err.message} (evidence kept in ${file})`, {
          checks: err.checks,
          cause: err,
        });
      }
      throw err;
    }
  } else {
    c.pass("log.first_contact", "no earlier checkpoint of this log: trusting this one from now on");
  }
  await state.saveCheckpoint(trust, currentNote);
  return { checks: c.checks, ...(previous === undefined ? {} : { previous }), current, currentNote };
}

function unavailable(err: unknown, what: string): AuditError {
  if (err instanceof AuditError) return err;
  const code = err instanceof RpcError ? err.code : "internal";
  // The hub refusing a well-formed request (e.g. a size it claims not to have) is itself evidence.
  if (code === "not_found" || code === "invalid_argument") {
    return new AuditError("split_view", `${what}: the hub refused: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return new AuditError("unavailable", `${what}: ${(err as Error).message}`, { cause: err });
}

/** A {@link CheckpointSource} over a hub's gRPC API. Close it when done. */
export function hubCheckpointSource(
  address: string,
  credentials: ChannelCredentials,
  timeoutMs = 10_000,
): CheckpointSource & Disposable {
  const client = createClient(Hub, address, credentials, { defaultTimeoutMs: timeoutMs });
  return {
    async latestCheckpoint() {
      try {
        const res = await client.getCheckpoint({});
        if (res.checkpoint === undefined) throw new AuditError("malformed", "the hub sent no checkpoint");
        return res.checkpoint.signedNote;
      } catch (err) {
        throw unavailable(err, "GetCheckpoint");
      }
    },
    async consistencyProof(oldSize, newSize) {
      try {
        const res = await client.getConsistencyProof({ oldSize: BigInt(oldSize), newSize: BigInt(newSize) });
        const p = res.proof;
        if (p === undefined || p.oldSize !== BigInt(oldSize) || p.newSize !== BigInt(newSize)) {
          throw new AuditError("malformed", "the hub's consistency proof is for other sizes");
        }
        return p.hashes;
      } catch (err) {
        throw unavailable(err, "GetConsistencyProof");
      }
    },
    [Symbol.dispose]: () => client.close(),
  };
}
