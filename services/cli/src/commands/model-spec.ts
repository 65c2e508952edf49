/**
 * Model specs on the command line, shared by `lineage compare` and `lineage fingerprint`:
 *   replay:FILE           recorded outputs, JSONL (gzip if the name ends in .gz)
 *   http(s)://HOST[:PORT][/v1]?model=NAME   an OpenAI-compatible endpoint
 * The API key for endpoints comes from the environment variable named by --api-key-env (never a flag,
 * so it does not land in shell history or process lists).
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { FingerprintError, HttpAdapter, type ModelAdapter, ReplayAdapter } from "@lineage/fingerprint";
import { CliError } from "../cli-error.js";

/** Largest replay file read (compressed or not): 256 MiB. */
const MAX_REPLAY_FILE = 256 << 20;

/** Reads a (possibly gzipped) text file with a size bound; errors name the file. */
export async function readTextFile(path: string, what: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (cause) {
    throw new CliError(
      "unavailable",
      `cannot read ${what} ${path}: ${(cause as NodeJS.ErrnoException).code ?? "error"}`,
      {
        cause,
      },
    );
  }
  if (buf.length > MAX_REPLAY_FILE)
    throw new CliError("invalid_argument", `${what} ${path} is larger than 256 MiB`);
  if (path.endsWith(".gz")) {
    try {
      buf = gunzipSync(buf, { maxOutputLength: MAX_REPLAY_FILE });
    } catch (cause) {
      throw new CliError("invalid_argument", `${what} ${path} is not valid gzip (or expands past 256 MiB)`, {
        cause,
      });
    }
  }
  return buf.toString("utf8");
}

/** Options for endpoint adapters. */
export interface EndpointOptions {
  readonly apiKey?: string;
  readonly timeoutMs?: number;
  readonly concurrency?: number;
  readonly ratePerSecond?: number;
}

/** Turns a spec into an adapter; `flag` names the option in errors. */
export async function openModel(
  spec: string,
  flag: string,
  cwd: string,
  opts: EndpointOptions,
): Promise<ModelAdapter> {
  if (spec.startsWith("replay:")) {
    const path = resolve(cwd, spec.slice("replay:".length));
    const text = await readTextFile(path, `--${flag} replay file`);
    try {
      return ReplayAdapter.fromJsonl(text, spec.slice("replay:".length));
    } catch (e) {
      if (e instanceof FingerprintError)
        throw new CliError("invalid_argument", `--${flag} ${path}: ${e.message}`, { cause: e });
      throw e;
    }
  }
  if (/^https?:\/\//.test(spec)) {
    let url: URL;
    try {
      url = new URL(spec);
    } catch (cause) {
      throw new CliError("invalid_argument", `--${flag}: not a valid URL`, { cause });
    }
    const model = url.searchParams.get("model");
    if (!model) throw new CliError("invalid_argument", `--${flag}: endpoint URL needs ?model=NAME`);
    url.search = "";
    try {
      return new HttpAdapter({ baseUrl: url.href, model, ...opts });
    } catch (e) {
      if (e instanceof FingerprintError)
        throw new CliError("invalid_argument", `--${flag}: ${e.message}`, { cause: e });
      throw e;
    }
  }
  throw new CliError("invalid_argument", `--${flag}: expected replay:FILE or http(s)://HOST/v1?model=NAME`);
}

/** Maps an engine error during a run to the CLI's exit-code classes. */
export function cliErrorFrom(e: unknown, context: string): unknown {
  if (!(e instanceof FingerprintError)) return e;
  const unavailable = e.code.startsWith("HTTP_") || e.code === "ABORTED";
  return new CliError(
    unavailable ? "unavailable" : "invalid_argument",
    `${context}: ${e.message} (${e.code})`,
    {
      cause: e,
    },
  );
}
