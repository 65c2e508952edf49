/**
 * Start-up re-verification (issue 8): the hub reopens its log only if the stored leaves, nodes and
 * checkpoints still verify against its own signatures. Each tamper is done as the database superuser
 * (triggers disabled around it, as an attacker with that power would), then the log is reopened.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CaseState } from "@lineage/api";
import { Ed25519PrivateKey, hashLeaf } from "@lineage/crypto";
import type { HubDatabase, Store } from "@lineage/store";
import { type RawBuilder, sql } from "kysely";
import { isLogError, type LogErrorCode, TransparencyLog } from "../src/index.js";
import { verifyStoredLog } from "../src/log/log-integrity.js";
import { backends } from "./log-fixtures.js";

const ORIGIN = "lineage.test/integrity";

async function rejectsCode(p: Promise<unknown>, code: LogErrorCode, what: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isLogError(err), `${what}: expected a LogError, got ${String(err)}`);
    assert.equal(err.code, code, `${what}: expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

/** Five hub-signed entries with checkpoints at sizes 2 and 5; the log is closed again. */
async function buildLog(store: Store<HubDatabase>, hubKey: Ed25519PrivateKey): Promise<void> {
  await using log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey,
    checkpointIntervalMs: 3_600_000,
  });
  const decide = (i: number) =>
    log.appendReviewDecision({
      caseId: `case-${i}`,
      fromState: CaseState.OPEN,
      toState: CaseState.UNDER_REVIEW,
      reviewer: "reviewer-1",
      decidedAt: timestampFromMs(Date.now()),
    });
  await Promise.all([decide(0), decide(1)]);
  assert.equal((await log.checkpoint()).treeSize, 2);
  await Promise.all([decide(2), decide(3), decide(4)]);
  assert.equal((await log.checkpoint()).treeSize, 5);
}

/** Runs `stmts` with the append-only triggers off, as a superuser can. */
async function asSuperuser(store: Store<HubDatabase>, stmts: RawBuilder<unknown>[]): Promise<void> {
  const tables = ["log_entries", "log_nodes", "log_checkpoints"];
  for (const t of tables) await sql`alter table ${sql.id(t)} disable trigger user`.execute(store.db);
  try {
    for (const s of stmts) await s.execute(store.db);
  } finally {
    for (const t of tables) await sql`alter table ${sql.id(t)} enable trigger user`.execute(store.db);
  }
}

for (const backend of await backends()) {
  const opts = { skip: backend.skip ?? false };

  test(
    `${backend.name}: an untouched log reopens; verification covers every leaf, node and checkpoint`,
    opts,
    async () => {
      await using store = await backend.open();
      const hubKey = Ed25519PrivateKey.generate();
      await buildLog(store, hubKey);
      for (const pageSize of [1, 2, 3, 1000]) {
        const v = await verifyStoredLog(store.db, {
          origin: ORIGIN,
          keyName: ORIGIN,
          hubPublicKey: hubKey.publicKey,
          pageSize,
        });
        assert.equal(v.size, 5);
        assert.equal(v.checkpoints, 2);
      }
      await using log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
      assert.equal(log.size, 5);
      assert.equal(log.latestCheckpoint?.treeSize, 5);
    },
  );

  test(`${backend.name}: a wrong key or origin is refused before anything is signed`, opts, async () => {
    await using store = await backend.open();
    const hubKey = Ed25519PrivateKey.generate();
    await buildLog(store, hubKey);
    await rejectsCode(
      TransparencyLog.open({ store, origin: ORIGIN, hubKey: Ed25519PrivateKey.generate() }),
      "unknown_key",
      "another hub key",
    );
    await rejectsCode(
      TransparencyLog.open({ store, origin: "lineage.test/other", hubKey }),
      "invalid_argument",
      "another origin",
    );
    const n = await store.db
      .selectFrom("log_checkpoints")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirst();
    assert.equal(Number(n?.n), 2, "no checkpoint was signed by the refused opens");
  });

  const tampers: Array<[string, (store: Store<HubDatabase>) => Promise<void>]> = [
    [
      "a leaf rewritten (leaf_hash and nodes left alone)",
      (s) =>
        asSuperuser(s, [
          sql`update log_entries set leaf = overlay(leaf placing '\\xff'::bytea from 12 for 1) where idx = 1`,
        ]),
    ],
    [
      "a leaf rewritten with its leaf_hash and level-0 node",
      async (s) => {
        const row = await s.db
          .selectFrom("log_entries")
          .select("leaf")
          .where("idx", "=", 3n)
          .executeTakeFirstOrThrow();
        const leaf = Uint8Array.from(row.leaf);
        leaf[leaf.length - 1] = (leaf[leaf.length - 1] as number) ^ 1;
        const h = hashLeaf(leaf);
        await asSuperuser(s, [
          sql`update log_entries set leaf = ${leaf}, leaf_hash = ${h} where idx = 3`,
          sql`update log_nodes set hash = ${h} where level = 0 and idx = 3`,
        ]);
      },
    ],
    ["an entry deleted", (s) => asSuperuser(s, [sql`delete from log_entries where idx = 2`])],
    ["a node deleted", (s) => asSuperuser(s, [sql`delete from log_nodes where level = 1 and idx = 0`])],
    [
      "a node added",
      (s) =>
        asSuperuser(s, [sql`insert into log_nodes (level, idx, hash) values (5, 7, ${new Uint8Array(32)})`]),
    ],
    [
      "a checkpoint's root column rewritten",
      (s) =>
        asSuperuser(s, [
          sql`update log_checkpoints set root_hash = ${new Uint8Array(32)} where tree_size = 5`,
        ]),
    ],
    [
      "a checkpoint deleted from the middle",
      (s) => asSuperuser(s, [sql`delete from log_checkpoints where tree_size = 2`]),
    ],
    [
      "a checkpoint's signature rewritten",
      async (s) => {
        const row = await s.db
          .selectFrom("log_checkpoints")
          .select("signed_note")
          .where("tree_size", "=", 5n)
          .executeTakeFirstOrThrow();
        // The last line is "— <name> <base64(keyid || signature)>": change one signature character.
        const note = row.signed_note;
        const at = note.length - 12;
        const forged = `${note.slice(0, at)}${note[at] === "A" ? "B" : "A"}${note.slice(at + 1)}`;
        await asSuperuser(s, [sql`update log_checkpoints set signed_note = ${forged} where tree_size = 5`]);
      },
    ],
  ];
  for (const [what, tamper] of tampers) {
    test(`${backend.name}: ${what}: the hub refuses to serve the log (log_corrupt)`, opts, async () => {
      await using store = await backend.open();
      const hubKey = Ed25519PrivateKey.generate();
      await buildLog(store, hubKey);
      await tamper(store);
      await rejectsCode(TransparencyLog.open({ store, origin: ORIGIN, hubKey }), "log_corrupt", what);
    });
  }
}
