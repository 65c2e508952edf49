/**
 * A witness (c2sp.org/tlog-witness, docs/specs/witness.md): it cosigns a log's checkpoint only when the
 * checkpoint is signed by the configured key of that log AND a consistency proof shows it extends the last
 * checkpoint this witness cosigned for the log. So a log that shows two different histories (a split view,
 * a rewritten or rolled-back log) cannot get both cosigned by one honest witness, and auditors that require
 * witness cosignatures see only histories every witness they trust has checked.
 */
import {
  bytesEqual,
  type Checkpoint,
  cosignatureV1Signer,
  type Ed25519PrivateKey,
  formatCosignatureVerifierKey,
  isCryptoError,
  type NoteSigner,
  type NoteVerifier,
  openCheckpoint,
  parseAddCheckpointRequest,
  parseCheckpoint,
  parseNote,
  signNote,
  verifyConsistency,
} from "@lineage/crypto";
import { WitnessError } from "./witness-error.js";
import type { WitnessState } from "./witness-state.js";

/** Options of {@link Witness}. */
export interface WitnessOptions {
  /** The witness's key name (e.g. `witness.example/w1`), the name in its cosignature lines. */
  readonly name: string;
  readonly key: Ed25519PrivateKey;
  /** The logs this witness cosigns for: origin -> the log's checkpoint verifier. */
  readonly logs: ReadonlyMap<string, NoteVerifier>;
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

/** A witness over its state. Serialises updates per log so two requests cannot both advance it. */
export class Witness {
  readonly name: string;
  readonly #signer: NoteSigner;
  readonly #logs: ReadonlyMap<string, NoteVerifier>;
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
    this.#logs = options.logs;
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
    let origin: string;
    try {
      origin = parseCheckpoint(text).origin;
    } catch (cause) {
      throw cryptoRefusal(cause, "malformed");
    }
    const log = this.#logs.get(origin);
    if (log === undefined)
      throw new WitnessError("unknown_log", `this witness does not follow log "${origin}"`);
    let checkpoint: Checkpoint;
    try {
      checkpoint = openCheckpoint(req.note, { log, origin }).checkpoint;
    } catch (cause) {
      throw cryptoRefusal(cause, "bad_signature");
    }
    if (req.oldSize > checkpoint.size) {
      throw new WitnessError(
        "malformed",
        `old size ${req.oldSize} is larger than the checkpoint's ${checkpoint.size}`,
      );
    }
    return this.#serial(origin, async () => {
      const last = await this.#state.get(origin);
      const lastSize = last?.size ?? 0;
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
      });
      return { checkpoint, signatureLines };
    });
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
