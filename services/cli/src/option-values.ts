/**
 * Typed readers for parsed option values. Each names the flag and what is wrong when a value is bad,
 * so every command validates its arguments the same way at the point they arrive.
 */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { CliError } from "./cli-error.js";
import type { Invocation } from "./command.js";

function where(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

/** A string option, or undefined when absent (required options are enforced by the parser). */
export function stringOpt(inv: Invocation, name: string): string | undefined {
  const v = inv.options[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new CliError("usage", `${where(inv)}: --${name} takes one value`);
  return v;
}

/** A string option that must be present. */
export function requiredStringOpt(inv: Invocation, name: string): string {
  const v = stringOpt(inv, name);
  if (v === undefined) throw new CliError("usage", `${where(inv)}: missing required option --${name}`);
  return v;
}

/** A repeatable string option (empty array when absent). */
export function stringListOpt(inv: Invocation, name: string): string[] {
  const v = inv.options[name];
  if (v === undefined) return [];
  if (Array.isArray(v)) return v.map(String);
  return [String(v)];
}

/** An integer option within [min, max]. */
export function intOpt(
  inv: Invocation,
  name: string,
  range: { min: number; max: number },
  fallback?: number,
): number | undefined {
  const raw = stringOpt(inv, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw.trim())) {
    throw new CliError("invalid_argument", `${where(inv)}: --${name} must be an integer, got '${raw}'`);
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new CliError(
      "invalid_argument",
      `${where(inv)}: --${name} must be between ${range.min} and ${range.max}, got ${raw}`,
    );
  }
  return n;
}

/** A finite number option within [min, max]. */
export function numberOpt(
  inv: Invocation,
  name: string,
  range: { min: number; max: number },
  fallback?: number,
): number | undefined {
  const raw = stringOpt(inv, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < range.min || n > range.max) {
    throw new CliError(
      "invalid_argument",
      `${where(inv)}: --${name} must be a number between ${range.min} and ${range.max}, got '${raw}'`,
    );
  }
  return n;
}

/** One of a fixed set of words. */
export function choiceOpt<T extends string>(
  inv: Invocation,
  name: string,
  choices: readonly T[],
  fallback?: T,
): T | undefined {
  const raw = stringOpt(inv, name);
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new CliError(
      "invalid_argument",
      `${where(inv)}: --${name} must be one of ${choices.join(", ")}, got '${raw}'`,
    );
  }
  return raw as T;
}

/**
 * An output file option, resolved against the working directory and checked writable before the command
 * does any work: probing a model for minutes and then failing to save is the mistake this prevents. The
 * directory must exist and be writable; an existing path must be a writable regular file (it will be
 * replaced). Returns undefined when the option is absent.
 */
export async function writableFileOpt(inv: Invocation, name: string): Promise<string | undefined> {
  const raw = stringOpt(inv, name);
  if (raw === undefined) return undefined;
  const path = resolve(inv.io.cwd, raw);
  const fail = (what: string): never => {
    throw new CliError("invalid_argument", `${where(inv)}: --${name} ${path}: ${what}`);
  };
  const dir = dirname(path);
  const dirStat = await stat(dir).catch(() => null);
  if (!dirStat) fail(`directory ${dir} does not exist`);
  else if (!dirStat.isDirectory()) fail(`${dir} is not a directory`);
  if (
    !(await access(dir, constants.W_OK).then(
      () => true,
      () => false,
    ))
  )
    fail(`directory ${dir} is not writable`);
  const fileStat = await stat(path).catch(() => null);
  if (fileStat?.isDirectory()) fail("is a directory, not a file");
  if (fileStat && !fileStat.isFile()) fail("exists and is not a regular file");
  if (
    fileStat &&
    !(await access(path, constants.W_OK).then(
      () => true,
      () => false,
    ))
  )
    fail("exists and is not writable");
  return path;
}

/** Writes a result: JSON on stdout with --json, otherwise the human text. */
export function emit(inv: Invocation, json: unknown, human: string): void {
  if (inv.json) {
    inv.io.stdout.write(
      `${JSON.stringify(json, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`,
    );
  } else inv.io.stdout.write(human.endsWith("\n") ? human : `${human}\n`);
}
