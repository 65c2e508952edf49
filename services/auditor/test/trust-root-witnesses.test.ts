/**
 * Witness keys in the auditor's trust root: the quorum counts distinct witnesses, so one Ed25519 key listed
 * under two names, or the hub's own key listed as a witness, would let one party (the hub) satisfy it alone.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cosignatureV1Signer,
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatCosignatureVerifierKey,
  formatVerifierKey,
  parseCosignatureVerifierKey,
  parseNote,
  signCheckpoint,
  signNote,
} from "@lineage/crypto";
import { checkWitnessQuorum, isAuditError, trustRootFromVerifierKey, withWitnesses } from "../src/index.js";

const ORIGIN = "hub.example/log";

test("one key under two witness names, or the hub's key as a witness, is refused; distinct keys count", () => {
  const hub = Ed25519PrivateKey.generate();
  const trust = trustRootFromVerifierKey(formatVerifierKey(ORIGIN, hub.publicKey), ORIGIN);
  const w = Ed25519PrivateKey.generate();
  const refused = (keys: string[], re: RegExp) =>
    assert.throws(
      () => withWitnesses(trust, keys),
      (err: unknown) => isAuditError(err, "invalid_argument") && re.test(err.message),
    );
  refused(
    [
      formatCosignatureVerifierKey("w.example/a", w.publicKey),
      formatCosignatureVerifierKey("w.example/b", w.publicKey),
    ],
    /witness key 2 \(w\.example\/b\) has the public key of witness key 1: one party would count twice/,
  );
  refused(
    [formatCosignatureVerifierKey("w.example/self", hub.publicKey)],
    /witness key 1 \(w\.example\/self\) is the hub's own key/,
  );

  // What the refusal prevents: with the hub's key trusted as a witness, the hub cosigns its own checkpoint.
  const note = signCheckpoint({ origin: ORIGIN, size: 3, rootHash: new Uint8Array(32) }, [
    ed25519NoteSigner(ORIGIN, hub),
  ]);
  const text = parseNote(note).text;
  const selfCosigned =
    note +
    signNote(text, [cosignatureV1Signer("w.example/self", hub, () => 1_700_000_000)]).slice(text.length + 1);
  const naive = {
    ...trust,
    witnesses: [
      parseCosignatureVerifierKey(formatCosignatureVerifierKey("w.example/self", hub.publicKey)).verifier,
    ],
  };
  assert.equal(checkWitnessQuorum(selfCosigned, naive, 1).cosigners.length, 1);

  // Two distinct keys are two witnesses.
  const w2 = Ed25519PrivateKey.generate();
  const ok = withWitnesses(trust, [
    formatCosignatureVerifierKey("w.example/a", w.publicKey),
    formatCosignatureVerifierKey("w.example/b", w2.publicKey),
  ]);
  assert.equal(ok.witnesses?.length, 2);
});
