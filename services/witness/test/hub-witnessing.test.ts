/**
 * The hub asks real witnesses (HTTP on loopback) to cosign every checkpoint it signs: the served
 * checkpoint carries both cosignatures, verified under the witnesses' keys; the cosigned note is gossiped
 * on `lineage.checkpoint.<origin token>`; every checkpoint is cosigned, in order; a witness that already holds a larger size than the hub believes
 * is caught up after its 409; and a witness that answers with a forged cosignature is not believed.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SuspectSource } from "@lineage/api";
import { type BusEvent, createInProcessBus } from "@lineage/bus";
import {
  cosignatureV1Signer,
  Ed25519PrivateKey,
  formatCosignatureVerifierKey,
  openCheckpoint,
  parseCosignatureVerifierKey,
  parseNote,
  parseVerifierKey,
  signNote,
} from "@lineage/crypto";
import { checkpointSubject, startWitnessing, TransparencyLog } from "@lineage/hub";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { startWitnessServer, Witness, WitnessState } from "../src/index.js";

const ORIGIN = "lineage.example/log";

async function openLog() {
  const store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const hubKey = Ed25519PrivateKey.generate();
  const log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey,
    checkpointEvery: 1_000_000,
    checkpointIntervalMs: 3_600_000,
  });
  return { store, log, hubKey };
}

async function startWitness(dir: string, name: string, logVerifierKey: string) {
  const witness = new Witness({
    name,
    key: Ed25519PrivateKey.generate(),
    logs: new Map([[ORIGIN, logVerifierKey]]),
    state: new WitnessState(join(dir, name.replace(/\W/g, "_"))),
  });
  const server = await startWitnessServer({ witness });
  return { witness, server };
}

let suspects = 0;
async function grow(log: TransparencyLog, n: number): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, () =>
      log.appendSighting({
        suspect: { suspectId: `suspect-${suspects++}` },
        source: SuspectSource.FEED_ADAPTER,
      }),
    ),
  );
}

test("every signed checkpoint is cosigned by both witnesses, served cosigned, and gossiped", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-hub-witnessing-"));
  const { store, log, hubKey } = await openLog();
  const w1 = await startWitness(dir, "witness.example/w1", log.verifierKey);
  const w2 = await startWitness(dir, "witness.example/w2", log.verifierKey);
  const bus = createInProcessBus();
  const gossiped: string[] = [];
  const sub = await bus.subscribe(checkpointSubject(ORIGIN), (e: BusEvent) => {
    gossiped.push(new TextDecoder().decode(e.data));
  });
  const errors: unknown[] = [];
  const witnessing = startWitnessing({
    log,
    witnesses: [
      { url: w1.server.url, verifierKey: w1.witness.verifierKey },
      { url: `${w2.server.url}/`, verifierKey: w2.witness.verifierKey },
    ],
    gossip: bus,
    onError: (e) => errors.push(e),
  });
  try {
    const verifiers = [w1, w2].map((w) => parseCosignatureVerifierKey(w.witness.verifierKey).verifier);
    for (const n of [3, 5, 1]) {
      await grow(log, n);
      const cp = await log.checkpoint();
      await witnessing.settled();
      const served = log.latestCheckpoint;
      assert.ok(served !== undefined && served.treeSize === cp.treeSize);
      const opened = openCheckpoint(served.note, {
        log: parseVerifierKey(log.verifierKey),
        witnesses: verifiers,
        witnessThreshold: 2,
      });
      assert.equal(opened.witnessSignatures.length, 2);
      for (let i = 0; i < 100 && gossiped.at(-1) !== served.note; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(gossiped.at(-1), served.note);
    }
    // Checkpoints signed while a round is running are all cosigned too, in order (none skipped: the first
    // checkpoint covering an attestation seeds its disclosure).
    const sizes: number[] = [];
    for (let k = 0; k < 4; k++) {
      await grow(log, 1);
      sizes.push((await log.checkpoint()).treeSize);
    }
    await witnessing.settled();
    for (const size of sizes) {
      // Served cosigned as the first checkpoint covering its last entry (a disclosure's witnessed seed).
      const first = await log.firstCoveringCheckpoint(size - 1);
      assert.equal(first.checkpoint.treeSize, size);
      openCheckpoint(first.checkpoint.note, {
        log: parseVerifierKey(log.verifierKey),
        witnesses: verifiers,
        witnessThreshold: 2,
      });
    }
    assert.deepEqual(errors, []);
    assert.ok(checkpointSubject(ORIGIN).startsWith("lineage.checkpoint."));
    // The lines are stored: a log reopened on the same store (a restarted hub, nothing cached) serves the
    // first covering checkpoints with both cosignatures.
    await witnessing.close();
    const reopened = await TransparencyLog.open({
      store,
      origin: ORIGIN,
      hubKey,
      checkpointIntervalMs: 3_600_000,
    });
    try {
      // Witnessing restarted with every witness down: the latest checkpoint is still served cosigned.
      const down = startWitnessing({
        log: reopened,
        witnesses: [{ url: "http://127.0.0.1:9", verifierKey: w1.witness.verifierKey }],
        timeoutMs: 2_000,
      });
      await down.settled();
      await down.close();
      openCheckpoint(reopened.latestCheckpoint?.note ?? "", {
        log: parseVerifierKey(log.verifierKey),
        witnesses: verifiers,
        witnessThreshold: 2,
      });
      for (const size of sizes) {
        const first = await reopened.firstCoveringCheckpoint(size - 1);
        openCheckpoint(first.checkpoint.note, {
          log: parseVerifierKey(log.verifierKey),
          witnesses: verifiers,
          witnessThreshold: 2,
        });
      }
    } finally {
      await reopened.close();
    }
  } finally {
    await witnessing.close();
    await sub.stop();
    await bus[Symbol.asyncDispose]();
    await w1.server.close();
    await w2.server.close();
    await log.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a witness ahead of the hub's belief is caught up after its 409; a forged cosignature is not served", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-hub-witnessing-"));
  const { store, log } = await openLog();
  const w1 = await startWitness(dir, "witness.example/w1", log.verifierKey);
  // A witness that answers 200 with a cosignature line made with a key other than the one it announced.
  const announced = Ed25519PrivateKey.generate();
  const actual = Ed25519PrivateKey.generate();
  const liar = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const note = body.slice(body.indexOf("\n\n") + 2);
      const text = parseNote(note).text;
      const line = signNote(text, [cosignatureV1Signer("liar.example/w", actual, () => 1_700_000_000)]).slice(
        text.length + 1,
      );
      res.end(line);
    });
  });
  await new Promise<void>((r) => liar.listen(0, "127.0.0.1", r));
  const liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
  try {
    await grow(log, 4);
    const first = await log.checkpoint();
    // Someone else already brought w1 to size 4 (another hub process of the same log, a gossip relay).
    const other = startWitnessing({
      log,
      witnesses: [{ url: w1.server.url, verifierKey: w1.witness.verifierKey }],
    });
    await other.settled();
    await other.close();
    assert.equal(first.treeSize, 4);
    await grow(log, 2);
    const errors: unknown[] = [];
    const witnessing = startWitnessing({
      log,
      witnesses: [
        { url: w1.server.url, verifierKey: w1.witness.verifierKey },
        { url: liarUrl, verifierKey: formatCosignatureVerifierKey("liar.example/w", announced.publicKey) },
      ],
      onError: (e) => errors.push(e),
    });
    // The latest checkpoint at start (size 4): this client believes w1 holds 0, w1 answers 409 "4", the
    // client retries from 4 (same size, same root) and is cosigned.
    await witnessing.settled();
    await log.checkpoint();
    await witnessing.settled();
    const served = log.latestCheckpoint?.note ?? "";
    const opened = openCheckpoint(served, {
      log: parseVerifierKey(log.verifierKey),
      witnesses: [parseCosignatureVerifierKey(w1.witness.verifierKey).verifier],
      witnessThreshold: 1,
    });
    assert.equal(opened.checkpoint.size, 6);
    assert.equal(opened.note.unverified.length, 0, "the liar's line was not added");
    assert.ok(errors.length >= 1 && errors.every((e) => (e as { code?: string }).code === "bad_signature"));
    await witnessing.close();
  } finally {
    liar.close();
    await w1.server.close();
    await log.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a witness that does not answer delays only itself: the others cosign every checkpoint meanwhile", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-hub-witnessing-"));
  const { store, log } = await openLog();
  const w1 = await startWitness(dir, "witness.example/w1", log.verifierKey);
  // Holds every request until released (then answers 503).
  const held: Array<() => void> = [];
  const stuck = createServer((req, res) => {
    req.resume();
    held.push(() => res.writeHead(503).end("down\n"));
  });
  await new Promise<void>((r) => stuck.listen(0, "127.0.0.1", r));
  const stuckUrl = `http://127.0.0.1:${(stuck.address() as AddressInfo).port}`;
  const errors: string[] = [];
  const witnessing = startWitnessing({
    log,
    witnesses: [
      {
        url: stuckUrl,
        verifierKey: formatCosignatureVerifierKey("stuck.example/w", Ed25519PrivateKey.generate().publicKey),
      },
      { url: w1.server.url, verifierKey: w1.witness.verifierKey },
    ],
    timeoutMs: 60_000,
    onError: (_e, url) => errors.push(url),
  });
  try {
    const w1v = parseCosignatureVerifierKey(w1.witness.verifierKey).verifier;
    const sizes: number[] = [];
    for (let k = 0; k < 5; k++) {
      await grow(log, 2);
      sizes.push((await log.checkpoint()).treeSize);
    }
    const cosignedByW1 = async (size: number) => {
      const note = (await log.firstCoveringCheckpoint(size - 1)).checkpoint.note;
      try {
        openCheckpoint(note, {
          log: parseVerifierKey(log.verifierKey),
          witnesses: [w1v],
          witnessThreshold: 1,
        });
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 500; i++) {
      if ((await Promise.all(sizes.map(cosignedByW1))).every(Boolean)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(
      await Promise.all(sizes.map(cosignedByW1)),
      sizes.map(() => true),
    );
    assert.ok(held.length <= 1, "the stuck witness got one request at a time");
  } finally {
    // Release the stuck witness: each of its waiting checkpoints is then refused (503) and reported.
    const release = setInterval(() => {
      for (const r of held.splice(0)) r();
    }, 5);
    await witnessing.settled();
    clearInterval(release);
    await witnessing.close();
    stuck.close();
    await w1.server.close();
    await log.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  assert.ok(errors.length >= 1 && errors.every((u) => u === stuckUrl));
});
