/**
 * The witness's HTTP API (c2sp.org/tlog-witness): `POST /add-checkpoint` with a text body (old size,
 * consistency proof, signed checkpoint) answers 200 with the cosignature line(s), or refuses with the
 * status the spec gives (witnessHttpStatus); a 409 carries the size the witness last cosigned in a
 * `text/x.tlog.size` body, so the log can retry with the right proof. Bodies are bounded before reading.
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { MAX_WITNESS_REQUEST_BYTES } from "@lineage/crypto";
import type { Witness } from "./witness.js";
import { WitnessError, witnessHttpStatus } from "./witness-error.js";

/** A running witness server. */
export interface WitnessServer extends AsyncDisposable {
  /** `http://host:port` (or https). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Options of {@link startWitnessServer}. */
export interface WitnessServerOptions {
  readonly witness: Witness;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** Serve HTTPS with this certificate chain and key (PEM); plaintext HTTP without. */
  readonly tls?: { readonly certChainPem: string; readonly privateKeyPem: string };
  /** Called with every refusal or failure (for the operator's log); never sent whole to the client. */
  readonly onError?: (err: WitnessError) => void;
  /** Whole request (headers and body) must arrive within this (ms, default 10 000): slow clients are cut off. */
  readonly requestTimeoutMs?: number;
  /** Headers must arrive within this (ms, default 5 000, at most requestTimeoutMs). */
  readonly headersTimeoutMs?: number;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (Number.isFinite(declared) && declared > MAX_WITNESS_REQUEST_BYTES) {
      reject(new WitnessError("too_large", `request body exceeds ${MAX_WITNESS_REQUEST_BYTES} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > MAX_WITNESS_REQUEST_BYTES) {
        // Stop collecting (the rest is drained and dropped) and answer at once; the connection is closed
        // after the answer (see send), so the client gets its 400 instead of a reset.
        req.off("data", onData);
        req.resume();
        chunks.length = 0;
        reject(new WitnessError("too_large", `request body exceeds ${MAX_WITNESS_REQUEST_BYTES} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on("data", onData);
    req.on("end", () => {
      const buf = Buffer.concat(chunks);
      const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
      try {
        resolve(text.decode(buf));
      } catch (cause) {
        reject(new WitnessError("malformed", "request body is not UTF-8", { cause }));
      }
    });
    req.on("error", (cause) =>
      reject(new WitnessError("malformed", "request body could not be read", { cause })),
    );
  });
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent || res.destroyed) return;
  // A refused request may not have been read to its end: close the connection after answering, so its
  // unread rest is never parsed as a next request.
  const close = status >= 400 && !res.req.complete;
  res.writeHead(status, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(body);
}

/** Starts the witness's HTTP server. */
export async function startWitnessServer(options: WitnessServerOptions): Promise<WitnessServer> {
  const { witness } = options;
  // A damaged or torn state file stops the start with its name, instead of 500s on that log's requests.
  await witness.checkState();
  const handler: RequestListener = (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/add-checkpoint") {
      send(res, 404, "text/plain; charset=utf-8", "not found\n");
      return;
    }
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
      return;
    }
    readBody(req)
      .then((body) => witness.addCheckpoint(body))
      .then(
        (cosigned) => send(res, 200, "text/plain; charset=utf-8", cosigned.signatureLines),
        (err: unknown) => {
          const we =
            err instanceof WitnessError
              ? err
              : new WitnessError("internal", "unexpected failure", { cause: err });
          options.onError?.(we);
          const status = witnessHttpStatus(we.code);
          if (status === 409 && we.latestSize !== undefined) {
            send(res, 409, "text/x.tlog.size", `${we.latestSize}\n`);
          } else {
            const msg = we.code === "internal" ? "internal error" : we.message;
            send(res, status, "text/plain; charset=utf-8", `${we.code}: ${msg}\n`);
          }
        },
      );
  };
  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? 5_000, requestTimeout);
  if (!(Number.isSafeInteger(requestTimeout) && requestTimeout > 0 && headersTimeout > 0))
    throw new WitnessError(
      "invalid_argument",
      "requestTimeoutMs and headersTimeoutMs must be positive integers",
    );
  // Node enforces both timeouts only when it checks its connections (every 30 s by default), which would let
  // a client trickling bytes hold a connection three times longer than the timeout says: check often.
  const timing = {
    requestTimeout,
    headersTimeout,
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 2))),
  };
  const server: Server =
    options.tls === undefined
      ? createServer(timing, handler)
      : createTlsServer(
          { ...timing, cert: options.tls.certChainPem, key: options.tls.privateKeyPem },
          handler,
        );
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `${options.tls === undefined ? "http" : "https"}://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close,
    [Symbol.asyncDispose]: close,
  };
}
