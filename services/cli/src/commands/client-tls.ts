/**
 * The transport of the commands that talk to a running hub or member node (`--hub`, `--node`): plaintext
 * without `--tls-ca` (servers accept it on loopback only), TLS to the `--tls-ca` roots with it, and mutual TLS
 * when a client certificate is given — `--tls-cert`/`--tls-key`, else $LINEAGE_TLS_CERT/$LINEAGE_TLS_KEY
 * (read only with `--tls-ca`, so a certificate exported for one alliance never turns a loopback call into
 * an error). The key is read like every other private key here: a regular file without group/other access;
 * each file is bounded and must hold PEM of the right kind, named by its flag when it does not.
 */
import { resolve } from "node:path";
import type { ChannelCredentials } from "@grpc/grpc-js";
import { insecureChannelCredentials, tlsChannelCredentials } from "@lineage/rpc";
import { CliError } from "../cli-error.js";
import type { Invocation, OptionSpec } from "../command.js";
import { stringOpt } from "../option-values.js";
import { readBoundedFile } from "./keygen.js";

const MAX_PEM_BYTES = 256 * 1024;
const MAX_KEY_BYTES = 64 * 1024;

/** --tls-cert and --tls-key: the client certificate for a server that requires mutual TLS. */
export const clientCertFlags: Readonly<Record<string, OptionSpec>> = {
  "tls-cert": {
    type: "string",
    valueName: "file",
    description:
      "With --tls-ca: client certificate chain (PEM) for a server that requires mutual TLS (default $LINEAGE_TLS_CERT)",
  },
  "tls-key": {
    type: "string",
    valueName: "file",
    description: "Private key of --tls-cert (PEM, mode 0600; default $LINEAGE_TLS_KEY)",
  },
};

/** PEM the TLS client needs: the CA, and the client certificate and key for mutual TLS. */
export interface ClientTls {
  readonly caPem: string;
  readonly certChainPem?: string;
  readonly privateKeyPem?: string;
}

function whereOf(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

const nonEmpty = (v: string | undefined): string | undefined => (v === "" ? undefined : v);

async function readPem(
  inv: Invocation,
  file: string,
  flag: string,
  kind: "certificate" | "private key",
): Promise<string> {
  const where = whereOf(inv);
  const secret = kind === "private key";
  const text = await readBoundedFile(
    where,
    resolve(inv.io.cwd, file),
    flag,
    secret ? MAX_KEY_BYTES : MAX_PEM_BYTES,
    secret,
    `a ${kind}`,
  );
  const re = secret ? /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/ : /-----BEGIN CERTIFICATE-----/;
  if (!re.test(text))
    throw new CliError("invalid_argument", `${where}: ${flag} ${file} holds no PEM ${kind}`);
  return text;
}

/**
 * The TLS material from the flags (and environment), or undefined for plaintext (no --tls-ca). Refuses a
 * certificate without its key (or the reverse) and a client certificate without --tls-ca.
 */
export async function clientTlsOf(inv: Invocation): Promise<ClientTls | undefined> {
  const where = whereOf(inv);
  const ca = stringOpt(inv, "tls-ca");
  const certFlag = stringOpt(inv, "tls-cert");
  const keyFlag = stringOpt(inv, "tls-key");
  if (ca === undefined) {
    if (certFlag !== undefined || keyFlag !== undefined)
      throw new CliError(
        "usage",
        `${where}: --tls-cert/--tls-key need --tls-ca (mutual TLS runs inside TLS to a CA you name)`,
      );
    return undefined;
  }
  const fromFlags = certFlag !== undefined || keyFlag !== undefined;
  const cert = fromFlags ? certFlag : nonEmpty(inv.io.env.LINEAGE_TLS_CERT);
  const key = fromFlags ? keyFlag : nonEmpty(inv.io.env.LINEAGE_TLS_KEY);
  const [certName, keyName] = fromFlags
    ? ["--tls-cert", "--tls-key"]
    : ["$LINEAGE_TLS_CERT", "$LINEAGE_TLS_KEY"];
  if ((cert === undefined) !== (key === undefined))
    throw new CliError("usage", `${where}: ${certName} and ${keyName} go together`);
  const caPem = await readPem(inv, ca, "--tls-ca", "certificate");
  if (cert === undefined || key === undefined) return { caPem };
  return {
    caPem,
    certChainPem: await readPem(inv, cert, certName, "certificate"),
    privateKeyPem: await readPem(inv, key, keyName, "private key"),
  };
}

/** gRPC channel credentials from {@link clientTlsOf}: plaintext, TLS, or mutual TLS. */
export async function clientCredentials(inv: Invocation): Promise<ChannelCredentials> {
  const tls = await clientTlsOf(inv);
  if (tls === undefined) return insecureChannelCredentials();
  try {
    return tlsChannelCredentials(tls);
  } catch (err) {
    // OpenSSL refuses a key that does not match the certificate, or PEM it cannot parse.
    throw new CliError(
      "invalid_argument",
      `${whereOf(inv)}: the TLS files do not make a client identity (${(err as Error).message.slice(0, 200)})`,
      { cause: err },
    );
  }
}
