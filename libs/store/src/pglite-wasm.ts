/**
 * The embedded database's WebAssembly module, compiled once per process with an embedded service's
 * shared_buffers.
 *
 * PGlite 0.3 starts Postgres with `shared_buffers=128MB` on its own command line: pg_settings reports the source
 * "command line", so neither postgresql.conf nor ALTER SYSTEM can lower it, and PGlite takes no option for it.
 * Postgres zeroes its shared memory at every start, which in WebAssembly is a byte loop: 0.4 s of CPU (a CPU
 * profile of a restart shows it as the module's `memset`, called from `pgl_backend`), a third of an embedded
 * hub's restart, and 128 MiB of memory per instance (the demo runs four). An embedded service reads through
 * the file system's own page cache, so 16 MB of buffers costs it little.
 *
 * So the literal is edited in the module's bytes, in memory, before compiling: `shared_buffers=16MB` padded
 * with NULs to the literal's length (it is a C string; data segments are copied into memory verbatim). The
 * installed file is never touched. If the literal is not found exactly once (another PGlite build), the module
 * is compiled unmodified and {@link embeddedWasm} says so; `pglite-wasm.test.ts` pins that the installed PGlite
 * is tuned and that the instance really runs with 16 MB.
 */
import { readFileSync } from "node:fs";
import type { PGliteOptions } from "@electric-sql/pglite";

/** A compiled WebAssembly.Module (the lib set here has no WebAssembly types; PGlite's options name it). */
type WasmModule = NonNullable<PGliteOptions["wasmModule"]>;
const Wasm = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => WasmModule } })
  .WebAssembly;

/** The literal PGlite 0.3 passes on Postgres' command line. */
const SHIPPED = "shared_buffers=128MB";
/** What an embedded service runs with (8 kB pages: 2048). */
export const EMBEDDED_SHARED_BUFFERS = "16MB";

/** The compiled module and whether the shared_buffers literal was found and replaced. */
export interface EmbeddedWasm {
  readonly module: WasmModule;
  readonly tuned: boolean;
}

let compiled: EmbeddedWasm | undefined;

/**
 * Replaces the one occurrence of `shared_buffers=128MB\0` in `bytes` (in place) with `value`, NUL-padded to the
 * same length. Returns false, leaving `bytes` unchanged, when the literal is absent, occurs more than once, or
 * `value` does not fit.
 */
export function tuneSharedBuffers(bytes: Uint8Array, value: string): boolean {
  const from = Buffer.from(`${SHIPPED}\0`, "latin1");
  const to = Buffer.alloc(from.length);
  const text = `shared_buffers=${value}`;
  if (!/^[0-9]+(kB|MB)$/.test(value) || text.length >= from.length) return false;
  to.write(text, "latin1");
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = view.indexOf(from);
  if (at < 0 || view.indexOf(from, at + 1) >= 0) return false;
  to.copy(view, at);
  return true;
}

/**
 * PGlite's module with {@link EMBEDDED_SHARED_BUFFERS}, compiled on first use (synchronously: the process has
 * nothing else to do before its database is open) and shared by every instance of the process.
 */
export function embeddedWasm(): EmbeddedWasm {
  if (compiled === undefined) {
    const url = new URL("./pglite.wasm", import.meta.resolve("@electric-sql/pglite"));
    const bytes = readFileSync(url);
    const tuned = tuneSharedBuffers(bytes, EMBEDDED_SHARED_BUFFERS);
    compiled = { module: new Wasm.Module(bytes), tuned };
  }
  return compiled;
}
