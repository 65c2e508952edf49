/**
 * Probing: asks a model every probe of a battery through its adapter and collects the private
 * fingerprint. Long runs report progress through a callback (the CLI prints it on stderr).
 */

import { ReplayAdapter } from "../adapters/adapter-replay.js";
import type { GenerateRequest, ModelAdapter } from "../adapters/adapter-types.js";
import { FingerprintError } from "../fingerprint-error.js";
import type { Battery, Fingerprint, ModelResponse, Probe } from "./probe-types.js";

/** Generation settings used for every probe (temperature 0 and a fixed seed make runs repeatable). */
export interface ProbeSettings {
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly seed?: number;
  /** Top alternatives to request on completion probes (default 5). */
  readonly topLogprobs?: number;
  /**
   * Score completion probes' prompts too (echo; endpoints that refuse it are asked without). Default
   * false: the token-distribution signal reads prompt positions only when asked to (see there).
   */
  readonly echo?: boolean;
}

/** Progress of a long run. */
export interface Progress {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
}

/** Builds the request for one probe: completion probes use /v1/completions with log-probabilities. */
export function probeRequest(probe: Probe, settings: ProbeSettings, signal?: AbortSignal): GenerateRequest {
  const completion = probe.kind === "completion";
  return {
    id: probe.id,
    prompt: probe.prompt,
    mode: completion ? "completion" : "chat",
    maxTokens: settings.maxTokens ?? (completion ? 16 : 200),
    temperature: settings.temperature ?? 0,
    seed: settings.seed ?? 0,
    ...(completion ? { topLogprobs: settings.topLogprobs ?? 5 } : {}),
    ...(completion && settings.echo === true ? { echo: true } : {}),
    ...(signal ? { signal } : {}),
  };
}

/** Asks `probes` of one model, `concurrency` at a time, in order; failed probes propagate their error. */
export async function askAll(
  adapter: ModelAdapter,
  probes: readonly Probe[],
  settings: ProbeSettings,
  options: { concurrency?: number; signal?: AbortSignal; onDone?: () => void } = {},
): Promise<ModelResponse[]> {
  const out = new Array<ModelResponse>(probes.length);
  let next = 0;
  const workers = Array.from(
    { length: Math.max(1, Math.min(options.concurrency ?? 4, probes.length)) },
    async () => {
      while (next < probes.length) {
        const i = next++;
        const p = probes[i];
        if (!p) continue;
        out[i] = await adapter.generate(probeRequest(p, settings, options.signal));
        options.onDone?.();
      }
    },
  );
  await Promise.all(workers);
  return out;
}

/** Probes a model on the whole battery and returns its private fingerprint. */
export async function probeModel(
  adapter: ModelAdapter,
  battery: Battery,
  options: ProbeSettings & {
    concurrency?: number;
    signal?: AbortSignal;
    onProgress?: (p: Progress) => void;
  } = {},
): Promise<Fingerprint> {
  if (battery.probes.length === 0) throw new FingerprintError("INVALID_ARGUMENT", "battery has no probes");
  let done = 0;
  const total = battery.probes.length;
  const responses = await askAll(adapter, battery.probes, options, {
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onDone: () => options.onProgress?.({ stage: "probe", done: ++done, total }),
  });
  const record: Record<string, ModelResponse> = {};
  battery.probes.forEach((p, i) => {
    const r = responses[i];
    if (r) record[p.id] = r;
  });
  const d = adapter.describe();
  return { version: 1, epoch: battery.epoch, model: d.model ?? d.target, responses: record, queries: total };
}

/** Serves a saved fingerprint as a replay adapter (answers by probe id), e.g. a cached reference. */
export function fingerprintAdapter(fp: Fingerprint, battery: Battery): ModelAdapter {
  const byId = new Map(battery.probes.map((p) => [p.id, p.prompt]));
  return new ReplayAdapter(
    Object.entries(fp.responses).map(([id, response]) => ({ id, prompt: byId.get(id) ?? id, response })),
    `fingerprint:${fp.model}`,
  );
}

/** Validates a fingerprint document (untrusted JSON, e.g. a file). */
export function parseFingerprint(doc: unknown): Fingerprint {
  const bad = (w: string) => new FingerprintError("INVALID_DOCUMENT", `fingerprint: ${w}`);
  if (typeof doc !== "object" || doc === null) throw bad("must be an object");
  const o = doc as Record<string, unknown>;
  if (o.version !== 1) throw bad("version must be 1");
  if (typeof o.epoch !== "string" || typeof o.model !== "string")
    throw bad("epoch and model must be strings");
  if (typeof o.queries !== "number" || !Number.isInteger(o.queries) || o.queries < 0)
    throw bad("queries must be a count");
  if (typeof o.responses !== "object" || o.responses === null) throw bad("responses must be an object");
  const responses: Record<string, ModelResponse> = {};
  for (const [id, r] of Object.entries(o.responses as Record<string, unknown>)) {
    if (typeof r !== "object" || r === null || typeof (r as { text?: unknown }).text !== "string") {
      throw bad(`responses.${id}.text must be a string`);
    }
    for (const field of ["tokens", "promptTokens"] as const) {
      const tokens = (r as Record<string, unknown>)[field];
      if (tokens === undefined) continue;
      if (!Array.isArray(tokens)) throw bad(`responses.${id}.${field} must be an array`);
      tokens.forEach((t: unknown, i: number) => {
        const to = t as { token?: unknown; top?: unknown; offset?: unknown };
        if (typeof t !== "object" || t === null || typeof to.token !== "string" || !Array.isArray(to.top)) {
          throw bad(`responses.${id}.${field}[${i}] needs a string token and a top array`);
        }
        if (to.offset !== undefined && !(Number.isInteger(to.offset) && (to.offset as number) >= 0))
          throw bad(`responses.${id}.${field}[${i}].offset must be a non-negative integer`);
        for (const a of to.top as unknown[]) {
          const ao = a as { token?: unknown; logprob?: unknown };
          if (
            typeof a !== "object" ||
            a === null ||
            typeof ao.token !== "string" ||
            typeof ao.logprob !== "number"
          ) {
            throw bad(`responses.${id}.${field}[${i}].top entries need a string token and a numeric logprob`);
          }
        }
      });
    }
    responses[id] = r as ModelResponse;
  }
  return { version: 1, epoch: o.epoch, model: o.model, responses, queries: o.queries };
}
