/**
 * A small strict JSON parser (RFC 8259) for attacker-supplied documents. `JSON.parse` silently keeps
 * the last of duplicate keys, so two parsers could disagree on what a signed envelope says; this one
 * rejects duplicates, bounds nesting depth and input size, and builds prototype-free objects.
 */
import { CryptoError } from "./crypto-error.js";

/** A parsed JSON value; objects are prototype-free records. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Limits for {@link parseStrictJson}. */
export interface StrictJsonLimits {
  /** Maximum input length in UTF-16 code units. */
  readonly maxLength: number;
  /** Maximum nesting depth of arrays and objects. */
  readonly maxDepth: number;
}

const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};
// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point.
const SLOW_STRING_RE = /[\u0000-\u001f\\]/;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Parses `text` strictly; throws `malformed` (or `too_large`) naming `what`. */
export function parseStrictJson(text: string, what: string, limits: StrictJsonLimits): JsonValue {
  if (text.length > limits.maxLength) {
    throw new CryptoError("too_large", `${what} is ${text.length} characters, limit ${limits.maxLength}`);
  }
  let pos = 0;
  const fail = (why: string): never => {
    throw new CryptoError("malformed", `${what}: ${why} at offset ${pos}`);
  };
  const ws = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      pos++;
    }
  };
  const str = (): string => {
    pos++; // opening quote
    // Fast path: no escapes or control characters before the closing quote (base64, key ids).
    const close = text.indexOf('"', pos);
    if (close >= 0) {
      const simple = text.slice(pos, close);
      if (!SLOW_STRING_RE.test(simple)) {
        pos = close + 1;
        return simple;
      }
    }
    let out = "";
    let start = pos;
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(start, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c === 0x5c) {
        out += text.slice(start, pos);
        const e = text[pos + 1];
        if (e === "u") {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
          out += String.fromCharCode(Number.parseInt(hex, 16));
          pos += 6;
        } else {
          const r = e === undefined ? undefined : ESCAPES[e];
          if (r === undefined) fail("bad escape");
          out += r;
          pos += 2;
        }
        start = pos;
        continue;
      }
      pos++;
    }
  };
  const value = (depth: number): JsonValue => {
    if (depth > limits.maxDepth)
      throw new CryptoError("too_large", `${what}: nesting deeper than ${limits.maxDepth}`);
    ws();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const obj: { [key: string]: JsonValue } = Object.create(null);
      ws();
      if (text[pos] === "}") {
        pos++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') fail("expected object key");
        const key = str();
        if (Object.hasOwn(obj, key)) fail(`duplicate key ${JSON.stringify(key.slice(0, 40))}`);
        ws();
        if (text[pos] !== ":") fail("expected ':'");
        pos++;
        obj[key] = value(depth + 1);
        ws();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "}") {
          pos++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      pos++;
      const arr: JsonValue[] = [];
      ws();
      if (text[pos] === "]") {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "]") {
          pos++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (text.startsWith("true", pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith("false", pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith("null", pos)) {
      pos += 4;
      return null;
    }
    NUMBER_RE.lastIndex = pos;
    const m = NUMBER_RE.exec(text);
    if (m === null || m[0].length === 0) return fail("unexpected token");
    pos += m[0].length;
    return Number(m[0]);
  };
  const result = value(1);
  ws();
  if (pos !== text.length) fail("trailing data");
  return result;
}
