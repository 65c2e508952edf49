/**
 * The hub's side of witnessing (issue 8; docs/specs/witness.md). After the log signs a checkpoint, each
 * configured witness is asked to cosign it over c2sp.org/tlog-witness `add-checkpoint` (old size +
 * consistency proof + signed note). A witness's answer is verified under its verifier key before it is
 * kept; the log then serves the checkpoint with every cosignature it got (GetCheckpoint, bundles), and the
 * cosigned note is published on NATS `lineage.checkpoint.<origin token>` for gossip.
 *
 * Cosigning runs beside the writer, never inside a batch: appends do not wait for witnesses. Every checkpoint
 * is sent, in order, on a queue per witness (one request per witness at a time; a slow or dead witness
 * delays only itself): the first checkpoint covering an attestation must be cosigned, since its cosignatures
 * seed a disclosure's sample (docs/specs/disclosure.md). A witness more than MAX_PENDING_CHECKPOINTS behind
 * loses the oldest waiting ones (reported).
 *
 * The log stores each cosignature line (cosignature-store.ts, table log_cosignatures) and serves the latest
 * checkpoint with its lines (GetCheckpoint, bundles) and any first covering checkpoint with its stored lines.
 * After a restart the latest checkpoint is asked for again, and each witness answers the line it stored.
 *
 * After a root rotation (docs/specs/hub-keys.md) a witness still trusting an older root refuses the new root's
 * checkpoint (403): the request is sent again carrying the log's ROTATE_ROOT statements, each with its inclusion
 * proof in that checkpoint's tree (docs/specs/witness.md, "Following a root rotation"), and the witness follows.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { HubKeyAction, HubKeyStatementSchema, LogEntryKind, LogLeafSchema } from "@lineage/api";
import {
  bytesEqual,
  formatAddCheckpointRequest,
  MAX_ROTATIONS_PER_REQUEST,
  type NoteVerifier,
  openCheckpoint,
  parseCosignatureVerifierKey,
  parseNote,
  parseVerifierKey,
  type RootRotationProof,
  sha256,
  signNote,
  toHex,
} from "@lineage/crypto";
import { LogError } from "./log-error.js";
import { PAYLOAD_TYPES } from "./log-leaf.js";
import type { SignedCheckpoint, TransparencyLog } from "./transparency-log.js";

/** One witness the hub asks. */
export interface WitnessEndpoint {
  /** Base URL; requests go to `<url>/add-checkpoint`. http(s) only. */
  readonly url: string;
  /** The witness verifier key `name+hex8+base64(0x04||key)` (what `lineage witness pubkey` prints). */
  readonly verifierKey: string;
}

/** Where cosigned checkpoints are gossiped (a libs/bus Bus satisfies it). */
export interface CheckpointGossip {
  emit(subject: string, data: Uint8Array): Promise<void>;
}

/** The NATS subject of an origin's checkpoints: `lineage.checkpoint.` + hex(SHA-256(origin))[0:32]. */
export function checkpointSubject(origin: string): string {
  return `lineage.checkpoint.${toHex(sha256(new TextEncoder().encode(origin))).slice(0, 32)}`;
}

const MAX_RESPONSE_BYTES = 8 * 1024;
/** Most checkpoints waiting for one witness; older ones are dropped beyond it. */
export const MAX_PENDING_CHECKPOINTS = 1000;

/** A client of one witness; remembers the size the witness holds for this log. */
export class WitnessClient {
  readonly url: string;
  readonly verifier: NoteVerifier;
  readonly #timeoutMs: number;
  /** The size this witness last cosigned for the log, as far as we know (0 until told otherwise). */
  #size = 0;
  #root: Uint8Array | undefined;

  constructor(endpoint: WitnessEndpoint, timeoutMs = 5_000) {
    let u: URL;
    try {
      u = new URL(endpoint.url);
    } catch (cause) {
      throw new LogError("invalid_argument", `witness URL '${endpoint.url}' is not a URL`, { cause });
    }
    if (u.protocol !== "http:" && u.protocol !== "https:")
      throw new LogError("invalid_argument", `witness URL '${endpoint.url}' is not http(s)`);
    try {
      this.verifier = parseCosignatureVerifierKey(endpoint.verifierKey).verifier;
    } catch (cause) {
      throw new LogError("invalid_argument", `witness key for ${endpoint.url}: ${(cause as Error).message}`, {
        cause,
      });
    }
    this.url = `${u.origin}${u.pathname.replace(/\/$/, "")}`;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Asks the witness to cosign `cp` (signed by `logVerifier`) and returns the verified cosignature line.
   * On a 409 the witness says which size it holds: one retry with a proof from there. On a 403 (the witness
   * does not trust the key that signed `cp`), one retry carrying `rotations(cp.treeSize)` when there are any.
   */
  async cosign(
    cp: SignedCheckpoint,
    logVerifier: NoteVerifier,
    proof: (oldSize: number, newSize: number) => Promise<Uint8Array[]>,
    rotations?: (treeSize: number) => Promise<RootRotationProof[]>,
  ): Promise<string> {
    let sizeRetried = false;
    let carried: RootRotationProof[] | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const old = this.#size <= cp.treeSize ? this.#size : 0;
      const hashes = old === 0 || old === cp.treeSize ? [] : await proof(old, cp.treeSize);
      const res = await this.#post(
        formatAddCheckpointRequest({
          oldSize: old,
          proof: hashes,
          note: cp.note,
          ...(carried === undefined ? {} : { rotations: carried }),
        }),
      );
      if (res.status === 200) {
        const line = res.body;
        // The answer is untrusted: it must be exactly cosignature lines by this witness over this checkpoint.
        let opened: ReturnType<typeof openCheckpoint>;
        try {
          opened = openCheckpoint(cp.note + line, {
            log: logVerifier,
            witnesses: [this.verifier],
            witnessThreshold: 1,
          });
        } catch (cause) {
          throw new LogError("bad_signature", `witness ${this.url} sent a cosignature that does not verify`, {
            cause,
          });
        }
        if (opened.checkpoint.size !== cp.treeSize || !bytesEqual(opened.checkpoint.rootHash, cp.rootHash))
          throw new LogError("internal", "cosigned checkpoint differs from the one sent");
        this.#size = cp.treeSize;
        this.#root = cp.rootHash;
        const sig = opened.witnessSignatures[0];
        if (sig === undefined) throw new LogError("internal", "no witness signature after verification");
        const text = parseNote(cp.note).text;
        // Re-serialise only the witness's line (drops anything else the witness might have sent).
        return signNote(text, [], [sig]).slice(text.length + 1);
      }
      if (res.status === 403 && carried === undefined && rotations !== undefined) {
        const found = await rotations(cp.treeSize);
        if (found.length > 0) {
          carried = found;
          continue;
        }
      }
      if (res.status === 409 && !sizeRetried) {
        sizeRetried = true;
        const m = /^(0|[1-9][0-9]{0,15})\n?$/.exec(res.body);
        if (m === null) throw new LogError("unavailable", `witness ${this.url} answered 409 without a size`);
        const held = Number(m[1]);
        if (held > cp.treeSize) {
          throw new LogError(
            "failed_precondition",
            `witness ${this.url} already cosigned size ${held}, larger than this checkpoint (${cp.treeSize})`,
          );
        }
        this.#size = held;
        continue;
      }
      throw new LogError(
        res.status >= 500 ? "unavailable" : "failed_precondition",
        `witness ${this.url} refused checkpoint ${cp.treeSize}: HTTP ${res.status} ${res.body.slice(0, 200).trim()}`,
      );
    }
    throw new LogError("unavailable", `witness ${this.url} kept refusing checkpoint ${cp.treeSize} (409)`);
  }

  /** The size and root this witness last cosigned through this client, if any. */
  get lastCosigned(): { size: number; root: Uint8Array } | undefined {
    return this.#root === undefined ? undefined : { size: this.#size, root: this.#root };
  }

  async #post(body: string): Promise<{ status: number; body: string }> {
    let res: Response;
    try {
      res = await fetch(`${this.url}/add-checkpoint`, {
        method: "POST",
        body,
        headers: { "content-type": "text/plain; charset=utf-8" },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      throw new LogError("unavailable", `witness ${this.url} unreachable: ${(cause as Error).message}`, {
        cause,
      });
    }
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.length > MAX_RESPONSE_BYTES)
      throw new LogError("too_large", `witness ${this.url} answered more than ${MAX_RESPONSE_BYTES} bytes`);
    return { status: res.status, body: new TextDecoder().decode(buf) };
  }
}

/**
 * The log's ROTATE_ROOT statements below `treeSize` (the last MAX_ROTATIONS_PER_REQUEST of them), each with its
 * inclusion proof in the tree of that size: what a witness trusting an older root needs to follow
 * (docs/specs/witness.md). `seen` caches, per hub key statement index, its leaf when it is a rotation (null
 * when it is not): entries never change.
 */
export async function rootRotationProofs(
  log: TransparencyLog,
  treeSize: number,
  seen: Map<number, Uint8Array | null> = new Map(),
): Promise<RootRotationProof[]> {
  const found: Array<{ index: number; leaf: Uint8Array }> = [];
  for (const index of log.hubKeyStatementIndexes) {
    if (index >= treeSize) break;
    let leaf = seen.get(index);
    if (leaf === undefined) {
      const e = await log.entry(index);
      if (e === undefined) throw new LogError("internal", `hub key statement ${index} is not stored`);
      // Our own log's entries (checked by log-integrity.ts when read): decoded only to pick the rotations.
      const decoded = fromBinary(LogLeafSchema, e.leaf);
      const env = decoded.envelope;
      const isRotation =
        decoded.kind === LogEntryKind.HUB_KEY &&
        env?.payloadType === PAYLOAD_TYPES.hubKey &&
        fromBinary(HubKeyStatementSchema, env.payload).action === HubKeyAction.ROTATE_ROOT;
      leaf = isRotation ? e.leaf : null;
      seen.set(index, leaf);
    }
    if (leaf !== null) found.push({ index, leaf });
  }
  const last = found.slice(-MAX_ROTATIONS_PER_REQUEST);
  return Promise.all(last.map(async (r) => ({ ...r, proof: await log.inclusionProof(r.index, treeSize) })));
}

/** Options of {@link startWitnessing}. */
export interface WitnessingOptions {
  readonly log: TransparencyLog;
  readonly witnesses: readonly WitnessEndpoint[];
  /** Gossip of cosigned checkpoints (NATS); none when absent. */
  readonly gossip?: CheckpointGossip;
  /** Per-request timeout (ms, default 5000). */
  readonly timeoutMs?: number;
  /** Told about each witness failure (the hub's log). */
  readonly onError?: (err: unknown, witnessUrl: string) => void;
}

/** A running witnessing loop. */
export interface Witnessing extends AsyncDisposable {
  readonly clients: readonly WitnessClient[];
  /** Resolves once every checkpoint signed so far has been through one round of cosigning. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Asks the witnesses to cosign every checkpoint the log signs, in order, each witness on its own queue (a slow
 * or dead witness delays only itself); each cosignature is handed to the log as it arrives (the note served
 * with every line so far), and once every witness has answered or failed for a checkpoint, the cosigned note
 * is gossiped.
 */
export function startWitnessing(options: WitnessingOptions): Witnessing {
  const { log } = options;
  const clients = options.witnesses.map((w) => new WitnessClient(w, options.timeoutMs));
  /**
   * The verifier of the key that signed each queued checkpoint: the log's root when the checkpoint was signed
   * (listeners run after a rotation is followed), so a rotation while checkpoints wait changes nothing for them.
   */
  const signedBy = new Map<number, NoteVerifier>();
  const rotationLeaves = new Map<number, Uint8Array | null>();
  const rotations = (treeSize: number) => rootRotationProofs(log, treeSize, rotationLeaves);
  /**
   * Per checkpoint: its cosignature lines in the order they arrived (each served note extends the one before,
   * which is what the log checks), and how many clients have not finished with it yet.
   */
  const rounds = new Map<number, { cp: SignedCheckpoint; lines: string[]; open: number }>();
  const queues = clients.map(() => [] as SignedCheckpoint[]);
  const running: Array<Promise<void> | undefined> = clients.map(() => undefined);
  let closed = false;
  /** Cosignature writes in flight (settled() and close() wait for them). */
  const storing = new Set<Promise<void>>();

  function finish(cp: SignedCheckpoint, line: string): void {
    const r = rounds.get(cp.treeSize);
    if (r === undefined) return;
    if (line !== "") {
      r.lines.push(line);
      const stored: Promise<void> = log
        .setCosignedCheckpoint(cp.treeSize, cp.note + r.lines.join(""))
        .catch((err: unknown) => options.onError?.(err, "store"))
        .finally(() => storing.delete(stored));
      storing.add(stored);
    }
    r.open--;
    if (r.open > 0) return;
    rounds.delete(cp.treeSize);
    signedBy.delete(cp.treeSize);
    if (options.gossip !== undefined) {
      options.gossip
        .emit(checkpointSubject(log.origin), new TextEncoder().encode(cp.note + r.lines.join("")))
        .catch((err: unknown) => options.onError?.(err, "gossip"));
    }
  }

  function kick(k: number): void {
    if (running[k] !== undefined || closed) return;
    const c = clients[k] as WitnessClient;
    const queue = queues[k] as SignedCheckpoint[];
    running[k] = (async () => {
      while (queue.length > 0 && !closed) {
        const cp = queue.shift() as SignedCheckpoint;
        const logVerifier = signedBy.get(cp.treeSize) ?? parseVerifierKey(log.verifierKey);
        const line = await c
          .cosign(cp, logVerifier, (a, b) => log.consistencyProof(a, b), rotations)
          .catch((err: unknown) => {
            options.onError?.(err, c.url);
            return "";
          });
        finish(cp, line);
      }
    })().finally(() => {
      running[k] = undefined;
      if (queue.length > 0) kick(k);
    });
  }

  function enqueue(cp: SignedCheckpoint): void {
    if (closed || rounds.has(cp.treeSize) || clients.length === 0) return;
    rounds.set(cp.treeSize, { cp, lines: [], open: clients.length });
    signedBy.set(cp.treeSize, parseVerifierKey(log.verifierKey));
    for (const [k, queue] of queues.entries()) {
      queue.push(cp);
      if (queue.length > MAX_PENDING_CHECKPOINTS) {
        const dropped = queue.splice(0, queue.length - MAX_PENDING_CHECKPOINTS);
        for (const d of dropped) finish(d, "");
        options.onError?.(
          new LogError("unavailable", `${dropped.length} checkpoint(s) not sent: the witness fell behind`),
          (clients[k] as WitnessClient).url,
        );
      }
      kick(k);
    }
  }

  log.onCheckpoint(enqueue);
  const latest = log.latestCheckpoint;
  if (latest !== undefined) {
    // After a restart: serve the latest checkpoint with the lines stored before (it is the first checkpoint
    // covering its own last leaf) while the witnesses are asked again.
    if (latest.treeSize > 0) {
      const restored: Promise<void> = log
        .firstCoveringCheckpoint(latest.treeSize - 1)
        .then(async (f) => {
          if (f.checkpoint.treeSize === latest.treeSize && f.checkpoint.note !== latest.note)
            await log.setCosignedCheckpoint(latest.treeSize, f.checkpoint.note);
        })
        .catch((err: unknown) => options.onError?.(err, "store"))
        .finally(() => storing.delete(restored));
      storing.add(restored);
    }
    enqueue(latest);
  }
  const close = async () => {
    closed = true;
    await Promise.all(running);
    await Promise.all(storing);
  };
  return {
    clients,
    async settled() {
      while (running.some((r) => r !== undefined) || storing.size > 0)
        await Promise.all([...running, ...storing]);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
