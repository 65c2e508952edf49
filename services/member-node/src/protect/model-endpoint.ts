/**
 * The endpoint of a protected model: an OpenAI-compatible HTTP server named by an adapter in the node's
 * config. The API key is read from the environment variable the config names, at use, and handed only to
 * the adapter (which never reports it). Before any probing, {@link preflightEndpoint} checks that the
 * endpoint can work at all — key present, server reachable, model served — so a protect run with a wrong
 * URL or a missing key fails at once with a clear error instead of after hundreds of retries.
 */
import { HttpAdapter, type ModelAdapter } from "@lineage/fingerprint";
import type { AdapterConfig } from "../config/member-node-config.js";
import { MemberNodeError } from "../member-node-error.js";

/** What the database keeps of an endpoint (no secret: the key's variable name only). */
export interface StoredEndpoint {
  readonly base_url: string;
  readonly model: string;
  readonly api_key_env?: string;
}

/** The endpoint as stored with the model. */
export function storedEndpoint(config: AdapterConfig): StoredEndpoint {
  return {
    base_url: config.baseUrl,
    model: config.model,
    ...(config.apiKeyEnv !== undefined ? { api_key_env: config.apiKeyEnv } : {}),
  };
}

function apiKeyOf(name: string, config: AdapterConfig, env: Readonly<Record<string, string | undefined>>) {
  if (config.apiKeyEnv === undefined) return undefined;
  const key = env[config.apiKeyEnv];
  if (key === undefined || key === "")
    throw new MemberNodeError(
      "failed_precondition",
      `adapter ${name}: environment variable ${config.apiKeyEnv} (its API key) is not set`,
    );
  return key;
}

/** The HTTP adapter of a configured endpoint. */
export function endpointAdapter(
  name: string,
  config: AdapterConfig,
  env: Readonly<Record<string, string | undefined>>,
): ModelAdapter {
  const apiKey = apiKeyOf(name, config, env);
  return new HttpAdapter({
    baseUrl: config.baseUrl,
    model: config.model,
    ...(apiKey !== undefined ? { apiKey } : {}),
    concurrency: config.concurrency,
    ...(config.ratePerSecond !== undefined ? { ratePerSecond: config.ratePerSecond } : {}),
    timeoutMs: config.timeoutMs,
    retries: config.retries,
  });
}

const PREFLIGHT_TIMEOUT_MS = 10_000;
const MAX_MODELS_BODY = 1024 * 1024;

/**
 * Checks that the endpoint answers `GET /v1/models` with 2xx and, when the answer lists models, that the
 * configured model is among them. Errors name the adapter and the origin, never the key.
 * @throws MemberNodeError `failed_precondition`
 */
export async function preflightEndpoint(
  name: string,
  config: AdapterConfig,
  env: Readonly<Record<string, string | undefined>>,
  signal?: AbortSignal,
): Promise<void> {
  const apiKey = apiKeyOf(name, config, env);
  const base = config.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
  const origin = new URL(base).origin;
  const fail = (what: string): never => {
    throw new MemberNodeError("failed_precondition", `adapter ${name} (${origin}): ${what}`);
  };
  const timeout = AbortSignal.timeout(PREFLIGHT_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(`${base}/v1/models`, {
      headers: apiKey !== undefined ? { authorization: `Bearer ${apiKey}` } : {},
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    return fail(`cannot be reached (${typeof code === "string" ? code : (err as Error).name})`);
  }
  if (res.status === 401 || res.status === 403) fail(`refused the API key (HTTP ${res.status})`);
  if (res.status === 404) {
    await res.body?.cancel();
    return; // a server without the models listing: the first probe will tell
  }
  if (!res.ok) fail(`answered HTTP ${res.status} to GET /v1/models`);
  const text = await res.text();
  if (text.length > MAX_MODELS_BODY) return;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return;
  }
  const data = (doc as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return;
  const ids = data.map((m) => (m as { id?: unknown } | null)?.id).filter((x) => typeof x === "string");
  if (ids.length > 0 && !ids.includes(config.model))
    fail(`does not serve model '${config.model.slice(0, 256)}'`);
}
