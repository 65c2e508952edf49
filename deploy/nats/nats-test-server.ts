/**
 * Runs deploy/nats/nats-server.conf (and nats-cluster.conf) for real in a test: a throwaway CA, a server
 * certificate for 127.0.0.1 and client certificates whose subjects are the config's mapped users, written to
 * a temp dir; the deploy file templated with those paths and free ports (each substitution must match the
 * file, so a changed deploy file fails loudly instead of being tested half-templated); nats-server spawned and
 * awaited until it serves. The deploy file stays the source: nothing else about it is changed.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NATS_DIR = import.meta.dirname;

/** The nats-server binary, or undefined when it is not installed (Debian puts it in /usr/sbin). */
export function findNatsServer(): string | undefined {
  return ["nats-server", "/usr/sbin/nats-server"].find((bin) => spawnSync(bin, ["--version"]).status === 0);
}

/** A port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Test PKI in a temp dir: the CA, the server's certificate, and client certificates by subject. */
export class TestPki {
  readonly dir: string;
  constructor(prefix = "lineage-nats-") {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.#ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
    this.#ossl(
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "1",
      "-subj",
      "/CN=test-ca",
    );
    writeFileSync(join(this.dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    this.#issue("server", "/CN=nats", "server.ext");
  }

  #ossl(...args: string[]): void {
    execFileSync("openssl", args, { cwd: this.dir, stdio: "pipe" });
  }

  #issue(name: string, subj: string, ext?: string, ca = "ca"): void {
    this.#ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
    this.#ossl("req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", subj);
    this.#ossl(
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
      "1",
      ...(ext === undefined ? [] : ["-extfile", ext]),
    );
  }

  /**
   * A client certificate for `subject` given in RFC 2253 order as the config names users
   * ("CN=acme,OU=member,O=lineage"); `otherCa` issues it from a CA the server does not trust.
   */
  client(name: string, subject: string, otherCa = false): { certFile: string; keyFile: string } {
    const subj = `/${subject.split(",").reverse().join("/")}`;
    if (otherCa) {
      this.#ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "rogue-ca.key");
      this.#ossl(
        "req",
        "-x509",
        "-new",
        "-key",
        "rogue-ca.key",
        "-out",
        "rogue-ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=rogue-ca",
      );
    }
    this.#issue(name, subj, undefined, otherCa ? "rogue-ca" : "ca");
    return { certFile: join(this.dir, `${name}.pem`), keyFile: join(this.dir, `${name}.key`) };
  }

  get caFile(): string {
    return join(this.dir, "ca.pem");
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Replaces `from` with `to` in `text`, every occurrence; fails when `from` is absent. */
function sub(text: string, from: string | RegExp, to: string, what: string): string {
  const found = typeof from === "string" ? text.includes(from) : from.test(text);
  if (!found) throw new Error(`deploy NATS config: ${what} (${String(from)}) not found; update the test`);
  return typeof from === "string" ? text.replaceAll(from, to) : text.replace(from, to);
}

/** The deploy nats-server.conf with the test's certificates, store dir and ports. */
export function templateServerConf(
  pki: TestPki,
  o: { readonly clientPort: number; readonly httpPort: number; readonly storeDir: string },
): string {
  let t = readFileSync(join(NATS_DIR, "nats-server.conf"), "utf8");
  t = sub(t, "/etc/nats/tls/server.pem", join(pki.dir, "server.pem"), "server certificate");
  t = sub(t, "/etc/nats/tls/server.key", join(pki.dir, "server.key"), "server key");
  t = sub(t, "/etc/nats/tls/clients-ca.pem", pki.caFile, "client CA");
  t = sub(t, "/var/lib/nats-server", o.storeDir, "JetStream store_dir");
  t = sub(t, /^listen: 0\.0\.0\.0:4222$/m, `listen: 127.0.0.1:${o.clientPort}`, "client listen");
  t = sub(t, /^http: 127\.0\.0\.1:8222$/m, `http: 127.0.0.1:${o.httpPort}`, "monitoring listen");
  return t;
}

/** The deploy nats-cluster.conf with the test's certificates and route ports. */
export function templateClusterConf(
  pki: TestPki,
  clusterPort: number,
  routePorts: readonly number[],
): string {
  let t = readFileSync(join(NATS_DIR, "nats-cluster.conf"), "utf8");
  t = sub(t, "/etc/nats/tls/server.pem", join(pki.dir, "server.pem"), "route certificate");
  t = sub(t, "/etc/nats/tls/server.key", join(pki.dir, "server.key"), "route key");
  t = sub(t, "/etc/nats/tls/clients-ca.pem", pki.caFile, "route CA");
  t = sub(t, /listen: 0\.0\.0\.0:6222/, `listen: 127.0.0.1:${clusterPort}`, "cluster listen");
  t = sub(
    t,
    /routes: \[[^\]]*\]/,
    `routes: [\n${routePorts.map((p) => `    "nats-route://127.0.0.1:${p}"`).join("\n")}\n  ]`,
    "routes",
  );
  return t;
}

/** A running nats-server. */
export interface RunningServer {
  readonly url: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

/**
 * Starts nats-server with `files` (name -> text) written to `dir` and `-c dir/<main>`; resolves once it
 * logs that it is ready (or rejects with its log after `timeoutMs`).
 */
export async function startServer(
  bin: string,
  dir: string,
  files: Readonly<Record<string, string>>,
  main: string,
  clientPort: number,
  args: readonly string[] = [],
  timeoutMs = 20_000,
): Promise<RunningServer> {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const child: ChildProcess = spawn(bin, ["-c", join(dir, main), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const onData = (b: Buffer) => {
    out += b.toString("utf8");
    if (out.length > 1_000_000) out = out.slice(-500_000);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (!/Server is ready/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server did not start:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `tls://127.0.0.1:${clientPort}`, log: () => out, stop };
}
