// A private nats-server for tests that stop, restart or configure the server (JetStream, file store in a
// temp dir, a free loopback port): started and restarted on the same port and store, optionally from a
// config file (users and permissions), removed when disposed. Binary: LINEAGE_TEST_NATS_SERVER_BIN, default
// `nats-server` on PATH; `missingNatsServer()` says why it cannot run (for planServerTest).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bin = process.env.LINEAGE_TEST_NATS_SERVER_BIN ?? "nats-server";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Why a private nats-server cannot run here, or undefined. */
export function missingNatsServer(): string | undefined {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return r.status === 0
    ? undefined
    : `nats-server binary not runnable (${bin}): ${r.error?.message ?? r.stderr}`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === "object" && addr !== null ? resolve(addr.port) : reject(new Error("no port")),
      );
    });
  });
}

export interface PrivateNatsServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Starts the server and resolves once it accepts connections (and JetStream has had time to recover). */
  start(): Promise<void>;
  /** SIGTERM, resolved when the process exited. */
  stop(): Promise<void>;
}

/**
 * A private server. `config`, when given, is the body of a nats-server config file (without `listen` and
 * `jetstream`, which the fixture adds): e.g. an `authorization { users = [...] }` block.
 */
export async function privateNatsServer(config?: string): Promise<PrivateNatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "lineage-bus-nats-"));
  const confFile = join(dir, "server.conf");
  if (config !== undefined)
    writeFileSync(
      confFile,
      `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${join(dir, "js")}" }\n${config}\n`,
    );
  let proc: ChildProcess | undefined;
  const listening = async (): Promise<boolean> =>
    new Promise((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(true)); // port taken: the server is listening
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(false)));
    });
  const server: PrivateNatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    async start() {
      const args =
        config === undefined ? ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir] : ["-c", confFile];
      proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      proc.stderr?.on("data", (d: Buffer) => {
        if (err.length < 4000) err += d.toString();
      });
      const deadline = Date.now() + 10_000;
      while (!(await listening())) {
        if (proc.exitCode !== null)
          throw new Error(`private nats-server exited (${proc.exitCode}): ${err.slice(-500)}`);
        if (Date.now() > deadline) throw new Error("private nats-server did not start");
        await sleep(50);
      }
      await sleep(200); // JetStream finishes recovering its store after the listener opens
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (p === undefined || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await exited;
    },
    async [Symbol.asyncDispose]() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
