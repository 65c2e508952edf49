/**
 * The witness against real logs (real Ed25519, real Merkle trees, real state files in a temp folder): it
 * cosigns only checkpoints of a configured log that extend what it cosigned before, and each attack is
 * refused with its own code.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  cosignatureV1Verifier,
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
import { Witness } from "./witness.js";
import { isWitnessError, type WitnessErrorCode } from "./witness-error.js";
import { WitnessState } from "./witness-state.js";

const ORIGIN = "lineage.example/log";

function fixture(leafPrefix = "leaf") {
  const logKey = Ed25519PrivateKey.generate();
  const signer = ed25519NoteSigner(ORIGIN, logKey);
  const verifier = ed25519NoteVerifier(ORIGIN, logKey.publicKey);
  const verifierKey = formatVerifierKey(ORIGIN, logKey.publicKey);
  const leaves = Array.from({ length: 40 }, (_, i) => new TextEncoder().encode(`${leafPrefix} ${i}`));
  const tree = MerkleTree.fromLeaves(leaves);
  const note = (size: number, t = tree, s = signer) =>
    signCheckpoint({ origin: ORIGIN, size, rootHash: t.root(size) }, [s]);
  return { logKey, signer, verifier, verifierKey, tree, note };
}

async function withWitness(
  fn: (w: Witness, log: ReturnType<typeof fixture>, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "lineage-witness-"));
  try {
    const log = fixture();
    let clock = 1_700_000_000_000;
    const w = new Witness({
      name: "witness.example/w1",
      key: Ed25519PrivateKey.generate(),
      logs: new Map([[ORIGIN, log.verifierKey]]),
      state: new WitnessState(dir),
      // A clock that moves 5 s per reading: a fresh signature would always carry a new timestamp.
      now: () => (clock += 5_000),
    });
    await fn(w, log, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function refused(p: Promise<unknown>, code: WitnessErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isWitnessError(err), `expected a WitnessError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

test("cosigns a first checkpoint and then one that extends it; the cosignature verifies under its verifier key", async () => {
  await withWitness(async (w, log) => {
    const first = await w.addCheckpoint(
      formatAddCheckpointRequest({ oldSize: 0, proof: [], note: log.note(5) }),
    );
    const wv = parseCosignatureVerifierKey(w.verifierKey);
    const opened = openCheckpoint(log.note(5) + first.signatureLines, {
      log: log.verifier,
      witnesses: [wv.verifier],
      witnessThreshold: 1,
    });
    assert.equal(opened.checkpoint.size, 5);
    const body = formatAddCheckpointRequest({
      oldSize: 5,
      proof: log.tree.consistencyProof(5, 17),
      note: log.note(17),
    });
    const second = await w.addCheckpoint(body);
    assert.equal(second.checkpoint.size, 17);
    openCheckpoint(log.note(17) + second.signatureLines, {
      log: log.verifier,
      witnesses: [cosignatureV1Verifier(w.name, wv.publicKey)],
      witnessThreshold: 1,
    });
    // Re-submitting the same checkpoint answers the SAME line (no fresh timestamp, nothing to re-roll).
    const again = await w.addCheckpoint(
      formatAddCheckpointRequest({ oldSize: 17, proof: [], note: log.note(17) }),
    );
    assert.equal(again.signatureLines, second.signatureLines);
  });
});

test("refuses a forked checkpoint: another root for the size it cosigned (fork) or a tree that does not extend it (bad_proof)", async () => {
  await withWitness(async (w, log) => {
    await w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: log.note(8) }));
    // The same log key signs a different history (a split view): same size, another root.
    const forked = fixture("other");
    const forkNote = signCheckpoint({ origin: ORIGIN, size: 8, rootHash: forked.tree.root(8) }, [log.signer]);
    await refused(
      w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 8, proof: [], note: forkNote })),
      "fork",
    );
    // A bigger tree of the other history, with that history's (valid-looking) proof.
    const bigFork = signCheckpoint({ origin: ORIGIN, size: 20, rootHash: forked.tree.root(20) }, [
      log.signer,
    ]);
    await refused(
      w.addCheckpoint(
        formatAddCheckpointRequest({ oldSize: 8, proof: forked.tree.consistencyProof(8, 20), note: bigFork }),
      ),
      "bad_proof",
    );
    // A proof with one bit flipped.
    const proof = log.tree.consistencyProof(8, 20).map((h) => h.slice());
    const flipped = proof[0] as Uint8Array;
    flipped[0] = (flipped[0] as number) ^ 1;
    await refused(
      w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 8, proof, note: log.note(20) })),
      "bad_proof",
    );
    // The honest extension still works after the refusals: nothing advanced.
    await w.addCheckpoint(
      formatAddCheckpointRequest({ oldSize: 8, proof: log.tree.consistencyProof(8, 20), note: log.note(20) }),
    );
  });
});

test("refuses a replayed older checkpoint (rollback) and a wrong old size (old_size_mismatch, with the size it holds)", async () => {
  await withWitness(async (w, log) => {
    await w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: log.note(10) }));
    await refused(
      w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: log.note(4) })),
      "rollback",
    );
    await assert.rejects(
      w.addCheckpoint(
        formatAddCheckpointRequest({
          oldSize: 3,
          proof: log.tree.consistencyProof(3, 12),
          note: log.note(12),
        }),
      ),
      (err: unknown) => isWitnessError(err, "old_size_mismatch") && err.latestSize === 10,
    );
  });
});

test("refuses a checkpoint signed by an unknown key (bad_signature), of an unknown log (unknown_log), and malformed bodies", async () => {
  await withWitness(async (w, log) => {
    const mallory = ed25519NoteSigner(ORIGIN, Ed25519PrivateKey.generate());
    await refused(
      w.addCheckpoint(
        formatAddCheckpointRequest({ oldSize: 0, proof: [], note: log.note(3, log.tree, mallory) }),
      ),
      "bad_signature",
    );
    // A corrupted log signature under the right key name and id.
    const good = log.note(3);
    const lastLine = good.trimEnd().split("\n").at(-1) as string;
    const sig = Buffer.from(lastLine.split(" ")[2] as string, "base64");
    sig[10] = (sig[10] as number) ^ 1;
    const bad = good.replace(lastLine, `— ${ORIGIN} ${sig.toString("base64")}`);
    await refused(
      w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: bad })),
      "bad_signature",
    );
    const other = signCheckpoint({ origin: "other.example/log", size: 3, rootHash: log.tree.root(3) }, [
      log.signer,
    ]);
    await refused(
      w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: other })),
      "unknown_log",
    );
    await refused(w.addCheckpoint("old 01\n\nx"), "malformed");
    await refused(w.addCheckpoint(`old 0\n\nnot a note\n`), "malformed");
    await refused(w.addCheckpoint(`old 0\nAAAA\n\n${good}`), "malformed");
    await refused(w.addCheckpoint(`old 0\n\n${"x".repeat(40_000)}`), "too_large");
    await refused(
      w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 5, proof: [], note: good })),
      "malformed",
    );
  });
});

test("state survives a restart: a new witness on the same folder refuses what the old one would have", async () => {
  await withWitness(async (w, log, dir) => {
    await w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: log.note(9) }));
    const again = new Witness({
      name: "witness.example/w1",
      key: Ed25519PrivateKey.generate(),
      logs: new Map([[ORIGIN, log.verifierKey]]),
      state: new WitnessState(dir),
    });
    await refused(
      again.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: log.note(2) })),
      "rollback",
    );
    const files = await readdir(dir);
    assert.equal(files.filter((f) => f.endsWith(".tmp")).length, 0, "no temp file left behind");
  });
});

test("concurrent requests for one log are serialised: of two forks of the same size, exactly one is cosigned", async () => {
  await withWitness(async (w, log) => {
    const forked = fixture("other");
    const a = log.note(6);
    const b = signCheckpoint({ origin: ORIGIN, size: 6, rootHash: forked.tree.root(6) }, [log.signer]);
    const results = await Promise.allSettled([
      w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: a })),
      w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: b })),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    // The loser saw the winner's state (size 6), not the empty one it raced against.
    assert.ok(isWitnessError(rejected.reason, "old_size_mismatch") && rejected.reason.latestSize === 6);
  });
});

test("refuses a checkpoint whose lineage-previous-size hides one it cosigned (hidden_checkpoint)", async () => {
  await withWitness(async (w, log) => {
    const note = (size: number, prev: number) =>
      signCheckpoint(
        {
          origin: ORIGIN,
          size,
          rootHash: log.tree.root(size),
          extensions: [`lineage-previous-size ${prev}`],
        },
        [log.signer],
      );
    await w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], note: note(10, 0) }));
    // The hub signs size 11 claiming its previous checkpoint was of size 8: the one of size 10 (cosigned) hidden.
    await refused(
      w.addCheckpoint(
        formatAddCheckpointRequest({
          oldSize: 10,
          proof: log.tree.consistencyProof(10, 11),
          note: note(11, 8),
        }),
      ),
      "hidden_checkpoint",
    );
    // Honest: previous-size 10, or larger than what this witness saw (it may have missed some).
    await w.addCheckpoint(
      formatAddCheckpointRequest({
        oldSize: 10,
        proof: log.tree.consistencyProof(10, 11),
        note: note(11, 10),
      }),
    );
    await w.addCheckpoint(
      formatAddCheckpointRequest({
        oldSize: 11,
        proof: log.tree.consistencyProof(11, 15),
        note: note(15, 13),
      }),
    );
    // The same checkpoint again is still answered (its previous-size is below the size held: it IS the one held).
    await w.addCheckpoint(formatAddCheckpointRequest({ oldSize: 15, proof: [], note: note(15, 13) }));
  });
});
