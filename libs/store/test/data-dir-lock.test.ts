/**
 * One owner per embedded data folder (issue 8, "the embedded default forks the log"): a second open of the
 * same folder — in this process or another — fails with `locked` naming the folder and the holder's pid;
 * closing releases it; a lock left by a killed process is reclaimed.
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openStore, StoreError } from "../src/index.js";

function isLocked(dir: string, pid: number) {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, String(err));
    assert.equal(err.code, "locked", err.message);
    assert.ok(err.message.includes(dir), `names the folder: ${err.message}`);
    assert.ok(err.message.includes(`pid ${pid}`), `names the pid ${pid}: ${err.message}`);
    assert.equal(err.retryable, true);
    return true;
  };
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), "lineage-lock-"));
  t.after(() => rm(base, { recursive: true, force: true }));
  return join(base, "hub");
}

test("a second open of the same folder in one process is refused until the first closes", async (t) => {
  const dir = await tempDir(t);
  const first = await openStore({ kind: "pglite", dataDir: dir });
  assert.ok(existsSync(`${dir}.lock`));
  await assert.rejects(openStore({ kind: "pglite", dataDir: dir }), isLocked(dir, process.pid));
  // The refused opener did not take or break the lock: the first store still works.
  assert.equal((await first.db.selectNoFrom((eb) => eb.val(1).as("x")).execute()).length, 1);
  await first.close();
  assert.ok(!existsSync(`${dir}.lock`), "closing releases the lock");
  const second = await openStore({ kind: "pglite", dataDir: dir });
  await second.close();
});

test("a folder is not locked by an in-memory store or a store on another folder", async (t) => {
  const dir = await tempDir(t);
  const a = await openStore({ kind: "pglite", dataDir: dir });
  const b = await openStore({ kind: "pglite", dataDir: `${dir}-other` });
  const c = await openStore({ kind: "pglite" });
  await Promise.all([a.close(), b.close(), c.close()]);
  await rm(`${dir}-other`, { recursive: true, force: true });
});

const STORE_INDEX = fileURLToPath(new URL("../src/index.ts", import.meta.url));

/** A child process that opens `dir` and holds it until killed; resolves once it has the lock. */
async function holder(dir: string): Promise<ChildProcess> {
  const code = `
    const { openStore } = await import(${JSON.stringify(STORE_INDEX)});
    await openStore({ kind: "pglite", dataDir: ${JSON.stringify(dir)} });
    process.stdout.write("ready\\n");
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (d) => {
    err += String(d);
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d) => {
      if (String(d).includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`holder exited (${code}): ${err}`)));
  });
  return child;
}

test("another process holding the folder: refused naming its pid; after kill -9 the stale lock is reclaimed", async (t) => {
  const dir = await tempDir(t);
  const child = await holder(dir);
  t.after(() => {
    child.kill("SIGKILL");
  });
  const pid = child.pid as number;
  await assert.rejects(openStore({ kind: "pglite", dataDir: dir }), isLocked(dir, pid));
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
  assert.ok(existsSync(`${dir}.lock`), "kill -9 leaves the lock file behind");
  const store = await openStore({ kind: "pglite", dataDir: dir });
  await store.close();
});

test("a lock naming a live pid of this host is honoured even without a store behind it", async (t) => {
  const dir = await tempDir(t);
  // pid 1 is always alive (init); the lock format is "pid host token".
  await openStore({ kind: "pglite", dataDir: dir }).then((s) => s.close());
  writeFileSync(`${dir}.lock`, `1 ${hostname()} manual\n`);
  await assert.rejects(openStore({ kind: "pglite", dataDir: dir }), isLocked(dir, 1));
  // An unparsable lock file is not silently broken either.
  writeFileSync(`${dir}.lock`, "garbage");
  await assert.rejects(openStore({ kind: "pglite", dataDir: dir }), (err: unknown) => {
    return err instanceof StoreError && err.code === "locked" && err.message.includes(`${dir}.lock`);
  });
});
