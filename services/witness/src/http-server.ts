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
import { MAX_ADD_CHECKPOINT_BYTES } from "@lineage/crypto";
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
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (Number.isFinite(declared) && declared > MAX_ADD_CHECKPOINT_BYTES) {
      reject(new WitnessError("too_large", `request body exceeds ${MAX_ADD_CHECKPOINT_BYTES} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > MAX_ADD_CHECKPOINT_BYTES) {
        reject(new WitnessError("too_large", `request body exceeds ${MAX_ADD_CHECKPOINT_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
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
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Starts the witness's HTTP server. */
export async function startWitnessServer(options: WitnessServerOptions): Promise<WitnessServer> {
  const { witness } = options;
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
  const server: Server =
    options.tls === undefined
      ? createServer(handler)
      : createTlsServer({ cert: options.tls.certChainPem, key: options.tls.privateKeyPem }, handler);
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
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
