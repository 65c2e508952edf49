/**
 * Member-signed headers (proto signed_header.proto): the node signs every message it sends across a trust
 * boundary with its Ed25519 key, under a sequence that strictly increases across restarts (kept in the
 * `header_sequence` row; see nextHeaderSequence).
 */
import { create, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { type SignedHeader, SignedHeaderSchema } from "@lineage/api";
import { type Ed25519PrivateKey, newNonce, signMessage } from "@lineage/crypto";
import type { MemberNodeDatabase, Store } from "@lineage/store";
import { sql } from "kysely";

/** Signs headers for one member. */
export interface HeaderSigner {
  readonly memberId: string;
  readonly keyId: string;
  /**
   * Signs `message` (a message with a `header` field): sets `header` to a fresh member-signed header over
   * the encoding of `message` with `header` unset, under the message's fully qualified name as domain.
   */
  sign<D extends DescMessage>(
    schema: D,
    message: MessageShape<D> & { header?: SignedHeader | undefined },
  ): Promise<MessageShape<D> & { header: SignedHeader }>;
}

/**
 * Takes the next header sequence from the database (one atomic upsert, so two callers never share one):
 * above the last one used, and never below the clock in microseconds — so a node whose database was
 * recreated (same key, fresh `header_sequence`) still signs above everything it signed before, which the
 * receivers' replay guards require (a sequence not above the highest accepted is a replay).
 */
export async function nextHeaderSequence(
  store: Store<MemberNodeDatabase>,
  nowMs: number = Date.now(),
): Promise<bigint> {
  const floor = BigInt(Math.floor(nowMs)) * 1000n;
  const row = await store.db
    .insertInto("header_sequence")
    .values({ id: 1, last: floor })
    .onConflict((oc) =>
      oc.column("id").doUpdateSet({ last: sql<bigint>`greatest(header_sequence.last + 1, ${floor})` }),
    )
    .returning("last")
    .executeTakeFirstOrThrow();
  return BigInt(row.last);
}

/** A signer over the node's key and its database sequence; `now` is the node's clock (ms). */
export function headerSigner(
  memberId: string,
  key: Ed25519PrivateKey,
  store: Store<MemberNodeDatabase>,
  now: () => number,
): HeaderSigner {
  return {
    memberId,
    keyId: key.keyId,
    async sign(schema, message) {
      const unsigned = create(schema, { ...(message as object), header: undefined } as never);
      const payload = toBinary(schema, unsigned);
      const sequence = await nextHeaderSequence(store, now());
      const header = { memberId, sequence, nonce: newNonce(), issuedAtMs: now() };
      const signed = signMessage(schema.typeName, header, payload, key);
      const h = create(SignedHeaderSchema, {
        memberId,
        keyId: signed.keyId,
        sequence,
        nonce: signed.header.nonce,
        issuedAtMs: BigInt(header.issuedAtMs),
        signature: signed.signature,
      });
      return { ...(unsigned as object), header: h } as never;
    },
  };
}
