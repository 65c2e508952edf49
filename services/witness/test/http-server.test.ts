/** The witness's HTTP API on loopback: statuses and bodies per c2sp.org/tlog-witness. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  Ed25519PrivateKey,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatAddCheckpointRequest,
  formatVerifierKey,
  MerkleTree,
  openCheckpoint,
  parseCosignatureVerifierKey,
  signCheckpoint,
} from "@lineage/crypto";
import { startWitnessServer, Witness, WitnessState } from "../src/index.js";

const ORIGIN = "lineage.example/log";

test("POST /add-checkpoint: 200 with a cosignature line, 409 with the size held, 422, 403, 404, 400, 405", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-witness-http-"));
  const logKey = Ed25519PrivateKey.generate();
  const signer = ed25519NoteSigner(ORIGIN, logKey);
  const verifier = ed25519NoteVerifier(ORIGIN, logKey.publicKey);
  const tree = MerkleTree.fromLeaves(Array.from({ length: 30 }, (_, i) => new TextEncoder().encode(`e${i}`)));
  const note = (size: number, s = signer, origin = ORIGIN) =>
    signCheckpoint({ origin, size, rootHash: tree.root(size) }, [s]);
  const witness = new Witness({
    name: "witness.example/w1",
    key: Ed25519PrivateKey.generate(),
    logs: new Map([[ORIGIN, formatVerifierKey(ORIGIN, logKey.publicKey)]]),
    state: new WitnessState(dir),
  });
  const errors: string[] = [];
  await using server = await startWitnessServer({ witness, onError: (e) => errors.push(e.code) });
  const post = (body: string, path = "/add-checkpoint", method = "POST") =>
    fetch(`${server.url}${path}`, method === "POST" ? { method, body } : { method });
  try {
    const ok = await post(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: note(7) }));
    assert.equal(ok.status, 200);
    const lines = await ok.text();
    const wv = parseCosignatureVerifierKey(witness.verifierKey).verifier;
    openCheckpoint(note(7) + lines, { log: verifier, witnesses: [wv], witnessThreshold: 1 });

    const conflict = await post(
      formatAddCheckpointRequest({ oldSize: 2, proof: tree.consistencyProof(2, 9), note: note(9) }),
    );
    assert.equal(conflict.status, 409);
    assert.equal(conflict.headers.get("content-type"), "text/x.tlog.size");
    assert.equal(await conflict.text(), "7\n");

    const proof = tree.consistencyProof(7, 9);
    const badProof = await post(
      formatAddCheckpointRequest({ oldSize: 7, proof: proof.slice(1), note: note(9) }),
    );
    assert.equal(badProof.status, 422);
    await badProof.text();

    const mallory = ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.generate());
    const forged = await post(formatAddCheckpointRequest({ oldSize: 7, proof, note: note(9, mallory) }));
    assert.equal(forged.status, 403);
    await forged.text();

    const unknown = await post(
      formatAddCheckpointRequest({ oldSize: 0, proof: [], note: note(3, signer, "x.example/log") }),
    );
    assert.equal(unknown.status, 404);
    await unknown.text();

    const garbage = await post("hello");
    assert.equal(garbage.status, 400);
    assert.match(await garbage.text(), /^malformed: /);

    const huge = await post(`old 0\n\n${"a".repeat(100_000)}`);
    assert.equal(huge.status, 400);
    await huge.text();

    const get = await post("", "/add-checkpoint", "GET");
    assert.equal(get.status, 405);
    await get.text();
    const other = await post("x", "/nothing");
    assert.equal(other.status, 404);
    await other.text();

    const next = await post(formatAddCheckpointRequest({ oldSize: 7, proof, note: note(9) }));
    assert.equal(next.status, 200);
    await next.text();
    assert.deepEqual(errors, [
      "old_size_mismatch",
      "bad_proof",
      "bad_signature",
      "unknown_log",
      "malformed",
      "too_large",
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("with --tls-cert/--tls-key the witness serves HTTPS (certificate made by the openssl CLI)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-witness-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
        ...["-keyout", "tls.key", "-out", "tls.pem", "-days", "1", "-subj", "/CN=witness"],
        ...["-addext", "subjectAltName=IP:127.0.0.1"],
      ],
      { cwd: dir, stdio: "pipe" },
    );
    const [certChainPem, privateKeyPem] = [
      readFileSync(join(dir, "tls.pem"), "utf8"),
      readFileSync(join(dir, "tls.key"), "utf8"),
    ];
    const logKey = Ed25519PrivateKey.generate();
    const witness = new Witness({
      name: "witness.example/w1",
      key: Ed25519PrivateKey.generate(),
      logs: new Map([[ORIGIN, formatVerifierKey(ORIGIN, logKey.publicKey)]]),
      state: new WitnessState(join(dir, "state")),
    });
    await using server = await startWitnessServer({ witness, tls: { certChainPem, privateKeyPem } });
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const tree = MerkleTree.fromLeaves([new Uint8Array([1])]);
    const body = formatAddCheckpointRequest({
      oldSize: 0,
      proof: [],
      note: signCheckpoint({ origin: ORIGIN, size: 1, rootHash: tree.root(1) }, [
        ed25519NoteSigner(ORIGIN, logKey),
      ]),
    });
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpsRequest(
        `${server.url}/add-checkpoint`,
        { method: "POST", ca: certChainPem },
        (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    assert.equal(status, 200, text);
    assert.match(text, /^— witness\.example\/w1 /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
