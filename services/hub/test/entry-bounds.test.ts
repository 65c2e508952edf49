/**
 * Issue 8, "Entries": what a member submits is decoded strictly at append. A signed payload padded with
 * unknown protobuf fields (the ~1 MiB attestation of the security review) is refused — `malformed` for
 * unknown fields however small, `too_large` past the per-kind cap — and nothing is logged.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CanaryCommitmentSchema, CommitmentHashAlgorithm } from "@lineage/api";
import { Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import { isLogError, PAYLOAD_TYPES, TransparencyLog } from "../src/index.js";
import { backends, DAY, enrolRecord, memberKey } from "./log-fixtures.js";

const pglite = (await backends()).find((b) => b.name === "pglite");
if (pglite === undefined) throw new Error("no PGlite backend");

/** Appends an unknown field (number 99, length-delimited) of `n` bytes to an encoded message. */
function padded(bytes: Uint8Array, n: number): Uint8Array {
  const tag = [(99 << 3) | 2];
  const len: number[] = [];
  let v = n;
  do {
    len.push((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>>= 7;
  } while (v > 0);
  const tail = new Uint8Array([
    ...tag.flatMap((t) => [(t & 0x7f) | 0x80, t >> 7]),
    ...len,
    ...new Uint8Array(n),
  ]);
  const out = new Uint8Array(bytes.length + tail.length);
  out.set(bytes);
  out.set(tail, bytes.length);
  return out;
}

test("a member-signed payload padded with unknown fields is refused and nothing is logged", async () => {
  const store = await pglite.open();
  const log = await TransparencyLog.open({
    store,
    origin: "lineage.test/log",
    hubKey: Ed25519PrivateKey.generate(),
  });
  try {
    const now = Date.now();
    const key = memberKey();
    await log.appendMembership(enrolRecord("acme", key, now - DAY));
    const size = log.size;
    const payload = toBinary(CanaryCommitmentSchema, {
      $typeName: "lineage.v1.CanaryCommitment",
      commitmentId: "c-1",
      memberId: "acme",
      merkleRoot: new Uint8Array(32).fill(7),
      canaryCount: 48n,
      hashAlgorithm: CommitmentHashAlgorithm.SHA256_RFC6962_PAIRS,
      committedAt: timestampFromMs(now),
    });
    for (const [n, code] of [
      [16, "malformed"],
      [100_000, "too_large"],
    ] as const) {
      await assert.rejects(
        log.appendCommitment(signEnvelope(PAYLOAD_TYPES.commitment, padded(payload, n), key)),
        (err: unknown) => isLogError(err) && err.code === code,
        `${n} bytes of unknown field -> ${code}`,
      );
    }
    assert.equal(log.size, size, "nothing was logged");
    // The same payload without padding is logged.
    await log.appendCommitment(signEnvelope(PAYLOAD_TYPES.commitment, payload, key));
    assert.equal(log.size, size + 1);
  } finally {
    await log.close();
    await store[Symbol.asyncDispose]();
  }
});
