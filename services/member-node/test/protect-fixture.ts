/**
 * Fixtures of the protect tests: a real testbed model behind the OpenAI-compatible HTTP server, a counting
 * proxy in front of it (so tests see every request the node makes and can make the endpoint fail), a
 * battery and epoch key on disk, the member's key, and a node config — each with an explicit lifecycle.
 * Real servers for Postgres and NATS: `serverTargets()` says which are reachable (skip outside CI, fail in CI).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNatsBus } from "@lineage/bus";
import { Ed25519PrivateKey } from "@lineage/crypto";
import type { Battery } from "@lineage/fingerprint";
import { postgresTestTarget } from "@lineage/store";
import { loadCorpus, NgramCounts, serveTestbed, TestbedModel, type TestbedServer } from "@lineage/testbed";

/** A testbed model server with a counting proxy in front. */
export interface ModelEndpoint extends AsyncDisposable {
  /** Base URL of the proxy (what the node is configured with). */
  readonly url: string;
  /** Model name served. */
  readonly model: string;
  /** Completion requests seen, with the prompt of each. */
  readonly prompts: string[];
  /** The JSON bodies of those requests (what the node asked for: max_tokens, top_logprobs, ...). */
  readonly requests: Record<string, unknown>[];
  /** Answer generation requests with this HTTP status instead of forwarding (undefined = forward)... */
  failWith: number | undefined;
  /** ...once this many generation requests were seen in all (default 0: at once). */
  failAfter: number;
  /** Every raw response body the proxy forwarded (the privacy test searches for them). */
  readonly bodies: string[];
  close(): Promise<void>;
}

let cachedModel: TestbedModel | undefined;

/** A small real trigram model (testbed corpus), built once per process. */
export function testbedModel(): TestbedModel {
  if (cachedModel) return cachedModel;
  const corpus = loadCorpus();
  const counts = new NgramCounts(3);
  for (const s of corpus.public.slice(0, 800)) counts.addSequence(corpus.tokens(s));
  cachedModel = new TestbedModel("protected-model", counts.compile());
  return cachedModel;
}

/** Serves the testbed model behind a counting proxy on 127.0.0.1. */
export async function modelEndpoint(): Promise<ModelEndpoint> {
  const model = testbedModel();
  const upstream: TestbedServer = await serveTestbed({ models: [model] });
  const prompts: string[] = [];
  const requests: Record<string, unknown>[] = [];
  const bodies: string[] = [];
  const state = { failWith: undefined as number | undefined, failAfter: 0 };
  const proxy: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (req.method === "POST") {
        try {
          const doc = JSON.parse(body.toString("utf8")) as {
            prompt?: string;
            messages?: { content: string }[];
          };
          prompts.push(doc.prompt ?? doc.messages?.at(-1)?.content ?? "");
          requests.push(doc as Record<string, unknown>);
        } catch {
          prompts.push("");
          requests.push({});
        }
      }
      if (state.failWith !== undefined && req.method === "POST" && prompts.length > state.failAfter) {
        res.writeHead(state.failWith, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "injected failure", type: "server_error" } }));
        return;
      }
      const up = httpRequest(
        `${upstream.url}${req.url}`,
        { method: req.method, headers: { "content-type": "application/json" } },
        (ur) => {
          const out: Buffer[] = [];
          ur.on("data", (c: Buffer) => out.push(c));
          ur.on("end", () => {
            const text = Buffer.concat(out).toString("utf8");
            if (req.method === "POST") bodies.push(text);
            res.writeHead(ur.statusCode ?? 502, { "content-type": "application/json" });
            res.end(text);
          });
        },
      );
      up.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as { port: number }).port;
  const close = async () => {
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
    await upstream.close();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    model: model.id,
    prompts,
    requests,
    bodies,
    get failWith() {
      return state.failWith;
    },
    set failWith(v) {
      state.failWith = v;
    },
    get failAfter() {
      return state.failAfter;
    },
    set failAfter(v) {
      state.failAfter = v;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A battery of `n` probes from held-out corpus text: open, edge (with a reference) and completion. */
export function testBattery(n: number, epoch = "e1", offset = 5000): Battery {
  const corpus = loadCorpus();
  const probes = corpus.public.slice(offset, offset + n).map((s, i) => {
    const words = corpus.tokens(s);
    const prompt = words.slice(0, 5).join(" ");
    if (i % 5 === 1)
      return { id: `p${i}`, kind: "edge" as const, prompt, reference: words.slice(5, 7).join(" ") || "x" };
    if (i % 5 === 2) return { id: `p${i}`, kind: "completion" as const, prompt };
    return { id: `p${i}`, kind: "open" as const, prompt };
  });
  return { epoch, probes };
}

/** A temporary folder with the node's files, removed on dispose. */
export interface NodeFiles extends AsyncDisposable {
  readonly dir: string;
  readonly key: Ed25519PrivateKey;
  readonly keyFile: string;
  readonly batteryFile: string;
  readonly epochKeyFile: string;
  readonly epochKey: Uint8Array;
  /** Writes a config (JSON, mode 0600) merging `extra` over the defaults; returns its path. */
  writeConfig(extra: Record<string, unknown>): string;
  /** Replaces the battery file. */
  writeBattery(battery: Battery): void;
}

/** Creates the node's files for member `memberId` and the endpoint `endpoint`. */
export function nodeFiles(
  memberId: string,
  endpoint: { url: string; model: string },
  battery: Battery,
): NodeFiles {
  const dir = mkdtempSync(join(tmpdir(), "lineage-member-"));
  const key = Ed25519PrivateKey.generate();
  const keyFile = join(dir, "member-key.pem");
  writeFileSync(keyFile, key.toPem(), { mode: 0o600 });
  const batteryFile = join(dir, "battery.json");
  const writeBattery = (b: Battery) => writeFileSync(batteryFile, JSON.stringify(b));
  writeBattery(battery);
  const epochKey = new Uint8Array(randomBytes(32));
  const epochKeyFile = join(dir, "epoch.key");
  writeFileSync(epochKeyFile, `${Buffer.from(epochKey).toString("hex")}\n`, { mode: 0o600 });
  const writeConfig = (extra: Record<string, unknown>) => {
    const file = join(dir, "member-node.json");
    const config = {
      member_id: memberId,
      signing_key_file: "member-key.pem",
      listen: "127.0.0.1:0",
      database: { data_dir: "data" },
      battery: { file: "battery.json", epoch_key_file: "epoch.key" },
      adapters: { main: { base_url: endpoint.url, model: endpoint.model, concurrency: 4 } },
      ...extra,
    };
    writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
    chmodSync(file, 0o600);
    return file;
  };
  const dispose = async () => rmSync(dir, { recursive: true, force: true });
  return {
    dir,
    key,
    keyFile,
    batteryFile,
    epochKeyFile,
    epochKey,
    writeConfig,
    writeBattery,
    [Symbol.asyncDispose]: dispose,
  };
}

const CI_FALSE = new Set(["", "0", "false", "no", "off"]);
/** Any truthy CI. */
export function isCi(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const v = env.CI;
  return v !== undefined && !CI_FALSE.has(v.trim().toLowerCase());
}

/** NATS URL of the tests. */
export const NATS_URL = process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** Which real servers the tests can use: a URL, or the reason to skip (throws in CI when one is missing). */
export async function serverTargets(): Promise<{
  pg: { url?: string; skip?: string };
  nats: { url?: string; skip?: string };
}> {
  const pg = await postgresTestTarget();
  let nats: { url?: string; skip?: string };
  try {
    const bus = await connectNatsBus({ servers: NATS_URL, timeoutMs: 2000, maxReconnectAttempts: 0 });
    await bus.close();
    nats = { url: NATS_URL };
  } catch (err) {
    const reason = `NATS with JetStream not reachable at ${NATS_URL}: ${(err as Error).message}`;
    if (isCi()) throw new Error(`${reason} (CI: this test must run)`);
    nats = { skip: reason };
  }
  return { pg: pg.skip !== undefined ? { skip: pg.skip } : { url: pg.url }, nats };
}

/** A fresh member id per test (NATS subjects and streams stay apart). */
export function testMemberId(): string {
  return `t${randomBytes(6).toString("hex")}`;
}

/** A fresh Postgres schema name per test. */
export function testSchema(): string {
  return `t_${randomBytes(6).toString("hex")}`;
}
