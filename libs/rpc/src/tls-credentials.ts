/**
 * TLS and mutual TLS credentials from PEM text. Between member nodes and the hub Lineage uses
 * mutual TLS; the verified client certificate is then visible to handlers as
 * `ctx.auth.sslPeerCertificate`.
 */
import { ChannelCredentials, ServerCredentials } from "@grpc/grpc-js";
import { RpcError } from "./rpc-error.js";

type Pem = string | Uint8Array;

function pem(name: string, value: Pem): Buffer {
  const buf = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
  if (!buf.includes("-----BEGIN ")) throw new RpcError("invalid_argument", `${name} is not PEM text`);
  return buf;
}

/** Server TLS settings. */
export interface ServerTlsOptions {
  /** Server certificate chain (PEM). */
  readonly certChainPem: Pem;
  /** Server private key (PEM). */
  readonly privateKeyPem: Pem;
  /** CA certificates that client certificates must chain to (PEM); required for mutual TLS. */
  readonly clientCaPem?: Pem;
  /** Require and verify a client certificate (mutual TLS). Default: true when clientCaPem is set. */
  readonly requireClientCert?: boolean;
}

/** Server credentials for TLS, or mutual TLS when a client CA is given. */
export function tlsServerCredentials(options: ServerTlsOptions): ServerCredentials {
  const requireClient = options.requireClientCert ?? options.clientCaPem !== undefined;
  if (requireClient && options.clientCaPem === undefined) {
    throw new RpcError(
      "invalid_argument",
      "requireClientCert needs clientCaPem to verify client certificates",
    );
  }
  const ca = options.clientCaPem === undefined ? null : pem("clientCaPem", options.clientCaPem);
  return ServerCredentials.createSsl(
    ca,
    [
      {
        cert_chain: pem("certChainPem", options.certChainPem),
        private_key: pem("privateKeyPem", options.privateKeyPem),
      },
    ],
    requireClient,
  );
}

/** Plain-text server credentials: loopback tests and the embedded single-process mode only. */
export function insecureServerCredentials(): ServerCredentials {
  return ServerCredentials.createInsecure();
}

/** Client TLS settings. */
export interface ClientTlsOptions {
  /** CA certificates the server certificate must chain to (PEM). */
  readonly caPem: Pem;
  /** Client certificate chain for mutual TLS (PEM); needs privateKeyPem. */
  readonly certChainPem?: Pem;
  /** Client private key for mutual TLS (PEM); needs certChainPem. */
  readonly privateKeyPem?: Pem;
}

/** Channel credentials for TLS, or mutual TLS when a client certificate and key are given. */
export function tlsChannelCredentials(options: ClientTlsOptions): ChannelCredentials {
  if ((options.certChainPem === undefined) !== (options.privateKeyPem === undefined)) {
    throw new RpcError("invalid_argument", "certChainPem and privateKeyPem must be given together");
  }
  return ChannelCredentials.createSsl(
    pem("caPem", options.caPem),
    options.privateKeyPem === undefined ? null : pem("privateKeyPem", options.privateKeyPem),
    options.certChainPem === undefined ? null : pem("certChainPem", options.certChainPem),
  );
}

/** Plain-text channel credentials: loopback tests and the embedded single-process mode only. */
export function insecureChannelCredentials(): ChannelCredentials {
  return ChannelCredentials.createInsecure();
}
