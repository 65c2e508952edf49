/**
 * The alliance deployed as separate OS processes (issue 12, "The real deployment"): one `lineage hub serve`
 * and three `lineage member serve` processes (the real bin, services/cli/bin/lineage.js), each on its own
 * Postgres database (`lineage_mp_<random>_<role>`, created on the test server and dropped at the end), gRPC
 * over TLS between them — mutual TLS both ways: the hub dials member nodes with its client certificate
 * (members file) and members dial the hub with theirs — and a private nats-server with JetStream on a free
 * loopback port and its own store folder (so it can be restarted without losing streams). Certificates are
 * made by the openssl CLI at setup. The models are testbed n-gram models served over HTTP by this process.
 *
 * Operators drive it with the documented commands (`hub keygen/migrate/epoch create/enrol`, `member
 * init/enrol-request/canaries generate|import/protect`), run in this process through the CLI's `main` —
 * the same code as the bin, without a 2-3 s start per command. Releases reach the hub through its --feed
 * file. Everything the services print and every gRPC message they send (libs/rpc wire-capture.ts, turned on
 * by LINEAGE_RPC_CAPTURE_DIR) is kept for the privacy test; NATS traffic is captured by the test itself.
 *
 * Used by alliance.test.ts and bench/alliance.ts.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Hub } from "@lineage/api";
import { createClient, RPC_CAPTURE_MARKER, type ServiceClient, tlsChannelCredentials } from "@lineage/rpc";
import {
  factSentence,
  loadCorpus,
  NgramCounts,
  serveTestbed,
  TestbedModel,
  type TestbedServer,
} from "@lineage/testbed";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { captureIo } from "../../src/capture-io.js";
import { EXIT } from "../../src/cli-error.js";
import { main } from "../../src/main.js";

export const ROOT = resolve(import.meta.dirname, "../../../..");
const BIN = join(ROOT, "services/cli/bin/lineage.js");
export const MEMBERS = ["acme", "globex", "initech"] as const;
export type MemberId = (typeof MEMBERS)[number];
export const ORIGIN = "lineage.test/alliance";
export const PANEL = ["panel-a", "panel-b", "panel-c"] as const;
const NATS_BIN = process.env.LINEAGE_TEST_NATS_SERVER_BIN ?? "nats-server";
const CI_FALSE = new Set(["", "0", "false", "no", "off"]);
const isCi = () => process.env.CI !== undefined && !CI_FALSE.has(process.env.CI.trim().toLowerCase());
const TEST_PG_URL =
  process.env.LINEAGE_TEST_PG_URL || "postgres://postgres:postgres@127.0.0.1:5432/lineage_test";
/** The test server's maintenance database: the alliance creates (and drops) databases of its own. */
const PG_URL = (() => {
  const u = new URL(TEST_PG_URL);
  u.pathname = "/postgres";
  return u.toString();
})();

/** Why the alliance cannot run here (Postgres or nats-server missing), or undefined; throws under CI. */
export async function allianceSkipReason(): Promise<string | undefined> {
  let reason: string | undefined;
  // Generous: the timer runs on this process's event loop, which a loaded machine can hold for seconds.
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 20_000 });
  c.on("error", () => {});
  try {
    await c.connect();
    await c.query("select 1");
  } catch (err) {
    reason = `test Postgres at ${new URL(PG_URL).host} is unreachable (${(err as Error).message})`;
  } finally {
    await c.end().catch(() => {});
  }
  if (reason === undefined && spawnSync(NATS_BIN, ["--version"]).status !== 0)
    reason = `the nats-server binary (${NATS_BIN}) is not available`;
  if (reason === undefined && spawnSync("openssl", ["version"]).status !== 0)
    reason = "the openssl CLI is not available";
  if (reason !== undefined && isCi()) throw new Error(`${reason} (CI is set: this test must run)`);
  return reason;
}

/** A free loopback port (bound, read, released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns a value other than undefined/false, or throws `what`. */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`,
      );
    await sleep(everyMs);
  }
}

/** Process groups still running: killed if this process exits without stopping them (a crash, a timeout). */
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pid of liveGroups)
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
});

/** A service process (`lineage ... serve` or nats-server) and everything it printed. */
export class ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  #out = "";
  #err = "";
  readonly exited: Promise<number | null>;
  constructor(
    name: string,
    cmd: string,
    args: readonly string[],
    opts: { cwd: string; env: NodeJS.ProcessEnv },
  ) {
    this.name = name;
    // Its own process group: the bin runs the sources in a child node process, and kill -9 must reach both.
    this.child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.child.stdout?.on("data", (d: Buffer) => {
      this.#out += d.toString();
    });
    this.child.stderr?.on("data", (d: Buffer) => {
      this.#err += d.toString();
    });
    const pid = this.child.pid;
    if (pid !== undefined) liveGroups.add(pid);
    this.exited = new Promise((ok) =>
      this.child.on("exit", (code, signal) => {
        ok(signal ? 128 : code);
      }),
    );
  }
  stdout(): string {
    return this.#out;
  }
  stderr(): string {
    return this.#err;
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  /** Waits for the pretty-printed --json document it prints once serving. */
  async ready<T>(timeoutMs = 60_000): Promise<T> {
    return waitFor(
      () => `${this.name} to start; stderr:\n${this.#err}`,
      () => {
        if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode}): ${this.#err}`);
        const t = this.#out.trimEnd();
        if (!t.endsWith("}")) return undefined;
        try {
          return JSON.parse(t) as T;
        } catch {
          return undefined;
        }
      },
      timeoutMs,
      50,
    );
  }
  /** kill -9 of the whole process group. */
  async kill9(): Promise<void> {
    if (this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      liveGroups.delete(this.child.pid);
    }
    await this.exited;
  }
  /** Ctrl-C (SIGINT to the bin, which passes it on), then kill -9 after `graceMs`. */
  async stop(graceMs = 20_000): Promise<number | null> {
    if (this.running) this.child.kill("SIGINT");
    const t = setTimeout(() => void this.kill9(), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    // Whatever of the group is left (the sources' child when the bin was killed first).
    if (this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, "SIGKILL");
      } catch {
        // none left
      }
      liveGroups.delete(this.child.pid);
    }
    return code;
  }
}

/** An n-gram model on a slice of the public corpus, plus `facts` learned by heart. */
export function trainModel(
  id: string,
  slice: [number, number],
  facts: readonly { prompt: string; answer: string }[] = [],
): TestbedModel {
  const corpus = loadCorpus();
  const counts = new NgramCounts(4);
  for (const s of corpus.public.slice(slice[0], slice[1])) counts.addSequence(corpus.tokens(s));
  for (const f of facts) counts.addSequence(factSentence(f.prompt, f.answer), 8);
  return new TestbedModel(id, counts.compile());
}

/** A member's canary pair as its node stores it, with the log-drawn exposed item (0: a, 1: b). */
export interface StoredPair {
  readonly pairId: string;
  readonly a: { readonly prompt: string; readonly expected: string };
  readonly b: { readonly prompt: string; readonly expected: string };
  readonly exposed: 0 | 1;
}

/** What the privacy test looks for: secrets that must never leave a member (or the hub's key). */
export interface Secrets {
  /** Canary prompts of every member. */
  readonly canaryPrompts: string[];
  /** Their answers (short pseudo-words, e.g. "Pollo"). */
  readonly canaryAnswers: string[];
  /** Private keys: PEM bodies (base64 lines) and raw bytes. */
  readonly keyTexts: string[];
  readonly keyBytes: Uint8Array[];
}

export interface Alliance extends AsyncDisposable {
  readonly dir: string;
  readonly natsUrl: string;
  readonly hubAddress: string;
  readonly hubDb: pg.Pool;
  memberDb(id: MemberId): pg.Pool;
  readonly modelsUrl: string;
  /** The running hub (replaced by restartHub). */
  hub(): ServiceProcess;
  readonly members: ReadonlyMap<MemberId, ServiceProcess>;
  /** Every process started so far, for the privacy test (restarted ones included). */
  readonly processes: ServiceProcess[];
  /** Runs a `lineage` command in this process. */
  cli(args: string[]): Promise<{ code: number; out: string; err: string }>;
  /** `member ...` flags reaching `id`'s node over mutual TLS as its operator. */
  nodeFlags(id: MemberId): string[];
  /** A Hub client with `id`'s (or the secretariat's) client certificate. */
  hubClient(who: MemberId | "hub"): ServiceClient<typeof Hub>;
  /** Adds releases to the hub's feed file (read every second; a listed release is scanned once). */
  release(models: readonly string[]): void;
  /** Pairs and labels of `id` as stored on its node. */
  pairs(id: MemberId): StoredPair[];
  startHub(): Promise<ServiceProcess>;
  startNats(): Promise<ServiceProcess>;
  readonly nats: () => ServiceProcess;
  secrets(): Secrets;
  /**
   * Everything sent so far, each as one buffer: every NATS message the capture subscriber saw (subject,
   * headers and payload), every gRPC message a service process sent (its capture file, by record), and
   * every service process's stdout and stderr.
   */
  sent(): {
    nats: Buffer[];
    rpc: { process: string; path: string; kind: string; bytes: Buffer }[];
    output: Buffer[];
  };
  readonly timings: Record<string, number>;
}

/** Small models: slices of the public corpus; a copy of a member's model learned its exposed canaries. */
export interface AllianceOptions {
  /** Suspect models to serve, each `{ id, copyOf? }` (a copy trains on its member's slice and exposed items). */
  readonly suspects: readonly { readonly id: string; readonly copyOf?: MemberId }[];
  /** Battery probes (default 24). */
  readonly probes?: number;
  /** Canary pairs per member (default 32). */
  readonly pairs?: number;
  readonly log?: (line: string) => void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A CA (self-signed, P-256) and leaf certificates it signs, in `dir`; keys 0600. */
function makeCa(dir: string, name: string): void {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  chmodSync(join(dir, `${name}.key`), 0o600);
}

function makeLeaf(dir: string, ca: string, name: string, subject: string, server: boolean): void {
  openssl(dir, [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject,
  ]);
  chmodSync(join(dir, `${name}.key`), 0o600);
  writeFileSync(
    join(dir, `${name}.ext`),
    server
      ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
      : "extendedKeyUsage=clientAuth\n",
  );
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  ]);
}

/** Builds and starts the alliance; members enrolled, canaries committed, models protected. */
export async function startAlliance(o: AllianceOptions): Promise<Alliance> {
  const log = o.log ?? (() => {});
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - t);
    log(`${name}: ${timings[name]} ms`);
    t = now;
  };
  const dir = mkdtempSync(join(tmpdir(), "lineage-alliance-"));
  const captureDir = join(dir, "capture");
  mkdirSync(captureDir, { mode: 0o700 });
  const processes: ServiceProcess[] = [];
  const pools: pg.Pool[] = [];
  const dbs: string[] = [];
  const tag = randomBytes(4).toString("hex");
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  let models: TestbedServer | undefined;
  let natsTap: NatsConnection | undefined;
  const natsSeen: Buffer[] = [];
  const cleanup = async () => {
    await natsTap?.close().catch(() => {});
    for (const p of processes.slice().reverse()) await p.stop(10_000);
    await models?.close();
    for (const p of pools) await p.end().catch(() => {});
    for (const db of dbs) await admin.query(`drop database if exists ${db} with (force)`).catch(() => {});
    await admin.end().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const dbUrl = (name: string) => {
      const u = new URL(PG_URL);
      u.pathname = `/${name}`;
      return u.toString();
    };
    const createDb = async (role: string) => {
      const name = `lineage_mp_${tag}_${role}`;
      await admin.query(`create database ${name}`);
      dbs.push(name);
      const pool = new pg.Pool({ connectionString: dbUrl(name), max: 2 });
      pool.on("error", () => {});
      pools.push(pool);
      return { url: dbUrl(name), pool };
    };
    const hubDbInfo = await createDb("hub");
    const memberDbs = new Map<MemberId, { url: string; pool: pg.Pool }>();
    for (const m of MEMBERS) memberDbs.set(m, await createDb(m));

    // Certificates: servers signed by the alliance CA, clients (hub, members) by the clients CA.
    makeCa(dir, "alliance-ca");
    makeCa(dir, "clients-ca");
    makeLeaf(dir, "alliance-ca", "hub-tls", "/CN=hub", true);
    makeLeaf(dir, "clients-ca", "hub-client", "/CN=hub/OU=hub/O=lineage", false);
    for (const m of MEMBERS) {
      makeLeaf(dir, "alliance-ca", `${m}-tls`, `/CN=${m}-node`, true);
      makeLeaf(dir, "clients-ca", `${m}-client`, `/CN=${m}/OU=member/O=lineage`, false);
    }
    lap("databases and certificates");

    // NATS with JetStream in its own store folder, on a port kept across restarts.
    const natsPort = await freePort();
    const natsUrl = `nats://127.0.0.1:${natsPort}`;
    const natsStore = join(dir, "nats-store");
    let nats: ServiceProcess | undefined;
    const startNats = async () => {
      const p = new ServiceProcess(
        "nats-server",
        NATS_BIN,
        ["-a", "127.0.0.1", "-p", String(natsPort), "-js", "-sd", natsStore],
        { cwd: dir, env: process.env },
      );
      processes.push(p);
      nats = p;
      await waitFor(
        () => `nats-server on ${natsPort}: ${p.stderr()}`,
        () => {
          if (!p.running) throw new Error(`nats-server exited: ${p.stderr()}`);
          return /Server is ready/.test(p.stderr());
        },
        20_000,
        50,
      );
      return p;
    };
    await startNats();
    // The capture subscriber: every message on every subject, for the whole run (reconnecting across restarts).
    natsTap = await connect({
      servers: natsUrl,
      name: "alliance-capture",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 200,
    });
    natsTap.subscribe(">", {
      callback: (_err, msg) => {
        const h = msg.headers;
        const headers =
          h === undefined ? "" : [...h.keys()].map((k) => `${k}: ${h.values(k).join(",")}`).join("\n");
        natsSeen.push(Buffer.concat([Buffer.from(`${msg.subject}\n${headers}\n`), Buffer.from(msg.data)]));
      },
    });

    const cli = async (args: string[]) => {
      const io = captureIo({ cwd: dir });
      const code = await main(args, io);
      return { code, out: io.out(), err: io.err() };
    };
    const ok = async (args: string[]) => {
      const r = await cli([...args, "--json"]);
      if (r.code !== EXIT.ok)
        throw new Error(`lineage ${args.slice(0, 3).join(" ")} exited ${r.code}: ${r.err}`);
      return JSON.parse(r.out) as Record<string, unknown>;
    };

    // The secretariat: key, database, epoch battery (the public corpus' sentence starts the testbed continues).
    const hubKey = await ok(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN]);
    writeFileSync(join(dir, "hub.pub.pem"), String(hubKey.public_key_pem));
    const hubPg = ["--pg", hubDbInfo.url];
    await ok(["hub", "migrate", ...hubPg]);
    const corpus = loadCorpus();
    const nProbes = o.probes ?? 24;
    writeFileSync(
      join(dir, "battery.json"),
      JSON.stringify({
        probes: corpus.public.slice(5000, 5000 + nProbes).map((s, index) => ({
          index,
          kind: "open_ended",
          prompt: corpus.tokens(s).slice(0, 5).join(" "),
          max_tokens: 32,
        })),
      }),
    );
    await ok([
      "hub",
      "epoch",
      "create",
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      ...hubPg,
      "--epoch-id",
      "alliance-e1",
      "--battery",
      "battery.json",
    ]);

    // Members: init (key + config), a member-signed enrolment request, enrolled by the secretariat.
    const [hubPort, modelsPort] = [await freePort(), await freePort()];
    const hubAddress = `127.0.0.1:${hubPort}`;
    const modelsUrl = `http://127.0.0.1:${modelsPort}/v1`;
    const nodePorts = new Map<MemberId, number>();
    for (const m of MEMBERS) {
      const port = await freePort();
      nodePorts.set(m, port);
      await ok([
        "member",
        "init",
        "--member-id",
        m,
        "--dir",
        m,
        "--pg",
        memberDbs.get(m)?.url ?? "",
        "--nats",
        natsUrl,
        "--hub",
        hubAddress,
        "--listen",
        `127.0.0.1:${port}`,
        "--adapter-url",
        modelsUrl,
        "--adapter-model",
        `${m}-chat`,
      ]);
      // The operator completes the config: the node's mTLS, the hub's CA, client certificate and signing key,
      // and the panel's models (a node reaches the panel the hub chooses through adapters named after it).
      const file = join(dir, m, "member-node.json");
      const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
      config.tls = {
        cert_file: `../${m}-tls.pem`,
        key_file: `../${m}-tls.key`,
        client_ca_file: "../clients-ca.pem",
      };
      config.hub = {
        address: hubAddress,
        ca_file: "../alliance-ca.pem",
        cert_file: `../${m}-client.pem`,
        key_file: `../${m}-client.key`,
        key_files: ["../hub.pub.pem"],
      };
      config.adapters = {
        ...(config.adapters as object),
        ...Object.fromEntries(PANEL.map((p) => [p, { base_url: modelsUrl, model: p }])),
      };
      writeFileSync(file, JSON.stringify(config, null, 2));
      const req = await ok([
        "member",
        "enrol-request",
        "--key",
        `${m}/member-key.pem`,
        "--member-id",
        m,
        "--out",
        `${m}.req.json`,
      ]);
      await ok([
        "hub",
        "enrol",
        "--key",
        "hub.pem",
        "--origin",
        ORIGIN,
        ...hubPg,
        "--request",
        `${m}.req.json`,
        "--fingerprint",
        String(req.fingerprint),
      ]);
    }
    lap("secretariat and member setup (CLI)");

    // The hub's configuration: member nodes over mTLS, the reference panel, the feed file.
    writeFileSync(
      join(dir, "members.json"),
      JSON.stringify({
        client_cert_file: "hub-client.pem",
        client_key_file: "hub-client.key",
        members: MEMBERS.map((m) => ({
          member_id: m,
          address: `127.0.0.1:${nodePorts.get(m)}`,
          tls_ca_file: "alliance-ca.pem",
        })),
      }),
    );
    writeFileSync(
      join(dir, "reference.json"),
      JSON.stringify({ models: PANEL.map((p) => ({ model_id: p, base_url: modelsUrl, model_name: p })) }),
    );
    writeFileSync(join(dir, "feed.json"), JSON.stringify({ feed: "alliance-feed", releases: [] }));
    const env = { ...process.env, LINEAGE_USE_DIST: "0", LINEAGE_RPC_CAPTURE_DIR: captureDir };
    let hub: ServiceProcess | undefined;
    const startHub = async () => {
      const p = new ServiceProcess(
        "hub",
        process.execPath,
        [
          BIN,
          "hub",
          "serve",
          "--key",
          "hub.pem",
          "--origin",
          ORIGIN,
          ...hubPg,
          "--listen",
          hubAddress,
          "--tls-cert",
          "hub-tls.pem",
          "--tls-key",
          "hub-tls.key",
          "--tls-client-ca",
          "clients-ca.pem",
          "--require-client-cert",
          "--nats",
          natsUrl,
          "--members-file",
          "members.json",
          "--reference-file",
          "reference.json",
          "--panel-size",
          "3",
          "--feed",
          "feed.json",
          "--feed-interval",
          "1",
          "--json",
        ],
        { cwd: dir, env },
      );
      processes.push(p);
      hub = p;
      await p.ready();
      return p;
    };
    const members = new Map<MemberId, ServiceProcess>();
    // The hub first: a node learns the log's trust from it at start (and retries only every 15 s).
    await startHub();
    await Promise.all(
      MEMBERS.map(async (m) => {
        const p = new ServiceProcess(
          `member ${m}`,
          process.execPath,
          [BIN, "member", "serve", "--config", join(m, "member-node.json"), "--epoch-poll", "0", "--json"],
          { cwd: dir, env },
        );
        processes.push(p);
        members.set(m, p);
        await p.ready();
      }),
    );
    lap("hub and member processes started");

    const nodeFlags = (m: MemberId) => [
      "--config",
      join(m, "member-node.json"),
      "--tls-ca",
      "alliance-ca.pem",
      "--tls-cert",
      `${m}-client.pem`,
      "--tls-key",
      `${m}-client.key`,
    ];
    // Canary pairs: generated by the CLI; each prompt made to end in a distinctive word instead of "?" (the
    // testbed's n-gram models start a fresh sentence after a sentence end, so only a prompt that continues lets
    // a copy that learned the item answer it — as in hub-serve.test.ts).
    const word = () => Array.from(randomBytes(8), (b) => String.fromCharCode(97 + (b % 26))).join("");
    await Promise.all(
      MEMBERS.map(async (m) => {
        await ok([
          "member",
          "canaries",
          "generate",
          "--count",
          String(o.pairs ?? 32),
          "--out",
          `${m}/pairs.jsonl`,
        ]);
        const file = join(dir, m, "pairs.jsonl");
        const lines = readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => {
            const p = JSON.parse(l) as { a: { prompt: string }; b: { prompt: string } };
            p.a.prompt = `${p.a.prompt.replace(/\?$/, "")} ${word()}`;
            p.b.prompt = `${p.b.prompt.replace(/\?$/, "")} ${word()}`;
            return JSON.stringify(p);
          });
        writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
        await ok([
          "member",
          "canaries",
          "import",
          `${m}/pairs.jsonl`,
          "--id",
          `${m}-pairs-1`,
          ...nodeFlags(m),
        ]);
      }),
    );
    lap("canaries committed through the hub");

    const pairsOf = new Map<MemberId, StoredPair[]>();
    for (const m of MEMBERS) {
      const pool = memberDbs.get(m)?.pool as pg.Pool;
      const rows = await waitFor(
        `${m}'s pair labels`,
        async () => {
          const r = await pool.query<{
            pair_id: string;
            prompt_a: string;
            expected_a: string;
            prompt_b: string;
            expected_b: string;
            exposed: number | null;
          }>(
            "select pair_id, prompt_a, expected_a, prompt_b, expected_b, exposed from canary_pairs order by pair_index",
          );
          return r.rows.length > 0 && r.rows.every((x) => x.exposed !== null) ? r.rows : undefined;
        },
        30_000,
      );
      pairsOf.set(
        m,
        rows.map((r) => ({
          pairId: r.pair_id,
          a: { prompt: r.prompt_a, expected: r.expected_a },
          b: { prompt: r.prompt_b, expected: r.expected_b },
          exposed: r.exposed as 0 | 1,
        })),
      );
    }
    const factsOf = (m: MemberId) =>
      (pairsOf.get(m) ?? []).map((p) => {
        const e = p.exposed === 1 ? p.b : p.a;
        return { prompt: e.prompt, answer: e.expected };
      });
    // Member i's model: corpus slice i, trained on its exposed items (what a member whose outputs carry its
    // canaries serves); a copy of it: the same recipe under another name.
    const slice = (m: MemberId): [number, number] => {
      const i = MEMBERS.indexOf(m);
      return [i * 800, (i + 1) * 800];
    };
    const list: TestbedModel[] = [
      ...MEMBERS.map((m) => trainModel(`${m}-chat`, slice(m), factsOf(m))),
      ...PANEL.map((p, i) => trainModel(p, [2400 + i * 800, 3200 + i * 800])),
      ...o.suspects.map((s, i) =>
        s.copyOf !== undefined
          ? trainModel(s.id, slice(s.copyOf), factsOf(s.copyOf))
          : trainModel(s.id, [4800 + (i % 4) * 800, 5600 + (i % 4) * 800]),
      ),
    ];
    models = await serveTestbed({ port: modelsPort, models: list });
    lap(`${list.length} testbed models trained and served`);

    // Protect: each node probes its model on the hub's battery, logs its reference commitment, publishes its sketch on NATS.
    await Promise.all(
      MEMBERS.map((m) =>
        ok([
          "member",
          "protect",
          "--model",
          `${m}-chat`,
          "--version",
          "1",
          "--adapter",
          "main",
          ...nodeFlags(m),
        ]),
      ),
    );
    await waitFor(
      "the hub to index the three sketches",
      async () =>
        Number((await hubDbInfo.pool.query("select count(*)::int as n from sketches")).rows[0]?.n) >= 3,
      60_000,
    );
    lap("models protected, sketches indexed");

    const clients: ServiceClient<typeof Hub>[] = [];
    const hubClient = (who: MemberId | "hub") => {
      const name = who === "hub" ? "hub-client" : `${who}-client`;
      const c = createClient(
        Hub,
        hubAddress,
        tlsChannelCredentials({
          caPem: readFileSync(join(dir, "alliance-ca.pem"), "utf8"),
          certChainPem: readFileSync(join(dir, `${name}.pem`), "utf8"),
          privateKeyPem: readFileSync(join(dir, `${name}.key`), "utf8"),
        }),
        { defaultTimeoutMs: 30_000 },
      );
      clients.push(c);
      return c;
    };
    const released: string[] = [];
    const release = (ids: readonly string[]) => {
      released.push(...ids.filter((id) => !released.includes(id)));
      writeFileSync(
        join(dir, "feed.json"),
        JSON.stringify({
          feed: "alliance-feed",
          releases: released.map((id) => ({
            registry: "huggingface",
            repo: `someone/${id}`,
            revision: "main",
            endpoint: { base_url: modelsUrl, model_name: id, api: "openai_chat", logprobs: true },
          })),
        }),
      );
    };
    const secrets = (): Secrets => {
      const canaryPrompts: string[] = [];
      const canaryAnswers: string[] = [];
      for (const m of MEMBERS)
        for (const pair of pairsOf.get(m) ?? [])
          for (const item of [pair.a, pair.b]) {
            canaryPrompts.push(item.prompt);
            canaryAnswers.push(item.expected);
          }
      const keyFiles = [
        "hub.pem",
        "hub-tls.key",
        "hub-client.key",
        "alliance-ca.key",
        "clients-ca.key",
        ...MEMBERS.flatMap((m) => [`${m}/member-key.pem`, `${m}-tls.key`, `${m}-client.key`]),
      ];
      const keyTexts: string[] = [];
      const keyBytes: Uint8Array[] = [];
      for (const f of keyFiles) {
        const pem = readFileSync(join(dir, f), "utf8");
        const b64 = pem
          .split("\n")
          .filter((l) => l !== "" && !l.startsWith("-----"))
          .join("");
        keyTexts.push(b64);
        for (const line of pem.split("\n"))
          if (line.length >= 40 && !line.startsWith("-----")) keyTexts.push(line);
        const der = Buffer.from(b64, "base64");
        keyBytes.push(new Uint8Array(der));
        // An Ed25519 PKCS#8 key ends with its 32-byte seed: look for the seed on its own too.
        if (f.endsWith(".pem")) keyBytes.push(new Uint8Array(der.subarray(der.length - 32)));
      }
      return { canaryPrompts, canaryAnswers, keyTexts, keyBytes };
    };
    const sent = () => {
      const rpc: { process: string; path: string; kind: string; bytes: Buffer }[] = [];
      const marker = Buffer.from(RPC_CAPTURE_MARKER);
      for (const f of readdirSync(captureDir)) {
        const buf = readFileSync(join(captureDir, f));
        let at = buf.indexOf(marker);
        while (at >= 0) {
          const nl = buf.indexOf(10, at + marker.length);
          const [kind = "", path = "", len = "0"] = buf
            .subarray(at + marker.length, nl)
            .toString()
            .split(" ");
          const bytes = buf.subarray(nl + 1, nl + 1 + Number(len));
          rpc.push({ process: f, path, kind, bytes });
          at = buf.indexOf(marker, nl + 1 + Number(len));
        }
      }
      const output = processes.map((p) => Buffer.from(`${p.stdout()}\n${p.stderr()}`));
      return { nats: natsSeen.slice(), rpc, output };
    };
    return {
      dir,
      natsUrl,
      hubAddress,
      hubDb: hubDbInfo.pool,
      memberDb: (m) => memberDbs.get(m)?.pool as pg.Pool,
      modelsUrl,
      hub: () => hub as ServiceProcess,
      members,
      processes,
      cli,
      nodeFlags,
      hubClient,
      release,
      pairs: (m) => pairsOf.get(m) ?? [],
      startHub,
      startNats,
      nats: () => nats as ServiceProcess,
      secrets,
      sent,
      timings,
      [Symbol.asyncDispose]: async () => {
        for (const c of clients) c.close();
        await cleanup();
      },
    };
  } catch (err) {
    const tail = processes.map((p) => `--- ${p.name}:\n${p.stderr().slice(-3000)}`).join("\n");
    await cleanup();
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  }
}

/** The hub's `scanned suspect` lines so far (one per finished scan). */
export function scanLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.includes("scanned suspect"));
}
