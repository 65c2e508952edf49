/**
 * Witness cosignature lines of the hub's checkpoints (table `log_cosignatures`, hub migration 0008): stored
 * as they arrive (witness-client.ts verified each under its witness's key), read back to serve a checkpoint
 * with its cosignatures after a restart (docs/specs/witness.md). Insert-only, like the log's tables.
 */
import { formatKeyId, parseNote } from "@lineage/crypto";
import type { HubDatabase } from "@lineage/store";
import type { Kysely } from "kysely";

/**
 * Stores the witness lines of `note` (the checkpoint of `treeSize`'s signed note with cosignatures): every
 * signature line not by `log`. A line already stored for that witness is kept (a witness gives one).
 */
export async function storeCosignatures(
  db: Kysely<HubDatabase>,
  treeSize: number,
  note: string,
  log: { readonly name: string; readonly keyId: number },
): Promise<void> {
  const rows = parseNote(note)
    .signatures.filter((s) => !(s.name === log.name && s.keyId === log.keyId))
    .map((s) => {
      const witness = `${s.name}+${formatKeyId(s.keyId)}`;
      const line = note
        .split("\n")
        .find((l) => l.startsWith(`\u2014 ${s.name} `) && lineKeyId(l) === s.keyId);
      return { tree_size: BigInt(treeSize), witness, line: line ?? "" };
    })
    .filter((r) => r.line !== "");
  if (rows.length === 0) return;
  await db
    .insertInto("log_cosignatures")
    .values(rows)
    .onConflict((oc) => oc.columns(["tree_size", "witness"]).doNothing())
    .execute();
}

function lineKeyId(line: string): number | undefined {
  const b64 = line.split(" ")[2];
  if (b64 === undefined) return undefined;
  const raw = Buffer.from(b64, "base64");
  return raw.length >= 4 ? raw.readUInt32BE(0) : undefined;
}

/** `note` (a stored, log-signed checkpoint note) followed by the stored cosignature lines of its size. */
export async function withStoredCosignatures(
  db: Kysely<HubDatabase>,
  treeSize: number,
  note: string,
): Promise<string> {
  const rows = await db
    .selectFrom("log_cosignatures")
    .select(["line"])
    .where("tree_size", "=", BigInt(treeSize))
    .orderBy("created_at")
    .orderBy("witness")
    .limit(32)
    .execute();
  return note + rows.map((r) => `${r.line}\n`).join("");
}
