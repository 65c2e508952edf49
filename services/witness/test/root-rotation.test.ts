/**
 * A witness follows a logged rotation of the log's root (docs/specs/witness.md, "Following a root rotation")
 * only on proof, checked with the auditor's own statement replay: the ROTATE_ROOT statement signed by the root
 * it trusts and by the new key, included in the new checkpoint's tree, and the checkpoint signed by the new key.
 * Real Ed25519 keys, real DSSE envelopes made by the hub's own rootRotationEnvelope, real Merkle trees and real
 * state files. Each refusal has its own code.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  HubKeyAction,
  HubKeyPurpose,
  HubKeyStatementSchema,
  LogEntryKind,
  LogLeafSchema,
} from "@lineage/api";
import {
  type DsseEnvelope,
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatAddCheckpointRequest,
  formatVerifierKey,
  MerkleTree,
  type RootRotationProof,
  signCheckpoint,
  signEnvelope,
} from "@lineage/crypto";
import { delegationEnvelope, envelopeToProto, PAYLOAD_TYPES, rootRotationEnvelope } from "@lineage/hub";
import { isWitnessError, Witness, type WitnessErrorCode, WitnessState } from "../src/index.js";

const ORIGIN = "lineage.example/rotating-log";
const T = 1_767_000_000_000;

/** A log built by hand: leaves (filler entries and rotation statements) and checkpoints signed by any key. */
class HandLog {
  readonly leaves: Uint8Array[] = [];

  filler(n: number): void {
    for (let i = 0; i < n; i++) this.leaves.push(new TextEncoder().encode(`entry ${this.leaves.length}`));
  }

  /** Appends a HUB_KEY leaf holding `envelope`; returns its index. */
  statement(envelope: DsseEnvelope, integratedAtMs = T): number {
    this.leaves.push(
      toBinary(
        LogLeafSchema,
        create(LogLeafSchema, {
          kind: LogEntryKind.HUB_KEY,
          envelope: envelopeToProto(envelope),
          integratedAt: timestampFromMs(integratedAtMs),
        }),
      ),
    );
    return this.leaves.length - 1;
  }

  /** Appends the hub's own ROTATE_ROOT statement from `from` to `to`. */
  rotate(to: Ed25519PrivateKey, from: Ed25519PrivateKey): number {
    return this.statement(rootRotationEnvelope(to, from, ORIGIN, T, "scheduled"));
  }

  get tree(): MerkleTree {
    return MerkleTree.fromLeaves(this.leaves);
  }

  note(size: number, key: Ed25519PrivateKey, previous = 0): string {
    return signCheckpoint(
      {
        origin: ORIGIN,
        size,
        rootHash: this.tree.root(size),
        extensions: [`lineage-previous-size ${previous}`],
      },
      [ed25519NoteSigner(ORIGIN, key)],
    );
  }

  /** The rotation at `index` with its inclusion proof in the tree of `size`. */
  proof(index: number, size = this.leaves.length): RootRotationProof {
    return { index, leaf: this.leaves[index] as Uint8Array, proof: this.tree.inclusionProof(index, size) };
  }

  /** An add-checkpoint body moving a witness from `oldSize` to `size`, signed by `key`. */
  body(oldSize: number, size: number, key: Ed25519PrivateKey, rotations: RootRotationProof[] = []): string {
    return formatAddCheckpointRequest({
      oldSize,
      proof: oldSize === 0 ? [] : this.tree.consistencyProof(oldSize, size),
      note: this.note(size, key, oldSize),
      rotations,
    });
  }
}

async function withWitness(
  r0: Ed25519PrivateKey,
  fn: (ctx: { w: Witness; dir: string; restart: () => Witness }) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "lineage-witness-rotation-"));
  const make = () =>
    new Witness({
      name: "witness.example/w1",
      key: witnessKey,
      // The operator configured the log's first root only, and never touches it again.
      logs: new Map([[ORIGIN, formatVerifierKey(ORIGIN, r0.publicKey)]]),
      state: new WitnessState(dir),
    });
  const witnessKey = Ed25519PrivateKey.generate();
  try {
    await fn({ w: make(), dir, restart: make });
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

async function storedRoots(dir: string): Promise<string[]> {
  const [file] = (await readdir(dir)).filter((n) => n.endsWith(".json"));
  const state = JSON.parse(await readFile(join(dir, file as string), "utf8")) as {
    roots?: Array<{ key: string }>;
  };
  return (state.roots ?? []).map((r) => r.key);
}

const hex = (k: Ed25519PrivateKey) => Buffer.from(k.publicKey.raw).toString("hex");

test("follows a proven rotation, then refuses the old root, keeps the new root across a restart, and follows a chain of rotations", async () => {
  const [r0, r1, r2, r3] = [0, 1, 2, 3].map(() => Ed25519PrivateKey.generate()) as [
    Ed25519PrivateKey,
    Ed25519PrivateKey,
    Ed25519PrivateKey,
    Ed25519PrivateKey,
  ];
  await withWitness(r0, async ({ w, dir, restart }) => {
    const log = new HandLog();
    log.filler(5);
    await w.addCheckpoint(log.body(0, 5, r0));
    const rot1 = log.rotate(r1, r0);
    log.filler(2);
    // The new root's checkpoint without the proof: the witness does not know that key.
    await refused(w.addCheckpoint(log.body(5, 8, r1)), "bad_signature");
    const adopted = await w.addCheckpoint(log.body(5, 8, r1, [log.proof(rot1)]));
    assert.equal(adopted.checkpoint.size, 8);
    assert.deepEqual(await storedRoots(dir), [hex(r0), hex(r1)]);
    // The old root signing a later checkpoint of the same (consistent) tree: refused from now on.
    log.filler(1);
    await refused(w.addCheckpoint(log.body(8, 9, r0)), "root_rotated_out");
    // A restarted witness (same configuration: the first root only) keeps the adopted root: a plain C2SP body.
    const again = restart();
    await again.addCheckpoint(log.body(8, 9, r1));
    await refused(again.addCheckpoint(log.body(9, 9, r0)), "root_rotated_out");
    // Two more rotations while the witness was not asked; the hub sends every rotation of its log: the one
    // already followed is skipped, the two new ones are followed in order.
    const rot2 = log.rotate(r2, r1);
    log.filler(1);
    const rot3 = log.rotate(r3, r2);
    log.filler(1);
    const size = log.leaves.length;
    const all = [log.proof(rot1), log.proof(rot2), log.proof(rot3)];
    await refused(again.addCheckpoint(log.body(9, size, r2, all)), "rotation_key_mismatch");
    await again.addCheckpoint(log.body(9, size, r3, all));
    assert.deepEqual(await storedRoots(dir), [hex(r0), hex(r1), hex(r2), hex(r3)]);
    log.filler(1);
    for (const old of [r0, r1, r2])
      await refused(again.addCheckpoint(log.body(size, size + 1, old)), "root_rotated_out");
    await again.addCheckpoint(log.body(size, size + 1, r3));
  });
});

test("a rotation not signed by the trusted root is refused (rotation_unauthorized)", async () => {
  const [r0, r1, mallory] = [0, 1, 2].map(() => Ed25519PrivateKey.generate()) as [
    Ed25519PrivateKey,
    Ed25519PrivateKey,
    Ed25519PrivateKey,
  ];
  await withWitness(r0, async ({ w }) => {
    const log = new HandLog();
    log.filler(3);
    await w.addCheckpoint(log.body(0, 3, r0));
    // Handed over by a key that is not the root (a thief of nothing but its own key).
    const forged = log.rotate(r1, mallory);
    // Naming the trusted root as signer but signed by the new key only (no handover signature).
    const payload = toBinary(
      HubKeyStatementSchema,
      create(HubKeyStatementSchema, {
        action: HubKeyAction.ROTATE_ROOT,
        purpose: HubKeyPurpose.ROOT,
        keyId: r1.keyId,
        publicKey: r1.publicKey.raw,
        rootKeyId: r0.keyId,
        origin: ORIGIN,
        issuedAt: timestampFromMs(T),
        reason: "self-made",
      }),
    );
    const selfSigned = log.statement(signEnvelope(PAYLOAD_TYPES.hubKey, payload, r1));
    log.filler(1);
    const size = log.leaves.length;
    for (const index of [forged, selfSigned])
      await refused(w.addCheckpoint(log.body(3, size, r1, [log.proof(index)])), "rotation_unauthorized");
    // Nothing was adopted: the trusted root still signs.
    await w.addCheckpoint(log.body(3, size, r0));
  });
});

test("a rotation whose inclusion proof does not reach the new checkpoint is refused (rotation_not_included)", async () => {
  const [r0, r1] = [0, 1].map(() => Ed25519PrivateKey.generate()) as [Ed25519PrivateKey, Ed25519PrivateKey];
  await withWitness(r0, async ({ w }) => {
    const log = new HandLog();
    log.filler(4);
    await w.addCheckpoint(log.body(0, 4, r0));
    const rot = log.rotate(r1, r0);
    log.filler(3);
    const good = log.proof(rot);
    const flipped = good.proof.map((h, i) => (i === 0 ? h.map((b, j) => (j === 0 ? b ^ 1 : b)) : h));
    const cases: RootRotationProof[] = [
      { ...good, proof: flipped },
      { ...good, proof: good.proof.slice(1) },
      // A valid statement claimed at another index (where the tree holds something else).
      { ...good, index: rot + 1, proof: log.tree.inclusionProof(rot + 1) },
      // The proof of the same leaf in an older tree (the statement was not in what this checkpoint commits to).
      { ...good, proof: log.tree.inclusionProof(rot, rot + 1) },
    ];
    for (const c of cases) await refused(w.addCheckpoint(log.body(4, 8, r1, [c])), "rotation_not_included");
    // A statement never logged at all: same bytes, a tree without it.
    const other = new HandLog();
    other.filler(4);
    other.filler(4);
    const notLogged = { index: 5, leaf: good.leaf, proof: other.tree.inclusionProof(5) };
    await refused(w.addCheckpoint(other.body(4, 8, r1, [notLogged])), "rotation_not_included");
    await w.addCheckpoint(log.body(4, 8, r1, [good]));
  });
});

test("a proven rotation does not admit a checkpoint signed by another key (rotation_key_mismatch)", async () => {
  const [r0, r1, r2] = [0, 1, 2].map(() => Ed25519PrivateKey.generate()) as [
    Ed25519PrivateKey,
    Ed25519PrivateKey,
    Ed25519PrivateKey,
  ];
  await withWitness(r0, async ({ w, dir }) => {
    const log = new HandLog();
    log.filler(2);
    await w.addCheckpoint(log.body(0, 2, r0));
    const rot = log.rotate(r1, r0);
    log.filler(1);
    await refused(w.addCheckpoint(log.body(2, 4, r2, [log.proof(rot)])), "rotation_key_mismatch");
    assert.deepEqual(await storedRoots(dir), [], "nothing adopted");
  });
});

test("rotations the auditor would refuse are refused (bad_rotation), and the witness keeps its root", async () => {
  const [r0, r1, r2, r5, d] = [0, 1, 2, 3, 4].map(() => Ed25519PrivateKey.generate()) as [
    Ed25519PrivateKey,
    Ed25519PrivateKey,
    Ed25519PrivateKey,
    Ed25519PrivateKey,
    Ed25519PrivateKey,
  ];
  await withWitness(r0, async ({ w, dir }) => {
    // A rotation inside the tree the old root already signed (and the witness cosigned): the old root signed
    // a tree holding its own rotation away, which the hub never does.
    const log = new HandLog();
    log.filler(2);
    const early = log.rotate(r1, r0);
    log.filler(2);
    await w.addCheckpoint(log.body(0, 5, r0));
    log.filler(1);
    await refused(w.addCheckpoint(log.body(5, 6, r1, [log.proof(early)])), "bad_rotation");
    // A delegation (signed by the root and the named key) sent as a rotation.
    const delegated = log.statement(delegationEnvelope("sessions", d, r0, ORIGIN, T, "delegated"));
    log.filler(1);
    await refused(w.addCheckpoint(log.body(5, 8, d, [log.proof(delegated)])), "bad_rotation");
    // A backdated rotation (issued an hour before its integration).
    const stale = log.statement(rootRotationEnvelope(r2, r0, ORIGIN, T - 3_600_000, "old"));
    log.filler(1);
    await refused(w.addCheckpoint(log.body(5, 10, r2, [log.proof(stale)])), "bad_rotation");
    assert.deepEqual(await storedRoots(dir), []);
    const good = log.rotate(r2, r0);
    log.filler(1);
    await w.addCheckpoint(log.body(5, 12, r2, [log.proof(good)]));
    // Back to a root it trusted before: signed by that root, it is a rollback; through it to a new key, the
    // chain is refused.
    const back = log.rotate(r0, r2);
    log.filler(1);
    await refused(w.addCheckpoint(log.body(12, 14, r0, [log.proof(back)])), "root_rotated_out");
    const onward = log.rotate(r5, r0);
    log.filler(1);
    await refused(
      w.addCheckpoint(log.body(12, 16, r5, [log.proof(back), log.proof(onward)])),
      "bad_rotation",
    );
    assert.deepEqual(await storedRoots(dir), [hex(r0), hex(r2)]);
  });
});
