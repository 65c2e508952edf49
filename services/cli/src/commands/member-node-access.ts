/**
 * What the `lineage member` commands that drive a node share: reading the node's config (`--config`, else
 * $LINEAGE_MEMBER_CONFIG, else .lineage/member/member-node.json), connecting to the running node as an
 * operator (signed admin calls with the member's key), and turning node errors into CLI errors with the
 * node's safe message.
 */
import { resolve } from "node:path";
import {
  connectMemberNode,
  isMemberNodeError,
  type MemberNodeClient,
  type MemberNodeConfig,
  readMemberNodeConfig,
  readSigningKey,
} from "@lineage/member-node";
import { isLoopbackHost, parseListenAddress, RpcError } from "@lineage/rpc";
import { CliError } from "../cli-error.js";
import type { Invocation, OptionSpec } from "../command.js";
import { stringOpt } from "../option-values.js";
import { clientCertFlags, clientCredentials } from "./client-tls.js";

/** Default config path (what `lineage member init` writes). */
export const DEFAULT_MEMBER_CONFIG = ".lineage/member/member-node.json";

export const configFlag: Readonly<Record<string, OptionSpec>> = {
  config: {
    type: "string",
    valueName: "file",
    description: `Node config (default: $LINEAGE_MEMBER_CONFIG, else ${DEFAULT_MEMBER_CONFIG})`,
  },
};

/** Flags of commands that talk to a running node. */
export const nodeFlags: Readonly<Record<string, OptionSpec>> = {
  ...configFlag,
  node: {
    type: "string",
    valueName: "host:port",
    description: "The node's gRPC address (default: the config's listen address)",
  },
  "tls-ca": {
    type: "string",
    valueName: "file",
    description: "CA of the node's TLS certificate (required unless the node is on loopback)",
  },
  ...clientCertFlags,
  "server-name": {
    type: "string",
    valueName: "name",
    description: "Expected name in the node's certificate",
  },
};

/** "lineage member ..." for messages. */
export function whereOf(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

/** A CLI error for a node or RPC error (their messages are safe to print). */
export function cliErrorFromNode(err: unknown, where: string): CliError {
  if (err instanceof CliError) return err;
  const code = isMemberNodeError(err) || err instanceof RpcError ? err.code : undefined;
  const message = `${where}: ${(err as Error)?.message ?? String(err)}`;
  if (code === "invalid_argument" || code === "malformed" || code === "too_large")
    return new CliError("invalid_argument", message, { cause: err });
  if (code === "unavailable" || code === "timeout" || code === "rate_limited")
    return new CliError("unavailable", message, { cause: err });
  if (code !== undefined) return new CliError("failed", message, { cause: err });
  if ((err as { name?: unknown })?.name === "StoreError" || (err as { name?: unknown })?.name === "BusError")
    return new CliError("unavailable", message, { cause: err });
  return new CliError("failed", message, { cause: err });
}

/** Reads the config named by --config (or the default). */
export async function configOf(inv: Invocation): Promise<MemberNodeConfig> {
  const file = resolve(
    inv.io.cwd,
    stringOpt(inv, "config") ?? inv.io.env.LINEAGE_MEMBER_CONFIG ?? DEFAULT_MEMBER_CONFIG,
  );
  try {
    return await readMemberNodeConfig(file, inv.io.env);
  } catch (err) {
    throw cliErrorFromNode(err, whereOf(inv));
  }
}

/** Connects to the running node as its operator. */
export async function nodeClient(
  inv: Invocation,
): Promise<{ client: MemberNodeClient; config: MemberNodeConfig }> {
  const where = whereOf(inv);
  const config = await configOf(inv);
  const address = stringOpt(inv, "node") ?? config.listen;
  let host: string;
  try {
    host = parseListenAddress(address).host;
  } catch (err) {
    throw new CliError("invalid_argument", `${where}: --node: ${(err as Error).message}`);
  }
  if (/:0$/.test(address))
    throw new CliError("usage", `${where}: the config listens on port 0 (any port); give --node host:port`);
  try {
    const key = await readSigningKey(config.signingKeyFile);
    // TLS (mutual with --tls-cert/--tls-key or $LINEAGE_TLS_CERT/$LINEAGE_TLS_KEY) with --tls-ca.
    if (stringOpt(inv, "tls-ca") === undefined && !isLoopbackHost(host))
      throw new CliError("usage", `${where}: ${address} is not loopback: give --tls-ca (TLS is required)`);
    const creds = await clientCredentials(inv);
    const serverName = stringOpt(inv, "server-name");
    const client = connectMemberNode(address, creds, key, config.memberId, {
      ...(serverName !== undefined ? { serverNameOverride: serverName } : {}),
    });
    return { client, config };
  } catch (err) {
    throw cliErrorFromNode(err, where);
  }
}
