/**
 * The member node's configuration: a JSON file (written by `lineage member init`, sample in
 * examples/member-node.json) plus environment overrides. Everything here arrives from a file or the
 * environment, so it is checked field by field with an error naming the field; unknown fields are refused
 * (a misspelt `tls` must not silently mean "no TLS"). Relative paths are resolved against the config
 * file's directory.
 *
 * Secrets never sit in the file: the NATS password/token and each endpoint's API key are read from
 * environment variables the file *names* (`pass_env`, `token_env`, `api_key_env`); the Postgres URL may
 * carry a password, so the file must be private (mode 0600; checked on read) and {@link redactConfig}
 * strips it from anything printed.
 *
 * Environment overrides (each replaces the file's value):
 *   LINEAGE_MEMBER_ID, LINEAGE_MEMBER_LISTEN, LINEAGE_MEMBER_SIGNING_KEY_FILE,
 *   LINEAGE_MEMBER_PG_URL, LINEAGE_MEMBER_PG_SCHEMA, LINEAGE_MEMBER_DATA_DIR,
 *   LINEAGE_MEMBER_NATS_URL, LINEAGE_MEMBER_NATS_USER, LINEAGE_MEMBER_NATS_NKEY_FILE,
 *   LINEAGE_MEMBER_NATS_CREDS_FILE, LINEAGE_MEMBER_NATS_TLS_CA_FILE, LINEAGE_MEMBER_NATS_TLS_CERT_FILE,
 *   LINEAGE_MEMBER_NATS_TLS_KEY_FILE, LINEAGE_MEMBER_HUB_ADDRESS,
 *   LINEAGE_MEMBER_BATTERY_FILE, LINEAGE_MEMBER_EPOCH_KEY_FILE, LINEAGE_MEMBER_MAX_SUSPECTS_PER_CANARY
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { MemberNodeError } from "../member-node-error.js";

/** TLS files of the node's gRPC listener. */
export interface ListenTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  /** Client CA: set it for mutual TLS (required off loopback so the hub can be identified). */
  readonly clientCaFile?: string;
}

/** Where the node keeps its database. */
export type DatabaseConfig =
  | { readonly kind: "postgres"; readonly url: string; readonly schema?: string }
  | { readonly kind: "pglite"; readonly dataDir: string };

/**
 * The NATS connection; absent means the in-process bus of the embedded default. Who the node is to the
 * server: its TLS client certificate (deploy/nats maps the certificate subject to the member's user), or
 * one of user (+ password from `passEnv`), a token from `tokenEnv`, an nkey seed file, a .creds file.
 */
export interface NatsConfig {
  readonly url: string;
  readonly user?: string;
  /** Name of the environment variable holding the password. */
  readonly passEnv?: string;
  /** Name of the environment variable holding the token. */
  readonly tokenEnv?: string;
  /** File holding the node's nkey user seed ("SU..."), private (mode 0600). */
  readonly nkeyFile?: string;
  /** A NATS .creds file (user JWT and nkey seed, operator-mode servers), private (mode 0600). */
  readonly credsFile?: string;
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /**
   * Create the sketch stream if missing (development and the embedded default; in a deployment the hub
   * owns the streams and members have no JetStream API rights). Default false.
   */
  readonly ensureStream: boolean;
}

/**
 * The reply-subject prefix of a member node's NATS connection: deploy/nats/nats-server.conf lets member X
 * subscribe to `_INBOX.X.>` only, so its JetStream publish acks must arrive there.
 */
export function memberInboxPrefix(memberId: string): string {
  return `_INBOX.${memberId}`;
}

/** The hub: where it is and which keys are its. */
export interface HubConfig {
  /** host:port. */
  readonly address?: string;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly serverName?: string;
  /** Public key files (PEM) of the hub. */
  readonly keyFiles: readonly string[];
}

/** An OpenAI-compatible endpoint of one protected model (HttpAdapter). */
export interface AdapterConfig {
  readonly baseUrl: string;
  readonly model: string;
  /** Name of the environment variable holding the API key (the key itself never appears in the file). */
  readonly apiKeyEnv?: string;
  /** Requests in flight at once, 1..256 (default 8). */
  readonly concurrency: number;
  /** Request starts per second, 0.01..10000 (default unlimited). */
  readonly ratePerSecond?: number;
  /** Per-attempt timeout, 100..600000 ms (default 30000). */
  readonly timeoutMs: number;
  /** Retries after a transient failure, 0..10 (default 3). */
  readonly retries: number;
}

/** Where the epoch battery comes from until the hub serves it (GetEpochBattery). */
export interface BatteryConfig {
  /** Battery JSON ({epoch, probes}, libs/fingerprint parseBattery). */
  readonly file?: string;
  /** The epoch's sketch key: 64 hex characters (32 bytes), private (mode 0600). */
  readonly epochKeyFile?: string;
}

/** Default canary reuse policy: one canary item may be sent to at most this many distinct suspects. */
export const DEFAULT_MAX_SUSPECTS_PER_CANARY = 3;
/** Largest reuse policy a config may set (CanarySets refuses more too). */
export const MAX_SUSPECTS_PER_CANARY_LIMIT = 1000;

/** How the node spends its canaries. */
export interface CanaryPolicyConfig {
  /** Distinct suspects one canary item may be sent to, 1..1000 (default 3). */
  readonly maxSuspectsPerCanary: number;
  /**
   * Whether sessions binding a watermark key also ask the suspect the extra watermark queries
   * (lineage-watermark-queries/3; default true). Their counts go beside the battery's and the verdict reads
   * both sets (Bonferroni 2, each set deciding only with its own effect): they raise power against blends and
   * paraphrased students without diluting a copy whose watermark shows in its greedy answers. (Under /1 they
   * REPLACED the battery's counts and diluted such a copy below the policy's min_effect, which is why the step
   * was off by default until /2.) Still the operator's choice (false turns it off), made in the config before
   * any session, never per suspect.
   */
  readonly watermarkQueries?: boolean;
}

/** The checked configuration. */
export interface MemberNodeConfig {
  /** File it was read from (absolute), if any. */
  readonly path?: string;
  readonly memberId: string;
  readonly signingKeyFile: string;
  readonly listen: string;
  readonly tls?: ListenTlsConfig;
  readonly admin: { readonly keyFiles: readonly string[]; readonly clientCertSha256: readonly string[] };
  readonly database: DatabaseConfig;
  readonly nats?: NatsConfig;
  readonly hub: HubConfig;
  readonly battery: BatteryConfig;
  /** Canary spending (checkMemberNodeConfig always fills it; absent in a hand-built config means the default). */
  readonly canaries?: CanaryPolicyConfig;
  readonly adapters: Readonly<Record<string, AdapterConfig>>;
}

/** Member ids: the hub's rule (proto: 1..64 chars, [a-z0-9][a-z0-9-]*). */
export const MEMBER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Adapter names: 1..128 of [A-Za-z0-9._-]. */
export const ADAPTER_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const SHA256_HEX = /^(?:[0-9a-f]{2}:?){31}[0-9a-f]{2}$/i;
const MAX_CONFIG_BYTES = 256 * 1024;
const MAX_PATH = 4096;
const MAX_ADAPTERS = 256;
const MAX_LIST = 64;

function bad(field: string, what: string): never {
  throw new MemberNodeError("invalid_argument", `config: ${field} ${what}`);
}

type Obj = Record<string, unknown>;

function obj(field: string, v: unknown, allowed: readonly string[]): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(field, "must be an object");
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) bad(`${field}.${k}`, `is not a known field (known: ${allowed.join(", ")})`);
  }
  return v as Obj;
}

function str(field: string, v: unknown, max = MAX_PATH): string {
  if (typeof v !== "string" || v.length === 0 || v.length > max)
    bad(field, `must be a non-empty string of at most ${max} characters`);
  if (/[\0\r\n]/.test(v)) bad(field, "must not contain NUL or line breaks");
  return v;
}

function optStr(field: string, v: unknown, max = MAX_PATH): string | undefined {
  return v === undefined ? undefined : str(field, v, max);
}

function num(field: string, v: unknown, min: number, max: number, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    bad(field, `must be ${integer ? "an integer" : "a number"} in ${min}..${max}`);
  return v;
}

function envName(field: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !ENV_NAME.test(v)) bad(field, "must be an environment variable name");
  return v;
}

function strList(field: string, v: unknown, check: (f: string, x: unknown) => string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_LIST) bad(field, `must be a list of at most ${MAX_LIST} entries`);
  return v.map((x, i) => check(`${field}[${i}]`, x));
}

function path(base: string, field: string, v: unknown): string {
  const p = str(field, v);
  return isAbsolute(p) ? p : resolve(base, p);
}

function optPath(base: string, field: string, v: unknown): string | undefined {
  return v === undefined ? undefined : path(base, field, v);
}

function checkPgUrl(field: string, v: unknown): string {
  const url = str(field, v, 2048);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return bad(field, "is not a valid URL");
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")
    bad(field, "must be a postgres:// or postgresql:// URL");
  return url;
}

function checkNatsUrl(field: string, v: unknown): string {
  const url = str(field, v, 2048);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return bad(field, "is not a valid URL");
  }
  if (!["nats:", "tls:", "ws:", "wss:"].includes(parsed.protocol))
    bad(field, "must be a nats:// or tls:// URL");
  if (parsed.password !== "")
    bad(field, "must not carry a password (name an environment variable in nats.pass_env)");
  return url;
}

function checkHostPort(field: string, v: unknown): string {
  const s = str(field, v, 300);
  if (
    !/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(s) ||
    Number(s.slice(s.lastIndexOf(":") + 1)) > 65535
  )
    bad(field, `must be host:port, got '${s}'`);
  return s;
}

function checkBaseUrl(field: string, v: unknown): string {
  const s = str(field, v, 2048);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return bad(field, "is not a valid URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") bad(field, "must be an http:// or https:// URL");
  if (u.username !== "" || u.password !== "")
    bad(field, "must not carry credentials (name an environment variable in api_key_env)");
  if (u.search !== "" || u.hash !== "") bad(field, "must not have a query or fragment");
  return s;
}

/**
 * Checks a parsed config document (untrusted) and applies the environment overrides. `base` resolves
 * relative paths (the config file's directory).
 * @throws MemberNodeError `invalid_argument` naming the field
 */
export function checkMemberNodeConfig(
  doc: unknown,
  base: string,
  env: Readonly<Record<string, string | undefined>> = {},
  file?: string,
): MemberNodeConfig {
  const o = obj("(top level)", doc, [
    "member_id",
    "signing_key_file",
    "listen",
    "tls",
    "admin",
    "database",
    "nats",
    "hub",
    "battery",
    "canaries",
    "adapters",
  ]);
  const ov = (name: string, fileValue: unknown): unknown => {
    const e = env[name];
    return e !== undefined && e !== "" ? e : fileValue;
  };
  const memberId = str("member_id", ov("LINEAGE_MEMBER_ID", o.member_id), 64);
  if (!MEMBER_ID_PATTERN.test(memberId)) bad("member_id", "must match [a-z0-9][a-z0-9-]* (1..64 characters)");
  const signingKeyFile = path(
    base,
    "signing_key_file",
    ov("LINEAGE_MEMBER_SIGNING_KEY_FILE", o.signing_key_file),
  );
  const listen = checkHostPort("listen", ov("LINEAGE_MEMBER_LISTEN", o.listen ?? "127.0.0.1:7450"));

  let tls: ListenTlsConfig | undefined;
  if (o.tls !== undefined) {
    const t = obj("tls", o.tls, ["cert_file", "key_file", "client_ca_file"]);
    const clientCaFile = optPath(base, "tls.client_ca_file", t.client_ca_file);
    tls = {
      certFile: path(base, "tls.cert_file", t.cert_file),
      keyFile: path(base, "tls.key_file", t.key_file),
      ...(clientCaFile !== undefined ? { clientCaFile } : {}),
    };
  }

  const a = o.admin === undefined ? {} : obj("admin", o.admin, ["key_files", "client_cert_sha256"]);
  const admin = {
    keyFiles: strList("admin.key_files", a.key_files, (f, x) => path(base, f, x)),
    clientCertSha256: strList("admin.client_cert_sha256", a.client_cert_sha256, (f, x) => {
      const s = str(f, x, 200);
      if (!SHA256_HEX.test(s)) bad(f, "must be a SHA-256 fingerprint in hex (colons allowed)");
      return s.toLowerCase().replaceAll(":", "");
    }),
  };

  const d =
    o.database === undefined ? {} : obj("database", o.database, ["postgres_url", "schema", "data_dir"]);
  const pgUrl = ov("LINEAGE_MEMBER_PG_URL", d.postgres_url);
  const dataDir = ov("LINEAGE_MEMBER_DATA_DIR", d.data_dir);
  let database: DatabaseConfig;
  if (pgUrl !== undefined) {
    if (env.LINEAGE_MEMBER_PG_URL === undefined && d.data_dir !== undefined)
      bad("database", "takes postgres_url or data_dir, not both");
    const schema = optStr("database.schema", ov("LINEAGE_MEMBER_PG_SCHEMA", d.schema), 63);
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
      bad("database.schema", "must be lowercase letters, digits and _, starting with a letter or _");
    database = {
      kind: "postgres",
      url: checkPgUrl("database.postgres_url", pgUrl),
      ...(schema !== undefined ? { schema } : {}),
    };
  } else {
    if (d.schema !== undefined) bad("database.schema", "needs database.postgres_url");
    database = {
      kind: "pglite",
      dataDir: path(base, "database.data_dir", dataDir ?? ".lineage/member-node"),
    };
  }

  let nats: NatsConfig | undefined;
  const natsUrlEnv = env.LINEAGE_MEMBER_NATS_URL;
  if (o.nats !== undefined || (natsUrlEnv !== undefined && natsUrlEnv !== "")) {
    const n = obj("nats", o.nats ?? {}, [
      "url",
      "user",
      "pass_env",
      "token_env",
      "nkey_file",
      "creds_file",
      "tls",
      "ensure_stream",
    ]);
    const t = n.tls === undefined ? {} : obj("nats.tls", n.tls, ["ca_file", "cert_file", "key_file"]);
    const user = optStr("nats.user", ov("LINEAGE_MEMBER_NATS_USER", n.user), 256);
    const passEnv = envName("nats.pass_env", n.pass_env);
    const tokenEnv = envName("nats.token_env", n.token_env);
    const nkeyFile = optPath(base, "nats.nkey_file", ov("LINEAGE_MEMBER_NATS_NKEY_FILE", n.nkey_file));
    const credsFile = optPath(base, "nats.creds_file", ov("LINEAGE_MEMBER_NATS_CREDS_FILE", n.creds_file));
    if (passEnv !== undefined && user === undefined) bad("nats.pass_env", "needs nats.user");
    const ways = [
      user !== undefined ? "user" : undefined,
      tokenEnv !== undefined ? "token_env" : undefined,
      nkeyFile !== undefined ? "nkey_file" : undefined,
      credsFile !== undefined ? "creds_file" : undefined,
    ].filter((w) => w !== undefined);
    if (ways.length > 1)
      bad("nats", `takes one of user, token_env, nkey_file, creds_file (got ${ways.join(", ")})`);
    if (n.ensure_stream !== undefined && typeof n.ensure_stream !== "boolean")
      bad("nats.ensure_stream", "must be true or false");
    const natsTls = Object.fromEntries(
      (
        [
          ["caFile", optPath(base, "nats.tls.ca_file", ov("LINEAGE_MEMBER_NATS_TLS_CA_FILE", t.ca_file))],
          [
            "certFile",
            optPath(base, "nats.tls.cert_file", ov("LINEAGE_MEMBER_NATS_TLS_CERT_FILE", t.cert_file)),
          ],
          ["keyFile", optPath(base, "nats.tls.key_file", ov("LINEAGE_MEMBER_NATS_TLS_KEY_FILE", t.key_file))],
        ] as const
      ).filter(([, v]) => v !== undefined),
    );
    if ((natsTls.certFile === undefined) !== (natsTls.keyFile === undefined))
      bad("nats.tls", "needs cert_file and key_file together");
    nats = {
      url: checkNatsUrl("nats.url", ov("LINEAGE_MEMBER_NATS_URL", n.url)),
      ...(user !== undefined ? { user } : {}),
      ...(passEnv !== undefined ? { passEnv } : {}),
      ...(tokenEnv !== undefined ? { tokenEnv } : {}),
      ...(nkeyFile !== undefined ? { nkeyFile } : {}),
      ...(credsFile !== undefined ? { credsFile } : {}),
      ...(Object.keys(natsTls).length > 0 || n.tls !== undefined ? { tls: natsTls } : {}),
      ensureStream: n.ensure_stream === true,
    };
  }

  const h =
    o.hub === undefined
      ? {}
      : obj("hub", o.hub, ["address", "ca_file", "cert_file", "key_file", "server_name", "key_files"]);
  const hubAddress = ov("LINEAGE_MEMBER_HUB_ADDRESS", h.address);
  const hub: HubConfig = {
    ...(hubAddress !== undefined ? { address: checkHostPort("hub.address", hubAddress) } : {}),
    ...(h.ca_file !== undefined ? { caFile: path(base, "hub.ca_file", h.ca_file) } : {}),
    ...(h.cert_file !== undefined ? { certFile: path(base, "hub.cert_file", h.cert_file) } : {}),
    ...(h.key_file !== undefined ? { keyFile: path(base, "hub.key_file", h.key_file) } : {}),
    ...(h.server_name !== undefined ? { serverName: str("hub.server_name", h.server_name, 253) } : {}),
    keyFiles: strList("hub.key_files", h.key_files, (f, x) => path(base, f, x)),
  };
  if ((hub.certFile === undefined) !== (hub.keyFile === undefined))
    bad("hub", "needs cert_file and key_file together");

  const b = o.battery === undefined ? {} : obj("battery", o.battery, ["file", "epoch_key_file"]);
  const batteryFile = ov("LINEAGE_MEMBER_BATTERY_FILE", b.file);
  const epochKeyFile = ov("LINEAGE_MEMBER_EPOCH_KEY_FILE", b.epoch_key_file);
  const battery: BatteryConfig = {
    ...(batteryFile !== undefined ? { file: path(base, "battery.file", batteryFile) } : {}),
    ...(epochKeyFile !== undefined
      ? { epochKeyFile: path(base, "battery.epoch_key_file", epochKeyFile) }
      : {}),
  };

  const c =
    o.canaries === undefined
      ? {}
      : obj("canaries", o.canaries, ["max_suspects_per_canary", "watermark_queries"]);
  const maxEnv = env.LINEAGE_MEMBER_MAX_SUSPECTS_PER_CANARY;
  const fromEnv = maxEnv !== undefined && maxEnv !== "";
  const maxField = fromEnv
    ? "canaries.max_suspects_per_canary (LINEAGE_MEMBER_MAX_SUSPECTS_PER_CANARY)"
    : "canaries.max_suspects_per_canary";
  const maxRange = `must be an integer in 1..${MAX_SUSPECTS_PER_CANARY_LIMIT}`;
  // From the environment: digits only (no "3.0", "0x3", " 3"), then the same range as the file.
  if (fromEnv && !/^[0-9]{1,9}$/.test(maxEnv)) bad(maxField, maxRange);
  const wqEnv = env.LINEAGE_MEMBER_WATERMARK_QUERIES;
  const wqRaw = wqEnv !== undefined && wqEnv !== "" ? wqEnv : c.watermark_queries;
  const wqField =
    wqEnv !== undefined && wqEnv !== ""
      ? "canaries.watermark_queries (LINEAGE_MEMBER_WATERMARK_QUERIES)"
      : "canaries.watermark_queries";
  let watermarkQueries = true;
  if (wqRaw === undefined || wqRaw === true || wqRaw === "true" || wqRaw === "1") watermarkQueries = true;
  else if (wqRaw === false || wqRaw === "false" || wqRaw === "0") watermarkQueries = false;
  else bad(wqField, "must be true or false");
  const canaries: CanaryPolicyConfig = {
    watermarkQueries,
    maxSuspectsPerCanary:
      num(
        maxField,
        fromEnv ? Number(maxEnv) : c.max_suspects_per_canary,
        1,
        MAX_SUSPECTS_PER_CANARY_LIMIT,
        true,
      ) ?? DEFAULT_MAX_SUSPECTS_PER_CANARY,
  };

  const adapters: Record<string, AdapterConfig> = {};
  if (o.adapters !== undefined) {
    const all = obj("adapters", o.adapters, Object.keys(o.adapters as object));
    const names = Object.keys(all);
    if (names.length > MAX_ADAPTERS) bad("adapters", `must name at most ${MAX_ADAPTERS} endpoints`);
    for (const name of names) {
      if (!ADAPTER_NAME_PATTERN.test(name))
        bad(`adapters.${name}`, "is not a valid adapter name ([A-Za-z0-9._-], 1..128)");
      const f = `adapters.${name}`;
      const x = obj(f, all[name], [
        "base_url",
        "model",
        "api_key_env",
        "concurrency",
        "rate_per_second",
        "timeout_ms",
        "retries",
      ]);
      const apiKeyEnv = envName(`${f}.api_key_env`, x.api_key_env);
      const ratePerSecond = num(`${f}.rate_per_second`, x.rate_per_second, 0.01, 10_000, false);
      adapters[name] = {
        baseUrl: checkBaseUrl(`${f}.base_url`, x.base_url),
        model: str(`${f}.model`, x.model, 256),
        ...(apiKeyEnv !== undefined ? { apiKeyEnv } : {}),
        concurrency: num(`${f}.concurrency`, x.concurrency, 1, 256, true) ?? 8,
        ...(ratePerSecond !== undefined ? { ratePerSecond } : {}),
        timeoutMs: num(`${f}.timeout_ms`, x.timeout_ms, 100, 600_000, true) ?? 30_000,
        retries: num(`${f}.retries`, x.retries, 0, 10, true) ?? 3,
      };
    }
  }

  return {
    ...(file !== undefined ? { path: file } : {}),
    memberId,
    signingKeyFile,
    listen,
    ...(tls !== undefined ? { tls } : {}),
    admin,
    database,
    ...(nats !== undefined ? { nats } : {}),
    hub,
    battery,
    canaries,
    adapters,
  };
}

/**
 * Reads and checks a config file. The file must be a regular file, at most 256 KiB, and private (no
 * group/other access: it may hold a database URL with a password).
 */
export async function readMemberNodeConfig(
  file: string,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<MemberNodeConfig> {
  const abs = resolve(file);
  const text = await readPrivateFile(abs, "config file", MAX_CONFIG_BYTES);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // Only the position: the parser's message quotes the text around the error, which may be a password.
    throw new MemberNodeError(
      "invalid_argument",
      `config file ${abs} is not valid JSON (${jsonErrorAt(text, err)})`,
    );
  }
  return checkMemberNodeConfig(doc, dirname(abs), env, abs);
}

/**
 * "line L, column C" of a JSON.parse failure. The position is taken from the parser's message when it gives
 * one; otherwise (messages that quote the offending text instead) it is found by a binary search for the
 * shortest prefix that fails before its end — O(n log n) parses of a file bounded to 256 KiB.
 */
function jsonErrorAt(text: string, err: unknown): string {
  const positionOf = (e: unknown): number | undefined => {
    const m = /at position (\d+)/.exec(e instanceof Error ? e.message : "");
    return m === null ? undefined : Number(m[1]);
  };
  const failsWithin = (n: number): boolean => {
    try {
      JSON.parse(text.slice(0, n));
      return false;
    } catch (e) {
      const msg = e instanceof Error ? e.message : "";
      if (/end of JSON input|Unterminated string/.test(msg)) return false;
      const p = positionOf(e);
      return p === undefined || p < n;
    }
  };
  let pos = positionOf(err);
  if (pos === undefined) {
    let lo = 1;
    let hi = text.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (failsWithin(mid)) hi = mid;
      else lo = mid + 1;
    }
    pos = lo - 1;
  }
  const before = text.slice(0, pos);
  return `line ${before.split("\n").length}, column ${pos - before.lastIndexOf("\n")}`;
}

/**
 * Reads a bounded file that must be private (mode without group/other bits), checked on the opened
 * descriptor so the file checked is the file read; symlinks at the final component are not followed.
 */
export async function readPrivateFile(
  file: string,
  what: string,
  maxBytes: number,
  secret = true,
): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MemberNodeError(
      code === "ENOENT" ? "not_found" : "unavailable",
      `cannot read ${what} ${file}: ${code === "ELOOP" ? "it is a symbolic link" : (code ?? "error")}`,
    );
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new MemberNodeError("invalid_argument", `${what} ${file} is not a regular file`);
    if (secret && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw new MemberNodeError(
        "invalid_argument",
        `${what} ${file} is accessible by group or others (mode ${mode}); run chmod 600 ${file}`,
      );
    }
    if (st.size > maxBytes)
      throw new MemberNodeError("too_large", `${what} ${file} is larger than ${maxBytes} bytes`);
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > maxBytes)
        throw new MemberNodeError("too_large", `${what} ${file} is larger than ${maxBytes} bytes`);
    }
    return buf.subarray(0, n).toString("utf8");
  } finally {
    await fh.close();
  }
}

/** The config with secrets removed, for printing (the Postgres URL's password becomes ***). */
export function redactConfig(config: MemberNodeConfig): MemberNodeConfig {
  if (config.database.kind !== "postgres") return config;
  let url = config.database.url;
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    url = u.toString();
  } catch {
    url = "<unparsable URL>";
  }
  return { ...config, database: { ...config.database, url } };
}
