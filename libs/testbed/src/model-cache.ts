/**
 * On-disk cache of trained models and population manifests, under `.cache/testbed/` at the repository
 * root by default (gitignored). A model file is named by the SHA-256 of its recipe, so a change to any
 * input (code version, corpus version, split seed, parameters, parent models) makes a new key. Writes go
 * to a temporary file renamed into place, so a crash never leaves a half-written file under a valid name;
 * a file that fails validation is treated as absent (and overwritten).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { KneserNeyModel } from "./kneser-ney.js";
import { decodeModel, encodeModel } from "./model-codec.js";
import { TestbedError } from "./testbed-error.js";

/** SHA-256 hex of a canonical JSON value (object keys sorted). */
export function recipeKey(recipe: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return createHash("sha256")
    .update(JSON.stringify(canon(recipe)))
    .digest("hex");
}

/** The repository root (the nearest ancestor with a package.json declaring workspaces). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { workspaces?: unknown }).workspaces) return dir;
      } catch {
        // not a JSON package file; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** Default cache directory: `<repo>/.cache/testbed`. */
export function defaultCacheDir(): string {
  return join(repoRoot(), ".cache", "testbed");
}

/** A cache directory of models and manifests; `dir === undefined` disables caching. */
export class ModelCache {
  readonly dir: string | undefined;

  constructor(dir: string | undefined) {
    this.dir = dir === undefined ? undefined : resolve(dir);
  }

  #path(kind: "models" | "manifests", key: string, ext: string): string {
    if (!/^[0-9a-f]{64}$/.test(key))
      throw new TestbedError("invalid_argument", "cache key must be a sha256 hex");
    return join(this.dir as string, kind, `${key}.${ext}`);
  }

  #write(path: string, data: Uint8Array | string): void {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  }

  /** Whether a model file exists for the key (not validated). */
  hasModel(key: string): boolean {
    return this.dir !== undefined && existsSync(this.#path("models", key, "ltkn"));
  }

  /** Loads a cached model, or undefined when absent or malformed. */
  loadModel(key: string): KneserNeyModel | undefined {
    if (this.dir === undefined) return undefined;
    const path = this.#path("models", key, "ltkn");
    if (!existsSync(path)) return undefined;
    try {
      return decodeModel(readFileSync(path)).model;
    } catch (err) {
      if (err instanceof TestbedError && err.code === "cache_corrupt") return undefined;
      throw err;
    }
  }

  /** Stores a model under its recipe key. */
  saveModel(key: string, model: KneserNeyModel): void {
    if (this.dir === undefined) return;
    this.#write(this.#path("models", key, "ltkn"), encodeModel(model, { key }));
  }

  /** Loads a JSON manifest, or undefined when absent or not JSON. */
  loadManifest(key: string): unknown {
    if (this.dir === undefined) return undefined;
    const path = this.#path("manifests", key, "json");
    if (!existsSync(path)) return undefined;
    try {
      return JSON.parse(readFileSync(path, "utf8"));
    } catch {
      return undefined;
    }
  }

  /** Stores a JSON manifest. */
  saveManifest(key: string, manifest: unknown): void {
    if (this.dir === undefined) return;
    this.#write(this.#path("manifests", key, "json"), JSON.stringify(manifest));
  }
}
