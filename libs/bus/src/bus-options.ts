// Argument checks and defaults shared by both Bus implementations, so the in-process bus and NATS
// reject the same inputs with the same `invalid_argument` / `too_large` codes before anything is sent,
// and so "same config twice is a no-op" compares normalized values on both.

import type { BusHeaders, ConsumerSpec, StreamSpec } from "./bus.js";
import { BusError } from "./bus-error.js";
import { checkName, checkPattern, checkSubject, patternsOverlap } from "./subject.js";

/** Default bound on a payload (bytes); NATS's own default `max_payload` is 1 MiB too. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Default wait for a JetStream publish ack. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
/**
 * Default time a JetStream publish keeps retrying while the connection is down or the server is recovering
 * (NATS restart), with bounded backoff and its message id kept so a retry is deduplicated.
 */
export const DEFAULT_PUBLISH_RETRY_MS = 30_000;
/** JetStream's default duplicate window (2 minutes). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
/** JetStream's default ack wait (30 s). */
export const DEFAULT_ACK_WAIT_MS = 30_000;
/** JetStream's default max ack pending. */
export const DEFAULT_MAX_ACK_PENDING = 1000;

const DAY_MS = 86_400_000;
const MAX_HEADERS = 32;
const MAX_HEADER_KEY_LEN = 128;
const MAX_HEADER_VALUE_BYTES = 4096;
const MAX_MSG_ID_LEN = 256;
const MAX_STREAM_SUBJECTS = 64;
const MAX_BACKOFF_STEPS = 32;
/** Header names the bus itself sets; applications may not forge them. */
const RESERVED_HEADER_PREFIXES = ["nats-", "lineage-bus-"];
/** Header carrying a serve handler's error code back to the requester. */
export const ERROR_HEADER = "Lineage-Bus-Error";

// Header keys: printable ASCII without ':' (RFC 7230 token-ish, what the NATS header block accepts).
const HEADER_KEY_RE = /^[!-9;-~]+$/;
// Header values: no CR/LF or other control characters (they would split the header block).
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
const HEADER_VALUE_BAD = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const MSG_ID_RE = /^[!-~]+$/;

function intIn(what: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new BusError("invalid_argument", `${what} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

/** `-1` (unlimited) or an integer in [min, max]. */
function limit(what: string, v: unknown, min: number, max: number): number {
  if (v === -1) return -1;
  return intIn(`${what} (or -1 for unlimited)`, v, min, max);
}

/** Stream settings with every default filled in: the form compared for idempotence. */
export interface NormalStreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly maxAgeMs: number;
  readonly duplicateWindowMs: number;
  readonly maxMsgSize: number;
  readonly maxMsgs: number;
  readonly replicas: number;
  readonly storage: "file" | "memory";
}

/** Checks a {@link StreamSpec} (caller input) and fills defaults. */
export function normalizeStreamSpec(spec: StreamSpec): NormalStreamSpec {
  if (spec === null || typeof spec !== "object")
    throw new BusError("invalid_argument", "stream spec required");
  const name = checkName(spec.name, "stream name");
  if (!Array.isArray(spec.subjects) || spec.subjects.length === 0) {
    throw new BusError("invalid_argument", `stream ${name}: subjects must be a non-empty array`);
  }
  if (spec.subjects.length > MAX_STREAM_SUBJECTS) {
    throw new BusError("invalid_argument", `stream ${name}: at most ${MAX_STREAM_SUBJECTS} subjects`);
  }
  const subjects = spec.subjects.map((s) => checkPattern(s, `stream ${name} subject`));
  for (let i = 0; i < subjects.length; i++) {
    for (let j = i + 1; j < subjects.length; j++) {
      if (patternsOverlap(subjects[i] as string, subjects[j] as string)) {
        throw new BusError(
          "invalid_argument",
          `stream ${name}: subjects ${subjects[i]} and ${subjects[j]} overlap`,
        );
      }
    }
  }
  const maxAgeMs =
    spec.maxAgeMs === undefined || spec.maxAgeMs === 0
      ? 0
      : intIn("maxAgeMs", spec.maxAgeMs, 100, 3650 * DAY_MS);
  const dupDefault =
    maxAgeMs > 0 ? Math.min(DEFAULT_DUPLICATE_WINDOW_MS, maxAgeMs) : DEFAULT_DUPLICATE_WINDOW_MS;
  const duplicateWindowMs =
    spec.duplicateWindowMs === undefined
      ? dupDefault
      : intIn("duplicateWindowMs", spec.duplicateWindowMs, 100, 7 * DAY_MS);
  if (maxAgeMs > 0 && duplicateWindowMs > maxAgeMs) {
    throw new BusError("invalid_argument", `stream ${name}: duplicateWindowMs must not exceed maxAgeMs`);
  }
  const storage = spec.storage ?? "file";
  if (storage !== "file" && storage !== "memory") {
    throw new BusError("invalid_argument", `stream ${name}: storage must be "file" or "memory"`);
  }
  return {
    name,
    subjects,
    maxAgeMs,
    duplicateWindowMs,
    maxMsgSize:
      spec.maxMsgSize === undefined ? -1 : limit("maxMsgSize", spec.maxMsgSize, 1, 64 * 1024 * 1024),
    maxMsgs: spec.maxMsgs === undefined ? -1 : limit("maxMsgs", spec.maxMsgs, 1, 1_000_000_000),
    replicas: spec.replicas === undefined ? 1 : intIn("replicas", spec.replicas, 1, 5),
    storage,
  };
}

/** True when two normalized stream specs are the same configuration (subject order ignored). */
export function sameStreamSpec(a: NormalStreamSpec, b: NormalStreamSpec): boolean {
  const sa = [...a.subjects].sort();
  const sb = [...b.subjects].sort();
  return (
    a.name === b.name &&
    sa.length === sb.length &&
    sa.every((s, i) => s === sb[i]) &&
    a.maxAgeMs === b.maxAgeMs &&
    a.duplicateWindowMs === b.duplicateWindowMs &&
    a.maxMsgSize === b.maxMsgSize &&
    a.maxMsgs === b.maxMsgs &&
    a.replicas === b.replicas &&
    a.storage === b.storage
  );
}

/** Consumer settings with every default filled in: the form compared for idempotence. */
export interface NormalConsumerSpec {
  readonly durable: string;
  /** "" when unfiltered. */
  readonly filterSubject: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly backoffMs: readonly number[];
  readonly maxAckPending: number;
  readonly deliverPolicy: "all" | "new";
}

/** Checks a {@link ConsumerSpec} (caller input) and fills defaults. */
export function normalizeConsumerSpec(spec: ConsumerSpec): NormalConsumerSpec {
  if (spec === null || typeof spec !== "object")
    throw new BusError("invalid_argument", "consumer spec required");
  const durable = checkName(spec.durable, "durable consumer name");
  const filterSubject =
    spec.filterSubject === undefined ? "" : checkPattern(spec.filterSubject, "filterSubject");
  const maxDeliver = spec.maxDeliver === undefined ? -1 : limit("maxDeliver", spec.maxDeliver, 1, 10_000);
  let backoffMs: number[] = [];
  if (spec.backoffMs !== undefined) {
    if (
      !Array.isArray(spec.backoffMs) ||
      spec.backoffMs.length === 0 ||
      spec.backoffMs.length > MAX_BACKOFF_STEPS
    ) {
      throw new BusError("invalid_argument", `backoffMs must be an array of 1-${MAX_BACKOFF_STEPS} delays`);
    }
    backoffMs = spec.backoffMs.map((d, i) => intIn(`backoffMs[${i}]`, d, 10, DAY_MS));
    if (maxDeliver !== -1 && maxDeliver <= backoffMs.length) {
      throw new BusError("invalid_argument", "maxDeliver must be greater than the number of backoffMs steps");
    }
  }
  let ackWaitMs =
    spec.ackWaitMs === undefined ? DEFAULT_ACK_WAIT_MS : intIn("ackWaitMs", spec.ackWaitMs, 10, DAY_MS);
  const firstBackoff = backoffMs[0];
  if (firstBackoff !== undefined) {
    // JetStream replaces ack_wait with backoff[0]; mirror it so the stored config compares equal.
    if (spec.ackWaitMs !== undefined && spec.ackWaitMs !== firstBackoff) {
      throw new BusError("invalid_argument", "ackWaitMs must equal backoffMs[0] when backoffMs is set");
    }
    ackWaitMs = firstBackoff;
  }
  const deliverPolicy = spec.deliverPolicy ?? "all";
  if (deliverPolicy !== "all" && deliverPolicy !== "new") {
    throw new BusError("invalid_argument", `deliverPolicy must be "all" or "new"`);
  }
  return {
    durable,
    filterSubject,
    ackWaitMs,
    maxDeliver,
    backoffMs,
    maxAckPending:
      spec.maxAckPending === undefined
        ? DEFAULT_MAX_ACK_PENDING
        : intIn("maxAckPending", spec.maxAckPending, 1, 100_000),
    deliverPolicy,
  };
}

/** True when two normalized consumer specs are the same configuration. */
export function sameConsumerSpec(a: NormalConsumerSpec, b: NormalConsumerSpec): boolean {
  return (
    a.durable === b.durable &&
    a.filterSubject === b.filterSubject &&
    a.ackWaitMs === b.ackWaitMs &&
    a.maxDeliver === b.maxDeliver &&
    a.backoffMs.length === b.backoffMs.length &&
    a.backoffMs.every((d, i) => d === b.backoffMs[i]) &&
    a.maxAckPending === b.maxAckPending &&
    a.deliverPolicy === b.deliverPolicy
  );
}

/** Checks application headers: count, key syntax, value bytes, reserved prefixes. Returns a copy. */
export function checkHeaders(headers: BusHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  if (headers === null || typeof headers !== "object")
    throw new BusError("invalid_argument", "headers must be an object");
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) throw new BusError("invalid_argument", `at most ${MAX_HEADERS} headers`);
  const seen = new Set<string>();
  for (const [k, v] of entries) {
    if (k.length > MAX_HEADER_KEY_LEN || !HEADER_KEY_RE.test(k)) {
      throw new BusError(
        "invalid_argument",
        `header name "${k.slice(0, 40)}" is not printable ASCII without ':'`,
      );
    }
    const lower = k.toLowerCase();
    if (RESERVED_HEADER_PREFIXES.some((p) => lower.startsWith(p))) {
      throw new BusError("invalid_argument", `header name "${k}" uses a reserved prefix`);
    }
    if (seen.has(lower))
      throw new BusError("invalid_argument", `header "${k}" given twice (names are case-insensitive)`);
    seen.add(lower);
    if (
      typeof v !== "string" ||
      HEADER_VALUE_BAD.test(v) ||
      Buffer.byteLength(v, "utf8") > MAX_HEADER_VALUE_BYTES
    ) {
      throw new BusError(
        "invalid_argument",
        `header "${k}" must be a string of at most ${MAX_HEADER_VALUE_BYTES} bytes without control characters`,
      );
    }
    out[k] = v;
  }
  return out;
}

/** Checks a dedup id: 1-256 printable ASCII characters, no spaces. */
export function checkMsgId(msgId: unknown): string {
  if (typeof msgId !== "string" || msgId.length > MAX_MSG_ID_LEN || !MSG_ID_RE.test(msgId)) {
    throw new BusError(
      "invalid_argument",
      `msgId must be 1-${MAX_MSG_ID_LEN} printable ASCII characters without spaces`,
    );
  }
  return msgId;
}

/** Checks a caller timeout (ms). */
export function checkTimeout(what: string, v: unknown): number {
  return intIn(what, v, 1, 300_000);
}

/** Checks `retryForMs` of a publish: an integer in [0, 300000] (0: one attempt, no retry). */
export function checkRetryFor(v: unknown): number {
  return intIn("retryForMs", v, 0, 300_000);
}

/** Checks a payload is bytes and within `maxBytes`; `too_large` otherwise (before anything is sent). */
export function checkPayload(data: unknown, maxBytes: number, subject: string): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new BusError("invalid_argument", "payload must be a Uint8Array");
  if (data.byteLength > maxBytes) {
    throw new BusError(
      "too_large",
      `payload for ${subject} is ${data.byteLength} bytes, above the ${maxBytes}-byte bound`,
    );
  }
  return data;
}

/** Size of the NATS header block for these headers (what a stream's max message size counts). */
export function headerBlockBytes(
  headers: Readonly<Record<string, string>>,
  msgId: string | undefined,
): number {
  const entries = Object.entries(headers);
  if (msgId !== undefined) entries.push(["Nats-Msg-Id", msgId]);
  if (entries.length === 0) return 0;
  let n = "NATS/1.0\r\n".length + 2;
  for (const [k, v] of entries) n += k.length + 2 + Buffer.byteLength(v, "utf8") + 2;
  return n;
}

/** Checks a delay (ms) for `nak`. */
export function checkDelay(what: string, v: unknown): number {
  return intIn(what, v, 0, DAY_MS);
}

/** Checks a queue group name (same syntax as a subject token, no wildcards). */
export function checkQueue(queue: string | undefined): string | undefined {
  if (queue === undefined) return undefined;
  checkSubject(queue, "queue group");
  return queue;
}
