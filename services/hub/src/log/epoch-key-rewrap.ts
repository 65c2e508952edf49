/**
 * A root rotation's consequence for the epoch keys at rest (docs/specs/hub-keys.md; epochs/epoch-key-wrap.ts):
 * each epoch's sketch key is wrapped under a KEK derived from the hub's ROOT key, so when the root rotates the
 * wrapped keys are re-wrapped under the new root's KEK before the old root key file is replaced — otherwise
 * the hub, restarted with the new root, could no longer open its epochs. Idempotent (rows already under the
 * new KEK are left; a rotation interrupted after this step re-runs it harmlessly), one transaction.
 */
import type { Ed25519PrivateKey } from "@lineage/crypto";
import type { HubDatabase, Store } from "@lineage/store";
import { EPOCH_KEY_BYTES, epochKek, unwrapEpochKey, wrapEpochKey } from "../epochs/epoch-key-wrap.js";

/** Re-wraps every epoch key held under `oldRoot`'s KEK under `newRoot`'s; returns how many were re-wrapped. */
export async function rewrapEpochKeys(
  store: Store<HubDatabase>,
  oldRoot: Ed25519PrivateKey,
  newRoot: Ed25519PrivateKey,
): Promise<number> {
  const oldKek = epochKek(oldRoot);
  const newKek = epochKek(newRoot);
  const kidOf = (stored: Uint8Array) => Buffer.from(stored.subarray(1, 9));
  return store.transaction(async (trx) => {
    const rows = await trx.selectFrom("epochs").select(["epoch_id", "epoch_key"]).execute();
    let n = 0;
    for (const r of rows) {
      // A legacy plaintext key is wrapped too; a key under the new KEK already is left as it is.
      if (r.epoch_key.length !== EPOCH_KEY_BYTES && kidOf(r.epoch_key).equals(Buffer.from(newKek.kid)))
        continue;
      const plain = unwrapEpochKey(oldKek, r.epoch_id, r.epoch_key);
      await trx
        .updateTable("epochs")
        .set({ epoch_key: wrapEpochKey(newKek, r.epoch_id, plain) })
        .where("epoch_id", "=", r.epoch_id)
        .execute();
      n++;
    }
    return n;
  });
}
