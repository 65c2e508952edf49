/**
 * Which transport a server may use on which address (issue 8, "Transport"). Plaintext gRPC is allowed
 * only on a loopback address: anywhere else member traffic, bundles and checkpoints would cross a network
 * unauthenticated, and a man in the middle could serve an auditor a split view. So a server bound to a
 * non-loopback address (including the wildcards 0.0.0.0 and ::) must use TLS; member-facing servers should
 * also require client certificates (mutual TLS), which {@link checkListenSecurity} can demand.
 */
import { isIP } from "node:net";
import { RpcError } from "./rpc-error.js";

/** How a server protects its connections. */
export type TransportSecurity = "plaintext" | "tls" | "mtls";

/** A `host:port` listen address split into its parts. */
export interface ListenAddress {
  /** Host without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
}

/**
 * Splits `host:port` (IPv6 hosts in brackets, `[::1]:7443`). The address comes from a flag or a config
 * file: checked here, with an error naming what is wrong.
 * @throws RpcError `invalid_argument`
 */
export function parseListenAddress(listen: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || !(port <= 65535)) {
    throw new RpcError("invalid_argument", `listen address must be host:port, got '${listen}'`);
  }
  const host = m[1] ?? m[2] ?? "";
  if (m[1] !== undefined && isIP(host) !== 6) {
    throw new RpcError("invalid_argument", `'${host}' in brackets is not an IPv6 address`);
  }
  return { host, port };
}

/**
 * True when `host` can only be reached from this machine: `localhost` (RFC 6761 reserves it for
 * loopback), 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. Wildcards (0.0.0.0, ::) and every other name or
 * address are not loopback: a name might resolve anywhere, so names other than localhost never count.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) {
    if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
    const mapped = /^(?:(?:0{1,4}:){5}|::)ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped?.[1]?.startsWith("127.") === true;
  }
  return false;
}

/** What {@link checkListenSecurity} requires. */
export interface ListenSecurityOptions {
  /** Require mutual TLS (client certificates) off loopback, e.g. for the member-facing port. */
  readonly requireClientCerts?: boolean;
}

/**
 * Refuses a transport that is too weak for the address: plaintext off loopback always; server-only TLS
 * off loopback when `requireClientCerts` is set. Loopback accepts anything (tests, the embedded demo, a
 * local TLS terminator in front).
 * @throws RpcError `invalid_argument` (bad address) or `failed_precondition` (transport too weak), with a
 *   message saying what to pass instead.
 */
export function checkListenSecurity(
  listen: string,
  security: TransportSecurity,
  options: ListenSecurityOptions = {},
): ListenAddress {
  const addr = parseListenAddress(listen);
  if (isLoopbackHost(addr.host)) return addr;
  if (security === "plaintext") {
    throw new RpcError(
      "failed_precondition",
      `refusing plaintext on non-loopback address ${listen}: TLS is required off loopback ` +
        "(give a certificate and key, and a client CA for mutual TLS), or bind 127.0.0.1",
    );
  }
  if (security === "tls" && options.requireClientCerts === true) {
    throw new RpcError(
      "failed_precondition",
      `refusing TLS without client certificates on non-loopback address ${listen}: mutual TLS is required`,
    );
  }
  return addr;
}
