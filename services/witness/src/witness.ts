/**
 * A witness (c2sp.org/tlog-witness, docs/specs/witness.md): it cosigns a log's checkpoint only when the
 * checkpoint is signed by the configured key of that log AND a consistency proof shows it extends the last
 * checkpoint this witness cosigned for the log. So a log that shows two different histories (a split view,
 * a rewritten or rolled-back log) cannot get both cosigned by one honest witness, and auditors that require
 * witness cosignatures see only histories every witness they trust has checked.
 *
 * The log's key may rotate (a logged ROTATE_ROOT, docs/specs/hub-keys.md): a checkpoint signed by a new key is
 * cosigned only with the proof root-rotation.ts checks, and the adopted root is kept with the log's state; from
 * then on the rotated-out root is refused (`root_rotated_out`).
 */
import {
  bytesEqual,
  type Checkpoint,
  cosignatureV1Signer,
  type Ed25519PrivateKey,
  Ed25519PublicKey,
  ed25519NoteVerifier,
  formatCosignatureVerifierKey,
  fromBase64,
  isCryptoError,
  type NoteSigner,
  openCheckpoint,
  parseAddCheckpointRequest,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  signNote,
  verifyConsistency,
} from "@lineage/crypto";
import { checkRootRotations } from "./root-rotation.js";
import { WitnessError } from "./witness-error.js";
import type { TrustedRoot, WitnessState } from "./witness-state.js";

/** Options of {@link Witness}. */
export interface WitnessOptions {
  /** The witness's key name (e.g. `witness.example/w1`), the name in its cosignature lines. */
  readonly name: string;
  readonly key: Ed25519PrivateKey;
  /**
   * The logs this witness cosigns for: origin -> the log's checkpoint verifier key as its operator gave it
   * (`name+hex8(key id)+base64(0x01 || key)`, the hub's trust root). Rotations of it are followed from the log.
   */
  readonly logs: ReadonlyMap<string, string>;
  readonly state: WitnessState;
  /** Clock in ms since the epoch (tests inject one). */
  readonly now?: () => number;
}

/** What {@link Witness.addCheckpoint} returns. */
export interface Cosigned {
  readonly checkpoint: Checkpoint;
  /** The cosignature line(s), each ending in a newline: the add-checkpoint response body. */
  readonly signatureLines: string;
}

/** A log as configured: its checkpoint key's name and its (first) root key. */
interface LogKey {
  readonly name: string;
  readonly key: Ed25519PublicKey;
}

/** A witness over its state. Serialises updates per log so two requests cannot both advance it. */
export class Witness {
  readonly name: string;
  readonly #signer: NoteSigner;
  readonly #logs: ReadonlyMap<string, LogKey>;
  readonly #state: WitnessState;
  readonly #verifierKey: string;
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(options: WitnessOptions) {
    const now = options.now ?? Date.now;
    try {
      this.#signer = cosignatureV1Signer(options.name, options.key, () => Math.floor(now() / 1000));
      this.#verifierKey = formatCosignatureVerifierKey(options.name, options.key.publicKey);
    } catch (cause) {
      throw new WitnessError("invalid_argument", `witness name or key: ${(cause as Error).message}`, {
        cause,
      });
    }
    if (options.logs.size === 0)
      throw new WitnessError("invalid_argument", "a witness needs at least one log");
    this.name = options.name;
    const logs = new Map<string, LogKey>();
    for (const [origin, vkey] of options.logs) {
      try {
        const verifier = parseVerifierKey(vkey);
        // parseVerifierKey checked the form and the key id: the key follows the second '+' and the type byte
        // (the name and the hex key id hold no '+'; the base64 may).
        const raw = fromBase64(vkey.slice(vkey.indexOf("+", vkey.indexOf("+") + 1) + 1), "verifier key");
        logs.set(origin, { name: verifier.name, key: Ed25519PublicKey.fromRaw(raw.subarray(1)) });
      } catch (cause) {
        throw new WitnessError("invalid_argument", `log ${origin}: ${(cause as Error).message}`, { cause });
      }
    }
    this.#logs = logs;
    this.#state = options.state;
  }

  /** Checks every stored log state (see WitnessState.checkAll); the server runs it before listening. */
  checkState(): Promise<number> {
    return this.#state.checkAll();
  }

  /** The witness's verifier key, `name+hex8(key id)+base64(0x04 || public key)`, which auditors trust. */
  get verifierKey(): string {
    return this.#verifierKey;
  }

  /**
   * Handles an add-checkpoint request body (attacker-controlled). Resolves with the cosignature once the
   * new state is durable; rejects with a {@link WitnessError} saying why it refused.
   */
  async addCheckpoint(body: string): Promise<Cosigned> {
    let req: ReturnType<typeof parseAddCheckpointRequest>;
    let text: string;
    try {
      req = parseAddCheckpointRequest(body);
      text = parseNote(req.note).text;
    } catch (cause) {
      throw cryptoRefusal(cause, "malformed");
    }
    let unverified: Checkpoint;
    try {
      unverified = parseCheckpoint(text);
    } catch (cause) {
      throw cryptoRefusal(cause, "malformed");
    }
    const origin = unverified.origin;
    const log = this.#logs.get(origin);
    if (log === undefined)
      throw new WitnessError("unknown_log", `this witness does not follow log "${origin}"`);
    return this.#serial(origin, async () => {
      const last = await this.#state.get(origin);
      const lastSize = last?.size ?? 0;
      const roots = trustedRoots(log, last?.roots);
      const { checkpoint, adopted } = this.#open(req, log, roots, unverified, lastSize);
      if (req.oldSize > checkpoint.size) {
        throw new WitnessError(
          "malformed",
          `old size ${req.oldSize} is larger than the checkpoint's ${checkpoint.size}`,
        );
      }
      if (checkpoint.size < lastSize) {
        throw new WitnessError(
          "rollback",
          `checkpoint of size ${checkpoint.size} is older than the size ${lastSize} already cosigned`,
          { latestSize: lastSize },
        );
      }
      if (req.oldSize !== lastSize) {
        throw new WitnessError(
          "old_size_mismatch",
          `old size ${req.oldSize} is not the size ${lastSize} this witness last cosigned`,
          { latestSize: lastSize },
        );
      }
      if (last !== undefined) {
        if (checkpoint.size === last.size) {
          if (!bytesEqual(checkpoint.rootHash, last.rootHash)) {
            throw new WitnessError(
              "fork",
              `a different root for size ${checkpoint.size} than the one already cosigned: the log forked`,
              { latestSize: lastSize },
            );
          }
        }
        // Lineage logs name their previous checkpoint's size (docs/specs/witness.md): a checkpoint claiming
        // to follow one older than what this witness cosigned would hide that checkpoint from auditors.
        const previous = previousSize(checkpoint);
        if (checkpoint.size > last.size && previous !== undefined && previous < last.size) {
          throw new WitnessError(
            "hidden_checkpoint",
            `the checkpoint says the previous one had size ${previous}, but this witness cosigned size ${last.size}`,
            { latestSize: lastSize },
          );
        }
        try {
          verifyConsistency(last.size, checkpoint.size, req.proof, last.rootHash, checkpoint.rootHash);
        } catch (cause) {
          throw new WitnessError(
            "bad_proof",
            `the consistency proof from size ${last.size} to ${checkpoint.size} does not verify`,
            { cause },
          );
        }
      } else if (req.proof.length !== 0) {
        throw new WitnessError("bad_proof", "a consistency proof from size 0 must be empty");
      }
      // The same checkpoint again: the same line (see WitnessedCheckpoint.cosignature), never a fresh one.
      if (last !== undefined && last.size === checkpoint.size)
        return { checkpoint, signatureLines: last.cosignature };
      const signatureLines = signNote(text, [this.#signer]).slice(text.length + 1);
      // Durable before it is answered: a crash after this line leaves the witness at the new size.
      await this.#state.put({
        origin,
        size: checkpoint.size,
        rootHash: checkpoint.rootHash,
        note: req.note,
        cosignature: signatureLines,
        // Adopted with the checkpoint, in one durable write: a restart keeps following the new root.
        ...(adopted.length > 0
          ? { roots: [...roots, ...adopted] }
          : last?.roots === undefined
            ? {}
            : { roots: last.roots }),
      });
      return { checkpoint, signatureLines };
    });
  }

  /**
   * Opens the request's checkpoint under the log's current root, or under the root a proven rotation hands over
   * to (root-rotation.ts); `adopted` lists the roots to keep from now on. A checkpoint by a rotated-out root is
   * `root_rotated_out`, one by a key no proven rotation names `bad_signature` (or `rotation_key_mismatch` when the
   * request proved a rotation to another key).
   */
  #open(
    req: ReturnType<typeof parseAddCheckpointRequest>,
    log: LogKey,
    roots: readonly TrustedRoot[],
    unverified: Checkpoint,
    lastSize: number,
  ): { checkpoint: Checkpoint; adopted: TrustedRoot[] } {
    const origin = unverified.origin;
    const open = (key: Ed25519PublicKey) =>
      openCheckpoint(req.note, { log: ed25519NoteVerifier(log.name, key), origin }).checkpoint;
    const current = roots.at(-1) as TrustedRoot;
    let refusal: unknown;
    try {
      return { checkpoint: open(current.key), adopted: [] };
    } catch (cause) {
      if (!isCryptoError(cause, "unknown_key")) throw cryptoRefusal(cause, "bad_signature");
      refusal = cause;
    }
    for (const former of roots.slice(0, -1)) {
      let opened = false;
      try {
        open(former.key);
        opened = true;
      } catch {
        // not by this former root either
      }
      if (opened)
        throw new WitnessError(
          "root_rotated_out",
          `the checkpoint of size ${unverified.size} is signed by a root of "${origin}" that was rotated away`,
        );
    }
    const rotations = req.rotations ?? [];
    const adopted =
      rotations.length === 0
        ? []
        : checkRootRotations({
            origin,
            keyName: log.name,
            roots,
            rotations,
            checkpoint: unverified,
            lastSize,
          });
    const next = adopted.at(-1);
    if (next === undefined) throw cryptoRefusal(refusal, "bad_signature");
    try {
      return { checkpoint: open(next.key), adopted };
    } catch (cause) {
      if (isCryptoError(cause, "unknown_key") || isCryptoError(cause, "bad_signature"))
        throw new WitnessError(
          "rotation_key_mismatch",
          `the checkpoint is not signed by the root the rotation at index ${next.index} names`,
          { cause },
        );
      throw cryptoRefusal(cause, "bad_signature");
    }
  }

  async #serial<T>(origin: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(origin) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.#locks.set(origin, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(origin) === tail) this.#locks.delete(origin);
    }
  }
}

/**
 * The roots trusted for a log: the chain kept in its state when it holds the configured key (the usual case: the
 * operator's configuration still names the first root), else the configured key after it (an operator who
 * configured a new key by hand decided to trust it).
 */
function trustedRoots(log: LogKey, stored: readonly TrustedRoot[] | undefined): readonly TrustedRoot[] {
  const configured = { key: log.key, index: -1 };
  if (stored === undefined || stored.length === 0) return [configured];
  if (stored.some((r) => r.key.keyId === log.key.keyId)) return stored;
  return [...stored, configured];
}

const PREVIOUS_SIZE_RE = /^lineage-previous-size (0|[1-9][0-9]{0,15})$/;

/** The size in the checkpoint's single well-formed `lineage-previous-size` line, if it has exactly one. */
function previousSize(cp: Checkpoint): number | undefined {
  const lines = (cp.extensions ?? []).filter((e) => e.startsWith("lineage-previous-size "));
  const m = lines.length === 1 ? PREVIOUS_SIZE_RE.exec(lines[0] as string) : null;
  return m === null ? undefined : Number(m[1]);
}

function cryptoRefusal(cause: unknown, fallback: "malformed" | "bad_signature"): WitnessError {
  if (cause instanceof WitnessError) return cause;
  if (isCryptoError(cause)) {
    const code =
      cause.code === "too_large"
        ? "too_large"
        : cause.code === "bad_signature" || cause.code === "unknown_key"
          ? "bad_signature"
          : cause.code === "inconsistent"
            ? "unknown_log"
            : fallback;
    return new WitnessError(code, cause.message, { cause });
  }
  return new WitnessError("internal", "unexpected failure", { cause });
}
