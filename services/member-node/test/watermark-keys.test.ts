/**
 * The node's watermark keys (watermark/watermark-keys.ts) against the hub's real log behind its gRPC server:
 * key files are refused with what is wrong, a commitment is logged member-signed and checked, and a session
 * gets the key only for the committed key's exact id, digest and log index.
 */
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { WatermarkKeyCommitmentSchema } from "@lineage/api";
import { watermarkKeyDigest } from "@lineage/crypto";
import { decodeLeaf, PAYLOAD_TYPES } from "@lineage/hub";
import {
  type HubDatabase,
  type MemberNodeDatabase,
  memberNodeMigrations,
  openTestStore,
} from "@lineage/store";
import { isMemberNodeError } from "../src/member-node-error.js";
import { WATERMARK_SCHEME, WatermarkKeys } from "../src/watermark/watermark-keys.js";
import { enrol, memberDeps, memberKey, startHub } from "./match-world.js";

const code = (c: string, re?: RegExp) => (e: unknown) =>
  isMemberNodeError(e, c as never) && (re === undefined || re.test((e as Error).message));

test("watermark keys: file checks, commit through the hub, use only for the committed key", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-wm-keys-"));
  try {
    await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
    await using hub = await startHub(hubStore);
    await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
    await store.migrate(memberNodeMigrations);
    const { key: signing } = memberKey();
    await enrol(hub.log, signing);
    const d = memberDeps(store, signing, hub, []);
    const keys = new WatermarkKeys({ ...d, hubLog: hub.trust });
    const file = async (name: string, text: string, mode = 0o600) => {
      const p = join(dir, name);
      await writeFile(p, text, { mode });
      await chmod(p, mode);
      return p;
    };
    const hex = "ab".repeat(32);
    // Refused, each with what is wrong; nothing stored.
    await assert.rejects(
      keys.importFile(await file("open.key", hex, 0o644), "wm-1", 0.25),
      code("invalid_argument", /readable by others/),
    );
    await assert.rejects(
      keys.importFile(await file("text.key", "not hex"), "wm-1", 0.25),
      code("invalid_argument", /holds the key as hex/),
    );
    await assert.rejects(
      keys.importFile(await file("short.key", "ab".repeat(8)), "wm-1", 0.25),
      code("invalid_argument", /16\.\.64 bytes, this one 8/),
    );
    await assert.rejects(
      keys.importFile(join(dir, "missing.key"), "wm-1", 0.25),
      code("invalid_argument", /not a regular file/),
    );
    await assert.rejects(keys.importFile(dir, "wm-1", 0.25), code("invalid_argument", /not a regular file/));
    const good = await file("good.key", `${hex}\n`);
    for (const g of [0, 1, Number.NaN, -0.1])
      await assert.rejects(keys.importFile(good, "wm-1", g), code("invalid_argument", /gamma/));
    await assert.rejects(keys.importFile(good, "", 0.25), code("invalid_argument", /commitment_id/));
    assert.deepEqual(await keys.list(), []);

    const info = await keys.importFile(good, "wm-1", 0.25);
    assert.equal(info.logIndex, null);
    await assert.rejects(keys.importFile(good, "wm-1", 0.25), code("already_exists"));
    await assert.rejects(keys.commit("wm-2"), code("not_found"));
    // Not committed yet: no session may use it.
    assert.equal(
      await keys.forSession({ commitmentId: "wm-1", keyDigest: info.keyDigest, logIndex: 0n }),
      undefined,
    );

    const { ref } = await keys.commit("wm-1");
    const leaf = decodeLeaf((await hub.log.entry(Number(ref.logIndex)))?.leaf ?? new Uint8Array());
    assert.equal(leaf.envelope.payloadType, PAYLOAD_TYPES.watermarkCommitment);
    const logged = fromBinary(WatermarkKeyCommitmentSchema, leaf.envelope.payload);
    assert.equal(logged.memberId, "acme");
    assert.equal(logged.scheme, WATERMARK_SCHEME);
    assert.equal(logged.gamma, 0.25);
    assert.deepEqual(logged.keyDigest, info.keyDigest);
    assert.deepEqual((await keys.commit("wm-1")).ref.logIndex, ref.logIndex, "idempotent");
    // The digest opens with the stored salt to exactly this key (never to another).
    const row = await store.db.selectFrom("watermark_keys").selectAll().executeTakeFirstOrThrow();
    assert.deepEqual(watermarkKeyDigest(row.salt, new Uint8Array(Buffer.from(hex, "hex"))), info.keyDigest);

    const used = await keys.forSession(ref);
    assert.deepEqual(used?.key, new Uint8Array(Buffer.from(hex, "hex")));
    assert.equal(used?.gamma, 0.25);
    const otherDigest = new Uint8Array(32).fill(1);
    assert.equal(await keys.forSession({ ...ref, keyDigest: otherDigest }), undefined);
    assert.equal(await keys.forSession({ ...ref, logIndex: ref.logIndex + 1n }), undefined);
    assert.equal(await keys.forSession({ ...ref, commitmentId: "wm-x" }), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
