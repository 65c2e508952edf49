/**
 * Protecting a model (DESIGN.md flow 2, issue 9 "Protected models"): register it with its endpoint, probe
 * it on the epoch battery — each answer stored as it arrives, so a crash or restart resumes where it
 * stopped and never stores a probe twice — then compute the reference fingerprint hash (logged) and the
 * sketch, and publish the signed sketch. The raw responses stay in the database; what leaves the node is
 * the signed sketch (keyed digests) and progress counts.
 *
 * The endpoint is checked before any probing (preflight), and so is the battery: a protect run that cannot
 * work fails at once.
 */
import { randomBytes } from "node:crypto";
import {
  type Battery,
  buildSketch,
  createSketchContext,
  type Fingerprint,
  type ModelAdapter,
  type ModelResponse,
  type ProbeSettings,
  probeRequest,
  sketchInputsFromFingerprint,
  splitBattery,
} from "@lineage/fingerprint";
import type { AdapterConfig } from "../config/member-node-config.js";
import type { MemberNodeDeps } from "../member-node-deps.js";
import { MemberNodeError } from "../member-node-error.js";
import { errorFields } from "../node-logger.js";
import { referenceFingerprintHash } from "../reference-fingerprint.js";
import type { BatterySource, EpochBattery } from "./battery-source.js";
import { endpointAdapter, preflightEndpoint, storedEndpoint } from "./model-endpoint.js";
import {
  answeredIndexes,
  finishRun,
  openRun,
  ResultWriter,
  runResponses,
  upsertModel,
} from "./probe-store.js";
import { logReferenceFingerprint } from "./reference-commitment.js";
import { sketchToProto } from "./sketch-proto.js";
import { publishSketch } from "./sketch-publisher.js";

/** Model ids: proto member_model.proto, 1..128 of [A-Za-z0-9._/-]. */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9._/-]{1,128}$/;
/** Model version labels: at most 64 characters, printable, no line breaks. */
export const MODEL_VERSION_PATTERN = /^[\x20-\x7e]{0,64}$/;

/** Phases, as the gRPC stream reports them. */
export type ProtectPhase = "fetching_battery" | "probing" | "sketching" | "publishing" | "done";

/** One progress report. */
export interface ProtectProgress {
  readonly phase: ProtectPhase;
  readonly probesDone: number;
  readonly probesTotal: number;
  /** SHA-256 of the published Sketch payload (phase `done`). */
  readonly sketchSha256?: Uint8Array;
  /** JetStream acknowledged the announcement as a duplicate (the same sketch was published before). */
  readonly duplicate?: boolean;
}

/** What protecting needs beyond the node's deps. */
export interface ProtectOptions {
  readonly batteries: BatterySource;
  /** Endpoints by adapter name (the node's config). */
  readonly adapters: Readonly<Record<string, AdapterConfig>>;
  /** Environment the endpoints' API keys are read from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Generation settings (temperature 0 and a fixed seed by default). */
  readonly probeSettings?: ProbeSettings;
  /** Builds the adapter of an endpoint (default: the OpenAI-compatible HTTP adapter). */
  readonly adapterFor?: (name: string, config: AdapterConfig) => ModelAdapter;
  /** Skip the endpoint preflight (adapters that are not HTTP endpoints). */
  readonly skipPreflight?: boolean;
  /** Most progress messages per second while probing (default 10; the last one always goes out). */
  readonly progressPerSecond?: number;
}

/** A request to protect a model (already shape-checked by the caller, checked again here). */
export interface ProtectRequest {
  readonly modelId: string;
  readonly modelVersion: string;
  readonly adapter: string;
  /** Undefined = the current epoch. */
  readonly epochId?: string;
}

/** Checks a protect request's fields (untrusted: they come from a gRPC call). */
export function checkProtectRequest(req: ProtectRequest, options: ProtectOptions): AdapterConfig {
  if (!MODEL_ID_PATTERN.test(req.modelId))
    throw new MemberNodeError(
      "invalid_argument",
      "model.model_id must be 1..128 characters of [A-Za-z0-9._/-]",
    );
  if (!MODEL_VERSION_PATTERN.test(req.modelVersion))
    throw new MemberNodeError(
      "invalid_argument",
      "model.model_version must be at most 64 printable ASCII characters",
    );
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(req.adapter))
    throw new MemberNodeError("invalid_argument", "adapter must be 1..128 characters of [A-Za-z0-9._-]");
  if (req.epochId !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(req.epochId))
    throw new MemberNodeError("invalid_argument", "epoch_id must be 1..64 characters of [A-Za-z0-9._:-]");
  const config = Object.hasOwn(options.adapters, req.adapter) ? options.adapters[req.adapter] : undefined;
  if (config === undefined)
    throw new MemberNodeError("invalid_argument", `adapter ${req.adapter} is not configured on this node`);
  return config;
}

/** The battery and fingerprint with each probe renamed to its decimal battery index. */
function wireIds(battery: Battery, fingerprint: Fingerprint): { battery: Battery; fingerprint: Fingerprint } {
  const responses: Record<string, ModelResponse> = {};
  const probes = battery.probes.map((p, i) => {
    const r = Object.hasOwn(fingerprint.responses, p.id) ? fingerprint.responses[p.id] : undefined;
    if (r !== undefined) responses[String(i)] = r;
    return { ...p, id: String(i) };
  });
  return { battery: { ...battery, probes }, fingerprint: { ...fingerprint, responses } };
}

/** A small async queue: workers push, the generator pulls. */
class Channel<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | undefined;
  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }
  async next(): Promise<T> {
    while (this.#items.length === 0) await new Promise<void>((r) => (this.#wake = r));
    this.#wake = undefined;
    return this.#items.shift() as T;
  }
}

type WorkerEvent = { kind: "answered" } | { kind: "failed"; error: unknown } | { kind: "finished" };

/**
 * Probes the battery's unanswered probes with `concurrency` workers, storing each answer as it arrives.
 * Yields the count of answered probes after each one.
 */
async function* probeRemaining(
  deps: MemberNodeDeps,
  runId: string,
  battery: Battery,
  adapter: ModelAdapter,
  settings: ProbeSettings,
  perProbe: EpochBattery["probeSettings"],
  concurrency: number,
  signal: AbortSignal,
): AsyncGenerator<number> {
  const done = await answeredIndexes(deps.store, runId);
  const todo = battery.probes.map((p, i) => ({ p, i })).filter(({ i }) => !done.has(i));
  let answered = done.size;
  if (todo.length === 0) return;
  const channel = new Channel<WorkerEvent>();
  const stop = new AbortController();
  const combined = AbortSignal.any([signal, stop.signal]);
  let next = 0;
  const writer = new ResultWriter(deps.store, runId);
  const worker = async () => {
    while (next < todo.length && !combined.aborted) {
      const item = todo[next++];
      if (item === undefined) break;
      const fixed = perProbe?.get(item.p.id);
      const response: ModelResponse = await adapter.generate(
        probeRequest(item.p, fixed === undefined ? settings : { ...settings, ...fixed }, combined),
      );
      await writer.save(item.i, item.p.id, response);
      channel.push({ kind: "answered" });
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, todo.length)) }, () =>
    worker().then(
      () => channel.push({ kind: "finished" }),
      (error: unknown) => channel.push({ kind: "failed", error }),
    ),
  );
  let finished = 0;
  let failure: unknown;
  try {
    while (finished < workers.length) {
      const ev = await channel.next();
      if (ev.kind === "answered") {
        answered++;
        yield answered;
      } else {
        finished++;
        if (ev.kind === "failed" && failure === undefined) {
          failure = ev.error;
          stop.abort();
        }
      }
    }
  } finally {
    stop.abort();
    await Promise.allSettled(workers);
  }
  if (signal.aborted)
    throw new MemberNodeError("unavailable", "protect was cancelled; it resumes where it stopped");
  if (failure !== undefined) {
    if (failure instanceof MemberNodeError) throw failure;
    const code = (failure as { code?: unknown }).code;
    throw new MemberNodeError(
      "unavailable",
      `probing stopped after ${answered} of ${battery.probes.length} probes (${typeof code === "string" ? code : "error"}); run protect again to resume`,
      { cause: failure },
    );
  }
}

/**
 * Protects a model; yields progress, ending with phase `done` and the published sketch's digest.
 * @throws MemberNodeError (invalid_argument, not_found, failed_precondition, unavailable; already_exists
 *   while another protect of the same model runs)
 */
export async function* protectModel(
  deps: MemberNodeDeps,
  options: ProtectOptions,
  req: ProtectRequest,
  signal: AbortSignal = new AbortController().signal,
): AsyncGenerator<ProtectProgress> {
  checkProtectRequest(req, options);
  // One protect per model at a time on a node: two would ask the endpoint for the same probes twice.
  let running = runningByStore.get(deps.store);
  if (running === undefined) {
    running = new Set();
    runningByStore.set(deps.store, running);
  }
  if (running.has(req.modelId))
    throw new MemberNodeError("already_exists", `a protect of model ${req.modelId} is already running`);
  running.add(req.modelId);
  try {
    yield* protectOnce(deps, options, req, signal);
  } finally {
    running.delete(req.modelId);
  }
}

/** Models being protected, per node (keyed by its store). */
const runningByStore = new WeakMap<object, Set<string>>();

async function* protectOnce(
  deps: MemberNodeDeps,
  options: ProtectOptions,
  req: ProtectRequest,
  signal: AbortSignal,
): AsyncGenerator<ProtectProgress> {
  const config = checkProtectRequest(req, options);
  const log = { model: req.modelId, adapter: req.adapter };

  yield { phase: "fetching_battery", probesDone: 0, probesTotal: 0 };
  const { battery, epochKey, batterySha256, probeSettings } = await options.batteries.get(
    req.epochId,
    signal,
  );
  const total = battery.probes.length;
  if (!options.skipPreflight) await preflightEndpoint(req.adapter, config, options.env, signal);
  const adapter =
    options.adapterFor?.(req.adapter, config) ?? endpointAdapter(req.adapter, config, options.env);

  await upsertModel(deps.store, {
    modelId: req.modelId,
    modelVersion: req.modelVersion,
    adapter: req.adapter,
    endpoint: storedEndpoint(config),
  });
  const run = await openRun(deps.store, req.modelId, battery.epoch, batterySha256, total, randomBytes(32));
  deps.logger.info("protect.start", { ...log, epoch: battery.epoch, run: run.run_id, probes: total });

  const started = await answeredIndexes(deps.store, run.run_id);
  if (started.size > 0 && started.size < total)
    deps.logger.info("protect.resume", { ...log, run: run.run_id, answered: started.size, probes: total });
  yield { phase: "probing", probesDone: started.size, probesTotal: total };
  const minGapMs = 1000 / (options.progressPerSecond ?? 10);
  let lastSent = 0;
  try {
    for await (const answered of probeRemaining(
      deps,
      run.run_id,
      battery,
      adapter,
      options.probeSettings ?? {},
      probeSettings,
      config.concurrency,
      signal,
    )) {
      const now = Date.now();
      if (answered === total || now - lastSent >= minGapMs) {
        lastSent = now;
        yield { phase: "probing", probesDone: answered, probesTotal: total };
      }
    }
  } catch (err) {
    deps.logger.warn("protect.probing_stopped", { ...log, run: run.run_id, ...errorFields(err) });
    throw err;
  }

  yield { phase: "sketching", probesDone: total, probesTotal: total };
  const responses = await runResponses(deps.store, run.run_id);
  if (responses.size !== total)
    throw new MemberNodeError(
      "unavailable",
      `run ${run.run_id} has ${responses.size} of ${total} answers; run protect again`,
    );
  const fingerprint: Fingerprint = {
    version: 1,
    epoch: battery.epoch,
    model: req.modelId,
    responses: Object.fromEntries(responses),
    queries: total,
  };
  const referenceHash = referenceFingerprintHash(
    run.reference_salt,
    [...responses].map(([probeId, r]) => ({ probeId, text: r.text })),
  );
  // Sketched under the wire's probe ids, the decimal battery indexes (sketch-proto.ts), as the hub sketches.
  const wire = wireIds(battery, fingerprint);
  const context = createSketchContext(epochKey, battery.epoch);
  // Only the retrieval part of the battery is sketched: confirmation probes stay out of the hub's index, so a
  // session's similarity lead is measured on probes retrieval never saw (lineage-split/v1, splitEpochBattery).
  const retrieval = splitBattery(wire.battery, battery.epoch).retrieval;
  const inputs = sketchInputsFromFingerprint(retrieval, wire.fingerprint);
  const sketch = buildSketch(inputs, context);
  const probeIndex = new Map(wire.battery.probes.map((p, i) => [p.id, i]));
  // created_at is the run's first completion, so the same run always yields the same payload (and msg id).
  const finishedAt = run.finished_at ?? new Date(deps.clock());
  const message = sketchToProto(
    sketch,
    inputs,
    context,
    probeIndex,
    { memberId: deps.memberId, modelId: req.modelId, modelVersion: req.modelVersion },
    finishedAt.getTime(),
  );

  yield { phase: "publishing", probesDone: total, probesTotal: total };
  // The reference hash is logged (through the hub, when there is one) before the sketch that invites
  // sessions against it is published.
  const logged = await logReferenceFingerprint(
    deps,
    { modelId: req.modelId, modelVersion: req.modelVersion },
    battery.epoch,
    referenceHash,
    total,
    signal,
  );
  const published = await publishSketch(deps, req.modelId, message);
  await finishRun(deps.store, run.run_id, referenceHash, published.sketchSha256, finishedAt);
  await deps.store.db
    .insertInto("published_sketches")
    .values({
      model_id: req.modelId,
      epoch_id: battery.epoch,
      run_id: run.run_id,
      header_sequence: published.headerSequence,
      msg_id: published.msgId,
      subject: published.subject,
      sketch_sha256: published.sketchSha256,
      stream_seq: BigInt(published.ack.seq),
    })
    .onConflict((oc) =>
      oc.columns(["model_id", "epoch_id"]).doUpdateSet({
        run_id: run.run_id,
        header_sequence: published.headerSequence,
        msg_id: published.msgId,
        subject: published.subject,
        sketch_sha256: published.sketchSha256,
        stream_seq: BigInt(published.ack.seq),
        published_at: new Date(deps.clock()),
      }),
    )
    .execute();
  deps.logger.info("protect.published", {
    ...log,
    epoch: battery.epoch,
    run: run.run_id,
    reference_fingerprint_sha256: Buffer.from(referenceHash).toString("hex"),
    reference_log_index: logged === undefined ? null : logged.logIndex.toString(),
    sketch_sha256: Buffer.from(published.sketchSha256).toString("hex"),
    subject: published.subject,
    stream_seq: published.ack.seq,
    duplicate: published.ack.duplicate,
  });
  yield {
    phase: "done",
    probesDone: total,
    probesTotal: total,
    sketchSha256: published.sketchSha256,
    duplicate: published.ack.duplicate,
  };
}
