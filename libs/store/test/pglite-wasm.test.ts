/**
 * The embedded database's shared_buffers (src/pglite-wasm.ts): the literal edit on synthetic bytes (found once
 * or not at all), the installed PGlite tuned (a PGlite upgrade that moves the literal fails here, not silently
 * back to 128 MB), and every embedded store really running with 16 MB, on disk and in memory.
 */

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sql } from "kysely";
import { EMBEDDED_SHARED_BUFFERS, embeddedWasm, openStore, openTestStore } from "../src/index.js";
import { tuneSharedBuffers } from "../src/pglite-wasm.js";

const bytesOf = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));
const textOf = (b: Uint8Array) => Buffer.from(b).toString("latin1");

test("tuneSharedBuffers replaces the one NUL-terminated literal in place, same length, NUL-padded", () => {
  const b = bytesOf("..\0shared_buffers=128MB\0wal_buffers=4MB\0..");
  const before = b.length;
  assert.equal(tuneSharedBuffers(b, "16MB"), true);
  assert.equal(b.length, before);
  assert.equal(textOf(b), "..\0shared_buffers=16MB\0\0wal_buffers=4MB\0..");
  assert.equal(tuneSharedBuffers(bytesOf("..shared_buffers=128MB\0.."), "512kB"), true);
});

test("tuneSharedBuffers leaves the bytes alone when the literal is absent, repeated, or the value is wrong", () => {
  const cases: Array<[string, string, string]> = [
    ["absent", "..shared_buffers=64MB\0..", "16MB"],
    ["not NUL-terminated (a longer string)", "..shared_buffers=128MBx\0..", "16MB"],
    ["twice", "shared_buffers=128MB\0shared_buffers=128MB\0", "16MB"],
    ["a value that does not fit", "shared_buffers=128MB\0", "1000000MB"],
    ["not a size", "shared_buffers=128MB\0", "16MB -c fsync=off"],
    ["no unit", "shared_buffers=128MB\0", "16"],
  ];
  for (const [what, text, value] of cases) {
    const b = bytesOf(text);
    assert.equal(tuneSharedBuffers(b, value), false, what);
    assert.equal(textOf(b), text, `${what}: unchanged`);
  }
});

test("the installed PGlite's module is tuned, compiled once per process", () => {
  const a = embeddedWasm();
  assert.equal(a.tuned, true, "shared_buffers=128MB not found exactly once in pglite.wasm: PGlite changed");
  assert.equal(embeddedWasm(), a);
});

test(`embedded stores run with shared_buffers ${EMBEDDED_SHARED_BUFFERS}, on disk across a reopen and in memory`, async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-store-wasm-"));
  const shown = async (open: () => ReturnType<typeof openStore>) => {
    await using store = await open();
    const r = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(store.db);
    return r.rows[0]?.shared_buffers;
  };
  try {
    assert.equal(await shown(() => openStore({ kind: "pglite", dataDir: dir })), EMBEDDED_SHARED_BUFFERS);
    assert.equal(await shown(() => openStore({ kind: "pglite", dataDir: dir })), EMBEDDED_SHARED_BUFFERS);
    assert.equal(await shown(() => openStore({ kind: "pglite" })), EMBEDDED_SHARED_BUFFERS);
    assert.equal(await shown(() => openTestStore("pglite-memory")), EMBEDDED_SHARED_BUFFERS);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
