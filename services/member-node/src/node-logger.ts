/**
 * The node's structured logger. Every line is one JSON object: an event name and fields. Callers pass
 * only safe fields (ids, counts, digests, error codes) — never prompts, responses, canaries or keys; the
 * privacy test (test/protect-privacy.test.ts) captures every line the node writes during protect and
 * searches it for them.
 */

/** Values a log field may hold. */
export type LogValue = string | number | boolean | null | undefined | readonly string[];

/** Fields of one log line. */
export type LogFields = Readonly<Record<string, LogValue>>;

/** Where the node's log lines go. */
export interface NodeLogger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** A logger writing JSON lines to `write` (default: stderr), each with the time from `now`. */
export function jsonLineLogger(
  write: (line: string) => void = (line) => process.stderr.write(line),
  now: () => number = Date.now,
): NodeLogger {
  const emit = (level: string, event: string, fields: LogFields = {}) =>
    write(`${JSON.stringify({ time: new Date(now()).toISOString(), level, event, ...fields })}\n`);
  return {
    info: (e, f) => emit("info", e, f),
    warn: (e, f) => emit("warn", e, f),
    error: (e, f) => emit("error", e, f),
  };
}

/** A logger that drops everything. */
export const silentNodeLogger: NodeLogger = { info() {}, warn() {}, error() {} };

/** The name and domain code of an error, safe to log (its message may hold private text). */
export function errorFields(err: unknown): LogFields {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    error: err instanceof Error ? err.name : typeof err,
    code: typeof code === "string" ? code : undefined,
  };
}
