/**
 * Injectable logger for server-side RPC failures. Error causes go here and nowhere else: they are
 * never sent to the peer (CONVENTIONS.md practice 8).
 */

/** One logged RPC failure. */
export interface RpcLogRecord {
  /** Full method path, e.g. "/lineage.v1.Hub/SubmitSketch". */
  readonly method: string;
  /** Domain code sent to the peer. */
  readonly code: string;
  /** Correlation id sent to the peer (unknown errors only). */
  readonly correlationId?: string;
  /** The error the handler threw, with its cause chain. */
  readonly error: unknown;
}

/** Receives RPC failures. */
export interface RpcLogger {
  /** A handler threw an error that is not a known domain error (sent as "internal error"). */
  error(record: RpcLogRecord): void;
  /** A handler threw a known domain error (sent with its safe message). */
  warn(record: RpcLogRecord): void;
}

/**
 * Default logger: one line per failure on stderr with method, code, correlation id and the error's
 * name only. It prints no message or stack, because a cause may hold private text; inject a logger
 * to record more where that is safe.
 */
export const stderrRpcLogger: RpcLogger = {
  error(r) {
    process.stderr.write(`${JSON.stringify(summary("error", r))}\n`);
  },
  warn(r) {
    process.stderr.write(`${JSON.stringify(summary("warn", r))}\n`);
  },
};

function summary(level: string, r: RpcLogRecord): Record<string, unknown> {
  const name = r.error instanceof Error ? r.error.name : typeof r.error;
  return { level, event: "rpc.error", method: r.method, code: r.code, correlationId: r.correlationId, name };
}

/** A logger that drops everything (tests that assert on errors themselves). */
export const silentRpcLogger: RpcLogger = { error() {}, warn() {} };
