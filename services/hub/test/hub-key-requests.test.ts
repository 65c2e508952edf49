/**
 * Which hub key signs what travels outside the log (docs/specs/hub-keys.md): the secretariat's requests to the
 * hub are authenticated by the hub's membership key (the root only while membership was never delegated), and
 * the hub's session requests to member nodes are signed by its sessions key (TransparencyLog.signingKey).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { SetMemberStatusRequestSchema } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { RequestAuthenticator, SECRETARIAT, signRequest, TransparencyLog } from "@lineage/hub";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";

const ORIGIN = "lineage.test/hub-key-requests";

function statusRequest(key: Ed25519PrivateKey) {
  return signRequest(
    SetMemberStatusRequestSchema,
    create(SetMemberStatusRequestSchema, { memberId: "alice", reason: "test" }),
    { memberId: SECRETARIAT, key },
  );
}

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;

test("secretariat requests: the membership key once delegated (the root refused), the root on a single-key hub", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  const root = Ed25519PrivateKey.generate();
  const keys = {
    membership: Ed25519PrivateKey.generate(),
    sessions: Ed25519PrivateKey.generate(),
    countersign: Ed25519PrivateKey.generate(),
  };
  {
    await using log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey: root, purposeKeys: keys });
    const auth = new RequestAuthenticator({ log });
    const sender = await auth.verify(SetMemberStatusRequestSchema, statusRequest(keys.membership));
    assert.deepEqual(sender, { memberId: SECRETARIAT, keyId: keys.membership.keyId });
    await assert.rejects(auth.verify(SetMemberStatusRequestSchema, statusRequest(root)), code("unknown_key"));
    await assert.rejects(
      auth.verify(SetMemberStatusRequestSchema, statusRequest(keys.sessions)),
      code("unknown_key"),
    );
    // Session requests to member nodes: the sessions key, as the logged sessions are.
    assert.equal(log.signingKey("sessions").keyId, keys.sessions.keyId);
    assert.equal(log.signingKey("countersign").keyId, keys.countersign.keyId);
  }
  await using single = await openTestStore<HubDatabase>("pglite-memory");
  await single.migrate(hubMigrations);
  await using log = await TransparencyLog.open({ store: single, origin: ORIGIN, hubKey: root });
  const auth = new RequestAuthenticator({ log });
  assert.equal((await auth.verify(SetMemberStatusRequestSchema, statusRequest(root))).keyId, root.keyId);
  assert.equal(log.signingKey("sessions").keyId, root.keyId);
});
