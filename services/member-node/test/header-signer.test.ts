// Member-signed headers: sequences strictly increase across concurrent callers, restarts and a recreated
// database (the clock floor), and every signature verifies over the message without its header.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { SketchWithdrawalSchema } from "@lineage/api";
import { Ed25519PrivateKey, KeyRing, verifyMessage } from "@lineage/crypto";
import { type MemberNodeDatabase, memberNodeMigrations, openTestStore } from "@lineage/store";
import { headerSigner, nextHeaderSequence } from "../src/index.js";

test("header sequences: strictly increasing under concurrency, never below the clock floor after a fresh database; signatures verify", async () => {
  const key = Ed25519PrivateKey.generate();
  let last = 0n;
  {
    await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
    await store.migrate(memberNodeMigrations);
    const t = 1_760_000_000_000;
    const seqs = await Promise.all(Array.from({ length: 20 }, () => nextHeaderSequence(store, t)));
    assert.equal(new Set(seqs.map(String)).size, 20, "no sequence handed out twice");
    assert.ok(seqs.every((s) => s >= BigInt(t) * 1000n));
    for (const q of seqs) if (q > last) last = q;
    const signer = headerSigner("acme", key, store, () => t + 1);
    const msg = await signer.sign(
      SketchWithdrawalSchema,
      create(SketchWithdrawalSchema, {
        epochId: "e1",
        reason: "r",
        model: { memberId: "acme", modelId: "m" },
      }),
    );
    assert.ok(msg.header.sequence > last);
    last = msg.header.sequence;
    const payload = toBinary(
      SketchWithdrawalSchema,
      create(SketchWithdrawalSchema, { ...msg, header: undefined }),
    );
    verifyMessage(
      "lineage.v1.SketchWithdrawal",
      {
        header: {
          memberId: "acme",
          sequence: msg.header.sequence,
          nonce: msg.header.nonce,
          issuedAtMs: Number(msg.header.issuedAtMs),
        },
        payload,
        keyId: msg.header.keyId,
        signature: msg.header.signature,
      },
      () => new KeyRing([key.publicKey]),
    );
  }
  // A recreated database, a few seconds later: still above everything signed before.
  await using fresh = await openTestStore<MemberNodeDatabase>("pglite-memory");
  await fresh.migrate(memberNodeMigrations);
  assert.ok((await nextHeaderSequence(fresh, 1_760_000_005_000)) > last);
});
