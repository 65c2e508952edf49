/**
 * Canary sets and match sessions on a running node (member-node-runtime.ts): the log trust anchored in the
 * configured hub keys, the models a session names reached through the node's own configuration, the
 * RunMatchSession/ImportCanarySet/GetCanaryExposure services, the NATS request-reply server, and the
 * resumption of sessions a previous run left unfinished.
 *
 * Models: the member's own model is the protected model's configured adapter; a panel model is the adapter
 * configured under the panel id (a node that cannot reach the hub's panel declines with POLICY); the suspect
 * is the OpenAI-compatible endpoint the logged session names (the hub's sighting, checked against the log
 * before any query) — the node never queries an endpoint a session that failed admission names.
 */

import type { BusSubscription } from "@lineage/bus";
import { ed25519NoteVerifier, openCheckpoint, parseCheckpoint } from "@lineage/crypto";
import { HttpAdapter } from "@lineage/fingerprint";
import type { HubLogTrust } from "../canaries/hub-log.js";
import type { MemberNodeDeps } from "../member-node-deps.js";
import { MemberNodeError } from "../member-node-error.js";
import { endpointAdapter } from "../protect/model-endpoint.js";
import type { ProtectOptions } from "../protect/protect-flow.js";
import type { SessionModels } from "./match-sessions.js";
import { matchServices, serveSessionsOnBus } from "./session-handlers.js";

/**
 * The hub log's trust from the configured hub keys: the origin is read from the hub's latest checkpoint and
 * accepted only when that checkpoint verifies under one of the keys (note key name = origin, the hub's
 * default). `unavailable` when the hub cannot be asked, `bad_signature` when no configured key signed it.
 */
export async function hubLogTrust(deps: MemberNodeDeps): Promise<HubLogTrust> {
  if (deps.hub === undefined) throw new MemberNodeError("failed_precondition", "no hub is configured");
  let note: Uint8Array | undefined;
  try {
    note = (await deps.hub.getCheckpoint({}, { timeoutMs: 10_000 })).checkpoint?.signedNote;
  } catch (cause) {
    throw new MemberNodeError("unavailable", "the hub's checkpoint could not be read", { cause });
  }
  if (note === undefined) throw new MemberNodeError("malformed", "the hub sent no checkpoint");
  const text = new TextDecoder().decode(note);
  const origin = parseCheckpoint(text.slice(0, text.indexOf("\n\n") + 1)).origin;
  for (const key of deps.hubKeys.keys()) {
    const verifier = ed25519NoteVerifier(origin, key);
    try {
      openCheckpoint(note, { log: verifier, origin });
      return { origin, verifier };
    } catch {
      // another configured key may have signed it
    }
  }
  throw new MemberNodeError("bad_signature", "the hub's checkpoint is not signed by a configured hub key");
}

/** Session models over the node's configuration (module header). */
export function nodeSessionModels(deps: MemberNodeDeps, protect: ProtectOptions): SessionModels {
  const adapter = (name: string) => {
    const cfg = protect.adapters[name];
    if (cfg === undefined) return undefined;
    return protect.adapterFor?.(name, cfg) ?? endpointAdapter(name, cfg, protect.env);
  };
  return {
    async reference(m) {
      if (m.memberId !== deps.memberId) return undefined;
      const row = await deps.store.db
        .selectFrom("protected_models")
        .select(["adapter"])
        .where("model_id", "=", m.modelId)
        .where("model_version", "=", m.modelVersion)
        .where("withdrawn_at", "is", null)
        .executeTakeFirst();
      return row === undefined ? undefined : adapter(row.adapter);
    },
    suspect(ref) {
      if (ref.target.case !== "endpoint") return undefined;
      const t = ref.target.value;
      try {
        return new HttpAdapter({ baseUrl: t.baseUrl, model: t.modelName, concurrency: 8 });
      } catch {
        return undefined;
      }
    },
    panel: (id) => adapter(id),
    async battery(epochId) {
      try {
        return (await protect.batteries.get(epochId)).battery;
      } catch {
        return undefined;
      }
    },
  };
}

/** Everything the runtime starts for canaries and sessions; `stop` ends the NATS server. */
export interface NodeMatch {
  readonly services: ReturnType<typeof matchServices>;
  stop(): Promise<void>;
}

/**
 * How the node asks the hub again for its log's trust while the hub cannot be reached: the first retry after
 * HUB_TRUST_RETRY_FIRST_MS, doubling up to HUB_TRUST_RETRY_MAX_MS (a node started just before its hub is
 * ready within a second or two; one whose hub stays down asks every 15 s).
 */
export const HUB_TRUST_RETRY_FIRST_MS = 500;
export const HUB_TRUST_RETRY_MAX_MS = 15_000;

/** The wait before retry number `retry` (1-based): `firstMs` doubling, capped at `maxMs`. */
export function hubTrustRetryDelay(retry: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.min(Math.max(0, retry - 1), 30));
}

/** What the node waits for, in its log line while the hub cannot be reached. */
const WAITING_FOR = "the hub's signed log checkpoint (Hub.GetCheckpoint, verified under hub.key_files)";

/**
 * A log trust that is learned in the background: until the hub has answered once, reading it throws
 * `unavailable` (retryable), so a node started while the hub is down serves its other RPCs and answers canary
 * and session calls with UNAVAILABLE instead of not serving them at all. Retries back off exponentially
 * (bounded), each failure logged with what the node waits for and when it asks again.
 */
function lazyHubLogTrust(
  deps: MemberNodeDeps,
  retry: { readonly firstMs: number; readonly maxMs: number },
): { trust: HubLogTrust; ready: Promise<void>; stop(): void } {
  let current: HubLogTrust | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const get = (): HubLogTrust => {
    if (current === undefined)
      throw new MemberNodeError("unavailable", "the hub's log has not been reached yet; retry later");
    return current;
  };
  const ready = new Promise<void>((resolve) => {
    let failures = 0;
    const attempt = () => {
      hubLogTrust(deps).then(
        (t) => {
          current = t;
          if (failures > 0) deps.logger.info("sessions.hub_trust_learned", { attempts: failures + 1 });
          resolve();
        },
        (err: unknown) => {
          failures++;
          const delay = hubTrustRetryDelay(failures, retry.firstMs, retry.maxMs);
          deps.logger.warn("sessions.hub_trust_unavailable", {
            waiting_for: WAITING_FOR,
            code: String((err as { code?: unknown })?.code ?? "error"),
            attempt: failures,
            retry_in_ms: delay,
          });
          if (!stopped) timer = setTimeout(attempt, delay);
        },
      );
    };
    attempt();
  });
  return {
    trust: {
      get origin() {
        return get().origin;
      },
      get verifier() {
        return get().verifier;
      },
    },
    ready,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

/**
 * Builds the services, serves sessions on the bus and, once the hub's log trust is learned (retried in the
 * background while the hub is down), resumes unfinished sessions (failures are logged by code).
 */
export async function startNodeMatch(
  deps: MemberNodeDeps,
  protect: ProtectOptions,
  options: {
    /** Longest wait between two attempts to reach the hub (default HUB_TRUST_RETRY_MAX_MS). */
    readonly hubTrustRetryMs?: number;
    readonly maxSuspectsPerCanary?: number;
    /** Sessions binding a watermark key also run the extra watermark queries (default true). */
    readonly watermarkQueries?: boolean;
  } = {},
): Promise<NodeMatch> {
  const maxMs = options.hubTrustRetryMs ?? HUB_TRUST_RETRY_MAX_MS;
  const lazy = lazyHubLogTrust(deps, { firstMs: Math.min(HUB_TRUST_RETRY_FIRST_MS, maxMs), maxMs });
  const services = matchServices(deps, {
    hubLog: lazy.trust,
    models: nodeSessionModels(deps, protect),
    ...(options.watermarkQueries === false ? { watermarkQueries: false } : {}),
    ...(options.maxSuspectsPerCanary === undefined
      ? {}
      : { maxSuspectsPerCanary: options.maxSuspectsPerCanary }),
  });
  const sub: BusSubscription = await serveSessionsOnBus(deps.bus, deps, services.sessions);
  void lazy.ready
    .then(() => services.sessions.resumeInterrupted())
    .then(
      (answers) => {
        if (answers.length > 0) deps.logger.info("sessions.resumed", { count: answers.length });
      },
      (err: unknown) =>
        deps.logger.warn("sessions.resume_failed", {
          code: String((err as { code?: unknown })?.code ?? "error"),
        }),
    );
  return {
    services,
    stop: async () => {
      lazy.stop();
      await sub.stop();
    },
  };
}
