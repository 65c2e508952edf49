/**
 * What `lineage hub serve` needs beyond its log (issue 10): the NATS connection (or the in-process bus of
 * the embedded default), the member nodes it opens sessions with (the members file), the reference
 * population (the reference file) and the registry feed. Every flag and file is untrusted input: checked
 * here, before anything is opened, with an error naming the flag, the file and the field.
 *
 * Secrets never sit on the command line or in these files: the NATS password and token come from
 * $LINEAGE_HUB_NATS_PASS / $LINEAGE_HUB_NATS_TOKEN, an nkey seed or .creds file from a private file.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { NatsBusOptions } from "@lineage/bus";
import type { FeedSource, MemberNodeEndpoint, ReferenceModel } from "@lineage/hub";
import { MAX_FEED_BYTES } from "@lineage/hub";
import { insecureChannelCredentials, isLoopbackHost, tlsChannelCredentials } from "@lineage/rpc";
import { CliError } from "../cli-error.js";
import type { Invocation, OptionSpec } from "../command.js";
import { intOpt, numberOpt, stringOpt } from "../option-values.js";
import { where } from "./hub-members.js";
import { readBoundedFile } from "./keygen.js";

const MAX_CONFIG_BYTES = 1 << 20;
const MAX_PEM_BYTES = 256 * 1024;
/** Members in a members file; reference models in a reference file. */
export const MAX_MEMBER_ENDPOINTS = 1000;
export const MAX_REFERENCE_MODELS = 10_000;
const MEMBER_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const hubServeFlags: Readonly<Record<string, OptionSpec>> = {
  nats: {
    type: "string",
    valueName: "url",
    description:
      "NATS server(s), comma-separated (default $LINEAGE_HUB_NATS_URL; else the in-process bus): the shared " +
      "sketch consumer, checkpoint gossip, alerts and sessions over request-reply",
  },
  "nats-user": {
    type: "string",
    valueName: "name",
    description: "NATS user (password from $LINEAGE_HUB_NATS_PASS; or a token in $LINEAGE_HUB_NATS_TOKEN)",
  },
  "nats-nkey": {
    type: "string",
    valueName: "file",
    description: "NATS nkey user seed file (mode 0600), instead of --nats-user",
  },
  "nats-creds": {
    type: "string",
    valueName: "file",
    description: "NATS .creds file (user JWT and seed, mode 0600), instead of --nats-user",
  },
  "nats-tls-ca": { type: "string", valueName: "file", description: "CA the NATS server must chain to (PEM)" },
  "nats-tls-cert": { type: "string", valueName: "file", description: "Client certificate for NATS (PEM)" },
  "nats-tls-key": { type: "string", valueName: "file", description: "Client key for NATS (PEM)" },
  "members-file": {
    type: "string",
    valueName: "file",
    description:
      "JSON: each member node's gRPC address and TLS trust (members not listed: sessions over NATS)",
  },
  "reference-file": {
    type: "string",
    valueName: "file",
    description: "JSON: reference models registered at start in --population (the panels' source)",
  },
  population: {
    type: "string",
    valueName: "id",
    default: "reference/1",
    description: "Reference population sessions draw their panels from",
  },
  "panel-size": { type: "string", valueName: "n", description: "Panel models per session (default 6)" },
  "alpha-budget": { type: "string", valueName: "alpha", description: "Alpha per member and epoch" },
  feed: {
    type: "string",
    valueName: "url|file",
    description: "Registry feed listing (http(s) URL or file) polled for releases to scan",
  },
  "feed-interval": {
    type: "string",
    valueName: "seconds",
    default: "300",
    description: "How often the feed is polled",
  },
};

function bad(inv: Invocation, what: string, cause?: unknown): never {
  throw new CliError(
    "invalid_argument",
    `${where(inv)}: ${what}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Reads a NATS secret file named by `--<flag>`: a regular file (not followed if a symlink), private (no
 * group/other access), at most 16 KiB.
 */
function privateNatsFile(inv: Invocation, flag: string): string | undefined {
  const name = stringOpt(inv, flag);
  if (name === undefined) return undefined;
  const file = resolve(inv.io.cwd, name);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      "invalid_argument",
      `${where(inv)}: --${flag} ${file}: ${code === "ELOOP" ? "is a symbolic link" : (code ?? "cannot read")}`,
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) bad(inv, `--${flag} ${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0)
      bad(inv, `--${flag} ${file} is accessible by group or others; run chmod 600 ${file}`);
    if (st.size > 16 * 1024) bad(inv, `--${flag} ${file} is larger than 16 KiB`);
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/** The NATS options from the flags and environment, or undefined for the in-process bus. */
export function natsOptionsOf(inv: Invocation): NatsBusOptions | undefined {
  const raw = stringOpt(inv, "nats") ?? inv.io.env.LINEAGE_HUB_NATS_URL;
  const tlsFlags = [
    "nats-user",
    "nats-nkey",
    "nats-creds",
    "nats-tls-ca",
    "nats-tls-cert",
    "nats-tls-key",
  ].filter((f) => stringOpt(inv, f) !== undefined);
  if (raw === undefined || raw === "") {
    if (tlsFlags.length > 0)
      throw new CliError("usage", `${where(inv)}: --${tlsFlags[0]} needs --nats (or $LINEAGE_HUB_NATS_URL)`);
    return undefined;
  }
  const servers = raw.split(",").map((s) => s.trim());
  if (servers.length > 32) bad(inv, "--nats: at most 32 servers");
  for (const s of servers) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      bad(inv, `--nats: '${s}' is not a URL`);
    }
    if (!["nats:", "tls:", "ws:", "wss:"].includes(url.protocol))
      bad(inv, `--nats: '${s}' must be a nats:// or tls:// URL`);
    if (url.password !== "")
      bad(inv, "--nats: the URL must not carry a password (set $LINEAGE_HUB_NATS_PASS)");
    // Credentials, sessions and alerts cross the network only inside TLS (issue 8, "Transport").
    const tls =
      url.protocol === "tls:" ||
      url.protocol === "wss:" ||
      ["nats-tls-ca", "nats-tls-cert"].some((f) => stringOpt(inv, f) !== undefined);
    if (!tls && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, "")))
      bad(
        inv,
        `--nats: '${s}' is not loopback: use tls:// or give --nats-tls-ca (TLS is required off loopback)`,
      );
  }
  const user = stringOpt(inv, "nats-user");
  const pass = inv.io.env.LINEAGE_HUB_NATS_PASS;
  const token = inv.io.env.LINEAGE_HUB_NATS_TOKEN;
  if (user !== undefined && (pass === undefined || pass === ""))
    throw new CliError("usage", `${where(inv)}: --nats-user needs $LINEAGE_HUB_NATS_PASS`);
  const ways = [
    user !== undefined ? "--nats-user" : undefined,
    token !== undefined && token !== "" ? "$LINEAGE_HUB_NATS_TOKEN" : undefined,
    stringOpt(inv, "nats-nkey") !== undefined ? "--nats-nkey" : undefined,
    stringOpt(inv, "nats-creds") !== undefined ? "--nats-creds" : undefined,
  ].filter((w) => w !== undefined);
  if (ways.length > 1)
    throw new CliError(
      "usage",
      `${where(inv)}: NATS takes one way to authenticate, not ${ways.join(" and ")}`,
    );
  const nkeySeed = privateNatsFile(inv, "nats-nkey");
  const creds = privateNatsFile(inv, "nats-creds");
  const [ca, cert, key] = ["nats-tls-ca", "nats-tls-cert", "nats-tls-key"].map((f) => {
    const v = stringOpt(inv, f);
    return v === undefined ? undefined : resolve(inv.io.cwd, v);
  });
  if ((cert === undefined) !== (key === undefined))
    throw new CliError("usage", `${where(inv)}: --nats-tls-cert and --nats-tls-key go together`);
  return {
    servers,
    name: "lineage-hub",
    ...(user !== undefined && pass !== undefined ? { user, pass } : {}),
    ...(token !== undefined && token !== "" ? { token } : {}),
    ...(nkeySeed !== undefined ? { nkeySeed } : {}),
    ...(creds !== undefined ? { creds } : {}),
    ...(ca !== undefined || cert !== undefined
      ? {
          tls: {
            ...(ca !== undefined ? { caFile: ca } : {}),
            ...(cert !== undefined ? { certFile: cert } : {}),
            ...(key !== undefined ? { keyFile: key } : {}),
          },
        }
      : {}),
  };
}

async function readJson(
  inv: Invocation,
  flag: string,
  file: string,
  shown: string,
): Promise<Record<string, unknown>> {
  const text = await readBoundedFile(where(inv), file, `--${flag}`, MAX_CONFIG_BYTES, false, "a JSON file");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    bad(inv, `--${flag} ${shown} is not JSON`, cause);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    bad(inv, `--${flag} ${shown} must hold a JSON object`);
  return doc as Record<string, unknown>;
}

function onlyKeys(inv: Invocation, at: string, o: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(inv, `${at}: unknown field '${k}'`);
}

function strField(inv: Invocation, at: string, v: unknown, max: number): string {
  if (typeof v !== "string" || v.length === 0 || v.length > max)
    bad(inv, `${at} must be a string of 1..${max} characters`);
  return v;
}

async function pemAt(
  inv: Invocation,
  at: string,
  base: string,
  v: unknown,
  secret: boolean,
): Promise<string> {
  const file = resolve(base, strField(inv, at, v, 4096));
  const text = await readBoundedFile(where(inv), file, at, MAX_PEM_BYTES, secret, "a PEM file");
  if (!text.includes("-----BEGIN ")) bad(inv, `${at}: ${file} is not PEM`);
  return text;
}

/**
 * The members file:
 *   {"client_cert_file": "hub-client.pem", "client_key_file": "hub-client.key",   (optional: mTLS identity)
 *    "members": [{"member_id": "acme", "address": "acme-node:7450", "tls_ca_file": "acme-ca.pem"}]}
 * Relative paths are read from the file's folder. Without tls_ca_file a member is dialled in plaintext,
 * which is allowed only on a loopback address (the same rule as every listener).
 */
export async function memberEndpointsOf(inv: Invocation): Promise<Map<string, MemberNodeEndpoint>> {
  const out = new Map<string, MemberNodeEndpoint>();
  const flag = stringOpt(inv, "members-file");
  if (flag === undefined) return out;
  const file = resolve(inv.io.cwd, flag);
  const base = dirname(file);
  const doc = await readJson(inv, "members-file", file, flag);
  const at0 = `--members-file ${flag}`;
  onlyKeys(inv, at0, doc, ["members", "client_cert_file", "client_key_file"]);
  if ((doc.client_cert_file === undefined) !== (doc.client_key_file === undefined))
    bad(inv, `${at0}: client_cert_file and client_key_file go together`);
  const client =
    doc.client_cert_file === undefined
      ? undefined
      : {
          certChainPem: await pemAt(inv, `${at0}: client_cert_file`, base, doc.client_cert_file, false),
          privateKeyPem: await pemAt(inv, `${at0}: client_key_file`, base, doc.client_key_file, true),
        };
  if (!Array.isArray(doc.members)) bad(inv, `${at0}: members must be an array`);
  if (doc.members.length > MAX_MEMBER_ENDPOINTS) bad(inv, `${at0}: at most ${MAX_MEMBER_ENDPOINTS} members`);
  for (const [i, m] of doc.members.entries()) {
    const at = `${at0}: members[${i}]`;
    if (typeof m !== "object" || m === null || Array.isArray(m)) bad(inv, `${at} must be an object`);
    const e = m as Record<string, unknown>;
    onlyKeys(inv, at, e, ["member_id", "address", "tls_ca_file"]);
    const memberId = strField(inv, `${at}.member_id`, e.member_id, 64);
    if (!MEMBER_ID_RE.test(memberId)) bad(inv, `${at}.member_id must be 1..64 of [a-z0-9._-]`);
    if (out.has(memberId)) bad(inv, `${at}.member_id ${memberId} is listed twice`);
    const address = strField(inv, `${at}.address`, e.address, 300);
    const hp = /^(.+):(\d{1,5})$/.exec(address);
    if (!hp || Number(hp[2]) < 1 || Number(hp[2]) > 65535) bad(inv, `${at}.address must be host:port`);
    let credentials: MemberNodeEndpoint["credentials"];
    if (e.tls_ca_file === undefined) {
      if (!isLoopbackHost(hp[1] as string))
        bad(
          inv,
          `${at}: ${address} is not loopback, so tls_ca_file is required (plaintext only on loopback)`,
        );
      credentials = insecureChannelCredentials();
    } else {
      credentials = tlsChannelCredentials({
        caPem: await pemAt(inv, `${at}.tls_ca_file`, base, e.tls_ca_file, false),
        ...(client ?? {}),
      });
    }
    out.set(memberId, { address, credentials });
  }
  return out;
}

/**
 * The reference file: {"models": [{"model_id": "ref-a", "base_url": "https://…/v1", "model_name": "a"}]},
 * each registered in --population (checked again by the population: ids, URL scheme, lengths).
 */
export async function referenceModelsOf(inv: Invocation, populationId: string): Promise<ReferenceModel[]> {
  const flag = stringOpt(inv, "reference-file");
  if (flag === undefined) return [];
  const doc = await readJson(inv, "reference-file", resolve(inv.io.cwd, flag), flag);
  const at0 = `--reference-file ${flag}`;
  onlyKeys(inv, at0, doc, ["models"]);
  if (!Array.isArray(doc.models)) bad(inv, `${at0}: models must be an array`);
  if (doc.models.length > MAX_REFERENCE_MODELS) bad(inv, `${at0}: at most ${MAX_REFERENCE_MODELS} models`);
  const seen = new Set<string>();
  return doc.models.map((m: unknown, i: number): ReferenceModel => {
    const at = `${at0}: models[${i}]`;
    if (typeof m !== "object" || m === null || Array.isArray(m)) bad(inv, `${at} must be an object`);
    const e = m as Record<string, unknown>;
    onlyKeys(inv, at, e, ["model_id", "base_url", "model_name"]);
    const modelId = strField(inv, `${at}.model_id`, e.model_id, 256);
    if (seen.has(modelId)) bad(inv, `${at}.model_id ${modelId} is listed twice`);
    seen.add(modelId);
    const baseUrl = strField(inv, `${at}.base_url`, e.base_url, 2048);
    if (!/^https?:\/\//.test(baseUrl)) bad(inv, `${at}.base_url must be an http(s) URL`);
    return {
      modelId,
      populationId,
      baseUrl,
      modelName: strField(inv, `${at}.model_name`, e.model_name, 256),
    };
  });
}

/** The population id, panel size and alpha budget flags. */
export function sessionSettingsOf(inv: Invocation): {
  populationId: string;
  panelSize: number | undefined;
  alphaBudget: number | undefined;
} {
  const populationId = stringOpt(inv, "population") ?? "reference/1";
  if (!/^[\x21-\x7e]{1,128}$/.test(populationId))
    bad(inv, "--population must be 1..128 printable characters without spaces");
  return {
    populationId,
    panelSize: intOpt(inv, "panel-size", { min: 2, max: 64 }),
    alphaBudget: numberOpt(inv, "alpha-budget", { min: 1e-9, max: 1 }),
  };
}

/** The feed source: an http(s) URL fetched (bounded) or a file read, polled every --feed-interval seconds. */
export function feedSourceOf(inv: Invocation): FeedSource | undefined {
  const feed = stringOpt(inv, "feed");
  const seconds = intOpt(inv, "feed-interval", { min: 1, max: 86_400 }, 300) as number;
  if (feed === undefined) return undefined;
  const intervalMs = seconds * 1000;
  if (/^https?:\/\//.test(feed)) {
    try {
      new URL(feed);
    } catch {
      bad(inv, `--feed '${feed}' is not a URL`);
    }
    return {
      name: feed,
      intervalMs,
      async read() {
        const res = await fetch(feed, { signal: AbortSignal.timeout(30_000), redirect: "error" });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const declared = Number(res.headers.get("content-length") ?? "0");
        if (declared > MAX_FEED_BYTES) throw new Error(`the listing exceeds ${MAX_FEED_BYTES} bytes`);
        // Untrusted server: read at most the bound, whatever it declared.
        const chunks: Uint8Array[] = [];
        let size = 0;
        for await (const chunk of res.body ?? []) {
          size += chunk.length;
          if (size > MAX_FEED_BYTES) throw new Error(`the listing exceeds ${MAX_FEED_BYTES} bytes`);
          chunks.push(chunk);
        }
        return Buffer.concat(chunks).toString("utf8");
      },
    };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(feed))
    bad(inv, `--feed must be an http(s) URL or a file, got '${feed}'`);
  const file = resolve(inv.io.cwd, feed);
  return {
    name: feed,
    intervalMs,
    async read() {
      const fh = await open(file, "r");
      try {
        const buf = Buffer.alloc(MAX_FEED_BYTES + 1);
        let n = 0;
        while (n < buf.length) {
          const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
        if (n > MAX_FEED_BYTES) throw new Error(`the listing exceeds ${MAX_FEED_BYTES} bytes`);
        return buf.subarray(0, n).toString("utf8");
      } finally {
        await fh.close();
      }
    },
  };
}
