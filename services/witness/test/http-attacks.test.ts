/**
 * Attacks on the witness's HTTP endpoint from a hostile client on real sockets: an oversized body sent
 * chunked (no content-length), a body trickled byte by byte (slowloris), a connection that never sends
 * its headers, and a state file damaged on disk before start.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatAddCheckpointRequest,
  formatVerifierKey,
  MAX_WITNESS_REQUEST_BYTES,
  MerkleTree,
  signCheckpoint,
} from "@lineage/crypto";
import { isWitnessError, startWitnessServer, Witness, WitnessState } from "../src/index.js";

const ORIGIN = "lineage.example/log";

async function withServer(
  fn: (ctx: {
    url: string;
    port: number;
    note: (size: number) => string;
    dir: string;
    errors: string[];
  }) => Promise<void>,
  timeouts: { requestTimeoutMs?: number; headersTimeoutMs?: number } = {},
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "lineage-witness-attack-"));
  const logKey = Ed25519PrivateKey.generate();
  const tree = MerkleTree.fromLeaves(Array.from({ length: 8 }, (_, i) => new TextEncoder().encode(`e${i}`)));
  const note = (size: number) =>
    signCheckpoint({ origin: ORIGIN, size, rootHash: tree.root(size) }, [ed25519NoteSigner(ORIGIN, logKey)]);
  const witness = new Witness({
    name: "witness.example/w1",
    key: Ed25519PrivateKey.generate(),
    logs: new Map([[ORIGIN, formatVerifierKey(ORIGIN, logKey.publicKey)]]),
    state: new WitnessState(dir),
  });
  const errors: string[] = [];
  const server = await startWitnessServer({ witness, onError: (e) => errors.push(e.code), ...timeouts });
  try {
    await fn({ url: server.url, port: server.port, note, dir, errors });
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Raw HTTP exchange: writes `parts` (with `gapMs` between them) and resolves with what came back. */
function raw(port: number, parts: readonly string[], gapMs = 0): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const sock = connect(port, "127.0.0.1");
    let text = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      text += d;
    });
    sock.on("error", () => {}); // a reset after the answer is fine; what matters is what was answered
    sock.on("close", () => resolve({ text, ms: Date.now() - started }));
    sock.on("connect", async () => {
      for (const p of parts) {
        if (sock.destroyed) return;
        sock.write(p);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    setTimeout(() => {
      sock.destroy();
      reject(new Error(`no close within 20 s; got ${JSON.stringify(text.slice(0, 200))}`));
    }, 20_000).unref();
  });
}

test("an oversized body sent chunked (no content-length) is answered 400 too_large (docs/specs/witness.md), not a reset connection", async () => {
  await withServer(async ({ port, errors }) => {
    const chunk = "x".repeat(4096);
    const n = Math.ceil((MAX_WITNESS_REQUEST_BYTES * 2) / chunk.length);
    const head =
      "POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
    const body = Array.from({ length: n }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const { text } = await raw(port, [head, ...body, "0\r\n\r\n"]);
    assert.match(text, /^HTTP\/1\.1 400 /, `answer: ${JSON.stringify(text.slice(0, 120))}`);
    assert.match(text, /too_large: request body exceeds \d+ bytes/);
    assert.match(text, /connection: close/i);
    assert.deepEqual(errors, ["too_large"]);
  });
});

test("an oversized declared content-length is answered 400 too_large before the body is read", async () => {
  await withServer(async ({ port }) => {
    const head = `POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: ${MAX_WITNESS_REQUEST_BYTES + 1}\r\n\r\n`;
    const { text } = await raw(port, [head]);
    assert.match(text, /^HTTP\/1\.1 400 /, `answer: ${JSON.stringify(text.slice(0, 120))}`);
  });
});

test("slowloris: a body trickled past the request timeout is cut off, and the witness still answers others", async () => {
  await withServer(
    async ({ url, port, note }) => {
      const body = formatAddCheckpointRequest({ oldSize: 0, proof: [], note: note(3) });
      const head = `POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
      const slow = raw(port, [head, ...body.split("")], 100);
      const headless = raw(port, ["POST /add-checkpoint HTTP/1.1\r\nHost: w\r\n"], 0);
      // Meanwhile an honest request is served at once.
      const ok = await fetch(`${url}/add-checkpoint`, { method: "POST", body });
      assert.equal(ok.status, 200);
      const [s, h] = await Promise.all([slow, headless]);
      // The trickled request would take ~body.length/10 s; it is cut off within a few timeout periods.
      assert.ok(body.length * 100 > 10_000, "the trickle must outlast the timeout");
      assert.ok(s.ms < 6_000, `slow body held the connection for ${s.ms} ms`);
      assert.ok(h.ms < 6_000, `missing headers held the connection for ${h.ms} ms`);
      assert.doesNotMatch(s.text, /^HTTP\/1\.1 200 /);
    },
    { requestTimeoutMs: 1_000, headersTimeoutMs: 500 },
  );
});

test("a damaged (torn) state file: that log's requests answer 500 without cosigning, and a restart is refused naming the file", async () => {
  let stateDir = "";
  let damaged = "";
  await withServer(async ({ url, note, dir, errors }) => {
    stateDir = dir;
    const body = formatAddCheckpointRequest({ oldSize: 0, proof: [], note: note(3) });
    assert.equal((await fetch(`${url}/add-checkpoint`, { method: "POST", body })).status, 200);
    const [file] = (await readdir(dir)).filter((f) => f.endsWith(".json"));
    assert.ok(file);
    damaged = join(dir, file);
    // A torn write: the witness must not treat the log as first contact (it would cosign a fork from 0).
    await writeFile(damaged, '{"origin":"lineage.example/log","si');
    const after = await fetch(`${url}/add-checkpoint`, {
      method: "POST",
      body: formatAddCheckpointRequest({ oldSize: 0, proof: [], note: note(5) }),
    });
    assert.equal(after.status, 500);
    assert.equal(await after.text(), "internal: internal error\n");
    assert.deepEqual(errors, ["internal"]);
    const restarted = new Witness({
      name: "witness.example/w1",
      key: Ed25519PrivateKey.generate(),
      logs: new Map([[ORIGIN, formatVerifierKey(ORIGIN, Ed25519PrivateKey.generate().publicKey)]]),
      state: new WitnessState(dir),
    });
    await assert.rejects(startWitnessServer({ witness: restarted }), (err: unknown) => {
      assert.ok(isWitnessError(err, "internal"));
      assert.ok(err.message.includes(damaged), err.message);
      assert.match(err.message, /not JSON \(torn or damaged\)/);
      return true;
    });
    // Another log's state in this log's file is refused too.
    await writeFile(
      damaged,
      JSON.stringify({
        origin: "other.example/log",
        size: 1,
        root_hash: Buffer.alloc(32).toString("base64"),
        note: "",
        cosignature: "",
      }),
    );
    await assert.rejects(new WitnessState(dir).checkAll(), /holds another log's origin/);
  });
  assert.ok(stateDir.length > 0);
});
