// NATS subject syntax (https://docs.nats.io/nats-concepts/subjects): dot-separated non-empty tokens,
// `*` matches one token, `>` matches one or more trailing tokens. Checked here before anything is sent,
// so both bus implementations reject the same malformed names with the same error.

import { BusError } from "./bus-error.js";

/** Longest subject or pattern we accept, in UTF-8 bytes. NATS has no hard limit; we bound it anyway. */
export const MAX_SUBJECT_BYTES = 512;
/** Most tokens in a subject or pattern. */
export const MAX_SUBJECT_TOKENS = 32;

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
// Whitespace and control characters break the NATS text protocol; reject them in every token.
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
const BAD_TOKEN_CHARS = /[\s\u0000-\u001f\u007f]/;

function tokensOf(what: string, subject: unknown): string[] {
  if (typeof subject !== "string" || subject.length === 0) {
    throw new BusError("invalid_argument", `${what} must be a non-empty string`);
  }
  if (Buffer.byteLength(subject, "utf8") > MAX_SUBJECT_BYTES) {
    throw new BusError("invalid_argument", `${what} is longer than ${MAX_SUBJECT_BYTES} bytes`);
  }
  const tokens = subject.split(".");
  if (tokens.length > MAX_SUBJECT_TOKENS) {
    throw new BusError("invalid_argument", `${what} has more than ${MAX_SUBJECT_TOKENS} tokens`);
  }
  for (const t of tokens) {
    if (t.length === 0) throw new BusError("invalid_argument", `${what} "${subject}" has an empty token`);
    if (BAD_TOKEN_CHARS.test(t)) {
      throw new BusError(
        "invalid_argument",
        `${what} "${subject}" contains whitespace or control characters`,
      );
    }
  }
  return tokens;
}

/** Checks a concrete subject to publish or request on: no wildcards. Returns it unchanged. */
export function checkSubject(subject: unknown, what = "subject"): string {
  const tokens = tokensOf(what, subject);
  for (const t of tokens) {
    if (t.includes("*") || t.includes(">")) {
      throw new BusError("invalid_argument", `${what} "${String(subject)}" must not contain wildcards`);
    }
  }
  return subject as string;
}

/** Checks a subscription/stream/filter pattern: `*` and `>` only as whole tokens, `>` only last. */
export function checkPattern(pattern: unknown, what = "subject pattern"): string {
  const tokens = tokensOf(what, pattern);
  tokens.forEach((t, i) => {
    if ((t.includes("*") && t !== "*") || (t.includes(">") && t !== ">")) {
      throw new BusError("invalid_argument", `${what} "${String(pattern)}": wildcards must be whole tokens`);
    }
    if (t === ">" && i !== tokens.length - 1) {
      throw new BusError("invalid_argument", `${what} "${String(pattern)}": ">" must be the last token`);
    }
  });
  return pattern as string;
}

/** Checks a stream or durable consumer name: 1-64 of `[A-Za-z0-9_-]` (a safe subset of NATS's rules). */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new BusError("invalid_argument", `${what} must be 1-64 characters of [A-Za-z0-9_-]`);
  }
  return name;
}

/** True when the concrete `subject` matches `pattern`. Both must already be checked. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    const pt = p[i];
    if (pt === ">") return s.length > i;
    const st = s[i];
    if (st === undefined) return false;
    if (pt !== "*" && pt !== st) return false;
  }
  return p.length === s.length;
}

/** True when some concrete subject matches both patterns (how NATS decides stream subjects overlap). */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const xt = x[i];
    const yt = y[i];
    if (xt === ">" || yt === ">") return true;
    if (xt !== "*" && yt !== "*" && xt !== yt) return false;
  }
  return x.length === y.length;
}
