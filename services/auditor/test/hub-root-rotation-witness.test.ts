/**
 * Issue 8 end to end: a hub whose checkpoints a real witness cosigns rotates its root, twice, and nobody is
 * reconfigured. The witness is `lineage witness serve` in its own process, configured with the log's FIRST root
 * only; the hub is a real TransparencyLog (PGlite) with its witness client (services/hub witness-client.ts); the
 * auditor trusts the first root and the witness and requires one cosignature. After each rotation the witness
 * follows the logged ROTATE_ROOT the hub sends it (docs/specs/witness.md, "Following a root rotation"), keeps
 * cosigning, and an attestation logged after the rotation verifies with its cosignature. The witness keeps the
 * adopted root across a restart (a plain C2SP request signed by the new root is cosigned) and refuses the old
 * root from then on.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SuspectSource } from "@lineage/api";
import {
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatAddCheckpointRequest,
  formatVerifierKey,
  signCheckpoint,
} from "@lineage/crypto";
import {
  buildAttestationBundle,
  enrolmentRecord,
  signMembership,
  startWitnessing,
  TransparencyLog,
} from "@lineage/hub";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { checkWitnessQuorum, trustRootFromVerifierKey, verifyBundle, withWitnesses } from "../src/index.js";
import { runHubV2Flow } from "./hub-v2-flow.js";
import { makePairs, tableSuspect } from "./v2-fixture.js";

const CLI = new URL("../../cli/bin/lineage.js", import.meta.url).pathname;
const ORIGIN = "lineage.test/rotating-witnessed";
const WITNESS = "witness.test/w1";
const DAY = 86_400_000;

function cli(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { cwd, encoding: "utf8" }, (err, stdout, stderr) =>
      err === null ? resolve(stdout) : reject(new Error(`lineage ${args.join(" ")}: ${stderr}`)),
    );
  });
}

/** `lineage witness serve` in a child process; resolves once it printed its URL. */
async function serveWitness(
  cwd: string,
): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      ...["witness", "serve", "--name", WITNESS, "--key", "w.pem", "--state", "state"],
      ...["--log", `${ORIGIN}=first-root.vkey`, "--listen", "127.0.0.1:0", "--json"],
    ],
    { cwd, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    await exited;
  };
  for (let i = 0; i < 600; i++) {
    // `--json` prints one (pretty-printed) object once it listens.
    const text = out.trim();
    if (text.endsWith("}")) {
      try {
        return { url: (JSON.parse(text) as { url: string }).url, child, stop };
      } catch {
        // not complete yet
      }
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`witness serve did not start: ${err}`);
}

test("a witnessed hub rotates its root twice: the witness follows, keeps cosigning across a restart, and auditors needing one cosignature verify new attestations", {
  timeout: 240_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-rotation-witnessed-"));
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const [r0, r1, r2] = [0, 1, 2].map(() => Ed25519PrivateKey.generate()) as [
    Ed25519PrivateKey,
    Ed25519PrivateKey,
    Ed25519PrivateKey,
  ];
  const firstRoot = formatVerifierKey(ORIGIN, r0.publicKey);
  await writeFile(join(dir, "first-root.vkey"), `${firstRoot}\n`);
  const wkey = (
    JSON.parse(await cli(dir, ["witness", "init", "--name", WITNESS, "--out", "w.pem", "--json"])) as {
      witness_verifier_key: string;
    }
  ).witness_verifier_key;
  let witness = await serveWitness(dir);
  await using log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey: r0,
    checkpointEvery: 1_000_000,
    checkpointIntervalMs: 3_600_000,
  });
  const errors: unknown[] = [];
  let witnessing = startWitnessing({
    log,
    witnesses: [{ url: witness.url, verifierKey: wkey }],
    onError: (e) => errors.push(e),
  });
  // The auditor: the log's first root and the witness, one cosignature required.
  const trust = withWitnesses(trustRootFromVerifierKey(firstRoot, ORIGIN), [wkey]);
  const now = Date.now();
  const pairs = makePairs(24);
  const attest = async (member: string) => {
    const key = Ed25519PrivateKey.generate();
    await log.appendMembership(
      signMembership(enrolmentRecord(member, member, key.publicKey, now - DAY, { effectiveAtMs: now }), [
        key,
      ]),
    );
    const flow = await runHubV2Flow(
      log,
      key,
      member,
      pairs,
      (l) => tableSuspect(pairs, (i, it) => it === l[i]),
      {
        sessionId: `session-${member}`,
        suspectId: `suspect-${member}`,
        atMs: now,
      },
    );
    await log.checkpoint();
    await witnessing.settled();
    const bundle = await buildAttestationBundle(log, { logIndex: flow.attestationIndex });
    const v = verifyBundle(bundle, trust, { witnessQuorum: 1 });
    assert.deepEqual(
      v.checks.filter((c) => !c.passed).map((c) => c.name),
      [],
      `the attestation of ${member} verifies with the witness's cosignature`,
    );
    assert.equal(v.witnesses.cosigners.length, 1);
    return flow.attestationIndex;
  };
  try {
    await attest("alice");
    const rot1 = await log.rotateRoot(r1, "scheduled root rotation");
    assert.equal(log.hubPublicKey.keyId, r1.keyId);
    await attest("bob");
    // The witness's state names the adopted root; a restarted witness keeps it.
    const stateFile = (await readdir(join(dir, "state"))).find((n) => n.endsWith(".json"));
    const state = await readFile(join(dir, "state", stateFile as string), "utf8");
    assert.deepEqual(
      (JSON.parse(state) as { roots: Array<{ index: number }> }).roots.map((r) => r.index),
      [-1, rot1.index],
    );
    await witnessing.close();
    await witness.stop();
    witness = await serveWitness(dir);
    // A plain C2SP add-checkpoint (no rotation carried) signed by the new root: cosigned after the restart.
    await log.appendSighting({ suspect: { suspectId: "after-restart" }, source: SuspectSource.FEED_ADAPTER });
    const held = log.latestCheckpoint;
    assert.ok(held !== undefined);
    const cp = await log.checkpoint();
    const post = (body: string) => fetch(`${witness.url}/add-checkpoint`, { method: "POST", body });
    const plain = await post(
      formatAddCheckpointRequest({
        oldSize: held.treeSize,
        proof: await log.consistencyProof(held.treeSize, cp.treeSize),
        note: cp.note,
      }),
    );
    assert.equal(plain.status, 200, await plain.clone().text());
    const line = await plain.text();
    assert.equal(
      checkWitnessQuorum(
        cp.note + line,
        { ...trust, rotations: [{ index: rot1.index, key: r1.publicKey }] },
        1,
      ).cosigners.length,
      1,
    );
    // The old root signing the same tree: refused (rollback to the rotated-out root).
    const oldSigned = signCheckpoint(
      {
        origin: ORIGIN,
        size: cp.treeSize,
        rootHash: cp.rootHash,
        extensions: [`lineage-previous-size ${held.treeSize}`],
      },
      [ed25519NoteSigner(ORIGIN, r0)],
    );
    const rollback = await post(
      formatAddCheckpointRequest({ oldSize: cp.treeSize, proof: [], note: oldSigned }),
    );
    assert.equal(rollback.status, 403);
    assert.match(await rollback.text(), /^root_rotated_out: /);
    // A second rotation, with the hub's witness client restarted too (it knows nothing of the witness's state).
    witnessing = startWitnessing({
      log,
      witnesses: [{ url: witness.url, verifierKey: wkey }],
      onError: (e) => errors.push(e),
    });
    await witnessing.settled();
    await log.rotateRoot(r2, "second rotation");
    await attest("carol");
    assert.deepEqual(errors, [], "no witness request failed for good");
  } finally {
    await witnessing.close();
    await witness.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
