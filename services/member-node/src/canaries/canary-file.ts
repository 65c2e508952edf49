/**
 * The canary-pair import file (README "Canary pairs"; sample examples/canary-pairs.jsonl): JSON Lines, one
 * pair per line, UNLABELLED — which item of each pair is exposed is drawn later from the log
 * (docs/specs/canary-commitment.md), so the file cannot say it:
 *
 *   {"id": "pair-01", "a": {"prompt": "...", "answer": "..."}, "b": {"prompt": "...", "answer": "..."}}
 *
 * Blank lines are skipped. The file is untrusted input: its size, line count and every field are bounded,
 * and errors name the file, the line and the field — never the canary text (it is private).
 */
import { readFile, stat } from "node:fs/promises";
import {
  type CanaryPair,
  MAX_CANARY_EXPECTED_CHARS,
  MAX_CANARY_PAIR_ID_CHARS,
  MAX_CANARY_PROMPT_CHARS,
} from "@lineage/crypto";
import { MemberNodeError } from "../member-node-error.js";

/** Most pairs one import accepts. */
export const MAX_IMPORT_PAIRS = 100_000;
/** Largest import file (bytes). */
export const MAX_IMPORT_FILE_BYTES = 256 * 1024 * 1024;
/** Fewest pairs an import accepts: a pair test on one pair can never accuse (policy min_canary_pairs is 8). */
export const MIN_IMPORT_PAIRS = 2;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function bad(where: string, what: string): never {
  throw new MemberNodeError("invalid_argument", `${where}: ${what}`);
}

function text(where: string, o: Record<string, unknown>, key: string, max: number): string {
  const v = o[key];
  if (typeof v !== "string") bad(where, `"${key}" must be a string`);
  if (v.length === 0) bad(where, `"${key}" is empty`);
  if (v.length > max) bad(where, `"${key}" exceeds ${max} characters`);
  if (LONE_SURROGATE.test(v)) bad(where, `"${key}" is not well-formed Unicode`);
  return v;
}

function object(where: string, v: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(where, "must be a JSON object");
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (keys.includes(k)) continue;
    // A key is quoted only when it looks like a field name: a pair written the wrong way round has its
    // canary text as a key, and that must not reach the error.
    if (/^[A-Za-z_][A-Za-z0-9_]{0,31}$/.test(k)) bad(where, `unknown field "${k}"`);
    const known = keys.map((x) => `"${x}"`);
    bad(where, `an unknown field (not ${known.slice(0, -1).join(", ")} or ${known.at(-1)})`);
  }
  for (const k of keys) if (!(k in o)) bad(where, `missing field "${k}"`);
  return o;
}

/**
 * Parses the JSONL text of `name` (used in messages). Refuses an empty or one-pair file, duplicate pair
 * ids, a pair whose two prompts are equal, and anything outside the bounds.
 */
export function parseCanaryPairsJsonl(name: string, content: string): CanaryPair[] {
  const lines = content.split("\n");
  const pairs: CanaryPair[] = [];
  const ids = new Set<string>();
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const where = `${name} line ${i + 1}`;
    if (pairs.length >= MAX_IMPORT_PAIRS) bad(name, `more than ${MAX_IMPORT_PAIRS} pairs`);
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      bad(where, "is not valid JSON");
    }
    const o = object(where, doc, ["id", "a", "b"]);
    const id = text(where, o, "id", MAX_CANARY_PAIR_ID_CHARS);
    if (ids.has(id)) bad(where, "repeats an earlier pair id");
    ids.add(id);
    const item = (k: "a" | "b") => {
      const it = object(`${where} "${k}"`, o[k], ["prompt", "answer"]);
      return {
        prompt: text(`${where} "${k}"`, it, "prompt", MAX_CANARY_PROMPT_CHARS),
        expected: text(`${where} "${k}"`, it, "answer", MAX_CANARY_EXPECTED_CHARS),
      };
    };
    const a = item("a");
    const b = item("b");
    if (a.prompt === b.prompt) bad(where, "the two prompts of a pair must differ");
    pairs.push({ pairId: id, a, b });
  }
  if (pairs.length === 0) bad(name, "has no canary pairs (the file is empty)");
  if (pairs.length < MIN_IMPORT_PAIRS)
    bad(name, `has only ${pairs.length} canary pair; at least ${MIN_IMPORT_PAIRS} are needed`);
  return pairs;
}

/** Reads and parses a canary-pair file on the node's filesystem (size checked before reading). */
export async function readCanaryPairsFile(path: string): Promise<CanaryPair[]> {
  if (typeof path !== "string" || path.length === 0 || path.length > 4096)
    bad("source_path", "must be 1..4096 characters");
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) bad(path, "is not a regular file");
    size = s.size;
  } catch (cause) {
    if (cause instanceof MemberNodeError) throw cause;
    throw new MemberNodeError("not_found", `${path}: cannot be read`, { cause });
  }
  if (size > MAX_IMPORT_FILE_BYTES) bad(path, `is larger than ${MAX_IMPORT_FILE_BYTES} bytes`);
  const content = await readFile(path, "utf8");
  return parseCanaryPairsJsonl(path, content);
}
