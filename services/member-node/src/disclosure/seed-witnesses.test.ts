import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cosignatureV1Signer,
  Ed25519PrivateKey,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatCheckpoint,
  formatCosignatureVerifierKey,
  openCheckpoint,
  parseCosignatureVerifierKey,
  parseNote,
  signNote,
} from "@lineage/crypto";
import { isMemberNodeError } from "../member-node-error.js";
import { countSeedCosignatures, parseSeedWitnesses, SEED_COSIGN_WINDOW_S } from "./seed-witnesses.js";

const ORIGIN = "lineage.test/seed";
const hub = Ed25519PrivateKey.generate();
const logSigner = ed25519NoteSigner(ORIGIN, hub);
const w = [Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()];
const names = ["w.test/one", "w.test/two", "w.test/three"];
const vkeys = w.map((k, i) => formatCosignatureVerifierKey(names[i] as string, k.publicKey));
const INTEGRATED_MS = 1_800_000_000_000;
const T = INTEGRATED_MS / 1000;
const text = formatCheckpoint({ origin: ORIGIN, size: 5, rootHash: new Uint8Array(32).fill(4) });

function note(times: readonly number[]): Uint8Array {
  const signers = [
    logSigner,
    ...times.map((t, i) => cosignatureV1Signer(names[i] as string, w[i] as Ed25519PrivateKey, () => t)),
  ];
  return new TextEncoder().encode(signNote(text, signers));
}
const code = (c: string) => (e: unknown) => isMemberNodeError(e, c as never);

test("parseSeedWitnesses: none -> v1; bad keys, repeats and quorums are refused naming what is wrong", () => {
  assert.equal(parseSeedWitnesses([], 0), undefined);
  assert.throws(() => parseSeedWitnesses([], 1), /witness_quorum is set but no witness_keys/);
  assert.throws(() => parseSeedWitnesses(["x"], 0), /witness_keys\[0\] is not a witness verifier key/);
  assert.throws(
    () => parseSeedWitnesses([vkeys[0] as string, vkeys[0] as string], 0),
    /witness_keys\[1\] repeats a witness/,
  );
  // One key under two names is one party: it must not count twice toward the quorum.
  assert.throws(
    () =>
      parseSeedWitnesses(
        [
          vkeys[0] as string,
          formatCosignatureVerifierKey("other.example/alias", (w[0] as (typeof w)[0]).publicKey),
        ],
        2,
      ),
    /witness_keys\[1\] repeats a witness/,
  );
  assert.throws(() => parseSeedWitnesses(vkeys, 4), /witness_quorum must be 1\.\.3/);
  assert.throws(() => parseSeedWitnesses(Array(33).fill(vkeys[0]), 0), /at most 32 witnesses/);
  assert.equal(parseSeedWitnesses(vkeys, 0)?.quorum, 1);
  assert.equal(parseSeedWitnesses(vkeys, 3)?.keys.length, 3);
});

test("countSeedCosignatures counts the named witnesses' lines and serves the note with only them and the hub's", () => {
  const all = note([T + 10, T + 20, T + 30]);
  const named = parseSeedWitnesses([vkeys[0] as string, vkeys[2] as string], 2);
  assert.ok(named);
  const counted = countSeedCosignatures(all, named, logSigner, INTEGRATED_MS);
  assert.deepEqual(
    counted.cosignatures.map((c) => c.name),
    ["w.test/one", "w.test/three"],
  );
  const reduced = parseNote(counted.note);
  assert.deepEqual(
    reduced.signatures.map((s) => s.name),
    [ORIGIN, "w.test/one", "w.test/three"],
  );
  // Still the hub's checkpoint, with both counted cosignatures verifying.
  const opened = openCheckpoint(counted.note, {
    log: ed25519NoteVerifier(ORIGIN, hub.publicKey),
    witnesses: [vkeys[0], vkeys[2]].map((k) => parseCosignatureVerifierKey(k as string).verifier),
    witnessThreshold: 2,
  });
  assert.equal(opened.checkpoint.size, 5);
});

test("countSeedCosignatures refuses too few, forged and out-of-window cosignatures", () => {
  const one = parseSeedWitnesses([vkeys[0] as string], 0);
  const two = parseSeedWitnesses([vkeys[0] as string, vkeys[1] as string], 2);
  assert.ok(one && two);
  // Only the first witness cosigned: a quorum of two is not met (a retry may help once it is).
  assert.throws(
    () => countSeedCosignatures(note([T + 1]), two, logSigner, INTEGRATED_MS),
    (e) =>
      code("failed_precondition")(e) &&
      /1 cosignature\(s\) by the named witnesses, 2 required/.test(String(e)),
  );
  // A line under a named witness's key whose signature was altered.
  const good = new TextDecoder().decode(note([T + 1]));
  const lines = good.split("\n");
  const last = lines[lines.length - 2] as string;
  const raw = Buffer.from(last.split(" ")[2] as string, "base64");
  raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1;
  lines[lines.length - 2] = `${last.split(" ").slice(0, 2).join(" ")} ${raw.toString("base64")}`;
  assert.throws(
    () => countSeedCosignatures(new TextEncoder().encode(lines.join("\n")), one, logSigner, INTEGRATED_MS),
    code("bad_signature"),
  );
  // Cosigned before the attestation was integrated, or later than the window after it.
  for (const t of [T - 1, T + SEED_COSIGN_WINDOW_S + 1])
    assert.throws(
      () => countSeedCosignatures(note([t]), one, logSigner, INTEGRATED_MS),
      (e) => code("failed_precondition")(e) && /outside \[/.test(String(e)),
      String(t),
    );
  assert.equal(
    countSeedCosignatures(note([T + SEED_COSIGN_WINDOW_S]), one, logSigner, INTEGRATED_MS).cosignatures
      .length,
    1,
  );
  assert.throws(
    () => countSeedCosignatures(new TextEncoder().encode("not a note"), one, logSigner, INTEGRATED_MS),
    code("malformed"),
  );
});
