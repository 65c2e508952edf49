/**
 * Model specs on the command line, shared by `lineage compare` and `lineage fingerprint`:
 *   replay:FILE           recorded outputs, JSONL (gzip if the name ends in .gz)
 *   http(s)://HOST[:PORT][/v1]?model=NAME   an OpenAI-compatible endpoint
 * The API key for endpoints comes from the environment variable named by --api-key-env (never a flag,
 * so it does not land in shell history or process lists).
 */
import { readFile, realpath } from "node:fs/promises";
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
    let adapter: ReplayAdapter;
    try {
      adapter = ReplayAdapter.fromJsonl(text, spec.slice("replay:".length));
    } catch (e) {
      if (e instanceof FingerprintError)
        throw new CliError("invalid_argument", `--${flag} ${path}: ${e.message}`, { cause: e });
      throw e;
    }
    // An empty file (or one of blank lines only) would otherwise run: every probe "missing", every
    // signal unavailable, and an INCONCLUSIVE that looks like a result. Refuse it here, by name.
    if (adapter.size === 0) {
      throw new CliError(
        "invalid_argument",
        `--${flag} replay file ${path} is empty: expected one JSON object a line ({"id", "prompt", "output"}; see examples/replay/)`,
      );
    }
    return adapter;
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

/**
 * What a model spec points at, for telling two specs apart: `replay:` and the file's real path (symlinks
 * and `./` resolved; the resolved path when the file does not exist, so opening it reports that), or
 * `http:` and the endpoint as the HTTP adapter will call it (lower-case host, no default port, no
 * trailing `/` or `/v1`) with its model. Specs that are neither are returned as given (openModel refuses them).
 */
export async function modelIdentity(spec: string, cwd: string): Promise<string> {
  if (spec.startsWith("replay:")) {
    const path = resolve(cwd, spec.slice("replay:".length));
    try {
      return `replay:${await realpath(path)}`;
    } catch {
      return `replay:${path}`;
    }
  }
  if (/^https?:\/\//.test(spec)) {
    try {
      const url = new URL(spec);
      const model = url.searchParams.get("model") ?? "";
      url.search = "";
      url.hash = "";
      const base = url.href.replace(/\/+$/, "").replace(/\/v1$/, "");
      return `http:${base} model=${model}`;
    } catch {
      return spec;
    }
  }
  return spec;
}

/** One model given on the command line: the flag it came with and its spec. */
export interface ModelArgument {
  readonly flag: string;
  readonly spec: string;
}

/**
 * Refuses one model given twice (suspect and reference, suspect or reference and a panel member, or two
 * panel members): a suspect compared with itself "derives" from itself, and a duplicated panel member
 * shrinks the unrelated population while seeming to grow it. Compared by {@link modelIdentity}; the error
 * names both flags and the file or endpoint.
 */
export async function checkDistinctModels(models: readonly ModelArgument[], cwd: string): Promise<void> {
  const seen = new Map<string, ModelArgument>();
  for (const m of models) {
    const id = await modelIdentity(m.spec, cwd);
    const prev = seen.get(id);
    if (prev) {
      const what = m.spec.startsWith("replay:")
        ? `replay file ${id.slice("replay:".length)}`
        : `endpoint ${id.slice("http:".length)}`;
      const flags = prev.flag === m.flag ? `twice as --${m.flag}` : `as both --${prev.flag} and --${m.flag}`;
      throw new CliError(
        "invalid_argument",
        `the same model is given ${flags} (${what}; ${prev.spec} and ${m.spec}): each model may appear once`,
      );
    }
    seen.set(id, m);
  }
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
