/**
 * Test fixtures: a real grpc-js server on 127.0.0.1:0 serving a real generated service, typed
 * clients, and throw-away certificates made with the openssl CLI at test time (no private key is
 * committed). Every fixture is disposed with `await using`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import type { ServerCredentials } from "@grpc/grpc-js";
import {
  addService,
  createServer,
  insecureServerCredentials,
  type RpcLogger,
  type RpcLogRecord,
  type ServerOptions,
  type ServiceImpl,
} from "../src/index.js";

/** A running server. */
export interface ServerFixture {
  readonly port: number;
  readonly address: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts `service` with `impl` on 127.0.0.1:0. */
export async function startServer<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  options: ServerOptions & { credentials?: ServerCredentials } = {},
): Promise<ServerFixture> {
  const server = createServer(options);
  addService(server, service, impl);
  const port = await server.listen("127.0.0.1:0", options.credentials ?? insecureServerCredentials());
  return {
    port,
    address: `127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () => server.shutdown(500),
  };
}

/** A logger that records what it is given. */
export function recordingLogger(): RpcLogger & { records: RpcLogRecord[] } {
  const records: RpcLogRecord[] = [];
  return { records, error: (r) => records.push(r), warn: (r) => records.push(r) };
}

/** PEM material for TLS tests. */
export interface Pki {
  readonly caPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
  /** A client certificate and key issued by a different CA. */
  readonly foreignClientCertPem: string;
  readonly foreignClientKeyPem: string;
}

/** Makes a CA, a server certificate for 127.0.0.1/localhost, and client certificates. */
export function makePki(): Pki {
  try {
    execFileSync("openssl", ["version"], { stdio: "pipe" });
  } catch (err) {
    throw new Error("the openssl CLI is required for TLS tests (apt-get install openssl)", { cause: err });
  }
  const dir = mkdtempSync(join(tmpdir(), "lineage-rpc-pki-"));
  const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ca = (name: string) =>
    ossl(
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
      "1",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
  const leaf = (name: string, caName: string, ext: string) => {
    ossl(
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
      `/CN=${name}`,
    );
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${caName}.pem`,
      "-CAkey",
      `${caName}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    );
  };
  ca("test-ca");
  ca("other-ca");
  leaf("server", "test-ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  leaf("member-acme", "test-ca", "extendedKeyUsage=clientAuth\n");
  leaf("intruder", "other-ca", "extendedKeyUsage=clientAuth\n");
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  const pki: Pki = {
    caPem: read("test-ca.pem"),
    serverCertPem: read("server.pem"),
    serverKeyPem: read("server.key"),
    clientCertPem: read("member-acme.pem"),
    clientKeyPem: read("member-acme.key"),
    foreignClientCertPem: read("intruder.pem"),
    foreignClientKeyPem: read("intruder.key"),
  };
  rmSync(dir, { recursive: true, force: true });
  return pki;
}
