/**
 * Issue 8, "separate hub keys per purpose with rotation logged and understood by the auditor"
 * (docs/specs/hub-keys.md): each attack on the hub's key set is a hand-built log (real Ed25519, real RFC 6962
 * proofs) whose bundle the auditor refuses with its own code.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { HubKeyAction, HubKeyPurpose, HubKeyStatementSchema, LogEntryKind } from "@lineage/api";
import { addSignature, type DsseEnvelope, Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import {
  type AuditErrorCode,
  AuditorState,
  isAuditError,
  type LogEntrySource,
  openHubCheckpoint,
  PAYLOAD_TYPES,
  readMemberHistory,
  trustWithRotations,
  verificationReport,
  verificationText,
  verifyBundle,
  verifyDisclosure,
} from "../src/index.js";
import { buildScenario, type HandLog, ORIGIN, type ScenarioOptions, T0, tableSuspect } from "./v2-fixture.js";

function expectAudit(code: AuditErrorCode) {
  return (e: unknown) => {
    assert.ok(isAuditError(e), `expected AuditError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

type Purpose = "membership" | "sessions" | "countersign" | "root";
const PURPOSE = {
  membership: HubKeyPurpose.MEMBERSHIP,
  sessions: HubKeyPurpose.SESSIONS,
  countersign: HubKeyPurpose.COUNTERSIGN,
  root: HubKeyPurpose.ROOT,
} as const;

/** A hub key statement envelope, signed by `signers` in order (the root first, then the named key). */
function statement(
  action: HubKeyAction,
  purpose: Purpose,
  key: Ed25519PrivateKey,
  root: Ed25519PrivateKey,
  signers: readonly Ed25519PrivateKey[] = action === HubKeyAction.RETIRE ? [root] : [root, key],
  init: { origin?: string; issuedAtMs?: number } = {},
): DsseEnvelope {
  const bytes = toBinary(
    HubKeyStatementSchema,
    create(HubKeyStatementSchema, {
      action,
      purpose: PURPOSE[purpose],
      keyId: key.keyId,
      publicKey: key.publicKey.raw,
      rootKeyId: root.keyId,
      origin: init.origin ?? ORIGIN,
      issuedAt: timestampFromMs(init.issuedAtMs ?? T0),
      reason: "test",
    }),
  );
  const [first, ...rest] = signers;
  let env = signEnvelope(PAYLOAD_TYPES.hubKey, bytes, first as Ed25519PrivateKey);
  for (const k of rest) env = addSignature(env, k);
  return env;
}

/** Purpose keys, delegated on an empty log by its root. */
function keySet() {
  return {
    membership: Ed25519PrivateKey.generate(),
    sessions: Ed25519PrivateKey.generate(),
    countersign: Ed25519PrivateKey.generate(),
  };
}

function delegateAll(log: HandLog, keys: ReturnType<typeof keySet>): void {
  for (const p of ["membership", "sessions", "countersign"] as const) {
    log.append(LogEntryKind.HUB_KEY, statement(HubKeyAction.DELEGATE, p, keys[p], log.hubKey));
  }
}

function delegated(keys = keySet(), more: Partial<ScenarioOptions> = {}): ScenarioOptions {
  return { preamble: (log) => delegateAll(log, keys), signers: keys, ...more };
}

function source(log: HandLog): LogEntrySource {
  return {
    async entries(start, end) {
      return log.leaves.slice(start, end).map((leaf, i) => ({ index: start + i, leaf }));
    },
  };
}

async function historyOf(s: Awaited<ReturnType<typeof buildScenario>>, trust = s.trust) {
  const cp = openHubCheckpoint(s.bundle.checkpoint?.signedNote ?? new Uint8Array(0), trust);
  return readMemberHistory(source(s.log), cp, 4);
}

test("a hub with purpose keys: the bundle carries the delegations and verifies offline and against the log", async () => {
  const s = await buildScenario(delegated());
  assert.equal(s.bundle.hubKeys.length, 3);
  const offline = verifyBundle(s.bundle, s.trust);
  assert.equal(offline.hubKeys.delegations.length, 3);
  assert.ok(offline.checks.some((c) => c.name === "hub_keys.statements" && c.passed));
  assert.deepEqual(
    verificationReport(offline).hub_keys.delegations.map((d) => [d.purpose, d.from_index, d.until_index]),
    [
      ["membership", 0, null],
      ["sessions", 1, null],
      ["countersign", 2, null],
    ],
  );
  assert.match(verificationText(offline), /hub keys\s+membership by [0-9a-f]{16} \(entry 0\)/);
  const online = verifyBundle(s.bundle, s.trust, { history: await historyOf(s) });
  assert.ok(online.checks.some((c) => c.name === "hub_keys.history" && c.passed));
});

test("a single-key hub's log (no delegation) still verifies: the root is every purpose's key until delegated", async () => {
  const s = await buildScenario();
  assert.equal(s.bundle.hubKeys.length, 0);
  verifyBundle(s.bundle, s.trust, { history: await historyOf(s) });
});

test("a membership record signed by the sessions key: wrong_purpose_key", async () => {
  const keys = keySet();
  const s = await buildScenario(delegated(keys, { signers: { ...keys, membership: keys.sessions } }));
  assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit("wrong_purpose_key"));
});

test("a session signed by the countersignature key: wrong_purpose_key", async () => {
  const keys = keySet();
  const s = await buildScenario(delegated(keys, { signers: { ...keys, sessions: keys.countersign } }));
  assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit("wrong_purpose_key"));
});

test("an attestation countersigned by the membership key: wrong_purpose_key", async () => {
  const keys = keySet();
  const s = await buildScenario(delegated(keys, { signers: { ...keys, countersign: keys.membership } }));
  assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit("wrong_purpose_key"));
});

test("the root key signing a membership record after membership was delegated: wrong_purpose_key", async () => {
  const keys = keySet();
  const s = await buildScenario(
    delegated(keys, { signers: { sessions: keys.sessions, countersign: keys.countersign } }),
  );
  assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit("wrong_purpose_key"));
});

test("a purpose key used before its delegation: hub_key_not_valid", async () => {
  // The countersignature key is delegated only just before the attestation; the sessions key signs the
  // session and sighting logged before its delegation.
  const keys = keySet();
  const s = await buildScenario({
    signers: { sessions: keys.sessions },
    beforeAttestation: (log) => {
      log.append(
        LogEntryKind.HUB_KEY,
        statement(HubKeyAction.DELEGATE, "sessions", keys.sessions, log.hubKey),
      );
    },
  });
  assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit("hub_key_not_valid"));
});

test("a purpose key used after it was replaced (rotation) or retired: hub_key_not_valid", async () => {
  const keys = keySet();
  const next = Ed25519PrivateKey.generate();
  const rotated = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => {
        log.append(LogEntryKind.HUB_KEY, statement(HubKeyAction.DELEGATE, "countersign", next, log.hubKey));
      },
    }),
  );
  assert.throws(() => verifyBundle(rotated.bundle, rotated.trust), expectAudit("hub_key_not_valid"));

  const retired = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => {
        log.append(
          LogEntryKind.HUB_KEY,
          statement(HubKeyAction.RETIRE, "countersign", keys.countersign, log.hubKey),
        );
      },
    }),
  );
  assert.throws(() => verifyBundle(retired.bundle, retired.trust), expectAudit("hub_key_not_valid"));

  // The rotation done right: the new key countersigns, and the bundle verifies.
  const ok = await buildScenario(
    delegated(keys, {
      signers: { ...keys, countersign: next },
      beforeAttestation: (log) => {
        log.append(LogEntryKind.HUB_KEY, statement(HubKeyAction.DELEGATE, "countersign", next, log.hubKey));
      },
    }),
  );
  verifyBundle(ok.bundle, ok.trust, { history: await historyOf(ok) });
});

test("a delegation not signed by the root key (or without the named key's signature): hub_key_unauthorized", async () => {
  const keys = keySet();
  const impostor = Ed25519PrivateKey.generate();
  const s = await buildScenario({
    signers: keys,
    preamble: (log) => {
      // Claims the real root's key id but is signed by another key.
      const forged = statement(HubKeyAction.DELEGATE, "membership", keys.membership, log.hubKey, [
        impostor,
        keys.membership,
      ]);
      log.append(LogEntryKind.HUB_KEY, forged);
      log.append(
        LogEntryKind.HUB_KEY,
        statement(HubKeyAction.DELEGATE, "sessions", keys.sessions, log.hubKey),
      );
      log.append(
        LogEntryKind.HUB_KEY,
        statement(HubKeyAction.DELEGATE, "countersign", keys.countersign, log.hubKey),
      );
    },
  });
  assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit("hub_key_unauthorized"));

  const noPossession = await buildScenario({
    signers: keys,
    preamble: (log) => {
      log.append(
        LogEntryKind.HUB_KEY,
        statement(HubKeyAction.DELEGATE, "membership", keys.membership, log.hubKey, [log.hubKey]),
      );
    },
  });
  assert.throws(
    () => verifyBundle(noPossession.bundle, noPossession.trust),
    expectAudit("hub_key_unauthorized"),
  );
});

test("one key delegated to two purposes, or a statement for another log: wrong_entry", async () => {
  const keys = keySet();
  const twice = await buildScenario({
    signers: { membership: keys.membership, sessions: keys.membership, countersign: keys.countersign },
    preamble: (log) => {
      log.append(
        LogEntryKind.HUB_KEY,
        statement(HubKeyAction.DELEGATE, "membership", keys.membership, log.hubKey),
      );
      log.append(
        LogEntryKind.HUB_KEY,
        statement(HubKeyAction.DELEGATE, "sessions", keys.membership, log.hubKey),
      );
    },
  });
  assert.throws(() => verifyBundle(twice.bundle, twice.trust), expectAudit("wrong_entry"));
  const otherLog = await buildScenario({
    signers: keys,
    preamble: (log) => {
      log.append(
        LogEntryKind.HUB_KEY,
        statement(HubKeyAction.DELEGATE, "membership", keys.membership, log.hubKey, undefined, {
          origin: "other.example/log",
        }),
      );
    },
  });
  assert.throws(() => verifyBundle(otherLog.bundle, otherLog.trust), expectAudit("wrong_entry"));
});

test("a delegation whose issued_at is far from its integration time: stale", async () => {
  const keys = keySet();
  const s = await buildScenario({
    signers: { membership: keys.membership },
    preamble: (log) => {
      log.append(
        LogEntryKind.HUB_KEY,
        statement(HubKeyAction.DELEGATE, "membership", keys.membership, log.hubKey, undefined, {
          issuedAtMs: T0 - 86_400_000,
        }),
      );
    },
  });
  assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit("stale"));
});

test("a bundle that leaves out the delegation its signatures rely on: refused, never taken on the bundle's word", async () => {
  const s = await buildScenario(delegated());
  s.bundle.hubKeys = [];
  // Offline, without the delegations the purpose keys are unknown.
  assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit("unknown_key"));
  // Against the log, the log's own statements are used and the bundle verifies.
  verifyBundle(s.bundle, s.trust, { history: await historyOf(s) });
});

test("a bundle that hides a later retirement: offline it verifies, against the log hub_key_not_valid", async () => {
  const keys = keySet();
  const s = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => {
        log.append(
          LogEntryKind.HUB_KEY,
          statement(HubKeyAction.RETIRE, "countersign", keys.countersign, log.hubKey),
        );
      },
    }),
  );
  s.bundle.hubKeys = s.bundle.hubKeys.slice(0, 3);
  verifyBundle(s.bundle, s.trust); // the bundle's word alone
  await assert.rejects(
    async () => verifyBundle(s.bundle, s.trust, { history: await historyOf(s) }),
    expectAudit("hub_key_not_valid"),
  );
});

test("root rotation: the old root names the new one; an auditor holding the old key follows it", async () => {
  const keys = keySet();
  const newRoot = Ed25519PrivateKey.generate();
  const s = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => {
        log.append(LogEntryKind.HUB_KEY, statement(HubKeyAction.ROTATE_ROOT, "root", newRoot, log.hubKey));
        log.signCheckpointsWith(newRoot);
      },
    }),
  );
  const v = verifyBundle(s.bundle, s.trust);
  assert.equal(v.hubKeys.rotations.length, 1);
  // The new root's signature line is the log's own, not an unknown cosigner.
  assert.equal(v.witnesses.unknown, 0);
  // The scan opens the checkpoint with the rotations the bundle carries, and the log agrees.
  const withRot = trustWithRotations(s.trust, v.hubKeys);
  verifyBundle(s.bundle, s.trust, { history: await historyOf(s, withRot) });
});

test("a checkpoint signed by the old root after its rotation: hub_key_not_valid", async () => {
  const keys = keySet();
  const newRoot = Ed25519PrivateKey.generate();
  const s = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => {
        log.append(LogEntryKind.HUB_KEY, statement(HubKeyAction.ROTATE_ROOT, "root", newRoot, log.hubKey));
      },
    }),
  );
  assert.throws(() => verifyBundle(s.bundle, s.trust), expectAudit("hub_key_not_valid"));
});

test("a checkpoint signed by a new root the old one never named: unknown_key; a rotation the old root did not sign: hub_key_unauthorized", async () => {
  const keys = keySet();
  const rogue = Ed25519PrivateKey.generate();
  const unnamed = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => log.signCheckpointsWith(rogue),
    }),
  );
  assert.throws(() => verifyBundle(unnamed.bundle, unnamed.trust), expectAudit("unknown_key"));
  const selfNamed = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => {
        log.append(
          LogEntryKind.HUB_KEY,
          statement(HubKeyAction.ROTATE_ROOT, "root", rogue, log.hubKey, [rogue]),
        );
        log.signCheckpointsWith(rogue);
      },
    }),
  );
  assert.throws(() => verifyBundle(selfNamed.bundle, selfNamed.trust), expectAudit("hub_key_unauthorized"));
});

test("a bundle hiding a root rotation, its checkpoint signed by the rotated-away root: against the log hub_key_not_valid", async () => {
  const keys = keySet();
  const newRoot = Ed25519PrivateKey.generate();
  const s = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => {
        // Rotated, yet the old root (say, stolen) goes on signing checkpoints.
        log.append(LogEntryKind.HUB_KEY, statement(HubKeyAction.ROTATE_ROOT, "root", newRoot, log.hubKey));
      },
    }),
  );
  s.bundle.hubKeys = s.bundle.hubKeys.slice(0, 3);
  verifyBundle(s.bundle, s.trust); // offline: cannot tell
  await assert.rejects(
    async () => verifyBundle(s.bundle, s.trust, { history: await historyOf(s) }),
    expectAudit("hub_key_not_valid"),
  );
});

test("the auditor's state records the rotated root: a later run holding only the old key opens the new root's checkpoints", async () => {
  const keys = keySet();
  const newRoot = Ed25519PrivateKey.generate();
  const s = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => {
        log.append(LogEntryKind.HUB_KEY, statement(HubKeyAction.ROTATE_ROOT, "root", newRoot, log.hubKey));
        log.signCheckpointsWith(newRoot);
      },
    }),
  );
  const note = s.bundle.checkpoint?.signedNote ?? new Uint8Array(0);
  assert.throws(() => openHubCheckpoint(note, s.trust), expectAudit("unknown_key"));
  const dir = await mkdtemp(join(tmpdir(), "lineage-hub-roots-"));
  const state = new AuditorState(dir);
  assert.equal(await state.withSavedRoots(s.trust), s.trust);
  const v = verifyBundle(s.bundle, s.trust);
  await state.saveRoots(trustWithRotations(s.trust, v.hubKeys));
  const later = await new AuditorState(dir).withSavedRoots(s.trust);
  assert.equal(later.rotations?.length, 1);
  assert.equal(openHubCheckpoint(note, later).size, s.log.leaves.length);
  // A damaged file is the auditor's own problem, not the hub's: unavailable, naming the file.
  const [roots] = (await readdir(dir)).filter((f) => f.endsWith(".roots"));
  await writeFile(join(dir, roots as string), "garbage\n");
  await assert.rejects(new AuditorState(dir).withSavedRoots(s.trust), expectAudit("unavailable"));
});

test("a canary disclosure across a root rotation: label checkpoint by the old root, seed checkpoint by the new one", async () => {
  const keys = keySet();
  const newRoot = Ed25519PrivateKey.generate();
  const s = await buildScenario(
    delegated(keys, {
      beforeAttestation: (log) => {
        log.append(LogEntryKind.HUB_KEY, statement(HubKeyAction.ROTATE_ROOT, "root", newRoot, log.hubKey));
        log.signCheckpointsWith(newRoot);
      },
    }),
  );
  const copy = tableSuspect(s.pairs, (i, item) => (item === s.labels[i] ? i % 8 !== 7 : i % 10 === 0));
  const live = await verifyDisclosure(s.bundle, s.disclosure(), [], s.trust, { suspect: copy });
  assert.equal(live.outcome, "verified");
});
