/**
 * Witnesses and saved state in `audit verify` (issue 8), on a log built with real crypto (v2-fixture.ts)
 * and real cosignature/v1 keys: too few / unknown / forged / replayed cosignatures each fail with their own
 * code; a bundle checkpoint that contradicts the one the auditor saved fails `inconsistent_with_saved` and
 * leaves evidence; the CLI requires a witness by default once a witness key is trusted and waives it only
 * loudly.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { clone, create } from "@bufbuild/protobuf";
import {
  type AttestationBundle,
  AttestationBundleSchema,
  type CanaryDisclosure,
  CanaryDisclosureSchema,
  DisclosedCanaryPairSchema,
} from "@lineage/api";
import {
  cosignatureV1Signer,
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatCosignatureVerifierKey,
  formatVerifierKey,
  parseNote,
  signCheckpoint,
  signNote,
  witnessedDisclosurePairIndices,
} from "@lineage/crypto";
import {
  AuditorState,
  bundleToJson,
  checkAgainstSaved,
  isAuditError,
  SEED_COSIGN_WINDOW_S,
  verifyBundle,
  verifyDisclosure,
  withWitnesses,
} from "../src/index.js";
import { buildScenario, ORIGIN, T0, tableSuspect } from "./v2-fixture.js";

const CLI = new URL("../../cli/bin/lineage.js", import.meta.url).pathname;

function cli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { encoding: "utf8", env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

function expectAudit(code: string) {
  return (err: unknown) => {
    assert.ok(isAuditError(err), `expected AuditError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

const w1 = { name: "witness.example/w1", key: Ed25519PrivateKey.generate() };
const w2 = { name: "witness.example/w2", key: Ed25519PrivateKey.generate() };
const stranger = { name: "witness.example/stranger", key: Ed25519PrivateKey.generate() };
const vkeyOf = (w: { name: string; key: Ed25519PrivateKey }) =>
  formatCosignatureVerifierKey(w.name, w.key.publicKey);

/** The cosignature line of witness `w` over the note's text. */
function cosignLine(note: string, w: { name: string; key: Ed25519PrivateKey }, t = 1_767_000_000): string {
  const { text } = parseNote(note);
  return signNote(text, [cosignatureV1Signer(w.name, w.key, () => t)]).slice(text.length + 1);
}

function withNote(bundle: AttestationBundle, note: string): AttestationBundle {
  const b = clone(AttestationBundleSchema, bundle);
  (b.checkpoint as { signedNote: Uint8Array }).signedNote = new TextEncoder().encode(note);
  return b;
}

const noteOf = (b: AttestationBundle) => new TextDecoder().decode(b.checkpoint?.signedNote);

test("a checkpoint cosigned by enough trusted witnesses verifies; too few, unknown, forged or replayed ones fail", async () => {
  const s = await buildScenario();
  const trust = withWitnesses(s.trust, [vkeyOf(w1), vkeyOf(w2)]);
  const note = noteOf(s.bundle);
  const both = withNote(s.bundle, note + cosignLine(note, w1) + cosignLine(note, w2));
  const r = verifyBundle(both, trust, { witnessQuorum: 2 });
  assert.deepEqual(
    r.witnesses.cosigners.map((c) => c.split("+")[0]),
    [w1.name, w2.name],
  );
  // Default quorum with witnesses in the trust root: 1.
  verifyBundle(withNote(s.bundle, note + cosignLine(note, w2)), trust);
  // No cosignature at all.
  assert.throws(() => verifyBundle(s.bundle, trust), expectAudit("witness_quorum"));
  // Only one of two required.
  assert.throws(
    () => verifyBundle(withNote(s.bundle, note + cosignLine(note, w1)), trust, { witnessQuorum: 2 }),
    expectAudit("witness_quorum"),
  );
  // The same witness twice counts once.
  assert.throws(
    () =>
      verifyBundle(
        withNote(s.bundle, note + cosignLine(note, w1) + cosignLine(note, w1, 1_767_000_001)),
        trust,
        {
          witnessQuorum: 2,
        },
      ),
    expectAudit("witness_quorum"),
  );
  // Cosigned only by a key the trust root does not list.
  assert.throws(
    () => verifyBundle(withNote(s.bundle, note + cosignLine(note, stranger)), trust),
    expectAudit("witness_quorum"),
  );
  // A forged line under w1's name and key id: one bit of the signature flipped.
  const line = cosignLine(note, w1);
  const raw = Buffer.from(line.trim().split(" ")[2] as string, "base64");
  raw[20] = (raw[20] as number) ^ 1;
  const forged = `— ${w1.name} ${raw.toString("base64")}\n`;
  assert.throws(
    () => verifyBundle(withNote(s.bundle, note + forged + cosignLine(note, w2)), trust),
    expectAudit("bad_cosignature"),
  );
  // A genuine w1 cosignature of ANOTHER checkpoint of this log (replayed onto this one).
  const other = signCheckpoint({ origin: ORIGIN, size: 1, rootHash: s.log.root(1) }, [
    ed25519NoteSigner(ORIGIN, s.log.hubKey),
  ]);
  assert.throws(
    () => verifyBundle(withNote(s.bundle, note + cosignLine(other, w1)), trust),
    expectAudit("bad_cosignature"),
  );
  // Without witnesses in the trust root nothing is required (the CLI says so loudly).
  assert.equal(verifyBundle(s.bundle, s.trust).witnesses.required, 0);
});

test("witness keys in the trust root are checked: malformed, a log (0x01) key, duplicates, the log's own key", async () => {
  const s = await buildScenario();
  assert.throws(() => withWitnesses(s.trust, ["nonsense"]), expectAudit("invalid_argument"));
  assert.throws(
    () => withWitnesses(s.trust, [formatVerifierKey(w1.name, w1.key.publicKey)]),
    expectAudit("invalid_argument"),
  );
  assert.throws(() => withWitnesses(s.trust, [vkeyOf(w1), vkeyOf(w1)]), expectAudit("invalid_argument"));
  const wrongId = vkeyOf(w1).replace(
    /\+([0-9a-f]{8})\+/,
    (_, h: string) => `+${h === "00000000" ? "00000001" : "00000000"}+`,
  );
  assert.throws(() => withWitnesses(s.trust, [wrongId]), expectAudit("invalid_argument"));
});

test("the bundle's checkpoint is checked against the saved one: same, extended, forked, rolled back", async () => {
  const s = await buildScenario();
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-saved-"));
  try {
    const state = new AuditorState(dir);
    const note = noteOf(s.bundle);
    const size = Number(note.split("\n")[1]);
    const proofs = { consistencyProof: async (a: number, b: number) => s.log.consistency(a, b) };
    assert.equal((await checkAgainstSaved(state, s.trust, note)).outcome, "first_contact");
    assert.equal((await checkAgainstSaved(state, s.trust, note)).outcome, "same");
    // The same hub key signs another root for the same size: a fork.
    const signer = ed25519NoteSigner(ORIGIN, s.log.hubKey);
    const fork = signCheckpoint({ origin: ORIGIN, size, rootHash: new Uint8Array(32).fill(7) }, [signer]);
    await assert.rejects(checkAgainstSaved(state, s.trust, fork), expectAudit("inconsistent_with_saved"));
    assert.ok((await readdir(dir)).some((f) => f.startsWith("evidence-inconsistent_with_saved")));
    // An older checkpoint of the real log is consistent (proof from the "hub"); offline it is not checked.
    const older = signCheckpoint({ origin: ORIGIN, size: size - 2, rootHash: s.log.root(size - 2) }, [
      signer,
    ]);
    assert.equal((await checkAgainstSaved(state, s.trust, older)).outcome, "not_checked_offline");
    assert.equal((await checkAgainstSaved(state, s.trust, older, proofs)).outcome, "consistent");
    // A bigger tree that does not extend the saved one (forked history with a valid-looking proof).
    const bigFork = signCheckpoint({ origin: ORIGIN, size: size + 3, rootHash: new Uint8Array(32).fill(9) }, [
      signer,
    ]);
    const leaf = new Uint8Array(32).fill(1);
    await assert.rejects(
      checkAgainstSaved(state, s.trust, bigFork, { consistencyProof: async () => [leaf, leaf, leaf] }),
      expectAudit("inconsistent_with_saved"),
    );
    // The saved checkpoint did not move on any failure: the honest one is still "same".
    assert.equal((await checkAgainstSaved(state, s.trust, note)).outcome, "same");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("lineage audit verify: witness required by default with --witness-key, --witnesses N, loud waiver, saved state", async () => {
  const s = await buildScenario();
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-witness-cli-"));
  try {
    const note = noteOf(s.bundle);
    const plain = join(dir, "plain.json");
    const cosigned = join(dir, "cosigned.json");
    await writeFile(plain, bundleToJson(s.bundle));
    await writeFile(cosigned, bundleToJson(withNote(s.bundle, note + cosignLine(note, w1))));
    const base = [
      "audit",
      "verify",
      "--log-key",
      s.log.verifierKey,
      "--offline",
      "--json",
      "--state",
      join(dir, "st"),
    ];
    const missing = await cli([...base, plain, "--witness-key", vkeyOf(w1)]);
    assert.equal(missing.status, 1, missing.stderr);
    assert.equal(JSON.parse(missing.stdout).code, "witness_quorum");
    const ok = await cli([...base, cosigned, "--witness-key", vkeyOf(w1)]);
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
    const j = JSON.parse(ok.stdout);
    assert.equal(j.witnesses.required, 1);
    assert.equal(j.witnesses.cosigners.length, 1);
    assert.equal(j.saved_state, "first_contact");
    // From the environment, as an auditor's profile would set it.
    const env = await cli([...base, cosigned], { LINEAGE_WITNESS_KEYS: `${vkeyOf(w2)} ${vkeyOf(w1)}` });
    assert.equal(env.status, 0, env.stderr + env.stdout);
    assert.equal(JSON.parse(env.stdout).saved_state, "same");
    const two = await cli([
      ...base,
      cosigned,
      "--witness-key",
      vkeyOf(w1),
      "--witness-key",
      vkeyOf(w2),
      "--witnesses",
      "2",
    ]);
    assert.equal(two.status, 1);
    assert.equal(JSON.parse(two.stdout).code, "witness_quorum");
    const tooMany = await cli([...base, cosigned, "--witness-key", vkeyOf(w1), "--witnesses", "2"]);
    assert.equal(tooMany.status, 2);
    assert.match(tooMany.stderr, /--witnesses 2 needs at least 2 --witness-key/);
    const badKey = await cli([...base, cosigned, "--witness-key", "junk"]);
    assert.equal(badKey.status, 2);
    assert.match(badKey.stderr, /--witness-key/);
    const waived = await cli([...base, plain, "--witness-key", vkeyOf(w1), "--no-witness-check"]);
    assert.equal(waived.status, 0, waived.stderr + waived.stdout);
    assert.match(waived.stderr, /WITNESS CHECK WAIVED/);
    assert.equal(JSON.parse(waived.stdout).witnesses.waived, true);
    const none = await cli([...base, plain]);
    assert.equal(none.status, 0, none.stderr + none.stdout);
    assert.match(none.stderr, /NO WITNESS REQUIRED/);
    // This auditor once saw (and saved) another root for the bundle's size: the honest-looking bundle is
    // one side of a split view, and even a witness-cosigned copy of it is refused.
    const forkDir = join(dir, "forked-state");
    const fork = signCheckpoint(
      { origin: ORIGIN, size: Number(note.split("\n")[1]), rootHash: new Uint8Array(32).fill(3) },
      [ed25519NoteSigner(ORIGIN, s.log.hubKey)],
    );
    await checkAgainstSaved(new AuditorState(forkDir), s.trust, fork);
    const split = await cli([
      ...base.slice(0, -2),
      "--state",
      forkDir,
      cosigned,
      "--witness-key",
      vkeyOf(w1),
    ]);
    assert.equal(split.status, 1, split.stderr + split.stdout);
    assert.equal(JSON.parse(split.stdout).code, "inconsistent_with_saved");
    assert.ok((await readdir(forkDir)).some((f) => f.startsWith("evidence-inconsistent_with_saved")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("witnessed disclosure seed (v2): the seed checkpoint's cosignatures decide the sample; v1, late or mismatched seeds fail", async () => {
  const s = await buildScenario();
  const trust = withWitnesses(s.trust, [vkeyOf(w1), vkeyOf(w2)]);
  const t0 = Math.floor(T0 / 1000); // the fixture's integration time of every entry
  const note = noteOf(s.bundle);
  const bundle = withNote(s.bundle, note + cosignLine(note, w1, t0 + 5));
  const copy = tableSuspect(s.pairs, (i, item) => (item === s.labels[i] ? i % 8 !== 7 : i % 10 === 0));

  /** The member's witnessed disclosure: the seed checkpoint as cosigned, the sample from `counted` lines. */
  function witnessed(lines: readonly string[], counted = lines): CanaryDisclosure {
    const d = clone(CanaryDisclosureSchema, s.disclosure());
    const seedNote = new TextDecoder().decode(d.seed?.checkpoint?.signedNote) + lines.join("");
    (d.seed?.checkpoint as { signedNote: Uint8Array }).signedNote = new TextEncoder().encode(seedNote);
    const sigs = parseNote(
      new TextDecoder().decode(d.seed?.checkpoint?.signedNote).slice(0, seedNote.indexOf("\n\n") + 2) +
        counted.join(""),
    ).signatures;
    const idx = witnessedDisclosurePairIndices({
      checkpointRoot: s.log.root(Number(seedNote.split("\n")[1])),
      commitmentRoot: s.committed.root,
      origin: ORIGIN,
      attestationIndex: s.attestationIndex,
      pairsCommitted: s.committed.size,
      cosignatures: sigs.filter((x) => x.signature.length === 72),
    });
    d.pairs = idx.map((i) => {
      const p = s.committed.disclose(i);
      return create(DisclosedCanaryPairSchema, {
        leafIndex: BigInt(i),
        salt: p.salt,
        pairId: p.pair.pairId,
        promptA: p.pair.a.prompt,
        expectedA: p.pair.a.expected,
        promptB: p.pair.b.prompt,
        expectedB: p.pair.b.expected,
        path: [...p.proof],
      });
    });
    return d;
  }
  const seedText = new TextDecoder().decode(s.disclosure().seed?.checkpoint?.signedNote);
  const l1 = cosignLine(seedText, w1, t0 + 1);
  const l2 = cosignLine(seedText, w2, t0 + 2);
  const ok = await verifyDisclosure(bundle, witnessed([l1, l2]), [], trust, { suspect: copy });
  assert.equal(ok.outcome, "verified");
  assert.match(
    ok.checks.find((c) => c.name === "disclosure.sample")?.detail ?? "",
    /witnessed seed \(v2\): 2/,
  );
  // The v1 package (what a member without witnesses builds): its seed checkpoint carries no cosignature.
  await assert.rejects(
    verifyDisclosure(bundle, s.disclosure(), [], trust, { suspect: copy }),
    expectAudit("witness_quorum"),
  );
  // Both lines shown, the sample drawn from one of them only: not the seed of what is shown.
  await assert.rejects(
    verifyDisclosure(bundle, witnessed([l1, l2], [l1]), [], trust, { suspect: copy }),
    expectAudit("sample_mismatch"),
  );
  // A cosignature made long after the attestation (a seed checkpoint held back from the witnesses).
  const late = cosignLine(seedText, w1, t0 + SEED_COSIGN_WINDOW_S + 1);
  await assert.rejects(
    verifyDisclosure(bundle, witnessed([late]), [], trust, { suspect: copy }),
    expectAudit("seed_not_witnessed"),
  );
  // A forged line under w2's key.
  const raw = Buffer.from(l2.trim().split(" ")[2] as string, "base64");
  raw[30] = (raw[30] as number) ^ 1;
  await assert.rejects(
    verifyDisclosure(bundle, witnessed([l1, `— ${w2.name} ${raw.toString("base64")}\n`]), [], trust, {
      suspect: copy,
    }),
    expectAudit("bad_cosignature"),
  );
  // Without witnesses in the trust root the v1 seed still verifies (and says it could have been ground).
  const v1 = await verifyDisclosure(s.bundle, s.disclosure(), [], s.trust, { suspect: copy });
  assert.match(v1.checks.find((c) => c.name === "disclosure.sample")?.detail ?? "", /seed v1/);
});
